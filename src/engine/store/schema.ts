// The store's tables (ARCHITECTURE.md "Store contract"). Each schema version is frozen SQL: a fresh
// database runs every migration in order, an old one runs only the missing ones, so both end with
// the same tables. Never edit a released version's SQL; add a migration in migrations.ts instead.
//
// Conventions for every table:
// - times are BIGINT µs since the Unix epoch, durations BIGINT µs (`make_timestamp(start_time)`
//   turns one into a TIMESTAMP);
// - IPs are VARCHAR in text form (IPv6 RFC 5952 compressed);
// - tx = client→server, rx = server→client;
// - "none" follows the record it came from: tunnel_type '' and tunnel_id -1 when not tunnelled,
//   rtt/srt/art/cit 0 when not measured (DeepFlow's convention); NULL only where a record field is
//   nullable (captures.started_at, captures.error, request fields a protocol lacks).
// - flows and requests carry no PRIMARY KEY on purpose: an ART index costs memory and append
//   speed for millions of rows; their ids are allocated by the Store (allocateFlowIds) instead.

/** Schema version 1: the contract tables. */
export const SCHEMA_V1 = `
CREATE TABLE meta (
  key   VARCHAR PRIMARY KEY,   -- 'schema_version', 'app', 'next_flow_id', ...
  value VARCHAR NOT NULL
);

-- One row per capture source: a file, a live capture or a remote agent.
CREATE TABLE captures (
  capture_id        INTEGER PRIMARY KEY,  -- Store.nextCaptureId()
  source            VARCHAR NOT NULL,     -- file path, interface name or agent address
  kind              VARCHAR NOT NULL,     -- 'pcap' | 'pcapng' | 'pcap+gzip' | 'pcapng+gzip' | 'live' | 'agent'
  started_at        BIGINT,               -- first packet (µs), NULL when there were no packets
  ended_at          BIGINT,               -- last packet (µs)
  packets           BIGINT NOT NULL,      -- packets read, every copy on every interface counted
  bytes             BIGINT NOT NULL,      -- original (wire) length of those packets
  file_bytes        BIGINT NOT NULL,      -- size of the input file as stored (0 for live)
  malformed_packets BIGINT NOT NULL,      -- packets that could not be decoded
  non_ip_packets    BIGINT NOT NULL,      -- ARP, LLDP, ...
  error             VARCHAR,              -- the reader's error (file, offset, reason) if input ended badly
  imported_at       BIGINT NOT NULL       -- when this row was written (µs)
);

-- Observation points as the source describes them (pcapng IDB, SLL2 ifindex, live interface).
CREATE TABLE interfaces (
  capture_id  INTEGER NOT NULL,
  if_index    INTEGER NOT NULL,
  name        VARCHAR NOT NULL,
  description VARCHAR NOT NULL,
  link_type   INTEGER NOT NULL,           -- pcap LINKTYPE_*
  kind        VARCHAR NOT NULL,           -- 'veth' | 'bridge' | 'vxlan' | 'eth' | 'lo' | 'any' | 'unknown'
  packets     BIGINT NOT NULL,
  PRIMARY KEY (capture_id, if_index)
);

-- One row per flow per observation point. The contract columns come first in contract order,
-- then the extras of FlowRecord (vlan, payload_*, fin/rst counts, handshake_seen).
CREATE TABLE flows (
  flow_id           BIGINT NOT NULL,      -- unique in the database (Store.allocateFlowIds)
  capture_id        INTEGER NOT NULL,
  if_index          INTEGER NOT NULL,
  observation_point VARCHAR NOT NULL,     -- DeepFlow's c, s, c-nd, s-nd, local, rest, ...
  start_time        BIGINT NOT NULL,      -- µs
  end_time          BIGINT NOT NULL,      -- µs
  ip_version        UTINYINT NOT NULL,    -- 4 | 6
  protocol          UTINYINT NOT NULL,    -- IP protocol number: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6
  client_ip         VARCHAR NOT NULL,
  server_ip         VARCHAR NOT NULL,
  client_port       INTEGER NOT NULL,
  server_port       INTEGER NOT NULL,
  tunnel_type       VARCHAR NOT NULL,     -- '' when not tunnelled; 'vxlan' | 'geneve' | 'gre' | 'erspan' | 'teb' | 'ipip' ...
  tunnel_id         BIGINT NOT NULL,      -- VNI / GRE key / ERSPAN session, -1 when none
  tunnel_outer_src  VARCHAR NOT NULL,     -- outer header addresses of the outermost tunnel, '' when none
  tunnel_outer_dst  VARCHAR NOT NULL,
  packets_tx        BIGINT NOT NULL,
  packets_rx        BIGINT NOT NULL,
  bytes_tx          BIGINT NOT NULL,      -- L3 bytes (IP header included)
  bytes_rx          BIGINT NOT NULL,
  syn_count         INTEGER NOT NULL,
  synack_count      INTEGER NOT NULL,
  retrans_tx        BIGINT NOT NULL,      -- retransmitted segments by sequence ranges; pure ACKs never count
  retrans_rx        BIGINT NOT NULL,
  zero_win_tx       BIGINT NOT NULL,
  zero_win_rx       BIGINT NOT NULL,
  ooo_tx            BIGINT NOT NULL,
  ooo_rx            BIGINT NOT NULL,
  rtt               BIGINT NOT NULL,      -- µs, handshake ACK − first SYN; 0 when not measured
  rtt_client        BIGINT NOT NULL,      -- µs, handshake ACK − first SYN-ACK
  rtt_server        BIGINT NOT NULL,      -- µs, SYN-ACK − first SYN
  srt_sum           BIGINT NOT NULL,      -- µs; avg = srt_sum / srt_count (sums aggregate, averages do not)
  srt_count         BIGINT NOT NULL,
  srt_max           BIGINT NOT NULL,
  art_sum           BIGINT NOT NULL,
  art_count         BIGINT NOT NULL,
  art_max           BIGINT NOT NULL,
  cit_sum           BIGINT NOT NULL,
  cit_count         BIGINT NOT NULL,
  cit_max           BIGINT NOT NULL,
  close_type        SMALLINT NOT NULL,    -- DeepFlow close_type code (SPEC.md), names in shared/summary.ts
  l7_protocol       VARCHAR NOT NULL,     -- '' when unknown
  vlan              INTEGER NOT NULL,     -- outermost 802.1Q id, -1 when untagged
  payload_tx        BIGINT NOT NULL,      -- L4 payload bytes
  payload_rx        BIGINT NOT NULL,
  fin_count         INTEGER NOT NULL,
  rst_count         INTEGER NOT NULL,
  handshake_seen    BOOLEAN NOT NULL      -- the flow's first packet was a SYN
);

-- One row per request/response pair (or lone request/response) per observation point.
CREATE TABLE requests (
  request_id         BIGINT NOT NULL,
  flow_id            BIGINT NOT NULL,     -- flows.flow_id of the same observation point
  capture_id         INTEGER NOT NULL,
  if_index           INTEGER NOT NULL,
  observation_point  VARCHAR NOT NULL,
  start_time         BIGINT NOT NULL,     -- µs, first request packet (first response packet if none)
  end_time           BIGINT NOT NULL,     -- µs, last packet of the pair
  duration           BIGINT,              -- µs, first response packet − first request packet; NULL if unpaired
  l7_protocol        VARCHAR NOT NULL,
  version            VARCHAR,
  request_type       VARCHAR,             -- HTTP method, SQL verb, Redis command, DNS qtype ...
  request_domain     VARCHAR,             -- HTTP host, DNS qname ...
  request_resource   VARCHAR,             -- HTTP path with query, SQL text ...
  endpoint           VARCHAR,             -- folded resource: /users/{id}, /pkg.Service/Method ...
  response_status    VARCHAR NOT NULL,    -- 'ok' | 'client_error' | 'server_error' | 'timeout' | 'unknown'
  response_code      INTEGER,
  response_exception VARCHAR,
  response_result    VARCHAR,
  trace_id           VARCHAR,
  span_id            VARCHAR,
  parent_span_id     VARCHAR,
  x_request_id_0     VARCHAR,             -- x-request-id on the request
  x_request_id_1     VARCHAR,             -- x-request-id on the response
  req_tcp_seq        BIGINT,              -- TCP seq of the request's first byte (joins hops)
  resp_tcp_seq       BIGINT,
  request_length     BIGINT,
  response_length    BIGINT,
  client_ip          VARCHAR NOT NULL,
  server_ip          VARCHAR NOT NULL,
  client_port        INTEGER NOT NULL,
  server_port        INTEGER NOT NULL,
  signal_source      VARCHAR NOT NULL     -- 'packet' | 'ebpf' | 'otel'
);

-- OTel spans, ingested (OTLP in) or produced by trace assembly; keyed by (trace_id, span_id).
CREATE TABLE spans (
  trace_id       VARCHAR NOT NULL,        -- 32 hex digits
  span_id        VARCHAR NOT NULL,        -- 16 hex digits
  parent_span_id VARCHAR,
  name           VARCHAR NOT NULL,
  kind           VARCHAR NOT NULL,        -- 'internal' | 'server' | 'client' | 'producer' | 'consumer'
  service_name   VARCHAR,
  start_time     BIGINT NOT NULL,         -- µs
  end_time       BIGINT NOT NULL,         -- µs
  status_code    VARCHAR NOT NULL,        -- 'unset' | 'ok' | 'error'
  status_message VARCHAR,
  attributes     JSON,                    -- span attributes as a JSON object
  resource_attributes JSON,
  request_id     BIGINT,                  -- requests.request_id when the span is (or joins) a request
  capture_id     INTEGER,
  signal_source  VARCHAR NOT NULL         -- 'otel' | 'packet' | 'ebpf'
);

-- Auto-tagging dictionary (SPEC.md "Auto-tagging"): one row per named thing.
CREATE TABLE resources (
  resource_id INTEGER PRIMARY KEY,
  kind        VARCHAR NOT NULL,           -- 'pod' | 'service' | 'node' | 'namespace' | 'workload' | 'process' | 'dns'
  name        VARCHAR NOT NULL,
  namespace   VARCHAR,
  labels      JSON,
  source      VARCHAR NOT NULL            -- 'k8s' | 'dns' | 'process'
);

-- Which IP belongs to which resource, over which time span; joined to flows/requests at query time
-- so metadata added later re-labels old data.
CREATE TABLE ip_resources (
  ip          VARCHAR NOT NULL,
  resource_id INTEGER NOT NULL,
  valid_from  BIGINT,                     -- µs, NULL = always
  valid_to    BIGINT,
  capture_id  INTEGER                     -- where it was learned, NULL for external metadata
);
`;

