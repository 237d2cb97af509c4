// Broken input: every fault is a CaptureError naming the file, the offset of the bad record and why,
// and every packet before it is delivered first. Each case is read with the default 4 MiB chunks and
// with tiny chunks and batches, so faults that straddle chunk boundaries are covered too.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openCapture } from '../src/engine/capture/open';
import { CaptureError } from '../src/engine/capture/types';
import { fixture, PcapngWriter, readAll, run, tempDir, type Pkt } from './capture-helpers';

const dir = tempDir('malformed');
after(() => rmSync(dir, { recursive: true, force: true }));

const SRC = fixture('vmware-gre-teb.pcap');
const pcap = readFileSync(SRC);
const ngPath = join(dir, 'src.pcapng');
run('editcap', ['-F', 'pcapng', SRC, ngPath]);
const pcapng = readFileSync(ngPath);

let seq = 0;
function file(bytes: Buffer, ext = 'pcap'): string {
  const f = join(dir, `case-${++seq}.${ext}`);
  writeFileSync(f, bytes);
  return f;
}

async function good(path: string): Promise<Pkt[]> {
  const r = await readAll(path);
  assert.equal(r.error, null);
  return r.packets;
}

const READS = [{}, { chunkSize: 4096, batchCapacity: 5 }, { chunkSize: 256, batchCapacity: 3 }];

/** Reads path every way; each must deliver exactly `packets` then fail at `offset` with a reason matching `re`. */
async function expectFault(path: string, offset: number, re: RegExp, packets: Pkt[]): Promise<CaptureError> {
  let last: CaptureError | null = null;
  for (const opts of READS) {
    const r = await readAll(path, opts);
    const how = JSON.stringify(opts);
    assert.ok(r.error instanceof CaptureError, `${how}: expected a CaptureError, read ${r.packets.length} packets without one`);
    assert.equal(r.error.file, path);
    assert.match(r.error.reason, re, how);
    assert.equal(r.error.offset, offset, `${how}: offset (${r.error.message})`);
    assert.ok(r.error.message.includes(path) && r.error.message.includes(String(offset)), r.error.message);
    assert.equal(r.packets.length, packets.length, `${how}: packets delivered before the fault`);
    r.packets.forEach((p, i) => {
      const w = packets[i];
      if (p.tsUs !== w.tsUs || p.caplen !== w.caplen || !p.data.equals(w.data)) assert.fail(`${how}: packet ${i + 1} differs`);
    });
    last = r.error;
  }
  return last!;
}

async function expectOpenFault(path: string, re: RegExp): Promise<void> {
  await assert.rejects(openCapture(path), (e: unknown) => {
    assert.ok(e instanceof CaptureError, String(e));
    assert.equal(e.offset, 0);
    assert.equal(e.file, path);
    assert.match(e.reason, re);
    return true;
  });
}

// ---- classic pcap ----

test('pcap cut inside the last packet: all earlier packets, then "claims N captured bytes but only 10 remain"', async () => {
  const all = await good(SRC);
  const last = all.at(-1)!;
  const f = file(pcap.subarray(0, last.fileOffset + 16 + 10));
  const e = await expectFault(f, last.fileOffset, /claims \d+ captured bytes but only 10 remain \(truncated file\)/, all.slice(0, -1));
  assert.match(e.reason, new RegExp(`^record at offset ${last.fileOffset} claims ${last.caplen} captured bytes`));
});

test('pcap cut inside the last record header', async () => {
  const all = await good(SRC);
  const last = all.at(-1)!;
  const f = file(pcap.subarray(0, last.fileOffset + 5));
  await expectFault(f, last.fileOffset, /record header at offset \d+ is cut short: 5 of 16 bytes \(truncated file\)/, all.slice(0, -1));
});

test('pcap with garbage appended: every packet, then a fault at the old end of file', async () => {
  const all = await good(SRC);
  await expectFault(file(Buffer.concat([pcap, Buffer.alloc(100, 0xab)])), pcap.length, /more than the 262144-byte limit/, all);
  await expectFault(file(Buffer.concat([pcap, Buffer.alloc(7, 0x01)])), pcap.length, /cut short: 7 of 16 bytes/, all);
});

test('pcap record whose length runs past the end of the file', async () => {
  const all = await good(SRC);
  const k = 20;
  const b = Buffer.from(pcap);
  b.writeUInt32LE(100000, all[k].fileOffset + 8);
  const remain = pcap.length - all[k].fileOffset - 16;
  await expectFault(file(b), all[k].fileOffset, new RegExp(`claims 100000 captured bytes but only ${remain} remain \\(truncated file\\)`), all.slice(0, k));
});

test('pcap record with an absurd captured length is an error, not an allocation', async () => {
  const all = await good(SRC);
  const k = 30;
  const b = Buffer.from(pcap);
  b.writeUInt32LE(0x7fffffff, all[k].fileOffset + 8);
  await expectFault(file(b), all[k].fileOffset, /claims 2147483647 captured bytes, more than the 262144-byte limit/, all.slice(0, k));
});

