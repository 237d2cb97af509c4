// Tunnel decapsulation on DeepFlow's tunnel fixtures: every packet against tshark's view of it,
// plus the expectations of DeepFlow's own tests (agent/src/common/decapsulate.rs,
// server/libs/datatype/decapsulate_test.go), and the tier limit / invalid-header rules.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodedPacket, DecodeStatus, TUNNEL_NAMES, TunnelType, ipToString } from '../src/engine/decode/packet';
import { FIXTURES, last, readPcap, tsharkFields, writePcap } from './decode-helpers';

const COMMON = join(FIXTURES, 'agent/resources/test/common');
const DATATYPE = join(FIXTURES, 'server/libs/datatype');
const TUNNEL_FILES = [
  join(COMMON, 'vxlan-nsh.pcap'),
  join(COMMON, 'vmware-gre-teb.pcap'),
  join(COMMON, 'decapsulate_erspan1.pcap'),
  join(COMMON, 'ip6-vxlan.pcap'),
  join(COMMON, 'decapsulate_test.pcap'),
  join(COMMON, 'geneve.pcap'),
  join(DATATYPE, 'ipip.pcap'),
  join(DATATYPE, 'tencent-gre.pcap'),
  join(DATATYPE, 'decapsulate_erspan1.pcap'),
  join(DATATYPE, 'decapsulate_test.pcap'),
];

const FIELDS = [
  'frame.protocols',
  'vxlan.vni',
  'gre.key',
  'erspan.spanid',
  'geneve.vni',
  'gre.proto',
  'gre.flags.version',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  'icmp.ident',
  'icmpv6.echo.identifier',
  'vlan.id',
];
const F = Object.fromEntries(FIELDS.map((f, i) => [f, i]));

interface Expect {
  status: DecodeStatus;
  tunnel: string;
  id: number;
  outerSrc: string;
  outerDst: string;
  src?: string;
  dst?: string;
  proto?: number;
  sport?: number;
  dport?: number;
}

/** What tshark says the packet is: tunnel (outermost), its id, and the innermost 5-tuple. */
function expectFromTshark(row: string[][]): Expect {
  const get = (f: string) => row[F[f]];
  const protos = (get('frame.protocols')[0] ?? '').split(':');
  const ipLayers = protos.filter((p) => p === 'ip' || p === 'ipv6');
  const outerIsV6 = ipLayers[0] === 'ipv6';
  const outerSrc = outerIsV6 ? get('ipv6.src')[0] : get('ip.src')[0];
  const outerDst = outerIsV6 ? get('ipv6.dst')[0] : get('ip.dst')[0];
  const hex = (v: string | undefined) => (v === undefined ? -1 : parseInt(v, 16));
  const firstUdpDport = Number(get('udp.dstport')[0]);
  let tunnel = '';
  let id = -1;
  if (protos.includes('gre')) {
    const gp = hex(get('gre.proto')[0]);
    if (gp === 0x6558) tunnel = 'teb';
    else if (gp === 0x88be || gp === 0x22eb) tunnel = 'erspan';
    else tunnel = get('gre.flags.version')[0] === '1' ? 'tencent-gre' : 'gre';
    id = tunnel === 'erspan' ? (get('erspan.spanid')[0] === undefined ? -1 : Number(get('erspan.spanid')[0])) : hex(get('gre.key')[0]);
  } else if (firstUdpDport === 4789 || firstUdpDport === 8472) {
    tunnel = 'vxlan';
    id = Number(get('vxlan.vni')[0]);
  } else if (firstUdpDport === 4790) {
    tunnel = 'vxlan-nsh';
    id = Number(get('vxlan.vni')[0]);
  } else if (firstUdpDport === 6081) {
    tunnel = 'geneve';
    id = hex(get('geneve.vni')[0]);
  } else if (ipLayers.length > 1) {
    tunnel = 'ipip';
  }
  const e: Expect = { status: DecodeStatus.Ok, tunnel, id, outerSrc, outerDst };
  // Is there an IP layer inside the tunnel? (ERSPAN of CDP, TEB of LLDP: no.)
  if (tunnel !== '' && ipLayers.length < 2) {
    e.status = DecodeStatus.NotIp;
    return e;
  }
  const innerV6 = ipLayers[ipLayers.length - 1] === 'ipv6';
  e.src = innerV6 ? last(get('ipv6.src')) : last(get('ip.src'));
  e.dst = innerV6 ? last(get('ipv6.dst')) : last(get('ip.dst'));
  const lastL4 = [...protos].reverse().find((p) => p === 'tcp' || p === 'udp' || p === 'icmp' || p === 'icmpv6');
  if (lastL4 === 'tcp') {
    e.proto = 6;
    e.sport = Number(last(get('tcp.srcport')));
    e.dport = Number(last(get('tcp.dstport')));
  } else if (lastL4 === 'udp') {
    e.proto = 17;
    e.sport = Number(last(get('udp.srcport')));
    e.dport = Number(last(get('udp.dstport')));
  } else if (lastL4 === 'icmp' || lastL4 === 'icmpv6') {
    e.proto = lastL4 === 'icmp' ? 1 : 58;
    const ident = lastL4 === 'icmp' ? last(get('icmp.ident')) : last(get('icmpv6.echo.identifier'));
    e.sport = e.dport = ident === undefined ? 0 : Number(ident);
  }
  return e;
}

