// Every DeepFlow fixture pcap reads cleanly and agrees with tshark on every frame: count, timestamp
// (µs), captured and original length. One tshark run covers all of them: mergecap -a -I none
// concatenates the fixtures into one pcapng with one interface per input file, so tshark's
// frame.interface_id says which fixture a frame came from.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fixturePcaps, readAll, run, tempDir, tsharkFrames, type TsharkFrame } from './capture-helpers';

const files = fixturePcaps();
const dir = tempDir('fixtures');
after(() => rmSync(dir, { recursive: true, force: true }));
const merged = join(dir, 'all.pcapng');
run('mergecap', ['-a', '-I', 'none', '-F', 'pcapng', '-w', merged, ...files]);
const frames = tsharkFrames(merged);
const perFile: TsharkFrame[][] = files.map(() => []);
for (const f of frames) perFile[f.ifId].push(f);

test('the fixture set is the expected one (115 pcaps, > 25k frames per tshark)', () => {
  assert.equal(files.length, 115);
  assert.ok(frames.length > 25000, `${frames.length} frames`);
  assert.ok(perFile.every((p) => p.length > 0), 'every fixture has frames in the merged file');
});

test('every fixture pcap: same frames as tshark, no error', async () => {
  let total = 0;
  for (let k = 0; k < files.length; k++) {
    const r = await readAll(files[k], {}, false);
    const want = perFile[k];
    const name = files[k].replace(/.*deepflow\//, '');
    assert.equal(r.error, null, `${name}: ${r.error?.message}`);
    assert.equal(r.packets.length, want.length, `${name}: packet count`);
    assert.equal(r.packets[0].tsUs, want[0].us, `${name}: first timestamp`);
    assert.equal(r.packets.at(-1)!.tsUs, want.at(-1)!.us, `${name}: last timestamp`);
    for (let i = 0; i < want.length; i++) {
      const p = r.packets[i];
      if (p.tsUs !== want[i].us || p.caplen !== want[i].caplen || p.origLen !== want[i].len) {
        assert.fail(`${name} frame ${i + 1}: got ${p.tsUs}/${p.caplen}/${p.origLen}, tshark ${want[i].us}/${want[i].caplen}/${want[i].len}`);
      }
    }
    assert.equal(r.source.format, 'pcap');
    assert.equal(r.source.interfaces.length, 1);
    assert.equal(r.source.interfaces[0].name, basename(files[k]));
    assert.equal(r.source.interfaces[0].linkType, 1, `${name}: Ethernet`);
    assert.equal(r.bytesRead.at(-1), r.source.totalBytes, `${name}: bytesRead ends at the file size`);
    total += r.packets.length;
  }
  assert.equal(total, frames.length);
});

test('the modified-pcap fixtures (magic a1b2cd34, 24-byte record headers) are read as such', async () => {
  for (const name of ['nats-nrpc2.pcap', 'nats-nrpc3.pcap']) {
    const k = files.findIndex((f) => f.endsWith('/' + name));
    const r = await readAll(files[k]);
    assert.equal(r.error, null);
    assert.equal(r.packets.length, perFile[k].length);
    // The record header is 24 bytes: the first packet's data starts at 24 + 24, and is Ethernet/IPv4.
    assert.equal(r.packets[0].fileOffset, 24);
    assert.equal(r.packets[0].data.readUInt16BE(12), 0x0800);
  }
});

test('the merged pcapng (115 interfaces, one per fixture) reads frame for frame like tshark', async () => {
  const r = await readAll(merged, {}, false);
  assert.equal(r.error, null);
  assert.equal(r.source.format, 'pcapng');
  assert.equal(r.source.interfaces.length, files.length);
  assert.equal(r.packets.length, frames.length);
  for (let i = 0; i < frames.length; i++) {
    const p = r.packets[i];
    const f = frames[i];
    if (p.ifIndex !== f.ifId || p.tsUs !== f.us || p.ns !== f.ns || p.caplen !== f.caplen || p.origLen !== f.len) {
      assert.fail(`frame ${i + 1}: got if ${p.ifIndex} ${p.tsUs}.${p.ns} ${p.caplen}/${p.origLen}, tshark ${JSON.stringify(f)}`);
    }
  }
});
