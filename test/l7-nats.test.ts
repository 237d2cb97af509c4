// NATS: a real nats-server (samples/l7/nats: plain and verbose+pedantic connections, headers with trace
// context, request/reply over an inbox, the server's own PING, a wrong password) against the client's
// truth; DeepFlow's five captures against its parser's results. tshark has no NATS dissector: the
// sample's TCP payloads are checked against the rows' sequence numbers instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NATS, natsEndpoint, natsErrStatus } from '../src/engine/l7/nats';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import type { RequestRecord } from '../src/shared/records';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket } from '../src/engine/decode/packet';
import { FLOWGEN, SAMPLES, readPackets, runCapture, runPackets, tsharkFields, type RawPacket } from './l7-helpers';

const PCAP = join(SAMPLES, 'l7/nats/nats.pcap');
const registry = () => new ProtocolRegistry([...BUILTIN_PROTOCOLS, NATS]);

interface TruthRow {
  type: string;
  subject: string | null;
  length: number | null;
  status: string;
  result: string | null;
  client_port: number;
  by?: 'client' | 'server';
}
const truth = (JSON.parse(readFileSync(join(SAMPLES, 'l7/nats/nats.truth.json'), 'utf8')) as { rows: TruthRow[] }).rows;

const key = (port: number, type: string, subject: string | null, length: number | null, status: string, result: string | null) =>
  JSON.stringify([port, type, subject, length, status, result]);

test('nats sample: every operation the client sent or received is one row with what answered it', async () => {
  const { records, protocols } = await runCapture(PCAP, { registry: registry() });
  assert.deepEqual([...protocols.values()], ['nats', 'nats', 'nats']);
  assert.equal(records.length, truth.length);
  const got = records.map((r) => key(r.clientPort, r.requestType!, r.requestResource, r.requestLength, r.responseStatus, r.responseResult)).sort();
  const want = truth.map((t) => key(t.client_port, t.type, t.subject, t.length, t.status, t.result)).sort();
  assert.deepEqual(got, want);
  for (const r of records) {
    assert.ok(r.serverPort === 4222 || r.serverPort === 4223, 'every row reads client → server');
    assert.equal(r.version, '2.9.10');
  }
  const plain = records.filter((r) => r.clientPort === truth[0].client_port);
  assert.ok(plain.every((r) => r.requestDomain === 'flowscope-nats'), 'server_name from INFO');
  // PINGs: three from the client and the server's own (every second), each answered by a PONG.
  const pings = plain.filter((r) => r.requestType === 'PING');
  const truthPings = truth.filter((t) => t.client_port === truth[0].client_port && t.type === 'PING');
  assert.ok(truthPings.filter((t) => t.by === 'server').length >= 1);
  assert.equal(pings.length, truthPings.length);
  assert.ok(pings.every((r) => r.duration !== null && r.responseStatus === 'ok'));
  // Publishes and deliveries without verbose are rows of their own, not timeouts.
  assert.equal(records.filter((r) => r.responseStatus === 'timeout' || r.responseStatus === 'unknown').length, 0);
  // A payload larger than a segment: its length is the declared one.
  assert.equal(records.find((r) => r.requestResource === 'svc.big')!.requestLength, 4000);
});

