// Kubernetes metadata → IP names, end to end: the samples' capture imported the real way, the kubectl
// dump samples/lib/k8s-metadata.py wrote from the generator's topology loaded on top, and the ip_names
// view read back against the truth (pods, services, namespaces, nodes, workloads, every flow's IPs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Store } from '../src/engine/store/store';
import {
  K8sMetadataError,
  isK8sMetadataFile,
  jsonErrorOffset,
  listK8sMetadata,
  loadK8sMetadata,
  removeK8sMetadata,
} from '../src/engine/tag/k8s-metadata';
import { prng } from './prng';
import { BOTH, METADATA, SAMPLES, importedStore, inCidr, ipNames, tagSnapshot, truth } from './tag-helpers';

const topo = truth.topology;
const POD_NET = '10.244.0.0/16';
const SVC_NET = '10.96.0.0/12';
const tmp = mkdtempSync(join(tmpdir(), 'fs-tag-k8s-'));
// Kubernetes objects are read and edited freely below: their shape is kubectl's, not a type of ours.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Item = any;

/** What the truth says each pod IP is called. Every pod is the one replica of a workload named like
 *  it (k8s-metadata.py); its service is the truth service whose backend it is. */
function expectedPod(p: (typeof topo.pods)[number]) {
  return {
    pod: p.name,
    namespace: p.namespace,
    node: p.node,
    workload: p.name,
    service: topo.services.find((s) => s.pod === p.name)?.name ?? null,
  };
}

function dumpItems(): Item[] {
  return (JSON.parse(readFileSync(METADATA, 'utf8')) as { items: Item[] }).items;
}

function writeDump(name: string, items: unknown[], kind = 'List'): string {
  const path = join(tmp, name);
  writeFileSync(path, JSON.stringify({ apiVersion: 'v1', items, kind, metadata: { resourceVersion: '' } }, null, 4));
  return path;
}

test('k8s: the sample dump names every pod IP and ClusterIP seen in the flows as the truth says', async () => {
  const { store } = await importedStore();
  try {
    // Imported without metadata no pod or service is named (only the names the capture's own DNS
    // answers gave); loading it afterwards re-labels the stored flows.
    const before = await ipNames(store);
    assert.ok(before.size > 0, 'DNS names learned at import');
    for (const [ip, n] of before) assert.deepEqual([n.pod, n.node, n.workload], [null, null, null], ip);
    const res = await loadK8sMetadata(store, METADATA);
    assert.equal(res.source, resolve(METADATA));
    assert.deepEqual([res.pods, res.services, res.nodes], [6, 6, 2]);
    // 6 pods + 4 ClusterIPs (with `kubernetes`) + 2 node addresses.
    assert.equal(res.ips, 12);
    const names = await ipNames(store);

    const flowIps = (await store.query('SELECT DISTINCT ip FROM (SELECT client_ip AS ip FROM flows UNION SELECT server_ip FROM flows)')).rows.map(
      (r) => String(r[0]),
    );
    const podIps = flowIps.filter((ip) => inCidr(ip, POD_NET));
    const clusterIps = flowIps.filter((ip) => inCidr(ip, SVC_NET));
    // The capture holds all six pods and the three ClusterIPs the workload used.
    assert.deepEqual(podIps.sort(), topo.pods.map((p) => p.ip).sort());
    assert.deepEqual(clusterIps.sort(), topo.services.filter((s) => s.type === 'ClusterIP').map((s) => s.ip).sort());

    for (const p of topo.pods) {
      const n = names.get(p.ip);
      assert.ok(n, `${p.ip} (${p.name}) has a name`);
      assert.deepEqual({ pod: n.pod, namespace: n.namespace, node: n.node, workload: n.workload, service: n.service }, expectedPod(p), p.ip);
    }
    for (const s of topo.services.filter((x) => x.type === 'ClusterIP')) {
      const n = names.get(s.ip);
      assert.ok(n, `${s.ip} (${s.name}) has a name`);
      assert.deepEqual([n.service, n.namespace, n.pod, n.node], [s.name, s.namespace, null, null], s.ip);
    }
    // Headless services name their pods (via Endpoints): frontend and kube-dns.
    assert.equal(names.get('10.244.1.10')?.service, 'frontend');
    assert.deepEqual([names.get('10.244.1.30')?.service, names.get('10.244.1.30')?.namespace], ['kube-dns', 'kube-system']);
    // Node InternalIPs name the node only: the `kubernetes` endpoint (host network API server) on node1's
    // address does not make the node a service.
    for (const n of topo.nodes) {
      const got = names.get(n.underlay_ip);
      assert.deepEqual([got?.node, got?.service, got?.namespace], [n.name, null, null], n.underlay_ip);
    }
    assert.deepEqual([names.get('10.96.0.1')?.service, names.get('10.96.0.1')?.namespace], ['kubernetes', 'default']);

    // Every flow of pod traffic has a name at both ends.
    const unnamed = await store.query(`
      SELECT count(*)::INTEGER, count(*) FILTER (WHERE c.ip IS NULL OR s.ip IS NULL)::INTEGER
        FROM flows f LEFT JOIN ip_names c ON c.ip = f.client_ip LEFT JOIN ip_names s ON s.ip = f.server_ip
       WHERE f.client_ip LIKE '10.%' OR f.server_ip LIKE '10.%'`);
    const [flows, missing] = unnamed.rows[0] as number[];
    assert.ok(flows > 100, `${flows} pod flows`);
    assert.equal(missing, 0);

    // Per connection of the truth, on every hop: the client end is the client pod; the server end is the
    // service where the hop sees the ClusterIP and the backend pod where it sees the pod IP.
    for (const c of truth.connections) {
      const r = await store.query(`
        SELECT f.server_ip, cn.pod, sn.pod, sn.service FROM flows f
          JOIN ip_names cn ON cn.ip = f.client_ip JOIN ip_names sn ON sn.ip = f.server_ip
         WHERE f.client_ip = '${c.client_ip}' AND f.client_port = ${c.client_port}`);
      assert.ok(r.rows.length >= 2, `connection ${c.client_ip}:${c.client_port} seen on its hops`);
      for (const [serverIp, clientPod, serverPod, service] of r.rows) {
        assert.equal(clientPod, c.client_pod);
        if (inCidr(String(serverIp), SVC_NET)) {
          assert.equal(service, topo.services.find((s) => s.ip === serverIp)?.name);
          assert.equal(serverPod, null);
        } else {
          assert.equal(serverPod, topo.pods.find((p) => p.ip === serverIp)?.name);
        }
      }
    }

    // Labels come through as the dump gives them (the pod's, for the pod resource).
    const labels = await store.query(`SELECT labels::VARCHAR FROM resources WHERE kind = 'pod' AND name = 'api'`);
    const apiPod = dumpItems().find((i) => i.kind === 'Pod' && i.metadata.name === 'api')!;
    assert.deepEqual(JSON.parse(String(labels.rows[0][0])), apiPod.metadata.labels);
  } finally {
    await store.close();
  }
});

