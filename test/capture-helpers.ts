// Shared by the capture-*.test.ts files: read a capture fully, ask tshark, write pcapng by hand,
// byte-swap a pcap. Not a test file itself.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCapture, type ReaderOptions } from '../src/engine/capture/open';
import { CaptureError, type PacketSource } from '../src/engine/capture/types';
import { prng } from './prng';
export { prng };

export const FIXTURES = '/work/shared/fixtures/deepflow';

/** Every *.pcap under the DeepFlow fixtures, sorted. */
export function fixturePcaps(dir = FIXTURES): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.pcap')) out.push(join(e.parentPath, e.name));
  }
  return out.sort();
}

export function fixture(name: string): string {
  const f = fixturePcaps().find((p) => p.endsWith('/' + name));
  if (!f) throw new Error(`no fixture ${name}`);
  return f;
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `flowscope-${tag}-`));
}

export interface Pkt {
  tsUs: number;
  ns: number;
  caplen: number;
  origLen: number;
  ifIndex: number;
  fileOffset: number;
  data: Buffer;
}

export interface ReadResult {
  source: PacketSource;
  packets: Pkt[];
  error: CaptureError | null;
  batches: number;
  bytesRead: number[];
}

/** Reads a whole capture, copying every packet; a CaptureError is returned, anything else thrown. */
export async function readAll(path: string, opts: ReaderOptions = {}, keepData = true): Promise<ReadResult> {
  const source = await openCapture(path, opts);
  const packets: Pkt[] = [];
  const bytesRead: number[] = [];
  let batches = 0;
  let error: CaptureError | null = null;
  try {
    for await (const b of source.batches()) {
      batches++;
      bytesRead.push(b.bytesRead);
      for (let i = 0; i < b.count; i++) {
        packets.push({
          tsUs: b.tsUs[i],
          ns: b.tsSubUsNs[i],
          caplen: b.caplen[i],
          origLen: b.origLen[i],
          ifIndex: b.ifIndex[i],
          fileOffset: b.fileOffset[i],
          data: keepData ? Buffer.from(b.buf.subarray(b.offset[i], b.offset[i] + b.caplen[i])) : Buffer.alloc(0),
        });
      }
    }
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e;
    error = e;
  }
  return { source, packets, error, batches, bytesRead };
}

/** "1704680300.190614123" → [µs, ns within µs], exactly (no float rounding). */
export function epochToUs(s: string): [number, number] {
  const [sec, frac = ''] = s.split('.');
  const f = (frac + '000000000').slice(0, 9);
  return [Number(sec) * 1e6 + Number(f.slice(0, 6)), Number(f.slice(6, 9))];
}

export interface TsharkFrame {
  ifId: number;
  us: number;
  ns: number;
  caplen: number;
  len: number;
}

/** tshark's view of every frame: interface id, timestamp, captured and original length. */
export function tsharkFrames(path: string): TsharkFrame[] {
  const out = execFileSync(
    'tshark',
    ['-r', path, '-T', 'fields', '-e', 'frame.interface_id', '-e', 'frame.time_epoch', '-e', 'frame.cap_len', '-e', 'frame.len'],
    { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const frames: TsharkFrame[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [ifId, ts, caplen, len] = line.split('\t');
    const [us, ns] = epochToUs(ts);
    frames.push({ ifId: Number(ifId || 0), us, ns, caplen: Number(caplen), len: Number(len) });
  }
  return frames;
}

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}


/** Rewrites a little-endian classic pcap (16- or 24-byte record headers) in big-endian byte order. */
export function pcapToBigEndian(src: Buffer): Buffer {
  const out = Buffer.from(src);
  const magic = src.readUInt32LE(0);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d && magic !== 0xa1b2cd34) throw new Error('not a little-endian pcap');
  const hl = magic === 0xa1b2cd34 ? 24 : 16;
  out.writeUInt32BE(magic, 0);
  out.writeUInt16BE(src.readUInt16LE(4), 4);
  out.writeUInt16BE(src.readUInt16LE(6), 6);
  for (const o of [8, 12, 16, 20]) out.writeUInt32BE(src.readUInt32LE(o), o);
  let p = 24;
  while (p + hl <= src.length) {
    for (const o of [0, 4, 8, 12]) out.writeUInt32BE(src.readUInt32LE(p + o), p + o);
    if (hl === 24) {
      out.writeUInt32BE(src.readUInt32LE(p + 16), p + 16); // ifindex
      out.writeUInt16BE(src.readUInt16LE(p + 20), p + 20); // protocol
    }
    p += hl + src.readUInt32LE(p + 8);
  }
  return out;
}

export interface IdbSpec {
  linkType?: number;
  snapLen?: number;
  name?: string;
  description?: string;
  /** if_tsresol byte. */
  tsresol?: number;
  /** if_tsoffset seconds. */
  tsoffset?: bigint;
}

/** Writes pcapng blocks by hand, in either byte order, for the cases the Wireshark tools do not make. */
export class PcapngWriter {
  private parts: Buffer[] = [];
  constructor(private le = true) {}

