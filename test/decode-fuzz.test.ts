// Fuzz: seeded mutations of real fixture packets (all link types, tunnels, fragments). The decoder
// must never throw, always return a known status, keep every offset inside the captured bytes and
// — checked through a Proxy that sees every index read — never read outside them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodedPacket, DecodeStatus } from '../src/engine/decode/packet';
import { FIXTURES, readPcap } from './decode-helpers';
import { prng as rng } from './prng';

interface Seed {
  linkType: number;
  data: Buffer;
}

const COMMON = join(FIXTURES, 'agent/resources/test/common');
const DATATYPE = join(FIXTURES, 'server/libs/datatype');
const GEN = join(FIXTURES, 'agent/resources/test/flow_generator');

function seeds(): Seed[] {
  const out: Seed[] = [];
  const files = [
    [join(COMMON, 'vxlan-nsh.pcap'), 1],
    [join(COMMON, 'vmware-gre-teb.pcap'), 8],
    [join(COMMON, 'decapsulate_erspan1.pcap'), 8],
    [join(COMMON, 'ip6-vxlan.pcap'), 1],
    [join(COMMON, 'decapsulate_test.pcap'), 4],
    [join(COMMON, 'geneve.pcap'), 4],
    [join(DATATYPE, 'ipip.pcap'), 5],
    [join(DATATYPE, 'tencent-gre.pcap'), 1],
    [join(GEN, 'http.pcap'), 13],
    [join(GEN, 'amqp/amqp1.pcap'), 10],
    [join(GEN, 'udp_normal.pcap'), 2],
    [join(GEN, 'dns/nxdomain.pcap'), 6],
  ] as const;
  for (const [f, n] of files) {
    const pcap = readPcap(f);
    for (const p of pcap.packets.slice(0, n)) out.push({ linkType: pcap.linkType, data: Buffer.from(pcap.buf.subarray(p.off, p.off + p.caplen)) });
  }
  // Other link types from the Ethernet ones: RAW, NULL, SLL2 — and IPv4/IPv6 fragments.
  const eth = out.filter((s) => s.linkType === 1).slice(0, 30);
  for (const s of eth) {
    const ip = s.data.subarray(14);
    out.push({ linkType: 101, data: Buffer.from(ip) });
    out.push({ linkType: 0, data: Buffer.concat([Buffer.from([2, 0, 0, 0]), ip]) });
    const sll2 = Buffer.alloc(20);
    s.data.copy(sll2, 0, 12, 14);
    sll2.writeUInt32BE(3, 4);
    out.push({ linkType: 276, data: Buffer.concat([sll2, ip]) });
  }
  for (const s of eth.filter((x) => x.data.readUInt16BE(12) === 0x0800 && x.data.length > 80)) {
    const ip = Buffer.from(s.data.subarray(14));
    const ihl = (ip[0] & 15) * 4;
    const a = Buffer.from(ip.subarray(0, ihl + 24));
    a.writeUInt16BE(a.length, 2);
    a.writeUInt16BE(0x2000, 6);
    const b = Buffer.concat([ip.subarray(0, ihl), ip.subarray(ihl + 24)]);
    b.writeUInt16BE(b.length, 2);
    b.writeUInt16BE(3, 6);
    out.push({ linkType: 101, data: a }, { linkType: 101, data: b });
  }
  for (const s of eth.filter((x) => x.data.readUInt16BE(12) === 0x86dd && x.data.length > 100)) {
    const ip = Buffer.from(s.data.subarray(14));
    const frag = (off: number, more: boolean, body: Buffer) => {
      const h = Buffer.from(ip.subarray(0, 40));
      h[6] = 44;
      h.writeUInt16BE(8 + body.length, 4);
      const fh = Buffer.alloc(8);
      fh[0] = ip[6];
      fh.writeUInt16BE(off | (more ? 1 : 0), 2);
      fh.writeUInt32BE(0xabcd, 4);
      return Buffer.concat([h, fh, body]);
    };
    const body = ip.subarray(40);
    out.push({ linkType: 101, data: frag(0, true, body.subarray(0, 16)) }, { linkType: 101, data: frag(16, false, body.subarray(16)) });
  }
  return out;
}


