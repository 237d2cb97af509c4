// PostgreSQL rows against the real PostgreSQL server of samples/ (k8s.truth.json, written by its
// clients), tshark's pgsql dissector, DeepFlow's own parser results (test/fixtures/deepflow-postgresql.json)
// and a seeded fuzz of mutated real payloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { POSTGRESQL, sqlstateStatus } from '../src/engine/l7/postgresql';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { sqlEndpoint } from '../src/engine/l7/sql-text';
import type { RequestRecord } from '../src/shared/records';
import { FLOWGEN, SAMPLES, readPackets, rng, runCapture, runPackets, tsharkFields } from './l7-helpers';

const registry = (): ProtocolRegistry => new ProtocolRegistry([...BUILTIN_PROTOCOLS, POSTGRESQL]);
const PG = `${FLOWGEN}/postgre`;

interface Hop { node: string; interface: string; src_ip: string; src_port: number; dst_ip: string; dst_port: number }
interface Truth {
  files: { file: string; node: string | null; interfaces: string | { id: number; node: string; name: string }[] }[];
  topology: { nodes: { name: string; interfaces: { name: string; ifindex: number }[] }[] };
  connections: { id: string; l7: string | null; hops: Hop[] }[];
  requests: {
    id: string; connection: string; protocol: string; request_type: string; resource: string; command_tag: string | null;
    code: string | null; error_message: string | null; error_class: string; start_us: number; end_us: number;
    first_byte_us: number;
  }[];
  expected: { per_interface: { node: string; interface: string; requests_by_protocol: Record<string, number> }[] };
}
const truth = JSON.parse(readFileSync(join(SAMPLES, 'k8s.truth.json'), 'utf8')) as Truth;

function pointsOf(file: Truth['files'][number]): { ifIndex: number; node: string; name: string; filter: string }[] {
  if (Array.isArray(file.interfaces)) {
    return file.interfaces.map((i) => ({ ifIndex: i.id, node: i.node, name: i.name, filter: `frame.interface_id==${i.id}` }));
  }
  const node = truth.topology.nodes.find((n) => n.name === file.node)!;
  return node.interfaces.map((i) => ({ ifIndex: i.ifindex, node: node.name, name: i.name, filter: `sll.ifindex==${i.ifindex}` }));
}

for (const file of truth.files) {
  test(`samples ${file.file}: every PostgreSQL query once per interface it crossed, as the client saw it`, async () => {
    const { records, engine } = await runCapture(join(SAMPLES, file.file), { registry: registry() });
    assert.equal(engine.stats.parserErrors, 0);
    const pg = records.filter((r) => r.l7Protocol === 'postgresql');
    let checked = 0;
    let points = 0;
    for (const pt of pointsOf(file)) {
      const here = pg.filter((r) => r.ifIndex === pt.ifIndex);
      const expected = truth.expected.per_interface.find((e) => e.node === pt.node && e.interface === pt.name)!;
      assert.equal(here.length, expected.requests_by_protocol.postgresql ?? 0, `${pt.node}/${pt.name}: postgresql rows`);
      if (here.length > 0) points++;
      for (const c of truth.connections) {
        if (c.l7 !== 'postgresql') continue;
        const hop = c.hops.find((h) => h.node === pt.node && h.interface === pt.name);
        if (!hop) continue;
        const got = here
          .filter((r) => r.clientIp === hop.src_ip && r.clientPort === hop.src_port && r.serverIp === hop.dst_ip && r.serverPort === hop.dst_port)
          .sort((a, b) => a.startTime - b.startTime);
        const reqs = truth.requests.filter((r) => r.connection === c.id);
        assert.equal(got.length, reqs.length, `${pt.node}/${pt.name} ${c.id}`);
        reqs.forEach((t, i) => {
          const r = got[i];
          const what = `${pt.node}/${pt.name} ${t.id} ${t.resource}`;
          assert.equal(r.requestType, t.request_type, what);
          assert.equal(r.requestResource, t.resource, what);
          assert.equal(r.endpoint, sqlEndpoint(t.resource, false), what);
          assert.equal(r.responseStatus, t.error_class, what);
          // response_result: the SQLSTATE of an error, else the command tag the client read.
          assert.equal(r.responseResult, t.code ?? t.command_tag, what);
          assert.equal(r.responseException, t.error_message, what);
          assert.ok(r.duration !== null && r.duration > 0, `${what}: paired`);
          assert.ok(r.startTime >= t.start_us && r.endTime <= t.end_us, `${what}: inside the client's window`);
          checked++;
        });
      }
    }
    assert.ok(points >= 1 && checked >= 3, `checked ${checked} rows at ${points} points`);
  });
}

