// Seeded fuzzing of the AMQP module with mutated real payloads (the RabbitMQ sample, DeepFlow's error and trace captures): detect() and the
// parser never throw, always finish (time limit), end every message they begin, keep their buffers
// within 2 * 16 * 1024 bytes; the engine runs mutated packets of the same captures without a parser error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket } from '../src/engine/decode/packet';
import { AMQP, AmqpParser } from '../src/engine/l7/amqp';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { Transport, type Dir, type L7Message, type MessageSink } from '../src/engine/l7/types';
import { FLOWGEN, SAMPLES, readPackets, rng, runPackets, type RawPacket } from './l7-helpers';

const PCAPS = [join(SAMPLES, 'l7/amqp/amqp.pcap'), join(FLOWGEN, 'amqp/amqp-error.pcap'), join(FLOWGEN, 'amqp/amqp3.pcap')];
const PORT = [5672];
const BOUND = 2 * 16 * 1024;
const TOKENS = ['\xce', 'AMQP\x00\x00\x09\x01', '\x01\x00\x01\xff\xff\xff\xff', '\x02\x00\x01\x00\x00\x00\x0e\x00\x3c', '\x03\x00\x01', '\x08\x00\x00\x00\x00\x00\x00\xce', '\x00\x14\x00\x28\x01\x94', 'S\xff\xff\xff\xff', 'F\x00\x00\x10\x00'];

const decoder = new Decoder();
const pkt = new DecodedPacket();
/** Per capture: the bytes sent to the server and to the client, in capture order. */
const streams: [Buffer, Buffer][] = [];
const raws: RawPacket[][] = [];
for (const path of PCAPS) {
  const packets = await readPackets(path);
  raws.push(packets);
  const up: Buffer[] = [];
  const down: Buffer[] = [];
  for (const raw of packets) {
    if (decoder.decode(raw.data, 0, raw.data.length, raw.data.length, raw.linkType, raw.tsUs, pkt) !== DecodeStatus.Ok) continue;
    if (pkt.capturedPayloadLen === 0 || pkt.protocol !== 6) continue;
    const data = Buffer.from(pkt.buf.subarray(pkt.payloadOffset, pkt.payloadOffset + pkt.capturedPayloadLen));
    (PORT.includes(pkt.dstPort) ? up : down).push(data);
  }
  streams.push([Buffer.concat(up), Buffer.concat(down)]);
}

function mutate(src: Buffer, rand: () => number): Buffer {
  let b = Buffer.from(src);
  const ops = 1 + Math.floor(rand() * 6);
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(rand() * (b.length + 1));
    switch (Math.floor(rand() * 6)) {
      case 0:
        for (let j = 0; j < 1 + rand() * 8 && b.length > 0; j++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), Buffer.from(TOKENS[Math.floor(rand() * TOKENS.length)], 'latin1'), b.subarray(at)]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + Math.floor(rand() * 64))]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + Math.floor(rand() * 200)), b.subarray(at)]);
        break;
      case 4:
        b = b.subarray(0, Math.max(at, b.length >> 1));
        break;
      default:
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: Math.floor(rand() * 32) }, () => Math.floor(rand() * 256))), b.subarray(at)]);
    }
  }
  return b;
}

class CountingSink implements MessageSink {
  begun = 0;
  open = new Set<L7Message>();
  begin(m: L7Message): void {
    assert.ok(!this.open.has(m), 'a message begins once');
    this.begun++;
    this.open.add(m);
  }
  end(m: L7Message): void {
    assert.ok(this.open.has(m), 'only a begun message ends');
    assert.equal(m.ended, true);
    this.open.delete(m);
    if (m.length !== null) assert.ok(m.length >= 0 && Number.isFinite(m.length), `length ${m.length}`);
    if (m.responseCode !== null) assert.ok(Number.isFinite(m.responseCode));
    assert.ok(m.endTs >= m.startTs);
  }
}

const ITER = 3000;