test('k8s: the workload is the Deployment behind the ReplicaSet (hash stripped) or the StatefulSet', () => {
  const items = dumpItems().filter((i) => i.kind === 'Pod');
  // The dump names owners as the controllers do; the test checks the workload is not just the owner.
  const api = items.find((i) => i.metadata.name === 'api')!;
  assert.equal(api.metadata.ownerReferences[0].kind, 'ReplicaSet');
  assert.equal(api.metadata.ownerReferences[0].name, `api-${api.metadata.labels['pod-template-hash']}`);
  assert.equal(items.find((i) => i.metadata.name === 'redis')!.metadata.ownerReferences[0].kind, 'StatefulSet');
});

test('k8s: loading the same file twice changes nothing; metadata loaded before the import names it too', async () => {
  const store = await Store.open(':memory:');
  try {
    const first = await loadK8sMetadata(store, METADATA);
    const snap = await tagSnapshot(store);
    assert.equal(snap.resources.length, first.resources);
    const other = join(SAMPLES, '..', 'samples', 'k8s.metadata.json'); // the same file, spelt otherwise
    const again = await loadK8sMetadata(store, other);
    assert.deepEqual(again, first);
    const snap2 = await tagSnapshot(store);
    assert.deepEqual([snap2.resources, snap2.links], [snap.resources, snap.links]);
    assert.deepEqual(await listK8sMetadata(store), [{ source: resolve(METADATA), file: other }]);
  } finally {
    await store.close();
  }
  // Order does not matter: the names join at query time.
  const { store: s2 } = await importedStore();
  try {
    await loadK8sMetadata(s2, METADATA);
    const before = await ipNames(s2);
    const { store: s3 } = await importedStore();
    try {
      for (const [ip, n] of await ipNames(s3)) assert.equal(n.pod, null, `${ip}: no pod before the metadata`);
      await loadK8sMetadata(s3, METADATA);
      assert.deepEqual(await ipNames(s3), before);
    } finally {
      await s3.close();
    }
  } finally {
    await s2.close();
  }
});

