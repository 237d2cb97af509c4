// Seeded mutation fuzzing of real captures (pcap, modified pcap, big-endian pcap, pcapng from editcap,
// a hand-written pcapng with every block type, gzip of mutated bytes). Whatever the bytes: only
// CaptureError escapes, reading ends, batches are consistent, and no large buffer is allocated.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openCapture, type ReaderOptions } from '../src/engine/capture/open';
import { CaptureError } from '../src/engine/capture/types';
import { fixture, PcapngWriter, pcapToBigEndian, prng, readAll, run, tempDir } from './capture-helpers';

const dir = tempDir('fuzz');
after(() => rmSync(dir, { recursive: true, force: true }));

// FUZZ_SEED / FUZZ_ITERATIONS explore further; the defaults are what CI runs.
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 20240601);

async function corpus(): Promise<{ name: string; bytes: Buffer; gzip: boolean }[]> {
  const out: { name: string; bytes: Buffer; gzip: boolean }[] = [];
  for (const name of ['vmware-gre-teb.pcap', 'nats-nrpc2.pcap', 'truncate-1024.pcap', 'amqp-error.pcap']) {
    out.push({ name, bytes: readFileSync(fixture(name)), gzip: false });
  }
  out.push({ name: 'be.pcap', bytes: pcapToBigEndian(readFileSync(fixture('vmware-gre-teb.pcap'))), gzip: false });
  for (const name of ['vmware-gre-teb.pcap', 'nats-nrpc3.pcap']) {
    const f = join(dir, `${name}.pcapng`);
    run('editcap', ['-F', 'pcapng', fixture(name), f]);
    out.push({ name: `${name}.pcapng`, bytes: readFileSync(f), gzip: false });
  }
  // Every block type, two sections, both byte orders.
  const pk = (await readAll(fixture('vmware-gre-teb.pcap'))).packets.slice(0, 4).map((p) => p.data);
  const w = new PcapngWriter(true);
  w.shb();
  w.idb({ name: 'eth0', description: 'd', tsresol: 9, tsoffset: 10n, snapLen: 1500 });
  w.idb({ name: 'veth1', tsresol: 0x80 | 20 });
  w.epb(0, 1700000000123456789n, pk[0]);
  w.spb(pk[1]);
  w.opb(1, 1700000000n << 20n, pk[2]);
  w.nrb([
    [Buffer.from([10, 0, 0, 1]), ['a', 'b']],
    [Buffer.alloc(16, 1), ['v6']],
  ]);
  w.isb(0, 1700000000123456789n, { recv: 10n, drop: 1n, osdrop: 2n });
  w.dsb(Buffer.from('secret'));
  w.block(0x40000bad, Buffer.alloc(20, 3));
  w.setLittleEndian(false);
  w.shb();
  w.idb({ name: 'lo', tsresol: 3 });
  w.epb(0, 1700000000123n, pk[3], 2000);
  out.push({ name: 'hand.pcapng', bytes: w.build(), gzip: false });
  out.push({ name: 'vmware.pcap.gz', bytes: readFileSync(fixture('vmware-gre-teb.pcap')), gzip: true });
  out.push({ name: 'hand.pcapng.gz', bytes: out.at(-1)!.bytes, gzip: true });
  return out;
}

const WORDS = [0, 0xffffffff, 0x7fffffff, 0x80000000, 12, 16, 3, 0x0a0d0d0a, 0x1a2b3c4d, 6];

function mutate(src: Buffer, rnd: () => number): Buffer {
  let b = Buffer.from(src);
  const ops = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(rnd() * b.length);
    switch (Math.floor(rnd() * 5)) {
      case 0: // flip bytes
        for (let j = 0, n = 1 + Math.floor(rnd() * 8); j < n; j++) {
          b[Math.floor(rnd() * b.length)] ^= 1 + Math.floor(rnd() * 255);
        }
        break;
      case 1: // truncate
        b = b.subarray(0, at);
        break;
      case 2: {
        // insert random bytes
        const ins = Buffer.alloc(1 + Math.floor(rnd() * 64));
        for (let j = 0; j < ins.length; j++) ins[j] = Math.floor(rnd() * 256);
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        break;
      }
      case 3: {
        // overwrite an aligned word (often a length field) with an edge value
        const p = at & ~3;
        if (p + 4 <= b.length) {
          const v = rnd() < 0.7 ? WORDS[Math.floor(rnd() * WORDS.length)] : Math.floor(rnd() * 2 ** 32);
          b.writeUInt32LE(v >>> 0, p);
        }
        break;
      }
      default: {
        // duplicate a slice in place
        const len = Math.floor(rnd() * 200);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
      }
    }
    if (b.length === 0) break;
  }
  return b;
}

