// The service map and the network table against the samples' ground truth (samples/k8s.truth.json):
// nodes and edges are the truth's per_edge client → server pairs, each request counted once however
// many hops saw it (k8s-both.pcapng sees a cross-node request on 8 interfaces), refused connections
// where the truth has them; and the views' cache answers with new data after another import.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCaptures } from '../src/engine/import';
import type { Store } from '../src/engine/store/store';
import { Views } from '../src/engine/store/views';
import { loadK8sMetadata } from '../src/engine/tag/k8s-metadata';
import type { MapEdge, ServiceMap } from '../src/shared/views';
import { importSamples, parsedProtocols, SAMPLES, truth, truthRequests, type Edge } from './views-helpers';
import { conn, ipOfPod, podOfIp, serviceOfPod, truthOf } from './views-truth';
import { startService } from './service-helpers';

const METADATA = join(SAMPLES, 'k8s.metadata.json');

/** The truth's edges of the protocols the engine parsed (refused connections are protocol 'tcp'). */
function truthEdges(protocols: Set<string>): Edge[] {
  return truth.expected.per_edge.filter((e) => protocols.has(e.protocol) || (e.protocol === 'tcp' && e.refused > 0));
}

const edgeKey = (client: string, server: string, protocol: string, port: number) => `${client} → ${server} ${protocol}:${port}`;

/** What a map edge says that the truth also says. */
interface EdgeFigures {
  requests: number;
  clientErrors: number;
  serverErrors: number;
  timeouts: number;
  connections: number;
  refused: number;
}

function mapFigures(m: ServiceMap, name: (node: string) => string = (n) => n): Map<string, EdgeFigures> {
  const out = new Map<string, EdgeFigures>();
  for (const e of m.edges as MapEdge[]) {
    out.set(edgeKey(name(e.source), name(e.target), e.protocol, e.serverPort), {
      requests: e.red.requests,
      clientErrors: e.red.clientErrors,
      serverErrors: e.red.serverErrors,
      timeouts: e.red.timeouts,
      connections: e.flows,
      refused: e.connectionFailures,
    });
  }
  return new Map([...out].sort((a, b) => a[0].localeCompare(b[0])));
}

function truthFigures(edges: Edge[], name: (pod: string) => string = (p) => p): Map<string, EdgeFigures> {
  const out = new Map<string, EdgeFigures>();
  for (const e of edges) {
    out.set(edgeKey(name(e.client), name(e.server), e.protocol, e.port), {
      requests: e.requests,
      clientErrors: e.client_errors,
      serverErrors: e.server_errors,
      // The clients got an answer to every request they made.
      timeouts: 0,
      connections: e.connections,
      refused: e.refused,
    });
  }
  return new Map([...out].sort((a, b) => a[0].localeCompare(b[0])));
}

