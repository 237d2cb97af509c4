// pcapng (draft-ietf-opsawg-pcapng): sections (SHB, own byte order), interfaces (IDB), packets
// (EPB, SPB, obsolete OPB), name resolution (NRB) and interface statistics (ISB). Other blocks are
// skipped by their length. Interface indexes run across sections so they stay unique in the file.

import { basename } from 'node:path';
import { PARSE_ERROR, PARSE_FULL, PARSE_NEED, StreamSource, caplenLimit, type ReaderOptions } from './stream-source';
import { TsConv } from './timestamps';
import { CaptureError, type InterfaceStats, type NameRecord, type PacketBatch } from './types';

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const OPB = 0x00000002;
const SPB = 0x00000003;
const NRB = 0x00000004;
const ISB = 0x00000005;
const EPB = 0x00000006;
const BOM = 0x1a2b3c4d;
const BOM_SWAPPED = 0x4d3c2b1a;
const TWO32 = 4294967296;

/** Packet blocks longer than this are corrupt (a 4 MiB packet is already past any snaplen limit). */
const PACKET_BLOCK_MAX = 4 << 20;
/** Header/description blocks (SHB, IDB, NRB, ISB) are parsed whole; beyond this they are corrupt. */
const META_BLOCK_MAX = 16 << 20;

const BLOCK_NAMES: Record<number, string> = {
  [SHB]: 'section header block',
  [IDB]: 'interface description block',
  [OPB]: 'packet block (obsolete)',
  [SPB]: 'simple packet block',
  [NRB]: 'name resolution block',
  [ISB]: 'interface statistics block',
  [EPB]: 'enhanced packet block',
  0x0000000a: 'decryption secrets block',
  0x00000bad: 'custom block',
  0x40000bad: 'custom block',
};

function blockName(type: number): string {
  return BLOCK_NAMES[type] ?? `block of type 0x${type.toString(16).padStart(8, '0')}`;
}

export class PcapngSource extends StreamSource {
  readonly nameRecords: NameRecord[] = [];
  readonly interfaceStats: InterfaceStats[] = [];

  private le = true;
  private sectionBase = 0;
  private sectionCount = 0;
  private sections = 0;
  private convs: TsConv[] = [];
  private limits: number[] = [];
  private snaps: number[] = [];
  private lastUs = 0;
  private lastNs = 0;
  /** A skipped block larger than a chunk: its offset and length while we skip to its trailer; -1 none. */
  private skipOff = -1;
  private skipLen = 0;

  constructor(path: string, totalBytes: number, gzip: boolean, opts: ReaderOptions = {}) {
    super(path, gzip ? 'pcapng+gzip' : 'pcapng', totalBytes, gzip, opts);
  }

  protected reset(): void {
    this.interfaces.length = 0;
    this.nameRecords.length = 0;
    this.interfaceStats.length = 0;
    this.convs = [];
    this.limits = [];
    this.snaps = [];
    this.le = true;
    this.sectionBase = 0;
    this.sectionCount = 0;
    this.sections = 0;
    this.lastUs = 0;
    this.lastNs = 0;
    this.skipOff = -1;
  }

  private u16(buf: Buffer, p: number): number {
    return this.le ? buf.readUInt16LE(p) : buf.readUInt16BE(p);
  }
  private u32(buf: Buffer, p: number): number {
    return this.le ? buf.readUInt32LE(p) : buf.readUInt32BE(p);
  }
  private u64(buf: Buffer, p: number): number {
    return this.le
      ? buf.readUInt32LE(p + 4) * TWO32 + buf.readUInt32LE(p)
      : buf.readUInt32BE(p) * TWO32 + buf.readUInt32BE(p + 4);
  }

  protected atEnd(remaining: number): CaptureError | null {
    const c = this.chunks;
    if (this.skipOff >= 0) {
      const left = c.absEnd - this.skipOff;
      return new CaptureError(
        this.path,
        this.skipOff,
        `block at offset ${this.skipOff} claims ${this.skipLen} bytes but only ${left} remain (truncated file)`,
      );
    }
    if (remaining === 0) return null;
    const off = c.base + c.pos;
    if (remaining < 8) {
      return new CaptureError(this.path, off, `block header at offset ${off} is cut short: ${remaining} of 8 bytes (truncated file)`);
    }
    const buf = c.buf;
    const type = this.u32(buf, c.pos);
    let len = this.u32(buf, c.pos + 4);
    if (type === SHB && remaining >= 12) {
      const bom = buf.readUInt32LE(c.pos + 8);
      if (bom === BOM) len = buf.readUInt32LE(c.pos + 4);
      else if (bom === BOM_SWAPPED) len = buf.readUInt32BE(c.pos + 4);
    }
    return new CaptureError(
      this.path,
      off,
      `${blockName(type)} at offset ${off} claims ${len} bytes but only ${remaining} remain (truncated file)`,
    );
  }

