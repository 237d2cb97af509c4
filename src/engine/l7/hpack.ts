// HPACK (RFC 7541) decoder for one direction of an HTTP/2 connection: static table, dynamic table with
// size updates, Huffman strings. Built for captures, which may start mid-connection: a reference to a
// dynamic entry the capture never saw inserted yields a null name or value (never a throw), and decoding
// goes on. That answer is never wrong, only missing: entries inserted after the cut are known exactly
// (they are the newest, at the lowest dynamic indexes), and older, unknown ones sit behind them.
//
// Memory is bounded: the table holds at most MAX_TABLE_SIZE octets by RFC accounting (size updates
// above are clamped), strings keep their first MAX_STRING characters (the RFC size of an entry is
// still counted from the full length, so eviction stays in step with the sender's encoder).

import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './hpack-huffman';
import { STATIC_TABLE } from './hpack-static';

/** Largest dynamic table accepted (SETTINGS_HEADER_TABLE_SIZE default is 4096; some peers use 64 KiB). */
export const MAX_TABLE_SIZE = 64 * 1024;
/** Characters kept of one name or value (longer ones are cut; RFC sizes still use the full length). */
export const MAX_STRING = 4096;
/** Fields reported per header block (the rest are decoded for the table's sake, not reported). */
export const MAX_FIELDS = 256;
/** Default SETTINGS_HEADER_TABLE_SIZE. */
export const DEFAULT_TABLE_SIZE = 4096;

/** Receives the decoded fields of a block; null = the entry is not known to the capture. */
export type FieldHandler = (name: string | null, value: string | null) => void;

// Huffman decoding, 4 bits at a time. The code's binary trie (internal nodes only, root 0) is turned
// into a table: for node n and nibble v, NIB[n*16+v] packs the node reached (bits 0-9), the symbol
// emitted on the way (bits 10-18; 0x1ff none; codes are >= 5 bits, so at most one per nibble) and
// bit 19 = invalid (EOS or a path outside the code). NODE_PAD[n] = 1 when the bits from the root to n
// are at most 7 ones: valid padding at the end of a string.
const { NIB, NODE_PAD } = buildNibbleTable();

function buildNibbleTable(): { NIB: Int32Array; NODE_PAD: Uint8Array } {
  // Binary trie: child[2n+bit] > 0 internal node, < 0 leaf -(sym+1), 0 none.
  const child = new Int32Array(2 * 600);
  const depth = new Int32Array(600);
  const ones = new Uint8Array(600).fill(1);
  let nodes = 1;
  for (let sym = 0; sym < 257; sym++) {
    const code = HUFFMAN_CODES[sym];
    const bits = HUFFMAN_LENGTHS[sym];
    let n = 0;
    for (let b = bits - 1; b >= 0; b--) {
      const bit = (code >>> b) & 1;
      const slot = 2 * n + bit;
      if (b === 0) {
        child[slot] = -(sym + 1);
      } else {
        if (child[slot] === 0) {
          const m = nodes++;
          child[slot] = m;
          depth[m] = depth[n] + 1;
          ones[m] = ones[n] === 1 && bit === 1 ? 1 : 0;
        }
        n = child[slot];
      }
    }
  }
  const nib = new Int32Array(nodes * 16);
  const pad = new Uint8Array(nodes);
  for (let n = 0; n < nodes; n++) {
    pad[n] = n === 0 || (ones[n] === 1 && depth[n] <= 7) ? 1 : 0;
    for (let v = 0; v < 16; v++) {
      let cur = n;
      let sym = 0x1ff;
      let bad = 0;
      for (let b = 3; b >= 0 && !bad; b--) {
        const c = child[2 * cur + ((v >>> b) & 1)];
        if (c < 0) {
          const s = -(c + 1);
          if (s === 256) bad = 1;
          sym = s;
          cur = 0;
        } else if (c === 0) {
          bad = 1;
        } else {
          cur = c;
        }
      }
      nib[n * 16 + v] = cur | (sym << 10) | (bad << 19);
    }
  }
  return { NIB: nib, NODE_PAD: pad };
}

/** Decoded Huffman octets (the first MAX_STRING of a string; the rest are only counted). */
const scratch = Buffer.allocUnsafe(MAX_STRING);

