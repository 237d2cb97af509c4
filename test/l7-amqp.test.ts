// AMQP 0-9-1: a real RabbitMQ (samples/l7/amqp: handshake, declares, bindings, publishes with trace
// headers and multi-frame bodies, a consumer, Basic.Get hit and miss, 404 / 406 channel closes, an
// unroutable mandatory publish, a missing vhost) against the client's truth and tshark's AMQP
// dissector; DeepFlow's three captures against its parser's results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AMQP, amqpStatus } from '../src/engine/l7/amqp';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import type { RequestRecord } from '../src/shared/records';
import type { L7Message } from '../src/engine/l7/types';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket } from '../src/engine/decode/packet';
import { FLOWGEN, SAMPLES, readPackets, runCapture, runPackets, tsharkFields, type RawPacket } from './l7-helpers';

const PCAP = join(SAMPLES, 'l7/amqp/amqp.pcap');
const registry = () => new ProtocolRegistry([...BUILTIN_PROTOCOLS, AMQP]);

interface TruthRow {
  client_port: number;
  type: string;
  resource: string | null;
  status: string;
  code: number | null;
  length: number | null;
  trace_id: string | null;
  answer?: string;
}
const truth = (JSON.parse(readFileSync(join(SAMPLES, 'l7/amqp/amqp.truth.json'), 'utf8')) as { rows: TruthRow[] }).rows;

test('amqp sample: every method the client saw is one row, in order, with its answer and reply code', async () => {
  const { records, protocols } = await runCapture(PCAP, { registry: registry() });
  assert.deepEqual([...protocols.values()], ['amqp', 'amqp']);
  assert.equal(records.length, truth.length);
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    const r = records[i];
    const where = `#${i} ${t.type} ${t.resource ?? ''}`;
    assert.equal(r.l7Protocol, 'amqp');
    assert.equal(r.clientPort, t.client_port, where);
    assert.equal(r.serverPort, 5672, `${where}: client → broker, also for what the broker asks or pushes`);
    assert.equal(r.requestType, t.type, where);
    assert.equal(r.requestResource, t.resource, where);
    assert.equal(r.endpoint, t.resource, where);
    assert.equal(r.responseStatus, t.status, where);
    assert.equal(r.responseCode, t.code, where);
    assert.equal(r.version, '0-9-1');
    if (t.length !== null) assert.equal(r.requestLength, t.length, `${where}: body size`);
    if (t.trace_id !== null) assert.equal(r.traceId, t.trace_id, where);
    const oneWay = ['Basic.Publish', 'Basic.Deliver', 'Basic.Return', 'Basic.Ack'].includes(t.type);
    assert.equal(r.duration === null, oneWay, `${where}: paired iff synchronous`);
  }
  // The Basic.Get that found the traced message carries its trace context (from the GetOk content).
  const get = records.find((r) => r.requestType === 'Basic.Get' && r.responseLength === 8)!;
  assert.equal(get.traceId, truth.find((t) => t.trace_id !== null)!.trace_id);
  assert.equal(records.find((r) => r.traceId !== null && r.requestType === 'Basic.Publish')!.xRequestId0, 'amqp-req-1');
  assert.equal(records.filter((r) => r.responseStatus === 'timeout' || r.responseStatus === 'unknown').length, 0);
  assert.deepEqual(
    records.filter((r) => r.responseStatus !== 'ok').map((r) => [r.requestType, r.responseCode]),
    [['Queue.Declare', 404], ['Exchange.Declare', 406], ['Basic.Return', 312], ['Connection.Open', 530]],
  );
  assert.equal(records.find((r) => r.responseCode === 530)!.requestDomain, '/missing');
});

