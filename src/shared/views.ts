// What the views ask the engine and what they get back (ARCHITECTURE.md "One API, four transports"):
// service map, RED tables, network table, time series, request and flow logs. The engine answers each
// with DuckDB queries over the store (src/engine/store/views/); the renderer never writes SQL for them.
//
// Units: times are µs since the epoch, durations µs, rates per second. RED counts each request once,
// at one chosen observation point (SPEC.md "RED and the service map").

import type { FlowRecord, RequestRecord } from './records';

/** [from, to) in µs since the epoch; either end open when omitted. */
export interface TimeWindow {
  from?: number;
  to?: number;
}

/** Which data a view looks at: captures (all when omitted) and a time window (all time when omitted). */
export interface ViewScope {
  captureIds?: number[];
  window?: TimeWindow;
}

/** What a map node stands for. Names come from tags (ip_names view), else the IP itself. */
export type NodeGrouping = 'service' | 'pod' | 'ip';

export type FilterOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | 'in';

/**
 * One condition of a filter bar; `field` is a column of the row type being filtered, snake_case
 * (`response_status`) or as the row's property (`responseStatus`). Request filters (RED, time
 * series, request log) take REQUEST_FILTER_FIELDS, flow filters (network, flow log) FLOW_FILTER_FIELDS;
 * any other field is refused. Values are bound as parameters, never spliced into SQL. Numeric columns
 * take numbers (or numeric text); `contains` (substring, case-sensitive) only text columns; `in` a
 * non-empty list (at most 1000 values); `!=` matches NULLs too (IS DISTINCT FROM).
 */
export interface FilterClause {
  field: string;
  op: FilterOp;
  value: string | number | (string | number)[];
}

/** Request columns a filter may name (the requests table, plus the view's own columns). */
export const REQUEST_FILTER_FIELDS = [
  'request_id', 'flow_id', 'capture_id', 'if_index', 'observation_point', 'start_time', 'end_time', 'duration',
  'l7_protocol', 'version', 'request_type', 'request_domain', 'request_resource', 'endpoint', 'response_status',
  'response_code', 'response_exception', 'response_result', 'trace_id', 'span_id', 'parent_span_id',
  'x_request_id_0', 'x_request_id_1', 'req_tcp_seq', 'resp_tcp_seq', 'request_length', 'response_length',
  'client_ip', 'server_ip', 'client_port', 'server_port', 'signal_source',
  /** Node names under the request's grouping (service, pod or IP). */
  'client_node', 'server_node',
  /** Observation points that saw the request. */
  'hops',
] as const;

/** Flow columns a filter may name. */
export const FLOW_FILTER_FIELDS = [
  'flow_id', 'capture_id', 'if_index', 'observation_point', 'start_time', 'end_time', 'ip_version', 'protocol',
  'client_ip', 'server_ip', 'client_port', 'server_port', 'tunnel_type', 'tunnel_id', 'tunnel_outer_src',
  'tunnel_outer_dst', 'packets_tx', 'packets_rx', 'bytes_tx', 'bytes_rx', 'syn_count', 'synack_count',
  'retrans_tx', 'retrans_rx', 'zero_win_tx', 'zero_win_rx', 'ooo_tx', 'ooo_rx', 'rtt', 'rtt_client',
  'rtt_server', 'srt_sum', 'srt_count', 'srt_max', 'art_sum', 'art_count', 'art_max', 'cit_sum', 'cit_count',
  'cit_max', 'close_type', 'l7_protocol', 'vlan', 'payload_tx', 'payload_rx', 'fin_count', 'rst_count',
  'handshake_seen', 'syn_seq', 'synack_seq', 'client_node', 'server_node', 'hops',
] as const;

/**
 * Sort order. Logs: a filter field (snake_case or property name). RED and network tables: a property
 * of the row (`requests`, `rate`, `errorRatio`, `durationP99`, `server`, `bytes`, ...).
 */
export interface SortSpec {
  field: string;
  desc?: boolean;
}

/** Rate, errors, duration of a set of requests (SPEC.md "RED and the service map"). */
export interface RedStats {
  requests: number;
  /** requests / window seconds. */
  rate: number;
  /** Requests that got a response (status ok, client_error or server_error). */
  responses: number;
  clientErrors: number;
  serverErrors: number;
  timeouts: number;
  /** (clientErrors + serverErrors) / responses; 0 when there is no response. */
  errorRatio: number;
  /** timeouts / requests. */
  timeoutRatio: number;
  /** Durations (µs) of answered requests; null when there is none. */
  durationAvg: number | null;
  durationP50: number | null;
  durationP90: number | null;
  durationP99: number | null;
  durationMax: number | null;
}

// --- service map -----------------------------------------------------------------------------

export interface ServiceMapRequest extends ViewScope {
  grouping?: NodeGrouping;
}

export interface MapNode {
  /** Stable id: the grouping's name (service, pod) or the IP. */
  id: string;
  label: string;
  /** 'ip' when no tag names it. */
  kind: NodeGrouping;
  namespace: string | null;
  /** IPs that fold into this node. */
  ips: string[];
  /** RED of the requests this node served; null when it served none (a pure client). */
  served: RedStats | null;
}