const OPTS: ReaderOptions[] = [{}, { chunkSize: 256, batchCapacity: 3 }, { chunkSize: 4096 }];

test(`fuzz: ${ITERATIONS} mutations (seed ${SEED}) of 12 captures raise nothing but CaptureError`, async () => {
  const inputs = await corpus();
  const rnd = prng(SEED);
  const startAb = process.memoryUsage().arrayBuffers;
  let maxAb = startAb;
  const outcomes = { clean: 0, faultAtOpen: 0, faultWhileReading: 0, packets: 0 };
  for (let it = 0; it < ITERATIONS; it++) {
    const base = inputs[it % inputs.length];
    const plain = mutate(base.bytes, rnd);
    const bytes = base.gzip ? gzipSync(plain) : plain;
    const path = join(dir, `m${it % 16}`);
    writeFileSync(path, bytes);
    const opts = OPTS[Math.floor(rnd() * OPTS.length)];
    const where = `iteration ${it} (seed ${SEED}, ${base.name}, ${JSON.stringify(opts)})`;

    let src;
    try {
      src = await openCapture(path, opts);
    } catch (e) {
      if (!(e instanceof CaptureError)) assert.fail(`${where}: open threw ${String(e)}`);
      outcomes.faultAtOpen++;
      continue;
    }
    // Each batch holds at least one record of >= 12 input bytes: this bounds a correct reader.
    const maxBatches = Math.ceil(plain.length / 12) + 2;
    let batches = 0;
    let lastOffset = -1;
    try {
      for await (const b of src.batches()) {
        if (++batches > maxBatches) assert.fail(`${where}: more than ${maxBatches} batches`);
        assert.ok(b.count > 0 && b.count <= b.capacity, `${where}: batch count ${b.count}`);
        // Buffers: a chunk, or grown to one bounded record (packets <= 4 MiB) - never the claimed lengths.
        if (b.buf.length > 8 << 20) assert.fail(`${where}: a ${b.buf.length}-byte read buffer`);
        for (let i = 0; i < b.count; i++) {
          if (b.caplen[i] < 0 || b.caplen[i] > 4 << 20 || b.offset[i] < 0 || b.offset[i] + b.caplen[i] > b.buf.length) {
            assert.fail(`${where}: packet outside its buffer (${b.offset[i]}+${b.caplen[i]} of ${b.buf.length})`);
          }
          if (!(b.fileOffset[i] > lastOffset)) assert.fail(`${where}: fileOffset did not grow`);
          lastOffset = b.fileOffset[i];
          if (!Number.isFinite(b.tsUs[i]) || b.tsSubUsNs[i] < 0 || b.tsSubUsNs[i] > 999) assert.fail(`${where}: bad timestamp`);
          if (b.ifIndex[i] < 0 || b.ifIndex[i] >= src.interfaces.length) assert.fail(`${where}: bad ifIndex ${b.ifIndex[i]}`);
        }
        outcomes.packets += b.count;
      }
      outcomes.clean++;
    } catch (e) {
      if (!(e instanceof CaptureError)) assert.fail(`${where}: threw ${e instanceof Error ? e.stack : String(e)}`);
      assert.ok(e.offset >= 0 && e.offset <= plain.length, `${where}: fault offset ${e.offset} outside the input`);
      assert.ok(e.offset > lastOffset, `${where}: fault at ${e.offset} before a delivered packet at ${lastOffset}`);
      assert.ok(e.reason.length > 10, `${where}: reason "${e.reason}"`);
      outcomes.faultWhileReading++;
    }
    maxAb = Math.max(maxAb, process.memoryUsage().arrayBuffers);
  }
  if (process.env.FUZZ_VERBOSE) console.log(JSON.stringify(outcomes));
  const grewMb = (maxAb - startAb) / (1 << 20);
  assert.ok(grewMb < 128, `buffers grew by ${grewMb.toFixed(1)} MB`);
  // The mutations reach every outcome (the fuzzer is not stuck on one path).
  assert.ok(outcomes.clean > 100 && outcomes.faultAtOpen > 10 && outcomes.faultWhileReading > 1000, JSON.stringify(outcomes));
});
