// The same packets through every container the readers accept: pcapng, ns pcap, modified pcap and
// big-endian pcap/pcapng (written here), gzip, several sections, several interfaces (mergecap), a live
// dumpcap capture on loopback (if_name, ns resolution, ISB) and tshark-written name resolution blocks.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { gzipSync } from 'node:zlib';
import { fixture, PcapngWriter, pcapToBigEndian, readAll, run, tempDir, tsharkFrames, type Pkt } from './capture-helpers';

const dir = tempDir('convert');
after(() => rmSync(dir, { recursive: true, force: true }));

const SOURCES = ['nats-nrpc2.pcap', 'truncate-1024.pcap', 'vmware-gre-teb.pcap', 'amqp-error.pcap'];

function samePackets(got: Pkt[], want: Pkt[], what: string, ifIndex?: number): void {
  assert.equal(got.length, want.length, `${what}: packet count`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (g.tsUs !== w.tsUs || g.ns !== w.ns || g.caplen !== w.caplen || g.origLen !== w.origLen || !g.data.equals(w.data)) {
      assert.fail(`${what}: packet ${i + 1} differs: ${g.tsUs}.${g.ns} ${g.caplen}/${g.origLen} vs ${w.tsUs}.${w.ns} ${w.caplen}/${w.origLen}`);
    }
    if (ifIndex !== undefined && g.ifIndex !== ifIndex) assert.fail(`${what}: packet ${i + 1} on interface ${g.ifIndex}`);
  }
}

async function original(name: string): Promise<Pkt[]> {
  const r = await readAll(fixture(name));
  assert.equal(r.error, null);
  return r.packets;
}

for (const name of SOURCES) {
  test(`${name}: editcap pcapng, nsecpcap, modpcap and pcap carry the same packets`, async () => {
    const want = await original(name);
    for (const [fmt, expect] of [
      ['pcapng', 'pcapng'],
      ['nsecpcap', 'pcap'],
      ['modpcap', 'pcap'],
      ['pcap', 'pcap'],
    ]) {
      const out = join(dir, `${name}.${fmt}`);
      run('editcap', ['-F', fmt, fixture(name), out]);
      const r = await readAll(out);
      assert.equal(r.error, null, `${fmt}: ${r.error?.message}`);
      assert.equal(r.source.format, expect);
      samePackets(r.packets, want, `${name} as ${fmt}`, 0);
    }
  });

  test(`${name}: big-endian pcap and big-endian pcapng (written here) carry the same packets`, async () => {
    const want = await original(name);
    const be = join(dir, `${name}.be.pcap`);
    writeFileSync(be, pcapToBigEndian(readFileSync(fixture(name))));
    // tshark agrees the byte-swapped file is the same capture.
    assert.deepEqual(
      tsharkFrames(be).map((f) => f.us),
      want.map((p) => p.tsUs),
    );
    const r = await readAll(be);
    assert.equal(r.error, null);
    samePackets(r.packets, want, `${name} big-endian pcap`, 0);

    const w = new PcapngWriter(false);
    w.shb();
    w.idb({ linkType: 1, snapLen: 262144, name: 'eth0' });
    for (const p of want) w.epb(0, BigInt(p.tsUs), p.data, p.origLen);
    const bng = join(dir, `${name}.be.pcapng`);
    writeFileSync(bng, w.build());
    const r2 = await readAll(bng);
    assert.equal(r2.error, null);
    samePackets(r2.packets, want, `${name} big-endian pcapng`, 0);
    assert.equal(r2.source.interfaces[0].name, 'eth0');
    assert.deepEqual(
      tsharkFrames(bng).map((f) => f.us),
      want.map((p) => p.tsUs),
    );
  });

  test(`${name}: gzip of the pcap and of the pcapng carry the same packets; progress in compressed bytes`, async () => {
    const want = await original(name);
    const ng = join(dir, `${name}.gz-src.pcapng`);
    run('editcap', ['-F', 'pcapng', fixture(name), ng]);
    for (const [src, fmt] of [
      [fixture(name), 'pcap+gzip'],
      [ng, 'pcapng+gzip'],
    ]) {
      const gz = join(dir, `${name}.${fmt}.gz`);
      writeFileSync(gz, gzipSync(readFileSync(src)));
      const r = await readAll(gz);
      assert.equal(r.error, null, r.error?.message);
      assert.equal(r.source.format, fmt);
      samePackets(r.packets, want, `${name} ${fmt}`, 0);
      assert.equal(r.source.totalBytes, readFileSync(gz).length);
      assert.equal(r.bytesRead.at(-1), r.source.totalBytes, 'last batch reports all compressed bytes read');
      for (let i = 1; i < r.bytesRead.length; i++) assert.ok(r.bytesRead[i] >= r.bytesRead[i - 1]);
    }
  });
}