test('fuzz: AMQP detect and parser on mutated real streams (pieces, gaps, both directions)', { timeout: 180_000 }, () => {
  let messages = 0;
  for (let i = 0; i < ITER; i++) {
    const rand = rng(23000 + i);
    const [up, down] = streams[i % streams.length];
    const a = mutate(up, rand);
    const b = mutate(down, rand);
    const ctx = { transport: Transport.Tcp, fromClient: true, srcPort: 40000, dstPort: rand() < 0.5 ? PORT[0] : 9999 };
    for (let k = 0; k < 4; k++) {
      const src = k % 2 === 0 ? a : b;
      const off = Math.floor(rand() * src.length);
      const c = AMQP.detect(src, off, Math.floor(rand() * (src.length - off + 1)), ctx);
      assert.ok(c >= 0 && c <= 100);
    }
    const sink = new CountingSink();
    const p = new AmqpParser(sink);
    const seqs = [Math.floor(rand() * 2 ** 32), Math.floor(rand() * 2 ** 32)];
    const at = [0, 0];
    const bufs = [a, b];
    // Interleave the directions in random pieces, with random gaps, as a capture would.
    while (at[0] < a.length || at[1] < b.length) {
      const d = (at[0] >= a.length ? 1 : at[1] >= b.length ? 0 : rand() < 0.5 ? 0 : 1) as Dir;
      const n = Math.min(bufs[d].length - at[d], 1 + Math.floor(rand() * 600));
      if (rand() < 0.03) p.gap(d, seqs[d], n, at[d]);
      else p.data(d, bufs[d], at[d], n, seqs[d], at[d]);
      seqs[d] = (seqs[d] + n) >>> 0;
      at[d] += n;
      assert.ok(p.bufferedBytes <= BOUND, `buffered ${p.bufferedBytes}`);
    }
    if (rand() < 0.5) p.close(0, 1e9);
    p.finish(1e9);
    assert.equal(sink.open.size, 0, 'every begun message ended');
    messages += sink.begun;
  }
  assert.ok(messages > ITER * 4, `the mutations still reach the parser (${messages} messages)`);
});

test('fuzz: the engine with AMQP on its captures with mutated payloads and sequence numbers', { timeout: 180_000 }, () => {
  const d = new Decoder();
  const p = new DecodedPacket();
  const STATUSES = new Set(['ok', 'client_error', 'server_error', 'timeout', 'unknown']);
  let rows = 0;
  for (let seed = 1; seed <= 120; seed++) {
    const rand = rng(23000 * 7 + seed);
    const mutated: RawPacket[] = raws[seed % raws.length].map((raw) => {
      if (rand() > 0.3 || d.decode(raw.data, 0, raw.data.length, raw.data.length, raw.linkType, raw.tsUs, p) !== DecodeStatus.Ok) return raw;
      const data = Buffer.from(raw.data);
      const pay = p.payloadOffset;
      for (let k = 0; k < 1 + rand() * 6; k++) {
        const at = pay + Math.floor(rand() * Math.max(1, data.length - pay));
        if (at < data.length) data[at] = Math.floor(rand() * 256);
      }
      if (p.protocol === 6 && rand() < 0.1) data.writeUInt32BE(Math.floor(rand() * 2 ** 32), p.l4Offset + 4);
      return { ...raw, data };
    });
    const { records, engine } = runPackets(mutated, { registry: new ProtocolRegistry([...BUILTIN_PROTOCOLS, AMQP]), maxBufferedPerDirection: 8192 });
    assert.equal(engine.stats.parserErrors, 0, String(engine.stats.lastParserError));
    for (const r of records) {
      assert.ok(STATUSES.has(r.responseStatus));
      assert.ok(r.duration === null || r.duration >= 0);
      assert.ok(r.endTime >= r.startTime);
      assert.ok(r.requestLength === null || r.requestLength >= 0);
      assert.ok(r.responseLength === null || r.responseLength >= 0);
    }
    rows += records.length;
  }
  assert.ok(rows > 120, `rows still come out (${rows})`);
});
