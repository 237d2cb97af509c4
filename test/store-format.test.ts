import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/engine/store/store';
import { captureSummary } from '../src/engine/store/summary';
import { formatBytes, formatCount, formatDuration, formatJson, formatSummary, formatTable, formatTimestamp } from '../src/cli/format';
import { generate } from './store-gen';

async function filledStore(t: { after: (fn: () => void) => void }): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'flowscope-format-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await Store.open(join(dir, 'f.duckdb'));
  const g = generate(300, 3);
  for (const c of g.captures) await store.writeCapture(c);
  await store.writeInterfaces(g.interfaces);
  const w = await store.flowWriter();
  for (const f of g.flows) w.add(f);
  w.close();
  return store;
}

const SQL = `
  SELECT flow_id, client_ip, protocol,
         CASE WHEN flow_id = 2 THEN NULL ELSE bytes_tx END AS bytes_tx,
         make_timestamp(start_time) AS started,
         rtt / 1000 AS rtt_ms,
         9007199254740993::BIGINT * (flow_id - 2) AS big,
         sum(packets_tx) OVER () AS total_packets,
         round(1.25::DECIMAL(5,2) * flow_id, 2) AS dec,
         CASE flow_id WHEN 1 THEN 'a' || chr(10) || 'b' WHEN 2 THEN repeat('x', 80) ELSE '' END AS note
  FROM flows WHERE flow_id <= 3 ORDER BY flow_id`;

test('query results as an aligned text table and as JSON', async (t) => {
  const store = await filledStore(t);
  try {
    const r = await store.query(SQL);
    assert.deepEqual(r.columns, ['flow_id', 'client_ip', 'protocol', 'bytes_tx', 'started', 'rtt_ms', 'big', 'total_packets', 'dec', 'note']);
    assert.deepEqual(r.types, ['BIGINT', 'VARCHAR', 'UTINYINT', 'BIGINT', 'TIMESTAMP', 'DOUBLE', 'BIGINT', 'HUGEINT', 'DECIMAL(24,2)', 'VARCHAR']);
    const g = generate(300, 3).flows;
    const total = g[0].packetsTx + g[1].packetsTx + g[2].packetsTx; // the window sums the 3 rows
    const ts = (us: number): string => formatTimestamp(us);
    // The expected cells, built from the generator, then laid out by hand below.
    const [f1, f2, f3] = g;
    assert.equal(r.rows[1][3], null);
    assert.equal(r.rows[0][6], -9007199254740993n); // beyond 2^53 stays exact as bigint
    assert.equal(r.rows[0][4], ts(f1.startTime)); // microseconds kept, unlike a JS Date

    const text = formatTable(r, { maxCellWidth: 30 });
    const lines = text.split('\n');
    const row = (cells: string[]): string => cells.join(' | ').trimEnd();
    const width = (col: number, values: string[]): number => Math.max(r.columns[col].length, ...values.map((v) => v.length));
    const cols: string[][] = [
      ['1', '2', '3'],
      [f1.clientIp, f2.clientIp, f3.clientIp],
      [f1, f2, f3].map((f) => String(f.protocol)),
      [String(f1.bytesTx), 'NULL', String(f3.bytesTx)],
      [ts(f1.startTime), ts(f2.startTime), ts(f3.startTime)],
      [f1, f2, f3].map((f) => String(f.rtt / 1000)),
      ['-9007199254740993', '0', '9007199254740993'],
      [String(total), String(total), String(total)],
      ['1.25', '2.5', '3.75'],
      ['a\\nb', 'x'.repeat(29) + '…', ''],
    ];
    const right = [true, false, true, true, false, true, true, true, true, false];
    const w = cols.map((c, i) => width(i, c));
    const pad = (s: string, i: number): string => (right[i] ? s.padStart(w[i]) : s.padEnd(w[i]));
    assert.equal(lines[0], row(r.columns.map(pad)));
    assert.equal(lines[1], w.map((n) => '-'.repeat(n)).join('-+-'));
    for (let k = 0; k < 3; k++) assert.equal(lines[2 + k], row(cols.map((c, i) => pad(c[k], i))), `row ${k + 1}`);
    assert.equal(lines[5], '(3 rows)');
    assert.equal(lines.length, 7); // and the final newline

    const json = JSON.parse(formatJson(r)) as Record<string, unknown>[];
    assert.equal(json.length, 3);
    assert.deepEqual(json[1], {
      flow_id: 2,
      client_ip: f2.clientIp,
      protocol: f2.protocol,
      bytes_tx: null,
      started: ts(f2.startTime),
      rtt_ms: f2.rtt / 1000,
      big: 0,
      total_packets: total,
      dec: 2.5,
      note: 'x'.repeat(80),
    });
    assert.equal(json[0].big, '-9007199254740993'); // unsafe integers become exact strings
    assert.equal(json[0].note, 'a\nb');
    const nd = formatJson(r, { ndjson: true }).trimEnd().split('\n');
    assert.deepEqual(nd.map((l) => JSON.parse(l)), json);

    const empty = await store.query('SELECT flow_id FROM flows WHERE false');
    assert.equal(formatTable(empty), 'flow_id\n-------\n(0 rows)\n');
    assert.equal(formatJson(empty), '[]\n');
    const nested = await store.query(`SELECT [1, NULL] AS l, {'k': 'it''s'} AS s, '\\x01ff'::BLOB AS b, 1 = 1 AS t`);
    assert.equal(formatTable(nested).split('\n')[2], `[1, NULL] | {'k': 'it''s'} | \\x01ff | true`);
    assert.deepEqual(JSON.parse(formatJson(nested)), [{ l: [1, null], s: { k: "it's" }, b: '\\x01ff', t: true }]);
  } finally {
    await store.close();
  }
});