const LINK_TYPES = [0, 1, 101, 108, 113, 228, 229, 276, 42];
const INTERESTING = [0, 1, 2, 4, 5, 6, 8, 0x0f, 0x11, 0x20, 0x2f, 0x40, 0x45, 0x4f, 0x60, 0x7f, 0x80, 0x81, 0x86, 0x88, 0xdd, 0xfe, 0xff];

/** One mutated packet: bytes, link type, and an origLen that may lie. */
function mutate(s: Seed, r: () => number): { data: Buffer; linkType: number; origLen: number } {
  let d = Buffer.from(s.data);
  const n = 1 + Math.floor(r() * 6);
  for (let k = 0; k < n; k++) {
    const op = r();
    // Header bytes matter most: bias positions towards the first 100 bytes.
    const pos = Math.floor((r() < 0.8 ? Math.min(d.length, 100) : d.length) * r());
    if (op < 0.35 && d.length) d[pos] = Math.floor(r() * 256);
    else if (op < 0.6 && d.length) d[pos] = INTERESTING[Math.floor(r() * INTERESTING.length)];
    else if (op < 0.7 && d.length > 1) d.writeUInt16BE(Math.floor(r() * 65536), Math.min(pos, d.length - 2));
    else if (op < 0.85) d = d.subarray(0, Math.floor(r() * (d.length + 1)));
    else if (op < 0.95) d = Buffer.concat([d, Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)))]);
    else d = Buffer.concat([d.subarray(0, pos), d.subarray(Math.min(d.length, pos + 1 + Math.floor(r() * 8)))]);
  }
  const linkType = r() < 0.9 ? s.linkType : LINK_TYPES[Math.floor(r() * LINK_TYPES.length)];
  const lie = r();
  const origLen = lie < 0.8 ? d.length : lie < 0.9 ? Math.floor(r() * d.length) : d.length + Math.floor(r() * 70000);
  return { data: d, linkType, origLen };
}

/** The invariants a decoded packet must satisfy, whatever the bytes. */
function checkInvariants(st: DecodeStatus, out: DecodedPacket, input: Buffer, off: number, capEnd: number, where: () => string): void {
  assert.ok(st >= DecodeStatus.Ok && st <= DecodeStatus.UnknownLinkType, `${where()}: status ${st}`);
  if (st !== DecodeStatus.Ok) return;
  const inInput = out.buf === input;
  const lo = inInput ? off : 0;
  const hi = inInput ? capEnd : out.buf.length;
  const ok = (c: boolean, what: string) => {
    if (!c) assert.fail(`${where()}: ${what} (l3 ${out.l3Offset} l4 ${out.l4Offset} pay ${out.payloadOffset}+${out.capturedPayloadLen}/${out.payloadLen} in [${lo},${hi}))`);
  };
  ok(out.ipVersion === 4 || out.ipVersion === 6, 'ip version');
  ok(out.l3Offset >= lo && out.l3Offset < hi, 'l3Offset inside capture');
  ok(out.l4Offset >= out.l3Offset && out.l4Offset <= hi, 'l4Offset inside capture');
  ok(out.payloadLen >= 0 && out.capturedPayloadLen >= 0 && out.capturedPayloadLen <= out.payloadLen, 'payload lengths');
  ok(out.capturedPayloadLen === 0 || (out.payloadOffset >= out.l4Offset && out.payloadOffset + out.capturedPayloadLen <= hi), 'payload inside capture');
  ok(out.l2Offset === -1 || (out.l2Offset >= lo && out.l2Offset + 14 <= hi), 'l2Offset');
  ok(out.tunnelTier >= 0 && out.tunnelTier <= 2, 'tier');
  ok(out.srcPort >= 0 && out.srcPort <= 0xffff && out.dstPort >= 0 && out.dstPort <= 0xffff, 'ports');
  ok(out.tcpSeq >= 0 && out.tcpSeq <= 0xffffffff && out.tcpAck >= 0 && out.tcpAck <= 0xffffffff, 'seq/ack unsigned');
}