test('amqp sample: methods, channels and reply codes agree with tshark', async () => {
  const { records } = await runCapture(PCAP, { registry: registry() });
  const rows = tsharkFields(PCAP, ['tcp.seq_raw', 'tcp.srcport', 'amqp.type', 'amqp.method.class', 'amqp.method.method', 'amqp.method.arguments.reply_code'], ['-Y', 'amqp']);
  const reqSeq = new Set(records.map((r) => r.reqTcpSeq));
  const respSeq = new Set(records.map((r) => r.respTcpSeq));
  let methods = 0;
  let starts = 0;
  const codes: number[] = [];
  for (const [seq, , type, , , code] of rows) {
    if (!type.split(',').includes('1')) continue;
    methods += type.split(',').filter((x) => x === '1').length;
    // A segment that starts with a method frame starts a row (request or answer), unless it is a
    // Close-Ok after an error close, which is not a row.
    if (type.startsWith('1') && (reqSeq.has(Number(seq)) || respSeq.has(Number(seq)))) starts++;
    if (code) codes.push(...code.split(',').map(Number));
  }
  assert.ok(methods >= 40, `method frames seen by tshark: ${methods}`);
  assert.ok(starts >= 35, `rows starting where tshark sees a method frame: ${starts}`);
  // Every non-200 reply code tshark decodes is one error row with that code.
  const errors = codes.filter((c) => c !== 200).sort();
  assert.deepEqual(errors, records.filter((r) => r.responseCode !== null && r.responseCode !== 200).map((r) => r.responseCode!).sort());
});

test('amqp reply codes → status as DeepFlow', () => {
  assert.equal(amqpStatus(200), 'ok');
  for (const c of [320, 506, 541]) assert.equal(amqpStatus(c), 'server_error');
  for (const c of [311, 312, 313, 402, 403, 404, 405, 406, 501, 502, 503, 504, 505, 530, 540]) assert.equal(amqpStatus(c), 'client_error');
});

interface DfMsg {
  msg_type: 'Request' | 'Response' | 'Session' | 'Other';
  resp_status: string;
  protocol_header: boolean;
  frame_type: string;
  channel: number;
  class: string | null;
  method: string | null;
  req_type: string | null;
  vhost: string | null;
  endpoint: string | null;
  resp_code: number | null;
  resp_text: string | null;
  trace_id: string | null;
  span_id: string | null;
  req_len: number | null;
  resp_len: number | null;
  rtt: number;
  body_size: number | null;
}
const df = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/deepflow-amqp.json'), 'utf8')) as Record<string, DfMsg[]>;
const STATUS: Record<string, string> = { Ok: 'ok', ClientError: 'client_error', ServerError: 'server_error', Unknown: 'unknown' };

interface Row {
  type: string;
  status: string;
  code: number | null;
  endpoint: string | null;
  vhost: string | null;
  duration: number | null;
  reqLen: number | null;
  respLen: number | null;
  traceId: string | null;
  spanId: string | null;
}

/**
 * Rows from DeepFlow's messages, paired as DeepFlow pairs them (a request, then the answer on its
 * channel). Where Flowscope differs: the protocol header, heartbeats and content frames are not rows
 * (content belongs to its Publish/Deliver: trace ids and body size); an error close is one row (the
 * refusal), where DeepFlow lists the close again as a request and its Close-Ok as the answer.
 */