  get length(): number {
    return this.parts.reduce((a, b) => a + b.length, 0);
  }

  private u16(v: number): Buffer {
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return b;
  }
  private u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    return b;
  }
  private u64(v: bigint): Buffer {
    const b = Buffer.alloc(8);
    if (this.le) b.writeBigUInt64LE(BigInt.asUintN(64, v));
    else b.writeBigUInt64BE(BigInt.asUintN(64, v));
    return b;
  }
  private option(code: number, value: Buffer): Buffer {
    const pad = (4 - (value.length % 4)) % 4;
    return Buffer.concat([this.u16(code), this.u16(value.length), value, Buffer.alloc(pad)]);
  }
  private options(list: Buffer[]): Buffer {
    return list.length ? Buffer.concat([...list, this.u32(0)]) : Buffer.alloc(0);
  }
  /** Appends a block; returns its offset. */
  block(type: number, body: Buffer): number {
    const off = this.length;
    const len = 12 + body.length;
    this.parts.push(this.u32(type), this.u32(len), body, this.u32(len));
    return off;
  }

  /** A section header; later blocks use this writer's byte order (switch it with setLittleEndian first). */
  shb(): number {
    return this.block(0x0a0d0d0a, Buffer.concat([this.u32(0x1a2b3c4d), this.u16(1), this.u16(0), this.u64(-1n)]));
  }
  setLittleEndian(le: boolean): void {
    this.le = le;
  }
  idb(spec: IdbSpec = {}): number {
    const opts: Buffer[] = [];
    if (spec.name !== undefined) opts.push(this.option(2, Buffer.from(spec.name)));
    if (spec.description !== undefined) opts.push(this.option(3, Buffer.from(spec.description)));
    if (spec.tsresol !== undefined) opts.push(this.option(9, Buffer.from([spec.tsresol])));
    if (spec.tsoffset !== undefined) {
      const b = Buffer.alloc(8);
      if (this.le) b.writeBigInt64LE(spec.tsoffset);
      else b.writeBigInt64BE(spec.tsoffset);
      opts.push(this.option(14, b));
    }
    return this.block(
      1,
      Buffer.concat([this.u16(spec.linkType ?? 1), this.u16(0), this.u32(spec.snapLen ?? 0), this.options(opts)]),
    );
  }
  private padded(data: Buffer): Buffer {
    return Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
  }
  /** Enhanced packet block; ts in the interface's units. */
  epb(ifId: number, ts: bigint, data: Buffer, origLen = data.length, comment?: string): number {
    const t = BigInt.asUintN(64, ts);
    const opts = comment ? this.options([this.option(1, Buffer.from(comment))]) : Buffer.alloc(0);
    return this.block(
      6,
      Buffer.concat([
        this.u32(ifId),
        this.u32(Number(t >> 32n)),
        this.u32(Number(t & 0xffffffffn)),
        this.u32(data.length),
        this.u32(origLen),
        this.padded(data),
        opts,
      ]),
    );
  }
  /** Simple packet block (interface 0 of the section, no timestamp). */
  spb(data: Buffer, origLen = data.length): number {
    return this.block(3, Buffer.concat([this.u32(origLen), this.padded(data)]));
  }
  /** Obsolete packet block (type 2). */
  opb(ifId: number, ts: bigint, data: Buffer, origLen = data.length): number {
    return this.block(
      2,
      Buffer.concat([
        this.u16(ifId),
        this.u16(0),
        this.u32(Number(ts >> 32n)),
        this.u32(Number(ts & 0xffffffffn)),
        this.u32(data.length),
        this.u32(origLen),
        this.padded(data),
      ]),
    );
  }
  /** Name resolution block: [ip bytes (4 or 16), names]. */
  nrb(records: [Buffer, string[]][]): number {
    const recs: Buffer[] = [];
    for (const [ip, names] of records) {
      const value = Buffer.concat([ip, ...names.map((n) => Buffer.from(n + '\0'))]);
      recs.push(this.option(ip.length === 4 ? 1 : 2, value));
    }
    recs.push(this.u32(0));
    return this.block(4, Buffer.concat(recs));
  }
  isb(ifId: number, ts: bigint, counters: { recv?: bigint; drop?: bigint; osdrop?: bigint }): number {
    const opts: Buffer[] = [];
    if (counters.recv !== undefined) opts.push(this.option(4, this.u64(counters.recv)));
    if (counters.drop !== undefined) opts.push(this.option(5, this.u64(counters.drop)));
    if (counters.osdrop !== undefined) opts.push(this.option(7, this.u64(counters.osdrop)));
    return this.block(
      5,
      Buffer.concat([this.u32(ifId), this.u32(Number(ts >> 32n)), this.u32(Number(ts & 0xffffffffn)), this.options(opts)]),
    );
  }
  /** Decryption secrets block (TLS key log): skipped by the readers. */
  dsb(secrets: Buffer): number {
    return this.block(0x0a, Buffer.concat([this.u32(0x544c534b), this.u32(secrets.length), this.padded(secrets)]));
  }
  raw(b: Buffer): number {
    const off = this.length;
    this.parts.push(b);
    return off;
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}