test('two pcapng files concatenated: two sections, interface indexes keep counting, tshark agrees', async () => {
  const a = join(dir, 'sec-a.pcapng');
  const b = join(dir, 'sec-b.pcapng');
  run('editcap', ['-F', 'pcapng', fixture('nats-nrpc2.pcap'), a]);
  run('editcap', ['-F', 'pcapng', fixture('vmware-gre-teb.pcap'), b]);
  const both = join(dir, 'sections.pcapng');
  writeFileSync(both, Buffer.concat([readFileSync(a), readFileSync(b), readFileSync(a)]));
  const wantA = await original('nats-nrpc2.pcap');
  const wantB = await original('vmware-gre-teb.pcap');
  const r = await readAll(both);
  assert.equal(r.error, null);
  assert.equal(r.source.interfaces.length, 3);
  assert.deepEqual(
    r.source.interfaces.map((i) => i.index),
    [0, 1, 2],
  );
  const na = wantA.length;
  const nb = wantB.length;
  samePackets(r.packets.slice(0, na), wantA, 'section 1', 0);
  samePackets(r.packets.slice(na, na + nb), wantB, 'section 2', 1);
  samePackets(r.packets.slice(na + nb), wantA, 'section 3', 2);
  // tshark numbers interfaces per section (0, 0, 0 here); the order of frames and times must match.
  const frames = tsharkFrames(both);
  assert.deepEqual(
    r.packets.map((p) => [p.tsUs, p.caplen]),
    frames.map((f) => [f.us, f.caplen]),
  );
});

test('mergecap of two captures: two interfaces, chronological interleave, same frames as tshark', async () => {
  const out = join(dir, 'merged.pcapng');
  run('mergecap', ['-I', 'none', '-w', out, fixture('amqp-error.pcap'), fixture('vmware-gre-teb.pcap')]);
  const r = await readAll(out);
  assert.equal(r.error, null);
  assert.equal(r.source.interfaces.length, 2);
  const frames = tsharkFrames(out);
  assert.equal(r.packets.length, frames.length);
  assert.deepEqual(
    r.packets.map((p) => [p.ifIndex, p.tsUs, p.caplen, p.origLen]),
    frames.map((f) => [f.ifId, f.us, f.caplen, f.len]),
  );
  const byIf = [0, 1].map((k) => r.packets.filter((p) => p.ifIndex === k));
  samePackets(byIf[0], await original('amqp-error.pcap'), 'interface 0');
  samePackets(byIf[1], await original('vmware-gre-teb.pcap'), 'interface 1');
});