test('pcap header only: no packets, no error; header cut short: error at open', async () => {
  const r = await readAll(file(pcap.subarray(0, 24)));
  assert.equal(r.error, null);
  assert.equal(r.packets.length, 0);
  await expectOpenFault(file(pcap.subarray(0, 10)), /pcap file header cut short: 10 of 24 bytes/);
});

test('not a capture, or empty: CaptureError at offset 0 naming the magic', async () => {
  await expectOpenFault(file(Buffer.from('hello world, not a capture\n')), /^not a pcap or pcapng file \(magic 0x68656c6c\)$/);
  await expectOpenFault(file(Buffer.alloc(0)), /empty/);
  await expectOpenFault(file(Buffer.from([0xd4, 0xc3])), /not a pcap or pcapng file \(magic 0xd4c3\)/);
  await expectOpenFault(file(gzipSync(Buffer.from('PK\x03\x04 zip, not pcap'))), /not a pcap or pcapng file inside gzip \(magic 0x504b0304\)/);
  await expectOpenFault(file(gzipSync(Buffer.alloc(0))), /gzip file, but it decompresses to nothing/);
  await expectOpenFault(file(Buffer.from([0x1f, 0x8b, 0x08, 0, 1, 2, 3])), /gzip file, but its gzip data is corrupt/);
});

// ---- gzip ----

test('gzip cut short: a prefix of the packets, then a gzip CaptureError', async () => {
  const src = fixture('memcached-userdata.pcap');
  const all = await good(src);
  const gz = gzipSync(readFileSync(src));
  const f = file(gz.subarray(0, Math.floor(gz.length * 0.6)), 'pcap.gz');
  const r = await readAll(f);
  assert.ok(r.error instanceof CaptureError);
  assert.match(r.error.reason, /gzip data is corrupt or cut short after \d+ decompressed bytes/);
  assert.ok(r.packets.length > 1000 && r.packets.length < all.length, `${r.packets.length} packets`);
  r.packets.forEach((p, i) => assert.ok(p.data.equals(all[i].data) && p.tsUs === all[i].tsUs, `packet ${i + 1}`));
  // The fault is at the first record not fully decompressed.
  assert.equal(r.error.offset, all[r.packets.length].fileOffset);
});

test('gzip of a pcap cut inside a record: same offset and packets as the plain file (decompressed offsets)', async () => {
  const all = await good(SRC);
  const last = all.at(-1)!;
  const f = file(gzipSync(pcap.subarray(0, last.fileOffset + 16 + 10)), 'pcap.gz');
  await expectFault(f, last.fileOffset, /claims \d+ captured bytes but only 10 remain \(truncated file\)/, all.slice(0, -1));
});

// ---- pcapng ----

async function ngPackets(): Promise<Pkt[]> {
  return good(ngPath);
}

function edit(fn: (b: Buffer) => Buffer | void): string {
  const b = Buffer.from(pcapng);
  return file(fn(b) ?? b, 'pcapng');
}

