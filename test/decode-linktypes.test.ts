// Link types: real Ethernet fixture packets re-encapsulated as RAW, IPv4/IPv6, NULL (both byte
// orders), LOOP, Linux SLL, SLL2 (with an ifindex), 802.1Q, QinQ; written as pcap with that link
// type and checked against tshark's dissection of the same file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodedPacket, DecodeStatus, ipToString } from '../src/engine/decode/packet';
import { FIXTURES, last, readPcap, tsharkFields, writePcapng } from './decode-helpers';

const GEN = join(FIXTURES, 'agent/resources/test/flow_generator');

/** Real Ethernet frames: IPv4 TCP handshake + data (http.pcap), IPv6 TCP (amqp1.pcap), IPv4 UDP (DNS). */
function sampleFrames(): Buffer[] {
  const frames: Buffer[] = [];
  for (const [file, n] of [
    [join(GEN, 'http.pcap'), 5],
    [join(GEN, 'amqp/amqp1.pcap'), 5],
    [join(GEN, 'udp_normal.pcap'), 2],
  ] as const) {
    const pcap = readPcap(file);
    for (const p of pcap.packets.slice(0, n)) frames.push(Buffer.from(pcap.buf.subarray(p.off, p.off + p.caplen)));
  }
  return frames;
}

const ethType = (f: Buffer) => f.readUInt16BE(12);
const ipOf = (f: Buffer) => f.subarray(14);
const isV6 = (f: Buffer) => ethType(f) === 0x86dd;