describe('service map and network table of k8s-both.pcapng (both nodes, every interface)', () => {
  let dir: string;
  let store: Store;
  let views: Views;
  let protocols: Set<string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fs-views-map-'));
    ({ store } = await importSamples(join(dir, 'both.duckdb'), ['k8s-both.pcapng']));
    await loadK8sMetadata(store, METADATA);
    views = new Views(store);
    protocols = await parsedProtocols(store);
  });
  after(async () => {
    await views?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("the truth's protocol names are the engine's l7_protocol values, and all four are parsed", () => {
    const inTruth = new Set(truth.requests.map((r) => r.protocol));
    assert.deepEqual([...protocols].sort(), [...inTruth].sort());
  });

  test('grouping pod: nodes are the pods of the truth, edges its per_edge pairs with their counts', async () => {
    const m = await views.serviceMap({ grouping: 'pod' });
    assert.equal(m.grouping, 'pod');
    const edges = truthEdges(protocols);
    assert.deepEqual(mapFigures(m), truthFigures(edges));

    const pods = [...new Set(edges.flatMap((e) => [e.client, e.server]))].sort();
    const namespaceOf = new Map(truth.topology.pods.map((p) => [p.name, p.namespace]));
    assert.deepEqual(
      m.nodes.map((n) => ({ id: n.id, kind: n.kind, ips: n.ips, namespace: n.namespace })),
      pods.map((p) => ({ id: p, kind: 'pod', ips: [ipOfPod.get(p)], namespace: namespaceOf.get(p) })),
    );
    // A node's served RED is the sum of the edges into it; a pod that only calls others serves nothing.
    for (const n of m.nodes) {
      const into = edges.filter((e) => e.server === n.id && e.requests > 0);
      if (into.length === 0) {
        assert.equal(n.served, null, `${n.id} served no request`);
        continue;
      }
      const sum = (f: (e: Edge) => number) => into.reduce((s, e) => s + f(e), 0);
      assert.ok(n.served, `${n.id} served requests`);
      assert.deepEqual(
        { requests: n.served.requests, clientErrors: n.served.clientErrors, serverErrors: n.served.serverErrors },
        { requests: sum((e) => e.requests), clientErrors: sum((e) => e.client_errors), serverErrors: sum((e) => e.server_errors) },
        n.id,
      );
    }
  });

  test('grouping ip: the same edges between the client IP and the backend (pod) IP the server saw', async () => {
    const m = await views.serviceMap({ grouping: 'ip' });
    assert.deepEqual(mapFigures(m), truthFigures(truthEdges(protocols), (pod) => ipOfPod.get(pod)!));
    assert.ok(m.nodes.every((n) => n.kind === 'ip' && n.ips.length === 1 && n.ips[0] === n.id));
  });

  test("grouping service: a pod behind a service is shown as the truth's service, the others by another name", async () => {
    const m = await views.serviceMap({ grouping: 'service' });
    const podOfNode = new Map<string, string>();
    for (const n of m.nodes) {
      assert.equal(n.ips.length, 1, `${n.id}: one pod IP (${n.ips.join(', ')})`);
      const pod = podOfIp.get(n.ips[0]);
      assert.ok(pod, `${n.id}: ${n.ips[0]} is a pod IP`);
      const service = serviceOfPod(pod);
      if (service !== null) assert.equal(n.id, service, `pod ${pod} is behind service ${service}`);
      else assert.notEqual(n.kind, 'ip', `pod ${pod} has no service but is named by its metadata (${n.id})`);
      podOfNode.set(n.id, pod);
    }
    assert.deepEqual(mapFigures(m, (node) => podOfNode.get(node) ?? `?${node}`), truthFigures(truthEdges(protocols)));
  });

  test('refused connections: a failed-connection edge with no requests where the truth has one', async () => {
    const m = await views.serviceMap({ grouping: 'pod' });
    const refused = truth.connections.filter((c) => c.refused);
    assert.ok(refused.length > 0);
    for (const c of refused) {
      const e = m.edges.find((x) => x.source === c.client_pod && x.target === c.server_pod && x.serverPort === c.backend_port);
      assert.ok(e, `edge ${c.client_pod} → ${c.server_pod}:${c.backend_port} (${c.id})`);
      assert.equal(e.protocol, 'tcp');
      assert.equal(e.connectionFailures, refused.filter((x) => x.client_pod === c.client_pod && x.server_pod === c.server_pod && x.backend_port === c.backend_port).length);
      assert.equal(e.red.requests, 0);
    }
    assert.equal(
      m.edges.reduce((s, e) => s + e.connectionFailures, 0),
      refused.length,
      'no other connection failed',
    );
  });

  test('network table by edge: connections once per connection, refused ones as connection failures, no transfer failure', async () => {
    const rows = await views.network({ groupBy: 'edge', grouping: 'pod' });
    const got = new Map(rows.map((r) => [edgeKey(r.client!, r.server, r.protocol, r.serverPort!), r]));
    const edges = truthEdges(protocols);
    assert.deepEqual([...got.keys()].sort(), edges.map((e) => edgeKey(e.client, e.server, e.protocol, e.port)).sort());
    for (const e of edges) {
      const r = got.get(edgeKey(e.client, e.server, e.protocol, e.port))!;
      const conns = truth.connections.filter((c) => c.client_pod === e.client && c.server_pod === e.server && c.backend_port === e.port);
      // Every connection of the truth ended well except the refused ones: TCP closed with a FIN
      // (fin_first), UDP ones are one query and its answer on a socket of its own.
      const transferFailed = conns.filter((c) => !c.refused && c.transport === 'tcp' && (c as { fin_first?: string | null }).fin_first === null);
      assert.deepEqual(
        { flows: r.flows, connectionFailures: r.connectionFailures, transferFailures: r.transferFailures },
        { flows: e.connections, connectionFailures: e.refused, transferFailures: transferFailed.length },
        edgeKey(e.client, e.server, e.protocol, e.port),
      );
      assert.ok(r.packets > 0 && r.bytes > 0);
    }
  });

  test('network table by service: connections per server pod and protocol', async () => {
    const rows = await views.network({ groupBy: 'service', grouping: 'pod' });
    const expected = new Map<string, number>();
    for (const e of truthEdges(protocols)) expected.set(`${e.server} ${e.protocol}`, (expected.get(`${e.server} ${e.protocol}`) ?? 0) + e.connections);
    assert.deepEqual(
      new Map(rows.map((r) => [`${r.server} ${r.protocol}`, r.flows] as const).sort((a, b) => a[0].localeCompare(b[0]))),
      new Map([...expected].sort((a, b) => a[0].localeCompare(b[0]))),
    );
  });
});

