// MongoDB: Debian has no MongoDB server, so samples/l7/mongo/generate.py crafts a conversation in the
// wire format (OP_MSG body + document sequences, write errors, ok: 0, an answer beyond the capture
// limit, requests split over segments, answers out of order, moreToCome; legacy OP_QUERY / OP_REPLY
// with QueryFailure, OP_INSERT, OP_GET_MORE, OP_KILL_CURSORS). tshark's mongo dissector checks the
// crafted messages and Flowscope's pairing; DeepFlow's two real captures check against its results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MONGO } from '../src/engine/l7/mongo';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import type { RequestRecord } from '../src/shared/records';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket } from '../src/engine/decode/packet';
import { FLOWGEN, SAMPLES, readPackets, runCapture, runPackets, tsharkFields, type RawPacket } from './l7-helpers';

const PCAP = join(SAMPLES, 'l7/mongo/mongo.pcap');
const registry = () => new ProtocolRegistry([...BUILTIN_PROTOCOLS, MONGO]);

interface Truth {
  client_port: number;
  type: string;
  db: string | null;
  collection: string | null;
  status: string;
  code: number | null;
  exception: string | null;
  result: string | null;
  request_length: number;
  response_length: number | null;
  note: string;
}
const truth = (JSON.parse(readFileSync(join(SAMPLES, 'l7/mongo/mongo.truth.json'), 'utf8')) as { requests: Truth[] }).requests;

test('mongo sample: every request is one row with its command, database, collection and answer', async () => {
  const { records, protocols } = await runCapture(PCAP, { registry: registry() });
  assert.deepEqual([...protocols.values()], ['mongodb', 'mongodb']);
  assert.equal(records.length, truth.length);
  const left = [...records];
  for (const t of truth) {
    const where = `${t.type} ${t.collection ?? ''} ${t.note}`;
    const i = left.findIndex((r) => r.clientPort === t.client_port && r.requestType === t.type && r.requestResource === t.collection && r.requestLength === t.request_length);
    assert.ok(i >= 0, `row for ${where}`);
    const r = left.splice(i, 1)[0];
    assert.equal(r.l7Protocol, 'mongodb');
    assert.equal(r.requestDomain, t.db, where);
    assert.equal(r.endpoint, t.collection !== null ? `${t.type} ${t.collection}` : t.type === 'killCursors' ? null : t.type, where);
    assert.equal(r.responseLength, t.response_length, where);
    assert.equal(r.responseStatus, t.status, where);
    assert.equal(r.responseCode, t.code, where);
    assert.equal(r.responseException, t.exception, where);
    assert.equal(r.responseResult, t.result, where);
    assert.equal(r.duration === null, t.response_length === null, `${where}: one-way iff unanswered by design`);
  }
  assert.equal(records.filter((r) => r.responseStatus === 'timeout').length, 0);
});