  protected parse(b: PacketBatch): number {
    const c = this.chunks;
    const buf = c.buf;
    const dv = c.view;
    const end = c.end;
    const base = c.base;
    const known = this.knownSize;
    const cap = b.capacity;
    let pos = c.pos;
    let n = b.count;
    let le = this.le;
    let lastUs = this.lastUs;
    let lastNs = this.lastNs;
    let st = PARSE_FULL;
    let fault = false;

    while (n < cap) {
      if (this.skipOff >= 0) {
        // Trailer of a big skipped block: its length again.
        if (end - pos < 4) {
          this.need = 4;
          st = PARSE_NEED;
          break;
        }
        const t = dv.getUint32(pos, le);
        if (t !== this.skipLen) {
          fault = this.trailerFault(this.skipOff, this.skipLen, t);
          break;
        }
        pos += 4;
        this.skipOff = -1;
        continue;
      }
      if (end - pos < 12) {
        this.need = 12;
        st = PARSE_NEED;
        break;
      }
      const type = dv.getUint32(pos, le);
      const off = base + pos;
      let blockLe = le;
      if (type === SHB) {
        // The section's byte order comes from its own byte-order magic, before its length can be read.
        const bom = buf.readUInt32LE(pos + 8);
        if (bom === BOM) blockLe = true;
        else if (bom === BOM_SWAPPED) blockLe = false;
        else {
          fault = this.fail(off, `section header block at offset ${off} has an unknown byte-order magic 0x${buf.toString('hex', pos + 8, pos + 12)}`);
          break;
        }
      }
      const len = dv.getUint32(pos + 4, blockLe);
      if (len < 12 || (len & 3) !== 0) {
        const why = len === 0 ? 'a zero block length' : len < 12 ? `a block length of ${len} (minimum 12)` : `a block length of ${len}, not a multiple of 4`;
        fault = this.fail(off, `${blockName(type)} at offset ${off} has ${why} (corrupt file)`);
        break;
      }
      if (known >= 0 && off + len > known) {
        fault = this.fail(off, `${blockName(type)} at offset ${off} claims ${len} bytes but only ${known - off} remain (truncated file)`);
        break;
      }

      if (type === EPB || type === OPB || type === SPB) {
        if (len > PACKET_BLOCK_MAX) {
          fault = this.fail(off, `${blockName(type)} at offset ${off} claims ${len} bytes, more than the ${PACKET_BLOCK_MAX}-byte limit for packet blocks (corrupt block length)`);
          break;
        }
        if (end - pos < len) {
          this.need = len;
          st = PARSE_NEED;
          break;
        }
        const trailer = dv.getUint32(pos + len - 4, le);
        if (trailer !== len) {
          fault = this.trailerFault(off, len, trailer);
          break;
        }
        let ifId: number, incl: number, orig: number, dataOff: number;
        let us: number, ns: number;
        if (type === SPB) {
          if (this.sectionCount === 0) {
            fault = this.fail(off, `simple packet block at offset ${off} but its section describes no interface`);
            break;
          }
          ifId = 0;
          orig = dv.getUint32(pos + 8, le);
          incl = Math.min(orig, len - 16);
          const snap = this.snaps[this.sectionBase];
          if (snap > 0 && incl > snap) incl = snap;
          dataOff = pos + 12;
          // SPB has no timestamp: it inherits the last one seen.
          us = lastUs;
          ns = lastNs;
        } else {
          ifId = type === EPB ? dv.getUint32(pos + 8, le) : dv.getUint16(pos + 8, le);
          const hi = dv.getUint32(pos + 12, le);
          const lo = dv.getUint32(pos + 16, le);
          incl = dv.getUint32(pos + 20, le);
          orig = dv.getUint32(pos + 24, le);
          if (ifId >= this.sectionCount) {
            fault = this.fail(off, `${blockName(type)} at offset ${off} names interface ${ifId} but its section describes ${this.sectionCount}`);
            break;
          }
          if (incl > len - 32) {
            fault = this.fail(off, `${blockName(type)} at offset ${off} claims ${incl} captured bytes but the ${len}-byte block holds at most ${len - 32}`);
            break;
          }
          dataOff = pos + 28;
          const conv = this.convs[this.sectionBase + ifId];
          if (conv.mode === 0 && conv.offsetSec === 0) {
            us = hi * TWO32 + lo;
            ns = 0;
          } else {
            conv.convert(hi, lo);
            us = conv.us;
            ns = conv.ns;
          }
        }
        const gi = this.sectionBase + ifId;
        const limit = this.limits[gi];
        if (incl > limit) {
          fault = this.fail(off, `${blockName(type)} at offset ${off} claims ${incl} captured bytes, more than the ${limit}-byte limit (corrupt block)`);
          break;
        }
        b.offset[n] = dataOff;
        b.caplen[n] = incl;
        b.origLen[n] = orig;
        b.tsUs[n] = us;
        b.tsSubUsNs[n] = ns;
        b.ifIndex[n] = gi;
        b.fileOffset[n] = off;
        lastUs = us;
        lastNs = ns;
        n++;
        pos += len;
        continue;
      }

      const parsed = type === SHB || type === IDB || type === NRB || type === ISB;
      if (!parsed && len > this.chunkSize && end - pos < len) {
        // Skip a big block we do not read without buffering it; its trailer is checked on arrival.
        this.skipOff = off;
        this.skipLen = len;
        pos += len - 4;
        continue;
      }
      if (parsed && len > META_BLOCK_MAX) {
        fault = this.fail(off, `${blockName(type)} at offset ${off} claims ${len} bytes, more than the ${META_BLOCK_MAX}-byte limit (corrupt block length)`);
        break;
      }
      if (end - pos < len) {
        this.need = len;
        st = PARSE_NEED;
        break;
      }
      const trailer = dv.getUint32(pos + len - 4, blockLe);
      if (trailer !== len) {
        fault = this.trailerFault(off, len, trailer);
        break;
      }
      if (parsed) {
        this.le = blockLe;
        this.lastUs = lastUs;
        this.lastNs = lastNs;
        const ok =
          type === SHB
            ? this.section(buf, pos, len, off)
            : type === IDB
              ? this.interfaceBlock(buf, pos, len, off)
              : type === NRB
                ? this.nameBlock(buf, pos, len, off)
                : this.statsBlock(buf, pos, len, off);
        if (!ok) {
          fault = true;
          break;
        }
        le = blockLe;
      }
      pos += len;
    }

    this.le = le;
    this.lastUs = lastUs;
    this.lastNs = lastNs;
    c.pos = pos;
    b.count = n;
    return fault ? PARSE_ERROR : st;
  }

