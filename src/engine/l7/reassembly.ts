// TCP stream reassembly for one direction of one flow: segments in capture order in, contiguous bytes
// out. Out-of-order segments wait in a bounded buffer; retransmitted and overlapping bytes are dropped;
// bytes the capture never saw are reported as a gap, never papered over.
//
// A hole becomes a gap when (a) the peer acknowledges bytes beyond it (the receiver got them, the
// capture did not), (b) the waiting segments exceed the buffer bound, (c) a segment lies further ahead
// than the bound, or (d) the stream is flushed at the end of the flow.
//
// Sequence numbers are unsigned 32-bit; comparisons use the signed difference `(a - b) | 0`, so
// wrap-around needs no special case.

import type { DecodedPacket } from '../decode/packet';

/** Receives the stream of one direction. `buf` is valid only during the call. */
export interface StreamConsumer {
  onData(buf: Buffer, off: number, len: number, seq: number, tsUs: number): void;
  onGap(seq: number, len: number, tsUs: number): void;
  /** The sender's FIN was reached in sequence order. */
  onFin(tsUs: number): void;
}

/** Default bound on bytes waiting out of order, per direction. */
export const DEFAULT_MAX_BUFFERED = 256 * 1024;
/** An acknowledgement further ahead than this is not believed (port reuse, garbage). */
const MAX_ACK_JUMP = 1 << 30;

interface Segment {
  seq: number;
  /** Captured bytes (a copy). */
  data: Buffer;
  /** Bytes on the wire after `data` that the capture cut off (snap length). */
  missing: number;
  fin: boolean;
  tsUs: number;
}

export class TcpReassembler {
  started = false;
  /** Sequence number of the next byte expected (unsigned). */
  nextSeq = 0;
  finished = false;
  /** Counters for tests and diagnostics. */
  deliveredBytes = 0;
  gapBytes = 0;
  duplicateBytes = 0;
  bufferedSegments = 0;
  private segs: Segment[] = [];
  private buffered = 0;

  constructor(
    private readonly out: StreamConsumer,
    readonly maxBuffered = DEFAULT_MAX_BUFFERED,
  ) {}

  /** Bytes currently held out of order. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** A SYN (or SYN-ACK) with initial sequence number `isn`: the stream starts at isn + 1. */
  syn(isn: number): void {
    if (this.started) return;
    this.started = true;
    this.nextSeq = (isn + 1) >>> 0;
  }

  /**
   * A segment: `len` captured payload bytes at buf[off..], `wireLen` (>= len) bytes on the wire,
   * `seq` = sequence number of its first payload byte (after the SYN, if the segment carries one).
   */
  segment(seq: number, buf: Buffer, off: number, len: number, wireLen: number, fin: boolean, tsUs: number): void {
    if (this.finished) return;
    if (wireLen < len) wireLen = len;
    if (!this.started) {
      // No handshake seen: the stream starts mid-way, at the first segment we get.
      this.started = true;
      this.nextSeq = seq >>> 0;
    }
    const d = (seq - this.nextSeq) | 0;
    if (d <= 0) {
      this.deliverFrom(seq, buf, off, len, wireLen - len, fin, tsUs);
      this.drain();
      return;
    }
    if (d > this.maxBuffered) {
      // Too far ahead to wait for what lies between: report it lost now.
      this.reportGap(d, tsUs);
      this.deliverFrom(seq, buf, off, len, wireLen - len, fin, tsUs);
      this.drain();
      return;
    }
    if (len + wireLen === 0 && !fin) return;
    this.insert({ seq: seq >>> 0, data: Buffer.from(buf.subarray(off, off + len)), missing: wireLen - len, fin, tsUs });
    while (this.buffered > this.maxBuffered && this.segs.length > 0) {
      // Over the bound: give up on the hole before the first waiting segment.
      const first = this.segs[0];
      this.reportGap((first.seq - this.nextSeq) | 0, first.tsUs);
      this.drain();
    }
  }

