// Synthetic capture of a busy Kubernetes node, for benchmarks: HTTP-heavy, multi-hop, with ground truth.
//
// The node ("node-1", eth0 192.168.10.11, pod CIDR 10.244.1.0/24 behind bridge cni0) hosts the client
// pods. ~30 services each have one pod on this node and pods on four remote nodes (10.244.2-5.0/24).
// A connection to a local pod is seen once, at the client pod's veth. A connection to a remote pod is
// seen three times per packet: client veth, cni0, and the VXLAN-encapsulated underlay copy on eth0
// (outer Ethernet/IPv4/UDP 4789/VXLAN VNI 1, inner frame byte-for-byte unchanged), a few µs apart.
// pcapng gives each observation point its own interface; pcap puts everything on one (like `-i any`).
//
// Written for speed: packets are built into one scratch frame, copied into a 4 MiB output buffer and
// flushed with fs.writeSync; the only per-packet work is integer writes and one or three copies.
// Everything random comes from one seeded PRNG, so a seed always gives the same bytes.

import { closeSync, openSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface GenerateOptions {
  path: string;
  /** Exact number of packet records to write (every hop copy is a record). */
  packets: number;
  seed?: number;
  /** Default: from the file extension (.pcapng → pcapng), else pcap. */
  format?: 'pcap' | 'pcapng';
  /** Share of TCP connections going to a pod on another node (seen at 3 hops). Default 0.5. */
  multiHopShare?: number;
  /** Client pods on this node. Default 200. */
  clientPods?: number;
  /** TCP connections open at once; sets the packet rate (~55k packets/s of capture time at the default 128). */
  concurrency?: number;
}

/** Counts per observation point kind. In pcap files all three kinds share one interface. */
export interface PerPoint {
  veth: number;
  cni0: number;
  eth0: number;
}

export interface GeneratedTruth {
  path: string;
  format: 'pcap' | 'pcapng';
  seed: number;
  /** Packet records written (hop copies included). */
  packets: number;
  /** Sum of frame lengths (caplen = origlen; VXLAN outer headers included). */
  frameBytes: number;
  fileBytes: number;
  firstTsUs: number;
  lastTsUs: number;
  /** Interface names in file order (pcapng IDBs; pcap: ['any']). */
  interfaces: string[];
  packetsPerInterface: Record<string, number>;
  packetsPerPoint: PerPoint;
  /** Unique TCP connections (refused ones included), however many hops saw them. */
  tcpConnections: number;
  tcpConnectionsMultiHop: number;
  tcpConnectionsSingleHop: number;
  /** TCP connections seen at each observation point kind (= flow rows a per-hop flow table makes). */
  connectionsPerPoint: PerPoint;
  /** TCP connections seen at each file interface (pcap: everything on 'any'). */
  connectionsPerInterface: Record<string, number>;
  httpConnections: number;
  redisConnections: number;
  /** SYN answered by RST. */
  refused: number;
  /** Established connections the server reset (RST instead of a response). */
  serverResets: number;
  /** Unique retransmitted data segments (each is the last segment of a response, resent after an RTO). */
  retransmittedSegments: number;
  retransmittedSegmentsSingleHop: number;
  /** Client ACKs advertising a zero window (each followed by a window update). */
  zeroWindows: number;
  zeroWindowsSingleHop: number;
  /** Unique HTTP requests (each in one TCP segment); responses exclude requests answered by RST. */
  httpRequests: number;
  httpRequestsMultiHop: number;
  /** Request records a per-packet tool would count: single-hop + 3 × multi-hop. */
  httpRequestsSeen: number;
  httpResponses: number;
  httpRequestsWithTraceparent: number;
  httpMethods: Record<string, number>;
  httpStatus: Record<string, number>;
  redisCommands: number;
  redisReplies: number;
  dnsQueries: number;
  dnsResponses: number;
  dnsNxdomain: number;
  /**
   * Records of each kind in the file, hop copies included (a multi-hop packet counts 3 times): what a
   * tool that does not join hops counts. zeroWindow and retransmission count window-0 ACKs and
   * resent segments; httpRequest/httpResponse count segments that start a message (a resent
   * one-segment response counts again).
   */
  records: {
    syn: number;
    synAck: number;
    rst: number;
    fin: number;
    zeroWindow: number;
    retransmission: number;
    httpRequest: number;
    httpResponse: number;
  };
  /** Generation wall time, for the benchmark report. */
  seconds: number;
}

// ---------------------------------------------------------------------------------------------
// Fixed topology

const MSS = 1448; // 1460 advertised minus 12 bytes of TCP timestamps
const START_US = 1714557600_000000; // 2024-05-01T10:00:00Z
const NODE_IP = ip4(192, 168, 10, 11);
const NODE_MAC = [0x52, 0x54, 0x00, 0x0a, 0x00, 0x0b];
const GW_MAC = [0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x01]; // cni0, 10.244.1.1
const DNS_IP = ip4(10, 96, 0, 10);
const VNI = 1;
const REMOTE_NODES = 4;
const IF_ETH0 = 0;
const IF_CNI0 = 1;
const IF_VETH0 = 2;
const MAX_EXCHANGES = 20;

function ip4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

interface Service {
  name: string;
  ns: string;
  port: number;
  redis: boolean;
  localIp: number;
  remoteIps: number[];
}

const SERVICE_NAMES = [
  'frontend', 'cart', 'checkout', 'payment', 'catalog', 'users', 'auth', 'search', 'recommend',
  'inventory', 'shipping', 'email', 'orders', 'reviews', 'pricing', 'ads', 'currency', 'notify',
  'profile', 'gateway', 'billing', 'media', 'geo', 'rating', 'analytics', 'config', 'flags', 'quotes',
];

function makeServices(): Service[] {
  const ports = [8080, 80, 8080, 8088, 8080, 80];
  const out: Service[] = [];
  const all = [...SERVICE_NAMES.map((n) => ({ n, redis: false })), { n: 'redis-cache', redis: true }, { n: 'redis-session', redis: true }];
  all.forEach(({ n, redis }, i) => {
    const remoteIps: number[] = [];
    for (let k = 0; k < 2; k++) remoteIps.push(ip4(10, 244, 2 + ((i + k) % REMOTE_NODES), 10 + i));
    out.push({
      name: n,
      ns: redis ? 'data' : i % 3 === 0 ? 'shop' : i % 3 === 1 ? 'core' : 'edge',
      port: redis ? 6379 : ports[i % ports.length],
      redis,
      localIp: ip4(10, 244, 1, 220 + i),
      remoteIps,
    });
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  /** mulberry32: fast, good enough for traffic shapes. */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) | 0;
    let t = Math.imul(this.a ^ (this.a >>> 15), 1 | this.a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  u32(): number {
    return (this.next() * 4294967296) >>> 0;
  }
  /** Log-uniform in [lo, hi]: many small values, a long tail. */
  logu(lo: number, hi: number): number {
    return Math.round(lo * Math.pow(hi / lo, this.next()));
  }
  hex(n: number): string {
    let s = '';
    while (s.length < n) s += this.u32().toString(16).padStart(8, '0');
    return s.slice(0, n);
  }
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Traffic entities: a TCP connection (a planned sequence of packets) or a DNS lookup

const PH_SYN = 0, PH_SYNACK = 1, PH_HSACK = 2, PH_REQ = 3, PH_SRVACK = 4, PH_RESP = 5, PH_CLIACK = 6,
  PH_WINUPD = 7, PH_RETRANS = 8, PH_RST = 9, PH_FINC = 10, PH_FINS = 11, PH_LASTACK = 12, PH_REFUSED = 13;

const F_FIN = 1, F_SYN = 2, F_RST = 4, F_PSH = 8, F_ACK = 16;
const OPT_NONE = 0, OPT_SYN = 1, OPT_TS = 2;

class TcpConn {
  readonly isDns = false;
  t = 0;
  svc!: Service;
  pod = 0;
  cIp = 0;
  sIp = 0;
  cPort = 0;
  sPort = 0;
  multi = false;
  node = 0;
  vxC2S = 0;
  vxS2C = 0;
  cSeq = 0;
  sSeq = 0;
  ipIdC = 0;
  ipIdS = 0;
  tsOffC = 0;
  tsOffS = 0;
  lastTsC = 0;
  lastTsS = 0;
  rttUs = 0;
  refused = false;
  nEx = 0;
  resetAt = -1;
  ex = 0;
  phase = 0;
  segIdx = 0;
  segCount = 0;
  ackIdx = 0;
  lastSegLen = 0;
  msgLen = 0;
  planned = 0;
  emitted = 0;
  // per exchange plan (drawn up front so the packet count is known before the first packet)
  respLen = new Int32Array(MAX_EXCHANGES);
  srvDelay = new Int32Array(MAX_EXCHANGES);
  idle = new Int32Array(MAX_EXCHANGES);
  retrans = new Uint8Array(MAX_EXCHANGES);
  zwAck = new Int16Array(MAX_EXCHANGES);
  // current exchange
  curMethod = '';
  curXrid = '';
  curRedisCmd = 0;
  readonly msg = Buffer.alloc(24576);
}

class DnsLookup {
  readonly isDns = true;
  t = 0;
  pod = 0;
  cIp = 0;
  cPort = 0;
  id = 0;
  qIdx = 0;
  /** Query names; the first is a search-domain miss when there are two. */
  names: string[] = [];
  answer = 0;
  /** Each query answered (false only for the last query of a file, to hit the exact packet count). */
  answered = true;
  /** Budget filler at the end of a file (not a lookup before a connection): spawns the next entity. */
  filler = false;
  phase = 0;
}

type Entity = TcpConn | DnsLookup;

/** Min-heap of entities by next event time. */
class Heap {
  private a: Entity[] = [];
  get size(): number {
    return this.a.length;
  }
  push(e: Entity): void {
    const a = this.a;
    let i = a.length;
    a.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p].t <= e.t) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = e;
  }
  pop(): Entity {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      const n = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && a[r].t < a[l].t ? r : l;
        if (a[c].t >= last.t) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

// ---------------------------------------------------------------------------------------------
// The generator

const OUT_SIZE = 4 << 20;
const DATE_FMT = (us: number): string => new Date(Math.floor(us / 1000)).toUTCString(); // always 29 chars

class Generator {
  private readonly rng: Rng;
  private readonly fd: number;
  private readonly out = Buffer.allocUnsafe(OUT_SIZE);
  private pos = 0;
  private readonly fr = Buffer.alloc(2048);
  private readonly pcapng: boolean;
  private readonly services = makeServices();
  private readonly filler: Buffer;
  private readonly heap = new Heap();
  private readonly pool: TcpConn[] = [];
  private readonly nextPort: Int32Array;
  private lastTs = START_US;
  private outerId = 1;
  private committed = 0;
  private fileBytes = 0;
  readonly perIfPackets: Float64Array;
  readonly perIfConns: Float64Array;
  readonly ifNames: string[];
  readonly truth: GeneratedTruth;

  constructor(
    private readonly opts: Required<GenerateOptions>,
  ) {
    this.rng = new Rng(opts.seed);
    this.pcapng = opts.format === 'pcapng';
    this.nextPort = new Int32Array(opts.clientPods);
    for (let i = 0; i < opts.clientPods; i++) this.nextPort[i] = 33000 + this.rng.int(0, 20000);
    // Alphanumeric filler for response bodies, so JSON bodies stay valid JSON.
    const abc = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    this.filler = Buffer.alloc(24576);
    for (let i = 0; i < this.filler.length; i++) this.filler[i] = abc.charCodeAt(this.rng.int(0, abc.length - 1));
    this.ifNames = this.pcapng
      ? ['eth0', 'cni0', ...Array.from({ length: opts.clientPods }, (_, i) => 'veth' + (((i + 1) * 2654435761) >>> 0).toString(16).padStart(8, '0'))]
      : ['any'];
    this.perIfPackets = new Float64Array(this.ifNames.length);
    this.perIfConns = new Float64Array(this.ifNames.length);
    this.truth = {
      path: opts.path, format: opts.format, seed: opts.seed, packets: 0, frameBytes: 0, fileBytes: 0,
      firstTsUs: 0, lastTsUs: 0, interfaces: this.ifNames, packetsPerInterface: {},
      packetsPerPoint: { veth: 0, cni0: 0, eth0: 0 }, tcpConnections: 0, tcpConnectionsMultiHop: 0,
      tcpConnectionsSingleHop: 0, connectionsPerPoint: { veth: 0, cni0: 0, eth0: 0 }, connectionsPerInterface: {},
      httpConnections: 0, redisConnections: 0, refused: 0, serverResets: 0, retransmittedSegments: 0,
      retransmittedSegmentsSingleHop: 0, zeroWindows: 0, zeroWindowsSingleHop: 0, httpRequests: 0,
      httpRequestsMultiHop: 0, httpRequestsSeen: 0, httpResponses: 0, httpRequestsWithTraceparent: 0,
      httpMethods: {}, httpStatus: {}, redisCommands: 0, redisReplies: 0, dnsQueries: 0, dnsResponses: 0,
      dnsNxdomain: 0, seconds: 0,
      records: { syn: 0, synAck: 0, rst: 0, fin: 0, zeroWindow: 0, retransmission: 0, httpRequest: 0, httpResponse: 0 },
    };
    this.fd = openSync(opts.path, 'w');
  }

  run(): void {
    try {
      this.writeFileHeader();
      const conc = Math.max(1, this.opts.concurrency);
      for (let i = 0; i < conc; i++) this.spawn(START_US + this.rng.int(0, 50_000));
      while (this.heap.size > 0) {
        const e = this.heap.pop();
        const dt = e.isDns ? this.stepDns(e) : this.stepTcp(e);
        if (dt >= 0) {
          e.t += dt;
          this.heap.push(e);
        } else {
          if (!e.isDns) {
            if (e.emitted !== e.planned) throw new Error(`internal: connection planned ${e.planned} packets, wrote ${e.emitted}`);
            this.pool.push(e);
          }
          if (!e.isDns || e.filler) this.spawn(e.t + this.rng.int(10, 2000));
        }
      }
      this.flush();
    } finally {
      closeSync(this.fd);
    }
    const t = this.truth;
    if (t.packets !== this.opts.packets) throw new Error(`internal: wrote ${t.packets} packets, asked for ${this.opts.packets}`);
    t.fileBytes = this.fileBytes;
    t.httpRequestsSeen = t.records.httpRequest;
    this.ifNames.forEach((n, i) => {
      t.packetsPerInterface[n] = this.perIfPackets[i];
      t.connectionsPerInterface[n] = this.perIfConns[i];
    });
  }

  // ---- planning -------------------------------------------------------------------------------

  private remaining(): number {
    return this.opts.packets - this.committed;
  }

  /** Start the next connection (maybe after a DNS lookup) at time t, within the packet budget. */
  private spawn(t: number): void {
    const left = this.remaining();
    if (left <= 0) return;
    const rng = this.rng;
    const c = this.pool.pop() ?? new TcpConn();
    const svc = this.services[rng.next() < 0.12 ? 28 + rng.int(0, 1) : rng.int(0, 27)];
    c.svc = svc;
    c.pod = rng.int(0, this.opts.clientPods - 1);
    c.multi = rng.next() < this.opts.multiHopShare;
    c.refused = rng.next() < 0.02;
    this.plan(c);
    let cost = this.cost(c, c.nEx);
    if (cost > left) {
      // Near the end of the budget: fewer exchanges, then a single hop, then DNS lookups as filler.
      c.refused = false;
      for (const multi of c.multi ? [true, false] : [false]) {
        c.multi = multi;
        let n = c.nEx;
        while (n > 1 && this.cost(c, n) > left) n--;
        c.nEx = n;
        if (c.resetAt >= n) c.resetAt = -1;
        cost = this.cost(c, n);
        if (cost <= left) break;
      }
      if (cost > left) {
        this.pool.push(c);
        this.spawnDns(t, left >= 2 ? 1 : 0, c.pod, svc, svc.localIp).filler = true;
        return;
      }
    }
    c.sIp = c.multi ? svc.remoteIps[rng.int(0, svc.remoteIps.length - 1)] : svc.localIp;
    // A name lookup first for some connections, when the budget has room for it.
    let start = t;
    if (rng.next() < 0.2) {
      const nq = rng.next() < 0.4 ? 2 : 1;
      if (cost + 2 * nq <= left) {
        this.spawnDns(t, nq, c.pod, svc, c.sIp);
        start = t + nq * 900 + 100;
      }
    }
    this.committed += cost;
    c.planned = cost;
    c.emitted = 0;
    c.t = start;
    c.cIp = ip4(10, 244, 1, 10 + c.pod);
    c.sPort = svc.port;
    let p = this.nextPort[c.pod] + 1;
    if (p > 60999) p = 32768;
    this.nextPort[c.pod] = p;
    c.cPort = p;
    c.node = (c.sIp >>> 8) & 0xff;
    const h = Math.imul(c.cIp ^ c.sIp ^ (c.cPort << 16) ^ c.sPort, 0x9e3779b1) >>> 0;
    c.vxC2S = 32768 + (h % 28232);
    c.vxS2C = 32768 + ((h >>> 7) % 28232);
    c.cSeq = rng.u32();
    c.sSeq = rng.u32();
    c.ipIdC = rng.int(0, 65535);
    c.ipIdS = rng.int(0, 65535);
    c.tsOffC = rng.u32();
    c.tsOffS = rng.u32();
    c.lastTsC = 0;
    c.lastTsS = 0;
    c.rttUs = c.multi ? rng.int(250, 700) : rng.int(40, 120);
    c.ex = 0;
    c.phase = PH_SYN;
    const tr = this.truth;
    tr.tcpConnections++;
    if (svc.redis) tr.redisConnections++;
    else tr.httpConnections++;
    if (c.refused) tr.refused++;
    if (c.multi) {
      tr.tcpConnectionsMultiHop++;
      tr.connectionsPerPoint.cni0++;
      tr.connectionsPerPoint.eth0++;
      if (this.pcapng) {
        this.perIfConns[IF_CNI0]++;
        this.perIfConns[IF_ETH0]++;
      }
    } else tr.tcpConnectionsSingleHop++;
    tr.connectionsPerPoint.veth++;
    this.perIfConns[this.pcapng ? IF_VETH0 + c.pod : 0]++;
    this.heap.push(c);
  }

  /** Draw the whole exchange plan of a connection. */
  private plan(c: TcpConn): void {
    const rng = this.rng;
    const redis = c.svc.redis;
    c.nEx = rng.int(1, MAX_EXCHANGES);
    c.resetAt = !c.refused && rng.next() < 0.03 ? rng.int(0, c.nEx - 1) : -1;
    for (let i = 0; i < c.nEx; i++) {
      if (redis) {
        let len = rng.next() < 0.7 ? rng.logu(5, 120) : rng.logu(120, 8000);
        // No bulk string "$n\r\n<n>\r\n" is exactly 15, 16, 107 or 1008 bytes long.
        if (len === 15 || len === 16) len = 17;
        else if (len === 107 || len === 1008) len++;
        c.respLen[i] = len;
        c.srvDelay[i] = rng.logu(40, 400);
        c.idle[i] = rng.logu(50, 5000);
      } else {
        c.respLen[i] = rng.logu(200, 20000);
        const r = rng.next();
        c.srvDelay[i] = r < 0.8 ? rng.logu(500, 20000) : r < 0.95 ? rng.logu(20000, 60000) : rng.logu(60000, 400000);
        c.idle[i] = rng.logu(200, 50000);
      }
      c.retrans[i] = rng.next() < 0.02 ? 1 : 0;
      const acks = Math.ceil(Math.ceil(c.respLen[i] / MSS) / 2);
      c.zwAck[i] = rng.next() < 0.01 ? rng.int(0, acks - 1) : -1;
    }
  }

  /** Packet records a connection writes with its first n exchanges (hop copies included). */
  private cost(c: TcpConn, n: number): number {
    const copies = c.multi ? 3 : 1;
    if (c.refused) return 2 * copies;
    let k = 3; // handshake
    for (let i = 0; i < n; i++) {
      if (i === c.resetAt) return (k + 2) * copies; // request, RST
      const segs = Math.ceil(c.respLen[i] / MSS);
      k += 1 + (c.srvDelay[i] > 40000 ? 1 : 0) + segs + Math.ceil(segs / 2) + c.retrans[i] + (c.zwAck[i] >= 0 ? 1 : 0);
    }
    return (k + 3) * copies; // FIN, FIN, ACK
  }

  private spawnDns(t: number, nq: number, pod: number, svc: Service, answer: number): DnsLookup {
    const rng = this.rng;
    const d = new DnsLookup();
    const name = `${svc.name}.${svc.ns}.svc.cluster.local`;
    if (nq === 0) {
      d.names = [name];
      d.answered = false;
      this.committed += 1;
    } else {
      d.names = nq === 2 ? [`${svc.name}.${svc.ns}.default.svc.cluster.local`, name] : [name];
      this.committed += 2 * nq;
    }
    d.t = t;
    d.pod = pod;
    d.cIp = ip4(10, 244, 1, 10 + pod);
    d.cPort = rng.int(32768, 60999);
    d.id = rng.int(0, 65535);
    d.answer = answer;
    d.qIdx = 0;
    d.phase = 0;
    this.heap.push(d);
    return d;
  }

  // ---- TCP state machine: one packet per step; returns µs to the next step or -1 when done ------

  private stepTcp(c: TcpConn): number {
    const rng = this.rng;
    const tr = this.truth;
    const rec = tr.records;
    const k = c.multi ? 3 : 1;
    switch (c.phase) {
      case PH_SYN:
        this.tcp(c, true, F_SYN, c.cSeq, 0, 64240, OPT_SYN, 0);
        rec.syn += k;
        c.cSeq = (c.cSeq + 1) >>> 0;
        c.phase = c.refused ? PH_REFUSED : PH_SYNACK;
        return c.rttUs;
      case PH_REFUSED:
        this.tcp(c, false, F_RST | F_ACK, 0, c.cSeq, 0, OPT_NONE, 0);
        rec.rst += k;
        return -1;
      case PH_SYNACK:
        this.tcp(c, false, F_SYN | F_ACK, c.sSeq, c.cSeq, 65160, OPT_SYN, 0);
        rec.synAck += k;
        c.sSeq = (c.sSeq + 1) >>> 0;
        c.phase = PH_HSACK;
        return rng.int(15, 40);
      case PH_HSACK:
        this.tcp(c, true, F_ACK, c.cSeq, c.sSeq, 502, OPT_TS, 0);
        c.phase = PH_REQ;
        return rng.int(20, 300);
      case PH_REQ: {
        const len = c.svc.redis ? this.buildRedisRequest(c) : this.buildHttpRequest(c);
        this.tcp(c, true, F_PSH | F_ACK, c.cSeq, c.sSeq, 502, OPT_TS, len);
        c.cSeq = (c.cSeq + len) >>> 0;
        if (c.svc.redis) tr.redisCommands++;
        else {
          tr.httpRequests++;
          rec.httpRequest += k;
          if (c.multi) tr.httpRequestsMultiHop++;
          tr.httpMethods[c.curMethod] = (tr.httpMethods[c.curMethod] ?? 0) + 1;
        }
        const delay = c.srvDelay[c.ex];
        if (c.ex === c.resetAt) {
          c.phase = PH_RST;
          return delay;
        }
        c.segIdx = 0;
        c.ackIdx = 0;
        if (delay > 40000) {
          c.phase = PH_SRVACK;
          return 40000; // delayed ACK timer fires before the answer is ready
        }
        c.phase = PH_RESP;
        return delay;
      }
      case PH_SRVACK:
        this.tcp(c, false, F_ACK, c.sSeq, c.cSeq, 509, OPT_TS, 0);
        c.phase = PH_RESP;
        return c.srvDelay[c.ex] - 40000;
      case PH_RESP: {
        if (c.segIdx === 0) {
          c.msgLen = c.svc.redis ? this.buildRedisReply(c) : this.buildHttpResponse(c);
          c.segCount = Math.ceil(c.msgLen / MSS);
          if (c.svc.redis) tr.redisReplies++;
          else {
            tr.httpResponses++;
            rec.httpResponse += k;
          }
        }
        const off = c.segIdx * MSS;
        const len = Math.min(MSS, c.msgLen - off);
        c.segIdx++;
        const last = c.segIdx === c.segCount;
        this.tcp(c, false, last ? F_PSH | F_ACK : F_ACK, c.sSeq, c.cSeq, 509, OPT_TS, len, off);
        c.sSeq = (c.sSeq + len) >>> 0;
        c.lastSegLen = len;
        if (last && c.retrans[c.ex]) {
          c.phase = PH_RETRANS;
          return rng.int(200000, 230000); // RTO
        }
        if (last || (c.segIdx & 1) === 0) {
          c.phase = PH_CLIACK;
          return rng.int(20, 60);
        }
        return rng.int(8, 20);
      }
      case PH_RETRANS: {
        const len = c.lastSegLen;
        this.tcp(c, false, F_PSH | F_ACK, (c.sSeq - len) >>> 0, c.cSeq, 509, OPT_TS, len, c.msgLen - len);
        tr.retransmittedSegments++;
        rec.retransmission += k;
        if (!c.svc.redis && len === c.msgLen) rec.httpResponse += k; // the resent segment holds the status line
        if (!c.multi) tr.retransmittedSegmentsSingleHop++;
        c.phase = PH_CLIACK;
        return rng.int(20, 60);
      }
      case PH_CLIACK: {
        const zero = c.ackIdx === c.zwAck[c.ex];
        c.ackIdx++;
        this.tcp(c, true, F_ACK, c.cSeq, c.sSeq, zero ? 0 : 502, OPT_TS, 0);
        if (zero) {
          tr.zeroWindows++;
          rec.zeroWindow += k;
          if (!c.multi) tr.zeroWindowsSingleHop++;
          c.phase = PH_WINUPD;
          return rng.logu(5000, 50000);
        }
        return this.afterAck(c);
      }
      case PH_WINUPD:
        this.tcp(c, true, F_ACK, c.cSeq, c.sSeq, 502, OPT_TS, 0);
        return this.afterAck(c);
      case PH_RST:
        this.tcp(c, false, F_RST | F_ACK, c.sSeq, c.cSeq, 0, OPT_NONE, 0);
        tr.serverResets++;
        rec.rst += k;
        return -1;
      case PH_FINC:
        this.tcp(c, true, F_FIN | F_ACK, c.cSeq, c.sSeq, 502, OPT_TS, 0);
        rec.fin += k;
        c.cSeq = (c.cSeq + 1) >>> 0;
        c.phase = PH_FINS;
        return c.rttUs;
      case PH_FINS:
        this.tcp(c, false, F_FIN | F_ACK, c.sSeq, c.cSeq, 509, OPT_TS, 0);
        rec.fin += k;
        c.sSeq = (c.sSeq + 1) >>> 0;
        c.phase = PH_LASTACK;
        return rng.int(15, 40);
      case PH_LASTACK:
        this.tcp(c, true, F_ACK, c.cSeq, c.sSeq, 502, OPT_TS, 0);
        return -1;
    }
    throw new Error(`internal: bad phase ${c.phase}`);
  }

  private afterAck(c: TcpConn): number {
    if (c.segIdx < c.segCount) {
      c.phase = PH_RESP;
      return this.rng.int(5, 15);
    }
    c.ex++;
    if (c.ex < c.nEx) {
      c.phase = PH_REQ;
      return c.idle[c.ex];
    }
    c.phase = PH_FINC;
    return this.rng.logu(1000, 50000);
  }

  // ---- application payloads (built once per message into the connection's buffer) ---------------

  private buildHttpRequest(c: TcpConn): number {
    const rng = this.rng;
    const svc = c.svc;
    const r = rng.next();
    const method = r < 0.78 ? 'GET' : r < 0.93 ? 'POST' : r < 0.97 ? 'PUT' : 'DELETE';
    c.curMethod = method;
    const id = rng.next() < 0.2 ? rng.uuid() : String(rng.int(1, 999999));
    const path = `/api/v1/${svc.name}/items/${id}` + (method === 'GET' && rng.next() < 0.3 ? `?limit=${rng.int(1, 100)}` : '');
    const ua = ['Go-http-client/1.1', 'python-requests/2.31.0', 'okhttp/4.12.0', 'axios/1.6.8'][c.pod & 3];
    let s = `${method} ${path} HTTP/1.1\r\nHost: ${svc.name}.${svc.ns}.svc.cluster.local:${svc.port}\r\nUser-Agent: ${ua}\r\nAccept: application/json\r\nAccept-Encoding: gzip\r\n`;
    if (rng.next() < 0.4) {
      s += `traceparent: 00-${rng.hex(32)}-${rng.hex(16)}-01\r\n`;
      this.truth.httpRequestsWithTraceparent++;
    }
    c.curXrid = rng.next() < 0.3 ? rng.uuid() : '';
    if (c.curXrid) s += `x-request-id: ${c.curXrid}\r\n`;
    let body = '';
    if (method === 'POST' || method === 'PUT') {
      body = `{"id":${rng.int(1, 999999)},"qty":${rng.int(1, 9)},"note":"${rng.hex(rng.int(8, 120))}"}`;
      s += `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n`;
    }
    const target = rng.int(200, 600);
    const pad = target - s.length - body.length - 2 - 24;
    if (pad > 0) {
      const from = rng.int(0, this.filler.length - pad);
      s += `Authorization: Bearer ${this.filler.toString('latin1', from, from + pad)}\r\n`;
    }
    s += '\r\n' + body;
    return c.msg.write(s, 0, 'latin1');
  }

  /** Exactly respLen bytes: headers + a JSON body padded with filler. */
  private buildHttpResponse(c: TcpConn): number {
    const rng = this.rng;
    const total = c.respLen[c.ex];
    const r = rng.next();
    const status = r < 0.9 ? (c.curMethod === 'POST' ? 201 : 200) : r < 0.95 ? 404 : r < 0.98 ? 500 : 503;
    const reason = status === 200 ? 'OK' : status === 201 ? 'Created' : status === 404 ? 'Not Found' : status === 500 ? 'Internal Server Error' : 'Service Unavailable';
    this.truth.httpStatus[status] = (this.truth.httpStatus[status] ?? 0) + 1;
    const head1 = `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: `;
    const head2 = `\r\nDate: ${DATE_FMT(c.t)}\r\n` + (c.curXrid ? `x-request-id: ${c.curXrid}\r\n` : '') + '\r\n';
    let bodyLen = total - head1.length - head2.length - 1;
    while (bodyLen + String(bodyLen).length + head1.length + head2.length > total) bodyLen--;
    // Across a digit boundary (99 → 100) one length has no exact fit: absorb it as optional whitespace.
    const ows = total - (bodyLen + String(bodyLen).length + head1.length + head2.length);
    const m = c.msg;
    let o = m.write(head1 + ' '.repeat(ows) + bodyLen + head2, 0, 'latin1');
    o += m.write('{"data":"', o, 'latin1');
    const fill = bodyLen - 11;
    const from = rng.int(0, this.filler.length - fill);
    this.filler.copy(m, o, from, from + fill);
    o += fill;
    o += m.write('"}', o, 'latin1');
    if (o !== total) throw new Error(`internal: HTTP response ${o} bytes, planned ${total}`);
    return o;
  }

  private buildRedisRequest(c: TcpConn): number {
    const rng = this.rng;
    const total = c.respLen[c.ex];
    const key = `${c.svc.name === 'redis-cache' ? 'cache' : 'session'}:${rng.int(1, 99999)}`;
    // The reply size is fixed by the plan, so the command follows from it.
    let cmd: string[];
    if (total === 5) cmd = rng.next() < 0.5 ? ['SET', key, rng.hex(rng.int(4, 200))] : ['GET', key];
    else if (total < 14 && rng.next() < 0.5) cmd = ['INCR', key];
    else if (total >= 40 && rng.next() < 0.25) cmd = ['HGETALL', key];
    else cmd = ['GET', key];
    c.curRedisCmd = cmd[0] === 'SET' ? 1 : cmd[0] === 'INCR' ? 2 : cmd[0] === 'HGETALL' ? 3 : 0;
    let s = `*${cmd.length}\r\n`;
    for (const a of cmd) s += `$${a.length}\r\n${a}\r\n`;
    return c.msg.write(s, 0, 'latin1');
  }

  /** Exactly respLen bytes of RESP: +OK, :n, $-1, a bulk string, or a 2-element array. */
  private buildRedisReply(c: TcpConn): number {
    const total = c.respLen[c.ex];
    const m = c.msg;
    let o = 0;
    if (total === 5) o = m.write(c.curRedisCmd === 1 ? '+OK\r\n' : '$-1\r\n', 0, 'latin1');
    else if (c.curRedisCmd === 2) o = m.write(`:${'1'.padEnd(total - 3, '0')}\r\n`, 0, 'latin1');
    else {
      if (c.curRedisCmd === 3) {
        // The field name's length absorbs the one total a bulk string cannot have.
        const r = total - 15;
        o = m.write(r === 107 || r === 1008 ? '*2\r\n$6\r\nfields\r\n' : '*2\r\n$5\r\nfield\r\n', 0, 'latin1');
      }
      const rest = total - o; // "$n\r\n" + n + "\r\n"
      let n = rest - 5;
      while (n + String(n).length + 5 > rest) n--;
      o += m.write(`$${n}\r\n`, o, 'latin1');
      const from = this.rng.int(0, this.filler.length - n);
      this.filler.copy(m, o, from, from + n);
      o += n;
      o += m.write('\r\n', o, 'latin1');
    }
    if (o !== total) throw new Error(`internal: Redis reply ${o} bytes, planned ${total}`);
    return o;
  }

  // ---- DNS -----------------------------------------------------------------------------------

  private stepDns(d: DnsLookup): number {
    const name = d.names[d.qIdx];
    const nx = d.names.length === 2 && d.qIdx === 0;
    if (d.phase === 0) {
      this.dns(d, name, false, false);
      this.truth.dnsQueries++;
      if (!d.answered) return -1;
      d.phase = 1;
      return this.rng.int(100, 800);
    }
    this.dns(d, name, true, nx);
    this.truth.dnsResponses++;
    if (nx) this.truth.dnsNxdomain++;
    d.qIdx++;
    if (d.qIdx >= d.names.length) return -1;
    d.id = (d.id + 1) & 0xffff;
    d.phase = 0;
    return this.rng.int(20, 80);
  }

  private dns(d: DnsLookup, name: string, response: boolean, nx: boolean): void {
    const f = this.fr;
    const q = 14 + 20 + 8;
    f.writeUInt16BE(d.id, q);
    f.writeUInt16BE(response ? (nx ? 0x8183 : 0x8180) : 0x0100, q + 2);
    f.writeUInt16BE(1, q + 4);
    f.writeUInt16BE(response && !nx ? 1 : 0, q + 6);
    f.writeUInt32BE(0, q + 8);
    let o = q + 12;
    for (const label of name.split('.')) {
      f[o++] = label.length;
      o += f.write(label, o, 'latin1');
    }
    f[o++] = 0;
    f.writeUInt32BE(0x00010001, o); // A, IN
    o += 4;
    if (response && !nx) {
      f.writeUInt16BE(0xc00c, o);
      f.writeUInt32BE(0x00010001, o + 2);
      f.writeUInt32BE(30, o + 6);
      f.writeUInt16BE(4, o + 10);
      f.writeUInt32BE(d.answer, o + 12);
      o += 16;
    }
    const udpLen = o - 34;
    const c2s = !response;
    this.eth(c2s, d.cIp);
    this.ipv4(17, o - 14, response ? DNS_IP : d.cIp, response ? d.cIp : DNS_IP, d.id);
    f.writeUInt16BE(response ? 53 : d.cPort, 34);
    f.writeUInt16BE(response ? d.cPort : 53, 36);
    f.writeUInt16BE(udpLen, 38);
    f.writeUInt16BE(0, 40);
    this.record(this.pcapng ? IF_VETH0 + d.pod : 0, this.clock(d.t), o, -1, 0);
    this.truth.packetsPerPoint.veth++;
  }

  // ---- frames ---------------------------------------------------------------------------------

  private eth(c2s: boolean, podIp: number): void {
    const f = this.fr;
    // Pod MACs follow the bridge plugin's 0a:58:<ip> convention.
    const pod = c2s ? 6 : 0;
    const gw = c2s ? 0 : 6;
    f[pod] = 0x0a;
    f[pod + 1] = 0x58;
    f.writeUInt32BE(podIp, pod + 2);
    for (let i = 0; i < 6; i++) f[gw + i] = GW_MAC[i];
    f[12] = 0x08;
    f[13] = 0x00;
  }

  private ipv4(proto: number, totalLen: number, src: number, dst: number, id: number): void {
    const f = this.fr;
    f[14] = 0x45;
    f[15] = 0;
    f.writeUInt16BE(totalLen, 16);
    f.writeUInt16BE(id & 0xffff, 18);
    f.writeUInt16BE(0x4000, 20); // DF
    f[22] = 64;
    f[23] = proto;
    f.writeUInt32BE(src, 26);
    f.writeUInt32BE(dst, 30);
    f.writeUInt16BE(ipChecksum(f, 14), 24);
  }

  /** Build one TCP frame and write it at every hop the connection is seen at. */
  private tcp(c: TcpConn, c2s: boolean, flags: number, seq: number, ack: number, win: number, opt: number, len: number, msgOff = 0): void {
    const f = this.fr;
    const ts = this.clock(c.t);
    this.eth(c2s, c.cIp);
    const optLen = opt === OPT_SYN ? 20 : opt === OPT_TS ? 12 : 0;
    const thl = 20 + optLen;
    this.ipv4(6, 20 + thl + len, c2s ? c.cIp : c.sIp, c2s ? c.sIp : c.cIp, c2s ? c.ipIdC++ : c.ipIdS++);
    f.writeUInt16BE(c2s ? c.cPort : c.sPort, 34);
    f.writeUInt16BE(c2s ? c.sPort : c.cPort, 36);
    f.writeUInt32BE(seq >>> 0, 38);
    f.writeUInt32BE(flags & F_ACK ? ack >>> 0 : 0, 42);
    f.writeUInt16BE(((thl >> 2) << 12) | flags, 46);
    f.writeUInt16BE(win, 48);
    f.writeUInt32BE(0, 50); // checksum (left zero, as with offload), urgent pointer
    if (opt !== OPT_NONE) {
      // Timestamps: a per-host millisecond clock, echoing the peer's latest value.
      const tsval = (Math.floor(ts / 1000) + (c2s ? c.tsOffC : c.tsOffS)) >>> 0;
      const tsecr = c2s ? c.lastTsS : c.lastTsC;
      if (c2s) c.lastTsC = tsval;
      else c.lastTsS = tsval;
      let o = 54;
      if (opt === OPT_SYN) {
        f.writeUInt32BE(0x020405b4, o); // MSS 1460
        f.writeUInt16BE(0x0402, o + 4); // SACK permitted
        o += 6;
      } else {
        f.writeUInt16BE(0x0101, o);
        o += 2;
      }
      f.writeUInt16BE(0x080a, o);
      f.writeUInt32BE(tsval, o + 2);
      f.writeUInt32BE(tsecr, o + 6);
      o += 10;
      if (opt === OPT_SYN) {
        f[o] = 0x01;
        f[o + 1] = 0x03;
        f[o + 2] = 0x03;
        f[o + 3] = 0x07; // window scale 7
      }
    }
    const flen = 34 + thl + len;
    if (len > 0) c.msg.copy(f, 34 + thl, msgOff, msgOff + len);
    c.emitted += c.multi ? 3 : 1;
    const pp = this.truth.packetsPerPoint;
    const veth = this.pcapng ? IF_VETH0 + c.pod : 0;
    if (!c.multi) {
      this.record(veth, ts, flen, -1, 0);
      pp.veth++;
      return;
    }
    const cni = this.pcapng ? IF_CNI0 : 0;
    const eth0 = this.pcapng ? IF_ETH0 : 0;
    pp.veth++;
    pp.cni0++;
    pp.eth0++;
    // Outbound the packet leaves the pod first; inbound it arrives on the underlay first.
    if (c2s) {
      this.record(veth, ts, flen, -1, 0);
      this.record(cni, this.clock(ts + this.rng.int(2, 4)), flen, -1, 0);
      this.record(eth0, this.clock(this.lastTs + this.rng.int(3, 6)), flen, c.node, c.vxC2S | 0x10000);
    } else {
      this.record(eth0, ts, flen, c.node, c.vxS2C);
      this.record(cni, this.clock(ts + this.rng.int(3, 6)), flen, -1, 0);
      this.record(veth, this.clock(this.lastTs + this.rng.int(2, 4)), flen, -1, 0);
    }
  }

  /** Timestamps never go backwards in the file (copies of one packet can overlap other events). */
  private clock(t: number): number {
    if (t > this.lastTs) this.lastTs = t;
    return this.lastTs;
  }

  // ---- records --------------------------------------------------------------------------------

  private writeFileHeader(): void {
    const o = this.out;
    if (!this.pcapng) {
      o.writeUInt32LE(0xa1b2c3d4, 0);
      o.writeUInt16LE(2, 4);
      o.writeUInt16LE(4, 6);
      o.writeUInt32LE(0, 8);
      o.writeUInt32LE(0, 12);
      o.writeUInt32LE(262144, 16);
      o.writeUInt32LE(1, 20); // Ethernet
      this.pos = 24;
      return;
    }
    // SHB
    let p = 0;
    o.writeUInt32LE(0x0a0d0d0a, p);
    o.writeUInt32LE(28, p + 4);
    o.writeUInt32LE(0x1a2b3c4d, p + 8);
    o.writeUInt16LE(1, p + 12);
    o.writeUInt16LE(0, p + 14);
    o.writeInt32LE(-1, p + 16);
    o.writeInt32LE(-1, p + 20);
    o.writeUInt32LE(28, p + 24);
    p += 28;
    for (const name of this.ifNames) {
      if (p + 512 > OUT_SIZE) {
        this.pos = p;
        this.flush();
        p = 0;
      }
      // IDB with if_name; timestamps in the default µs resolution.
      const nlen = Buffer.byteLength(name);
      const npad = (nlen + 3) & ~3;
      const blen = 16 + 4 + npad + 4 + 4; // header, if_name option, opt_endofopt, trailing length
      o.writeUInt32LE(1, p);
      o.writeUInt32LE(blen, p + 4);
      o.writeUInt16LE(1, p + 8);
      o.writeUInt16LE(0, p + 10);
      o.writeUInt32LE(262144, p + 12);
      o.writeUInt16LE(2, p + 16);
      o.writeUInt16LE(nlen, p + 18);
      o.fill(0, p + 20, p + 20 + npad);
      o.write(name, p + 20, 'latin1');
      o.writeUInt32LE(0, p + 20 + npad); // opt_endofopt
      o.writeUInt32LE(blen, p + 24 + npad);
      p += blen;
    }
    this.pos = p;
  }

  /**
   * Write the scratch frame as one record. With node >= 0 it is the VXLAN underlay copy: outer
   * Ethernet/IPv4/UDP/VXLAN (50 bytes) before the unchanged inner frame; bit 16 of vx = outbound.
   */
  private record(ifId: number, ts: number, flen: number, node: number, vx: number): void {
    if (this.pos + 2048 > OUT_SIZE) this.flush();
    const o = this.out;
    const p = this.pos;
    const cap = node >= 0 ? flen + 50 : flen;
    let d: number;
    if (this.pcapng) {
      const padded = (cap + 3) & ~3;
      const blen = 32 + padded;
      o.writeUInt32LE(6, p);
      o.writeUInt32LE(blen, p + 4);
      o.writeUInt32LE(ifId, p + 8);
      o.writeUInt32LE(Math.floor(ts / 4294967296), p + 12);
      o.writeUInt32LE(ts % 4294967296, p + 16);
      o.writeUInt32LE(cap, p + 20);
      o.writeUInt32LE(cap, p + 24);
      d = p + 28;
      if (padded > cap) o.fill(0, d + cap, d + padded);
      o.writeUInt32LE(blen, d + padded);
      this.pos = p + blen;
    } else {
      o.writeUInt32LE(Math.floor(ts / 1e6), p);
      o.writeUInt32LE(ts % 1e6, p + 4);
      o.writeUInt32LE(cap, p + 8);
      o.writeUInt32LE(cap, p + 12);
      d = p + 16;
      this.pos = d + cap;
    }
    if (node >= 0) {
      const out = (vx & 0x10000) !== 0;
      const remoteIp = ip4(192, 168, 10, 10 + node);
      // outer Ethernet: this node <-> remote node
      const me = out ? d + 6 : d;
      const peer = out ? d : d + 6;
      for (let i = 0; i < 6; i++) o[me + i] = NODE_MAC[i];
      for (let i = 0; i < 5; i++) o[peer + i] = NODE_MAC[i];
      o[peer + 5] = 0x10 + node;
      o[d + 12] = 0x08;
      o[d + 13] = 0x00;
      const ip = d + 14;
      o[ip] = 0x45;
      o[ip + 1] = 0;
      o.writeUInt16BE(cap - 14, ip + 2);
      o.writeUInt16BE(this.outerId++ & 0xffff, ip + 4);
      o.writeUInt16BE(0, ip + 6);
      o[ip + 8] = 64;
      o[ip + 9] = 17;
      o.writeUInt32BE(out ? NODE_IP : remoteIp, ip + 12);
      o.writeUInt32BE(out ? remoteIp : NODE_IP, ip + 16);
      o.writeUInt16BE(0, ip + 10);
      o.writeUInt16BE(ipChecksum(o, ip), ip + 10);
      const udp = ip + 20;
      o.writeUInt16BE(vx & 0xffff, udp);
      o.writeUInt16BE(4789, udp + 2);
      o.writeUInt16BE(cap - 34, udp + 4);
      o.writeUInt16BE(0, udp + 6); // no UDP checksum (allowed over IPv4)
      o.writeUInt32BE(0x08000000, udp + 8);
      o.writeUInt32BE(VNI << 8, udp + 12);
      this.fr.copy(o, d + 50, 0, flen);
    } else {
      this.fr.copy(o, d, 0, flen);
    }
    const t = this.truth;
    if (t.packets === 0) t.firstTsUs = ts;
    t.lastTsUs = ts;
    t.packets++;
    t.frameBytes += cap;
    this.perIfPackets[ifId]++;
  }

  private flush(): void {
    let off = 0;
    while (off < this.pos) off += writeSync(this.fd, this.out, off, this.pos - off);
    this.fileBytes += this.pos;
    this.pos = 0;
  }
}

function ipChecksum(b: Buffer, o: number): number {
  let s = 0;
  for (let i = 0; i < 20; i += 2) if (i !== 10) s += (b[o + i] << 8) | b[o + i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Write a synthetic capture of `packets` records to `path` and return its ground truth. */
export async function generateCapture(opts: GenerateOptions): Promise<GeneratedTruth> {
  if (!Number.isInteger(opts.packets) || opts.packets < 0) throw new Error(`packets must be a non-negative integer, got ${opts.packets}`);
  const full: Required<GenerateOptions> = {
    path: opts.path,
    packets: opts.packets,
    seed: opts.seed ?? 1,
    format: opts.format ?? (opts.path.endsWith('.pcapng') ? 'pcapng' : 'pcap'),
    multiHopShare: opts.multiHopShare ?? 0.5,
    clientPods: opts.clientPods ?? 200,
    concurrency: opts.concurrency ?? 128,
  };
  if (full.clientPods < 1 || full.clientPods > 200) throw new Error(`clientPods must be 1..200, got ${full.clientPods}`);
  const t0 = process.hrtime.bigint();
  const g = new Generator(full);
  g.run();
  g.truth.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return g.truth;
}

// CLI: node --import tsx bench/gen-capture.ts out.pcap[ng] [packets=1000000] [seed=1]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [path, n, seed] = process.argv.slice(2);
  if (!path) {
    console.error('usage: node --import tsx bench/gen-capture.ts OUT.pcap|OUT.pcapng [packets=1000000] [seed=1]');
    process.exit(2);
  }
  const truth = await generateCapture({ path, packets: n ? Number(n) : 1_000_000, seed: seed ? Number(seed) : 1 });
  // Per-interface maps have ~200 entries in pcapng: print their size, not their contents.
  const { packetsPerInterface: _p, connectionsPerInterface: _c, interfaces, ...rest } = truth;
  const rate = Math.round(truth.packets / truth.seconds);
  console.log(JSON.stringify({ ...rest, interfaceCount: interfaces.length, generatedPacketsPerSecond: rate }, null, 2));
}