export class HpackDecoder {
  // Dynamic table as a ring, newest at `head`; entries hold (possibly cut) strings and RFC sizes.
  private names: (string | null)[] = [];
  private values: (string | null)[] = [];
  private sizes: number[] = [];
  /** Name octets of each entry (a literal that reuses an entry's name counts it again). */
  private nlens: number[] = [];
  private head = 0;
  private cap = 0;
  /** Entries known to the capture. */
  count = 0;
  /** RFC size of the known entries (lower bound when a name was unknown: eviction then never comes early). */
  size = 0;
  maxSize = DEFAULT_TABLE_SIZE;
  /** SETTINGS_HEADER_TABLE_SIZE announced by the receiving side, -1 unknown (informational: the
   *  encoder's size updates are what the table follows). */
  announced = -1;
  /** The table may hold entries inserted before the capture began (or lost to a gap). */
  unknownTail: boolean;
  /** References to entries the capture does not know (stats, tests). */
  unknownRefs = 0;
  /** Malformed blocks met (stats, tests). */
  errors = 0;

  constructor(synced: boolean) {
    this.unknownTail = !synced;
  }

  /** Bytes of the header block were lost: forget the table (later insertions are known again). */
  desync(): void {
    this.clear();
    this.unknownTail = true;
  }

  /** The capture saw this direction from its first byte: the table starts empty and fully known. */
  resetSynced(): void {
    this.clear();
    this.unknownTail = false;
    this.maxSize = DEFAULT_TABLE_SIZE;
  }

  private clear(): void {
    for (let i = 0; i < this.cap; i++) {
      this.names[i] = null;
      this.values[i] = null;
    }
    this.count = 0;
    this.size = 0;
  }

  /**
   * Decodes one complete header block buf[off, end); calls `onField` for up to MAX_FIELDS fields.
   * Returns false when the block is malformed (the table is then unreliable: the caller desyncs).
   * `wanted`, when given, names the fields the caller reads: a literal that is not added to the table
   * and whose name is not wanted is skipped without decoding its value (large cookies, padding headers).
   */
  decode(buf: Buffer, off: number, end: number, onField: FieldHandler, wanted?: (name: string) => boolean): boolean {
    let i = off;
    let fields = 0;
    while (i < end) {
      const b = buf[i];
      if (b & 0x80) {
        // Indexed field.
        const idx = this.readInt(buf, i, end, 7);
        if (idx < 0) return this.fail();
        i = this.next;
        if (idx === 0) return this.fail();
        if (fields++ < MAX_FIELDS) {
          if (idx <= 61) onField(STATIC_TABLE[idx][0], STATIC_TABLE[idx][1]);
          else {
            const k = this.slot(idx - 62);
            if (k < 0) onField(null, null);
            else onField(this.names[k], this.values[k]);
          }
        }
        continue;
      }
      if ((b & 0xe0) === 0x20) {
        // Dynamic table size update.
        const n = this.readInt(buf, i, end, 5);
        if (n < 0) return this.fail();
        i = this.next;
        this.maxSize = Math.min(n, MAX_TABLE_SIZE);
        this.evict(0);
        if (this.maxSize === 0) this.unknownTail = false; // everything before is gone
        continue;
      }
      // Literal: with incremental indexing (01), without (0000) or never indexed (0001).
      const incremental = (b & 0xc0) === 0x40;
      const idx = this.readInt(buf, i, end, incremental ? 6 : 4);
      if (idx < 0) return this.fail();
      i = this.next;
      let name: string | null;
      let nameLen: number;
      if (idx === 0) {
        if (!this.readString(buf, i, end)) return this.fail();
        i = this.next;
        name = this.str;
        nameLen = this.strLen;
      } else if (idx <= 61) {
        name = STATIC_TABLE[idx][0];
        nameLen = name.length;
      } else {
        const k = this.slot(idx - 62);
        name = k < 0 ? null : this.names[k];
        nameLen = k < 0 ? 0 : this.nlens[k];
      }
      if (!incremental && wanted !== undefined && (name === null || !wanted(name))) {
        if (!this.skipString(buf, i, end)) return this.fail();
        i = this.next;
        fields++;
        continue;
      }
      if (!this.readString(buf, i, end)) return this.fail();
      i = this.next;
      const value = this.str;
      if (incremental) this.insert(name, value, nameLen, nameLen + this.strLen + 32);
      if (fields++ < MAX_FIELDS) onField(name, value);
    }
    return true;
  }

  private fail(): boolean {
    this.errors++;
    return false;
  }

  /** Ring slot of dynamic entry k (0 = newest), or -1 when the capture does not know it. */
  private slot(k: number): number {
    if (k >= this.count) {
      this.unknownRefs++;
      return -1;
    }
    return (this.head + k) % this.cap;
  }

