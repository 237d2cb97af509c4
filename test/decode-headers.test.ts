// Header details on real packets changed the way captures change them: Ethernet padding, snap-length
// truncation (editcap -s), TSO total length 0, IPv6 extension headers, ICMPv6 echo — each checked
// against tshark — and the inconsistencies that must come out Malformed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodedPacket, DecodeStatus } from '../src/engine/decode/packet';
import { FIXTURES, last, readPcap, tsharkFields, writePcap } from './decode-helpers';

const GEN = join(FIXTURES, 'agent/resources/test/flow_generator');

function frames(file: string): Buffer[] {
  const pcap = readPcap(file);
  return pcap.packets.map((p) => Buffer.from(pcap.buf.subarray(p.off, p.off + p.caplen)));
}

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'decode-headers-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('headers: Ethernet padding is not payload (tshark eth.padding)', () => {
  withTmp((dir) => {
    // Pure ACKs and a SYN from http.pcap, and DNS over UDP, padded with zeros the way a switch
    // pads short frames to 60 bytes (and some NICs to 64).
    const src = [...frames(join(GEN, 'http.pcap')).filter((f) => f.length <= 74), ...frames(join(GEN, 'udp_normal.pcap'))];
    const padded = src.flatMap((f) => [Buffer.concat([f, Buffer.alloc(Math.max(60 - f.length, 6))]), Buffer.concat([f, Buffer.alloc(24, 0xee)])]);
    const file = join(dir, 'padded.pcap');
    writePcap(file, 1, padded.map((data) => ({ data })));
    // tshark: padding up to 60 bytes is eth.padding, anything past that eth.trailer.
    const rows = tsharkFields(file, ['eth.padding', 'tcp.len', 'udp.length', 'ip.len', 'eth.trailer']);
    const dec = new Decoder();
    const out = new DecodedPacket();
    padded.forEach((f, i) => {
      const r = rows[i];
      assert.ok(r[0].length > 0 || r[4].length > 0, `frame ${i + 1}: tshark sees padding / a trailer`);
      assert.equal(dec.decode(f, 0, f.length, f.length, 1, 0, out), DecodeStatus.Ok);
      assert.equal(out.l3PayloadLen, Number(r[3][0]) - 20);
      if (r[1].length) assert.equal(out.payloadLen, Number(last(r[1])), `frame ${i + 1}: tcp.len`);
      else assert.equal(out.payloadLen, Number(last(r[2])) - 8, `frame ${i + 1}: udp.length`);
      assert.equal(out.capturedPayloadLen, out.payloadLen, 'padding not counted as captured payload');
    });
  });
});

test('headers: snap-length truncation keeps stated lengths, captured lengths shrink, a cut fixed TCP header is malformed', () => {
  withTmp((dir) => {
    const orig = join(GEN, 'http.pcap');
    for (const snap of [40, 54, 60, 100, 200]) {
      const file = join(dir, `snap${snap}.pcap`);
      execFileSync('editcap', ['-F', 'pcap', '-s', String(snap), orig, file]);
      const pcap = readPcap(file);
      const rows = tsharkFields(file, ['tcp.len', 'frame.cap_len', 'frame.len', 'tcp.hdr_len', 'tcp.options.mss_val', 'tcp.options.wscale.shift']);
      const dec = new Decoder();
      const out = new DecodedPacket();
      pcap.packets.forEach((p, i) => {
        const r = rows[i];
        const where = `snap ${snap} frame ${i + 1}`;
        assert.equal(p.caplen, Number(r[1][0]), `${where}: caplen`);
        assert.equal(p.origLen, Number(r[2][0]), `${where}: origLen`);
        const st = dec.decode(pcap.buf, p.off, p.caplen, p.origLen, pcap.linkType, p.tsUs, out);
        const tcpHeaderEnd = 14 + 20 + (r[3].length ? Number(r[3][0]) : 20);
        if (p.caplen < 14 + 20 + 20) {
          // The fixed TCP header is cut: tshark cannot show it either.
          assert.equal(st, DecodeStatus.Malformed, where);
          assert.equal(r[0].length, 0, `${where}: tshark has no tcp.len`);
          return;
        }
        // Options may be cut (snap 54 / 60): the segment still decodes, as in tshark.
        assert.equal(st, DecodeStatus.Ok, where);
        assert.equal(out.payloadLen, Number(r[0][0]), `${where}: tcp.len as stated`);
        assert.equal(out.capturedPayloadLen, Math.max(0, Math.min(out.payloadLen, p.caplen - tcpHeaderEnd)), `${where}: captured payload`);
        // What survives of the options: the same as tshark finds.
        assert.equal(out.tcpMss, r[4].length ? Number(r[4][0]) : -1, `${where}: MSS`);
        assert.equal(out.tcpWscale, r[5].length ? Number(r[5][0]) : -1, `${where}: window scale`);
        assert.equal(out.payloadOffset - p.off, tcpHeaderEnd, `${where}: payload offset`);
      });
    }
  });
});

