// MySQL rows against a real MariaDB server (samples/l7/mysql: generator, capture, the client's truth),
// tshark's mysql dissector, DeepFlow's own parser results (test/fixtures/deepflow-mysql.json) and a seeded
// fuzz of mutated real payloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MYSQL, mysqlErrorStatus } from '../src/engine/l7/mysql';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { sqlEndpoint } from '../src/engine/l7/sql-text';
import type { RequestRecord } from '../src/shared/records';
import { FLOWGEN, SAMPLES, readPackets, rng, runCapture, runPackets, tsharkFields } from './l7-helpers';

const registry = (): ProtocolRegistry => new ProtocolRegistry([...BUILTIN_PROTOCOLS, MYSQL]);
const DIR = join(SAMPLES, 'l7/mysql');
const PCAP = join(DIR, 'mysql.pcap');

interface TruthRecord {
  command: string;
  resource?: string;
  start_us: number;
  first_byte_us?: number;
  reply: string | null;
  code: number | null;
  message: string | null;
  status: string;
  rows?: number;
}
const truth = JSON.parse(readFileSync(join(DIR, 'mysql.truth.json'), 'utf8')) as {
  server: [string, number];
  connections: { client: [string, number]; records: TruthRecord[] }[];
};

test('MariaDB capture: every command as the client sent it, replies as it parsed them', async () => {
  const { records, engine } = await runCapture(PCAP, { registry: registry() });
  assert.equal(engine.stats.gaps, 0);
  assert.equal(engine.stats.parserErrors, 0);
  assert.ok(records.every((r) => r.l7Protocol === 'mysql'));
  let n = 0;
  for (const c of truth.connections) {
    const got = records.filter((r) => r.clientPort === c.client[1]).sort((a, b) => a.startTime - b.startTime);
    assert.equal(got.length, c.records.length, `connection from port ${c.client[1]}`);
    c.records.forEach((t, i) => {
      const r = got[i];
      const what = `#${i} ${t.command} ${t.resource ?? ''}`;
      assert.equal(r.requestType, t.command, what);
      assert.equal(r.requestResource, t.resource ?? null, what);
      assert.equal(r.endpoint, t.command === 'Login' ? t.resource : t.resource ? sqlEndpoint(t.resource) : null, what);
      assert.equal(r.responseStatus, t.status, what);
      assert.equal(r.responseCode, t.code, what);
      assert.equal(r.responseException, t.message, what);
      assert.equal(r.version, '10', `${what}: protocol version of the greeting`);
      assert.equal(r.serverPort, truth.server[1]);
      assert.ok(r.startTime >= t.start_us, `${what}: starts after the client sent it`);
      if (t.reply === null) {
        // COM_QUIT, COM_STMT_CLOSE: no answer by design, a row of its own (not a timeout).
        assert.equal(r.duration, null, what);
      } else {
        assert.ok(r.duration !== null && r.startTime + r.duration <= t.first_byte_us!, `${what}: answer before the client read it`);
      }
      n++;
    });
  }
  assert.equal(n, 17);
  const statuses = records.map((r) => r.responseStatus);
  assert.equal(statuses.filter((s) => s === 'server_error').length, 4, '1064 syntax, 1146 unknown table, 1044 access to a db, 1045 login');
  const traced = records.filter((r) => r.traceId !== null);
  assert.equal(traced.length, 1);
  assert.equal(traced[0].traceId, '0af7651916cd43dd8448eb211c80319c', 'trace id from the /* traceparent=… */ comment');
  assert.equal(traced[0].spanId, 'b7ad6b7169203331');
  const exec = records.filter((r) => r.requestType === 'COM_STMT_EXECUTE');
  assert.deepEqual(exec.map((r) => r.endpoint), ['SELECT items', 'SELECT items'], 'EXECUTE named by its prepared SQL');
});

