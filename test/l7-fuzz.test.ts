// Seeded fuzzing of every L7 parser with mutated real payloads (the samples' HTTP streams and DNS
// messages, DeepFlow's chunked response and DNS-over-TCP stream): detect() and the parsers never throw,
// always finish (the test has a time limit), end every message they begin, and keep their buffers within
// the documented bounds. The whole engine gets mutated packets too, and the reassembler random segments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket } from '../src/engine/decode/packet';
import { DNS, DnsParser } from '../src/engine/l7/dns';
import { HTTP1, Http1Parser, MAX_LINE, MAX_PENDING_METHODS } from '../src/engine/l7/http1';
import { TcpReassembler } from '../src/engine/l7/reassembly';
import { Transport, type Dir, type L7Message, type MessageSink } from '../src/engine/l7/types';
import { FLOWGEN, SAMPLES, readPackets, rng, runPackets, type RawPacket } from './l7-helpers';

const decoder = new Decoder();

interface Payload {
  sport: number;
  dport: number;
  proto: number;
  data: Buffer;
}
async function payloads(path: string): Promise<Payload[]> {
  const p = new DecodedPacket();
  const out: Payload[] = [];
  for (const raw of await readPackets(path)) {
    if (decoder.decode(raw.data, 0, raw.data.length, raw.data.length, raw.linkType, raw.tsUs, p) !== DecodeStatus.Ok) continue;
    if (p.capturedPayloadLen === 0) continue;
    out.push({ sport: p.srcPort, dport: p.dstPort, proto: p.protocol, data: Buffer.from(p.buf.subarray(p.payloadOffset, p.payloadOffset + p.capturedPayloadLen)) });
  }
  return out;
}

// Corpus: HTTP request and response streams of one keep-alive connection (5 requests), a pipelined one,
// DeepFlow's chunked response, DNS datagrams, a DNS-over-TCP stream.
const veth = (await payloads(join(SAMPLES, 'k8s-node1.pcapng'))).filter((x) => x.proto === 6 || x.proto === 17);
const http = veth.filter((x) => x.sport === 80 || x.dport === 80);
const toServer = Buffer.concat(http.filter((x) => x.dport === 80).map((x) => x.data));
const toClient = Buffer.concat(http.filter((x) => x.sport === 80).map((x) => x.data));
const chunked = (await payloads(join(FLOWGEN, 'http/client-ip.pcap'))).map((x) => x.data);
const dnsUdp = [
  ...veth.filter((x) => x.proto === 17 && (x.sport === 53 || x.dport === 53)).map((x) => x.data),
  ...(await payloads(join(FLOWGEN, 'dns/a-and-ns.pcap'))).map((x) => x.data),
  ...(await payloads(join(FLOWGEN, 'dns/not-handled-qtype.pcap'))).map((x) => x.data.subarray(2)),
];
const dnsTcp = (await payloads(join(FLOWGEN, 'dns/dns-tcp-multi.pcap'))).map((x) => x.data);
const TOKENS = ['\r\n', '\r\n\r\n', ' ', ':', '0', 'HTTP/1.1 ', 'GET / HTTP/1.1\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 99999999\r\n', 'ffffffff\r\n', '\xc0\x0c', '\x00'];

function mutate(src: Buffer, rand: () => number): Buffer {
  let b = Buffer.from(src);
  const ops = 1 + Math.floor(rand() * 6);
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(rand() * (b.length + 1));
    switch (Math.floor(rand() * 6)) {
      case 0: // flip bytes
        for (let j = 0; j < 1 + rand() * 8 && b.length > 0; j++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        break;
      case 1: // insert a token that steers the parser
        b = Buffer.concat([b.subarray(0, at), Buffer.from(TOKENS[Math.floor(rand() * TOKENS.length)], 'latin1'), b.subarray(at)]);
        break;
      case 2: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + Math.floor(rand() * 64))]);
        break;
      case 3: // duplicate a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + Math.floor(rand() * 200)), b.subarray(at)]);
        break;
      case 4: // truncate
        b = b.subarray(0, at);
        break;
      default: // random bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: Math.floor(rand() * 32) }, () => Math.floor(rand() * 256))), b.subarray(at)]);
    }
  }
  return b;
}

