import type { DecodedPacket } from '../decode/packet';

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

/** Ranges are kept ascending as [start, end) pairs (end may reach 2^32, hence Float64Array). */
export class SeqRanges {
  readonly r = new Float64Array(MAX_RANGES * 2);
  n = 0;

  reset(): void {
    this.n = 0;
  }

  /** Classifies and records a packet's TCP payload range (see add). */
  addSegment(p: DecodedPacket): SeqVerdict {
    return this.add(p.tcpSeq, p.payloadLen);
  }

  /** Classifies and records [seq, seq + len). seq is unsigned 32-bit. */
  add(seq: number, len: number): SeqVerdict {
    if (len === 0 || seq === 0) return SeqVerdict.NotCare;
    const end = seq + len;
    if (end > 0xffffffff) return SeqVerdict.NotCare;
    const r = this.r;
    let n = this.n;
    if (n === 0) {
      r[0] = seq;
      r[1] = end;
      this.n = 1;
      // The first segment of a direction is the baseline, not judged.
      return SeqVerdict.NotCare;
    }
    const topEnd = r[2 * n - 1];
    if (seq < LOW && topEnd > HIGH) {
      // Sequence space wrapped: start over from this segment.
      r[0] = seq;
      r[1] = end;
      this.n = 1;
      return SeqVerdict.NotCare;
    }
    if (seq > HIGH && topEnd < LOW) return SeqVerdict.NotCare;

    // i = index of the first range whose start is >= seq (ranges below it start before seq).
    let i = 0;
    while (i < n && r[2 * i] < seq) i++;
    const below = i - 1;
    if (below >= 0) {
      const be = r[2 * below + 1];
      if (end <= be) return SeqVerdict.Retrans;
      if (seq < be) return SeqVerdict.Error;
    }
    if (i < n) {
      const as = r[2 * i];
      const ae = r[2 * i + 1];
      if (seq === as && end <= ae) return SeqVerdict.Retrans;
      if (end > as) return SeqVerdict.Error;
    }
    const joinsBelow = below >= 0 && r[2 * below + 1] === seq;
    const joinsAbove = i < n && r[2 * i] === end;
    const isTop = i === n;
    if (joinsBelow && joinsAbove) {
      r[2 * below + 1] = r[2 * i + 1];
      for (let k = i; k < n - 1; k++) {
        r[2 * k] = r[2 * k + 2];
        r[2 * k + 1] = r[2 * k + 3];
      }
      this.n = n - 1;
      return SeqVerdict.OutOfOrder;
    }
    if (joinsBelow) {
      r[2 * below + 1] = end;
      return isTop ? SeqVerdict.Continuous : SeqVerdict.OutOfOrder;
    }
    if (joinsAbove) {
      r[2 * i] = seq;
      return SeqVerdict.OutOfOrder;
    }
    // A new disjoint range at index i.
    for (let k = n; k > i; k--) {
      r[2 * k] = r[2 * k - 2];
      r[2 * k + 1] = r[2 * k - 1];
    }
    r[2 * i] = seq;
    r[2 * i + 1] = end;
    n++;
    if (n >= MAX_RANGES) {
      // Merge the two lowest ranges (the gap between them is assumed received).
      r[1] = r[3];
      for (let k = 1; k < n - 1; k++) {
        r[2 * k] = r[2 * k + 2];
        r[2 * k + 1] = r[2 * k + 3];
      }
      n--;
    }
    this.n = n;
    return isTop ? SeqVerdict.Ahead : SeqVerdict.OutOfOrder;
  }
}
