// Format recognition at open time: every pcap magic, pcapng (made by editcap from a real capture),
// gzip of either, and clear reasons for everything else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sniffCapture } from '../src/main/capture-sniff';

const IPIP = '/work/shared/fixtures/deepflow/server/libs/datatype/ipip.pcap';

test('capture formats are recognised from their first bytes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-sniff-'));
  try {
    const real = await readFile(IPIP);
    assert.deepEqual(await sniffCapture(IPIP), { ok: true, kind: 'pcap', fileBytes: real.length });

    // The six pcap magics as they appear on disk: µs and ns, little and big endian, and the
    // "modified" (Kuznetzov) variant. a1b23c4d is the one Zui missed.
    for (const magic of ['d4c3b2a1', 'a1b2c3d4', '4d3cb2a1', 'a1b23c4d', '34cdb2a1', 'a1b2cd34']) {
      const file = join(dir, `${magic}.pcap`);
      await writeFile(file, Buffer.concat([Buffer.from(magic, 'hex'), real.subarray(4)]));
      assert.deepEqual(await sniffCapture(file), { ok: true, kind: 'pcap', fileBytes: real.length }, magic);
    }

    const pcapng = join(dir, 'ipip.pcapng');
    execFileSync('editcap', ['-F', 'pcapng', IPIP, pcapng]);
    const pcapngBytes = await readFile(pcapng);
    assert.deepEqual(await sniffCapture(pcapng), { ok: true, kind: 'pcapng', fileBytes: pcapngBytes.length });

    const gz = join(dir, 'ipip.pcapng.gz');
    const gzBytes = gzipSync(pcapngBytes);
    await writeFile(gz, gzBytes);
    assert.deepEqual(await sniffCapture(gz), { ok: true, kind: 'pcapng+gzip', fileBytes: gzBytes.length });

    const gzPcap = join(dir, 'ipip.pcap.gz');
    const gzPcapBytes = gzipSync(real);
    await writeFile(gzPcap, gzPcapBytes);
    assert.deepEqual(await sniffCapture(gzPcap), { ok: true, kind: 'pcap+gzip', fileBytes: gzPcapBytes.length });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('anything else is refused with the file and the reason', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-sniff-'));
  try {
    const png = join(dir, 'soccer-ball.png');
    await writeFile(png, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
    assert.deepEqual(await sniffCapture(png), { ok: false, reason: `${png}: offset 0: not a pcap or pcapng file (magic 89 50 4e 47)` });

    const short = join(dir, 'short.pcap');
    await writeFile(short, Buffer.from([0xd4, 0xc3]));
    assert.deepEqual(await sniffCapture(short), { ok: false, reason: `${short}: offset 0: file too short (2 bytes) for a capture` });

    const gzText = join(dir, 'log.gz');
    await writeFile(gzText, gzipSync('hello world\n'));
    assert.deepEqual(await sniffCapture(gzText), {
      ok: false,
      reason: `${gzText}: gzip-compressed, but the content is not pcap or pcapng (decompressed offset 0: 68 65 6c 6c)`,
    });

    const broken = join(dir, 'broken.pcap.gz');
    const gz = gzipSync(await readFile(IPIP));
    await writeFile(broken, Buffer.concat([gz.subarray(0, 10), Buffer.alloc(64, 0xff)]));
    const brokenResult = await sniffCapture(broken);
    assert.equal(brokenResult.ok, false);
    assert.match(!brokenResult.ok ? brokenResult.reason : '', new RegExp(`^${broken}: gzip data is corrupt: `));

    const folder = join(dir, 'folder.pcap');
    await mkdir(folder);
    const folderResult = await sniffCapture(folder);
    assert.equal(folderResult.ok, false);
    assert.match(!folderResult.ok ? folderResult.reason : '', new RegExp(`^${folder}: (not a regular file|cannot read)`));

    const missing = join(dir, 'missing.pcap');
    assert.deepEqual(await sniffCapture(missing), {
      ok: false,
      reason: `${missing}: cannot read: ENOENT: no such file or directory, open '${missing}'`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