class CountingSink implements MessageSink {
  begun = 0;
  ended = 0;
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
    this.ended++;
    if (m.length !== null) assert.ok(m.length >= 0 && Number.isFinite(m.length));
    if (m.responseCode !== null) assert.ok(Number.isInteger(m.responseCode));
  }
}

/** Feeds a stream in random pieces with random gaps into one direction. */
function feedStream(p: Http1Parser | DnsParser, dir: Dir, b: Buffer, rand: () => number, check: () => void): void {
  let seq = Math.floor(rand() * 2 ** 32);
  for (let at = 0; at < b.length; ) {
    const n = Math.min(b.length - at, 1 + Math.floor(rand() * 400));
    if (rand() < 0.05) p.gap(dir, seq, n, 0);
    else p.data(dir, b, at, n, seq, 0);
    seq = (seq + n) >>> 0;
    at += n;
    check();
  }
}

const ITER = 10_000;

test('fuzz: HTTP/1 detect and parser on mutated real streams', { timeout: 120_000 }, () => {
  const ctx = { transport: Transport.Tcp, fromClient: true, srcPort: 40000, dstPort: 80 };
  let messages = 0;
  for (let i = 0; i < ITER; i++) {
    const rand = rng(1000 + i);
    const req = mutate(toServer, rand);
    const resp = mutate(i % 3 === 0 ? Buffer.concat(chunked.slice(1)) : toClient, rand);
    for (let k = 0; k < 4; k++) {
      const c = HTTP1.detect(req, Math.floor(rand() * req.length), Math.floor(rand() * req.length), ctx);
      assert.ok(c >= 0 && c <= 100);
    }
    const sink = new CountingSink();
    const p = new Http1Parser(sink);
    const check = () => {
      assert.ok(p.bufferedBytes <= 2 * MAX_LINE, `buffered ${p.bufferedBytes}`);
      assert.ok(p.pendingMethods <= MAX_PENDING_METHODS);
    };
    // Interleave the directions in random order, as a capture would.
    if (rand() < 0.5) {
      feedStream(p, 0, req, rand, check);
      feedStream(p, 1, resp, rand, check);
    } else {
      feedStream(p, 1, resp, rand, check);
      feedStream(p, 0, req, rand, check);
    }
    if (rand() < 0.5) p.close(1, 0);
    p.finish(0);
    assert.equal(sink.open.size, 0, 'every begun message ended');
    assert.equal(sink.begun, sink.ended);
    messages += sink.begun;
  }
  assert.ok(messages > ITER * 4, `the mutations still reach the parser (${messages} messages)`);
});

test('fuzz: DNS detect and parser on mutated real messages (UDP and TCP)', { timeout: 120_000 }, () => {
  let messages = 0;
  for (let i = 0; i < ITER; i++) {
    const rand = rng(5000 + i);
    const sink = new CountingSink();
    const p = new DnsParser(sink);
    for (const t of [Transport.Udp, Transport.Tcp]) {
      const ctx = { transport: t, fromClient: true, srcPort: 40000, dstPort: rand() < 0.5 ? 53 : 4000 };
      const src = t === Transport.Udp ? dnsUdp[i % dnsUdp.length] : dnsTcp[i % dnsTcp.length];
      const b = mutate(src, rand);
      const c = DNS.detect(b, 0, b.length, ctx);
      assert.ok(c >= 0 && c <= 100);
    }
    const dgram = mutate(dnsUdp[i % dnsUdp.length], rand);
    p.datagram(0, dgram, 0, Math.min(dgram.length, Math.floor(rand() * 600)), 0);
    const stream = mutate(Buffer.concat(dnsTcp), rand);
    feedStream(p, (i % 2) as Dir, stream, rand, () => assert.ok(p.bufferedBytes <= 2 * 65536));
    p.finish();
    assert.equal(sink.open.size, 0);
    messages += sink.begun;
  }
  assert.ok(messages > ITER / 2, `the mutations still reach the parser (${messages} messages)`);
});