test('mongo sample: requestID / responseTo pairs and opcodes agree with tshark', async () => {
  const { records } = await runCapture(PCAP, { registry: registry() });
  const rows = tsharkFields(PCAP, ['tcp.seq_raw', 'tcp.srcport', 'mongo.opcode', 'mongo.request_id', 'mongo.response_to', 'tcp.dstport'], ['-d', 'tcp.port==27017,mongo', '-Y', 'mongo']);
  // tshark: each response_to names a request_id. A message tshark reassembled is reported at its last
  // segment, so a row is found by the sequence range it covers. The answer's row must be the request's.
  const within = (start: number | null, len: number | null, seq: number) => start !== null && len !== null && ((seq - start) >>> 0) < len;
  const byRequestId = new Map<string, (typeof records)[number]>();
  const answers: [string, (typeof records)[number]][] = [];
  let messages = 0;
  for (const [seq, sport, ops, ids, tos, dport] of rows) {
    const idList = ids.split(',');
    messages += idList.length;
    const s = Number(seq);
    // Both connections start their sequence numbers close together: match within the connection.
    const client = Number(sport === '27017' ? dport : sport);
    if (sport !== '27017') {
      const r = records.find((x) => x.clientPort === client && within(x.reqTcpSeq, x.requestLength, s));
      assert.ok(r, `a request row covers tshark's request ${ids} (${ops})`);
      if (idList.length === 1) byRequestId.set(`${sport}|${Number(idList[0])}`, r);
      continue;
    }
    const r = records.find((x) => x.clientPort === client && within(x.respTcpSeq, x.responseLength, s));
    assert.ok(r, `an answer row covers tshark's response ${ids} (${ops})`);
    answers.push([`${r.clientPort}|${Number(tos.split(',')[0])}`, r]);
  }
  assert.equal(messages, 35, 'messages tshark decodes (19 requests, 16 answers)');
  let paired = 0;
  for (const [key, r] of answers) {
    const q = byRequestId.get(key);
    if (q === undefined) continue; // the two requests sent in one segment
    assert.equal(q, r, `answer to ${key} is on its request's row`);
    paired++;
  }
  assert.equal(paired, 14, 'every answer tshark pairs, but the two requests sharing a segment');
  // The out-of-order pair: count (id 13) was answered after listCollections (id 14).
  const count = records.find((r) => r.requestType === 'count')!;
  const list = records.find((r) => r.requestType === 'listCollections')!;
  assert.ok(count.respTcpSeq! > list.respTcpSeq!);
  assert.equal(count.responseResult, 'n=1');
});

interface DfMsg {
  msg_type: 'Request' | 'Response';
  request_id: number;
  response_id: number;
  op: string;
  command: string | null;
  response_code: number;
  exception: string;
  status: string;
  rtt: number;
  captured_request_byte: number;
  captured_response_byte: number;
}
const df = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/deepflow-mongo.json'), 'utf8')) as Record<string, DfMsg[]>;
const STATUS: Record<string, string> = { Ok: 'ok', ClientError: 'client_error', ServerError: 'server_error' };

for (const name of Object.keys(df)) {
  test(`DeepFlow ${name}.pcap: commands, pairing by request id, errors and round-trip times as DeepFlow`, async () => {
    const { records } = await runCapture(join(FLOWGEN, `mongo/${name}.pcap`), { registry: registry() });
    const msgs = df[name];
    const reqs = msgs.filter((m) => m.msg_type === 'Request');
    assert.equal(records.length, reqs.length);
    for (let i = 0; i < reqs.length; i++) {
      const q = reqs[i];
      const a = msgs.find((m) => m.msg_type === 'Response' && m.request_id === q.request_id)!;
      const r = records[i];
      const where = `${name} #${i} ${q.command}`;
      // DeepFlow's request_type is the opcode (OP_QUERY, OP_MSG); Flowscope's is the command, which is the
      // first key of the document DeepFlow prints as request_resource.
      assert.equal(r.requestType, q.command, where);
      assert.equal(r.duration, a.rtt, where);
      assert.equal(r.responseStatus, STATUS[a.status], where);
      assert.equal(r.responseCode, a.response_code === 0 ? null : a.response_code, where);
      assert.equal(r.responseException, a.exception === '' ? null : a.exception, where);
      // DeepFlow counts the bytes of the packet; each message here is one packet.
      assert.equal(r.requestLength, q.captured_request_byte, where);
      assert.equal(r.responseLength, a.captured_response_byte, where);
    }
  });
}

test('DeepFlow mongo-msg.pcap: find on sky-test.query → endpoint "find query", database from $db', async () => {
  const { records } = await runCapture(join(FLOWGEN, 'mongo/mongo-msg.pcap'), { registry: registry() });
  assert.equal(records.length, 1);
  assert.equal(records[0].endpoint, 'find query');
  assert.equal(records[0].requestResource, 'query');
  assert.equal(records[0].requestDomain, 'sky-test');
});

