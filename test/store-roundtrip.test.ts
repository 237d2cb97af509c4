import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Store } from '../src/engine/store/store';
import { SCHEMA_VERSION } from '../src/engine/store/migrations';
import { SCHEMA_V1 } from '../src/engine/store/schema';
import type { QueryValue } from '../src/engine/store/query';
import type { FlowRecord } from '../src/shared/records';
import { CAPTURE_A, CAPTURE_B, generate } from './store-gen';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** snake_case column → camelCase record field: independent of the writer's own mapping. */
function camel(column: string): string {
  return column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function plain(v: QueryValue): unknown {
  return typeof v === 'bigint' ? Number(v) : v;
}

async function one(store: Store, sql: string): Promise<unknown[]> {
  const r = await store.query(sql);
  return r.rows[0].map(plain);
}

// The column lists of ARCHITECTURE.md "Store contract", in contract order.
const FLOW_CONTRACT = `flow_id capture_id if_index observation_point start_time end_time ip_version protocol
  client_ip server_ip client_port server_port tunnel_type tunnel_id tunnel_outer_src tunnel_outer_dst
  packets_tx packets_rx bytes_tx bytes_rx syn_count synack_count retrans_tx retrans_rx zero_win_tx
  zero_win_rx ooo_tx ooo_rx rtt rtt_client rtt_server srt_sum srt_count srt_max art_sum art_count art_max
  cit_sum cit_count cit_max close_type l7_protocol`.split(/\s+/);
const REQUEST_CONTRACT = `request_id flow_id capture_id if_index observation_point start_time end_time duration
  l7_protocol version request_type request_domain request_resource endpoint response_status response_code
  response_exception response_result trace_id span_id parent_span_id x_request_id_0 x_request_id_1
  req_tcp_seq resp_tcp_seq request_length response_length client_ip server_ip client_port server_port
  signal_source`.split(/\s+/);

test('the schema has every contract column, in contract order, and the FlowRecord extras', async () => {
  const store = await Store.open(':memory:');
  try {
    const cols = async (table: string): Promise<string[]> =>
      (await store.query(`SELECT column_name FROM information_schema.columns WHERE table_name = '${table}' ORDER BY ordinal_position`)).rows.map(
        (r) => String(r[0]),
      );
    const flows = await cols('flows');
    assert.deepEqual(flows.slice(0, FLOW_CONTRACT.length), FLOW_CONTRACT);
    assert.deepEqual(flows.slice(FLOW_CONTRACT.length), ['vlan', 'payload_tx', 'payload_rx', 'fin_count', 'rst_count', 'handshake_seen', 'syn_seq', 'synack_seq']);
    assert.deepEqual(await cols('requests'), REQUEST_CONTRACT);
    for (const [table, need] of [
      ['captures', ['capture_id', 'source', 'kind', 'started_at', 'ended_at', 'packets', 'bytes', 'file_bytes', 'malformed_packets', 'non_ip_packets', 'error', 'imported_at']],
      ['interfaces', ['capture_id', 'if_index', 'name', 'description', 'link_type', 'kind', 'packets']],
      ['spans', ['trace_id', 'span_id', 'parent_span_id']],
      ['resources', ['resource_id']],
      ['ip_resources', ['ip', 'resource_id']],
    ] as const) {
      const have = await cols(table);
      for (const c of need) assert.ok(have.includes(c), `${table}.${c}`);
    }
  } finally {
    await store.close();
  }
});

test('100,000 flows, a capture and its interfaces round-trip through a DuckDB file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'workspace', 'flowscope.duckdb'); // parent directory does not exist yet
  const g = generate(100_000);
  const byId = new Map<number, FlowRecord>(g.flows.map((f) => [f.flowId, f]));

  let store = await Store.open(path);
  assert.equal(store.openedAtVersion, 0);
  assert.equal(store.nextCaptureId(), CAPTURE_A);
  assert.equal(store.nextCaptureId(), CAPTURE_B);
  assert.equal(store.allocateFlowIds(g.flows.length), 1); // the generator numbers flows from 1
  const before = Date.now() * 1000;
  for (const c of g.captures) await store.writeCapture(c);
  await store.writeInterfaces(g.interfaces);
  const writer = await store.flowWriter();
  const t0 = performance.now();
  for (const f of g.flows) writer.add(f);
  assert.equal(writer.close(), g.flows.length);
  const seconds = (performance.now() - t0) / 1000;
  t.diagnostic(`flows appended: ${Math.round(g.flows.length / seconds)} rows/s (${seconds.toFixed(2)} s incl. commit)`);
  const after = Date.now() * 1000;
  await store.close();

  store = await Store.open(path);
  try {
    assert.equal(store.openedAtVersion, SCHEMA_VERSION);
    assert.deepEqual(await one(store, `SELECT value FROM meta WHERE key = 'schema_version'`), [String(SCHEMA_VERSION)]);
    assert.deepEqual(await one(store, `SELECT value FROM meta WHERE key = 'app'`), ['flowscope']);
    assert.deepEqual(await one(store, 'SELECT count(*) FROM captures'), [2]);
    assert.deepEqual(await one(store, 'SELECT count(*) FROM interfaces'), [g.interfaces.length]);
    assert.deepEqual(await one(store, 'SELECT count(*), count(DISTINCT flow_id) FROM flows'), [100_000, 100_000]);

    // Sums of every numeric column over all rows equal the generator's.
    const numeric = Object.keys(g.flows[0]).filter((k) => typeof g.flows[0][k as keyof FlowRecord] === 'number');
    const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
    const sums = await one(store, `SELECT ${numeric.map((k) => `sum(${snake(k)})::HUGEINT::VARCHAR`).join(', ')} FROM flows`);
    numeric.forEach((k, i) => {
      const expected = g.flows.reduce((s, f) => s + BigInt(f[k as keyof FlowRecord] as number), 0n);
      assert.equal(sums[i], expected.toString(), `sum of ${k}`);
    });
    // Packets and bytes, the figures a user checks first.
    const [ptx, prx, btx, brx] = await one(store, 'SELECT sum(packets_tx), sum(packets_rx), sum(bytes_tx), sum(bytes_rx) FROM flows');
    assert.equal(ptx, g.flows.reduce((s, f) => s + f.packetsTx, 0));
    assert.equal(prx, g.flows.reduce((s, f) => s + f.packetsRx, 0));
    assert.equal(btx, g.flows.reduce((s, f) => s + f.bytesTx, 0));
    assert.equal(brx, g.flows.reduce((s, f) => s + f.bytesRx, 0));
    // Strings and booleans: the distribution of each value matches.
    for (const k of ['observationPoint', 'tunnelType', 'l7Protocol', 'handshakeSeen'] as const) {
      const expected = new Map<string, number>();
      for (const f of g.flows) expected.set(String(f[k]), (expected.get(String(f[k])) ?? 0) + 1);
      const got = new Map((await store.query(`SELECT ${snake(k)}::VARCHAR, count(*) FROM flows GROUP BY ALL`)).rows.map((r) => [String(r[0]), Number(r[1])]));
      assert.deepEqual(got, expected, k);
    }
    assert.deepEqual(await one(store, 'SELECT count(DISTINCT client_ip), count(DISTINCT server_ip) FROM flows'), [
      new Set(g.flows.map((f) => f.clientIp)).size,
      new Set(g.flows.map((f) => f.serverIp)).size,
    ]);

    // Every column of a sample of rows comes back exactly: every 997th row plus the edge cases.
    const sample = new Set<number>([1, 100_000]);
    for (let id = 1; id <= 100_000; id += 997) sample.add(id);
    const edge = (p: (f: FlowRecord) => boolean): void => void sample.add(g.flows.find(p)!.flowId);
    edge((f) => f.bytesTx > 2 ** 32);
    edge((f) => f.ipVersion === 6 && f.tunnelType !== '' && f.tunnelOuterSrc.includes(':'));
    edge((f) => f.tunnelId > 2 ** 31);
    edge((f) => f.protocol === 58);
    edge((f) => f.vlan > 0);
    const r = await store.query(`SELECT * FROM flows WHERE flow_id IN (${[...sample].join(', ')}) ORDER BY flow_id`);
    assert.equal(r.rows.length, sample.size);
    for (const row of r.rows) {
      const got: Record<string, unknown> = {};
      r.columns.forEach((c, i) => (got[camel(c)] = plain(row[i])));
      assert.deepEqual(got, { ...byId.get(got.flowId as number)! }, `flow ${String(got.flowId)}`);
    }

    // Captures and interfaces, field by field.
    const caps = await store.query('SELECT * FROM captures ORDER BY capture_id');
    caps.rows.forEach((row, i) => {
      const got: Record<string, unknown> = {};
      caps.columns.forEach((c, j) => (got[camel(c)] = plain(row[j])));
      const importedAt = got.importedAt as number;
      delete got.importedAt;
      assert.deepEqual(got, { ...g.captures[i] });
      assert.ok(importedAt >= before && importedAt <= after, `imported_at ${importedAt}`);
    });
    const ifs = await store.query('SELECT * FROM interfaces ORDER BY capture_id, if_index');
    assert.deepEqual(
      ifs.rows.map((row) => Object.fromEntries(ifs.columns.map((c, j) => [camel(c), plain(row[j])]))),
      g.interfaces.map((i) => ({ ...i })),
    );

    // Ids continue after what is stored.
    assert.equal(store.nextCaptureId(), 3);
    assert.equal(store.allocateFlowIds(10), 100_001);
    assert.equal(store.allocateFlowIds(1), 100_011);
  } finally {
    await store.close();
  }

  // Opening again neither recreates nor duplicates anything.
  store = await Store.open(path);
  try {
    assert.equal(store.openedAtVersion, SCHEMA_VERSION);
    assert.deepEqual(await one(store, 'SELECT count(*) FROM flows'), [100_000]);
    assert.deepEqual(await one(store, 'SELECT count(*) FROM captures'), [2]);
    assert.deepEqual(await one(store, `SELECT count(*) FROM meta WHERE key = 'schema_version'`), [1]);
    // Ids handed out before are not handed out again, written or not.
    assert.equal(store.nextCaptureId(), 4);
    assert.equal(store.allocateFlowIds(1), 100_012);
    // Rewriting a capture row (final counts at the end of a capture) replaces it.
    await store.writeCapture({ ...g.captures[0], packets: 5 });
    await store.writeInterfaces([{ ...g.interfaces[0], packets: 6 }]);
    assert.deepEqual(await one(store, 'SELECT count(*), sum(packets) FILTER (WHERE capture_id = 1) FROM captures'), [2, 5]);
    assert.deepEqual(await one(store, 'SELECT count(*), sum(packets) FILTER (WHERE capture_id = 1 AND if_index = 0) FROM interfaces'), [
      g.interfaces.length,
      6,
    ]);
  } finally {
    await store.close();
  }
});

