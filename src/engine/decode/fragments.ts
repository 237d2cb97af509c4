// IPv4 / IPv6 fragment reassembly. Fragments are held per (version, src, dst, id, protocol) until
// the datagram is covered from 0 to the end stated by the last fragment; then one buffer holding
// the IP header followed by the whole payload is handed back. This is the rare path: it copies and
// allocates, the per-packet path does not.
//
// Bounds: at most `maxPending` datagrams (the oldest is evicted), `maxPieces` fragments each, and a
// timeout in packet time from a datagram's first fragment. Overlaps: the fragment that arrived
// first wins for every byte it covers (duplicates are therefore harmless).

import { DecodeStatus } from './packet';

interface Piece {
  off: number;
  /** Length as the header states. */
  len: number;
  /** The captured bytes (shorter than len when the capture cut the fragment). */
  data: Buffer;
}

class Pending {
  /** Header template from the offset-0 fragment (IPv4: with options; IPv6: the fixed 40 bytes). */
  header: Buffer | null = null;
  /** Payload length, known once the last fragment (MF clear) arrives. */
  total = -1;
  readonly pieces: Piece[] = [];
  constructor(readonly firstUs: number) {}
}

export interface FragmentStats {
  /** Fragments held (every add that did not complete a datagram). */
  held: number;
  completed: number;
  /** Datagrams dropped because their first fragment is older than the timeout. */
  expired: number;
  /** Datagrams dropped to make room (maxPending reached). */
  evicted: number;
  /** Fragments or datagrams rejected as impossible (too long, too many pieces). */
  dropped: number;
  /** Fragments that overlapped one already held (duplicates included); the earlier bytes won. */
  overlaps: number;
}

const EMPTY = Buffer.alloc(0);
const MAX_DATAGRAM = 65535;

export class FragmentTable {
  private readonly pending = new Map<string, Pending>();
  readonly stats: FragmentStats = { held: 0, completed: 0, expired: 0, evicted: 0, dropped: 0, overlaps: 0 };
  /** After add() returned Ok: the reassembled datagram (IP header at 0), as far as it was captured. */
  datagram: Buffer = EMPTY;
  /** After add() returned Ok: the datagram's full length per its headers (≥ datagram.length). */
  datagramLen = 0;

  constructor(
    readonly maxPending = 1024,
    readonly timeoutUs = 30_000_000,
    readonly maxPieces = 1024,
  ) {}

  /** Datagrams currently waiting for fragments. */
  get size(): number {
    return this.pending.size;
  }

  clear(): void {
    this.pending.clear();
  }

  /**
   * Adds the fragment whose IP header is at l3. `dataOffset` = bytes from l3 to the fragment data
   * (IPv4 IHL; IPv6 through the fragment header), `statedEnd` / `capEnd` = where the datagram ends
   * per its header / where the capture ends. Returns FragmentHeld, Ok (datagram complete: see
   * `datagram`) or Malformed (a fragment that cannot belong to a valid datagram).
   */
  add(
    buf: Buffer,
    l3: number,
    version: number,
    dataOffset: number,
    statedEnd: number,
    capEnd: number,
    fragOffset: number,
    more: boolean,
    id: number,
    proto: number,
    src: Int32Array,
    dst: Int32Array,
    tsUs: number,
  ): DecodeStatus {
    const start = l3 + dataOffset;
    const len = statedEnd - start;
    const hdrLen = version === 4 ? dataOffset : 40;
    if (len < 0 || fragOffset + len + (version === 4 ? hdrLen : 0) > MAX_DATAGRAM) {
      this.stats.dropped++;
      return DecodeStatus.Malformed;
    }
    this.expire(tsUs);
    const key = `${version}|${src[0]},${src[1]},${src[2]},${src[3]}|${dst[0]},${dst[1]},${dst[2]},${dst[3]}|${id}|${proto}`;
    let e = this.pending.get(key);
    if (e === undefined) {
      if (this.pending.size >= this.maxPending) {
        // Map iteration order is insertion order: the first key is the oldest datagram.
        const oldest = this.pending.keys().next().value as string;
        this.pending.delete(oldest);
        this.stats.evicted++;
      }
      e = new Pending(tsUs);
      this.pending.set(key, e);
    }
    if (e.pieces.length >= this.maxPieces) {
      this.pending.delete(key);
      this.stats.dropped++;
      return DecodeStatus.Malformed;
    }
    for (const p of e.pieces) {
      if (fragOffset < p.off + p.len && p.off < fragOffset + len) {
        this.stats.overlaps++;
        break;
      }
    }
    // A second "last" fragment disagreeing on the size loses, like any later overlapping data.
    if (!more && e.total < 0) e.total = fragOffset + len;
    if (fragOffset === 0 && e.header === null) {
      e.header = copyOut(buf, l3, hdrLen);
      if (version === 6) e.header[6] = proto; // next header = what the fragment header announced
    }
    const capEnd2 = capEnd < statedEnd ? capEnd : statedEnd;
    const captured = capEnd2 - start > 0 ? capEnd2 - start : 0;
    e.pieces.push({ off: fragOffset, len, data: copyOut(buf, start, captured) });

    if (e.total < 0 || e.header === null || !covered(e.pieces, e.total)) {
      this.stats.held++;
      return DecodeStatus.FragmentHeld;
    }
    this.pending.delete(key);
    this.stats.completed++;
    this.assemble(e, version);
    return DecodeStatus.Ok;
  }