test('k8s: a newer dump of a source replaces the older one; other sources stay; removing one rebuilds', async () => {
  const store = await Store.open(':memory:');
  try {
    const items = dumpItems();
    const older = writeDump('cluster.json', items);
    await loadK8sMetadata(store, older);
    const count = async () => (await store.query(`SELECT count(*)::INTEGER FROM resources WHERE kind = 'pod'`)).rows[0][0];
    assert.equal(await count(), 6);

    // The newer dump: api is gone, client moved to node2 with another IP, redis relabelled.
    const newer = structuredClone(items).filter((i) => !(i.kind === 'Pod' && i.metadata.name === 'api'));
    const client = newer.find((i) => i.kind === 'Pod' && i.metadata.name === 'client')!;
    client.spec.nodeName = 'node2';
    client.status.podIP = '10.244.2.99';
    client.status.podIPs = [{ ip: '10.244.2.99' }];
    newer.find((i) => i.kind === 'Pod' && i.metadata.name === 'redis')!.metadata.labels.tier = 'cache';
    writeDump('cluster.json', newer);
    const res = await loadK8sMetadata(store, older);
    assert.equal(res.pods, 5);
    const names = await ipNames(store);
    // The api pod IP keeps only its service (the Endpoints still list it), no pod, workload or node.
    assert.deepEqual([names.get('10.244.2.10')?.pod, names.get('10.244.2.10')?.workload, names.get('10.244.2.10')?.node], [null, null, null]);
    assert.equal(names.get('10.244.1.20'), undefined);
    assert.deepEqual([names.get('10.244.2.99')?.pod, names.get('10.244.2.99')?.node], ['client', 'node2']);
    assert.equal(await count(), 5);
    const redisLabels = await store.query(`SELECT labels->>'tier' FROM resources WHERE kind = 'pod' AND name = 'redis'`);
    assert.deepEqual(redisLabels.rows, [['cache']]);
    // No resource row is left that nothing points at.
    const orphans = await store.query(
      'SELECT count(*)::INTEGER FROM resources r WHERE NOT EXISTS (SELECT 1 FROM ip_resources i WHERE i.resource_id = r.resource_id)',
    );
    assert.equal(orphans.rows[0][0], 0);

    // A second source (another cluster's dump) adds to the first; `source` lets a file at another
    // path stand for it.
    const other = writeDump('other.json', [
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-7c9f8d6b5d-abcde', namespace: 'shop', labels: {} }, spec: {}, status: { podIP: '10.1.0.5' } },
    ]);
    await loadK8sMetadata(store, other, { source: 'cluster-b' });
    assert.equal((await ipNames(store)).get('10.1.0.5')?.pod, 'web-7c9f8d6b5d-abcde');
    assert.equal((await ipNames(store)).get('10.244.2.99')?.pod, 'client');
    assert.equal(await removeK8sMetadata(store, 'cluster-b'), true);
    assert.equal(await removeK8sMetadata(store, 'cluster-b'), false);
    assert.equal((await ipNames(store)).get('10.1.0.5'), undefined);
    assert.equal((await ipNames(store)).get('10.244.2.99')?.pod, 'client');
  } finally {
    await store.close();
  }
});

test('k8s: pods in one file and services/endpoints in another are joined (kubectl get pods > a; get svc,ep > b)', async () => {
  const store = await Store.open(':memory:');
  try {
    const items = dumpItems();
    await loadK8sMetadata(store, writeDump('pods.json', items.filter((i) => i.kind === 'Pod' || i.kind === 'Node'), 'PodList'));
    await loadK8sMetadata(store, writeDump('svc.json', items.filter((i) => i.kind === 'Service' || i.kind === 'Endpoints')));
    const split = await ipNames(store);
    const whole = await Store.open(':memory:');
    try {
      await loadK8sMetadata(whole, METADATA);
      assert.deepEqual(split, await ipNames(whole));
    } finally {
      await whole.close();
    }
  } finally {
    await store.close();
  }
});