test('samples k8s-node2.pcapng: queries, SQLSTATEs, tags and sequence numbers as tshark decodes them', async () => {
  const path = join(SAMPLES, 'k8s-node2.pcapng');
  const { records } = await runCapture(path, { registry: registry() });
  // tshark dissects each TCP connection once (the copies on later interfaces look like retransmissions
  // to it): compare with Flowscope's rows of one copy per request (they share their tcp sequence numbers).
  const bySeq = new Map<number, RequestRecord>();
  for (const r of records) if (r.l7Protocol === 'postgresql') bySeq.set(r.reqTcpSeq!, r);
  const rows = tsharkFields(path, ['tcp.seq_raw', 'pgsql.type', 'pgsql.query', 'pgsql.code', 'pgsql.tag'], ['-Y', 'pgsql']);
  let n = 0;
  for (let i = 0; i < rows.length; i++) {
    if (rows[i][1] !== 'Simple query') continue;
    const r = bySeq.get(Number(rows[i][0]));
    assert.ok(r, `a row for the query at seq ${rows[i][0]}`);
    assert.equal(r.requestResource, rows[i][2]);
    assert.equal(r.respTcpSeq, Number(rows[i + 1][0]), 'response seq = first packet of the answer');
    let result = '';
    for (let j = i + 1; j < rows.length && result === ''; j++) result = rows[j][3] || rows[j][4];
    assert.equal(r.responseResult, result);
    n++;
  }
  assert.equal(n, 6);
  assert.equal(bySeq.size, 6);
});

interface PgRecord {
  request_type: string;
  resource: string;
  start_us: number;
  first_byte_us: number;
  end_us: number;
  status: string;
  code: string | null;
  message: string | null;
  tag: string | null;
}
const own = JSON.parse(readFileSync(join(SAMPLES, 'l7/postgresql/postgresql.truth.json'), 'utf8')) as {
  server: [string, number];
  connections: { client: [string, number]; encryption_request: string; server_answer: string; records: PgRecord[] }[];
};
const OWN_PCAP = join(SAMPLES, 'l7/postgresql/postgresql.pcap');

test('PostgreSQL capture (simple and extended protocol, pipelined batches, errors, SSL refused then accepted): rows as the client saw them', async () => {
  const { records, engine, protocols } = await runCapture(OWN_PCAP, { registry: registry() });
  assert.equal(engine.stats.parserErrors, 0);
  assert.deepEqual([...protocols.values()], ['postgresql', 'postgresql'], 'both connections are PostgreSQL (the TLS one by its SSLRequest)');
  let n = 0;
  for (const c of own.connections) {
    const got = records.filter((r) => r.clientPort === c.client[1]).sort((a, b) => a.startTime - b.startTime);
    if (c.server_answer === 'S') {
      // The server accepted TLS: the query inside is not readable and makes no row.
      assert.equal(got.length, 0);
      continue;
    }
    assert.equal(got.length, c.records.length);
    c.records.forEach((t, i) => {
      const r = got[i];
      const what = `#${i} ${t.request_type} ${t.resource}`;
      assert.equal(r.requestType, t.request_type, what);
      assert.equal(r.requestResource, t.resource, what);
      assert.equal(r.endpoint, sqlEndpoint(t.resource, false), what);
      assert.equal(r.responseStatus, t.status, what);
      assert.equal(r.responseResult, t.code ?? t.tag, what);
      assert.equal(r.responseException, t.message, what);
      assert.equal(r.version, '3.0', what);
      assert.ok(r.startTime >= t.start_us && r.endTime <= t.end_us, `${what}: inside the client's window`);
      assert.ok(r.duration !== null && r.startTime + r.duration <= t.first_byte_us, `${what}: answered before the client read it`);
      n++;
    });
  }
  assert.equal(n, 11);
  const traced = records.filter((r) => r.traceId !== null);
  assert.deepEqual(traced.map((r) => [r.traceId, r.spanId]), [['4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7']]);
  // The three pipelined Bind/Execute/Sync batches were sent before any answer: paired in order.
  const pipelined = records.filter((r) => r.requestType === 'execute').sort((a, b) => a.startTime - b.startTime).slice(1);
  assert.deepEqual(pipelined.map((r) => r.responseResult), ['SELECT 1', 'SELECT 1', 'SELECT 0']);
  assert.ok(pipelined[2].startTime < pipelined[0].startTime + pipelined[0].duration!, 'the third was sent before the first answer');
});

