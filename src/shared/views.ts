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

/** One condition of a filter bar; `field` is a column of the row type being filtered (snake_case). */
export interface FilterClause {
  field: string;
  op: FilterOp;
  value: string | number | (string | number)[];
}

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
}

// --- logs ------------------------------------------------------------------------------------------

export interface LogRequest extends ViewScope {
  filter?: FilterClause[];
  sort?: SortSpec;
  offset?: number;
  /** At most 1000. */
  limit?: number;
}

export interface RequestRow extends RequestRecord {
  clientNode: string;
  serverNode: string;
}

export interface FlowRow extends FlowRecord {
  clientNode: string;
  serverNode: string;
}

export interface LogPage<Row> {
  /** Rows matching the filter, whatever the page. */
  total: number;
  offset: number;
  rows: Row[];
}
