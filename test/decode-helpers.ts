// Test helpers for the decoder tests: a tiny pcap reader/writer and a tshark runner.
// (The project's streaming reader lives in src/engine/capture; these tests must not depend on it.)

import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface PcapPacket {
  off: number;
  caplen: number;
  origLen: number;
  tsUs: number;
}

export interface Pcap {
  buf: Buffer;
  linkType: number;
  packets: PcapPacket[];
}

/** Reads a whole classic pcap (µs / ns, either byte order, and the "modified" a1b2cd34 variant). */
export function readPcap(path: string): Pcap {
  const buf = readFileSync(path);
  const magicLE = buf.readUInt32LE(0);
  const magicBE = buf.readUInt32BE(0);
  const magics: Record<number, [boolean, number]> = {
    0xa1b2c3d4: [false, 1],
    0xa1b23c4d: [true, 1],
    0xa1b2cd34: [false, 2],
  };
  let le: boolean;
  let m: [boolean, number];
  if (magics[magicLE]) {
    le = true;
    m = magics[magicLE];
  } else if (magics[magicBE]) {
    le = false;
    m = magics[magicBE];
  } else {
    throw new Error(`${path}: not a pcap file (magic ${magicLE.toString(16)})`);
  }
  const [ns, kind] = m;
  const r32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linkType = r32(20) & 0x0fffffff;
  const recHdr = kind === 2 ? 24 : 16;
  const packets: PcapPacket[] = [];
  let p = 24;
  while (p + recHdr <= buf.length) {
    const sec = r32(p);
    const frac = r32(p + 4);
    const caplen = r32(p + 8);
    const origLen = r32(p + 12);
    if (p + recHdr + caplen > buf.length) break;
    packets.push({ off: p + recHdr, caplen, origLen, tsUs: sec * 1e6 + (ns ? Math.floor(frac / 1000) : frac) });
    p += recHdr + caplen;
  }
  return { buf, linkType, packets };
}

/** Writes a little-endian µs pcap with the given link type. */
export function writePcap(path: string, linkType: number, frames: { data: Buffer; tsUs?: number; origLen?: number }[]): void {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(262144, 16);
  h.writeUInt32LE(linkType, 20);
  parts.push(h);
  let t = 1_700_000_000_000_000;
  for (const f of frames) {
    const r = Buffer.alloc(16);
    const ts = f.tsUs ?? (t += 1000);
    r.writeUInt32LE(Math.floor(ts / 1e6), 0);
    r.writeUInt32LE(ts % 1e6, 4);
    r.writeUInt32LE(f.data.length, 8);
    r.writeUInt32LE(f.origLen ?? f.data.length, 12);
    parts.push(r, f.data);
  }
  writeFileSync(path, Buffer.concat(parts));
}

/** Writes a pcapng with one interface per entry of `linkTypes`; frames name their interface. */
export function writePcapng(path: string, linkTypes: number[], frames: { iface: number; data: Buffer }[]): void {
  const block = (type: number, body: Buffer) => {
    const pad = (4 - (body.length % 4)) % 4;
    const len = 12 + body.length + pad;
    const b = Buffer.alloc(len);
    b.writeUInt32LE(type, 0);
    b.writeUInt32LE(len, 4);
    body.copy(b, 8);
    b.writeUInt32LE(len, len - 4);
    return b;
  };
  const parts: Buffer[] = [];
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeInt32LE(-1, 8);
  shb.writeInt32LE(-1, 12);
  parts.push(block(0x0a0d0d0a, shb));
  for (const lt of linkTypes) {
    const idb = Buffer.alloc(8);
    idb.writeUInt16LE(lt, 0);
    idb.writeUInt32LE(262144, 4);
    parts.push(block(1, idb));
  }
  let ts = 1_700_000_000_000_000;
  for (const f of frames) {
    const h = Buffer.alloc(20);
    ts += 1000;
    h.writeUInt32LE(f.iface, 0);
    h.writeUInt32LE(Math.floor(ts / 2 ** 32), 4);
    h.writeUInt32LE(ts % 2 ** 32, 8);
    h.writeUInt32LE(f.data.length, 12);
    h.writeUInt32LE(f.data.length, 16);
    parts.push(block(6, Buffer.concat([h, f.data])));
  }
  writeFileSync(path, Buffer.concat(parts));
}

/** Runs tshark -T fields; one row per frame, each field split into its occurrences (nested layers). */
export function tsharkFields(file: string, fields: string[], extra: string[] = []): string[][][] {
  const args = ['-r', file, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,', ...extra];
  for (const f of fields) args.push('-e', f);
  const out = execFileSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
  const rows = out.split('\n');
  if (rows[rows.length - 1] === '') rows.pop();
  return rows.map((line) => line.split('\t').map((v) => (v === '' ? [] : v.split(','))));
}

/** The last (innermost) occurrence of a field, or undefined. */
export function last(v: string[]): string | undefined {
  return v.length ? v[v.length - 1] : undefined;
}

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export const FIXTURES = '/work/shared/fixtures/deepflow';

/** Every .pcap under the DeepFlow fixtures, sorted. */
export function fixturePcaps(dir = FIXTURES): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.pcap')) found.push(p);
    }
  };
  walk(dir);
  return found.sort();
}