test('PostgreSQL capture vs tshark: every Sync-terminated batch and Query at the sequence number tshark shows', async () => {
  const { records } = await runCapture(OWN_PCAP, { registry: registry() });
  const rows = tsharkFields(OWN_PCAP, ['tcp.srcport', 'tcp.seq_raw', 'pgsql.type'], ['-Y', 'pgsql']);
  const starts = rows.filter((r) => r[0] !== String(own.server[1]) && /Simple query|Parse|Bind/.test(r[2].split(',')[0]));
  assert.deepEqual(
    starts.map((r) => Number(r[1])),
    records.sort((a, b) => a.startTime - b.startTime).map((r) => r.reqTcpSeq),
  );
  const syncs = rows.filter((r) => r[0] !== String(own.server[1])).reduce((k, r) => k + r[2].split(',').filter((t) => t === 'Sync').length, 0);
  assert.equal(syncs, records.filter((r) => r.requestType !== 'simple query').length, 'one row per Sync');
});

interface DfLine {
  msg_type: 'Request' | 'Response';
  request_type?: string;
  request_resource?: string;
  status: string;
  response_result?: string;
  sql_affected_rows?: number;
  captured_request_byte: number;
  captured_response_byte: number;
}
const deepflow = (JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/deepflow-postgresql.json'), 'utf8')) as { postgresql: Record<string, DfLine[]> }).postgresql;
const STATUS: Record<string, string> = { ok: 'ok', client_error: 'client_error', server_error: 'server_error' };

test("DeepFlow's pgsql-all.pcap: the same requests (parse / execute), resources, statuses and sizes as DeepFlow's parser", async () => {
  const { records } = await runCapture(`${PG}/pgsql-all.pcap`, { registry: registry() });
  const mine = records.sort((a, b) => a.startTime - b.startTime);
  const df = deepflow['pgsql-all'];
  // DeepFlow makes a request of each client packet and needs the whole message in it; each packet here is
  // one Sync-terminated batch, so the rows are the same except the two Parse batches longer than a packet
  // (3671 and 7485 bytes), which DeepFlow's per-packet parser cannot read. DeepFlow writes the type
  // letter ('P', 'E'); its log shows postgre_convert's names ("parse", "execute"), which Flowscope uses.
  const NAMES: Record<string, string> = { P: 'parse', E: 'execute', Q: 'simple query' };
  let k = 0;
  let matched = 0;
  let answers = 0;
  const extra: number[] = [];
  for (let i = 0; i < df.length; i++) {
    const d = df[i];
    if (d.msg_type !== 'Request') continue;
    while (k < mine.length && mine[k].requestLength !== d.captured_request_byte) extra.push(mine[k++].requestLength!);
    const r = mine[k++];
    assert.ok(r, `DeepFlow request #${i} (${d.captured_request_byte} bytes) has a row`);
    assert.equal(r.requestType, NAMES[d.request_type!], `#${i}`);
    // Flowscope names the SQL of a Bind/Execute batch when its Parse was seen on the connection; the
    // statements here (S_18, S_56, …) were prepared before the capture began: no SQL, as DeepFlow.
    assert.equal(r.requestResource, d.request_resource ?? null, `#${i}`);
    matched++;
    const next = df[i + 1];
    if (next?.msg_type === 'Response' && next.captured_response_byte === r.responseLength) {
      // A one-packet answer: same status; DeepFlow's sql_affected_rows is the count ending the tag.
      assert.equal(r.responseStatus, STATUS[next.status], `#${i}`);
      assert.equal(Number(/(\d+)$/.exec(r.responseResult ?? '')?.[1] ?? 0), next.sql_affected_rows ?? 0, `#${i}`);
      answers++;
    }
  }
  while (k < mine.length) extra.push(mine[k++].requestLength!);
  assert.equal(matched, 30);
  assert.deepEqual(extra, [3671, 7485]);
  assert.ok(answers >= 25, `${answers} answers compared`);
  assert.ok(mine.every((r) => r.responseStatus === 'ok' && r.duration !== null));
});

test("DeepFlow's simple_query.pcap and error.pcap: DeepFlow's unit-test values", async () => {
  const a = (await runCapture(`${PG}/simple_query.pcap`, { registry: registry() })).records;
  assert.equal(a.length, 1);
  // postgresql.rs test_simple_query: 'Q', "delete  from test;", 'C', affected rows 1, rrt 2224 µs.
  assert.equal(a[0].requestType, 'simple query');
  assert.equal(a[0].requestResource, 'delete  from test;');
  assert.equal(a[0].endpoint, 'DELETE test');
  assert.equal(a[0].responseResult, 'DELETE 1');
  assert.equal(a[0].responseStatus, 'ok');
  assert.equal(a[0].duration, 2224);
  const b = (await runCapture(`${PG}/error.pcap`, { registry: registry() })).records;
  assert.equal(b.length, 1, 'a Query that is not SQL is still PostgreSQL on port 5432 (a weak guess on the port)');
  // test_error: SQLSTATE 42601 syntax_error → client error.
  assert.equal(b[0].responseResult, '42601');
  assert.equal(b[0].responseStatus, 'client_error');
  assert.equal(b[0].responseException, 'syntax error at or near "asdsdfdsf"');
});

test('SQLSTATE classes follow DeepFlow (client: 22, 23, 42, 40001…; server: 08, 53, 57, XX…)', () => {
  for (const c of ['42P01', '22012', '23505', '0A000', '40001', '40P01', '3D000']) assert.equal(sqlstateStatus(c), 'client_error', c);
  for (const c of ['08006', '53300', '57014', 'XX000', '40002', '25P02']) assert.equal(sqlstateStatus(c), 'server_error', c);
});

/** Wire bytes of a simple extended-protocol exchange, built by hand (messages as libpq sends them). */
function msg(type: string, body: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.write(type, 0, 'latin1');
  h.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([h, body]);
}
const z = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');

test('extended protocol: one request per Sync, Bind/Execute of a statement parsed earlier named by its SQL, pipelined batches paired in order', async () => {
  const packets = await readPackets(`${PG}/simple_query.pcap`);
  // Reuse the capture's first client and server packets as templates for the frames (addresses, ports).
  const client = packets.find((p) => p.data.includes(Buffer.from('delete')))!;
  const server = packets.find((p) => p.data.includes(Buffer.from('DELETE 1')))!;
  const payloadAt = (d: Buffer): number => {
    const ihl = (d[14] & 0xf) * 4;
    return 14 + ihl + (d[14 + ihl + 12] >> 4) * 4;
  };
  const cOff = payloadAt(client.data);
  const sOff = payloadAt(server.data);
  const frame = (tpl: typeof client, off: number, payload: Buffer, seq: number, ts: number) => {
    const d = Buffer.concat([tpl.data.subarray(0, off), payload]);
    d.writeUInt16BE(d.length - 14, 16); // IPv4 total length
    d.writeUInt32BE(seq >>> 0, 38); // TCP sequence number
    return { ...tpl, data: d, tsUs: ts };
  };
  const seq0 = client.data.readUInt32BE(38);
  const sseq0 = server.data.readUInt32BE(38);
  const b1 = Buffer.concat([
    msg('P', Buffer.concat([z('s1'), z('UPDATE accounts SET n = n + 1 WHERE id = $1'), Buffer.from([0, 0])])),
    msg('B', Buffer.concat([z(''), z('s1'), Buffer.from([0, 0, 0, 0, 0, 0])])),
    msg('E', Buffer.concat([z(''), Buffer.alloc(4)])),
    msg('S', Buffer.alloc(0)),
  ]);
  const b2 = Buffer.concat([msg('B', Buffer.concat([z('p2'), z('s1'), Buffer.from([0, 0, 0, 0, 0, 0])])), msg('E', Buffer.concat([z('p2'), Buffer.alloc(4)])), msg('S', Buffer.alloc(0))]);
  const r1 = Buffer.concat([msg('1', Buffer.alloc(0)), msg('2', Buffer.alloc(0)), msg('C', z('UPDATE 1')), msg('Z', Buffer.from('I'))]);
  const err = Buffer.concat([Buffer.from('SERROR\0VERROR\0C23505\0Mduplicate key value\0', 'latin1'), Buffer.from([0])]);
  const r2 = Buffer.concat([msg('2', Buffer.alloc(0)), msg('E', err), msg('Z', Buffer.from('I'))]);
  const t0 = client.tsUs;
  // Both batches sent before any answer (pipelining); the answers come in order.
  const pk = [
    frame(client, cOff, b1, seq0, t0),
    frame(client, cOff, b2, seq0 + b1.length, t0 + 10),
    frame(server, sOff, r1, sseq0, t0 + 100),
    frame(server, sOff, r2, sseq0 + r1.length, t0 + 200),
  ];
  const { records } = runPackets(pk, { registry: registry() });
  const rows = records.sort((a, b) => a.startTime - b.startTime);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows.map((r) => [r.requestType, r.requestResource, r.endpoint, r.responseStatus, r.responseResult, r.duration, r.reqTcpSeq]), [
    ['parse', 'UPDATE accounts SET n = n + 1 WHERE id = $1', 'UPDATE accounts', 'ok', 'UPDATE 1', 100, seq0],
    ['execute', 'UPDATE accounts SET n = n + 1 WHERE id = $1', 'UPDATE accounts', 'client_error', '23505', 190, seq0 + b1.length],
  ]);
});