test('MariaDB capture: commands, SQL, error codes and sequence numbers as tshark decodes them', async () => {
  const { records } = await runCapture(PCAP, { registry: registry() });
  const bySeq = new Map<number, RequestRecord>(records.map((r) => [r.reqTcpSeq!, r]));
  const rows = tsharkFields(PCAP, ['tcp.seq_raw', 'mysql.command', 'mysql.query', 'mysql.error_code', 'mysql.packet_number'], ['-Y', 'mysql']);
  const NAMES: Record<string, string> = { '1': 'COM_QUIT', '2': 'COM_INIT_DB', '3': 'COM_QUERY', '14': 'COM_PING', '22': 'COM_STMT_PREPARE', '23': 'COM_STMT_EXECUTE', '25': 'COM_STMT_CLOSE' };
  let commands = 0;
  let errors = 0;
  for (let i = 0; i < rows.length; i++) {
    const [seq, cmd, query, , pn] = rows[i];
    if (cmd === '' || pn !== '0') continue;
    const r = bySeq.get(Number(seq));
    assert.ok(r, `a row for the command at seq ${seq}`);
    assert.equal(r.requestType, NAMES[cmd], seq);
    if (query !== '') assert.equal(r.requestResource, query);
    commands++;
    // The answer's first packet follows the command in this capture (no pipelining in MySQL).
    const next = rows[i + 1];
    if (r.duration !== null) {
      assert.equal(r.respTcpSeq, Number(next[0]), `${r.requestResource}: response seq`);
      if (next[3] !== '') {
        assert.equal(r.responseCode, Number(next[3]));
        errors++;
      }
    }
  }
  assert.equal(commands, 15, 'every command packet (the two logins are not commands to tshark)');
  assert.equal(errors, 3);
});

test("DeepFlow's 171-mysql.pcap (six pooled connections on port 20130, seen mid-stream): every command after detection, as tshark", async () => {
  const path = `${FLOWGEN}/mysql/171-mysql.pcap`;
  const { records } = await runCapture(path, { registry: registry() });
  const rows = tsharkFields(path, ['tcp.srcport', 'mysql.command'], ['-d', 'tcp.port==20130,mysql', '-Y', 'mysql.command']);
  // Inference needs a COM_QUERY (or a login, or a greeting): the COM_PINGs a connection sends before its
  // first query are not yet known to be MySQL (DeepFlow infers on the same packets).
  const seenQuery = new Set<string>();
  let pings = 0;
  let queries = 0;
  for (const [port, cmd] of rows) {
    if (cmd === '3') {
      seenQuery.add(port);
      queries++;
    } else if (cmd === '14' && seenQuery.has(port)) {
      pings++;
    }
  }
  assert.equal(seenQuery.size, 6);
  assert.equal(records.filter((r) => r.requestType === 'COM_QUERY').length, queries);
  assert.equal(records.filter((r) => r.requestType === 'COM_PING').length, pings);
  assert.equal(records.length, queries + pings);
  assert.ok(records.every((r) => r.responseStatus === 'ok' && r.duration !== null), 'every command answered');
});

test('error classes: 2000–2999 client, 1000–1999 and 3000+ server (SPEC)', () => {
  for (const c of [2000, 2013, 2999]) assert.equal(mysqlErrorStatus(c), 'client_error', String(c));
  for (const c of [1045, 1064, 1146, 1999, 3000, 3024, 4031]) assert.equal(mysqlErrorStatus(c), 'server_error', String(c));
});

