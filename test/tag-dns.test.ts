// Names learned from the DNS answers in a capture: the samples' capture imported the real way (its DNS
// rows come from l7/dns.ts), learnDnsNames run over it, and ip_names compared with the truth's
// dns_queries (what the clients asked and were answered, recorded on their side).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerIps, dnsTags, learnDnsNames, serviceOfName } from '../src/engine/tag/dns-names';
import { loadK8sMetadata } from '../src/engine/tag/k8s-metadata';
import { BOTH, METADATA, importedStore, ipNames, tagSnapshot, truth } from './tag-helpers';

/** answer IP → the names the truth's queries got it for. */
function answered(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const q of truth.dns_queries) {
    if (q.rcode !== 0) continue;
    for (const ip of q.answers) out.set(ip, (out.get(ip) ?? new Set()).add(q.qname));
  }
  return out;
}

test('dns: learning from the capture alone names exactly the IPs the truth\'s queries were answered with', async () => {
  const { store, captureIds } = await importedStore();
  try {
    const expected = answered();
    assert.equal(expected.size, 6); // api, redis, db (ClusterIPs), frontend (headless), redis-0, db-0
    const named = await learnDnsNames(store, captureIds[0]);
    assert.equal(named, expected.size);
    const names = await ipNames(store);
    assert.deepEqual([...names.keys()].sort(), [...expected.keys()].sort());
    for (const [ip, qnames] of expected) {
      const n = names.get(ip)!;
      assert.equal(qnames.size, 1);
      const [qname] = qnames;
      assert.equal(n.dns_name, qname, ip);
      // `<svc>.<ns>.svc.cluster.local` and `<pod>.<svc>.<ns>.svc.cluster.local` also name the service.
      const labels = qname.split('.');
      const svcAt = labels.lastIndexOf('svc');
      assert.deepEqual([n.service, n.namespace], [labels[svcAt - 2], labels[svcAt - 1]], ip);
      assert.deepEqual([n.pod, n.node, n.workload], [null, null, null]);
    }
    assert.equal(names.get('10.96.0.11')?.service, 'api');
    assert.equal(names.get('10.244.2.20')?.service, 'redis');
    // Unanswered names (NXDOMAIN, REFUSED, the empty AAAA answer) name nothing.
    const res = await store.query(`SELECT name FROM resources WHERE kind = 'dns' ORDER BY 1`);
    const asked = new Set(truth.dns_queries.filter((q) => q.answers.length > 0).map((q) => q.qname));
    assert.deepEqual(res.rows.map((r) => r[0]), [...asked].sort());
    // All rows carry the capture they were learned from.
    const caps = await store.query('SELECT DISTINCT capture_id FROM ip_resources');
    assert.deepEqual(caps.rows, [[captureIds[0]]]);
  } finally {
    await store.close();
  }
});

test('dns: the import learns each capture\'s names; learning again changes nothing; names are stored once', async () => {
  const { store, captureIds } = await importedStore([BOTH, BOTH]);
  try {
    const [a, b] = captureIds;
    // The import learned each capture's names as it ended: its own links, the same resource rows.
    const both = await tagSnapshot(store);
    const perCapture = both.links.length / 2;
    assert.ok(perCapture > 0);
    assert.equal(both.links.filter((l) => JSON.parse(l)[4] === a).length, perCapture);
    await learnDnsNames(store, a);
    assert.deepEqual(await tagSnapshot(store), both);
    await learnDnsNames(store, b);
    assert.deepEqual(await tagSnapshot(store), both);
    // Without a capture id: every capture, same result.
    assert.equal(await learnDnsNames(store), 12);
    assert.deepEqual(await tagSnapshot(store), both);
    // Names of one capture stay while the other's are relearned.
    await store.conn.run(`DELETE FROM requests WHERE capture_id = ${a}`);
    assert.equal(await learnDnsNames(store, a), 0);
    const after = await tagSnapshot(store);
    assert.equal(after.links.length, perCapture);
    assert.ok(after.links.every((l) => JSON.parse(l)[4] === b));
    assert.equal((await ipNames(store)).size, 6);
  } finally {
    await store.close();
  }
});

test('dns and Kubernetes names side by side agree on services and namespaces', async () => {
  const { store, captureIds } = await importedStore();
  try {
    await loadK8sMetadata(store, METADATA);
    const k8s = await ipNames(store);
    await learnDnsNames(store, captureIds[0]);
    const both = await ipNames(store);
    assert.equal(both.size, k8s.size);
    for (const [ip, n] of both) {
      const k = k8s.get(ip)!;
      assert.deepEqual({ ...n, dns_name: null }, { ...k, dns_name: null }, ip);
      assert.equal(n.dns_name !== null, answered().has(ip), ip);
    }
    // Re-loading the metadata leaves the DNS-learned rows alone (another source).
    const snap = await tagSnapshot(store);
    await loadK8sMetadata(store, METADATA);
    assert.deepEqual((await tagSnapshot(store)).links, snap.links);
  } finally {
    await store.close();
  }
});

test('dns: answers in response_result (l7/dns.ts form), cut records and service names', () => {
  assert.deepEqual(answerIps('A=10.96.0.11 TTL=30'), ['10.96.0.11']);
  assert.deepEqual(
    answerIps('CNAME=web.example.net TTL=60; A=192.0.2.7 TTL=60; A=192.0.2.8 TTL=60; AAAA=2001:db8::1 TTL=60'),
    ['192.0.2.7', '192.0.2.8', '2001:db8::1'],
  );
  // The result is cut at 512 characters: a last record without its TTL may have a cut address.
  assert.deepEqual(answerIps('A=192.0.2.7 TTL=60; A=192.0.2.1'), ['192.0.2.7']);
  assert.deepEqual(answerIps('SOA=ns.cluster.local TTL=30'), []);
  assert.deepEqual(answerIps('A=999.0.0.1 TTL=1'), []);

  assert.deepEqual(serviceOfName('api.default.svc.cluster.local'), { name: 'api', namespace: 'default' });
  assert.deepEqual(serviceOfName('redis-0.redis.default.svc.cluster.local.'), { name: 'redis', namespace: 'default' });
  assert.deepEqual(serviceOfName('API.Default.SVC.example.com'), { name: 'api', namespace: 'default' });
  assert.equal(serviceOfName('default.svc.cluster.local'), null);
  assert.equal(serviceOfName('www.example.org'), null);
  assert.equal(serviceOfName('api.default.svc'), null);

  // One name whatever its case; no answer, no name.
  const set = dnsTags([
    ['Api.Default.svc.cluster.local', 'A=10.96.0.11 TTL=30'],
    ['api.default.svc.cluster.local.', 'A=10.96.0.11 TTL=30'],
    ['nope.default.svc.cluster.local', 'SOA=ns TTL=30'],
  ]);
  assert.deepEqual(
    set.resources.map((r) => [r.kind, r.name, r.namespace]),
    [
      ['dns', 'api.default.svc.cluster.local', null],
      ['service', 'api', 'default'],
    ],
  );
  assert.equal(set.links.length, 2);
});