test('tunnels: every packet of the tunnel fixtures matches tshark (type, id, outer and inner addresses, ports)', () => {
  // One tshark run over the concatenated files; rows are split back per file by packet count.
  const dir = mkdtempSync(join(tmpdir(), 'decode-tunnels-'));
  try {
    const merged = join(dir, 'tunnels.pcap');
    execFileSync('mergecap', ['-a', '-F', 'pcap', '-w', merged, ...TUNNEL_FILES]);
    const rows = tsharkFields(merged, FIELDS);
    const dec = new Decoder();
    const out = new DecodedPacket();
    const perType = new Map<string, number>();
    let row = 0;
    for (const file of TUNNEL_FILES) {
      const pcap = readPcap(file);
      pcap.packets.forEach((p, i) => {
        const e = expectFromTshark(rows[row++]);
        const st = dec.decode(pcap.buf, p.off, p.caplen, p.origLen, pcap.linkType, p.tsUs, out);
        const where = `${file.slice(FIXTURES.length + 1)} frame ${i + 1}`;
        assert.equal(st, e.status, `${where}: status`);
        assert.equal(TUNNEL_NAMES[out.tunnelType], e.tunnel, `${where}: tunnel type`);
        assert.equal(out.tunnelId, e.id, `${where}: tunnel id`);
        assert.equal(out.tunnelTier, e.tunnel ? 1 : 0, `${where}: tier`);
        assert.equal(ipToString(out.tunnelIpVersion, out.tunnelSrc), e.outerSrc, `${where}: outer src`);
        assert.equal(ipToString(out.tunnelIpVersion, out.tunnelDst), e.outerDst, `${where}: outer dst`);
        if (e.status === DecodeStatus.Ok) {
          assert.equal(ipToString(out.ipVersion, out.srcIp), e.src, `${where}: inner src`);
          assert.equal(ipToString(out.ipVersion, out.dstIp), e.dst, `${where}: inner dst`);
          assert.equal(out.protocol, e.proto, `${where}: inner protocol`);
          assert.equal(out.srcPort, e.sport, `${where}: inner src port`);
          assert.equal(out.dstPort, e.dport, `${where}: inner dst port`);
        }
        perType.set(e.tunnel, (perType.get(e.tunnel) ?? 0) + 1);
      });
    }
    assert.equal(row, rows.length, 'tshark frames = reader frames');
    // Every packet in these files is tunnelled, and every kind the fixtures hold is seen.
    assert.equal(perType.get('') ?? 0, 0, 'untunnelled packets in a tunnel fixture');
    assert.deepEqual([...perType.keys()].sort(), ['erspan', 'geneve', 'ipip', 'teb', 'tencent-gre', 'vxlan', 'vxlan-nsh']);
    console.log(`# tunnel fixture packets per type: ${JSON.stringify(Object.fromEntries(perType))}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Decodes packet `index` of a fixture; returns the packet's frame offset too. */
function decodeFixture(file: string, index: number, out: DecodedPacket): { status: DecodeStatus; off: number } {
  const pcap = readPcap(file);
  const p = pcap.packets[index];
  const status = new Decoder().decode(pcap.buf, p.off, p.caplen, p.origLen, pcap.linkType, p.tsUs, out);
  return { status, off: p.off };
}

// DeepFlow's expectations: outer addresses, id, tier, and where the inner frame starts
// (DeepFlow returns the offset from L3 to the inner L2 header; an inner IP packet gets a 14-byte
// fake L2 in front, hence "- 14" for IPIP / Tencent GRE / NSH).
const DEEPFLOW: {
  name: string;
  file: string;
  index: number;
  type: TunnelType;
  src: string;
  dst: string;
  id: number;
  /** Offset of the inner Ethernet header from the frame start, or of the inner IP header when ipAt. */
  innerL2?: number;
  innerL3?: number;
}[] = [
  // ERSPAN type I has no header, so no session id: DeepFlow stores 0, we store -1 ("none").
  { name: 'erspan I', file: join(COMMON, 'decapsulate_erspan1.pcap'), index: 0, type: TunnelType.Erspan, src: '172.28.25.108', dst: '172.28.28.70', id: -1, innerL2: 18 + 20 + 4 },
  { name: 'erspan I (2)', file: join(COMMON, 'decapsulate_erspan1.pcap'), index: 1, type: TunnelType.Erspan, src: '172.28.25.108', dst: '172.28.28.70', id: -1, innerL2: 18 + 20 + 4 },
  { name: 'erspan II', file: join(COMMON, 'decapsulate_test.pcap'), index: 0, type: TunnelType.Erspan, src: '2.2.2.2', dst: '1.1.1.1', id: 100, innerL2: 50 },
  { name: 'erspan II (2)', file: join(COMMON, 'decapsulate_test.pcap'), index: 1, type: TunnelType.Erspan, src: '2.2.2.2', dst: '1.1.1.1', id: 100, innerL2: 50 },
  { name: 'erspan III', file: join(COMMON, 'decapsulate_test.pcap'), index: 3, type: TunnelType.Erspan, src: '172.16.1.103', dst: '10.30.101.132', id: 0, innerL2: 54 },
  { name: 'vxlan', file: join(COMMON, 'decapsulate_test.pcap'), index: 2, type: TunnelType.Vxlan, src: '172.16.1.103', dst: '172.20.1.171', id: 123, innerL2: 50 },
  { name: 'tencent gre', file: join(DATATYPE, 'tencent-gre.pcap'), index: 0, type: TunnelType.TencentGre, src: '10.19.0.21', dst: '10.21.64.5', id: 0x10285, innerL3: 14 + 18 + 14 },
  { name: 'teb', file: join(COMMON, 'vmware-gre-teb.pcap'), index: 2, type: TunnelType.Teb, src: '10.25.6.6', dst: '10.25.59.67', id: 0x2000000, innerL2: 14 + 28 },
  { name: 'ipv6 vxlan', file: join(COMMON, 'ip6-vxlan.pcap'), index: 0, type: TunnelType.Vxlan, src: '2409:8086:8911:1901::23f', dst: '2409:8086:8911:1901::23d', id: 27, innerL2: 14 + 40 + 8 + 8 },
  // IPIP carries no id: DeepFlow 0, we -1.
  { name: 'ipip', file: join(DATATYPE, 'ipip.pcap'), index: 0, type: TunnelType.Ipip, src: '10.162.42.93', dst: '10.162.33.164', id: -1, innerL3: 18 + 20 },
  { name: 'geneve', file: join(COMMON, 'geneve.pcap'), index: 0, type: TunnelType.Geneve, src: '158.243.143.4', dst: '158.243.143.3', id: 3, innerL2: 14 + 20 + 24 },
  { name: 'vxlan-nsh', file: join(COMMON, 'vxlan-nsh.pcap'), index: 0, type: TunnelType.VxlanNsh, src: '29.29.14.47', dst: '29.29.14.211', id: 0, innerL3: 14 + 74 + 14 },
];

for (const c of DEEPFLOW) {
  test(`tunnels: DeepFlow decapsulate test "${c.name}"`, () => {
    const out = new DecodedPacket();
    const { status, off } = decodeFixture(c.file, c.index, out);
    assert.equal(out.tunnelType, c.type);
    assert.equal(out.tunnelTier, 1);
    assert.equal(out.tunnelId, c.id);
    assert.equal(ipToString(out.tunnelIpVersion, out.tunnelSrc), c.src);
    assert.equal(ipToString(out.tunnelIpVersion, out.tunnelDst), c.dst);
    if (c.innerL2 !== undefined) assert.equal(out.l2Offset - off, c.innerL2, 'inner Ethernet offset');
    if (c.innerL3 !== undefined) assert.equal(out.l3Offset - off, c.innerL3, 'inner IP offset');
    else if (status === DecodeStatus.Ok) assert.ok(out.l3Offset - off >= (c.innerL2 as number) + 14);
  });
}

/** Wraps a frame in Ethernet/IPv4/UDP/VXLAN (vni) addressed 192.0.2.<n> → 192.0.2.<n+1>. */
function vxlanWrap(inner: Buffer, vni: number, n: number, flags = 0x08): Buffer {
  const h = Buffer.alloc(14 + 20 + 8 + 8);
  h.writeUInt16BE(0x0800, 12);
  const ip = 14;
  h[ip] = 0x45;
  h.writeUInt16BE(20 + 8 + 8 + inner.length, ip + 2);
  h[ip + 8] = 64;
  h[ip + 9] = 17;
  h.writeUInt32BE((0xc0000200 + n) >>> 0, ip + 12);
  h.writeUInt32BE((0xc0000200 + n + 1) >>> 0, ip + 16);
  const u = ip + 20;
  h.writeUInt16BE(50000 + n, u);
  h.writeUInt16BE(4789, u + 2);
  h.writeUInt16BE(8 + 8 + inner.length, u + 4);
  const v = u + 8;
  h[v] = flags;
  h.writeUIntBE(vni, v + 4, 3);
  return Buffer.concat([h, inner]);
}

function fixtureFrame(file: string, index: number): Buffer {
  const pcap = readPcap(file);
  const p = pcap.packets[index];
  return Buffer.from(pcap.buf.subarray(p.off, p.off + p.caplen));
}

test('tunnels: at most two layers are peeled; the outermost is recorded, the third stays UDP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'decode-tier-'));
  try {
    const base = fixtureFrame(join(COMMON, 'decapsulate_test.pcap'), 2); // VXLAN 123 carrying ICMP
    const two = vxlanWrap(base, 777, 1);
    const three = vxlanWrap(two, 888, 3);
    const dec = new Decoder();
    const out = new DecodedPacket();

    assert.equal(dec.decode(two, 0, two.length, two.length, 1, 0, out), DecodeStatus.Ok);
    assert.equal(out.tunnelTier, 2);
    assert.equal(out.tunnelType, TunnelType.Vxlan);
    assert.equal(out.tunnelId, 777);
    assert.equal(ipToString(4, out.tunnelSrc), '192.0.2.1');
    assert.equal(ipToString(4, out.srcIp), '192.168.1.5'); // the fixture's inner ping
    assert.equal(out.protocol, 1);

    assert.equal(dec.decode(three, 0, three.length, three.length, 1, 0, out), DecodeStatus.Ok);
    assert.equal(out.tunnelTier, 2);
    assert.equal(out.tunnelId, 888);
    assert.equal(ipToString(4, out.tunnelSrc), '192.0.2.3');
    // Third layer (the fixture's own VXLAN) left as is: plain UDP to 4789 between its outer hosts.
    assert.equal(out.protocol, 17);
    assert.equal(out.dstPort, 4789);
    assert.equal(ipToString(4, out.srcIp), '172.16.1.103');

    // tshark agrees on the nesting: three VNIs, outermost first.
    const f = join(dir, 'three.pcap');
    writePcap(f, 1, [{ data: three }]);
    const row = tsharkFields(f, ['vxlan.vni', 'ip.src'])[0];
    assert.deepEqual(row[0], ['888', '777', '123']);
    assert.deepEqual(row[1].slice(0, 3), ['192.0.2.3', '192.0.2.1', '172.16.1.103']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tunnels: UDP to 4789 without a valid VXLAN header stays plain UDP', () => {
  const base = fixtureFrame(join(COMMON, 'decapsulate_test.pcap'), 2);
  const out = new DecodedPacket();
  const dec = new Decoder();
  for (const flags of [0x00, 0x01, 0x0c, 0xff]) {
    const f = Buffer.from(base);
    f[14 + 20 + 8] = flags;
    assert.equal(dec.decode(f, 0, f.length, f.length, 1, 0, out), DecodeStatus.Ok);
    assert.equal(out.tunnelType, TunnelType.None, `flags ${flags}`);
    assert.equal(out.protocol, 17);
    assert.equal(out.dstPort, 4789);
    assert.equal(out.payloadLen, base.length - 14 - 20 - 8);
  }
  // Too short to hold a VXLAN header plus an Ethernet header: plain UDP too.
  const short = Buffer.from(base.subarray(0, 14 + 20 + 8 + 10));
  short.writeUInt16BE(20 + 8 + 10, 14 + 2);
  short.writeUInt16BE(8 + 10, 14 + 20 + 4);
  assert.equal(dec.decode(short, 0, short.length, short.length, 1, 0, out), DecodeStatus.Ok);
  assert.equal(out.tunnelType, TunnelType.None);
  assert.equal(out.payloadLen, 10);
  // Decapsulation switched off: the tunnel packet is the flow.
  const off = new Decoder({ tunnelTierLimit: 0 });
  assert.equal(off.decode(base, 0, base.length, base.length, 1, 0, out), DecodeStatus.Ok);
  assert.equal(out.tunnelType, TunnelType.None);
  assert.equal(ipToString(4, out.srcIp), '172.16.1.103');
});

// ---- Built tunnels: variants the fixtures lack (IPv6 outer, GRE options, ERSPAN III subheader,
// Geneve carrying IP, VXLAN-GPE without NSH, IPv4-in-IPv6, IPv6-in-IPv4, IP options and IPv6
// extension headers in the outer packet), made from real fixture frames and checked with tshark.

function ipv4(proto: number, src: number, dst: number, payload: Buffer, options = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(20 + options.length);
  h[0] = 0x40 | ((20 + options.length) >> 2);
  h.writeUInt16BE(h.length + payload.length, 2);
  h[8] = 64;
  h[9] = proto;
  h.writeUInt32BE(src >>> 0, 12);
  h.writeUInt32BE(dst >>> 0, 16);
  options.copy(h, 20);
  let s = 0;
  for (let i = 0; i < h.length; i += 2) s += h.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  h.writeUInt16BE(~s & 0xffff, 10);
  return Buffer.concat([h, payload]);
}

function ipv6(nh: number, srcLast: number, dstLast: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = nh;
  h[7] = 64;
  h.writeUInt32BE(0x20010db8, 8);
  h.writeUInt32BE(srcLast, 20);
  h.writeUInt32BE(0x20010db8, 24);
  h.writeUInt32BE(dstLast, 36);
  return Buffer.concat([h, payload]);
}

function udp(dport: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(33333, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

function eth(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  h.write('020000000001020000000002', 0, 'hex');
  h.writeUInt16BE(type, 12);
  return Buffer.concat([h, payload]);
}

function gre(proto: number, payload: Buffer, o: { csum?: boolean; key?: number; seq?: number; ver?: number } = {}): Buffer {
  const words: number[] = [];
  let flags = o.ver ?? 0;
  if (o.csum) {
    flags |= 0x8000;
    words.push(0);
  }
  if (o.key !== undefined) {
    flags |= 0x2000;
    words.push(o.key);
  }
  if (o.seq !== undefined) {
    flags |= 0x1000;
    words.push(o.seq);
  }
  const h = Buffer.alloc(4 + words.length * 4);
  h.writeUInt16BE(flags, 0);
  h.writeUInt16BE(proto, 2);
  words.forEach((w, i) => h.writeUInt32BE(w >>> 0, 4 + i * 4));
  return Buffer.concat([h, payload]);
}

function erspanII(session: number, frame: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x1000 | 10, 0); // version 1, VLAN 10
  h.writeUInt16BE(session & 0x3ff, 2);
  return Buffer.concat([h, frame]);
}

function erspanIII(session: number, frame: Buffer, subheader: boolean): Buffer {
  const h = Buffer.alloc(12 + (subheader ? 8 : 0));
  h.writeUInt16BE(0x2000 | 10, 0); // version 2 (= type III), VLAN 10
  h.writeUInt16BE(session & 0x3ff, 2);
  h.writeUInt32BE(123456, 4); // timestamp
  h[11] = subheader ? 1 : 0; // O flag
  if (subheader) h.writeUInt32BE(0x0c000000, 12); // platform id 3
  return Buffer.concat([h, frame]);
}

function geneveHdr(protoType: number, vni: number, optWords: number, inner: Buffer): Buffer {
  const h = Buffer.alloc(8 + optWords * 4);
  h[0] = optWords;
  h.writeUInt16BE(protoType, 2);
  h.writeUIntBE(vni, 4, 3);
  if (optWords) {
    h.writeUInt16BE(0x0102, 8); // option class
    h[10] = 0x80; // type
    h[11] = optWords - 1; // option data length in words
  }
  return Buffer.concat([h, inner]);
}

function gpe(next: number, vni: number, inner: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 0x0c; // I + P
  h[3] = next;
  h.writeUIntBE(vni, 4, 3);
  return Buffer.concat([h, inner]);
}

function vxlanHdr(vni: number, frame: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 0x08;
  h.writeUIntBE(vni, 4, 3);
  return Buffer.concat([h, frame]);
}

/** IPv6 with hop-by-hop (8 bytes) and destination options (16 bytes) before `nh`. */
function ipv6WithExt(nh: number, payload: Buffer): Buffer {
  const hbh = Buffer.alloc(8);
  hbh[0] = 60;
  hbh[2] = 1; // PadN
  hbh[3] = 4;
  const dst = Buffer.alloc(16);
  dst[0] = nh;
  dst[1] = 1;
  dst[2] = 1;
  dst[3] = 12;
  return ipv6(0, 0x10, 0x20, Buffer.concat([hbh, dst, payload]));
}

test('tunnels: built variants (IPv6 outer, GRE options, ERSPAN III, Geneve/GPE with IP, IP-in-IPv6) match tshark', () => {
  const dir = mkdtempSync(join(tmpdir(), 'decode-built-'));
  try {
    const gen = join(FIXTURES, 'agent/resources/test/flow_generator');
    const E = fixtureFrame(join(gen, 'http.pcap'), 3); // IPv4 TCP with payload
    const E6 = fixtureFrame(join(gen, 'amqp/amqp-error.pcap'), 3); // IPv6 TCP with payload
    const ip4 = E.subarray(14);
    const ip6 = E6.subarray(14);
    const A = 0xc6336401; // 198.51.100.1
    const B = 0xc6336402;
    const cases: { name: string; frame: Buffer; type: TunnelType; id: number }[] = [
      { name: 'GRE TEB over IPv6, key', frame: eth(0x86dd, ipv6(47, 1, 2, gre(0x6558, E, { key: 0x1234 }))), type: TunnelType.Teb, id: 0x1234 },
      { name: 'GRE csum+key+seq, IPv4 inside', frame: eth(0x0800, ipv4(47, A, B, gre(0x0800, ip4, { csum: true, key: 0xfedcba98, seq: 7 }))), type: TunnelType.Gre, id: 0xfedcba98 },
      { name: 'GRE without key, IPv6 inside', frame: eth(0x0800, ipv4(47, A, B, gre(0x86dd, ip6))), type: TunnelType.Gre, id: -1 },
      { name: 'ERSPAN II', frame: eth(0x0800, ipv4(47, A, B, gre(0x88be, erspanII(0x3ff, E), { seq: 1 }))), type: TunnelType.Erspan, id: 0x3ff },
      { name: 'ERSPAN III with subheader', frame: eth(0x0800, ipv4(47, A, B, gre(0x22eb, erspanIII(0x155, E6, true), { seq: 2 }))), type: TunnelType.Erspan, id: 0x155 },
      { name: 'ERSPAN III without subheader', frame: eth(0x0800, ipv4(47, A, B, gre(0x22eb, erspanIII(9, E, false), { seq: 3 }))), type: TunnelType.Erspan, id: 9 },
      { name: 'Geneve over IPv6 carrying IPv4', frame: eth(0x86dd, ipv6(17, 1, 2, udp(6081, geneveHdr(0x0800, 0xabcdef, 2, ip4)))), type: TunnelType.Geneve, id: 0xabcdef },
      { name: 'Geneve carrying Ethernet, no options', frame: eth(0x0800, ipv4(17, A, B, udp(6081, geneveHdr(0x6558, 17, 0, E6)))), type: TunnelType.Geneve, id: 17 },
      { name: 'VXLAN-GPE carrying Ethernet', frame: eth(0x0800, ipv4(17, A, B, udp(4790, gpe(3, 99, E)))), type: TunnelType.VxlanNsh, id: 99 },
      { name: 'VXLAN-GPE carrying IPv6', frame: eth(0x0800, ipv4(17, A, B, udp(4790, gpe(2, 98, ip6)))), type: TunnelType.VxlanNsh, id: 98 },
      { name: 'IPv4 in IPv6', frame: eth(0x86dd, ipv6(4, 1, 2, ip4)), type: TunnelType.Ipip, id: -1 },
      { name: 'IPv6 in IPv4', frame: eth(0x0800, ipv4(41, A, B, ip6)), type: TunnelType.Ipip, id: -1 },
      { name: 'VXLAN on 8472', frame: eth(0x0800, ipv4(17, A, B, udp(8472, vxlanHdr(5, E)))), type: TunnelType.Vxlan, id: 5 },
      { name: 'outer IPv4 with options', frame: eth(0x0800, ipv4(17, A, B, udp(4789, vxlanHdr(6, E6)), Buffer.from([1, 1, 1, 0, 0x94, 4, 0, 0]))), type: TunnelType.Vxlan, id: 6 },
      { name: 'outer IPv6 extension headers', frame: eth(0x86dd, ipv6WithExt(17, udp(4789, vxlanHdr(7, E)))), type: TunnelType.Vxlan, id: 7 },
      { name: 'VXLAN in GRE (two tiers)', frame: eth(0x0800, ipv4(47, A, B, gre(0x0800, ipv4(17, B, A, udp(4789, vxlanHdr(8, E))), { key: 4 }))), type: TunnelType.Gre, id: 4 },
    ];
    const file = join(dir, 'built.pcap');
    writePcap(file, 1, cases.map((c) => ({ data: c.frame })));
    const rows = tsharkFields(file, FIELDS, ['-d', 'udp.port==8472,vxlan']);
    assert.equal(rows.length, cases.length);
    const dec = new Decoder();
    const out = new DecodedPacket();
    cases.forEach((c, i) => {
      const e = expectFromTshark(rows[i]);
      const st = dec.decode(c.frame, 0, c.frame.length, c.frame.length, 1, 0, out);
      const where = c.name;
      assert.equal(st, DecodeStatus.Ok, `${where}: status`);
      assert.equal(e.status, DecodeStatus.Ok, `${where}: tshark sees an inner IP packet`);
      assert.equal(TUNNEL_NAMES[out.tunnelType], TUNNEL_NAMES[c.type], `${where}: type`);
      assert.equal(TUNNEL_NAMES[out.tunnelType], e.tunnel, `${where}: type vs tshark`);
      assert.equal(out.tunnelId, c.id, `${where}: id`);
      assert.equal(out.tunnelId, e.id, `${where}: id vs tshark`);
      assert.equal(ipToString(out.tunnelIpVersion, out.tunnelSrc), e.outerSrc, `${where}: outer src`);
      assert.equal(ipToString(out.tunnelIpVersion, out.tunnelDst), e.outerDst, `${where}: outer dst`);
      assert.equal(ipToString(out.ipVersion, out.srcIp), e.src, `${where}: inner src`);
      assert.equal(ipToString(out.ipVersion, out.dstIp), e.dst, `${where}: inner dst`);
      assert.equal(out.protocol, 6, `${where}: inner protocol`);
      assert.equal(out.srcPort, e.sport, `${where}: inner sport`);
      assert.equal(out.dstPort, e.dport, `${where}: inner dport`);
      assert.equal(out.tunnelTier, c.name.includes('two tiers') ? 2 : 1, `${where}: tier`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