function deepflowRows(msgs: DfMsg[]): Row[] {
  const rows: Row[] = [];
  const pending = new Map<number, Row[]>();
  let content: Row | null = null;
  let lastErrorClose: string | null = null;
  const swallow = new Set<number>();
  for (const m of msgs) {
    if (m.protocol_header || m.frame_type === 'Heartbeat' || m.frame_type === 'Body') continue;
    if (m.frame_type === 'Header') {
      if (content !== null) {
        content.traceId = m.trace_id;
        content.spanId = m.span_id;
        content.reqLen = m.body_size;
      }
      continue;
    }
    const type = `${m.class}.${m.method}`;
    const errorClose = lastErrorClose;
    lastErrorClose = null;
    if (m.msg_type === 'Request') {
      if (errorClose === type) {
        swallow.add(m.channel);
        continue;
      }
      const q = pending.get(m.channel) ?? [];
      q.push({ type, status: 'timeout', code: null, endpoint: m.endpoint, vhost: m.vhost, duration: null, reqLen: m.req_len, respLen: null, traceId: null, spanId: null });
      pending.set(m.channel, q);
    } else if (m.msg_type === 'Response') {
      if (swallow.delete(m.channel) && m.method === 'CloseOk') continue;
      const r = pending.get(m.channel)?.shift();
      const isErrorClose = m.method === 'Close' && m.resp_code !== null && m.resp_code !== 200;
      if (isErrorClose) lastErrorClose = type;
      const row = r ?? { type, status: 'ok', code: null, endpoint: m.endpoint, vhost: m.vhost, duration: null, reqLen: null, respLen: null, traceId: null, spanId: null };
      row.status = STATUS[m.resp_status];
      row.code = isErrorClose ? m.resp_code : null;
      row.duration = r !== undefined ? m.rtt : null;
      row.respLen = m.resp_len;
      rows.push(row);
    } else if (m.frame_type === 'Method') {
      content = { type, status: STATUS[m.resp_status], code: m.resp_code, endpoint: m.endpoint, vhost: m.vhost, duration: null, reqLen: null, respLen: null, traceId: null, spanId: null };
      if (!['Basic.Publish', 'Basic.Deliver', 'Basic.Return', 'Basic.GetOk'].includes(type)) content.reqLen = null;
      rows.push(content);
    }
  }
  for (const q of pending.values()) rows.push(...q);
  return rows;
}

function flowscopeRow(r: RequestRecord, dfRow: Row): Row {
  return {
    type: r.requestType!,
    status: r.responseStatus,
    code: r.responseCode,
    endpoint: r.endpoint,
    // DeepFlow's test reuses one parser for all flows of a file: a vhost leaks into the next flow's
    // Connection.Start/Tune. Flowscope's vhost is per connection.
    vhost: dfRow.type === 'Connection.Start' || dfRow.type === 'Connection.Tune' ? dfRow.vhost : r.requestDomain,
    duration: r.duration,
    // One-way rows: DeepFlow has no length, Flowscope counts the body (compared through the header frame).
    reqLen: dfRow.reqLen === null ? null : r.requestLength,
    // DeepFlow reports 0 bytes for one error close answer; Flowscope counts the frame.
    respLen: dfRow.respLen === 0 ? 0 : r.responseLength,
    traceId: r.traceId,
    spanId: r.spanId,
  };
}

for (const name of Object.keys(df)) {
  test(`DeepFlow ${name}.pcap: rows, statuses, reply codes, round-trip times and trace ids as DeepFlow`, async () => {
    const { records } = await runCapture(join(FLOWGEN, `amqp/${name}.pcap`), { registry: registry() });
    const want = deepflowRows(df[name]);
    assert.equal(records.length, want.length);
    const key = (x: Row) => `${x.type}|${x.endpoint}|${x.duration}`;
    const byKey = new Map<string, Row[]>();
    for (const w of want) byKey.set(key(w), [...(byKey.get(key(w)) ?? []), w]);
    for (const r of records) {
      const cands = byKey.get(`${r.requestType}|${r.endpoint}|${r.duration}`);
      assert.ok(cands && cands.length > 0, `no DeepFlow row for ${r.requestType} ${r.endpoint} ${r.duration}`);
      const w = cands.shift()!;
      assert.deepEqual(flowscopeRow(r, w), w);
    }
  });
}

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

test('amqp sample: a segment lost inside a 5000-byte message body: that row is kept, every row before and after is unchanged', async () => {
  const packets = await readPackets(PCAP);
  const whole = runPackets(packets, { registry: registry() }).records;
  const at = packetStarting(packets, 'BBBBBBBB');
  assert.ok(at > 0, 'a segment in the middle of the body');
  const lost = runPackets(packets.filter((_, i) => i !== at), { registry: registry() });
  assert.ok(lost.engine.stats.gaps >= 1, 'the loss is seen');
  assert.equal(lost.records.length, whole.length);
  assert.deepEqual(lost.records.map(essentials), whole.map(essentials));
});