  private fail(off: number, reason: string): true {
    this.fault = new CaptureError(this.path, off, reason);
    return true;
  }

  private trailerFault(off: number, len: number, trailer: number): true {
    return this.fail(off, `block at offset ${off} has length ${len} but its trailing length says ${trailer} (corrupt block)`);
  }

  /** Calls fn(code, valueOffset, valueLength) per option in [p, end); false (fault set) on overrun. */
  private options(
    buf: Buffer,
    blockPos: number,
    p: number,
    end: number,
    blockOff: number,
    fn: (code: number, v: number, vlen: number) => void,
  ): boolean {
    while (p + 4 <= end) {
      const code = this.u16(buf, p);
      const vlen = this.u16(buf, p + 2);
      if (code === 0) break;
      if (p + 4 + vlen > end) {
        return !this.fail(blockOff, `option ${code} at offset ${blockOff + (p - blockPos)} in the block at offset ${blockOff} runs past the end of its block`);
      }
      fn(code, p + 4, vlen);
      p += 4 + ((vlen + 3) & ~3);
    }
    return true;
  }

  private section(buf: Buffer, pos: number, len: number, off: number): boolean {
    if (len < 28) return !this.fail(off, `section header block at offset ${off} is ${len} bytes, shorter than its 28-byte minimum`);
    const major = this.u16(buf, pos + 12);
    const minor = this.u16(buf, pos + 14);
    if (major !== 1) return !this.fail(off, `section header block at offset ${off} has unsupported version ${major}.${minor}`);
    this.sections++;
    this.sectionBase = this.interfaces.length;
    this.sectionCount = 0;
    return true;
  }

