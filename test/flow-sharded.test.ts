// Parsing on worker threads (one, or flows sharded by hash over several) must not change a single row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCaptures } from '../src/engine/import';
import { FLOW_ACCESSORS, REQUEST_ACCESSORS } from '../src/engine/store/accessors';
import { Store } from '../src/engine/store/store';
import type { FlowRecord, RequestRecord } from '../src/shared/records';

const FG = '/work/shared/fixtures/deepflow/agent/resources/test/flow_generator';

/**
 * Each request names a flow with its own endpoints. On a flow seen without its handshake the flow table
 * guesses the server by port while the L7 row's client is the request's sender (l7/README.md), so the
 * two may be opposite there (DeepFlow's kafka/11-join-group-v7.pcap: the client on port 30120, the
 * broker on ephemeral 36333) — never on a flow whose handshake was seen.
 */
function checkLinks(flows: FlowRecord[], requests: RequestRecord[]): void {
  const byId = new Map(flows.map((f) => [f.flowId, f]));
  for (const r of requests) {
    const f = byId.get(r.flowId);
    assert.ok(f, `request ${r.requestId} names flow ${r.flowId}`);
    const same = [f.clientIp, f.clientPort, f.serverIp, f.serverPort];
    const row = [r.clientIp, r.clientPort, r.serverIp, r.serverPort];
    if (f.protocol === 6 && f.synSeq >= 0) assert.deepEqual(same, row, `request ${r.requestId}`);
    else assert.ok(JSON.stringify(same) === JSON.stringify(row) || JSON.stringify([same[2], same[3], same[0], same[1]]) === JSON.stringify(row), `request ${r.requestId}`);
  }
}

/** Every flow and request row of a store, ids left out (they differ by sharding), sorted. */
async function rows(store: Store): Promise<{ flows: FlowRecord[]; requests: RequestRecord[]; ids: string[] }> {
  const flowCols = Object.keys(FLOW_ACCESSORS);
  const reqCols = Object.keys(REQUEST_ACCESSORS);
  const f = await store.query(`SELECT ${flowCols.join(', ')} FROM flows`);
  const r = await store.query(`SELECT ${reqCols.join(', ')} FROM requests`);
  const asRecord = (cols: string[], row: unknown[]) =>
    Object.fromEntries(cols.map((c, k) => [camel(c), typeof row[k] === 'bigint' ? Number(row[k]) : row[k]]));
  const ids = await store.query(
    `SELECT (SELECT count(DISTINCT flow_id) FROM flows) || ' ' || (SELECT count(DISTINCT request_id) FROM requests)`,
  );
  return {
    flows: f.rows.map((row) => asRecord(flowCols, row) as unknown as FlowRecord),
    requests: r.rows.map((row) => asRecord(reqCols, row) as unknown as RequestRecord),
    ids: ids.rows.map((row) => String(row[0])),
  };
}

const camel = (c: string) => c.replace(/_([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());

test('on 1 or 2 worker threads an import stores exactly the rows of the main thread, with unique ids', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-shard-'));
  const merged = join(dir, 'all.pcapng');
  // Every fixture pcap (standard format: mergecap cannot read the 'modified' NATS ones into pcap).
  const inputs = (readdirSync(FG, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.pcap') && !f.includes('nats-nrpc'))
    .map((f) => join(FG, f));
  // Plus a real multi-hop sample (HTTP, DNS seen on several interfaces).
  inputs.push(join(import.meta.dirname, '../samples/k8s-node1.pcapng'));
  execFileSync('mergecap', ['-F', 'pcapng', '-w', merged, ...inputs]);
  const second = join(import.meta.dirname, '../samples/k8s-node2.pcapng');

  const results = [];
  for (const workers of [0, 1, 2]) {
    const store = await Store.open(join(dir, `${workers}.duckdb`));
    // The same file twice: the second import's ids must follow the first's, whoever numbered them.
    const [r] = await importCaptures(store, [merged, second], { workers });
    const got = await rows(store);
    const total = await store.query(`SELECT count(*)::INTEGER FROM flows UNION ALL SELECT count(*)::INTEGER FROM requests`);
    results.push({ workers, r, got, total: total.rows.map((x) => x[0]) });
    await store.close();
  }
  const [one, ...others] = results;
  assert.ok(one.got.flows.length >= 100, `${one.got.flows.length} flows`);
  assert.ok(one.got.requests.length > 80, `${one.got.requests.length} requests`);
  checkLinks(one.got.flows, one.got.requests);
  const key = (x: object) => JSON.stringify({ ...x, flowId: 0, requestId: 0 });
  for (const o of others) {
    assert.equal(o.r.capture.packets, one.r.capture.packets, `${o.workers} workers: packets`);
    assert.deepEqual(o.r.closeTypes, one.r.closeTypes, `${o.workers} workers: close types`);
    assert.deepEqual(o.total, one.total, `${o.workers} workers: row counts`);
    // Unique ids over both captures: count(DISTINCT id) equals the row count.
    assert.deepEqual(o.got.ids, [`${o.total[0]} ${o.total[1]}`], `${o.workers} workers: ids are unique`);
    assert.deepEqual(o.got.flows.map(key).sort(), one.got.flows.map(key).sort(), `${o.workers} workers: flows`);
    assert.deepEqual(o.got.requests.map(key).sort(), one.got.requests.map(key).sort(), `${o.workers} workers: requests`);
    checkLinks(o.got.flows, o.got.requests);
  }
});

test('a flows-only import stores the same flows without parsing application protocols, on the main thread or a worker', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-flows-only-'));
  const sample = join(import.meta.dirname, '../samples/k8s-both.pcapng');
  const full = await Store.open(join(dir, 'full.duckdb'));
  await importCaptures(full, [sample], { workers: 0 });
  const want = await rows(full);
  await full.close();
  assert.ok(want.requests.length > 100, `${want.requests.length} requests in the full import`);
  // Without L7 a flow has no application protocol; every other column is the same.
  const key = (f: FlowRecord) => JSON.stringify({ ...f, l7Protocol: '' });
  for (const workers of [0, 1]) {
    const store = await Store.open(join(dir, `flows-${workers}.duckdb`));
    const [r] = await importCaptures(store, [sample], { workers, flowsOnly: true });
    const got = await rows(store);
    await store.close();
    assert.equal(r.requests, 0, `${workers} workers`);
    assert.equal(r.l7, null, `${workers} workers: L7 did not run`);
    assert.equal(got.requests.length, 0, `${workers} workers`);
    assert.ok(got.flows.every((f) => f.l7Protocol === ''), `${workers} workers: no flow names an L7 protocol`);
    assert.deepEqual(got.flows.map(key).sort(), want.flows.map(key).sort(), `${workers} workers: flows`);
  }
});