test('headers: total length 0 (TSO capture) takes the wire length, as tshark does', () => {
  withTmp((dir) => {
    const data = frames(join(GEN, 'http.pcap')).filter((f) => f.length > 200);
    const tso = data.map((f) => {
      const g = Buffer.from(f);
      g.writeUInt16BE(0, 16);
      return g;
    });
    const file = join(dir, 'tso.pcap');
    writePcap(file, 1, tso.map((d) => ({ data: d })));
    const rows = tsharkFields(file, ['tcp.len']);
    const dec = new Decoder();
    const out = new DecodedPacket();
    tso.forEach((f, i) => {
      assert.equal(dec.decode(f, 0, f.length, f.length, 1, 0, out), DecodeStatus.Ok);
      assert.equal(out.payloadLen, Number(rows[i][0][0]), `frame ${i + 1}`);
      assert.equal(out.payloadLen, f.length - (out.payloadOffset));
    });
  });
});

/** IPv6 TCP frame from the fixtures with hop-by-hop, routing (type 4, segments left 0),
 *  destination options and AH inserted before TCP. */
function withExtensionHeaders(f: Buffer): Buffer {
  const ip = f.subarray(14);
  const nh = ip[6];
  const hbh = Buffer.from([43, 0, 1, 4, 0, 0, 0, 0]); // -> routing; PadN
  const rt = Buffer.alloc(24); // -> dest opts; type 4 (SRH), 1 segment, segments left 0
  rt[0] = 60;
  rt[1] = 2;
  rt[2] = 4;
  rt[3] = 0;
  const dst = Buffer.from([51, 0, 1, 4, 0, 0, 0, 0]); // -> AH
  const ah = Buffer.alloc(24); // AH with a 12-byte ICV: length field (24/4) - 2 = 4
  ah[0] = nh;
  ah[1] = 4;
  ah.writeUInt32BE(0x1000, 4); // SPI
  ah.writeUInt32BE(1, 8); // sequence
  const ext = Buffer.concat([hbh, rt, dst, ah]);
  const hdr = Buffer.from(ip.subarray(0, 40));
  hdr[6] = 0;
  hdr.writeUInt16BE(ip.readUInt16BE(4) + ext.length, 4);
  return Buffer.concat([f.subarray(0, 14), hdr, ext, ip.subarray(40)]);
}

test('headers: IPv6 extension headers (hop-by-hop, routing, destination options, AH), no next header, ICMPv6 echo', () => {
  withTmp((dir) => {
    const v6 = frames(join(GEN, 'amqp/amqp-error.pcap')).filter((f) => f.readUInt16BE(12) === 0x86dd);
    assert.ok(v6.length > 10);
    const built = v6.slice(0, 10).map(withExtensionHeaders);
    // No next header (59) after a destination options header.
    const none = Buffer.from(v6[0].subarray(0, 14 + 40 + 8));
    none[14 + 6] = 60;
    none.writeUInt16BE(8, 14 + 4);
    none.fill(0, 14 + 40);
    none[14 + 40] = 59;
    none[14 + 40 + 2] = 1;
    none[14 + 40 + 3] = 4;
    // ICMPv6 echo request and reply, identifier 0x1234.
    const echo = (type: number) => {
      const g = Buffer.from(v6[0].subarray(0, 14 + 40 + 16));
      g[14 + 6] = 58;
      g.writeUInt16BE(16, 14 + 4);
      g.fill(0, 14 + 40);
      g[14 + 40] = type;
      g.writeUInt16BE(0x1234, 14 + 40 + 4);
      g.writeUInt16BE(7, 14 + 40 + 6);
      return g;
    };
    const all = [...built, none, echo(128), echo(129)];
    const file = join(dir, 'v6ext.pcap');
    writePcap(file, 1, all.map((data) => ({ data })));
    const rows = tsharkFields(file, ['tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.len', 'ipv6.nxt', 'icmpv6.type', 'icmpv6.echo.identifier', 'ah.spi']);
    const dec = new Decoder();
    const out = new DecodedPacket();
    built.forEach((f, i) => {
      const r = rows[i];
      assert.equal(dec.decode(f, 0, f.length, f.length, 1, 0, out), DecodeStatus.Ok, `frame ${i + 1}`);
      assert.equal(r[7][0], '0x00001000', 'tshark walked to the AH header');
      assert.equal(out.protocol, 6);
      assert.equal(out.srcPort, Number(r[0][0]));
      assert.equal(out.dstPort, Number(r[1][0]));
      assert.equal(out.tcpSeq, Number(r[2][0]));
      assert.equal(out.payloadLen, Number(r[3][0]));
      assert.equal(out.l4Offset - out.l3Offset, 40 + 8 + 24 + 8 + 24);
      assert.equal(out.l3PayloadLen, f.length - 14 - 40);
    });
    const k = built.length;
    assert.equal(dec.decode(none, 0, none.length, none.length, 1, 0, out), DecodeStatus.Ok);
    assert.equal(out.protocol, 59);
    assert.deepEqual(rows[k][4], ['60']);
    assert.equal(out.payloadLen, 0);
    for (const [j, type] of [
      [k + 1, 128],
      [k + 2, 129],
    ]) {
      const f = all[j];
      assert.equal(dec.decode(f, 0, f.length, f.length, 1, 0, out), DecodeStatus.Ok);
      assert.equal(out.protocol, 58);
      assert.equal(out.icmpType, Number(rows[j][5][0]));
      assert.equal(out.icmpType, type);
      assert.equal(out.icmpCode, 0);
      assert.equal(out.srcPort, Number(rows[j][6][0]));
      assert.equal(out.dstPort, 0x1234);
      assert.equal(out.payloadLen, 8);
    }
  });
});