test('seeded fuzz: mutated real PostgreSQL payloads never throw nor hang the parser or detection', async () => {
  const base = [...(await readPackets(`${PG}/pgsql-all.pcap`)), ...(await readPackets(join(SAMPLES, 'k8s-node2.pcapng'))).slice(0, 400)];
  const rand = rng(0x5eed_5432);
  let rows = 0;
  for (let round = 0; round < 40; round++) {
    const pk = base.map((p) => {
      const d = Buffer.from(p.data);
      const n = Math.floor(rand() * 4);
      for (let k = 0; k < n; k++) {
        const at = 54 + Math.floor(rand() * Math.max(1, d.length - 54));
        if (at < d.length) d[at] = Math.floor(rand() * 256);
      }
      return { ...p, data: rand() < 0.05 ? d.subarray(0, Math.floor(rand() * d.length)) : d };
    });
    const { engine, records } = runPackets(pk, { registry: registry() });
    assert.equal(engine.stats.parserErrors, 0, `round ${round}`);
    rows += records.filter((r: RequestRecord) => r.l7Protocol === 'postgresql').length;
  }
  assert.ok(rows > 0);
  // detect() on random bytes and on every prefix of real payloads.
  const ctx = { transport: 6 as const, fromClient: true, srcPort: 40000, dstPort: 5432 };
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.alloc(Math.floor(rand() * 64));
    for (let k = 0; k < b.length; k++) b[k] = rand() < 0.3 ? 0 : Math.floor(rand() * 256);
    POSTGRESQL.detect(b, 0, b.length, ctx);
  }
});