/** Version 2: the handshake's sequence numbers, which identify one connection on every hop, across NAT. */
export const SCHEMA_V2 = `
ALTER TABLE flows ADD COLUMN syn_seq BIGINT DEFAULT -1;     -- client's first SYN, -1 when not seen
ALTER TABLE flows ADD COLUMN synack_seq BIGINT DEFAULT -1;  -- server's first SYN-ACK, -1 when not seen
`;

/**
 * Version 3: one row per tagged IP with its best name of each kind, what the views group by
 * (SPEC.md "Auto-tagging": names join at query time, so tags added later re-label old data).
 */
export const SCHEMA_V3 = `
CREATE VIEW ip_names AS
SELECT ir.ip,
  min(r.name) FILTER (WHERE r.kind = 'service')  AS service,
  min(r.name) FILTER (WHERE r.kind = 'pod')      AS pod,
  min(r.name) FILTER (WHERE r.kind = 'workload') AS workload,
  min(r.name) FILTER (WHERE r.kind = 'node')     AS node,
  min(r.name) FILTER (WHERE r.kind = 'dns')      AS dns_name,
  min(r.name) FILTER (WHERE r.kind = 'process')  AS process,
  min(r.namespace)                               AS namespace
FROM ip_resources ir JOIN resources r USING (resource_id)
GROUP BY ir.ip;
`;
