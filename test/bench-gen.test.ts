// The benchmark generator checked against tshark (4.0) as the oracle: the capture is well formed,
// and tshark's own counts match the generator's ground truth in the ways hop copies predict.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCapture, type GeneratedTruth } from '../bench/gen-capture';
import { countPackets, parseConvTcp, parseHttpTree, runTshark, tsharkCounts } from '../bench/tshark';

const PACKETS = 20_000;
const SEED = 7;
/** Both ends in this node's pod CIDR and no tunnel: the packets of single-hop connections (and DNS). */
const SINGLE = 'ip.src==10.244.1.0/24 && ip.dst==10.244.1.0/24 && !vxlan';
const NO_SEQ_ANALYSIS = ['-o', 'tcp.analyze_sequence_numbers:FALSE'];
const NO_REASSEMBLY = ['-o', 'tcp.desegment_tcp_streams:FALSE'];

const dir = mkdtempSync(join(tmpdir(), 'flowscope-bench-gen-'));
const files = { pcap: join(dir, 'k8s.pcap'), pcapng: join(dir, 'k8s.pcapng') };
const truth: Partial<Record<'pcap' | 'pcapng', GeneratedTruth>> = {};

before(async () => {
  truth.pcap = await generateCapture({ path: files.pcap, packets: PACKETS, seed: SEED });
  truth.pcapng = await generateCapture({ path: files.pcapng, packets: PACKETS, seed: SEED });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function tr(format: 'pcap' | 'pcapng'): GeneratedTruth {
  const t = truth[format];
  if (!t) throw new Error('capture not generated');
  return t;
}

test('the truth describes a busy, mixed capture (so the checks below are not vacuous)', () => {
  const t = tr('pcap');
  assert.equal(t.packets, PACKETS);
  assert.ok(t.tcpConnectionsMultiHop > 20 && t.tcpConnectionsSingleHop > 20, JSON.stringify(t.connectionsPerPoint));
  assert.equal(t.tcpConnections, t.tcpConnectionsMultiHop + t.tcpConnectionsSingleHop);
  assert.deepEqual(t.connectionsPerPoint, { veth: t.tcpConnections, cni0: t.tcpConnectionsMultiHop, eth0: t.tcpConnectionsMultiHop });
  for (const k of ['refused', 'serverResets', 'retransmittedSegmentsSingleHop', 'zeroWindows', 'redisCommands', 'dnsQueries', 'dnsNxdomain', 'httpRequestsWithTraceparent'] as const) {
    assert.ok(t[k] > 0, `${k} = ${t[k]}`);
  }
  assert.ok(t.httpRequests > 500);
  assert.equal(t.packetsPerPoint.veth + t.packetsPerPoint.cni0 + t.packetsPerPoint.eth0, t.packets);
  assert.ok(t.lastTsUs > t.firstTsUs);
});

test('pcap and pcapng of one seed carry the same traffic; a seed always gives the same bytes', async () => {
  const strip = (t: GeneratedTruth) => {
    const { path: _p, format: _f, fileBytes: _b, seconds: _s, interfaces: _i, packetsPerInterface: _pi, connectionsPerInterface: _ci, ...rest } = t;
    return rest;
  };
  assert.deepEqual(strip(tr('pcapng')), strip(tr('pcap')));
  const again = join(dir, 'again.pcap');
  const other = join(dir, 'other.pcap');
  const t2 = await generateCapture({ path: again, packets: PACKETS, seed: SEED });
  assert.equal(t2.fileBytes, tr('pcap').fileBytes);
  assert.ok(readFileSync(again).equals(readFileSync(files.pcap)), 'same seed, different bytes');
  await generateCapture({ path: other, packets: PACKETS, seed: SEED + 1 });
  assert.ok(!readFileSync(other).equals(readFileSync(files.pcap)), 'another seed gave the same bytes');
});

test('any packet budget is met exactly, and tshark reads every record', async () => {
  const paths: string[] = [];
  for (const n of [0, 1, 2, 9, 57, 1001]) {
    for (const format of ['pcap', 'pcapng'] as const) {
      const path = join(dir, `small-${n}.${format}`);
      const t = await generateCapture({ path, packets: n, seed: n });
      assert.equal(t.packets, n);
      paths.push(path);
    }
  }
  // One capinfos run for all files: "File name: ..." then "Number of packets: N" for each.
  const info = execFileSync('capinfos', ['-M', '-c', ...paths], { encoding: 'utf8' });
  const counts = [...info.matchAll(/Number of packets:\s+(\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(counts, paths.map((p) => Number(/small-(\d+)\./.exec(p)![1])));
});

for (const format of ['pcap', 'pcapng'] as const) {
  test(`${format}: tshark finds no malformed packet`, async () => {
    const path = files[format];
    assert.equal(await countPackets(path), PACKETS);
    const [flat, all] = await Promise.all([
      // Every packet on its own, no stream reassembly: nothing may be malformed.
      runTshark(['-q', '-r', path, ...NO_REASSEMBLY, '-z', 'expert']),
      runTshark(['-q', '-r', path, '-z', 'expert']),
    ]);
    assert.doesNotMatch(flat, /Malformed|Errors \(/);
    assert.match(all, /Warns \(/, 'expert output has its sections');
    // With all hops in one file tshark reassembles the three copies of a segment as one stream and
    // reports the identical overlap as an error; that is the only error it may report.
    const section = /^Errors \(\d+\)\n([\s\S]*?)\n(?:Warns|Notes|Chats|Comments) \(/m.exec(all)?.[1] ?? '';
    for (const l of section.split('\n').filter((x) => /^\s+\d+\s/.test(x))) {
      assert.match(l, /^\s+\d+\s+Malformed\s+TCP\s+New fragment overlaps old data \(retransmission\?\)$/);
    }
  });

  test(`${format}: tshark's TCP conversations are the unique connections (hop copies merge)`, async () => {
    const t = tr(format);
    const conv = parseConvTcp(await runTshark(['-q', '-r', files[format], '-z', 'conv,tcp']));
    // tshark keys conversations by inner addresses and ports only: veth, cni0 and VXLAN copies
    // (and, in pcapng, different interfaces) are one conversation.
    assert.equal(conv.conversations, t.tcpConnections);
    assert.equal(conv.frames, t.packets - t.dnsQueries - t.dnsResponses);
  });

  test(`${format}: tshark's HTTP counts against the truth`, async () => {
    const t = tr(format);
    const path = files[format];
    const [deflt, flat, [firstSight, copies]] = await Promise.all([
      runTshark(['-q', '-r', path, '-z', 'http,tree']).then(parseHttpTree),
      runTshark(['-q', '-r', path, ...NO_SEQ_ANALYSIS, ...NO_REASSEMBLY, '-z', 'http,tree']).then(parseHttpTree),
      tsharkCounts(path, ['http.request && !tcp.analysis.retransmission', 'http.request && tcp.analysis.retransmission']),
    ]);
    // Without sequence analysis tshark dissects every hop copy: each multi-hop request counts 3 times
    // (responses likewise, plus resent one-segment responses).
    assert.equal(t.httpRequestsSeen, t.httpRequests + 2 * t.httpRequestsMultiHop);
    assert.equal(flat.requests, t.httpRequestsSeen);
    assert.equal(flat.responses, t.records.httpResponse);
    // With default preferences tshark skips copies it calls plain retransmissions but dissects those
    // it calls fast retransmissions (after the peer's duplicated ACK copies): the first sighting of
    // every request, plus some copies.
    assert.equal(firstSight, t.httpRequests);
    assert.equal(deflt.requests, t.httpRequests + copies);
    assert.ok(copies > 0 && copies < 2 * t.httpRequestsMultiHop, `copies ${copies}`);
  });

  test(`${format}: tshark's TCP analysis flags match the truth`, async () => {
    const t = tr(format);
    const r = t.records;
    const filters = {
      errorsSingle: `_ws.expert.severity==error && ${SINGLE}`,
      retransSingle: `tcp.analysis.retransmission && ${SINGLE}`,
      oooSingle: `tcp.analysis.out_of_order && ${SINGLE}`,
      lost: 'tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment',
      zeroWin: 'tcp.analysis.zero_window',
      rst: 'tcp.flags.reset==1',
      syn: 'tcp.flags.syn==1 && tcp.flags.ack==0',
      synAck: 'tcp.flags.syn==1 && tcp.flags.ack==1',
      fin: 'tcp.flags.fin==1',
      vxlan: 'vxlan.vni==1 && udp.dstport==4789',
      dnsQ: 'dns.flags.response==0',
      dnsR: 'dns.flags.response==1',
      nx: 'dns.flags.rcode==3',
      mss: 'tcp.options.mss_val==1460 && tcp.options.wscale.shift==7 && tcp.flags.syn==1',
    };
    const keys = Object.keys(filters) as (keyof typeof filters)[];
    const got = await tsharkCounts(files[format], keys.map((k) => filters[k]));
    const c = Object.fromEntries(keys.map((k, i) => [k, got[i]])) as Record<keyof typeof filters, number>;
    // Single-hop traffic, reassembled with default preferences, has no error at all.
    assert.equal(c.errorsSingle, 0);
    // On single-hop connections tshark flags exactly the resent segments: no hop copies there, and
    // no sequence gap, out-of-order or spurious flag anywhere else.
    assert.ok(c.retransSingle >= t.retransmittedSegmentsSingleHop);
    assert.equal(c.retransSingle, t.retransmittedSegmentsSingleHop);
    assert.equal(c.oooSingle, 0);
    assert.equal(c.lost, 0);
    assert.equal(c.zeroWin, r.zeroWindow);
    assert.equal(r.zeroWindow, t.zeroWindowsSingleHop + 3 * (t.zeroWindows - t.zeroWindowsSingleHop));
    assert.equal(c.rst, r.rst);
    assert.equal(c.syn, r.syn);
    assert.equal(c.synAck, r.synAck);
    assert.equal(c.mss, r.syn + r.synAck);
    assert.equal(c.fin, r.fin);
    assert.equal(c.vxlan, t.packetsPerPoint.eth0);
    assert.equal(c.dnsQ, t.dnsQueries);
    assert.equal(c.dnsR, t.dnsResponses);
    assert.equal(c.nx, t.dnsNxdomain);
  });
}

test('pcapng: one interface per observation point, named, with its packets', () => {
  const t = tr('pcapng');
  const info = execFileSync('capinfos', ['-M', files.pcapng], { encoding: 'utf8' });
  const names = [...info.matchAll(/Interface #\d+ info:\s*\n\s*Name = (\S+)/g)].map((m) => m[1]);
  const counts = [...info.matchAll(/Number of packets = (\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(names, t.interfaces);
  assert.equal(names.length, 202);
  assert.deepEqual(names.slice(0, 2), ['eth0', 'cni0']);
  for (const n of names.slice(2)) assert.match(n, /^veth[0-9a-f]{8}$/);
  assert.deepEqual(counts, names.map((n) => t.packetsPerInterface[n]));
  assert.equal(t.packetsPerInterface.eth0, t.packetsPerPoint.eth0);
  assert.equal(t.packetsPerInterface.cni0, t.packetsPerPoint.cni0);
  // The pcap is the flat view: a single interface holding everything.
  assert.deepEqual(tr('pcap').packetsPerInterface, { any: PACKETS });
});

test('pcapng: multi-hop packets appear on veth, cni0 and eth0 (VXLAN) with the same TCP sequence numbers', async () => {
  const out = await runTshark([
    '-r', files.pcapng, '-Y', 'tcp.flags.syn==1 && tcp.flags.ack==0', '-o', 'tcp.relative_sequence_numbers:FALSE',
    '-T', 'fields', '-E', 'occurrence=l', '-e', 'frame.interface_name', '-e', 'tcp.seq', '-e', 'ip.dst', '-e', 'frame.time_epoch',
  ]);
  const rows = out.trim().split('\n').map((l) => l.split('\t'));
  const bySeq = new Map<string, string[][]>();
  for (const r of rows) bySeq.set(r[1] + r[2], [...(bySeq.get(r[1] + r[2]) ?? []), r]);
  const t = tr('pcapng');
  let multi = 0;
  for (const copies of bySeq.values()) {
    if (copies.length === 1) {
      assert.match(copies[0][0], /^veth/);
      continue;
    }
    multi++;
    assert.deepEqual(copies.map((r) => r[0].replace(/^veth.*/, 'veth')), ['veth', 'cni0', 'eth0']);
    assert.ok(!copies[2][2].startsWith('10.244.1.'), 'multi-hop server is on another node');
    const dt = Number(copies[2][3]) - Number(copies[0][3]);
    assert.ok(dt > 0 && dt < 0.0001, `copies ${dt}s apart`);
  }
  assert.equal(bySeq.size, t.tcpConnections);
  assert.equal(multi, t.tcpConnectionsMultiHop);
});