test('one request counts once: the same map from one merged file, from the two nodes files, from the two SLL2 "any" captures', async () => {
  for (const files of [['k8s-node1.pcapng', 'k8s-node2.pcapng'], ['k8s-node1.any.pcap', 'k8s-node2.any.pcap']]) {
    const { store } = await importSamples(':memory:', files);
    const views = new Views(store);
    try {
      const protocols = await parsedProtocols(store);
      const m = await views.serviceMap({ grouping: 'ip' });
      assert.deepEqual(mapFigures(m), truthFigures(truthEdges(protocols), (pod) => ipOfPod.get(pod)!), files.join(' + '));
    } finally {
      await views.close();
      await store.close();
    }
  }
});

test('without Kubernetes metadata, grouping service names the IPs the capture\'s own DNS answers named', async () => {
  const { store } = await importSamples(':memory:', ['k8s-both.pcapng']);
  const views = new Views(store);
  try {
    // <svc>.<ns>.svc.<domain> and <host>.<svc>.<ns>.svc.<domain> answers name service <svc> (SPEC.md "Auto-tagging").
    const named = new Map<string, string>();
    const queries = (truth as unknown as { dns_queries: { qname: string; qtype: string; rcode: number; answers: string[] }[] }).dns_queries;
    for (const q of queries) {
      const m = /^(?:[^.]+\.)?([^.]+)\.[^.]+\.svc\.cluster\.local$/.exec(q.qname);
      if (q.rcode !== 0 || !m || !['A', 'AAAA'].includes(q.qtype)) continue;
      for (const ip of q.answers) named.set(ip, m[1]);
    }
    const m = await views.serviceMap({ grouping: 'service' });
    const ips = new Set(m.nodes.flatMap((n) => n.ips));
    assert.ok([...named.keys()].some((ip) => ips.has(ip)), 'some answered IP is on the map');
    for (const n of m.nodes) {
      for (const ip of n.ips) assert.equal(n.id, named.get(ip) ?? ip, ip);
      assert.equal(n.kind, named.has(n.ips[0]) ? 'service' : 'ip', n.id);
    }
    // Metadata loaded later re-labels the same data: the pods come out under their pod names.
    await loadK8sMetadata(store, METADATA);
    const byPod = await views.serviceMap({ grouping: 'pod' });
    assert.deepEqual(byPod.nodes.map((n) => n.id).sort(), [...new Set(truthEdges(await parsedProtocols(store)).flatMap((e) => [e.client, e.server]))].sort());
  } finally {
    await views.close();
    await store.close();
  }
});

