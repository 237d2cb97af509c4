// The shape of samples/k8s.truth.json — what the sample generator (samples/generate.sh) knew from the
// clients' side — for the tests that compare Flowscope's output with it. Fields listed are those the
// tests read; the file has more (see its `about`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SAMPLES_DIR = import.meta.dirname;

export interface TruthHop {
  node: string;
  interface: string;
  ifindex: number;
  direction: 'rx' | 'tx';
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  encap: null | { type: string; vni: number; outer_src_ip: string; outer_dst_ip: string; outer_dst_port: number };
}

export interface TruthConnection {
  id: string;
  transport: 'tcp' | 'udp';
  l7: string | null;
  client_pod: string;
  server_pod: string;
  client_ip: string;
  client_port: number;
  server_ip: string;
  server_port: number;
  backend_ip: string;
  backend_port: number;
  dnat: boolean;
  cross_node: boolean;
  refused: boolean;
  requests: number;
  retransmissions: string;
  service: string | null;
  observed_by: string;
  hops: TruthHop[];
}

export interface TruthRequest {
  id: string;
  connection: string;
  index_on_connection: number;
  protocol: string;
  method: string;
  resource: string;
  code: number | string | null;
  status: number | string;
  error_class: 'ok' | 'client_error' | 'server_error';
  start_us: number;
  first_byte_us: number | null;
  end_us: number;
  /** HTTP */
  version?: string;
  host?: string | null;
  x_request_id?: string | null;
  response_x_request_id?: string;
  traceparent?: string | null;
  request_bytes?: number;
  response_bytes?: number;
  response_body_bytes?: number;
  pipelined?: boolean;
  /** The clock resolution of start_us / end_us where coarser than 1 µs (nginx logs: 1000). */
  time_resolution_us?: number;
  /** DNS */
  answers?: { type: string; value: string; ttl: number }[];
  /** Redis */
  reply_type?: string;
  transaction_id?: number;
  parent_request?: string;
  child_requests?: string[];
}

export interface TruthInterface {
  name: string;
  ifindex: number;
  kind: string;
  pod?: string;
}

export interface TruthEdge {
  client: string;
  server: string;
  protocol: string;
  transport: string;
  port: number;
  connections: number;
  refused: number;
  requests: number;
  errors: number;
  client_errors: number;
  server_errors: number;
}

export interface Truth {
  schema: string;
  capture_window: { start_us: number; end_us: number };
  files: {
    file: string;
    node: string | null;
    format: string;
    link_type: number;
    interfaces: string | { id: number; node: string; name: string }[];
  }[];
  topology: {
    nodes: { name: string; interfaces: TruthInterface[] }[];
    pods: { name: string; namespace: string; node: string; ip: string; host_veth: string }[];
    services: { name: string; namespace: string; type: string; ip: string | null; pod: string | null }[];
  };
  connections: TruthConnection[];
  requests: TruthRequest[];
  dns_queries: { request: string; connection: string; rcode: number; transaction_id: number }[];
  expected: {
    per_interface: {
      node: string;
      interface: string;
      ifindex: number;
      tcp_connections: number;
      tcp_refused: number;
      udp_flows: number;
      requests: number;
      requests_by_protocol: Record<string, number>;
      vxlan_encapsulated_flows: number;
    }[];
    per_edge: TruthEdge[];
  };
}

/** samples/k8s.truth.json, parsed. */
export function loadTruth(): Truth {
  return JSON.parse(readFileSync(join(SAMPLES_DIR, 'k8s.truth.json'), 'utf8')) as Truth;
}