test('BSON reader: hostile nesting and lengths cost nothing (no recursion), values are read within bounds', async () => {
  const { docEnd, find, firstKey, elString, elNumber } = await import('../src/engine/l7/bson');
  // {find: "c", deep: {a: {a: … 20 000 levels …}}, $db: "d"}, built inside out.
  let inner = Buffer.from([5, 0, 0, 0, 0]);
  for (let k = 0; k < 20000; k++) {
    const body = Buffer.concat([Buffer.from([0x03, 0x61, 0]), inner, Buffer.from([0])]);
    inner = Buffer.concat([Buffer.alloc(4), body]);
    inner.writeInt32LE(inner.length, 0);
  }
  const str = (k: string, v: string) => {
    const b = Buffer.from(v + '\0');
    const len = Buffer.alloc(4);
    len.writeInt32LE(b.length);
    return Buffer.concat([Buffer.from([0x02]), Buffer.from(k + '\0'), len, b]);
  };
  const body = Buffer.concat([str('find', 'c'), Buffer.from([0x03]), Buffer.from('deep\0'), inner, str('$db', 'd'), Buffer.from([0x10]), Buffer.from('n\0'), Buffer.from([7, 0, 0, 0]), Buffer.from([0])]);
  const doc = Buffer.concat([Buffer.alloc(4), body]);
  doc.writeInt32LE(doc.length, 0);
  assert.equal(docEnd(doc, 0, doc.length), doc.length);
  assert.equal(firstKey(doc, 0, doc.length), 'find');
  assert.equal(elString(doc), 'c');
  assert.ok(find(doc, 0, doc.length, '$db'));
  assert.equal(elString(doc), 'd');
  assert.ok(find(doc, 0, doc.length, 'n'));
  assert.equal(elNumber(doc), 7);
  // A document cut by the capture limit: what is in view is read, nothing beyond.
  assert.equal(firstKey(doc, 0, 20), 'find');
  assert.ok(!find(doc, 0, 40, '$db'));
  // Lengths that lie: negative, huge, past the buffer.
  const bad = Buffer.from(doc);
  bad.writeInt32LE(-7, 0);
  assert.equal(docEnd(bad, 0, bad.length), -1);
  bad.writeInt32LE(0x7fffffff, 0);
  assert.equal(docEnd(bad, 0, bad.length), bad.length);
  assert.equal(firstKey(bad, 0, bad.length), 'find');
  const s = Buffer.from(str('x', 'abc'));
  s.writeInt32LE(0x7ffffff0, 3);
  const d2 = Buffer.concat([Buffer.from([0, 0, 0, 0]), s, Buffer.from([0])]);
  d2.writeInt32LE(d2.length, 0);
  assert.ok(find(d2, 0, d2.length, 'x'));
  assert.ok((elString(d2) ?? '').length <= 256);
});

/** Index of the first packet whose TCP payload contains `prefix` (after skipping `skip` such packets). */
function packetStarting(packets: RawPacket[], prefix: string, skip = 0): number {
  const d = new Decoder();
  const p = new DecodedPacket();
  for (let i = 0; i < packets.length; i++) {
    const raw = packets[i];
    if (d.decode(raw.data, 0, raw.data.length, raw.data.length, raw.linkType, raw.tsUs, p) !== DecodeStatus.Ok) continue;
    if (p.capturedPayloadLen < prefix.length) continue;
    if (p.buf.toString('latin1', p.payloadOffset, p.payloadOffset + p.capturedPayloadLen).includes(prefix) && skip-- === 0) return i;
  }
  return -1;
}

const essentials = (r: RequestRecord) => [r.clientPort, r.requestType, r.requestResource, r.responseStatus, r.responseCode, r.responseResult, r.requestLength, r.responseLength];

test('mongo sample: a segment lost inside the 55 KB answer: that row is kept, every row before and after is unchanged', async () => {
  const packets = await readPackets(PCAP);
  const whole = runPackets(packets, { registry: registry() }).records;
  const at = packetStarting(packets, 'user-0', 2); // the answer's third segment
  assert.ok(at > 0, 'a segment in the middle of the body');
  const lost = runPackets(packets.filter((_, i) => i !== at), { registry: registry() });
  assert.ok(lost.engine.stats.gaps >= 1, 'the loss is seen');
  assert.equal(lost.records.length, whole.length);
  assert.deepEqual(lost.records.map(essentials), whole.map(essentials));
});

test('mongo sample: a capture that starts mid-connection (first 40 % of packets gone): later rows of both connections are found as in the whole capture', async () => {
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
