// Fragment reassembly on real fragmented traffic: two network namespaces joined by a veth pair
// (MTU 1500), a 4000-byte ping and a 5000-byte UDP datagram over IPv4 and IPv6, captured with
// tcpdump. Reassembled datagrams must carry exactly the bytes sent; tshark must agree on where
// each datagram completes. Then the same fragments out of order, duplicated, overlapping, timed
// out and over the pending limit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodedPacket, DecodeStatus, ipToString } from '../src/engine/decode/packet';
import { hasTool, readPcap, tsharkFields, type Pcap } from './decode-helpers';
import { prng as rng } from './prng';

const PY = '/usr/bin/python3';
const ICMP_SIZE = 4000;
const UDP_SIZE = 5000;
const ECHO_ID = 0x4242;

/** Sent from namespace A: the payload byte i is i % 251, so reassembly errors show. */
const SENDER = `
import socket, struct, time
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
pay = bytes(i % 251 for i in range(${ICMP_SIZE}))
big = bytes(i % 251 for i in range(${UDP_SIZE}))
h = struct.pack('!BBHHH', 8, 0, 0, ${ECHO_ID}, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(2)
s.sendto(struct.pack('!BBHHH', 8, 0, csum(h + pay), ${ECHO_ID}, 1) + pay, ('10.231.0.2', 0))
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(big, ('10.231.0.2', 9999))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s6.sendto(struct.pack('!BBHHH', 128, 0, 0, ${ECHO_ID}, 1) + pay, ('fd00:231::2', 0))
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(big, ('fd00:231::2', 9999))
time.sleep(0.5)
`;

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error}`);
}

/** Why the namespace capture cannot run here, or '' when it can. */
function unavailable(): string {
  if (process.getuid?.() !== 0) return 'not root';
  for (const t of ['ip', 'tcpdump', 'tshark']) if (!hasTool(t)) return `${t} not installed`;
  if (!existsSync(PY)) return `${PY} not installed`;
  const probe = `fsdprobe${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.status !== 0) return `ip netns unavailable: ${r.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return '';
}

/** Captures the fragmented traffic; returns the pcap path. */
async function capture(dir: string): Promise<string> {
  const a = `fsdA${process.pid}`;
  const b = `fsdB${process.pid}`;
  const file = join(dir, 'frag.pcap');
  run('ip', ['netns', 'add', a]);
  try {
    run('ip', ['netns', 'add', b]);
    try {
      run('ip', ['-n', a, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b]);
      for (const [ns, dev, v4, v6] of [
        [a, 'va', '10.231.0.1/24', 'fd00:231::1/64'],
        [b, 'vb', '10.231.0.2/24', 'fd00:231::2/64'],
      ]) {
        run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        run('ip', ['-n', ns, 'link', 'set', dev, 'mtu', '1500', 'up']);
        run('ip', ['-n', ns, 'addr', 'add', v4, 'dev', dev]);
        run('ip', ['-n', ns, '-6', 'addr', 'add', v6, 'dev', dev, 'nodad']);
      }
      const dump = spawn('ip', ['netns', 'exec', b, 'tcpdump', '-i', 'vb', '-n', '-U', '--immediate-mode', '-s', '0', '-w', file, 'ip or ip6'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exited = new Promise<void>((res) => dump.on('exit', () => res()));
      try {
        await new Promise<void>((res, rej) => {
          let err = '';
          const timer = setTimeout(() => rej(new Error(`tcpdump did not start: ${err}`)), 10_000);
          dump.stderr.on('data', (d: Buffer) => {
            err += d.toString();
            if (err.includes('listening on')) {
              clearTimeout(timer);
              res();
            }
          });
        });
        run('ip', ['netns', 'exec', a, PY, '-c', SENDER]);
      } finally {
        dump.kill('SIGTERM');
        await exited;
      }
    } finally {
      spawnSync('ip', ['netns', 'del', b]);
    }
  } finally {
    spawnSync('ip', ['netns', 'del', a]);
  }
  return file;
}

interface Done {
  frame: number;
  version: number;
  protocol: number;
  src: string;
  payload: Buffer;
  icmpType: number;
}

/** Decodes frames in the given order; returns the completed datagrams and every status. */
function feed(pcap: Pcap, order: number[], dec = new Decoder(), ts?: (i: number) => number): { done: Done[]; statuses: DecodeStatus[] } {
  const out = new DecodedPacket();
  const done: Done[] = [];
  const statuses: DecodeStatus[] = [];
  order.forEach((i, k) => {
    const p = pcap.packets[i];
    const st = dec.decode(pcap.buf, p.off, p.caplen, p.origLen, pcap.linkType, ts ? ts(k) : p.tsUs, out);
    statuses.push(st);
    if (st === DecodeStatus.Ok && out.buf !== pcap.buf) {
      assert.equal(out.capturedPayloadLen, out.payloadLen, 'whole datagram captured');
      done.push({
        frame: i,
        version: out.ipVersion,
        protocol: out.protocol,
        src: ipToString(out.ipVersion, out.srcIp),
        payload: Buffer.from(out.buf.subarray(out.payloadOffset, out.payloadOffset + out.capturedPayloadLen)),
        icmpType: out.icmpType,
      });
    }
  });
  return { done, statuses };
}

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}


const reason = unavailable();

test('fragments: real IPv4/IPv6 fragmented ping and UDP reassemble to the bytes sent', { skip: reason || false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'decode-frag-'));
  try {
    const file = await capture(dir);
    const pcap = readPcap(file);
    const order = pcap.packets.map((_, i) => i);
    const { done, statuses } = feed(pcap, order);
    const held = statuses.filter((s) => s === DecodeStatus.FragmentHeld).length;
    t.diagnostic(`${pcap.packets.length} frames, ${held} fragments held, ${done.length} datagrams reassembled`);

    const find = (version: number, protocol: number, pred: (d: Done) => boolean) => done.filter((d) => d.version === version && d.protocol === protocol && pred(d));
    const icmp4Req = find(4, 1, (d) => d.icmpType === 8 && d.src === '10.231.0.1');
    const icmp4Rep = find(4, 1, (d) => d.icmpType === 0 && d.src === '10.231.0.2');
    const udp4 = find(4, 17, (d) => d.src === '10.231.0.1');
    const icmp6Req = find(6, 58, (d) => d.icmpType === 128 && d.src === 'fd00:231::1');
    const icmp6Rep = find(6, 58, (d) => d.icmpType === 129 && d.src === 'fd00:231::2');
    const udp6 = find(6, 17, (d) => d.src === 'fd00:231::1');
    for (const [name, list, size] of [
      ['IPv4 echo request', icmp4Req, ICMP_SIZE],
      ['IPv4 echo reply', icmp4Rep, ICMP_SIZE],
      ['IPv4 UDP', udp4, UDP_SIZE],
      ['IPv6 echo request', icmp6Req, ICMP_SIZE],
      ['IPv6 echo reply', icmp6Rep, ICMP_SIZE],
      ['IPv6 UDP', udp6, UDP_SIZE],
    ] as const) {
      assert.equal(list.length, 1, `${name}: reassembled once`);
      assert.equal(list[0].payload.length, size, `${name}: payload length`);
      assert.ok(list[0].payload.equals(pattern(size)), `${name}: payload bytes`);
    }
    // Each datagram needed more than one fragment: 4008 / 5008 bytes over a 1500 MTU.
    assert.ok(held >= 6 * 2, `held ${held}`);

    // tshark (which reassembles by default) completes the same datagrams in the same frames.
    // ip.fragment.count / ipv6.fragment.count appear on the frame that completes a datagram.
    const rows = tsharkFields(file, ['ip.fragment.count', 'ipv6.fragment.count']);
    const tsharkDone = new Set<number>();
    rows.forEach((r, i) => {
      if (r[0].length || r[1].length) tsharkDone.add(i);
    });
    const ours = new Set(done.map((d) => d.frame));
    assert.deepEqual([...ours].sort((x, y) => x - y), [...tsharkDone].sort((x, y) => x - y));

    // Out of order, duplicated and overlapping: per datagram, feed its fragments shuffled with
    // duplicates of some; the result must be the same bytes.
    const fragsOf = new Map<number, number[]>(); // completing frame -> its fragment frames
    {
      const dec = new Decoder();
      const out = new DecodedPacket();
      const byKey = new Map<string, number[]>();
      pcap.packets.forEach((p, i) => {
        const st = dec.decode(pcap.buf, p.off, p.caplen, p.origLen, pcap.linkType, p.tsUs, out);
        const key = `${out.ipVersion}|${ipToString(out.ipVersion, out.srcIp)}|${out.ipId}`;
        if (st === DecodeStatus.FragmentHeld) byKey.set(key, [...(byKey.get(key) ?? []), i]);
        if (st === DecodeStatus.Ok && out.buf !== pcap.buf) fragsOf.set(i, [...(byKey.get(key) ?? []), i]);
      });
    }
    assert.equal(fragsOf.size, 6);
    const rand = rng(1234);
    for (const [frame, frags] of fragsOf) {
      const want = done.find((d) => d.frame === frame) as Done;
      for (let round = 0; round < 20; round++) {
        const order2 = [...frags, ...frags.filter(() => rand() < 0.5)];
        for (let i = order2.length - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [order2[i], order2[j]] = [order2[j], order2[i]];
        }
        const r = feed(pcap, order2);
        // A datagram completes when its last missing fragment arrives; duplicates arriving after
        // that start a new datagram (like any duplicated packet), which completes only if every
        // fragment comes again.
        const completions: number[] = [];
        const seen = new Set<number>();
        order2.forEach((f, k) => {
          seen.add(f);
          if (seen.size === frags.length) {
            completions.push(k);
            seen.clear();
          }
        });
        const okAt = r.statuses.flatMap((st, k) => (st === DecodeStatus.Ok ? [k] : []));
        assert.deepEqual(okAt, completions, `frame ${frame} round ${round}: completes when all fragments are in`);
        for (const d of r.done) assert.ok(d.payload.equals(want.payload), `frame ${frame} round ${round}: same bytes`);
      }
    }

    // First wins: a later copy of a fragment with different bytes does not change the datagram,
    // an earlier one does (that is the documented policy, not a security feature).
    const [frame0, frags0] = [...fragsOf][0];
    const want0 = done.find((d) => d.frame === frame0) as Done;
    const mid = frags0[1];
    const tampered: Pcap = { ...pcap, buf: Buffer.concat([pcap.buf]), packets: [...pcap.packets] };
    const tp = pcap.packets[mid];
    const copyIdx = tampered.packets.length;
    tampered.buf = Buffer.concat([tampered.buf, pcap.buf.subarray(tp.off, tp.off + tp.caplen)]);
    const copyOff = pcap.buf.length;
    tampered.packets.push({ ...tp, off: copyOff });
    // Flip the last captured bytes of the copy (payload bytes of that fragment).
    for (let k = 1; k <= 16; k++) tampered.buf[copyOff + tp.caplen - k] ^= 0xff;
    const later = feed(tampered, [...frags0.slice(0, -1), copyIdx, frags0[frags0.length - 1]]);
    assert.ok(later.done[0].payload.equals(want0.payload), 'later overlapping copy ignored');
    const earlier = feed(tampered, [copyIdx, ...frags0]);
    assert.ok(!earlier.done[0].payload.equals(want0.payload), 'earlier copy wins');
    assert.equal(earlier.done[0].payload.length, want0.payload.length);

    // Timeout in packet time: the last fragment 31 s after the first completes nothing.
    const slow = new Decoder({ fragmentTimeoutUs: 30_000_000 });
    const base = pcap.packets[frags0[0]].tsUs;
    const r = feed(pcap, frags0, slow, (k) => base + (k === frags0.length - 1 ? 31_000_000 : 0));
    assert.equal(r.done.length, 0, 'expired datagram not delivered');
    assert.equal(slow.fragments.stats.expired, 1);

    // Pending limit: with room for one datagram, B's first fragment evicts A; B completes, A can't.
    const [, fragsB] = [...fragsOf][1];
    const tight = new Decoder({ maxPendingFragments: 1 });
    const inter = feed(pcap, [frags0[0], ...fragsB, ...frags0.slice(1)], tight);
    assert.deepEqual(
      inter.done.map((d) => d.frame),
      [fragsB[fragsB.length - 1]],
      'only the second datagram completes',
    );
    assert.equal(tight.fragments.stats.evicted, 1);
    assert.equal(tight.fragments.size, 1, 'the rest of the first waits, bounded');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fragments: impossible fragments are malformed, truncated ones deliver what was captured', () => {
  const dec = new Decoder();
  const out = new DecodedPacket();
  // IPv4 fragment at offset 65528 with 16 bytes: past the 65535-byte datagram limit.
  const ip = Buffer.alloc(20 + 16);
  ip[0] = 0x45;
  ip.writeUInt16BE(36, 2);
  ip.writeUInt16BE(0x2000 | (65528 >> 3), 6);
  ip[9] = 17;
  assert.equal(dec.decode(ip, 0, ip.length, ip.length, 101, 0, out), DecodeStatus.Malformed);

  // Two fragments whose second was cut by the snap length: the datagram completes, the payload
  // length is what the headers state, the captured part is the contiguous prefix.
  const mk = (off: number, more: boolean, data: Buffer) => {
    const b = Buffer.alloc(20 + data.length);
    b[0] = 0x45;
    b.writeUInt16BE(20 + data.length, 2);
    b.writeUInt16BE(77, 4);
    b.writeUInt16BE((more ? 0x2000 : 0) | (off >> 3), 6);
    b[8] = 64;
    b[9] = 17;
    b.writeUInt32BE(0x0a000001, 12);
    b.writeUInt32BE(0x0a000002, 16);
    data.copy(b, 20);
    return b;
  };
  const udp = Buffer.alloc(8 + 200);
  udp.writeUInt16BE(1000, 0);
  udp.writeUInt16BE(2000, 2);
  udp.writeUInt16BE(208, 4);
  for (let i = 8; i < udp.length; i++) udp[i] = i & 0xff;
  const f1 = mk(0, true, udp.subarray(0, 104));
  const f2 = mk(104, false, udp.subarray(104));
  assert.equal(dec.decode(f1, 0, f1.length, f1.length, 101, 0, out), DecodeStatus.FragmentHeld);
  assert.equal(dec.decode(f2, 0, 20 + 50, f2.length, 101, 0, out), DecodeStatus.Ok);
  assert.equal(out.protocol, 17);
  assert.equal(out.srcPort, 1000);
  assert.equal(out.payloadLen, 200);
  assert.equal(out.capturedPayloadLen, 104 + 50 - 8);
  assert.equal(out.linkType, 101);
  assert.equal(out.l3Offset, 0);
  assert.equal(out.buf.readUInt16BE(2), 228, 'reassembled total length');
  assert.equal(out.buf.readUInt16BE(6), 0, 'fragment fields cleared');
});