test('fuzz: 300k mutated packets never throw and keep every offset inside the capture', { timeout: 120_000 }, () => {
  const pool = seeds();
  assert.ok(pool.length > 150, `seed pool ${pool.length}`);
  const r = rng(20240601);
  const dec = new Decoder({ maxPendingFragments: 64 });
  const out = new DecodedPacket();
  const arena = Buffer.alloc(1 << 20);
  const counts = [0, 0, 0, 0, 0];
  const N = 300_000;
  for (let i = 0; i < N; i++) {
    const s = pool[Math.floor(r() * pool.length)];
    const m = mutate(s, r);
    // Random placement with random bytes around it: reads past the end would see garbage.
    const off = Math.floor(r() * 4096);
    if (i % 1024 === 0) for (let k = 0; k < 8192; k++) arena[k] = Math.floor(r() * 256);
    m.data.copy(arena, off);
    arena.fill(0xa5, off + m.data.length, off + m.data.length + 64);
    let st: DecodeStatus;
    try {
      st = dec.decode(arena, off, m.data.length, m.origLen, m.linkType, i * 1000, out);
    } catch (e) {
      assert.fail(`decode threw on mutation ${i} (link ${m.linkType}, ${m.data.toString('hex')}): ${e}`);
    }
    counts[st]++;
    checkInvariants(st, out, arena, off, off + m.data.length, () => `mutation ${i} (link ${m.linkType}, ${m.data.toString('hex')})`);
    assert.ok(dec.fragments.size <= 64);
  }
  console.log(`# statuses over ${N} mutations: ok ${counts[0]} notIp ${counts[1]} held ${counts[2]} malformed ${counts[3]} unknownLink ${counts[4]}`);
  console.log(`# fragments: ${JSON.stringify(dec.fragments.stats)}`);
  // The mutations are mild enough that every outcome occurs.
  for (const c of counts) assert.ok(c > 100, JSON.stringify(counts));
});

test('fuzz: 100k mutations never read a byte outside [off, off + caplen) (Proxy-watched buffer)', { timeout: 120_000 }, () => {
  const pool = seeds();
  const r = rng(7);
  const dec = new Decoder({ maxPendingFragments: 16 });
  const out = new DecodedPacket();
  let lo = 0;
  let hi = 0;
  let bad = '';
  const backing = Buffer.alloc(70_000);
  const watched = new Proxy(backing, {
    get(target, prop) {
      if (typeof prop === 'string') {
        const c = prop.charCodeAt(0);
        if (c >= 48 && c <= 57) {
          const i = Number(prop);
          if ((i < lo || i >= hi) && !bad) bad = `read index ${i} outside [${lo}, ${hi})`;
          return target[i];
        }
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  // The watcher itself works: claiming a shorter capture than we pass makes it complain.
  const probe = pool[0].data;
  probe.copy(backing, 0);
  lo = 0;
  hi = 10;
  dec.decode(watched, 0, probe.length, probe.length, pool[0].linkType, 0, out);
  assert.match(bad, /outside \[0, 10\)/);

  const N = 100_000;
  for (let i = 0; i < N; i++) {
    const m = mutate(pool[Math.floor(r() * pool.length)], r);
    lo = Math.floor(r() * 64);
    hi = lo + m.data.length;
    m.data.copy(backing, lo);
    bad = '';
    const st = dec.decode(watched, lo, m.data.length, m.origLen, m.linkType, i, out);
    if (bad) assert.fail(`mutation ${i} (link ${m.linkType}, status ${st}, ${m.data.toString('hex')}): ${bad}`);
  }
});