  /**
   * ack(p.tcpAck, p.tsUs) for a packet of the other direction, read here: every packet acknowledges,
   * and as arguments the 32-bit number and the µs time would be boxed (a heap number each) per packet.
   */
  ackOf(p: DecodedPacket): void {
    if (!this.started || this.finished) return;
    const d = (p.tcpAck - this.nextSeq) | 0;
    if (d <= 0 || d > MAX_ACK_JUMP) return;
    this.ack(p.tcpAck, p.tsUs);
  }

  /** The peer acknowledged everything before `ack`: bytes below it that we never saw are lost. */
  ack(ack: number, tsUs: number): void {
    if (!this.started || this.finished) return;
    const d = (ack - this.nextSeq) | 0;
    if (d <= 0 || d > MAX_ACK_JUMP) return;
    // The hole ends where the first waiting segment begins; that one is delivered by drain().
    let holeEnd = d;
    const first = this.segs.length > 0 ? this.segs[0] : null;
    if (first !== null) {
      const fd = (first.seq - this.nextSeq) | 0;
      if (fd < holeEnd) holeEnd = fd;
    }
    if (holeEnd > 0) {
      this.reportGap(holeEnd, tsUs);
      this.drain();
    }
  }

  /** End of the flow: whatever waits is delivered after the holes before it. */
  flush(tsUs: number): void {
    while (this.segs.length > 0 && !this.finished) {
      const first = this.segs[0];
      const d = (first.seq - this.nextSeq) | 0;
      if (d > 0) this.reportGap(d, tsUs);
      this.drain();
    }
    this.segs.length = 0;
    this.buffered = 0;
  }

  private reportGap(len: number, tsUs: number): void {
    const seq = this.nextSeq;
    this.nextSeq = (this.nextSeq + len) >>> 0;
    this.gapBytes += len;
    this.out.onGap(seq, len, tsUs);
  }

  /** Delivers the part of a segment at or after nextSeq (the caller checked seq <= nextSeq). */
  private deliverFrom(seq: number, buf: Buffer, off: number, len: number, missing: number, fin: boolean, tsUs: number): void {
    const skip = (this.nextSeq - seq) | 0; // >= 0
    const total = len + missing;
    if (skip >= total) {
      this.duplicateBytes += total;
      if (fin && skip === total) this.finish(tsUs);
      return;
    }
    this.duplicateBytes += skip;
    if (skip < len) {
      const n = len - skip;
      const at = this.nextSeq;
      this.nextSeq = (this.nextSeq + n) >>> 0;
      this.deliveredBytes += n;
      this.out.onData(buf, off + skip, n, at, tsUs);
      if (missing > 0) this.reportGap(missing, tsUs);
    } else {
      this.reportGap(total - skip, tsUs);
    }
    if (fin) this.finish(tsUs);
  }

  private finish(tsUs: number): void {
    this.nextSeq = (this.nextSeq + 1) >>> 0;
    this.finished = true;
    this.segs.length = 0;
    this.buffered = 0;
    this.out.onFin(tsUs);
  }

  /** Delivers waiting segments that are now in order; drops those entirely behind. */
  private drain(): void {
    const segs = this.segs;
    while (segs.length > 0 && !this.finished) {
      const s = segs[0];
      if (((s.seq - this.nextSeq) | 0) > 0) break;
      segs.shift();
      this.buffered -= s.data.length;
      this.deliverFrom(s.seq, s.data, 0, s.data.length, s.missing, s.fin, s.tsUs);
    }
  }

  private insert(s: Segment): void {
    const segs = this.segs;
    const key = (s.seq - this.nextSeq) | 0;
    let i = segs.length;
    while (i > 0 && ((segs[i - 1].seq - this.nextSeq) | 0) > key) i--;
    segs.splice(i, 0, s);
    this.buffered += s.data.length;
    this.bufferedSegments++;
  }
}
