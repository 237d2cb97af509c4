// Tunnel decapsulation on DeepFlow's tunnel fixtures: every packet against tshark's view of it,
// plus the expectations of DeepFlow's own tests (agent/src/common/decapsulate.rs,
// server/libs/datatype/decapsulate_test.go), and the tier limit / invalid-header rules.

import { test } from 'node:test';
import assert from 'node:assert/strict';
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

for (const file of TUNNEL_FILES) {
  test(`tunnels: ${file.slice(FIXTURES.length + 1)} matches tshark packet by packet`, () => {
    const pcap = readPcap(file);
    const rows = tsharkFields(file, FIELDS);
    assert.equal(pcap.packets.length, rows.length, 'packet count');
    const dec = new Decoder();
    const out = new DecodedPacket();
    const tunnels = new Map<string, number>();
    pcap.packets.forEach((p, i) => {
      const e = expectFromTshark(rows[i]);
      const st = dec.decode(pcap.buf, p.off, p.caplen, p.origLen, pcap.linkType, p.tsUs, out);
      const where = `${file} frame ${i + 1}`;
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
      tunnels.set(e.tunnel, (tunnels.get(e.tunnel) ?? 0) + 1);
    });
    // Each file is a tunnel file: every packet in it is tunnelled.
    assert.equal(tunnels.get('') ?? 0, 0, 'untunnelled packets in a tunnel fixture');
  });
}

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
