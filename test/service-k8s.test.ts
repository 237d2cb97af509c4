// Kubernetes metadata through the engine's API, as the app and `flowscope serve` use it: a kubectl JSON
// dump given to openCapture next to a capture is loaded as names (not imported), reported in the
// response and by a metadataChanged event, and the service map then names the sample's pods and
// services as its ground truth says. A broken file is refused with its name and reason while the
// capture next to it imports; removing the metadata takes the names away again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRequest } from '../src/shared/api';
import type { ServiceMap } from '../src/shared/views';
import { startService } from './service-helpers';
import { BOTH, METADATA, truth } from './tag-helpers';

/** Pods, services and nodes the metadata file lists, counted from the file itself. */
function itemCounts(): { pods: number; services: number; nodes: number } {
  const items = (JSON.parse(readFileSync(METADATA, 'utf8')) as { items: { kind: string }[] }).items;
  const count = (kind: string) => items.filter((i) => i.kind === kind).length;
  return { pods: count('Pod'), services: count('Service'), nodes: count('Node') };
}

const nodesOf = (map: ServiceMap) => new Map(map.nodes.map((n) => [n.id, n]));

test('a capture and k8s.metadata.json opened together: counts reported, the map named by pod and by service as the truth says', async () => {
  const { service, log, metadataEvents } = startService(':memory:');
  try {
    const opened = await service.openCapture({ paths: [METADATA, BOTH] });
    const loaded = { path: METADATA, source: METADATA, ...itemCounts() };
    assert.ok(loaded.pods >= truth.topology.pods.length && loaded.services >= truth.topology.services.length);
    assert.deepEqual(opened, { captureIds: [1], importIds: ['import-1'], rejected: [], metadata: [loaded] });
    assert.deepEqual(metadataEvents, [{ change: 'loaded', metadata: loaded }]);
    assert.deepEqual(await service.listMetadata(), [loaded]);
    assert.equal((await log.ended('import-1')).phase, 'done');

    // Grouped by pod: exactly the truth's pods, each at its IP.
    const byPod = await service.serviceMap({ grouping: 'pod' });
    assert.deepEqual([...byPod.nodes.map((n) => n.id)].sort(), truth.topology.pods.map((p) => p.name).sort());
    const pods = nodesOf(byPod);
    for (const pod of truth.topology.pods) {
      const node = pods.get(pod.name)!;
      assert.equal(node.kind, 'pod');
      assert.equal(node.namespace, pod.namespace, pod.name);
      assert.ok(node.ips.includes(pod.ip), `${pod.name}: ${node.ips.join(', ')}`);
    }

    // Grouped by service (the default): each truth service is a node holding its pod's IP.
    const services = nodesOf(await service.serviceMap({}));
    for (const svc of truth.topology.services) {
      const node = services.get(svc.name);
      assert.ok(node, `service ${svc.name} on the map (nodes: ${[...services.keys()].join(', ')})`);
      assert.equal(node.kind, 'service');
      const podIp = truth.topology.pods.find((p) => p.name === svc.pod)!.ip;
      assert.ok(node.ips.includes(podIp), `${svc.name}: ${node.ips.join(', ')}`);
    }
    assert.deepEqual([...services.values()].filter((n) => n.kind === 'ip').map((n) => n.id), [], 'every node is named');

    // Removing the source takes its names away (and says so); a second removal finds nothing.
    assert.deepEqual(await service.removeMetadata({ source: METADATA }), { removed: true });
    assert.deepEqual(metadataEvents.at(-1), { change: 'removed', metadata: loaded });
    assert.deepEqual(await service.listMetadata(), []);
    const unnamed = await service.serviceMap({ grouping: 'pod' });
    assert.deepEqual(unnamed.nodes.filter((n) => n.kind !== 'ip').map((n) => n.id), []);
    assert.deepEqual(await service.removeMetadata({ source: METADATA }), { removed: false });
    assert.throws(() => checkRequest('removeMetadata', {}), /removeMetadata: expected \{source: string\}/);
    assert.throws(() => checkRequest('listMetadata', { x: 1 }), /takes no request/);
  } finally {
    await service.close();
  }
});

test('broken metadata is rejected with the file and reason, the capture next to it imports; metadata loaded later names it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-k8s-'));
  const broken = join(dir, 'broken.json');
  const notAList = join(dir, 'pod.json');
  await writeFile(broken, readFileSync(METADATA, 'utf8').slice(0, 300));
  await writeFile(notAList, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } }));
  const { service, log, metadataEvents } = startService(':memory:');
  try {
    const opened = await service.openCapture({ paths: [broken, BOTH, notAList] });
    assert.deepEqual(opened.captureIds, [1]);
    assert.equal(opened.metadata, undefined);
    assert.deepEqual(opened.rejected.map((r) => r.path), [broken, notAList]);
    assert.match(opened.rejected[0].reason, /^\/.*broken\.json: not JSON: line \d+ column \d+/);
    assert.match(opened.rejected[1].reason, /^\/.*pod\.json: not a Kubernetes List \(kind "Pod"/);
    assert.deepEqual(metadataEvents, []);
    assert.equal((await log.ended('import-1')).phase, 'done');

    // Without metadata the pods are bare IPs (and the views cache this capture set now) ...
    const before = await service.serviceMap({ grouping: 'pod' });
    assert.deepEqual(before.nodes.filter((n) => n.kind !== 'ip').map((n) => n.id), []);
    // ... metadata opened afterwards names the capture imported before it.
    const later = await service.openCapture({ paths: [METADATA] });
    assert.deepEqual(later.captureIds, []);
    assert.equal(later.metadata?.[0].pods, itemCounts().pods);
    const after = await service.serviceMap({ grouping: 'pod' });
    assert.deepEqual(after.nodes.map((n) => n.id).sort(), truth.topology.pods.map((p) => p.name).sort());
  } finally {
    await service.close();
    await rm(dir, { recursive: true, force: true });
  }
});
