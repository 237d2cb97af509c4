// Per-direction record of the TCP sequence ranges already seen, used to tell retransmissions
// (data wholly seen before) from new, adjacent or out-of-order data. Same semantics as DeepFlow's
// SeqSegment list (agent/src/flow_generator/perf/tcp.rs): at most 16 disjoint ranges; when full,
// the two lowest merge, which can only make later old data look retransmitted, never new data.

export const enum SeqVerdict {
  /** Not judged: empty payload, seq 0, a range that wraps, or stale data across a wrap. */
  NotCare = 0,
  /** Entirely inside data already seen. */
  Retrans = 1,
  /** Partly overlaps data already seen (inconsistent): DeepFlow counts it invalid. */
  Error = 2,
  /** New data extending a known range. */
  Continuous = 3,
  /** New data not adjacent to anything seen, above everything seen (a gap opened before it). */
  Ahead = 4,
  /** New data below the highest data seen: filling a hole (out of order). */
  OutOfOrder = 5,
}

const MAX_RANGES = 16;
const LOW = 0x40000000;
const HIGH = 0xc0000000;

/** Doubles one direction's ranges take in a flat state array: the count, then MAX_RANGES [start, end)
 * pairs (a 16th range exists briefly before the lowest two merge). Written out as tcp-perf.ts copies it. */
export const SEQ_RANGES_SIZE = 33;

/** A segment's sequence number (unsigned 32-bit) and payload length: a DecodedPacket, or a stand-in. */
export interface Segment {
  readonly tcpSeq: number;
  readonly payloadLen: number;
}

/**
 * Classifies and records the segment's [seq, seq + len) in the ranges kept at s[o]: s[o] is the
 * count, then ascending [start, end) pairs (end may reach 2^32, hence doubles). Flat so the flow
 * table keeps them inside each flow's block of its state array (one less object to miss on).
 * The segment is passed as an object: a sequence number ≥ 2^30 passed as a number would be boxed.
 */
export function addSeqRange(s: Float64Array, o: number, seg: Segment): SeqVerdict {
  const seq = seg.tcpSeq;
  const len = seg.payloadLen;
  if (len === 0 || seq === 0) return SeqVerdict.NotCare;
  const end = seq + len;
  if (end > 0xffffffff) return SeqVerdict.NotCare;
  const r = o + 1; // ranges start here
  let n = s[o] | 0; // an int32 index (a double here deopts the loops below)
  if (n === 0) {
    s[r] = seq;
    s[r + 1] = end;
    s[o] = 1;
    // The first segment of a direction is the baseline, not judged.
    return SeqVerdict.NotCare;
  }
  const topEnd = s[r + 2 * n - 1];
  // Fast path, most segments: new data right after everything seen.
  if (seq === topEnd) {
    s[r + 2 * n - 1] = end;
    return SeqVerdict.Continuous;
  }
  if (seq < LOW && topEnd > HIGH) {
    // Sequence space wrapped: start over from this segment.
    s[r] = seq;
    s[r + 1] = end;
    s[o] = 1;
    return SeqVerdict.NotCare;
  }
  if (seq > HIGH && topEnd < LOW) return SeqVerdict.NotCare;

  // i = index of the first range whose start is >= seq (ranges below it start before seq).
  let i = 0;
  while (i < n && s[r + 2 * i] < seq) i++;
  const below = i - 1;
  if (below >= 0) {
    const be = s[r + 2 * below + 1];
    if (end <= be) return SeqVerdict.Retrans;
    if (seq < be) return SeqVerdict.Error;
  }
  if (i < n) {
    const as = s[r + 2 * i];
    const ae = s[r + 2 * i + 1];
    if (seq === as && end <= ae) return SeqVerdict.Retrans;
    if (end > as) return SeqVerdict.Error;
  }
  const joinsBelow = below >= 0 && s[r + 2 * below + 1] === seq;
  const joinsAbove = i < n && s[r + 2 * i] === end;
  const isTop = i === n;
  if (joinsBelow && joinsAbove) {
    s[r + 2 * below + 1] = s[r + 2 * i + 1];
    for (let k = i; k < n - 1; k++) {
      s[r + 2 * k] = s[r + 2 * k + 2];
      s[r + 2 * k + 1] = s[r + 2 * k + 3];
    }
    s[o] = n - 1;
    return SeqVerdict.OutOfOrder;
  }
  if (joinsBelow) {
    s[r + 2 * below + 1] = end;
    return isTop ? SeqVerdict.Continuous : SeqVerdict.OutOfOrder;
  }
  if (joinsAbove) {
    s[r + 2 * i] = seq;
    return SeqVerdict.OutOfOrder;
  }
  // A new disjoint range at index i.
  for (let k = n; k > i; k--) {
    s[r + 2 * k] = s[r + 2 * k - 2];
    s[r + 2 * k + 1] = s[r + 2 * k - 1];
  }
  s[r + 2 * i] = seq;
  s[r + 2 * i + 1] = end;
  n++;
  if (n >= MAX_RANGES) {
    // Merge the two lowest ranges (the gap between them is assumed received).
    s[r + 1] = s[r + 3];
    for (let k = 1; k < n - 1; k++) {
      s[r + 2 * k] = s[r + 2 * k + 2];
      s[r + 2 * k + 1] = s[r + 2 * k + 3];
    }
    n--;
  }
  s[o] = n;
  return isTop ? SeqVerdict.Ahead : SeqVerdict.OutOfOrder;
}

/** One direction's ranges on their own (tests, tools); the flow table uses addSeqRange in place. */
export class SeqRanges {
  private readonly s = new Float64Array(SEQ_RANGES_SIZE);
  private readonly seg = { tcpSeq: 0, payloadLen: 0 };
  /** The [start, end) pairs, ascending. */
  readonly r = this.s.subarray(1);

  get n(): number {
    return this.s[0];
  }

  reset(): void {
    this.s[0] = 0;
  }

  /** Classifies and records [seq, seq + len). seq is unsigned 32-bit. */
  add(seq: number, len: number): SeqVerdict {
    this.seg.tcpSeq = seq;
    this.seg.payloadLen = len;
    return addSeqRange(this.s, 0, this.seg);
  }
}