function u32le(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}
function u32be(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

function sll(f: Buffer, pktType: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(pktType, 0);
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  f.copy(h, 6, 6, 12); // source MAC
  h.writeUInt16BE(ethType(f), 14);
  return Buffer.concat([h, ipOf(f)]);
}

function sll2(f: Buffer, ifIndex: number, pktType: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(ethType(f), 0);
  h.writeUInt32BE(ifIndex, 4);
  h.writeUInt16BE(1, 8);
  h[10] = pktType;
  h[11] = 6;
  f.copy(h, 12, 6, 12);
  return Buffer.concat([h, ipOf(f)]);
}

/** Inserts VLAN tags [tpid, vid] (outermost first) after the MAC addresses. */
function tagged(f: Buffer, tags: [number, number][]): Buffer {
  const parts = [f.subarray(0, 12)];
  for (const [tpid, vid] of tags) {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(tpid, 0);
    t.writeUInt16BE((3 << 13) | vid, 2);
    parts.push(t);
  }
  parts.push(f.subarray(12));
  return Buffer.concat(parts);
}

interface Variant {
  name: string;
  linkType: number;
  build: (f: Buffer) => Buffer;
  vlan?: number;
  ifIndex?: number;
  pktType?: number;
}

const VARIANTS: Variant[] = [
  { name: 'Ethernet', linkType: 1, build: (f) => f },
  { name: 'RAW (101)', linkType: 101, build: ipOf },
  { name: 'NULL, little-endian AF', linkType: 0, build: (f) => Buffer.concat([u32le(isV6(f) ? 30 : 2), ipOf(f)]) },
  { name: 'NULL, big-endian AF', linkType: 0, build: (f) => Buffer.concat([u32be(isV6(f) ? 28 : 2), ipOf(f)]) },
  { name: 'NULL, AF_INET6 = 24', linkType: 0, build: (f) => Buffer.concat([u32le(isV6(f) ? 24 : 2), ipOf(f)]) },
  { name: 'LOOP (108)', linkType: 108, build: (f) => Buffer.concat([u32be(isV6(f) ? 24 : 2), ipOf(f)]) },
  { name: 'Linux SLL (113)', linkType: 113, build: (f) => sll(f, 4), pktType: 4 },
  { name: 'Linux SLL2 (276)', linkType: 276, build: (f) => sll2(f, 7, 0), ifIndex: 7, pktType: 0 },
  { name: '802.1Q', linkType: 1, build: (f) => tagged(f, [[0x8100, 42]]), vlan: 42 },
  { name: 'QinQ 802.1ad', linkType: 1, build: (f) => tagged(f, [[0x88a8, 100], [0x8100, 42]]), vlan: 100 },
  { name: 'QinQ 0x9100', linkType: 1, build: (f) => tagged(f, [[0x9100, 7], [0x8100, 8]]), vlan: 7 },
];

const FIELDS = [
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.seq_raw',
  'tcp.len',
  'udp.srcport',
  'udp.length',
  'vlan.id',
  'ieee8021ad.id',
  'sll.ifindex',
  'sll.pkttype',
  'frame.interface_id',
];
const F = Object.fromEntries(FIELDS.map((f, i) => [f, i]));

test('link types: re-encapsulated fixture packets decode as tshark dissects them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'decode-link-'));
  try {
    const frames = sampleFrames();
    assert.ok(frames.some(isV6) && frames.some((f) => !isV6(f)));
    const dec = new Decoder();
    const out = new DecodedPacket();
    const variants = [...VARIANTS];
    // LINKTYPE_IPV4 / LINKTYPE_IPV6 take only their own version.
    variants.push({ name: 'IPV4 (228)', linkType: 228, build: ipOf }, { name: 'IPV6 (229)', linkType: 229, build: ipOf });
    // One pcapng, one interface per link type, so tshark runs once.
    const cases: { v: Variant; b: Buffer }[] = [];
    variants.forEach((v) => {
      const use = frames.filter((f) => (v.linkType === 228 ? !isV6(f) : v.linkType === 229 ? isV6(f) : true));
      for (const f of use) cases.push({ v, b: v.build(f) });
    });
    const file = join(dir, 'linktypes.pcapng');
    writePcapng(
      file,
      variants.map((v) => v.linkType),
      cases.map((c) => ({ iface: variants.indexOf(c.v), data: c.b })),
    );
    const rows = tsharkFields(file, FIELDS);
    assert.equal(rows.length, cases.length);
    cases.forEach(({ v, b }, i) => {
      const where = `${v.name} (frame ${i + 1})`;
      const r = rows[i];
      const g = (f: string) => last(r[F[f]]);
      assert.equal(Number(g('frame.interface_id')), variants.indexOf(v));
      const st = dec.decode(b, 0, b.length, b.length, v.linkType, 0, out);
      assert.equal(st, DecodeStatus.Ok, where);
      const v6 = g('ipv6.src') !== undefined;
      assert.ok(v6 || g('ip.src') !== undefined, `${where}: tshark found no IP layer`);
      assert.equal(ipToString(out.ipVersion, out.srcIp), g(v6 ? 'ipv6.src' : 'ip.src'), `${where}: src`);
      assert.equal(ipToString(out.ipVersion, out.dstIp), g(v6 ? 'ipv6.dst' : 'ip.dst'), `${where}: dst`);
      if (g('tcp.srcport') !== undefined) {
        assert.equal(out.srcPort, Number(g('tcp.srcport')), `${where}: sport`);
        assert.equal(out.dstPort, Number(g('tcp.dstport')), `${where}: dport`);
        assert.equal(out.tcpSeq, Number(g('tcp.seq_raw')), `${where}: seq`);
        assert.equal(out.payloadLen, Number(g('tcp.len')), `${where}: tcp.len`);
      } else {
        assert.equal(out.srcPort, Number(g('udp.srcport')), `${where}: udp sport`);
        assert.equal(out.payloadLen, Number(g('udp.length')) - 8, `${where}: udp.length`);
      }
      // tshark names an 802.1ad S-tag ieee8021ad.id; our tags put it outermost when present.
      const vid = r[F['ieee8021ad.id']][0] ?? r[F['vlan.id']][0];
      assert.equal(out.vlan, vid === undefined ? -1 : Number(vid), `${where}: vlan vs tshark`);
      assert.equal(out.vlan, v.vlan ?? -1, `${where}: vlan`);
      const ifx = g('sll.ifindex');
      assert.equal(out.linkIfIndex, ifx === undefined ? -1 : Number(ifx), `${where}: ifindex vs tshark`);
      assert.equal(out.linkIfIndex, v.ifIndex ?? -1, `${where}: ifindex`);
      const pt = g('sll.pkttype');
      assert.equal(out.linkPacketType, pt === undefined ? -1 : Number(pt), `${where}: packet type vs tshark`);
      assert.equal(out.linkPacketType, v.pktType ?? -1, `${where}: packet type`);
      assert.equal(out.l2Offset, v.linkType === 1 ? 0 : -1, `${where}: l2Offset`);
      assert.equal(out.linkType, v.linkType);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('link types: not IP, unknown link type, truncated link headers', () => {
  const dec = new Decoder();
  const out = new DecodedPacket();
  const frame = sampleFrames()[0];
  const st = (b: Buffer, lt: number) => dec.decode(b, 0, b.length, b.length, lt, 0, out);
  // ARP over Ethernet: not IP, EtherType kept.
  const arp = Buffer.from(frame);
  arp.writeUInt16BE(0x0806, 12);
  assert.equal(st(arp, 1), DecodeStatus.NotIp);
  assert.equal(out.etherType, 0x0806);
  // ARP behind a VLAN tag: not IP, VLAN still reported.
  assert.equal(st(tagged(arp, [[0x8100, 5]]), 1), DecodeStatus.NotIp);
  assert.equal(out.vlan, 5);
  // NULL with an address family that is not IP (AF_APPLETALK 16).
  assert.equal(st(Buffer.concat([u32le(16), ipOf(frame)]), 0), DecodeStatus.NotIp);
  // RAW whose first nibble is no IP version.
  assert.equal(st(Buffer.from([0x10, 0, 0, 0]), 101), DecodeStatus.NotIp);
  // A v6 packet under LINKTYPE_IPV4 is inconsistent.
  const v6 = sampleFrames().find(isV6) as Buffer;
  assert.equal(st(ipOf(v6), 228), DecodeStatus.Malformed);
  assert.equal(st(frame, 147), DecodeStatus.UnknownLinkType);
  assert.equal(st(frame, 9999), DecodeStatus.UnknownLinkType);
  // Truncated link headers of every kind.
  assert.equal(st(frame.subarray(0, 13), 1), DecodeStatus.Malformed);
  assert.equal(st(frame.subarray(0, 3), 0), DecodeStatus.Malformed);
  assert.equal(st(frame.subarray(0, 3), 108), DecodeStatus.Malformed);
  assert.equal(st(sll(frame, 0).subarray(0, 15), 113), DecodeStatus.Malformed);
  assert.equal(st(sll2(frame, 1, 0).subarray(0, 19), 276), DecodeStatus.Malformed);
  assert.equal(st(tagged(frame, [[0x8100, 1]]).subarray(0, 16), 1), DecodeStatus.Malformed);
  assert.equal(st(Buffer.alloc(0), 101), DecodeStatus.Malformed);
});