test('loss: dropping any one packet of the capture changes only the exchange it carried (and SQL known only from it)', async () => {
  const pk = await readPackets(OWN_PCAP);
  // Worst case: the answer just before three pipelined batches is lost; the pairer's re-alignment after a
  // loss (pairing.ts, README "Loss") cannot tell which of the open pipelined requests lost their answers
  // and gives up all four (4 unknown rows + 3 lone answers + the one missing row = 8). Other drops
  // touch one exchange.
  const key = (r: RequestRecord): string => `${r.clientPort} ${r.requestType} ${r.responseStatus} ${r.responseResult ?? r.responseCode}`;
  const base = runPackets(pk, { registry: registry() }).records;
  let worst = 0;
  let small = 0;
  let drops = 0;
  for (let i = 0; i < pk.length; i++) {
    if (pk[i].data.length <= 66) continue; // handshake and pure ACKs (66 bytes: no payload)
    const { records, engine } = runPackets(pk.filter((_, j) => j !== i), { registry: registry() });
    assert.equal(engine.stats.parserErrors, 0);
    // Rows missing, added or changed; a null SQL where the statement's Parse/PREPARE was lost matches.
    const left = base.map((r) => ({ k: key(r), sql: r.requestResource }));
    let diff = 0;
    for (const r of records) {
      let at = left.findIndex((w) => w.k === key(r) && w.sql === r.requestResource);
      if (at < 0 && r.requestResource === null) at = left.findIndex((w) => w.k === key(r));
      if (at >= 0) left.splice(at, 1);
      else diff++;
    }
    diff += left.length;
    worst = Math.max(worst, diff);
    if (diff <= 2) small++;
    drops++;
  }
  assert.ok(drops >= 20, `${drops} packets dropped one at a time`);
  assert.ok(worst <= 8, `worst case ${worst} rows changed`);
  assert.ok(small >= drops * 0.9, `${small} of ${drops} drops change at most the one exchange (request row + lone response)`);
});