test('a live dumpcap capture on loopback: if_name/description, ns timestamps, ISB counters', async (t) => {
  const out = join(dir, 'lo.pcapng');
  const N = 8;
  const cap = spawn('dumpcap', ['-q', '-i', 'lo', '-f', 'udp port 47999', '-c', String(N), '-w', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  cap.stderr.on('data', (d) => (err += d));
  // dumpcap prints "Capturing on" once the filter is set; then send the datagrams.
  const started = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10000);
    cap.stderr.on('data', () => {
      if (err.includes('Capturing on')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    cap.on('exit', () => resolve(false));
  });
  if (!started) {
    cap.kill();
    t.skip(`dumpcap cannot capture on lo here: ${err.trim()}`);
    return;
  }
  // Keep sending numbered datagrams until dumpcap has its N: the first ones can race the filter
  // being attached, and waiting for an exit that never comes would hang the suite.
  const exited = new Promise<boolean>((res) => cap.on('exit', () => res(true)));
  const sock = createSocket('udp4');
  let sent = 0;
  const deadline = Date.now() + 15_000;
  while (cap.exitCode === null && cap.signalCode === null && Date.now() < deadline) {
    await new Promise<void>((res) => sock.send(Buffer.from(`flowscope ${sent}`), 47999, '127.0.0.1', () => res()));
    sent++;
    await Promise.race([exited, new Promise((res) => setTimeout(res, 20))]);
  }
  sock.close();
  if (cap.exitCode === null && cap.signalCode === null) {
    cap.kill('SIGKILL');
    assert.fail(`dumpcap did not capture ${N} of ${sent} datagrams in 15 s: ${err.trim()}`);
  }
  await exited;

  const r = await readAll(out);
  assert.equal(r.error, null);
  assert.equal(r.packets.length, N);
  const ifc = r.source.interfaces[0];
  assert.equal(ifc.name, 'lo');
  assert.equal(ifc.description, 'Loopback');
  const frames = tsharkFrames(out);
  assert.deepEqual(
    r.packets.map((p) => [p.tsUs, p.ns, p.caplen]),
    frames.map((f) => [f.us, f.ns, f.caplen]),
  );
  assert.ok(r.packets.some((p) => p.ns !== 0), 'dumpcap writes ns resolution: some sub-µs parts are non-zero');
  // Consecutive datagrams, whichever one the capture started at.
  const first = Number(/flowscope (\d+)/.exec(r.packets[0].data.toString('latin1'))?.[1]);
  for (let i = 0; i < N; i++) assert.ok(r.packets[i].data.includes(Buffer.from(`flowscope ${first + i}`)), `packet ${i + 1}`);
  const stats = r.source.interfaceStats ?? [];
  assert.equal(stats.length, 1);
  assert.equal(stats[0].ifIndex, 0);
  assert.equal(stats[0].ifRecv, N);
  assert.equal(stats[0].ifDrop, 0);

  // The same capture as ns pcap (editcap) keeps the ns parts.
  const ns = join(dir, 'lo.ns.pcap');
  run('editcap', ['-F', 'nsecpcap', out, ns]);
  const r2 = await readAll(ns);
  samePackets(r2.packets, r.packets, 'lo as nsecpcap', 0);
});

test('tshark -H writes a name resolution block: its records come out as nameRecords', async () => {
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, '10.1.80.56 memcache-a\n10.1.69.233 client-b\n192.0.2.99 unused\n');
  const out = join(dir, 'nrb.pcapng');
  run('tshark', ['-r', fixture('memcached-userdata.pcap'), '-c', '5', '-H', hosts, '-N', 'n', '-Y', 'ip', '-F', 'pcapng', '-w', out]);
  const r = await readAll(out);
  assert.equal(r.error, null);
  assert.equal(r.packets.length, 5);
  const recs = (r.source.nameRecords ?? []).map((x) => `${x.ip}=${x.names.join(',')}`).sort();
  assert.deepEqual(recs, ['10.1.69.233=client-b', '10.1.80.56=memcache-a']);
});

test('hand-written pcapng: SPB, OPB, NRB (v4, v6, several names), ISB, skipped blocks, interface names', async () => {
  const data = (await original('vmware-gre-teb.pcap')).slice(0, 6);
  const w = new PcapngWriter(true);
  w.shb();
  w.idb({ linkType: 1, snapLen: 65535, name: 'eth0', description: 'uplink' });
  w.idb({ linkType: 1, snapLen: 100, name: 'veth1234' });
  w.epb(0, 1700000000000001n, data[0].data);
  w.spb(data[1].data); // interface 0, inherits the last timestamp
  w.dsb(Buffer.from('CLIENT_RANDOM 00 11\n')); // decryption secrets: skipped
  w.block(0x00000bad, Buffer.alloc(24, 1)); // custom block: skipped
  w.block(0x12345678, Buffer.alloc(8)); // unknown: skipped
  w.opb(1, 1700000000000005n, data[2].data.subarray(0, 100), data[2].origLen);
  w.nrb([
    [Buffer.from([10, 0, 0, 1]), ['a.example', 'b.example']],
    [Buffer.from('20010db8000000000000000000000001', 'hex'), ['six.example']],
  ]);
  w.epb(1, 1700000000000009n, data[3].data.subarray(0, 100), data[3].origLen, 'a comment option');
  w.isb(0, 1700000000000010n, { recv: 1234n, drop: 5n, osdrop: 6n });
  w.isb(1, 1700000000000011n, { recv: 99n });
  w.isb(0, 1700000000000012n, { recv: 1240n, drop: 7n });
  const f = join(dir, 'hand.pcapng');
  writeFileSync(f, w.build());

  const r = await readAll(f);
  assert.equal(r.error, null, r.error?.message);
  assert.deepEqual(
    r.source.interfaces.map((i) => [i.index, i.name, i.description, i.snapLen]),
    [
      [0, 'eth0', 'uplink', 65535],
      [1, 'veth1234', '', 100],
    ],
  );
  assert.deepEqual(
    r.packets.map((p) => [p.ifIndex, p.tsUs, p.caplen, p.origLen]),
    [
      [0, 1700000000000001, data[0].caplen, data[0].origLen],
      [0, 1700000000000001, data[1].caplen, data[1].origLen],
      [1, 1700000000000005, 100, data[2].origLen],
      [1, 1700000000000009, 100, data[3].origLen],
    ],
  );
  assert.ok(r.packets[1].data.equals(data[1].data));
  assert.ok(r.packets[2].data.equals(data[2].data.subarray(0, 100)));
  assert.deepEqual(r.source.nameRecords, [
    { ip: '10.0.0.1', names: ['a.example', 'b.example'] },
    { ip: '2001:db8::1', names: ['six.example'] },
  ]);
  assert.deepEqual(r.source.interfaceStats, [
    { ifIndex: 0, tsUs: 1700000000000012, ifRecv: 1240, ifDrop: 7 },
    { ifIndex: 1, tsUs: 1700000000000011, ifRecv: 99 },
  ]);
  // (No tshark comparison here: it shows SPBs at time 0 and custom blocks as frames.)
});

test('SPB is cut to the snaplen of interface 0 and to the block', async () => {
  const data = (await original('vmware-gre-teb.pcap'))[0];
  const w = new PcapngWriter(false);
  w.shb();
  w.idb({ snapLen: 60 });
  w.spb(data.data.subarray(0, 60), data.origLen);
  const f = join(dir, 'spb.pcapng');
  writeFileSync(f, w.build());
  const r = await readAll(f);
  assert.equal(r.error, null);
  assert.equal(r.packets[0].caplen, 60);
  assert.equal(r.packets[0].origLen, data.origLen);
  assert.ok(r.packets[0].data.equals(data.data.subarray(0, 60)));
  assert.equal(r.source.interfaces[0].name, 'spb.pcapng#0');
});

test('pcap link type field with FCS bits (LT_FCS_LENGTH_PRESENT, 4-byte FCS) is masked to the link type', async () => {
  const b = Buffer.from(readFileSync(fixture('vmware-gre-teb.pcap')));
  b.writeUInt32LE(0x24000001, 20);
  const f = join(dir, 'fcs.pcap');
  writeFileSync(f, b);
  const r = await readAll(f);
  assert.equal(r.error, null);
  assert.equal(r.source.interfaces[0].linkType, 1);
  assert.equal(r.packets.length, tsharkFrames(f).length);
  samePackets(r.packets, await original('vmware-gre-teb.pcap'), 'FCS-flagged pcap', 0);
});