  private interfaceBlock(buf: Buffer, pos: number, len: number, off: number): boolean {
    if (len < 20) return !this.fail(off, `interface description block at offset ${off} is ${len} bytes, shorter than its 20-byte minimum`);
    const linkType = this.u16(buf, pos + 8);
    const snapLen = this.u32(buf, pos + 12);
    let name = '';
    let description = '';
    let tsresol = 6;
    let tsoffset = 0;
    const ok = this.options(buf, pos, pos + 16, pos + len - 4, off, (code, v, vlen) => {
      if (code === 2) name = text(buf, v, vlen);
      else if (code === 3) description = text(buf, v, vlen);
      else if (code === 9 && vlen >= 1) tsresol = buf[v];
      else if (code === 14 && vlen >= 8) tsoffset = Number(this.le ? buf.readBigInt64LE(v) : buf.readBigInt64BE(v));
    });
    if (!ok) return false;
    const index = this.interfaces.length;
    this.interfaces.push({ index, name: name || `${basename(this.path)}#${index}`, description, linkType, snapLen });
    this.convs.push(new TsConv(tsresol, tsoffset));
    this.limits.push(caplenLimit(snapLen));
    this.snaps.push(snapLen);
    this.sectionCount++;
    return true;
  }

  private nameBlock(buf: Buffer, pos: number, len: number, off: number): boolean {
    const end = pos + len - 4;
    let p = pos + 8;
    while (p + 4 <= end) {
      const type = this.u16(buf, p);
      const vlen = this.u16(buf, p + 2);
      if (type === 0) break; // nrb_record_end; options (ignored) follow
      const v = p + 4;
      if (v + vlen > end) {
        return !this.fail(off, `name record at offset ${off + (p - pos)} in the name resolution block at offset ${off} runs past the end of its block`);
      }
      if (type === 1 && vlen >= 4) {
        this.nameRecords.push({ ip: `${buf[v]}.${buf[v + 1]}.${buf[v + 2]}.${buf[v + 3]}`, names: names(buf, v + 4, v + vlen) });
      } else if (type === 2 && vlen >= 16) {
        this.nameRecords.push({ ip: ipv6Text(buf, v), names: names(buf, v + 16, v + vlen) });
      }
      p = v + ((vlen + 3) & ~3);
    }
    return true;
  }

  private statsBlock(buf: Buffer, pos: number, len: number, off: number): boolean {
    if (len < 24) return !this.fail(off, `interface statistics block at offset ${off} is ${len} bytes, shorter than its 24-byte minimum`);
    const ifId = this.u32(buf, pos + 8);
    if (ifId >= this.sectionCount) {
      return !this.fail(off, `interface statistics block at offset ${off} names interface ${ifId} but its section describes ${this.sectionCount}`);
    }
    const ifIndex = this.sectionBase + ifId;
    const conv = this.convs[ifIndex];
    conv.convert(this.u32(buf, pos + 12), this.u32(buf, pos + 16));
    const stats: InterfaceStats = { ifIndex, tsUs: conv.us };
    const ok = this.options(buf, pos, pos + 20, pos + len - 4, off, (code, v, vlen) => {
      if (vlen < 8) return;
      if (code === 4) stats.ifRecv = this.u64(buf, v);
      else if (code === 5) stats.ifDrop = this.u64(buf, v);
      else if (code === 7) stats.osDrop = this.u64(buf, v);
    });
    if (!ok) return false;
    // One entry per interface: the latest statistics replace earlier ones.
    const i = this.interfaceStats.findIndex((s) => s.ifIndex === ifIndex);
    if (i >= 0) this.interfaceStats[i] = stats;
    else this.interfaceStats.push(stats);
    return true;
  }
}

/** UTF-8 option text; writers may include trailing NULs. */
function text(buf: Buffer, v: number, vlen: number): string {
  let e = v + vlen;
  while (e > v && buf[e - 1] === 0) e--;
  return buf.toString('utf8', v, e);
}

/** NUL-separated names in [p, end). */
function names(buf: Buffer, p: number, end: number): string[] {
  const out: string[] = [];
  let s = p;
  for (let i = p; i <= end; i++) {
    if (i === end || buf[i] === 0) {
      if (i > s) out.push(buf.toString('utf8', s, i));
      s = i + 1;
    }
  }
  return out;
}

/** RFC 5952 text of the IPv6 address at buf[p..p+16). */
export function ipv6Text(buf: Buffer, p: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((buf[p + 2 * i] << 8) | buf[p + 2 * i + 1]);
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${w[6] >> 8}.${w[6] & 255}.${w[7] >> 8}.${w[7] & 255}`;
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, z: number) => w.slice(a, z).map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}
