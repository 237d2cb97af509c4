// Records as they land in the store (ARCHITECTURE.md "Store contract"). Times in µs since epoch,
// durations in µs. tx = client→server, rx = server→client.

export interface CaptureRecord {
  captureId: number;
  /** File path, interface name or agent address. */
  source: string;
  /** 'pcap' | 'pcapng' | 'pcap+gzip' | 'pcapng+gzip' | 'live' | 'agent' */
  kind: string;
  /** First packet time (µs), or null if no packets. */
  startedAt: number | null;
  endedAt: number | null;
  packets: number;
  bytes: number;
  /** Bytes of the input file as stored. */
  fileBytes: number;
  /** Packets that could not be decoded (malformed, unknown link type), counted, not dropped silently. */
  malformedPackets: number;
  nonIpPackets: number;
  /** The reader's error, if the input ended badly (file, offset, reason). */
  error: string | null;
}

export interface InterfaceRecord {
  captureId: number;
  ifIndex: number;
  name: string;
  description: string;
  linkType: number;
  /** 'veth' | 'bridge' | 'vxlan' | 'eth' | 'lo' | 'any' | 'unknown' — guessed from the name. */
  kind: string;
  packets: number;
}

/** DeepFlow close_type codes (SPEC.md). */
export const CloseType = {
  Unknown: 0,
  Normal: 1,
  ServerRst: 2,
  Timeout: 3,
  ForcedReport: 5,
  ServerSynMiss: 7,
  ServerHalfClose: 8,
  ClientRst: 9,
  ClientAckMiss: 10,
  ClientHalfClose: 11,
  ClientSourcePortReuse: 13,
  ServerDirectRst: 15,
  ServerQueueOverflow: 17,
  ClientEstablishRst: 18,
  ServerEstablishRst: 19,
  ClientRstAfterFin: 20,
} as const;
export const CONNECTION_FAILURE_CLOSE_TYPES = [13, 7, 10, 15, 18, 19] as const;
export const TRANSFER_FAILURE_CLOSE_TYPES = [2, 9, 17, 3] as const;

export interface FlowRecord {
  flowId: number;
  captureId: number;
  ifIndex: number;
  observationPoint: string;
  startTime: number;
  endTime: number;
  ipVersion: number;
  protocol: number;
  clientIp: string;
  serverIp: string;
  clientPort: number;
  serverPort: number;
  /** '' when not tunnelled; else 'vxlan' | 'geneve' | 'gre' | 'erspan' | 'teb' | 'ipip' | ... */
  tunnelType: string;
  /** VNI / GRE key / ERSPAN session; -1 when none. */
  tunnelId: number;
  tunnelOuterSrc: string;
  tunnelOuterDst: string;
  vlan: number;
  packetsTx: number;
  packetsRx: number;
  bytesTx: number;
  bytesRx: number;
  /** L4 payload bytes per direction. */
  payloadTx: number;
  payloadRx: number;
  synCount: number;
  synackCount: number;
  finCount: number;
  rstCount: number;
  retransTx: number;
  retransRx: number;
  zeroWinTx: number;
  zeroWinRx: number;
  oooTx: number;
  oooRx: number;
  /** µs; 0 when not measured (DeepFlow convention). */
  rtt: number;
  rttClient: number;
  rttServer: number;
  srtSum: number;
  srtCount: number;
  srtMax: number;
  artSum: number;
  artCount: number;
  artMax: number;
  citSum: number;
  citCount: number;
  citMax: number;
  closeType: number;
  /** True when the flow's first packet was a SYN (the handshake was seen). */
  handshakeSeen: boolean;
  /** Sequence number of the client's first SYN / the server's first SYN-ACK; -1 when not seen. The same
   * on every hop of one connection, NAT or not (DeepFlow's syn_seq / synack_seq). */
  synSeq: number;
  synackSeq: number;
  l7Protocol: string;
}

/**
 * requests.l7_protocol of the built-in parsers (l7/registry.ts BUILTIN_PROTOCOLS; gRPC rows come from
 * the HTTP/2 parser). Plugins add names of their own.
 */
export const BUILTIN_L7_PROTOCOLS: readonly string[] = [
  'http', 'http2', 'grpc', 'dubbo', 'mysql', 'postgresql', 'redis', 'kafka', 'mqtt', 'dns', 'tls', 'mongodb', 'memcached', 'amqp', 'nats',
];

/** requests.response_status (SPEC.md "Requests"). */
export type RequestStatus = 'ok' | 'client_error' | 'server_error' | 'timeout' | 'unknown';

/**
 * One row of `requests`: a request/response pair, or a lone request or response, seen at one
 * observation point. Fields a protocol lacks are null.
 */
export interface RequestRecord {
  requestId: number;
  /** flows.flow_id of the flow that carried it at this observation point (0 when not known). */
  flowId: number;
  captureId: number;
  ifIndex: number;
  observationPoint: string;
  /** µs: first request packet (first response packet when there is no request). */
  startTime: number;
  /** µs: last packet of the pair. */
  endTime: number;
  /** µs: first response packet − first request packet; null when unpaired. */
  duration: number | null;
  /** 'http' | 'dns' | ... */
  l7Protocol: string;
  version: string | null;
  requestType: string | null;
  requestDomain: string | null;
  requestResource: string | null;
  endpoint: string | null;
  responseStatus: RequestStatus;
  responseCode: number | null;
  responseException: string | null;
  responseResult: string | null;
  traceId: string | null;
  spanId: string | null;
  parentSpanId: string | null;
  xRequestId0: string | null;
  xRequestId1: string | null;
  /** TCP sequence number of the first request / response byte; null on UDP or when absent. */
  reqTcpSeq: number | null;
  respTcpSeq: number | null;
  requestLength: number | null;
  responseLength: number | null;
  clientIp: string;
  serverIp: string;
  clientPort: number;
  serverPort: number;
  signalSource: 'packet' | 'ebpf' | 'otel';
}
