// Every packet of every DeepFlow fixture pcap against tshark: status (IP or not), innermost
// 5-tuple, TCP seq/ack/flags/payload length, UDP length, ICMP type and echo id.
// The files are concatenated with mergecap so tshark starts once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodedPacket, DecodeStatus, ipToString } from '../src/engine/decode/packet';
import { FIXTURES, fixturePcaps, last, readPcap, tsharkFields } from './decode-helpers';

const FIELDS = [
  'frame.protocols',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.flags',
  'tcp.len',
  'udp.srcport',
  'udp.dstport',
  'udp.length',
  'icmp.type',
  'icmp.code',
  'icmp.ident',
  'icmpv6.type',
  'icmpv6.echo.identifier',
  'vlan.id',
  'tcp.options.mss_val',
  'tcp.options.wscale.shift',
];
const TUNNEL_PROTOS = new Set(['gre', 'erspan', 'vxlan', 'geneve', 'nsh']);
const F = Object.fromEntries(FIELDS.map((f, i) => [f, i]));

test('fixtures: every packet of every DeepFlow pcap decodes as tshark dissects it', () => {
  const files = fixturePcaps();
  assert.ok(files.length >= 100, `expected the DeepFlow fixtures, found ${files.length} pcaps`);
  const dir = mkdtempSync(join(tmpdir(), 'decode-fixtures-'));
  try {
    const merged = join(dir, 'all.pcap');
    execFileSync('mergecap', ['-a', '-F', 'pcap', '-w', merged, ...files]);
    const rows = tsharkFields(merged, FIELDS);
    const dec = new Decoder();
    const out = new DecodedPacket();
    let row = 0;
    const counts = { ok: 0, notIp: 0, malformed: 0, other: 0, tcp: 0, udp: 0, icmp: 0, tunnelled: 0 };
    const perFile: string[] = [];
    for (const file of files) {
      const pcap = readPcap(file);
      const c = [0, 0, 0, 0, 0];
      for (const p of pcap.packets) {
        const r = rows[row++];
        assert.ok(r, `tshark has fewer frames than the reader (${file})`);
        const where = `${file.slice(FIXTURES.length + 1)} frame ${c.reduce((a, b) => a + b, 0) + 1}`;
        const st = dec.decode(pcap.buf, p.off, p.caplen, p.origLen, pcap.linkType, p.tsUs, out);
        c[st]++;
        const get = (f: string) => r[F[f]];
        const protos = (get('frame.protocols')[0] ?? '').split(':');
        const ipLayers = protos.filter((x) => x === 'ip' || x === 'ipv6');
        // Not IP: no IP layer at all, or a tunnel after the last IP layer carrying something else.
        const afterIp = protos.slice(Math.max(protos.lastIndexOf('ip'), protos.lastIndexOf('ipv6')) + 1);
        const tunnelOfNonIp = afterIp.some((x) => TUNNEL_PROTOS.has(x));
        const want = ipLayers.length && !tunnelOfNonIp ? DecodeStatus.Ok : DecodeStatus.NotIp;
        assert.equal(st, want, `${where}: status (${protos.join(':')})`);
        if (st !== DecodeStatus.Ok) continue;
        if (out.tunnelTier > 0) counts.tunnelled++;
        const v6 = ipLayers[ipLayers.length - 1] === 'ipv6';
        assert.equal(ipToString(out.ipVersion, out.srcIp), last(get(v6 ? 'ipv6.src' : 'ip.src')), `${where}: src`);
        assert.equal(ipToString(out.ipVersion, out.dstIp), last(get(v6 ? 'ipv6.dst' : 'ip.dst')), `${where}: dst`);
        const vlan = get('vlan.id')[0];
        assert.equal(out.vlan, vlan === undefined ? -1 : Number(vlan), `${where}: outermost vlan`);
        const l4 = [...protos].reverse().find((x) => x === 'tcp' || x === 'udp' || x === 'icmp' || x === 'icmpv6');
        if (l4 === 'tcp') {
          counts.tcp++;
          assert.equal(out.protocol, 6, `${where}: protocol`);
          assert.equal(out.srcPort, Number(last(get('tcp.srcport'))), `${where}: sport`);
          assert.equal(out.dstPort, Number(last(get('tcp.dstport'))), `${where}: dport`);
          assert.equal(out.tcpSeq, Number(last(get('tcp.seq_raw'))), `${where}: seq`);
          assert.equal(out.tcpAck, Number(last(get('tcp.ack_raw'))), `${where}: ack`);
          assert.equal(out.tcpFlags, parseInt(last(get('tcp.flags')) as string, 16), `${where}: flags`);
          assert.equal(out.payloadLen, Number(last(get('tcp.len'))), `${where}: tcp.len`);
          const mss = last(get('tcp.options.mss_val'));
          const ws = last(get('tcp.options.wscale.shift'));
          if (out.tcpFlags & 0x02) {
            assert.equal(out.tcpMss, mss === undefined ? -1 : Number(mss), `${where}: mss`);
            assert.equal(out.tcpWscale, ws === undefined ? -1 : Number(ws), `${where}: wscale`);
          }
        } else if (l4 === 'udp') {
          counts.udp++;
          assert.equal(out.protocol, 17, `${where}: protocol`);
          assert.equal(out.srcPort, Number(last(get('udp.srcport'))), `${where}: sport`);
          assert.equal(out.dstPort, Number(last(get('udp.dstport'))), `${where}: dport`);
          assert.equal(out.payloadLen, Number(last(get('udp.length'))) - 8, `${where}: udp.length`);
        } else if (l4 === 'icmp' || l4 === 'icmpv6') {
          counts.icmp++;
          assert.equal(out.icmpType, Number(last(get(l4 === 'icmp' ? 'icmp.type' : 'icmpv6.type'))), `${where}: icmp type`);
          const id = last(get(l4 === 'icmp' ? 'icmp.ident' : 'icmpv6.echo.identifier'));
          assert.equal(out.srcPort, id === undefined ? 0 : Number(id), `${where}: echo id`);
          assert.equal(out.dstPort, out.srcPort);
        }
        assert.ok(out.payloadOffset + out.capturedPayloadLen <= out.buf.length, `${where}: payload within buffer`);
      }
      counts.ok += c[DecodeStatus.Ok];
      counts.notIp += c[DecodeStatus.NotIp];
      counts.malformed += c[DecodeStatus.Malformed];
      counts.other += c[DecodeStatus.FragmentHeld] + c[DecodeStatus.UnknownLinkType];
      if (c[1] || c[2] || c[3] || c[4]) perFile.push(`${file.slice(FIXTURES.length + 1)}: ok ${c[0]} notIp ${c[1]} held ${c[2]} malformed ${c[3]}`);
    }
    assert.equal(row, rows.length, 'tshark has more frames than the reader');
    console.log(`# ${files.length} files, ${row} packets:`, JSON.stringify(counts));
    for (const l of perFile) console.log(`#   ${l}`);
    // The fixtures are real captures: nothing in them is malformed, and only the tunnel files'
    // CDP / LLDP frames are not IP.
    assert.equal(counts.malformed, 0);
    assert.equal(counts.other, 0);
    assert.equal(counts.notIp, 3);
    assert.ok(counts.tcp > 24000 && counts.udp > 10 && counts.icmp > 50, JSON.stringify(counts));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