test('a database from a newer Flowscope is refused with a clear message', async (t) => {
  const path = join(tempDir(t), 'newer.duckdb');
  await (await Store.open(path)).close();
  const instance = await DuckDBInstance.create(path);
  const conn = await instance.connect();
  await conn.run(`UPDATE meta SET value = '99' WHERE key = 'schema_version'`);
  conn.closeSync();
  instance.closeSync();
  await assert.rejects(Store.open(path), (err: Error) => {
    assert.match(err.message, new RegExp(`newer\\.duckdb: database schema version 99 is newer than this Flowscope supports \\(${SCHEMA_VERSION}\\)`));
    return true;
  });
});

test('one file is opened once per process; a path that cannot be a database says why', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'once.duckdb');
  const [first, second] = await Promise.allSettled([Store.open(path), Store.open(join(dir, '.', 'once.duckdb'))]);
  assert.equal(first.status, 'fulfilled');
  assert.equal(second.status, 'rejected');
  assert.match((second as PromiseRejectedResult).reason.message, /once\.duckdb: database is already open in this process/);
  const store = (first as PromiseFulfilledResult<Store>).value;
  await assert.rejects(Store.open(path), /already open in this process/);
  await store.close();
  await (await Store.open(path)).close(); // free again after close
  await assert.rejects(Store.open(dir), (err: Error) => err.message.startsWith(`${dir}: cannot open database: `));
});