test('amqp: methods sent with no-wait are rows of their own (no -Ok comes), the others still pair', async () => {
  const { AmqpParser } = await import('../src/engine/l7/amqp');
  const { Pairer } = await import('../src/engine/l7/pairing');
  const sstr = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);
  const method = (ch: number, cls: number, m: number, args: Buffer) => {
    const p = Buffer.concat([Buffer.from([cls >> 8, cls & 255, m >> 8, m & 255]), args]);
    const h = Buffer.alloc(7);
    h[0] = 1;
    h.writeUInt16BE(ch, 1);
    h.writeUInt32BE(p.length, 3);
    return Buffer.concat([h, p, Buffer.from([0xce])]);
  };
  const short0 = Buffer.from([0, 0]);
  const table0 = Buffer.from([0, 0, 0, 0]);
  const client = Buffer.concat([
    Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'),
    method(1, 50, 10, Buffer.concat([short0, sstr('q1'), Buffer.from([0x10]), table0])), // Queue.Declare no-wait
    method(1, 40, 10, Buffer.concat([short0, sstr('ex'), sstr('fanout'), Buffer.from([0x10]), table0])), // Exchange.Declare no-wait
    method(1, 50, 20, Buffer.concat([short0, sstr('q1'), sstr('ex'), sstr('rk'), Buffer.from([0x01]), table0])), // Queue.Bind no-wait
    method(1, 60, 20, Buffer.concat([short0, sstr('q1'), sstr('tag'), Buffer.from([0x08]), table0])), // Basic.Consume no-wait
    method(1, 50, 10, Buffer.concat([short0, sstr('q2'), Buffer.from([0x00]), table0])), // Queue.Declare, waits
  ]);
  const server = method(1, 50, 11, Buffer.concat([sstr('q2'), Buffer.alloc(8)])); // Queue.DeclareOk q2
  const rows: [string | null, boolean, string][] = [];
  const pairer = new Pairer(true, 120e6, (x, status) => rows.push([x.req?.requestType ?? null, x.resp !== null, status ?? (x.resp ?? x.req!).responseStatus]));
  const sink = { begin: (m: L7Message) => pairer.begin(m), end: () => pairer.end() };
  const p = new AmqpParser(sink);
  p.data(0, client, 0, client.length, 1000, 10);
  p.data(1, server, 0, server.length, 5000, 20);
  p.finish(30);
  pairer.flush();
  assert.deepEqual(rows, [
    ['Queue.Declare', false, 'ok'],
    ['Exchange.Declare', false, 'ok'],
    ['Queue.Bind', false, 'ok'],
    ['Basic.Consume', false, 'ok'],
    ['Queue.Declare', true, 'ok'],
  ]);
});

test('amqp sample: a capture that starts mid-connection (first 40 % of packets gone): later rows of the connection (vhost is only known from Connection.Open, not compared) are found as in the whole capture', async () => {
  const packets = await readPackets(PCAP);
  const whole = runPackets(packets, { registry: registry() }).records;
  const cut = Math.floor(packets.length * 0.4);
  const part = runPackets(packets.slice(cut), { registry: registry() }).records;
  const after = packets[cut + 4].tsUs;
  const expected = whole.filter((r) => r.startTime > after);
  assert.ok(expected.length >= 5, `rows after the cut: ${expected.length}`);
  for (const w of expected) {
    const r = part.find((x) => x.reqTcpSeq === w.reqTcpSeq && x.requestType === w.requestType);
    assert.ok(r, `${w.requestType} ${w.requestResource} after the cut`);
    assert.deepEqual(essentials(r), essentials(w));
  }
});