/** client node → server node for one protocol and server port. */
export interface MapEdge {
  id: string;
  source: string;
  target: string;
  protocol: string;
  serverPort: number;
  red: RedStats;
  /** Network side of the same client/server pair: flows, bytes both ways, failed connections. */
  flows: number;
  bytes: number;
  connectionFailures: number;
}

export interface ServiceMap {
  grouping: NodeGrouping;
  /** The window the rates were computed over (the data's own extent when the scope left it open). */
  window: { from: number; to: number };
  nodes: MapNode[];
  edges: MapEdge[];
}

// --- RED tables --------------------------------------------------------------------------------

export type RedGroupBy = 'service' | 'endpoint' | 'edge';

export interface RedRequest extends ViewScope {
  groupBy: RedGroupBy;
  grouping?: NodeGrouping;
  filter?: FilterClause[];
  sort?: SortSpec;
  limit?: number;
  /** Points per sparkline (requests per bucket across the window); none when 0 or omitted. */
  sparkline?: number;
}

export interface RedRow extends RedStats {
  /** Server node (every groupBy). */
  server: string;
  /** Client node (groupBy 'edge'). */
  client?: string;
  protocol: string;
  serverPort?: number;
  /** groupBy 'endpoint'. */
  endpoint?: string;
  spark?: number[];
}

export interface RedTable {
  window: { from: number; to: number };
  rows: RedRow[];
}

// --- network table ---------------------------------------------------------------------------------

export interface NetworkRequest extends ViewScope {
  groupBy: 'service' | 'edge';
  grouping?: NodeGrouping;
  filter?: FilterClause[];
  sort?: SortSpec;
  limit?: number;
}

export interface NetworkRow {
  server: string;
  client?: string;
  protocol: string;
  serverPort?: number;
  /** Flows counted once per connection (one observation point each), like requests. */
  flows: number;
  packets: number;
  bytes: number;
  retransRatio: number;
  connectionFailures: number;
  transferFailures: number;
  rttAvg: number | null;
  srtAvg: number | null;
}

// --- time series ---------------------------------------------------------------------------------

export interface TimeSeriesRequest extends ViewScope {
  /** Bucket width in µs; chosen from the window (about 120 buckets) when omitted. */
  stepUs?: number;
  filter?: FilterClause[];
  /** Node names for client_node / server_node in the filter (default 'service'). */
  grouping?: NodeGrouping;
}

export interface TimeSeriesPoint {
  /** Bucket start, µs. */
  t: number;
  requests: number;
  errors: number;
  timeouts: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  /** Bytes and packets of flows active in the bucket (flow totals spread over their lifetime). */
  bytes: number;
  packets: number;
}

export interface TimeSeries {
  stepUs: number;
  window: { from: number; to: number };
  points: TimeSeriesPoint[];
  /**
   * Whether bytes/packets follow the filter: they do when it names only fields flows have too
   * (addresses, ports, nodes, l7_protocol, ...); otherwise they are of every flow in scope.
   */
  flowsFiltered: boolean;
}

// --- logs ------------------------------------------------------------------------------------------

export interface LogRequest extends ViewScope {
  filter?: FilterClause[];
  /** Default: start_time ascending (ties by id). */
  sort?: SortSpec;
  offset?: number;
  /** At most 1000; default 100. */
  limit?: number;
  /** Node names by this grouping (default 'service'). */
  grouping?: NodeGrouping;
  /**
   * Every observation point's row instead of one row per request / connection (the one RED counts).
   * Default false.
   */
  allHops?: boolean;
}

/** observationPoint is the flow's (decided after import); the chosen hop's row unless allHops. */
export interface RequestRow extends RequestRecord {
  clientNode: string;
  serverNode: string;
  /** How many rows (observation points) saw this request; 1 with allHops. */
  hops: number;
}

export interface FlowRow extends FlowRecord {
  clientNode: string;
  serverNode: string;
  /** How many rows (observation points) saw this connection; 1 with allHops. */
  hops: number;
}

/** One request's network path: every observation point that saw it (the rows RED counts as one). */
export interface RequestPathRequest {
  /** Captures whose rows may be copies of the request (all finished captures when omitted). */
  captureIds?: number[];
  /** Any row of the request (a log row's requestId). */
  requestId: number;
}

/** The request as one observation point saw it. */
export interface RequestHop {
  requestId: number;
  captureId: number;
  flowId: number;
  ifIndex: number;
  /** The interface's name and kind ('veth', 'bridge', 'vxlan', 'eth', 'lo', 'unknown'); null when the capture does not describe it. */
  interfaceName: string | null;
  interfaceKind: string | null;
  observationPoint: string;
  startTime: number;
  endTime: number;
  duration: number | null;
  responseStatus: string;
  responseCode: number | null;
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  /** The flow's tunnel ('' when not tunnelled) and its outer addresses. */
  tunnelType: string;
  tunnelId: number;
  tunnelOuterSrc: string;
  tunnelOuterDst: string;
  /** The row that speaks for the request in the log and RED. */
  chosen: boolean;
}

export interface RequestPath {
  requestId: number;
  /** In the order the request reached them (first packet's time), the first hop first; empty when no such request. */
  hops: RequestHop[];
}

export interface LogPage<Row> {
  /** Rows matching the filter, whatever the page. */
  total: number;
  offset: number;
  rows: Row[];
}