test('k8s: workloads, selectors, EndpointSlices, host-network and finished pods', async () => {
  const pod = (name: string, ip: string, extra: Item = {}) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', labels: extra.labels ?? {}, ownerReferences: extra.owners },
    spec: { nodeName: 'n1', hostNetwork: extra.hostNetwork },
    status: { phase: extra.phase ?? 'Running', podIP: ip, podIPs: [{ ip }] },
  });
  const rs = (name: string) => [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name, controller: true }];
  const path = writeDump('cases.json', [
    // pod-template-hash label tells the hash; without it, the Deployment controller's alphabet does.
    pod('web-6d4cf56db6-x7k2p', '10.1.0.1', { labels: { app: 'web', 'pod-template-hash': '6d4cf56db6' }, owners: rs('web-6d4cf56db6') }),
    pod('old-5f7b9c-abcde', '10.1.0.2', { owners: rs('old-5f7b9c') }),
    // A ReplicaSet listed in the dump names its Deployment even when the name says otherwise.
    pod('odd-1', '10.1.0.3', { owners: rs('odd-rs') }),
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'odd-rs', namespace: 'shop', ownerReferences: [{ kind: 'Deployment', name: 'odd', controller: true }] } },
    pod('report-28000000-q8x2z', '10.1.0.4', { owners: [{ kind: 'Job', name: 'report-28000000', controller: true }], phase: 'Succeeded' }),
    { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'report-28000000', namespace: 'shop', ownerReferences: [{ kind: 'CronJob', name: 'report' }] } },
    // A finished pod whose IP a running pod took over: the running pod gets the IP.
    pod('done-1', '10.1.0.5', { phase: 'Succeeded', labels: { app: 'web' } }),
    pod('fresh-1', '10.1.0.5', { labels: { app: 'web' } }),
    pod('kube-proxy-abcde', '192.0.2.1', { hostNetwork: true, owners: [{ kind: 'DaemonSet', name: 'kube-proxy', controller: true }] }),
    pod('etcd-n1', '10.1.0.6', { owners: [{ kind: 'Node', name: 'n1', controller: true }] }),
    // Selector match (no Endpoints object for `web`), EndpointSlice for `api`.
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.96.1.1', clusterIPs: ['10.96.1.1', 'fd00::0:1'], selector: { app: 'web' }, externalIPs: ['203.0.113.9'] } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: 'shop' }, spec: { clusterIP: 'None', selector: { app: 'nothing' } } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'api-x1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'api' } },
      endpoints: [{ addresses: ['10.1.0.2'], targetRef: { kind: 'Pod', name: 'old-5f7b9c-abcde', namespace: 'shop' } }],
    },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.1' }, { type: 'Hostname', address: 'n1' }] } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'shop' } },
  ]);
  const store = await Store.open(':memory:');
  try {
    await loadK8sMetadata(store, path);
    const n = await ipNames(store);
    const w = (ip: string) => n.get(ip)?.workload ?? null;
    assert.equal(w('10.1.0.1'), 'web');
    assert.equal(w('10.1.0.2'), 'old');
    assert.equal(w('10.1.0.3'), 'odd');
    assert.equal(w('10.1.0.4'), 'report');
    assert.equal(w('10.1.0.6'), null);
    assert.equal(n.get('10.1.0.5')?.pod, 'fresh-1');
    // Host-network pods share the node's address: it names the node, not the pod.
    assert.deepEqual([n.get('192.0.2.1')?.node, n.get('192.0.2.1')?.pod], ['n1', null]);
    // Selector: running pods labelled app=web, not the finished one.
    assert.equal(n.get('10.1.0.1')?.service, 'web');
    assert.equal(n.get('10.1.0.5')?.service, 'web');
    assert.equal(n.get('10.1.0.4')?.service, null);
    for (const ip of ['10.96.1.1', 'fd00::1', '203.0.113.9']) assert.equal(n.get(ip)?.service, 'web', ip);
    // EndpointSlice wins over the selector that matches nothing.
    assert.equal(n.get('10.1.0.2')?.service, 'api');
  } finally {
    await store.close();
  }
});

test('k8s: a malformed file is refused with the file, the item and the reason, and writes nothing', async () => {
  const store = await Store.open(':memory:');
  try {
    await loadK8sMetadata(store, METADATA);
    const before = await tagSnapshot(store);
    const items = dumpItems();
    const noName = structuredClone(items);
    delete noName[7].metadata.name;
    const badIp = structuredClone(items);
    badIp[2].status.podIP = '10.244.1.300';
    const badLabels = structuredClone(items);
    badLabels[14].metadata.labels = { app: 3 };
    const notJson = join(tmp, 'broken.json');
    writeFileSync(notJson, readFileSync(METADATA, 'utf8').slice(0, 5000));
    const garbage = join(tmp, 'garbage.json');
    writeFileSync(garbage, '{\n  "apiVersion": "v1",\n  "items": [}');
    const array = join(tmp, 'array.json');
    writeFileSync(array, JSON.stringify(items));
    const single = join(tmp, 'single.json');
    writeFileSync(single, JSON.stringify(items[0]));
    const cases: Array<[string, RegExp]> = [
      [notJson, /broken\.json: not JSON: line 138 column 7 \(offset 5000\): Unexpected end of JSON input/],
      [garbage, /garbage\.json: not JSON: line 3 column 13 \(offset 36\): Unexpected token/],
      [array, /array\.json: not a Kubernetes List: the top level is not a JSON object/],
      [single, /single\.json: not a Kubernetes List \(kind "Pod", no items array\)/],
      [writeDump('noname.json', noName), /noname\.json: item 7 \(Service\): metadata\.name is missing/],
      [writeDump('badip.json', badIp), /badip\.json: item 2 \(Pod kube-system\/dns\): status\.podIP "10\.244\.1\.300" is not an IP address/],
      [writeDump('badlabels.json', badLabels), /badlabels\.json: item 14 \(Endpoints default\/frontend\): metadata\.labels\.app is not a string/],
      [writeDump('notobj.json', [...items.slice(0, 3), 'Pod']), /notobj\.json: item 3: not an object/],
      [join(tmp, 'missing.json'), /missing\.json: cannot read: .*ENOENT/],
    ];
    for (const [path, message] of cases) {
      await assert.rejects(loadK8sMetadata(store, path), (err: Error) => {
        assert.ok(err instanceof K8sMetadataError, String(err));
        assert.match(err.message, message);
        assert.ok(err.message.startsWith(path), err.message);
        return true;
      });
      assert.deepEqual(await tagSnapshot(store), before, path);
    }
  } finally {
    await store.close();
  }
});

