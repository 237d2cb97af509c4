// `--k8s FILE` on the CLI as a person uses it on the bundled sample: analyze, requests and serve load the
// Kubernetes metadata before they print or serve, and then name pods and services as the sample's ground
// truth says. A bad file stops the command with its name and reason. The CLI runs from source
// (service-helpers' CLI), so no build is needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { LogPage, RequestRow, ServiceMap } from '../src/shared/views';
import { CLI } from './service-helpers';
import { BOTH, METADATA, truth } from './tag-helpers';

function flowscope(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8' });
}

const podNames = truth.topology.pods.map((p) => p.name).sort();

interface AnalyzeOut {
  metadata: { path: string; pods: number; services: number; nodes: number }[];
  names: { ip: string; pod: string | null; service: string | null; namespace: string | null; node: string | null }[];
  views: { serviceMap: ServiceMap; topEndpoints: { server: string }[] };
  errors: string[];
}

test('analyze --k8s --json: every truth pod named at its IP, the map and endpoints by service', () => {
  const r = flowscope(['analyze', BOTH, '--k8s', METADATA, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as AnalyzeOut;
  assert.deepEqual(out.errors, []);
  assert.equal(out.metadata.length, 1);
  assert.equal(out.metadata[0].path, METADATA);
  assert.equal(out.metadata[0].pods, truth.topology.pods.length);

  const byIp = new Map(out.names.map((n) => [n.ip, n]));
  for (const pod of truth.topology.pods) {
    const n = byIp.get(pod.ip);
    assert.ok(n, `pod ${pod.name} (${pod.ip}) among the named IPs`);
    assert.equal(n.pod, pod.name);
    assert.equal(n.namespace, pod.namespace);
    assert.equal(n.node, pod.node);
  }
  for (const svc of truth.topology.services) {
    assert.equal(byIp.get(svc.ip)?.service, svc.name, `${svc.name} at ${svc.ip}`);
  }

  const map = out.views.serviceMap;
  assert.equal(map.grouping, 'service');
  const nodeIds = new Set(map.nodes.map((n) => n.id));
  for (const svc of truth.topology.services) assert.ok(nodeIds.has(svc.name), `service ${svc.name} on the map: ${[...nodeIds].join(', ')}`);
  assert.deepEqual(map.nodes.filter((n) => n.kind === 'ip').map((n) => n.id), [], 'every node named');
  const serviceNames = new Set(truth.topology.services.map((s) => s.name));
  for (const e of out.views.topEndpoints) assert.ok(serviceNames.has(e.server), `endpoint server ${e.server} is a service`);

  // --grouping pod: the map's nodes are exactly the truth's pods.
  const byPod = flowscope(['analyze', BOTH, '--k8s', METADATA, '--grouping', 'pod', '--json']);
  assert.equal(byPod.status, 0, byPod.stderr);
  assert.deepEqual((JSON.parse(byPod.stdout) as AnalyzeOut).views.serviceMap.nodes.map((n) => n.id).sort(), podNames);
});

test('analyze --k8s text output names pods; requests --k8s --grouping pod names both ends', () => {
  const r = flowscope(['analyze', BOTH, '--k8s', METADATA, '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Kubernetes metadata .*k8s\.metadata\.json: 6 pods, 6 services, 2 nodes$/m);
  for (const pod of truth.topology.pods) {
    assert.match(r.stdout, new RegExp(`^  ${pod.ip.replace(/\./g, '\\.')} +${pod.name} `, 'm'), `${pod.name} in the Names table`);
  }
  assert.match(r.stdout, /^Service map \(by service: /m);

  const q = flowscope(['requests', BOTH, '--k8s', METADATA, '--grouping', 'pod', '--limit', '1000', '--json']);
  assert.equal(q.status, 0, q.stderr);
  const page = JSON.parse(q.stdout) as LogPage<RequestRow>;
  assert.ok(page.rows.length > 0);
  for (const row of page.rows) {
    assert.ok(podNames.includes(row.clientNode) && podNames.includes(row.serverNode), `${row.clientNode} → ${row.serverNode}`);
  }
});

test('metadata named among the captures is loaded as names, as with --k8s (analyze and requests)', () => {
  const r = flowscope(['analyze', BOTH, METADATA, '--grouping', 'pod', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as AnalyzeOut;
  assert.deepEqual(out.errors, [], 'the JSON is not taken for a capture');
  assert.deepEqual(out.metadata.map((m) => [m.path, m.pods]), [[METADATA, truth.topology.pods.length]]);
  assert.deepEqual(out.views.serviceMap.nodes.map((n) => n.id).sort(), podNames);

  const q = flowscope(['requests', METADATA, BOTH, '--grouping', 'pod', '--limit', '1000', '--json']);
  assert.equal(q.status, 0, q.stderr);
  const page = JSON.parse(q.stdout) as LogPage<RequestRow>;
  assert.ok(page.rows.length > 0);
  for (const row of page.rows) assert.ok(podNames.includes(row.clientNode) && podNames.includes(row.serverNode), `${row.clientNode} → ${row.serverNode}`);
});

test('a bad --k8s file stops analyze with exit 2, its name and the reason; a missing one is a usage error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-cli-k8s-'));
  try {
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"apiVersion": "v1", "kind": "List", "items": [');
    const r = flowscope(['analyze', BOTH, '--k8s', broken, '--json']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^flowscope: .*broken\.json: not JSON: /);
    assert.equal(r.stdout, '');
    const missing = flowscope(['analyze', BOTH, '--k8s', join(dir, 'none.json')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /none\.json: no such file/);
    const noValue = flowscope(['requests', BOTH, '--k8s']);
    assert.equal(noValue.status, 2);
    assert.match(noValue.stderr, /--k8s needs a Kubernetes metadata file/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve --k8s: says it loaded the metadata, and the served map names the pods', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0', '--k8s', METADATA, BOTH]);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: string[] = [];
  const imported = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => {
      lines.push(l);
      if (l.startsWith('imported ')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
  });
  try {
    await imported;
    assert.ok(lines.includes(`loaded Kubernetes metadata ${METADATA}: 6 pods, 6 services, 2 nodes`), lines.join('\n'));
    const url = new URL(lines[0].slice('Flowscope is serving '.length));
    const call = async (name: string, body: unknown) => {
      const res = await fetch(new URL(`api/${name}`, url.origin), {
        method: 'POST',
        headers: { authorization: `Bearer ${url.searchParams.get('token')}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return ((await res.json()) as { value: unknown }).value;
    };
    const map = (await call('serviceMap', { grouping: 'pod' })) as ServiceMap;
    assert.deepEqual(map.nodes.map((n) => n.id).sort(), podNames);
    assert.deepEqual(await call('listMetadata', null), [{ path: METADATA, source: METADATA, pods: 6, services: 6, nodes: 2 }]);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }
});
