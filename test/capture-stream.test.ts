// Streaming behaviour: any chunk and batch size gives the same packets; a batch's buffer stays valid
// until the next batch is asked for (while the next chunk is read behind it); progress, abort, early
// exit and re-reading; memory stays flat on a file far larger than the read buffers.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, writeSync, createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { openCapture } from '../src/engine/capture/open';
import { fixture, readAll, run, tempDir, type Pkt } from './capture-helpers';

const dir = tempDir('stream');
after(() => rmSync(dir, { recursive: true, force: true }));

const SRC = fixture('memcached-userdata.pcap');
const ng = join(dir, 'memcached.pcapng');
run('editcap', ['-F', 'pcapng', SRC, ng]);
const gz = join(dir, 'memcached.pcapng.gz');
writeFileSync(gz, gzipSync(readFileSync(ng)));
const INPUTS = [SRC, ng, gz];

function same(got: Pkt[], want: Pkt[], what: string): void {
  assert.equal(got.length, want.length, `${what}: count`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (g.tsUs !== w.tsUs || g.caplen !== w.caplen || g.origLen !== w.origLen || !g.data.equals(w.data)) {
      assert.fail(`${what}: packet ${i + 1} differs`);
    }
  }
}

const openFds = () =>
  readdirSync('/proc/self/fd')
    .map((f) => {
      try {
        return readlinkSync(`/proc/self/fd/${f}`);
      } catch {
        return '';
      }
    })
    .filter((l) => l.startsWith('/'))
    .sort();

test('any chunk size (down to below one packet) and batch size gives the same packets', async () => {
  const want = (await readAll(SRC)).packets;
  assert.ok(want.length > 20000);
  for (const path of INPUTS) {
    for (const opts of [{ chunkSize: 4096, batchCapacity: 7 }, { chunkSize: 64 }, { chunkSize: 1500, batchCapacity: 1 }, { batchCapacity: 100000 }]) {
      const r = await readAll(path, opts);
      assert.equal(r.error, null, r.error?.message);
      same(r.packets, want, `${path} ${JSON.stringify(opts)}`);
    }
  }
});

test('a batch stays valid while the reader prefetches the next chunk', async () => {
  const want = (await readAll(SRC)).packets;
  for (const path of INPUTS) {
    const src = await openCapture(path, { chunkSize: 8192, batchCapacity: 50 });
    let k = 0;
    for await (const b of src.batches()) {
      // Give the read of the next chunk (started before this batch was yielded) time to land.
      await new Promise((res) => setTimeout(res, 1));
      await new Promise((res) => setImmediate(res));
      for (let i = 0; i < b.count; i++, k++) {
        const w = want[k];
        if (b.caplen[i] !== w.caplen || !b.buf.subarray(b.offset[i], b.offset[i] + b.caplen[i]).equals(w.data)) {
          assert.fail(`${path}: packet ${k + 1} was overwritten while its batch was held`);
        }
      }
    }
    assert.equal(k, want.length);
  }
});

test('bytesRead grows to totalBytes; fileOffset grows record by record', async () => {
  for (const path of INPUTS) {
    const r = await readAll(path, { chunkSize: 65536, batchCapacity: 1000 });
    assert.ok(r.batches > 10);
    for (let i = 1; i < r.bytesRead.length; i++) assert.ok(r.bytesRead[i] >= r.bytesRead[i - 1], `${path}: bytesRead went back`);
    assert.equal(r.bytesRead.at(-1), r.source.totalBytes, path);
    for (let i = 1; i < r.packets.length; i++) assert.ok(r.packets[i].fileOffset > r.packets[i - 1].fileOffset);
  }
  // For a plain pcap, each record's offset plus its header and data is the next record's offset.
  const r = await readAll(SRC);
  assert.equal(r.packets[0].fileOffset, 24);
  for (let i = 1; i < r.packets.length; i++) {
    assert.equal(r.packets[i].fileOffset, r.packets[i - 1].fileOffset + 16 + r.packets[i - 1].caplen);
  }
});

test('AbortSignal stops the read between batches; break and abort both close the file', async () => {
  const before = openFds();
  for (const path of INPUTS) {
    const ac = new AbortController();
    const src = await openCapture(path, { batchCapacity: 100 });
    let batches = 0;
    await assert.rejects(
      (async () => {
        for await (const b of src.batches(ac.signal)) {
          assert.ok(b.count > 0);
          if (++batches === 3) ac.abort(new Error('user cancelled'));
        }
      })(),
      /user cancelled/,
    );
    assert.equal(batches, 3);
    const pre = new AbortController();
    pre.abort(new Error('already cancelled'));
    await assert.rejects(src.batches(pre.signal).next(), /already cancelled/);
    for (let i = 0; i < 5; i++) {
      for await (const _b of src.batches()) break;
    }
  }
  assert.deepEqual(openFds(), before, 'no file left open');
});

test('a source can be read again: same packets, interfaces not duplicated', async () => {
  for (const path of INPUTS) {
    const src = await openCapture(path);
    const counts: number[] = [];
    for (let pass = 0; pass < 2; pass++) {
      let n = 0;
      for await (const b of src.batches()) n += b.count;
      counts.push(n);
      assert.equal(src.interfaces.length, 1);
    }
    assert.equal(counts[0], counts[1]);
  }
});

test('memory stays flat on a 256 MB pcap and a 128 MB gzip pcap: read buffers, not the file', async () => {
  const base = readFileSync(SRC);
  const body = base.subarray(24);
  const one = (await readAll(SRC, {}, false)).packets;
  const big = join(dir, 'big.pcap');
  const reps = Math.ceil((256 << 20) / body.length);
  const fd = openSync(big, 'w');
  writeSync(fd, base.subarray(0, 24));
  for (let i = 0; i < reps; i++) writeSync(fd, body);
  closeSync(fd);
  const bigGz = join(dir, 'big-half.pcap.gz');
  const half = join(dir, 'half.pcap');
  const fd2 = openSync(half, 'w');
  writeSync(fd2, base.subarray(0, 24));
  for (let i = 0; i < Math.ceil(reps / 2); i++) writeSync(fd2, body);
  closeSync(fd2);
  await pipeline(createReadStream(half), createGzip({ level: 1 }), createWriteStream(bigGz));
  rmSync(half);

  for (const [path, copies, limitMb] of [
    [big, reps, 24],
    [bigGz, Math.ceil(reps / 2), 80],
  ] as const) {
    const startAb = process.memoryUsage().arrayBuffers;
    let maxAb = startAb;
    let n = 0;
    let last = 0;
    const src = await openCapture(path);
    for await (const b of src.batches()) {
      n += b.count;
      if (b.count) last = b.tsUs[b.count - 1];
      maxAb = Math.max(maxAb, process.memoryUsage().arrayBuffers);
    }
    assert.equal(n, one.length * copies, `${path}: packets`);
    assert.equal(last, one.at(-1)!.tsUs);
    const grewMb = (maxAb - startAb) / (1 << 20);
    assert.ok(grewMb < limitMb, `${path}: buffers grew by ${grewMb.toFixed(1)} MB while reading`);
  }
  rmSync(big);
  rmSync(bigGz);
});
