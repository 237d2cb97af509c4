// Seeded fuzz of the HTTP/2 parser and its HPACK decoder: the real sample capture with bytes mutated,
// random frame sequences (random types, flags, stream ids, lengths, HPACK-looking payloads), random
// bytes, and random splits into segments. Nothing may throw or loop; memory stays bounded (open
// streams, header block buffers, HPACK table octets); every message begun is ended.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MAX_TABLE_SIZE } from '../src/engine/l7/hpack';
import { HTTP2, Http2Parser, MAX_HEADER_BLOCK, MAX_OPEN_STREAMS } from '../src/engine/l7/http2';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { DETECT_SURE, Transport, type Dir, type L7Message, type MessageSink } from '../src/engine/l7/types';
import { SAMPLES, readPackets, rng, runPackets } from './l7-helpers';

class CountingSink implements MessageSink {
  begun = new Set<L7Message>();
  ended = 0;
  begin(m: L7Message): void {
    assert.ok(!this.begun.has(m), 'begun once');
    this.begun.add(m);
  }
  end(m: L7Message): void {
    assert.ok(this.begun.has(m) && m.ended, 'ended after begin, with ended set');
    this.ended++;
  }
}

function checkBounds(p: Http2Parser): void {
  assert.ok(p.openStreams <= MAX_OPEN_STREAMS, `open streams ${p.openStreams}`);
  assert.ok(p.bufferedBytes <= 2 * MAX_HEADER_BLOCK, `buffered ${p.bufferedBytes}`);
  for (const d of [0, 1] as Dir[]) {
    const h = p.decoder(d);
    assert.ok(h.maxSize <= MAX_TABLE_SIZE && h.size <= h.maxSize, `hpack ${h.size}/${h.maxSize}`);
  }
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([h, payload]);
}

/** Feeds `bytes` to the parser in random splits. */
function feed(p: Http2Parser, dir: Dir, bytes: Buffer, r: () => number, seq: number, ts: number): void {
  let i = 0;
  while (i < bytes.length) {
    const n = 1 + Math.floor(r() * Math.min(3000, bytes.length - i));
    p.data(dir, bytes, i, n, (seq + i) >>> 0, ts);
    i += n;
  }
}

test('http2 fuzz: the sample capture with mutated payload bytes (100 runs): no throw, bounded rows', async () => {
  const packets = await readPackets(join(SAMPLES, 'l7/http2/http2.pcap'));
  const r = rng(0x5eed2);
  let rows = 0;
  for (let run = 0; run < 100; run++) {
    const copy = packets.map((p) => ({ ...p, data: Buffer.from(p.data) }));
    const edits = 1 + Math.floor(r() * 20);
    for (let k = 0; k < edits; k++) {
      const p = copy[Math.floor(r() * copy.length)];
      if (p.data.length <= 70) continue;
      const at = 66 + Math.floor(r() * (p.data.length - 66)); // after Ethernet + IPv4 + TCP with timestamps
      p.data[at] = r() < 0.5 ? Math.floor(r() * 256) : p.data[at] ^ (1 << Math.floor(r() * 8));
    }
    const { records, engine } = runPackets(copy, { registry: new ProtocolRegistry([...BUILTIN_PROTOCOLS, HTTP2]) });
    assert.equal(engine.stats.parserErrors, 0, engine.stats.lastParserError ?? '');
    assert.ok(records.length <= 2000);
    rows += records.length;
  }
  assert.ok(rows > 100 * 40, `mutations leave most rows (${rows})`);
});