interface DfLine {
  msg_type: 'Request' | 'Response' | 'Session';
  version?: number;
  request_type: number;
  request_resource?: string;
  response_code: number;
  response_execption?: string;
  response_status: string;
  endpoint: string | null;
  captured_request_byte: number;
  captured_response_byte: number;
}
const deepflow = (JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/deepflow-mysql.json'), 'utf8')) as { mysql: Record<string, DfLine[]> }).mysql;
const DF_COMMANDS: Record<number, string> = { 0: 'Login', 1: 'COM_QUIT', 2: 'COM_INIT_DB', 3: 'COM_QUERY', 14: 'COM_PING', 22: 'COM_STMT_PREPARE', 23: 'COM_STMT_EXECUTE', 25: 'COM_STMT_CLOSE' };
const STATUS: Record<string, string> = { ok: 'ok', client_error: 'client_error', server_error: 'server_error' };

// mysql-use and mysql-compressed-response use the compressed protocol (a 7-byte header before the packets).
const COMPRESSED = new Set(['mysql-use', 'mysql-compressed-response']);

for (const [name, lines] of Object.entries(deepflow)) {
  test(`DeepFlow's ${name}.pcap: the same commands, SQL, endpoints and statuses as DeepFlow's parser`, async () => {
    const { records } = await runCapture(`${FLOWGEN}/mysql/${name}.pcap`, { registry: registry() });
    const mine = records.filter((r) => r.l7Protocol === 'mysql').sort((a, b) => a.startTime - b.startTime);
    const reqs = lines.filter((l) => l.msg_type !== 'Response');
    assert.equal(mine.length, reqs.length);
    let executes = 0;
    reqs.forEach((d, i) => {
      const r = mine[i];
      const what = `#${i} ${d.request_resource ?? DF_COMMANDS[d.request_type]}`;
      assert.equal(r.requestType, DF_COMMANDS[d.request_type], what);
      if (d.request_type === 23) {
        // COM_STMT_EXECUTE: DeepFlow lists the bound parameters; Flowscope names the prepared SQL (and so
        // the endpoint "VERB table", SPEC) when the COM_STMT_PREPARE was in the capture.
        const prepared = mine.slice(0, i).reverse().find((p) => p.requestType === 'COM_STMT_PREPARE');
        assert.equal(r.requestResource, prepared?.requestResource ?? null, what);
        executes++;
      } else {
        assert.equal(r.requestResource, d.request_resource ?? null, what);
        assert.equal(r.endpoint, d.endpoint ?? null, what);
      }
      const header = COMPRESSED.has(name) ? 7 + 4 : 4;
      assert.equal(r.requestLength, d.captured_request_byte - header, `${what}: packet payload (DeepFlow counts the headers too)`);
      if (d.msg_type === 'Session') assert.equal(r.responseStatus, 'ok', `${what}: a one-way command is ok`);
    });
    // Answers: DeepFlow parses every packet of the file as one stream (its test ignores flows), so its
    // pairs are compared only where the capture is one connection.
    const flows = new Set(mine.map((r) => r.clientPort));
    if (flows.size === 1) {
      let k = 0;
      for (let i = 0; i < lines.length; i++) {
        if (lines[i].msg_type === 'Session') k++;
        if (lines[i].msg_type !== 'Request') continue;
        const r = mine[k++];
        const resp = lines[i + 1]?.msg_type === 'Response' ? lines[i + 1] : null;
        if (resp === null) continue;
        assert.equal(r.responseStatus, STATUS[resp.response_status], `#${k - 1}`);
        assert.equal(r.responseException, resp.response_execption ?? null, `#${k - 1}`);
      }
    }
    if (name === 'mysql-statement' || name === 'mysql-exec' || name === 'truncate-1024') assert.ok(executes > 0);
  });
}

test('seeded fuzz: mutated real MySQL payloads never throw nor hang the parser or detection', async () => {
  const base = [...(await readPackets(PCAP)), ...(await readPackets(`${FLOWGEN}/mysql/mysql-statement.pcap`))];
  const rand = rng(0x5eed_3306);
  let rows = 0;
  for (let round = 0; round < 40; round++) {
    const pk = base.map((p) => {
      const d = Buffer.from(p.data);
      const n = Math.floor(rand() * 4);
      for (let k = 0; k < n; k++) {
        const at = 40 + Math.floor(rand() * Math.max(1, d.length - 40));
        if (at < d.length) d[at] = Math.floor(rand() * 256);
      }
      return { ...p, data: rand() < 0.05 ? d.subarray(0, Math.floor(rand() * d.length)) : d };
    });
    const { engine, records } = runPackets(pk, { registry: registry() });
    assert.equal(engine.stats.parserErrors, 0, `round ${round}`);
    rows += records.length;
  }
  assert.ok(rows > 0);
  const ctx = { transport: 6 as const, fromClient: true, srcPort: 40000, dstPort: 3306 };
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.alloc(Math.floor(rand() * 64));
    for (let k = 0; k < b.length; k++) b[k] = rand() < 0.3 ? 0 : Math.floor(rand() * 256);
    MYSQL.detect(b, 0, b.length, ctx);
  }
});

test('loss: dropping any one packet of the capture changes only the exchange it carried (and SQL known only from it)', async () => {
  const pk = await readPackets(PCAP);
  // A row as a user reads it; the SQL of a statement whose Parse/PREPARE was lost is unknowable (null).
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
  assert.ok(worst <= 2, `worst case ${worst} rows changed`);
  assert.ok(small >= drops * 0.9, `${small} of ${drops} drops change at most the one exchange (request row + lone response)`);
});
