// Classic libpcap files: 24-byte file header, then records of a 16-byte header (ts sec, ts µs or ns,
// captured length, original length) and the packet. Magic a1b2c3d4 (µs) / a1b23c4d (ns) in either
// byte order, and a1b2cd34, Alexey Kuznetsov's "modified" format whose record headers carry 8 more
// bytes (ifindex, protocol, pkt_type, pad).

import { basename } from 'node:path';
import { PARSE_FULL, PARSE_NEED, StreamSource, caplenLimit, type ReaderOptions } from './stream-source';
import { CaptureError, type PacketBatch } from './types';

export const PCAP_HEADER_LEN = 24;

/** LT_LINKTYPE(): the link type lives in the low 26 bits; bits 26..31 flag and size an FCS. */
const LINKTYPE_MASK = 0x03ffffff;

export interface PcapHeader {
  littleEndian: boolean;
  nanos: boolean;
  modified: boolean;
  versionMajor: number;
  versionMinor: number;
  snapLen: number;
  linkType: number;
  /** The raw link type field, FCS bits included. */
  linkTypeField: number;
}

/** Recognizes a pcap magic in the first 4 bytes (any byte order); null if it is not one. */
export function pcapMagic(b: Buffer): { littleEndian: boolean; nanos: boolean; modified: boolean } | null {
  if (b.length < 4) return null;
  for (const le of [true, false]) {
    const m = le ? b.readUInt32LE(0) : b.readUInt32BE(0);
    if (m === 0xa1b2c3d4) return { littleEndian: le, nanos: false, modified: false };
    if (m === 0xa1b23c4d) return { littleEndian: le, nanos: true, modified: false };
    if (m === 0xa1b2cd34) return { littleEndian: le, nanos: false, modified: true };
  }
  return null;
}

/** Parses the 24-byte file header; throws CaptureError when it is not one or is cut short. */
export function parsePcapHeader(path: string, b: Buffer): PcapHeader {
  const m = pcapMagic(b);
  if (!m) throw new CaptureError(path, 0, `not a pcap file (magic 0x${b.subarray(0, 4).toString('hex')})`);
  if (b.length < PCAP_HEADER_LEN) {
    throw new CaptureError(path, 0, `pcap file header cut short: ${b.length} of ${PCAP_HEADER_LEN} bytes (truncated file)`);
  }
  const le = m.littleEndian;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const field = u32(20);
  // Version is not checked: writers exist that store it in the wrong byte order (memcached-userdata.pcap).
  return {
    ...m,
    versionMajor: u16(4),
    versionMinor: u16(6),
    snapLen: u32(16),
    linkType: field & LINKTYPE_MASK,
    linkTypeField: field,
  };
}

export class PcapSource extends StreamSource {
  private le: boolean;
  private nanos: boolean;
  private hdrLen: number;
  private limit: number;
  private headerDone = false;

  constructor(path: string, totalBytes: number, gzip: boolean, header: PcapHeader, opts: ReaderOptions = {}) {
    super(path, gzip ? 'pcap+gzip' : 'pcap', totalBytes, gzip, opts);
    this.le = header.littleEndian;
    this.nanos = header.nanos;
    this.hdrLen = header.modified ? 24 : 16;
    this.limit = caplenLimit(header.snapLen);
    this.setInterface(header);
  }

  private setInterface(h: PcapHeader): void {
    this.interfaces.length = 0;
    this.interfaces.push({ index: 0, name: basename(this.path), description: '', linkType: h.linkType, snapLen: h.snapLen });
  }

  protected reset(): void {
    this.headerDone = false;
  }

  protected atEnd(remaining: number): CaptureError | null {
    if (!this.headerDone) {
      return new CaptureError(this.path, 0, `pcap file header cut short: ${remaining} of ${PCAP_HEADER_LEN} bytes (truncated file)`);
    }
    if (remaining === 0) return null;
    const c = this.chunks;
    const off = c.base + c.pos;
    const hl = this.hdrLen;
    if (remaining < hl) {
      return new CaptureError(
        this.path,
        off,
        `record header at offset ${off} is cut short: ${remaining} of ${hl} bytes (truncated file)`,
      );
    }
    const incl = this.le ? c.buf.readUInt32LE(c.pos + 8) : c.buf.readUInt32BE(c.pos + 8);
    return new CaptureError(
      this.path,
      off,
      `record at offset ${off} claims ${incl} captured bytes but only ${remaining - hl} remain (truncated file)`,
    );
  }

  protected parse(b: PacketBatch): number {
    const c = this.chunks;
    const buf = c.buf;
    const dv = c.view;
    const end = c.end;
    let pos = c.pos;
    if (!this.headerDone) {
      if (end - pos < PCAP_HEADER_LEN) {
        this.need = PCAP_HEADER_LEN;
        return PARSE_NEED;
      }
      // Re-read on every pass: the header decides byte order and record size.
      const h = parsePcapHeader(this.path, buf.subarray(pos, pos + PCAP_HEADER_LEN));
      this.le = h.littleEndian;
      this.nanos = h.nanos;
      this.hdrLen = h.modified ? 24 : 16;
      this.limit = caplenLimit(h.snapLen);
      this.setInterface(h);
      pos += PCAP_HEADER_LEN;
      c.pos = pos;
      this.headerDone = true;
    }
    const hl = this.hdrLen;
    const le = this.le;
    const nanos = this.nanos;
    const limit = this.limit;
    const base = c.base;
    const cap = b.capacity;
    const offset = b.offset;
    const caplen = b.caplen;
    const origLen = b.origLen;
    const tsUs = b.tsUs;
    const tsSubUsNs = b.tsSubUsNs;
    const ifIndex = b.ifIndex;
    const fileOffset = b.fileOffset;
    let n = b.count;
    let st = PARSE_FULL;
    while (n < cap) {
      if (end - pos < hl) {
        this.need = hl;
        st = PARSE_NEED;
        break;
      }
      const sec = dv.getUint32(pos, le);
      const frac = dv.getUint32(pos + 4, le);
      const incl = dv.getUint32(pos + 8, le);
      const orig = dv.getUint32(pos + 12, le);
      if (incl > limit) {
        c.pos = pos;
        b.count = n;
        const off = base + pos;
        return this.error(
          off,
          `record at offset ${off} claims ${incl} captured bytes, more than the ${limit}-byte limit (corrupt record header)`,
        );
      }
      if (end - pos - hl < incl) {
        this.need = hl + incl;
        st = PARSE_NEED;
        break;
      }
      offset[n] = pos + hl;
      caplen[n] = incl;
      origLen[n] = orig;
      if (nanos) {
        const us = Math.floor(frac / 1000);
        tsUs[n] = sec * 1e6 + us;
        tsSubUsNs[n] = frac - us * 1000;
      } else {
        tsUs[n] = sec * 1e6 + frac;
        tsSubUsNs[n] = 0;
      }
      ifIndex[n] = 0;
      fileOffset[n] = base + pos;
      pos += hl + incl;
      n++;
    }
    c.pos = pos;
    b.count = n;
    return st;
  }
}
