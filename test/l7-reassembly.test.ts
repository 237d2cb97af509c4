// TCP reassembly on a real lossy download (samples: 64 KiB from nginx with every 8th full-size segment
// dropped inside the client pod, so the client's veth shows retransmissions), checked against tshark's
// own reassembly (`-z follow,tcp,raw`); then reordered, duplicated, cut and bounded variants of the same
// segments, and the sequence-number corner cases a capture can show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket } from '../src/engine/decode/packet';
import { TcpReassembler, type StreamConsumer } from '../src/engine/l7/reassembly';
import { SAMPLES, readPackets, rng } from './l7-helpers';
import { tempDir } from './capture-helpers';

interface Seg {
  seq: number;
  ack: number;
  flags: number;
  data: Buffer;
  fromServer: boolean;
}

class Collect implements StreamConsumer {
  chunks: Buffer[] = [];
  gaps: { seq: number; len: number; afterBytes: number }[] = [];
  fins = 0;
  bytes = 0;
  onData(buf: Buffer, off: number, len: number): void {
    this.chunks.push(Buffer.from(buf.subarray(off, off + len)));
    this.bytes += len;
  }
  onGap(seq: number, len: number): void {
    this.gaps.push({ seq, len, afterBytes: this.bytes });
    this.chunks.push(Buffer.alloc(len)); // zeros stand for the missing bytes
    this.bytes += len;
  }
  onFin(): void {
    this.fins++;
  }
  get stream(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

// The /big download of the samples as seen on the client's veth (interface 4 of k8s-node1.pcapng).
const dir = tempDir('l7-reasm');
const bigFile = join(dir, 'big.pcapng');
execFileSync('tshark', ['-r', join(SAMPLES, 'k8s-node1.pcapng'), '-Y', 'frame.interface_id==4 && tcp.port==8080', '-w', bigFile], {
  stdio: 'ignore',
});

let cachedStream: Buffer | null = null;
function serverStream(): Buffer {
  return (cachedStream ??= tsharkServerStream());
}

/** tshark's reassembled bytes of the server side (`follow,tcp,raw`: server lines start with a tab). */
function tsharkServerStream(): Buffer {
  const out = execFileSync('tshark', ['-r', bigFile, '-q', '-z', 'follow,tcp,raw,0'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const parts: Buffer[] = [];
  for (const line of out.split('\n')) if (line.startsWith('\t')) parts.push(Buffer.from(line.trim(), 'hex'));
  return Buffer.concat(parts);
}

async function segments(): Promise<Seg[]> {
  const d = new Decoder();
  const p = new DecodedPacket();
  const out: Seg[] = [];
  for (const raw of await readPackets(bigFile)) {
    if (d.decode(raw.data, 0, raw.data.length, raw.data.length, raw.linkType, raw.tsUs, p) !== DecodeStatus.Ok) continue;
    out.push({
      seq: p.tcpSeq,
      ack: p.tcpAck,
      flags: p.tcpFlags,
      data: Buffer.from(p.buf.subarray(p.payloadOffset, p.payloadOffset + p.capturedPayloadLen)),
      fromServer: p.srcPort === 8080,
    });
  }
  return out;
}

/** Feeds the server's direction (and the client's ACKs, if asked) to a reassembler. */
function feed(segs: Seg[], opts: { acks?: boolean; max?: number; onEach?: (r: TcpReassembler) => void } = {}): { c: Collect; r: TcpReassembler } {
  const c = new Collect();
  const r = new TcpReassembler(c, opts.max);
  for (const s of segs) {
    if (!s.fromServer) {
      if (opts.acks && s.flags & 0x10) r.ack(s.ack, 0);
      continue;
    }
    if (s.flags & 0x02) r.syn(s.seq);
    const seq = s.flags & 0x02 ? s.seq + 1 : s.seq;
    if (s.data.length > 0 || s.flags & 0x01) r.segment(seq >>> 0, s.data, 0, s.data.length, s.data.length, (s.flags & 0x01) !== 0, 0);
    opts.onEach?.(r);
  }
  r.flush(0);
  return { c, r };
}

test('reassembly: the lossy download equals tshark\'s reassembled stream; retransmissions are dropped as duplicates', async () => {
  const segs = await segments();
  const expected = serverStream();
  assert.ok(expected.length > 65536, `tshark stream ${expected.length} bytes`);
  const { c, r } = feed(segs, { acks: true });
  assert.equal(c.gaps.length, 0);
  assert.equal(c.fins, 1);
  assert.ok(c.stream.equals(expected), 'byte-identical to tshark');
  // The client pod dropped segments that the veth saw: each comes again, as duplicate bytes here.
  const sent = segs.filter((s) => s.fromServer).reduce((n, s) => n + s.data.length, 0);
  assert.equal(r.duplicateBytes, sent - expected.length);
  assert.ok(r.duplicateBytes > 0, 'the capture has retransmissions');
});

test('reassembly: reordered and duplicated segments give the same stream (seeded shuffles)', async () => {
  const segs = await segments();
  const expected = serverStream();
  for (let seed = 1; seed <= 20; seed++) {
    const rand = rng(seed);
    const server = segs.filter((s) => s.fromServer);
    // Shuffle inside windows of 8 segments (the SYN-ACK stays first), and repeat some.
    const out: Seg[] = [server[0]];
    for (let i = 1; i < server.length; i += 8) {
      const w = server.slice(i, i + 8);
      for (let k = w.length - 1; k > 0; k--) {
        const j = Math.floor(rand() * (k + 1));
        [w[k], w[j]] = [w[j], w[k]];
      }
      for (const s of w) {
        out.push(s);
        if (rand() < 0.1) out.push(s);
      }
    }
    const { c, r } = feed(out);
    assert.equal(c.gaps.length, 0, `seed ${seed}`);
    assert.ok(c.stream.equals(expected), `seed ${seed}: stream differs`);
    assert.ok(r.bufferedSegments > 0, `seed ${seed}: something arrived out of order`);
  }
});

test('reassembly: a segment missing from the capture is one gap of its size, reported when the receiver ACKs past it', async () => {
  const segs = await segments();
  const expected = serverStream();
  const server = segs.filter((s) => s.fromServer && s.data.length > 0);
  const victim = server[10];
  const isn = segs.find((s) => s.fromServer && s.flags & 0x02)!.seq;
  const victimOffset = ((victim.seq - isn - 1) >>> 0);
  const cut = segs.filter((s) => !(s.fromServer && s.seq === victim.seq && s.data.length > 0));
  // With the receiver's ACKs the hole is reported while the stream goes on, not at the end.
  let gapsBeforeFlush = 0;
  let last: TcpReassembler | null = null;
  const { c } = feed(cut, { acks: true, onEach: (r) => (last = r) });
  gapsBeforeFlush = last!.gapBytes;
  assert.equal(gapsBeforeFlush, victim.data.length);
  assert.equal(c.gaps.length, 1);
  assert.deepEqual(c.gaps[0], { seq: victim.seq, len: victim.data.length, afterBytes: victimOffset });
  const want = Buffer.from(expected);
  want.fill(0, victimOffset, victimOffset + victim.data.length);
  assert.ok(c.stream.equals(want), 'everything but the hole is delivered, in place');
  // Without the receiver's ACKs the hole is only known at the end (flush), with the same result.
  const noAck = feed(cut, { acks: false });
  assert.deepEqual(noAck.c.gaps, c.gaps);
  assert.ok(noAck.c.stream.equals(want));
});

test('reassembly: the out-of-order buffer stays within its bound and gives up the hole when full', async () => {
  const segs = await segments();
  const server = segs.filter((s) => s.fromServer && s.data.length > 0);
  const victim = server[3];
  const cut = segs.filter((s) => !(s.fromServer && s.seq === victim.seq && s.data.length > 0));
  const expected = serverStream();
  let peak = 0;
  const max = 4096;
  const { c } = feed(cut, { acks: false, max, onEach: (r) => (peak = Math.max(peak, r.bufferedBytes)) });
  assert.ok(peak <= max, `peak ${peak} > ${max}`);
  // A small bound also gives up holes the client pod's drops opened before their (late)
  // retransmissions came: every hole is reported, every byte outside the holes is right.
  assert.ok(c.gaps.some((g) => g.seq === victim.seq), 'the removed segment is one of the gaps');
  const got = c.stream;
  assert.equal(got.length, expected.length);
  const want = Buffer.from(expected);
  for (const g of c.gaps) want.fill(0, g.afterBytes, g.afterBytes + g.len);
  assert.ok(got.equals(want));
  // With the default bound (256 KiB) the same input has the one hole only.
  assert.equal(feed(cut).c.gaps.length, 1);
});

// ---------------------------------------------------------------------------------------- corner cases

function bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

test('reassembly: SYN sets the start; without one the first segment does (mid-stream)', () => {
  const c = new Collect();
  const r = new TcpReassembler(c);
  r.syn(999);
  r.segment(1005, bytes('world'), 0, 5, 5, false, 0); // ahead: waits
  r.segment(1000, bytes('hello'), 0, 5, 5, false, 0);
  assert.equal(c.stream.toString(), 'helloworld');
  const c2 = new Collect();
  const r2 = new TcpReassembler(c2);
  r2.segment(50, bytes('mid'), 0, 3, 3, false, 0);
  r2.segment(47, bytes('xxxmid'), 0, 6, 6, false, 0); // entirely old
  r2.segment(53, bytes('dle'), 0, 3, 3, false, 0);
  assert.equal(c2.stream.toString(), 'middle');
  assert.equal(r2.duplicateBytes, 6);
});

test('reassembly: sequence numbers wrap around 2^32', () => {
  const c = new Collect();
  const r = new TcpReassembler(c);
  r.syn(0xfffffffa);
  r.segment(0xfffffffb, bytes('abcd'), 0, 4, 4, false, 0); // ...fffb..fffe
  r.segment(3, bytes('ghi'), 0, 3, 3, false, 0); // after the wrap, out of order
  r.segment(0xffffffff, bytes('ef'), 0, 2, 2, false, 0); // fffff, 0 ... wait: 2 bytes: ffffffff, 0
  r.segment(1, bytes('XY'), 0, 2, 2, false, 0); // 1, 2
  assert.equal(c.stream.toString(), 'abcdefXYghi');
  assert.equal(c.gaps.length, 0);
  assert.equal(r.nextSeq, 6);
});

test('reassembly: overlapping segments keep the bytes delivered first and add only the new tail', () => {
  const c = new Collect();
  const r = new TcpReassembler(c);
  r.syn(0);
  r.segment(1, bytes('abc'), 0, 3, 3, false, 0);
  r.segment(2, bytes('BCDE'), 0, 4, 4, false, 0); // overlaps 2..3, adds DE
  r.segment(8, bytes('hi'), 0, 2, 2, false, 0); // waits
  r.segment(7, bytes('GHIJ'), 0, 4, 4, false, 0); // waits, overlaps the waiting one
  r.segment(6, bytes('f'), 0, 1, 1, false, 0); // fills the hole
  assert.equal(c.stream.toString(), 'abcDEfGHIJ');
  assert.equal(r.duplicateBytes, 2 + 2);
});

test('reassembly: a segment cut by the snap length delivers what was captured, then a gap for the rest', () => {
  const c = new Collect();
  const r = new TcpReassembler(c);
  r.syn(0);
  r.segment(1, bytes('head'), 0, 4, 10, false, 0); // 6 bytes not captured
  r.segment(11, bytes('next'), 0, 4, 4, false, 0);
  assert.deepEqual(c.gaps, [{ seq: 5, len: 6, afterBytes: 4 }]);
  assert.equal(c.bytes, 14);
});

test('reassembly: FIN ends the stream once; a FIN waiting out of order is delivered after the hole fills', () => {
  const c = new Collect();
  const r = new TcpReassembler(c);
  r.syn(100);
  r.segment(104, bytes('end'), 0, 3, 3, true, 0);
  assert.equal(c.fins, 0);
  r.segment(101, bytes('the'), 0, 3, 3, false, 0);
  assert.equal(c.stream.toString(), 'theend');
  assert.equal(c.fins, 1);
  r.segment(104, bytes('end'), 0, 3, 3, true, 0); // retransmitted FIN
  r.ack(200, 0); // nothing more is expected after a FIN
  assert.equal(c.fins, 1);
  assert.equal(c.gaps.length, 0);
});

test('reassembly: an ACK beyond what was seen reports the hole up to the first waiting segment, not past it', () => {
  const c = new Collect();
  const r = new TcpReassembler(c);
  r.syn(0);
  r.segment(1, bytes('aa'), 0, 2, 2, false, 0);
  r.segment(6, bytes('ff'), 0, 2, 2, false, 0);
  r.ack(3, 0); // covers only what was delivered
  assert.equal(c.gaps.length, 0);
  r.ack(8, 0); // 3..5 never captured
  assert.deepEqual(c.gaps, [{ seq: 3, len: 3, afterBytes: 2 }]);
  assert.equal(c.bytes, 7);
  r.ack(0x7fffffff, 0); // absurd jump: ignored
  assert.equal(c.gaps.length, 1);
});