  /** Drops datagrams whose first fragment is older than the timeout (oldest first, by arrival). */
  expire(tsUs: number): void {
    for (const [k, e] of this.pending) {
      if (tsUs - e.firstUs <= this.timeoutUs) break;
      this.pending.delete(k);
      this.stats.expired++;
    }
  }

  private assemble(e: Pending, version: number): void {
    const header = e.header as Buffer;
    const hlen = header.length;
    const total = e.total;
    const out = Buffer.alloc(hlen + total);
    for (let i = 0; i < hlen; i++) out[i] = header[i];
    // Later arrivals first, so earlier ones overwrite them: first wins.
    for (let i = e.pieces.length - 1; i >= 0; i--) {
      const p = e.pieces[i];
      const n = Math.min(p.data.length, total - p.off);
      for (let j = 0; j < n; j++) out[hlen + p.off + j] = p.data[j];
    }
    if (version === 4) {
      const tl = hlen + total;
      out[2] = tl >> 8;
      out[3] = tl & 0xff;
      out[6] &= 0xc0; // keep reserved + DF, clear MF and the offset
      out[7] = 0;
      out[10] = 0;
      out[11] = 0;
      const c = checksum(out, hlen);
      out[10] = c >> 8;
      out[11] = c & 0xff;
    } else {
      out[4] = total >> 8;
      out[5] = total & 0xff;
    }
    this.datagram = out.subarray(0, hlen + capturedPrefix(e.pieces, total));
    this.datagramLen = hlen + total;
  }
}

function copyOut(src: Buffer, start: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  // A byte loop (not Buffer.copy) so the fuzz test can watch every read through a Proxy.
  for (let i = 0; i < len; i++) b[i] = src[start + i];
  return b;
}

/** True when the stated ranges cover [0, total) without a gap. */
function covered(pieces: Piece[], total: number): boolean {
  const sorted = pieces.slice().sort((a, b) => a.off - b.off);
  let cur = 0;
  for (const p of sorted) {
    if (p.off > cur) return false;
    if (p.off + p.len > cur) cur = p.off + p.len;
    if (cur >= total) return true;
  }
  return cur >= total;
}

/** Length of the payload prefix for which bytes were actually captured. */
function capturedPrefix(pieces: Piece[], total: number): number {
  const sorted = pieces.slice().sort((a, b) => a.off - b.off);
  let cur = 0;
  for (const p of sorted) {
    if (p.off > cur) break;
    if (p.off + p.data.length > cur) cur = p.off + p.data.length;
  }
  return cur < total ? cur : total;
}

function checksum(b: Buffer, len: number): number {
  let s = 0;
  for (let i = 0; i + 1 < len; i += 2) s += (b[i] << 8) | b[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