test('pcapng: a zero-length block is an error at its offset', async () => {
  const all = await ngPackets();
  const at = all[11].fileOffset;
  const zero = Buffer.from([6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const f = edit((b) => Buffer.concat([b.subarray(0, at), zero, b.subarray(at)]));
  await expectFault(f, at, /^enhanced packet block at offset \d+ has a zero block length/, all.slice(0, 11));
});

test('pcapng: block lengths below 12 or not a multiple of 4 are errors', async () => {
  const all = await ngPackets();
  const at = all[11].fileOffset;
  await expectFault(edit((b) => void b.writeUInt32LE(8, at + 4)), at, /a block length of 8 \(minimum 12\)/, all.slice(0, 11));
  const len = pcapng.readUInt32LE(at + 4);
  await expectFault(edit((b) => void b.writeUInt32LE(len + 2, at + 4)), at, new RegExp(`a block length of ${len + 2}, not a multiple of 4`), all.slice(0, 11));
});

test('pcapng: a block length past the end of the file', async () => {
  const all = await ngPackets();
  const at = all[11].fileOffset;
  const f = edit((b) => void b.writeUInt32LE(1000000, at + 4));
  await expectFault(f, at, new RegExp(`claims 1000000 bytes but only ${pcapng.length - at} remain \\(truncated file\\)`), all.slice(0, 11));
  // Through gzip the size is unknown up front: the same fault shows when the data runs out.
  const gz = file(gzipSync(readFileSync(f)), 'pcapng.gz');
  await expectFault(gz, at, /claims 1000000 bytes but only \d+ remain \(truncated file\)/, all.slice(0, 11));
});

test('pcapng: a trailing length that differs from the leading one', async () => {
  const all = await ngPackets();
  const at = all[11].fileOffset;
  const len = pcapng.readUInt32LE(at + 4);
  const f = edit((b) => void b.writeUInt32LE(len + 4, at + len - 4));
  await expectFault(f, at, new RegExp(`has length ${len} but its trailing length says ${len + 4}`), all.slice(0, 11));
});

test('pcapng: cut inside the last block, and garbage appended', async () => {
  const all = await ngPackets();
  const last = all.at(-1)!;
  await expectFault(file(pcapng.subarray(0, last.fileOffset + 20), 'pcapng'), last.fileOffset, /enhanced packet block at offset \d+ claims \d+ bytes but only 20 remain \(truncated file\)/, all.slice(0, -1));
  await expectFault(file(pcapng.subarray(0, last.fileOffset + 6), 'pcapng'), last.fileOffset, /block header at offset \d+ is cut short: 6 of 8 bytes/, all.slice(0, -1));
  await expectFault(file(Buffer.concat([pcapng, Buffer.alloc(64, 0xab)]), 'pcapng'), pcapng.length, /not a multiple of 4/, all);
});

test('pcapng: a packet naming an interface its section does not describe', async () => {
  const all = await ngPackets();
  const at = all[11].fileOffset;
  await expectFault(edit((b) => void b.writeUInt32LE(5, at + 8)), at, /names interface 5 but its section describes 1/, all.slice(0, 11));
});

test('pcapng: a captured length larger than its block, or above the limit', async () => {
  const all = await ngPackets();
  const at = all[11].fileOffset;
  const len = pcapng.readUInt32LE(at + 4);
  await expectFault(edit((b) => void b.writeUInt32LE(len, at + 20)), at, new RegExp(`claims ${len} captured bytes but the ${len}-byte block holds at most ${len - 32}`), all.slice(0, 11));
  // A 300000-byte packet on an interface without snaplen: over the 256 KiB limit.
  const w = new PcapngWriter(true);
  w.shb();
  w.idb({ snapLen: 0 });
  w.epb(0, BigInt(all[0].tsUs), all[0].data);
  const bigAt = w.epb(0, 2n, Buffer.alloc(300000));
  await expectFault(file(w.build(), 'pcapng'), bigAt, /claims 300000 captured bytes, more than the 262144-byte limit/, all.slice(0, 1));
});

test('pcapng: a second section with an unknown byte-order magic', async () => {
  const all = await ngPackets();
  const shb = Buffer.from(pcapng.subarray(0, pcapng.readUInt32LE(4)));
  shb.writeUInt32LE(0x01020304, 8);
  await expectFault(file(Buffer.concat([pcapng, shb]), 'pcapng'), pcapng.length, /unknown byte-order magic 0x04030201/, all);
});

test('pcapng: a block bigger than a chunk is skipped by length; a bogus huge one is a truncation', async () => {
  const data = (await good(SRC)).slice(0, 3);
  const w = new PcapngWriter(true);
  w.shb();
  w.idb({ name: 'eth0' });
  w.epb(0, 1n, data[0].data);
  w.block(0x00000bad, Buffer.alloc(300000, 0x5a)); // custom block, far bigger than the 4 KiB chunks below
  w.epb(0, 2n, data[1].data);
  w.epb(0, 3n, data[2].data);
  const ok = w.build();
  for (const opts of [{}, { chunkSize: 4096 }, { chunkSize: 1024, batchCapacity: 1 }]) {
    for (const bytes of [ok, gzipSync(ok)]) {
      const r = await readAll(file(bytes, 'pcapng'), opts);
      assert.equal(r.error, null, r.error?.message);
      assert.deepEqual(
        r.packets.map((p) => p.tsUs),
        [1, 2, 3],
      );
    }
  }
  // The same with a mismatching trailer on the big block is caught even when it was skipped.
  const bad = Buffer.from(ok);
  const bigAt = ok.indexOf(Buffer.from([0xad, 0x0b, 0, 0]));
  const bigLen = ok.readUInt32LE(bigAt + 4);
  bad.writeUInt32LE(12, bigAt + bigLen - 4);
  const r = await readAll(file(gzipSync(bad), 'pcapng.gz'), { chunkSize: 4096 });
  assert.ok(r.error instanceof CaptureError);
  assert.equal(r.error.offset, bigAt);
  assert.match(r.error.reason, /trailing length says 12/);
  assert.equal(r.packets.length, 1);
  // A custom block claiming 100 MB in a small gzip file: skipped until the data ends, then reported.
  const huge = Buffer.from(ok.subarray(0, bigAt + 16));
  huge.writeUInt32LE(100 << 20, bigAt + 4);
  const r2 = await readAll(file(gzipSync(huge), 'pcapng.gz'), { chunkSize: 4096 });
  assert.ok(r2.error instanceof CaptureError);
  assert.equal(r2.error.offset, bigAt);
  assert.match(r2.error.reason, new RegExp(`claims ${100 << 20} bytes but only 16 remain \\(truncated file\\)`));
});