describe('the cache: a second capture imported into the same store shows in the views', () => {
  /** Truth requests seen on `node` (a hop there). */
  const seenOn = (node: string) => truth.requests.filter((r) => conn(r).hops.some((h) => h.node === node));
  const logOf = async (views: Views, captureIds?: number[]) => {
    const page = await views.requestLog({ captureIds, limit: 1000, grouping: 'ip' });
    assert.equal(page.total, page.rows.length);
    return page.rows.map((row) => `${truthOf(row).id} ×${row.hops}`).sort();
  };
  const expectLog = (reqs: typeof truth.requests, node?: string) =>
    reqs.map((r) => `${r.id} ×${conn(r).hops.filter((h) => node === undefined || h.node === node).length}`).sort();

  test('Views straight on the store: node1, then node2 into the same store (no invalidate call: the store changed)', async () => {
    const store = (await importSamples(':memory:', ['k8s-node1.pcapng'])).store;
    const views = new Views(store);
    try {
      const protocols = await parsedProtocols(store);
      const node1 = seenOn('node1').filter((r) => protocols.has(r.protocol));
      assert.deepEqual(await logOf(views), expectLog(node1, 'node1'));
      const [first] = (await store.query('SELECT capture_id FROM captures')).rows.map((r) => Number(r[0]));

      const results = await importCaptures(store, [join(SAMPLES, 'k8s-node2.pcapng')]);
      assert.equal(results[0].error ?? null, null);
      await loadK8sMetadata(store, METADATA);
      const all = truthRequests(await parsedProtocols(store));
      assert.deepEqual(await logOf(views), expectLog(all), 'every request once, with the hops of both nodes');
      assert.deepEqual(mapFigures(await views.serviceMap({ grouping: 'pod' })), truthFigures(truthEdges(await parsedProtocols(store))));
      // The first capture alone still answers as before (a cached set per capture set).
      assert.deepEqual(await logOf(views, [first]), expectLog(node1, 'node1'));

      views.invalidate();
      assert.deepEqual(await logOf(views), expectLog(all), 'the same after an explicit invalidate');
    } finally {
      await views.close();
      await store.close();
    }
  });

  test('through the engine service: the map after the second import equals the truth and the merged file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fs-views-cache-'));
    const { service, log } = startService(join(dir, 'w.duckdb'));
    try {
      const open = async (paths: string[]) => {
        const { importIds } = await service.openCapture({ paths });
        const ends = await Promise.all(importIds.map((id) => log.ended(id)));
        for (const e of ends) assert.equal(e.phase, 'done', JSON.stringify(e));
      };
      await open([join(SAMPLES, 'k8s-node1.pcapng'), METADATA]);
      const before = await service.serviceMap({ grouping: 'pod' });
      const node1Requests = before.edges.reduce((s, e) => s + e.red.requests, 0);
      assert.equal(node1Requests, seenOn('node1').length);

      await open([join(SAMPLES, 'k8s-node2.pcapng')]);
      const afterBoth = await service.serviceMap({ grouping: 'pod' });
      assert.deepEqual(mapFigures(afterBoth), truthFigures(truthEdges(new Set(truth.requests.map((r) => r.protocol)))));

      const merged = await importSamples(':memory:', ['k8s-both.pcapng']);
      await loadK8sMetadata(merged.store, METADATA);
      const views = new Views(merged.store);
      try {
        assert.deepEqual(mapFigures(afterBoth), mapFigures(await views.serviceMap({ grouping: 'pod' })));
      } finally {
        await views.close();
        await merged.store.close();
      }
    } finally {
      await service.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