test('k8s: isK8sMetadataFile tells a kubectl dump from captures and other JSON', async () => {
  assert.equal(await isK8sMetadataFile(METADATA), true);
  assert.equal(await isK8sMetadataFile(writeDump('typed.json', [], 'PodList')), true);
  assert.equal(await isK8sMetadataFile(BOTH), false);
  assert.equal(await isK8sMetadataFile(join(SAMPLES, 'k8s-node1.any.pcap')), false);
  assert.equal(await isK8sMetadataFile(join(SAMPLES, 'k8s.truth.json')), false);
  assert.equal(await isK8sMetadataFile(join(tmp, 'nope.json')), false);
});

test('k8s: the offset a JSON error is reported at agrees with JSON.parse on mutated dumps', () => {
  const text = readFileSync(METADATA, 'utf8').slice(0, 3000) + ']}';
  const rnd = prng(7);
  const chars = ['{', '}', '[', ']', '"', ',', ':', ' ', '\\', 'x', '1', '-', 'e', '.', 'n', '\n'];
  let invalid = 0;
  let named = 0;
  for (let i = 0; i < 2000; i++) {
    let t = text;
    for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) {
      const at = Math.floor(rnd() * t.length);
      const ch = chars[Math.floor(rnd() * chars.length)];
      t = rnd() < 0.5 ? t.slice(0, at) + ch + t.slice(at + 1) : t.slice(0, at) + t.slice(at + 1);
    }
    let ok = true;
    let v8at = -1;
    try {
      JSON.parse(t);
    } catch (err) {
      ok = false;
      const m = /position (\d+)/.exec((err as Error).message);
      if (m) v8at = Number(m[1]);
      else if (/end of JSON input/.test((err as Error).message)) v8at = t.length;
    }
    const off = jsonErrorOffset(t);
    assert.equal(off === -1, ok, `mutation ${i}: ${off}`);
    if (!ok) invalid++;
    // Where V8 names the place, it is the same place.
    if (v8at >= 0) {
      named++;
      assert.equal(off, v8at, `mutation ${i}`);
    }
  }
  assert.ok(invalid > 1000, `${invalid} invalid mutations`);
  assert.ok(named > 100, `${named} with a V8 position`);
});

test('k8s: samples/k8s.metadata.json is what lib/k8s-metadata.py writes from the committed truth', () => {
  const out = join(tmp, 'regenerated.json');
  execFileSync('python3', [join(SAMPLES, 'lib', 'k8s-metadata.py'), '--truth', join(SAMPLES, 'k8s.truth.json'), '--out', out], {
    stdio: 'pipe',
  });
  assert.equal(readFileSync(out, 'utf8'), readFileSync(METADATA, 'utf8'));
  const doc = JSON.parse(readFileSync(METADATA, 'utf8')) as { apiVersion: string; kind: string; items: Item[] };
  assert.deepEqual([doc.apiVersion, doc.kind], ['v1', 'List']);
  const kinds: Record<string, number> = {};
  for (const i of doc.items) kinds[i.kind] = (kinds[i.kind] ?? 0) + 1;
  // The truth's pods, its services plus `kubernetes`, one Endpoints per service, its nodes.
  assert.deepEqual(kinds, { Pod: topo.pods.length, Service: topo.services.length + 1, Endpoints: topo.services.length + 1, Node: topo.nodes.length });
});