test('fuzz: the engine on real packets with mutated payloads and sequence numbers', { timeout: 120_000 }, async () => {
  const raws = (await readPackets(join(SAMPLES, 'k8s-node1.pcapng'))).filter((r) => r.ifIndex === 4);
  const d = new Decoder();
  const p = new DecodedPacket();
  const STATUSES = new Set(['ok', 'client_error', 'server_error', 'timeout', 'unknown']);
  for (let seed = 1; seed <= 200; seed++) {
    const rand = rng(seed);
    const mutated: RawPacket[] = raws.map((raw) => {
      if (rand() > 0.3 || d.decode(raw.data, 0, raw.data.length, raw.data.length, raw.linkType, raw.tsUs, p) !== DecodeStatus.Ok) return raw;
      const data = Buffer.from(raw.data);
      const pay = p.payloadOffset;
      for (let k = 0; k < 1 + rand() * 6; k++) {
        const at = pay + Math.floor(rand() * Math.max(1, data.length - pay));
        if (at < data.length) data[at] = Math.floor(rand() * 256);
      }
      if (p.protocol === 6 && rand() < 0.2) data.writeUInt32BE(Math.floor(rand() * 2 ** 32), p.l4Offset + 4); // sequence number
      return { ...raw, data };
    });
    const { records, engine } = runPackets(mutated, { maxBufferedPerDirection: 8192 });
    assert.equal(engine.stats.parserErrors, 0);
    for (const r of records) {
      assert.ok(STATUSES.has(r.responseStatus));
      assert.ok(r.duration === null || r.duration >= 0);
      assert.ok(r.endTime >= r.startTime);
      assert.ok(r.requestLength === null || r.requestLength >= 0);
      assert.ok(r.responseLength === null || r.responseLength >= 0);
    }
  }
});

test('fuzz: the reassembler on random segments, ACKs and FINs stays within its bound and accounts every byte', { timeout: 60_000 }, () => {
  for (let seed = 1; seed <= 300; seed++) {
    const rand = rng(seed);
    const max = 1 + Math.floor(rand() * 20000);
    let delivered = 0;
    let gaps = 0;
    const r = new TcpReassembler(
      {
        onData: (_b, _o, len) => (delivered += len),
        onGap: (_s, len) => (gaps += len),
        onFin: () => {},
      },
      max,
    );
    const base = Math.floor(rand() * 2 ** 32);
    if (rand() < 0.5) r.syn((base - 1) >>> 0);
    const start = r.started ? r.nextSeq : -1;
    const data = Buffer.alloc(3000, 7);
    for (let k = 0; k < 400; k++) {
      const op = rand();
      const seq = (base + Math.floor((rand() - 0.2) * 60000)) >>> 0;
      if (op < 0.8) {
        const len = Math.floor(rand() * 3000);
        r.segment(seq, data, 0, len, len + (rand() < 0.05 ? Math.floor(rand() * 100) : 0), rand() < 0.01, k);
      } else {
        r.ack(seq, k);
      }
      assert.ok(r.bufferedBytes <= max, `seed ${seed}: ${r.bufferedBytes} > ${max}`);
    }
    r.flush(0);
    assert.equal(r.bufferedBytes, 0);
    // Every byte between the start and the end was delivered once or reported missing once.
    const first = start >= 0 ? start : null;
    if (first !== null) {
      const span = ((r.nextSeq - first) >>> 0) - (r.finished ? 1 : 0);
      assert.equal(delivered + gaps, span, `seed ${seed}`);
    }
  }
});