test('several statements run in order and the last one is shown; wide characters stay aligned', async () => {
  const store = await Store.open(':memory:');
  try {
    const r = await store.query(`CREATE TABLE names (n VARCHAR, k INTEGER); INSERT INTO names VALUES ('日本', 1), ('ab', 22); SELECT n, k FROM names ORDER BY k`);
    assert.deepEqual(r.rows, [['日本', 1], ['ab', 22]]);
    // '日本' takes four terminal columns, like the header rule below it.
    assert.equal(formatTable(r), 'n    |  k\n-----+---\n日本 |  1\nab   | 22\n(2 rows)\n');
    assert.equal(formatTable(r, { maxCellWidth: 3 }).split('\n')[2], '日… |  1');
    assert.deepEqual(await store.query('  '), { columns: [], types: [], rows: [] });
    assert.deepEqual(await store.query('-- nothing to run'), { columns: [], types: [], rows: [] });
    await assert.rejects(store.query('SELEC 1'), /Parser Error: syntax error at or near "SELEC"/);
    await assert.rejects(store.query('SELECT * FROM nope'), /Table with name nope does not exist/);
  } finally {
    await store.close();
  }
});

test('unit helpers', () => {
  assert.equal(formatCount(9876543210), '9,876,543,210');
  assert.equal(formatCount(-1234n), '-1,234');
  assert.equal(formatCount(999), '999');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1234), '1.23 kB');
  assert.equal(formatBytes(7_777_782_777_777), '7.78 TB');
  assert.equal(formatBytes(250_000_000), '250.0 MB');
  assert.equal(formatDuration(850), '850 µs');
  assert.equal(formatDuration(12_345), '12.35 ms');
  assert.equal(formatDuration(4_500_000), '4.500 s');
  assert.equal(formatDuration(120_500_000), '2m 0.5s');
  assert.equal(formatDuration(3600_000_000 * 3 + 4 * 60_000_000 + 5_000_000), '3h 04m 05s');
  assert.equal(formatTimestamp(1_700_000_000_000_001), '2023-11-14 22:13:20.000001');
});

test('the summary as text names what a user looks for', async (t) => {
  const store = await filledStore(t);
  try {
    const s = await captureSummary(store);
    const text = formatSummary(s);
    const lines = text.split('\n');
    const line = (prefix: string): string => {
      const l = lines.find((x) => x.trimStart().startsWith(prefix));
      assert.ok(l, `a line starting with ${prefix}:\n${text}`);
      return l;
    };
    for (const title of ['Capture', 'Protocols (packets and bytes counted once per connection)', 'Top conversations by bytes', 'TCP health (each connection counted once)', 'Interfaces']) {
      assert.ok(lines.includes(title), title);
    }
    assert.match(line('packets'), new RegExp(`${formatCount(s.packets)} \\(3 malformed, 1,234 non-IP\\)`));
    assert.match(line('flows'), new RegExp(`${formatCount(s.connections)} unique connections, 300 flow rows`));
    assert.match(line('duration'), /11m 40.5s/); // 700.5 s between the captures' first and last packet
    const tcp = s.tcp;
    assert.match(line('retransmissions'), new RegExp(`${formatCount(tcp.retransTx + tcp.retransRx)}\\s+${(tcp.retransRatio! * 100).toFixed(2)}% of ${formatCount(tcp.packets)} packets`));
    assert.match(line('RTT'), new RegExp(`p50 ${formatDuration(tcp.rtt.p50!)}\\s+p90 ${formatDuration(tcp.rtt.p90!)}\\s+p99 ${formatDuration(tcp.rtt.p99!)}`));
    assert.match(line('connection failures'), new RegExp(`${tcp.connectionFailures.total}\\s+${((tcp.connectionFailures.total / tcp.connections) * 100).toFixed(2)}%`));
    for (const c of tcp.connectionFailures.byType.filter((x) => x.connections > 0)) {
      assert.match(line(`${c.name} (${c.closeType})`), new RegExp(`\\s${c.connections}\\s`));
    }
    const tcpRow = line('tcp ').trim().split(/\s{2,}/).map((x) => x.trim());
    const p = s.protocols[0];
    assert.deepEqual(tcpRow.slice(0, 5), ['tcp', formatCount(p.connections), formatCount(p.flowRows), formatCount(p.packets), formatBytes(p.bytes)]);
    const top = s.topConversations[0];
    const topLine = lines[lines.indexOf('Top conversations by bytes') + 2];
    assert.ok(topLine.includes(top.clientIp) && topLine.includes(formatBytes(top.bytes)), topLine);
    assert.match(line('1   7  lo'), /lo\s+0\s+0\s+0 B$/); // an interface without flows is listed
  } finally {
    await store.close();
  }
});
