// Memcached: a real memcached (samples/l7/memcached, text and binary protocol, hits, misses, errors,
// noreply, pipelining, values spanning segments, quiet binary gets) against the client's truth and
// tshark's memcache dissector; DeepFlow's two captures against its parser's results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MEMCACHED } from '../src/engine/l7/memcached';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import type { RequestRecord } from '../src/shared/records';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket } from '../src/engine/decode/packet';
import { FLOWGEN, SAMPLES, readPackets, runCapture, runPackets, tsharkFields, type RawPacket } from './l7-helpers';

const PCAP = join(SAMPLES, 'l7/memcached/memcached.pcap');
const registry = () => new ProtocolRegistry([...BUILTIN_PROTOCOLS, MEMCACHED]);

interface Truth {
  proto: 'text' | 'binary';
  client_port: number;
  command: string | null;
  line?: string | null;
  key?: string;
  opaque?: number;
  request_length?: number;
  response_line?: string;
  response_length?: number | null;
  status?: number | null;
  noreply?: boolean;
  note: string;
}
const truth = (JSON.parse(readFileSync(join(SAMPLES, 'l7/memcached/memcached.truth.json'), 'utf8')) as { requests: Truth[] }).requests;

function textStatus(line: string): string {
  if (line.startsWith('SERVER_ERROR')) return 'server_error';
  if (line.startsWith('ERROR') || line.startsWith('CLIENT_ERROR')) return 'client_error';
  return 'ok';
}

test('memcached sample: every request of the client is one row, in order, with its answer', async () => {
  const { records, protocols } = await runCapture(PCAP, { registry: registry() });
  assert.deepEqual([...protocols.values()], ['memcached', 'memcached']);
  assert.equal(records.length, truth.length, 'one row per request the client made');
  const text = records.filter((r) => r.version === 'text');
  const tText = truth.filter((t) => t.proto === 'text');
  assert.equal(text.length, tText.length);
  for (let i = 0; i < tText.length; i++) {
    const t = tText[i];
    const r = text[i];
    const where = `text #${i} ${t.line ?? t.note}`;
    assert.equal(r.l7Protocol, 'memcached');
    assert.equal(r.serverPort, 11211, where);
    assert.equal(r.clientPort, t.client_port, where);
    if (t.line === null) {
      // The bytes memcached read past a bad data chunk: it took them for a command ("ong") and said ERROR.
      assert.equal(r.requestType, 'ong', where);
      assert.equal(r.responseResult, t.response_line, where);
      assert.equal(r.responseStatus, 'client_error', where);
      continue;
    }
    assert.equal(r.requestType, t.command, where);
    assert.equal(r.endpoint, t.command, where);
    assert.equal(r.requestResource, t.line, where);
    if (t.noreply) {
      // noreply / quit: nothing comes back; a row of its own, not a timeout.
      assert.equal(r.responseStatus, 'ok', where);
      assert.equal(r.responseResult, null, where);
      assert.equal(r.duration, null, where);
      assert.equal(r.requestLength, t.request_length, where);
      continue;
    }
    assert.equal(r.responseResult, t.response_line, where);
    assert.equal(r.responseStatus, textStatus(t.response_line!), where);
    assert.equal(r.responseLength, t.response_length, where);
    if (t.note !== 'client error: bad data chunk') assert.equal(r.requestLength, t.request_length, where);
    // The bad chunk: memcached (and Flowscope) take the declared 2 bytes + CRLF as the block.
    else assert.equal(r.requestLength, 'set bad 0 0 2\r\n'.length + 4, where);
    assert.ok(r.duration! >= 0, where);
  }
  // The numbers a user sees: statuses by class.
  const count = (s: string) => text.filter((r) => r.responseStatus === s).length;
  assert.equal(count('client_error'), 4); // incr non-numeric, bogus command, bad chunk, its leftover
  assert.equal(count('server_error'), 1); // value larger than -I
  assert.equal(count('timeout') + count('unknown'), 0);
});

