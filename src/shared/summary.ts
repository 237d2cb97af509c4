// The capture summary (`flowscope analyze`, the app's overview): what was captured, the protocol
// mix, the biggest conversations and TCP health. Times in µs since epoch, durations in µs.
//
// Two ways of counting flows, named everywhere they appear:
// - `flowRows`: rows of the flows table, one per flow per observation point. A connection seen on a
//   pod veth, a bridge and the underlay is three rows.
// - `connections`: unique connections, each counted once however many hops saw it (SPEC.md "One
//   request counts once"). Rows are the same connection when they share a key and each starts within
//   CONNECTION_GAP_US of the previous row of that key (ordered by start time); capture, interface,
//   tunnel and VLAN are ignored. The key is (client ip, client port, protocol, SYN sequence number)
//   when the handshake was seen — so DNAT'd copies (server address rewritten) are one connection —
//   and the 5-tuple otherwise. Every per-connection figure (packets, bytes, TCP health, RTT) is read
//   from one representative row, chosen by OBSERVATION_POINT_PREFERENCE, then most packets, then
//   lowest flow_id. Not merged: mid-stream copies whose addresses changed (no SYN to join them by).

/** Rows of one 5-tuple starting within this gap (µs) of the previous row are one connection. */
export const CONNECTION_GAP_US = 1_000_000;

/**
 * Which hop's row speaks for a connection: the server side first (SPEC.md: `s` over `s-nd` over
 * `c`), then host-local, then the client side, then transit. Unlisted values rank last.
 */
export const OBSERVATION_POINT_PREFERENCE: readonly string[] = [
  's',
  's-nd',
  's-hv',
  's-gw-hv',
  's-gw',
  's-p',
  's-app',
  'local',
  'c',
  'c-nd',
  'c-hv',
  'c-gw-hv',
  'c-gw',
  'c-p',
  'c-app',
  'app',
  'rest',
];

/** DeepFlow's display names for close_type (server/querier/.../tag/enum/close_type.en). */
export const CLOSE_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'Unknown',
  1: 'Normal',
  2: 'Transfer - Server RST',
  3: 'Transfer - Timeout',
  5: 'Force Report',
  7: 'Est. - Client SYN Repeat',
  8: 'Close - Server Half Close',
  9: 'Transfer - Client RST',
  10: 'Est. - Server SYN Repeat',
  11: 'Close - Client Half Close',
  13: 'Est. - Client Port Reuse',
  15: 'Est. - Server Direct RST',
  17: 'Transfer - Server Queue Overflow',
  18: 'Est. - Client Other RST',
  19: 'Est. - Server Other RST',
  20: 'Normal - Client RST',
};

export function closeTypeName(code: number): string {
  return CLOSE_TYPE_NAMES[code] ?? `close type ${code}`;
}

/** Close types that end in a reset sent by either side. */
export const RESET_CLOSE_TYPES = [2, 9, 15, 18, 19, 20] as const;
export const TIMEOUT_CLOSE_TYPE = 3;

export type ProtocolClass = 'tcp' | 'udp' | 'icmp' | 'other';
/** Order of SummaryProtocol rows. ICMP includes ICMPv6 (58). */
export const PROTOCOL_CLASSES: readonly ProtocolClass[] = ['tcp', 'udp', 'icmp', 'other'];

export interface SummaryCapture {
  captureId: number;
  source: string;
  kind: string;
  startedAt: number | null;
  endedAt: number | null;
  packets: number;
  bytes: number;
  fileBytes: number;
  malformedPackets: number;
  nonIpPackets: number;
  error: string | null;
}

export interface SummaryProtocol {
  protocol: ProtocolClass;
  flowRows: number;
  connections: number;
  /** Over unique connections (representative rows). */
  packets: number;
  bytes: number;
}

/** One 5-tuple; several connections when the client port was reused more than a gap apart. */
export interface SummaryConversation {
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  /** IP protocol number. */
  protocol: number;
  connections: number;
  flowRows: number;
  /** Over unique connections (representative rows), both directions. */
  packets: number;
  bytes: number;
  /** Distinct observation_point values among its rows. */
  observationPoints: number;
  /** Distinct (capture, interface) among its rows. */
  interfaces: number;
}

export interface CloseTypeCount {
  closeType: number;
  name: string;
  connections: number;
}

/** Discrete percentiles (DuckDB quantile_disc = the SQL standard PERCENTILE_DISC: the smallest
 *  value whose cumulative share is ≥ p, i.e. sorted[ceil(p·n) − 1]). null when count is 0. */
export interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

/** A per-flow timing kept as sum/count/max: avg = sum of sums / sum of counts. µs. */
export interface TimingAverage {
  /** Samples (sum of the per-flow counts). */
  count: number;
  avg: number | null;
  max: number | null;
}

/** TCP health over unique connections (representative rows) unless a field says flowRows. */
export interface TcpHealth {
  flowRows: number;
  connections: number;
  handshakesSeen: number;
  /** close_type in CONNECTION_FAILURE_CLOSE_TYPES, one entry per type in that order (zeros kept). */
  connectionFailures: { total: number; byType: CloseTypeCount[] };
  /** close_type in RESET_CLOSE_TYPES, one entry per type (zeros kept). */
  resets: { total: number; byType: CloseTypeCount[] };
  /** close_type 3. */
  timeouts: number;
  /** Every close type that occurs, most frequent first. */
  closeTypes: CloseTypeCount[];
  /** TCP packets (both directions): the retransmission ratio's denominator. */
  packets: number;
  retransTx: number;
  retransRx: number;
  /** (retransTx + retransRx) / packets; null when there are no packets. */
  retransRatio: number | null;
  zeroWinTx: number;
  zeroWinRx: number;
  oooTx: number;
  oooRx: number;
  /** Handshake RTT over connections with rtt > 0, µs. */
  rtt: Percentiles;
  srt: TimingAverage;
  art: TimingAverage;
}

export interface SummaryInterface {
  captureId: number;
  ifIndex: number;
  /** '' when the interface has no row in `interfaces`. */
  name: string;
  kind: string;
  /** Per-row by nature: each row belongs to one interface. */
  flowRows: number;
  packets: number;
  bytes: number;
}

export interface CaptureSummary {
  /** The captures summarised (all in the database when none were asked for). */
  captureIds: number[];
  captures: SummaryCapture[];
  /** As read from the sources: every copy on every interface counts. */
  packets: number;
  bytes: number;
  malformedPackets: number;
  nonIpPackets: number;
  /** First / last packet (µs); from the flows when the captures table has no times. */
  firstTime: number | null;
  lastTime: number | null;
  durationUs: number | null;
  flowRows: number;
  connections: number;
  /** Always four rows, in PROTOCOL_CLASSES order. */
  protocols: SummaryProtocol[];
  /** By bytes, largest first. */
  topConversations: SummaryConversation[];
  tcp: TcpHealth;
  interfaces: SummaryInterface[];
  observationPoints: { observationPoint: string; flowRows: number }[];
}