test('headers: inconsistent headers are malformed, never thrown', () => {
  const base = frames(join(GEN, 'http.pcap'))[3]; // IPv4 TCP with payload
  const dec = new Decoder();
  const out = new DecodedPacket();
  const st = (f: Buffer) => dec.decode(f, 0, f.length, f.length, 1, 0, out);
  const edit = (fn: (g: Buffer) => void) => {
    const g = Buffer.from(base);
    fn(g);
    return g;
  };
  assert.equal(st(base), DecodeStatus.Ok);
  assert.equal(st(edit((g) => (g[14] = 0x44))), DecodeStatus.Malformed, 'IHL 4');
  assert.equal(st(edit((g) => (g[14] = 0x4f))), DecodeStatus.Malformed, 'IHL 15 past the TCP header');
  assert.equal(st(edit((g) => (g[14] = 0x65))), DecodeStatus.Malformed, 'EtherType IPv4, version 6');
  assert.equal(st(edit((g) => g.writeUInt16BE(19, 16))), DecodeStatus.Malformed, 'total length below IHL');
  assert.equal(st(edit((g) => (g[14 + 20 + 12] = 0x40))), DecodeStatus.Malformed, 'TCP data offset 4');
  const ack = frames(join(GEN, 'http.pcap'))[2]; // 66-byte ACK: 32-byte TCP header, no payload
  const bigOff = Buffer.from(ack);
  bigOff[14 + 20 + 12] = 0xf0;
  assert.equal(st(bigOff), DecodeStatus.Malformed, 'TCP data offset past the datagram');
  assert.equal(st(base.subarray(0, 14 + 19)), DecodeStatus.Malformed, 'IPv4 header cut');
  assert.equal(st(base.subarray(0, 14 + 20 + 19)), DecodeStatus.Malformed, 'TCP header cut');
  const udp = frames(join(GEN, 'udp_normal.pcap'))[0];
  const u = (fn: (g: Buffer) => void) => {
    const g = Buffer.from(udp);
    fn(g);
    return dec.decode(g, 0, g.length, g.length, 1, 0, out);
  };
  assert.equal(u(() => {}), DecodeStatus.Ok);
  assert.equal(u((g) => g.writeUInt16BE(7, 14 + 20 + 4)), DecodeStatus.Malformed, 'UDP length 7');
  assert.equal(u((g) => g.writeUInt16BE(udp.length, 14 + 20 + 4)), DecodeStatus.Malformed, 'UDP length past the IP payload');
  assert.equal(u((g) => g.writeUInt16BE(0, 14 + 20 + 4)), DecodeStatus.Ok, 'UDP length 0 (GSO) takes the IP length');
  assert.equal(out.payloadLen, udp.length - 14 - 20 - 8);
  // Out-of-range arguments.
  assert.equal(dec.decode(base, -1, 10, 10, 1, 0, out), DecodeStatus.Malformed);
  assert.equal(dec.decode(base, base.length + 5, 10, 10, 1, 0, out), DecodeStatus.Malformed);
  assert.equal(dec.decode(base, 0, base.length + 100, base.length + 100, 1, 0, out), DecodeStatus.Ok, 'caplen past the buffer is clamped');
  assert.equal(out.capturedPayloadLen + out.payloadOffset <= base.length, true);
});