test('extra connections see committed data and are closed with the store', async (t) => {
  const path = join(tempDir(t), 'conns.duckdb');
  const store = await Store.open(path);
  const reader = await store.connect();
  const forgotten = await store.connect();
  const w = await store.flowWriter();
  for (const f of generate(3000).flows) w.add(f);
  w.close();
  const r = await reader.runAndReadAll('SELECT count(*) FROM flows');
  assert.deepEqual(r.getRows(), [[3000n]]);
  reader.closeSync();
  reader.closeSync();
  void forgotten;
  await store.close(); // closes `forgotten` too, so the file is free again
  const again = await Store.open(path);
  assert.deepEqual((await again.query('SELECT count(*) FROM flows')).rows, [[3000n]]);
  await again.close();
});

test('a DuckDB file that is not a Flowscope store is left alone', async (t) => {
  const path = join(tempDir(t), 'other.duckdb');
  const instance = await DuckDBInstance.create(path);
  const conn = await instance.connect();
  await conn.run(`CREATE TABLE sales (id INTEGER)`);
  conn.closeSync();
  instance.closeSync();
  await assert.rejects(Store.open(path), /other\.duckdb: not a Flowscope database \(it has tables sales but no meta table\)/);
});

test('a value that does not fit its column is refused, naming the column', async () => {
  const store = await Store.open(':memory:');
  try {
    const g = generate(10);
    const writer = await store.flowWriter();
    writer.add(g.flows[0]);
    writer.add({ ...g.flows[1], rtt: 1.5 });
    assert.throws(() => writer.close(), /store: flows\.rtt cannot hold 1\.5 \(record 1 of this writer\)/);
    const w2 = await store.flowWriter();
    w2.add({ ...g.flows[2], clientPort: 70000.5 });
    assert.throws(() => w2.close(), /store: flows\.client_port cannot hold 70000\.5/);
    const w3 = await store.flowWriter();
    assert.equal(w3.close(), 0);
    await store.close();
  } finally {
    await store.close();
  }
});