test('http2 fuzz: random frame sequences and random bytes (3000 connections): no throw, bounds held, every begin ended', () => {
  const r = rng(0xf00d);
  const rand = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
  // HPACK-looking blocks: indexed static fields, literals, size updates, random tails.
  const hpackish = (): Buffer => {
    const parts: number[] = [];
    const n = Math.floor(r() * 12);
    for (let k = 0; k < n; k++) {
      const c = r();
      if (c < 0.4) parts.push(0x80 | (1 + Math.floor(r() * 70)));
      else if (c < 0.7) {
        const v = rand(Math.floor(r() * 20));
        parts.push(0x40 | Math.floor(r() * 64), v.length, ...v);
      } else if (c < 0.8) parts.push(0x20 | Math.floor(r() * 32));
      else parts.push(...rand(1 + Math.floor(r() * 6)));
    }
    return Buffer.from(parts);
  };
  for (let run = 0; run < 3000; run++) {
    const sink = new CountingSink();
    const p = new Http2Parser(sink);
    const mode = run % 3;
    for (const dir of [0, 1] as Dir[]) {
      let bytes: Buffer;
      if (mode === 0) {
        bytes = rand(Math.floor(r() * 4000));
      } else {
        const frames: Buffer[] = dir === 0 && r() < 0.5 ? [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')] : [];
        const count = Math.floor(r() * 60);
        for (let k = 0; k < count; k++) {
          const type = Math.floor(r() * 11);
          const stream = r() < 0.1 ? 0 : r() < 0.05 ? Math.floor(r() * 2 ** 31) : 1 + 2 * Math.floor(r() * 20);
          let payload: Buffer;
          if (type === 1 || type === 9 || type === 5) payload = hpackish();
          else if (type === 3 || type === 8) payload = rand(4);
          else if (type === 7) payload = rand(8 + Math.floor(r() * 8));
          else if (type === 4) payload = rand(6 * Math.floor(r() * 4));
          else payload = rand(Math.floor(r() * 200));
          if (mode === 2 && r() < 0.1) payload = rand(Math.floor(r() * 70000)); // oversized
          frames.push(frame(type, Math.floor(r() * 256) & (r() < 0.8 ? 0x2d : 0xff), stream, payload));
        }
        bytes = Buffer.concat(frames);
      }
      feed(p, dir, bytes, r, Math.floor(r() * 2 ** 32), run);
      if (r() < 0.2) p.gap(dir, 0, Math.floor(r() * 5000), run);
      checkBounds(p);
    }
    p.finish(run + 1);
    checkBounds(p);
    assert.equal(sink.ended, sink.begun.size, 'every message begun is ended at the end of the flow');
    assert.equal(p.openStreams, 0);
  }
});

test('http2 fuzz: 5000 streams never answered keep at most MAX_OPEN_STREAMS open; a 200 KiB header block is dropped, not kept', () => {
  const sink = new CountingSink();
  const p = new Http2Parser(sink);
  const r = rng(7);
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
  feed(p, 0, Buffer.concat([preface, frame(4, 0, 0, Buffer.alloc(0))]), r, 1, 0);
  for (let k = 0; k < 5000; k++) {
    // :method GET, :scheme http, :path / ; END_HEADERS, no END_STREAM (the request stays open).
    feed(p, 0, frame(1, 0x04, 1 + 2 * k, Buffer.from([0x82, 0x86, 0x84])), r, 100 + k * 12, k);
    checkBounds(p);
  }
  assert.equal(p.openStreams, MAX_OPEN_STREAMS);
  assert.equal(sink.begun.size, 5000);
  assert.equal(sink.ended, 5000 - MAX_OPEN_STREAMS, 'the oldest are ended as they are pushed out');
  // One HEADERS of 200 KiB in CONTINUATIONs: the block buffer stays within its bound, HPACK desyncs.
  feed(p, 0, frame(1, 0x00, 20001, Buffer.alloc(60000, 0x41)), r, 1e6, 1);
  for (let k = 0; k < 3; k++) feed(p, 0, frame(9, k === 2 ? 0x04 : 0, 20001, Buffer.alloc(50000, 0x41)), r, 2e6 + k * 60000, 2);
  checkBounds(p);
  assert.ok(p.bufferedBytes <= MAX_HEADER_BLOCK);
  p.finish(10);
  assert.equal(sink.ended, sink.begun.size);
});

test('http2 detect: sure of the preface and of chained frames; not of HTTP/1, TLS or random bytes', () => {
  const ctx = { transport: Transport.Tcp, fromClient: true, srcPort: 40000, dstPort: 8080 };
  const d = (b: Buffer): number => HTTP2.detect(b, 0, b.length, ctx);
  assert.ok(d(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')) >= DETECT_SURE);
  assert.ok(d(Buffer.concat([frame(4, 0, 0, Buffer.alloc(6)), frame(1, 0x05, 1, Buffer.from([0x82, 0x86, 0x84]))])) >= DETECT_SURE);
  assert.equal(d(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), 0);
  assert.equal(d(Buffer.from('160301020001000200030300000000000000000000000000', 'hex')), 0);
  const r = rng(99);
  let sure = 0;
  for (let k = 0; k < 20000; k++) {
    const b = Buffer.from(Array.from({ length: 9 + Math.floor(r() * 200) }, () => Math.floor(r() * 256)));
    if (d(b) >= DETECT_SURE) sure++;
  }
  assert.ok(sure <= 2, `random payloads taken for HTTP/2: ${sure} of 20000`);
});
