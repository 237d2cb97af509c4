// Deterministic FlowRecord generator for the store tests. Every record is known, so counts, sums
// and summaries can be checked against the generator instead of against the store itself.
import type { CaptureRecord, FlowRecord, InterfaceRecord } from '../src/shared/records';
import { prng as rng } from './prng';
export { rng };


export const BASE_TIME = 1_700_000_000_000_000; // µs, Nov 2023
export const CAPTURE_A = 1;
export const CAPTURE_B = 2;

const TCP_CLOSE_TYPES = [1, 1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 10, 11, 13, 15, 17, 18, 19, 20, 0];
const L7 = ['', 'http', 'dns', 'mysql', 'redis', 'grpc'];
/** Hop sequences: which observation points see one connection (index = hop). */
const HOPS: string[][] = [['s'], ['c'], ['local'], ['c', 's'], ['c-nd', 's-nd'], ['c', 'c-nd', 's'], ['rest', 'c-nd', 's-nd']];

export interface Generated {
  captures: CaptureRecord[];
  interfaces: InterfaceRecord[];
  flows: FlowRecord[];
  /** Ground truth: distinct connections generated (hop copies share one). */
  connections: number;
  /** Ground truth: the connection (0-based) each flow row belongs to, parallel to flows. */
  connectionOf: number[];
}

function v6(i: number, host: number): string {
  return `2001:db8:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::${host.toString(16)}`;
}