test('memcached sample: binary protocol pairs by opaque; quiet gets that stay silent end ok at the next answer', async () => {
  const { records } = await runCapture(PCAP, { registry: registry() });
  const bin = records.filter((r) => r.version === 'binary');
  const tBin = truth.filter((t) => t.proto === 'binary');
  assert.equal(bin.length, tBin.length);
  for (const t of tBin) {
    // Rows leave in the order their answers complete: find each request by its key and command.
    const r = bin.find((x) => x.requestType === (t.command === 'get' && t.note.includes('unknown') ? 'op_0x50' : t.command) && (x.requestResource ?? '') === t.key);
    assert.ok(r, `binary ${t.command} ${t.key}`);
    assert.equal(r.requestLength, t.request_length, `${t.command} ${t.key}`);
    assert.equal(r.responseCode, t.status, `${t.command} ${t.key}`);
    assert.equal(r.responseLength, t.response_length, `${t.command} ${t.key}`);
    const expected = t.status === null ? 'ok' : t.status === 0x81 || t.status === 6 ? 'client_error' : 'ok';
    assert.equal(r.responseStatus, expected, `${t.command} ${t.key}`);
  }
  const quietMiss = bin.find((r) => r.requestResource === 'nokey-q')!;
  assert.equal(quietMiss.responseResult, 'quiet: no answer');
  assert.equal(quietMiss.respTcpSeq, null, 'no answer was on the wire');
});

const OPCODES: Record<string, number> = { get: 0, set: 1, add: 2, delete: 4, incr: 5, getq: 9, noop: 10, version: 11, getk: 12, op_0x50: 0x50 };

test('memcached sample: requests and answers agree with tshark (command, key, sequence numbers)', async () => {
  const { records } = await runCapture(PCAP, { registry: registry() });
  const rows = tsharkFields(PCAP, ['tcp.seq_raw', 'tcp.dstport', 'memcache.command', 'memcache.key', 'memcache.response', 'memcache.opcode', 'memcache.magic', 'memcache.status'], ['-Y', 'memcache']);
  const bySeq = new Map<number, RequestRecord>();
  for (const r of records) if (r.reqTcpSeq !== null) bySeq.set(r.reqTcpSeq, r);
  let textReq = 0;
  let binReq = 0;
  let binResp = 0;
  for (const [seq, dport, command, key, , opcode, magic, status] of rows) {
    if (Number(dport) !== 11211) {
      if (magic === '129') {
        // Binary answer: a row with this response sequence number has tshark's status.
        const r = records.find((x) => x.respTcpSeq === Number(seq));
        assert.ok(r, `binary answer at seq ${seq}`);
        assert.equal(r.responseCode, Number(status));
        binResp++;
      }
      continue;
    }
    // tshark reports a message it reassembled at its last segment: find the row covering that byte.
    const r = bySeq.get(Number(seq)) ?? records.find((x) => x.reqTcpSeq !== null && ((Number(seq) - x.reqTcpSeq) >>> 0) < x.requestLength!);
    if (command) {
      // tshark decodes the first command of a segment; the row starting at that byte is it.
      assert.ok(r, `text command ${command} at seq ${seq}`);
      assert.equal(r.requestType, command);
      if (key) assert.ok(r.requestResource!.includes(key.split(',')[0]), `${command} ${key}`);
      textReq++;
    } else if (magic === '128') {
      assert.ok(r, `binary request at seq ${seq}`);
      assert.equal(OPCODES[r.requestType!], Number(opcode), `binary request at seq ${seq}`);
      if (key) assert.equal(r.requestResource, key);
      binReq++;
    }
  }
  assert.ok(textReq >= 25, `tshark text commands checked: ${textReq}`);
  assert.equal(binReq, 13);
  assert.equal(binResp, 12, 'the quiet miss has no answer');
});