  private insert(name: string | null, value: string | null, nameLen: number, size: number): void {
    if (size > this.maxSize) {
      // An entry larger than the table empties it (RFC 7541 §4.4).
      this.clear();
      this.unknownTail = false;
      return;
    }
    this.evict(size);
    if (this.count === this.cap) this.grow();
    this.head = (this.head - 1 + this.cap) % this.cap;
    this.names[this.head] = name;
    this.values[this.head] = value;
    this.sizes[this.head] = size;
    this.nlens[this.head] = nameLen;
    this.count++;
    this.size += size;
  }

  /** Evicts the oldest known entries until `room` more octets fit. */
  private evict(room: number): void {
    while (this.count > 0 && this.size + room > this.maxSize) {
      const k = (this.head + this.count - 1) % this.cap;
      this.size -= this.sizes[k];
      this.names[k] = null;
      this.values[k] = null;
      this.count--;
      // Unknown entries are older than every known one: they went first.
      this.unknownTail = false;
    }
    if (this.count === 0) this.size = 0;
  }

  private grow(): void {
    const cap = this.cap === 0 ? 16 : this.cap * 2;
    const names: (string | null)[] = new Array<string | null>(cap).fill(null);
    const values: (string | null)[] = new Array<string | null>(cap).fill(null);
    const sizes: number[] = new Array<number>(cap).fill(0);
    const nlens: number[] = new Array<number>(cap).fill(0);
    for (let k = 0; k < this.count; k++) {
      const s = (this.head + k) % this.cap;
      names[k] = this.names[s];
      values[k] = this.values[s];
      sizes[k] = this.sizes[s];
      nlens[k] = this.nlens[s];
    }
    this.names = names;
    this.values = values;
    this.sizes = sizes;
    this.nlens = nlens;
    this.head = 0;
    this.cap = cap;
  }

  // Results of readInt / readString (no tuple allocated per call).
  private next = 0;
  private str: string | null = null;
  private strLen = 0;

  /** HPACK integer with an N-bit prefix at buf[i]; -1 if cut or absurd (> 2^28). Sets `next`. */
  private readInt(buf: Buffer, i: number, end: number, prefix: number): number {
    const max = (1 << prefix) - 1;
    let v = buf[i] & max;
    i++;
    if (v === max) {
      let shift = 0;
      for (;;) {
        if (i >= end || shift > 21) return -1;
        const c = buf[i++];
        v += (c & 0x7f) << shift;
        shift += 7;
        if ((c & 0x80) === 0) break;
      }
    }
    this.next = i;
    return v;
  }

  /** Steps over a string literal at buf[i] (sets `next`). */
  private skipString(buf: Buffer, i: number, end: number): boolean {
    if (i >= end) return false;
    const len = this.readInt(buf, i, end, 7);
    if (len < 0 || len > end - this.next) return false;
    this.next += len;
    return true;
  }

  /** String literal at buf[i]: sets `str` (cut to MAX_STRING), `strLen` (octets), `next`. */
  private readString(buf: Buffer, i: number, end: number): boolean {
    if (i >= end) return false;
    const huff = (buf[i] & 0x80) !== 0;
    const len = this.readInt(buf, i, end, 7);
    if (len < 0) return false;
    i = this.next;
    if (len > end - i) return false;
    if (!huff) {
      this.strLen = len;
      this.str = buf.toString('latin1', i, i + Math.min(len, MAX_STRING));
      this.next = i + len;
      return true;
    }
    const n = huffmanDecode(buf, i, i + len);
    if (n < 0) return false;
    this.strLen = n;
    this.str = scratch.toString('latin1', 0, Math.min(n, MAX_STRING));
    this.next = i + len;
    return true;
  }
}

/**
 * Decodes Huffman octets buf[s, e) into `scratch` (first MAX_STRING octets kept, all counted); returns
 * the decoded length, or -1 when the code is invalid (EOS inside, or padding that is not all ones).
 */
export function huffmanDecode(buf: Buffer, s: number, e: number): number {
  let n = 0;
  let node = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i];
    let t = NIB[node * 16 + (c >>> 4)];
    if (t & 0x80000) return -1;
    let sym = (t >>> 10) & 0x1ff;
    if (sym !== 0x1ff) {
      if (n < MAX_STRING) scratch[n] = sym;
      n++;
    }
    t = NIB[(t & 0x3ff) * 16 + (c & 15)];
    if (t & 0x80000) return -1;
    sym = (t >>> 10) & 0x1ff;
    if (sym !== 0x1ff) {
      if (n < MAX_STRING) scratch[n] = sym;
      n++;
    }
    node = t & 0x3ff;
  }
  // Padding: at most 7 bits, all ones (the most significant bits of EOS).
  return NODE_PAD[node] === 1 ? n : -1;
}