export function generate(rows: number, seed = 42): Generated {
  const r = rng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const flows: FlowRecord[] = [];
  const connectionOf: number[] = [];
  let connections = 0;
  let flowId = 1;
  interface Tuple { clientIp: string; serverIp: string; clientPort: number; serverPort: number; protocol: number; ipVersion: number; start: number }
  let prev: Tuple | null = null;

  for (let i = 0; flows.length < rows; i++) {
    connections++;
    // Every 97th connection reuses the previous 5-tuple 5 s later: a separate connection.
    const last: Tuple | null = prev;
    const reuse: boolean = last !== null && i % 97 === 0;
    const ipVersion: number = reuse ? last!.ipVersion : r() < 0.25 ? 6 : 4;
    const roll = r();
    const protocol: number = reuse
      ? last!.protocol
      : roll < 0.7
        ? 6
        : roll < 0.9
          ? 17
          : roll < 0.95
            ? ipVersion === 6
              ? 58
              : 1
            : pick([47, 132]);
    const clientIp: string = reuse ? last!.clientIp : ipVersion === 4 ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : v6(i, 1);
    const server = int(1, 20);
    const serverIp: string = reuse ? last!.serverIp : ipVersion === 4 ? `172.16.0.${server}` : `fd00::${server.toString(16)}`;
    const icmp = protocol === 1 || protocol === 58;
    const clientPort: number = reuse ? last!.clientPort : icmp ? 0 : 1024 + (i % 64000);
    const serverPort: number = reuse ? last!.serverPort : icmp ? 0 : pick([80, 443, 53, 5432, 6379, 8080]);
    const start: number = reuse ? last!.start + 5_000_000 : BASE_TIME + i * 1000 + int(0, 999);
    prev = { clientIp, serverIp, clientPort, serverPort, protocol, ipVersion, start };

    const tcp = protocol === 6;
    const handshake = tcp && r() < 0.8;
    const closeType = tcp ? pick(TCP_CLOSE_TYPES) : pick([3, 5, 0]);
    const duration = int(0, 600_000_000);
    const big = r() < 0.01; // byte counts beyond 32 bits
    const packetsTx = int(1, 5000);
    const packetsRx = int(0, 5000);
    const bytesTx = big ? int(2 ** 32, 2 ** 40) : packetsTx * int(40, 1500);
    const bytesRx = packetsRx * int(40, 1500);
    const rtt = handshake && r() < 0.9 ? int(1, 300_000) : 0;
    const srtCount = tcp ? int(0, 50) : 0;
    const artCount = r() < 0.7 ? int(0, 20) : 0;
    const citCount = tcp ? int(0, 10) : 0;
    const srtMax = srtCount ? int(1, 100_000) : 0;
    const artMax = artCount ? int(1, 2_000_000) : 0;
    const citMax = citCount ? int(1, 60_000_000) : 0;
    const tunnel = r() < 0.15;
    const l7 = pick(L7);
    const hops = pick(HOPS);
    const cap = hops.length === 3 && r() < 0.5 ? CAPTURE_B : CAPTURE_A;

    for (let h = 0; h < hops.length && flows.length < rows; h++) {
      const op = hops[h];
      // Hops see the same connection slightly later and may lose packets: different values per
      // row, so taking the wrong representative shows in the sums.
      const lost = h;
      const tunnelled = tunnel && (op === 'c-nd' || op === 's-nd' || op === 'rest');
      connectionOf.push(connections - 1);
      flows.push({
        flowId: flowId++,
        captureId: h === 2 ? cap : CAPTURE_A,
        ifIndex: h === 2 && cap === CAPTURE_B ? 0 : h,
        observationPoint: op,
        startTime: start + h * 50,
        endTime: start + h * 50 + duration,
        ipVersion,
        protocol,
        clientIp,
        serverIp,
        clientPort,
        serverPort,
        tunnelType: tunnelled ? pick(['vxlan', 'geneve', 'gre']) : '',
        tunnelId: tunnelled ? int(0, 2 ** 32 - 1) : -1,
        tunnelOuterSrc: tunnelled ? (r() < 0.5 ? `192.168.1.${int(1, 254)}` : 'fe80::1') : '',
        tunnelOuterDst: tunnelled ? `192.168.2.${int(1, 254)}` : '',
        vlan: r() < 0.1 ? int(1, 4094) : 0,
        packetsTx: Math.max(1, packetsTx - lost),
        packetsRx: Math.max(0, packetsRx - lost),
        bytesTx: Math.max(0, bytesTx - lost * 60),
        bytesRx: Math.max(0, bytesRx - lost * 60),
        payloadTx: Math.max(0, bytesTx - packetsTx * 40),
        payloadRx: Math.max(0, bytesRx - packetsRx * 40),
        synCount: handshake ? int(1, 3) : 0,
        synackCount: handshake ? int(1, 2) : 0,
        finCount: tcp ? int(0, 2) : 0,
        rstCount: tcp && [2, 9, 15, 18, 19, 20].includes(closeType) ? 1 : 0,
        retransTx: tcp ? int(0, 20) + h : 0,
        retransRx: tcp ? int(0, 20) : 0,
        zeroWinTx: tcp ? int(0, 3) : 0,
        zeroWinRx: tcp ? int(0, 3) : 0,
        oooTx: tcp ? int(0, 4) : 0,
        oooRx: tcp ? int(0, 4) : 0,
        rtt: rtt === 0 ? 0 : rtt + h * 7,
        rttClient: rtt === 0 ? 0 : Math.floor(rtt / 3),
        rttServer: rtt === 0 ? 0 : rtt - Math.floor(rtt / 3),
        srtSum: srtCount ? srtCount * int(1, srtMax) : 0,
        srtCount,
        srtMax,
        artSum: artCount ? artCount * int(1, artMax) : 0,
        artCount,
        artMax,
        citSum: citCount ? citCount * int(1, citMax) : 0,
        citCount,
        citMax,
        closeType,
        handshakeSeen: handshake,
        synSeq: handshake ? (i * 7919) % 4294967296 : -1,
        synackSeq: handshake ? (i * 104729) % 4294967296 : -1,
        l7Protocol: l7,
      });
    }
  }

  const countOn = (cap: number): number => flows.filter((f) => f.captureId === cap).length;
  const captures: CaptureRecord[] = [
    {
      captureId: CAPTURE_A,
      source: '/captures/node-a.pcapng',
      kind: 'pcapng',
      startedAt: BASE_TIME,
      endedAt: BASE_TIME + 700_000_000,
      packets: 9_876_543_210,
      bytes: 7_777_777_777_777,
      fileBytes: 8_000_000_000_123,
      malformedPackets: 3,
      nonIpPackets: 1234,
      error: null,
    },
    {
      captureId: CAPTURE_B,
      source: "/captures/node b's.pcap.gz",
      kind: 'pcap+gzip',
      startedAt: BASE_TIME + 1_000,
      endedAt: BASE_TIME + 700_500_000,
      packets: countOn(CAPTURE_B) * 3,
      bytes: 5_000_000,
      fileBytes: 1_000_000,
      malformedPackets: 0,
      nonIpPackets: 0,
      error: "/captures/node b's.pcap.gz: offset 1000000: truncated record (needed 1514 bytes, 20 left)",
    },
  ];
  const interfaces: InterfaceRecord[] = [
    { captureId: CAPTURE_A, ifIndex: 0, name: 'veth1a2b', description: 'client pod', linkType: 1, kind: 'veth', packets: 1000 },
    { captureId: CAPTURE_A, ifIndex: 1, name: 'cni0', description: '', linkType: 1, kind: 'bridge', packets: 2000 },
    { captureId: CAPTURE_A, ifIndex: 2, name: 'eth0', description: 'underlay', linkType: 1, kind: 'eth', packets: 3000 },
    { captureId: CAPTURE_A, ifIndex: 7, name: 'lo', description: 'never saw a flow', linkType: 772, kind: 'lo', packets: 0 },
    { captureId: CAPTURE_B, ifIndex: 0, name: 'any', description: '', linkType: 276, kind: 'any', packets: 4000 },
  ];
  return { captures, interfaces, flows, connections, connectionOf };
}