interface DfFile {
  requests: number;
  responses: number;
  rows: number;
  digest: string;
  first: [string | null, number | null, string | null, string | null, number | null][];
}
const df = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/deepflow-memcached.json'), 'utf8')) as Record<string, DfFile>;

/** A Flowscope row in DeepFlow's terms: [request line, size, first answer line, error, size]. */
function asDeepflow(r: RequestRecord): [string | null, string | null, string | null] {
  const result = r.responseResult;
  // DeepFlow keeps only the first word after ERROR / CLIENT_ERROR / SERVER_ERROR as the error message.
  const err = r.responseException !== null ? r.responseException.split(' ')[0] : null;
  return [r.requestResource, result, err];
}

test('DeepFlow memcached.pcap: the rows DeepFlow pairs, plus the quit it cannot parse', async () => {
  const { records } = await runCapture(join(FLOWGEN, 'memcached/memcached.pcap'), { registry: registry() });
  const exp = df.memcached;
  // DeepFlow parses per packet: `set foo 0 0 3` and its data `bar` came in two packets, so it reports
  // 15 request bytes and fails on `bar`; Flowscope follows the data block (15 + 5 bytes).
  assert.equal(records.length, exp.rows + 1, 'plus quit, which DeepFlow does not handle');
  for (let i = 0; i < exp.rows; i++) {
    const [req, , result, err, resSize] = exp.first[i];
    assert.deepEqual(asDeepflow(records[i]), [req, result, err]);
    assert.equal(records[i].responseLength, resSize);
  }
  assert.equal(records[0].requestLength, 15 + 'bar\r\n'.length);
  assert.equal(records[1].requestLength, exp.first[1][1]);
  assert.equal(records[0].duration, 2197111, 'DeepFlow rtt (µs)');
  assert.equal(records[2].requestType, 'quit');
});

test('DeepFlow memcached-userdata.pcap: 10154 requests paired as DeepFlow pairs them (digest of every row)', async () => {
  const { records } = await runCapture(join(FLOWGEN, 'memcached/memcached-userdata.pcap'), { registry: registry() });
  const exp = df['memcached-userdata'];
  assert.equal(records.length, exp.rows);
  // DeepFlow counts the captured bytes of the packet; for a message in one packet that is its size.
  const rows = records.map((r) => {
    const [req, result, err] = asDeepflow(r);
    return [req, r.requestLength, result, err, r.responseLength];
  });
  for (let i = 0; i < exp.first.length; i++) assert.deepEqual(rows[i], exp.first[i], `row ${i}`);
  const digest = createHash('sha256')
    .update(rows.map((r) => JSON.stringify(r)).join('\n'))
    .digest('hex');
  assert.equal(digest, exp.digest, 'every row equals DeepFlow (request, sizes, result)');
  // The last request has no answer in the capture: DeepFlow leaves it alone, Flowscope says timeout.
  assert.equal(records.at(-1)!.responseStatus, 'timeout');
  assert.equal(records.filter((r) => r.responseStatus === 'ok').length, exp.responses);
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

test('memcached sample: a segment lost inside a 3000-byte value: that row is kept, every row before and after is unchanged', async () => {
  const packets = await readPackets(PCAP);
  const whole = runPackets(packets, { registry: registry() }).records;
  const at = packetStarting(packets, 'BBBBBBBB');
  assert.ok(at > 0, 'a segment in the middle of the body');
  const lost = runPackets(packets.filter((_, i) => i !== at), { registry: registry() });
  assert.ok(lost.engine.stats.gaps >= 1, 'the loss is seen');
  assert.equal(lost.records.length, whole.length);
  assert.deepEqual(lost.records.map(essentials), whole.map(essentials));
});

test('memcached sample: a capture that starts mid-connection (first 40 % of packets gone): later rows of the text and binary connections are found as in the whole capture', async () => {
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