test('a writer commits on demand and a store with an open writer refuses to close', async () => {
  const store = await Store.open(':memory:');
  const g = generate(5000);
  const writer = await store.flowWriter();
  for (let i = 0; i < 4097; i++) writer.add(g.flows[i]);
  assert.equal(writer.rowCount, 4097);
  writer.commit(); // a live capture makes rows visible while the writer stays open
  assert.deepEqual((await store.query('SELECT count(*) FROM flows')).rows, [[4097n]]);
  writer.add(g.flows[4097]);
  await assert.rejects(store.close(), /close the 1 open writer/);
  assert.equal(writer.close(), 4098);
  assert.deepEqual((await store.query('SELECT count(*), max(flow_id) FROM flows')).rows, [[4098n, 4098n]]);
  await store.close();
});

test('a version 1 database is migrated to the current schema and keeps its flows', async (t) => {
  const path = join(tempDir(t), 'v1.duckdb');
  const instance = await DuckDBInstance.create(path);
  const conn = await instance.connect();
  await conn.run(SCHEMA_V1);
  await conn.run(`INSERT INTO meta VALUES ('schema_version', '1')`);
  await conn.run(
    // Version 1's 48 columns: key, addresses, tunnel (16), counters (12), RTTs (3), srt/art/cit (9),
    // close_type, l7_protocol, vlan, payload tx/rx, fin/rst counts, handshake_seen (8).
    `INSERT INTO flows VALUES (42, 1, 0, 'c', 1, 2, 4, 6, '10.0.0.1', '10.0.0.2', 1234, 80, '', -1, '', '',
      1, 1, 60, 60, 1, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0,
      1, '', -1, 0, 0, 0, 0, true)`,
  );
  conn.closeSync();
  instance.closeSync();
  const store = await Store.open(path);
  try {
    assert.equal(store.openedAtVersion, 1);
    assert.deepEqual(await one(store, `SELECT value FROM meta WHERE key = 'schema_version'`), [String(SCHEMA_VERSION)]);
    assert.deepEqual(await one(store, `SELECT flow_id, client_port, syn_seq, synack_seq FROM flows`), [42, 1234, -1, -1]);
  } finally {
    await store.close();
  }
});