test('nats sample: HPUB/HMSG headers carry the trace context and x-request-id; inboxes fold', async () => {
  const { records } = await runCapture(PCAP, { registry: registry() });
  const traced = records.filter((r) => r.requestResource === 'orders.traced');
  assert.deepEqual(traced.map((r) => r.requestType).sort(), ['HMSG', 'HPUB']);
  for (const r of traced) {
    assert.equal(r.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(r.spanId, '00f067aa0ba902b7');
    assert.equal(r.xRequestId0, 'req-42');
  }
  const inbox = records.filter((r) => r.requestResource?.startsWith('_INBOX.'));
  assert.equal(inbox.length, 3); // SUB _INBOX.q7Yx2.*, the reply PUB and its MSG
  assert.ok(inbox.every((r) => r.endpoint === '_INBOX.*'));
  assert.equal(natsEndpoint('orders.new'), 'orders.new');
});

test('nats sample: each row starts at the TCP payload that carries its operation (tshark)', async () => {
  const { records } = await runCapture(PCAP, { registry: registry() });
  const rows = tsharkFields(PCAP, ['tcp.seq_raw', 'tcp.payload'], ['-Y', 'tcp.len > 0']);
  const payloadAt = new Map<number, string>();
  for (const [seq, hex] of rows) payloadAt.set(Number(seq), Buffer.from(hex, 'hex').toString('latin1'));
  let checked = 0;
  for (const r of records) {
    const p = payloadAt.get(r.reqTcpSeq!);
    if (p === undefined) continue; // an operation in the middle of a segment
    const op = p.slice(0, p.search(/[ \r]/)).toUpperCase();
    assert.equal(op === '+OK' ? 'OK' : op === '-ERR' ? 'ERR' : op, r.requestType);
    checked++;
  }
  assert.ok(checked >= 25, `rows checked against segment starts: ${checked}`);
});

interface DfMsg {
  msg_type: 'Request' | 'Response' | 'Session';
  op: string;
  subject: string | null;
  version: string | null;
  server_name: string | null;
  payload_size: number | null;
  trace_id: string | null;
  span_id: string | null;
  error: string | null;
  endpoint: string | null;
}
const df = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/deepflow-nats.json'), 'utf8')) as Record<string, DfMsg[]>;

for (const name of Object.keys(df)) {
  test(`DeepFlow ${name}.pcap: the operations DeepFlow parses, with its fields`, async () => {
    const { records } = await runCapture(join(FLOWGEN, `nats/${name}.pcap`), { registry: registry() });
    const msgs = df[name];
    // Answers are folded into the row of what they answer: PONG into its PING, +OK into the verbose
    // operation before it. Everything else DeepFlow reports is a row, in the same order.
    const rowsExpected = msgs.filter((m) => m.op !== 'PONG' && m.op !== 'OK');
    assert.equal(records.length, rowsExpected.length);
    const order = (rs: RequestRecord[]) => rs.map((r) => r.requestType);
    assert.deepEqual(order(records).sort(), rowsExpected.map((m) => m.op).sort());
    for (const m of rowsExpected) {
      const r = records.find((x) => x.requestType === m.op && x.requestResource === m.subject && (m.payload_size === null || x.requestLength === m.payload_size));
      assert.ok(r, `${m.op} ${m.subject}`);
      assert.equal(r.version, m.version);
      assert.equal(r.requestDomain, m.server_name);
      if (m.trace_id !== null) {
        assert.equal(r.traceId, m.trace_id);
        assert.equal(r.spanId, m.span_id);
      }
      // DeepFlow's endpoint is the subject's first token; Flowscope keeps the subject (inboxes folded).
      if (m.endpoint !== null) assert.ok(r.endpoint === '_INBOX.*' || r.endpoint!.split('.')[0] === m.endpoint, `${r.endpoint} vs ${m.endpoint}`);
      if (m.op === 'ERR') {
        assert.equal(r.responseException, m.error);
        // DeepFlow reports every NATS message as normal; a -ERR is the client's mistake here.
        assert.equal(r.responseStatus, 'client_error');
      }
    }
    const pongs = msgs.filter((m) => m.op === 'PONG').length;
    assert.equal(records.filter((r) => r.requestType === 'PING' && r.duration !== null).length, pongs, 'each PONG answers a PING');
    const oks = msgs.filter((m) => m.op === 'OK').length;
    assert.equal(records.filter((r) => r.responseResult === '+OK').length, oks, 'each +OK answers a verbose operation');
  });
}

test('DeepFlow nats-err.pcap and nats-nrpc2.pcap: DeepFlow round-trip times equal Flowscope durations', async () => {
  const err = (await runCapture(join(FLOWGEN, 'nats/nats-err.pcap'), { registry: registry() })).records;
  assert.equal(err.find((r) => r.requestType === 'PING')!.duration, 954331);
  const rpc = (await runCapture(join(FLOWGEN, 'nats/nats-nrpc2.pcap'), { registry: registry() })).records;
  assert.equal(rpc.find((r) => r.requestType === 'PING')!.duration, 232104);
});

/** Index of the first packet whose TCP payload starts with `prefix` (after skipping `skip` such packets). */
function packetStarting(packets: RawPacket[], prefix: string, skip = 0): number {
  const d = new Decoder();
  const p = new DecodedPacket();
  for (let i = 0; i < packets.length; i++) {
    const raw = packets[i];
    if (d.decode(raw.data, 0, raw.data.length, raw.data.length, raw.linkType, raw.tsUs, p) !== DecodeStatus.Ok) continue;
    if (p.capturedPayloadLen < prefix.length) continue;
    if (p.buf.toString('latin1', p.payloadOffset, p.payloadOffset + prefix.length) === prefix && skip-- === 0) return i;
  }
  return -1;
}

const essentials = (r: RequestRecord) => [r.clientPort, r.requestType, r.requestResource, r.responseStatus, r.responseCode, r.responseResult, r.requestLength, r.responseLength];

test('nats sample: a segment lost inside a 4000-byte payload: that row is kept, every row before and after is unchanged', async () => {
  const packets = await readPackets(PCAP);
  const whole = runPackets(packets, { registry: registry() }).records;
  const at = packetStarting(packets, 'xxxxxxxx');
  assert.ok(at > 0, 'a segment in the middle of the body');
  const lost = runPackets(packets.filter((_, i) => i !== at), { registry: registry() });
  assert.ok(lost.engine.stats.gaps >= 1, 'the loss is seen');
  assert.equal(lost.records.length, whole.length);
  assert.deepEqual(lost.records.map(essentials), whole.map(essentials));
});

test('nats -ERR classes: the server\'s own trouble is a server error, the client\'s mistakes client errors', () => {
  assert.equal(natsErrStatus('Slow Consumer'), 'server_error');
  assert.equal(natsErrStatus('Stale Connection'), 'server_error');
  assert.equal(natsErrStatus('maximum connections exceeded'), 'server_error');
  for (const e of ['Authorization Violation', 'Unknown Protocol Operation', 'Invalid Publish Subject', 'Maximum Payload Violation', 'Permissions Violation for Publish to "x"', 'Parser Error']) {
    assert.equal(natsErrStatus(e), 'client_error', e);
  }
});

test('nats sample: a capture that starts mid-connection (first 20 % of packets gone): later rows of the plain connection (verbose mode is only known from CONNECT) are found as in the whole capture', async () => {
  const packets = await readPackets(PCAP);
  const whole = runPackets(packets, { registry: registry() }).records;
  const cut = Math.floor(packets.length * 0.2);
  const part = runPackets(packets.slice(cut), { registry: registry() }).records;
  const after = packets[cut + 4].tsUs;
  const expected = whole.filter((r) => r.startTime > after && ((r: RequestRecord) => r.clientPort === truth[0].client_port)(r));
  assert.ok(expected.length >= 5, `rows after the cut: ${expected.length}`);
  for (const w of expected) {
    const r = part.find((x) => x.reqTcpSeq === w.reqTcpSeq && x.requestType === w.requestType);
    assert.ok(r, `${w.requestType} ${w.requestResource} after the cut`);
    assert.deepEqual(essentials(r), essentials(w));
  }
});
