// One row per request and one row per connection, however many observation points saw it (SPEC.md
// "RED and the service map": one request counts once). Built as temp tables on the view's own
// connection, so a view's several queries share one pass over the store.
//
// Requests — which rows are copies of one request:
// - TCP (req_tcp_seq known): same client ip, client port and req_tcp_seq. The sequence number already
//   carries the connection's random initial sequence number, and DNAT rewrites only the server side,
//   so this joins the ClusterIP copies (client veth, client bridge) with the pod-IP copies (tunnel,
//   underlay, server veth) without going through flows.syn_seq. A lone response (no request seen on
//   that hop) uses resp_tcp_seq the same way.
// - Without a sequence number (DNS over UDP): same client ip, client port, protocol, request type,
//   domain and resource, each copy starting within LOOSE_GAP_US of the previous one (a retry after a
//   timeout is a new request; hop copies are µs to ms apart). The server address is left out (DNAT).
// - Other sources (otel, ebpf without seq): every row is its own request.
// The row that speaks for the request: OBSERVATION_POINT_PREFERENCE (server side first), then paired
// over unpaired, then the lowest request_id. Its observation_point is its flow's (decided after import;
// the requests table keeps the parser's provisional value).
//
// Connections: the summary's rule (shared/summary.ts): client ip, client port and the SYN's sequence
// number when the handshake was seen, else the 5-tuple with rows starting within CONNECTION_GAP_US of
// the previous; representative row by preference, then most packets, then lowest flow_id.
//
// The one-per-request and one-per-connection sets are built over every row of the captures in scope,
// all time (views.ts caches them per capture set); a window then keeps the requests whose chosen row
// started in it (connections whose chosen row was active in it), so adjacent windows split the
// requests exactly.
import type { DuckDBConnection } from '@duckdb/node-api';
import { CONNECTION_GAP_US } from '../../../shared/summary';
import type { NodeGrouping, ViewScope } from '../../../shared/views';
import { nameJoins, nodeColumns } from './nodes';
import { captureCondition, flowWindowCondition, requestWindowCondition } from './scope';
import { exec, opRank, Params } from './sql';

/**
 * The columns kept in the cached sets (what the views aggregate and filter by most); other columns a
 * filter or sort names are joined from the base table by id. Copying every column of a million
 * requests (free text included) cost five times as much as these.
 */
export const REQUEST_CACHED = [
  'request_id', 'flow_id', 'capture_id', 'observation_point', 'start_time', 'end_time', 'duration', 'l7_protocol',
  'request_type', 'endpoint', 'response_status', 'response_code', 'client_ip', 'server_ip', 'client_port', 'server_port',
  'signal_source',
];
export const FLOW_CACHED = [
  'flow_id', 'capture_id', 'if_index', 'observation_point', 'start_time', 'end_time', 'protocol', 'client_ip', 'server_ip',
  'client_port', 'server_port', 'packets_tx', 'packets_rx', 'bytes_tx', 'bytes_rx', 'retrans_tx', 'retrans_rx', 'rtt',
  'srt_sum', 'srt_count', 'close_type', 'l7_protocol',
];

/** Copies of a request without TCP sequence numbers start within this gap (µs) of each other. */
export const LOOSE_GAP_US = 50_000;

/** SQL over a requests row: the key its hop copies share (see the rules above) ... */
export const REQUEST_KEY = `CASE WHEN req_tcp_seq IS NOT NULL THEN hash(0, client_ip, client_port, req_tcp_seq)
  WHEN resp_tcp_seq IS NOT NULL THEN hash(1, client_ip, client_port, resp_tcp_seq)
  WHEN signal_source = 'packet' THEN hash(2, client_ip, client_port, l7_protocol, request_type, request_domain, request_resource)
  ELSE hash(3, request_id) END`;
/** ... and whether that key is loose (copies are also split where they start LOOSE_GAP_US apart). */
export const REQUEST_LOOSE = `(req_tcp_seq IS NULL AND resp_tcp_seq IS NULL AND signal_source = 'packet')`;

/**
 * Picks one row per group of `${table}_k` (columns key, loose, start_time, pref{…, id}) into
 * `${table}_pick` (id, hops): loose keys split where copies start more than `gap` µs apart.
 */
async function pickOnce(conn: DuckDBConnection, table: string, idColumn: string, gap: number): Promise<void> {
  await exec(
    conn,
    `CREATE OR REPLACE TEMP TABLE ${table}_pick AS
     WITH g AS (
       SELECT key, 0 AS grp, pref FROM ${table}_k WHERE NOT loose
       UNION ALL
       SELECT key, sum(is_new) OVER (PARTITION BY key ORDER BY start_time, pref.id ROWS UNBOUNDED PRECEDING) AS grp, pref
       FROM (
         SELECT *, CASE WHEN start_time - lag(start_time) OVER (PARTITION BY key ORDER BY start_time, pref.id) <= ${gap}
                        THEN 0 ELSE 1 END AS is_new
         FROM ${table}_k WHERE loose
       )
     )
     SELECT min(pref) AS pref, count(*) AS hops FROM g GROUP BY key, grp`,
  );
  await exec(conn, `DROP TABLE ${table}_k`);
  await exec(conn, `CREATE OR REPLACE TEMP TABLE ${table}_pick AS SELECT pref.id AS ${idColumn}, pref, hops FROM ${table}_pick`);
}

/** Creates temp table `table`: the requests of the captures, one row per request, with hops. */
export async function buildRequestOnce(conn: DuckDBConnection, table: string, captureIds: readonly number[] | undefined): Promise<void> {
  // Staged through narrow temp tables: the wide rows are read once, at the end, for the chosen ids.
  const params = new Params();
  const cap = captureCondition(params, { captureIds }, 'r.');
  const fcap = captureCondition(params, { captureIds });
  await exec(
    conn,
    `CREATE OR REPLACE TEMP TABLE ${table}_k AS
     WITH r AS (
       SELECT r.request_id, r.start_time, r.duration, r.req_tcp_seq, r.resp_tcp_seq, r.signal_source, r.client_ip, r.client_port,
              r.l7_protocol, r.request_type, r.request_domain, r.request_resource,
              coalesce(f.observation_point, r.observation_point) AS op
       FROM requests r LEFT JOIN (SELECT flow_id, observation_point FROM flows WHERE ${fcap}) f ON f.flow_id = r.flow_id
       WHERE ${cap}
     )
     SELECT start_time,
       {'rank': ${opRank('op')}, 'unpaired': duration IS NULL, 'id': request_id, 'op': op} AS pref,
       ${REQUEST_KEY} AS key, ${REQUEST_LOOSE} AS loose
     FROM r`,
    params,
  );
  await pickOnce(conn, table, 'request_id', LOOSE_GAP_US);
  await exec(
    conn,
    `CREATE OR REPLACE TEMP TABLE ${table} AS
     SELECT ${REQUEST_CACHED.filter((c) => c !== 'observation_point').map((c) => `r.${c}`).join(', ')}, p.pref.op AS observation_point, p.hops
     FROM requests r JOIN ${table}_pick p USING (request_id)`,
  );
  await exec(conn, `DROP TABLE ${table}_pick`);
}

/** Creates temp table `table`: the flows of the captures, one row per connection, with hops. */
export async function buildFlowOnce(conn: DuckDBConnection, table: string, captureIds: readonly number[] | undefined): Promise<void> {
  const params = new Params();
  await exec(
    conn,
    `CREATE OR REPLACE TEMP TABLE ${table}_k AS
     SELECT start_time,
       {'rank': ${opRank('observation_point')}, 'packets': -(packets_tx + packets_rx), 'id': flow_id} AS pref,
       CASE WHEN protocol = 6 AND syn_seq >= 0 THEN hash(0, client_ip, client_port, syn_seq)
            ELSE hash(1, client_ip, client_port, server_ip, server_port, protocol) END AS key,
       NOT (protocol = 6 AND syn_seq >= 0) AS loose
     FROM flows WHERE ${captureCondition(params, { captureIds })}`,
    params,
  );
  await pickOnce(conn, table, 'flow_id', CONNECTION_GAP_US);
  await exec(
    conn,
    `CREATE OR REPLACE TEMP TABLE ${table} AS SELECT ${FLOW_CACHED.map((c) => `f.${c}`).join(', ')}, p.hops FROM flows f JOIN ${table}_pick p USING (flow_id)`,
  );
  await exec(conn, `DROP TABLE ${table}_pick`);
}

/**
 * SQL for a FROM clause: the rows of `table` (built above) in the scope's window, with client_node,
 * server_node, hops and `columns` (any request/flow columns; those not cached are joined from the
 * base table by id). `kind` picks the window rule (requests: started in it; flows: active in it).
 */
export function rowsInScope(
  table: string,
  kind: 'request' | 'flow',
  scope: ViewScope,
  grouping: NodeGrouping,
  params: Params,
  columns: readonly string[] = [],
): string {
  const alias = kind === 'request' ? 'r' : 'f';
  const cached = kind === 'request' ? REQUEST_CACHED : FLOW_CACHED;
  const id = kind === 'request' ? 'request_id' : 'flow_id';
  const extra = [...new Set(columns)].filter((c) => !cached.includes(c) && c !== 'hops' && c !== 'client_node' && c !== 'server_node');
  const win = kind === 'request' ? requestWindowCondition(params, scope, `${alias}.`) : flowWindowCondition(params, scope, `${alias}.`);
  const join = extra.length > 0 ? `JOIN ${kind === 'request' ? 'requests' : 'flows'} x ON x.${id} = ${alias}.${id}` : '';
  return `(SELECT ${alias}.*, ${extra.map((c) => `x.${c}`).join(', ')}${extra.length > 0 ? ', ' : ''}${nodeColumns(alias, grouping)}
          FROM ${table} ${alias} ${join} ${nameJoins(alias, grouping)} WHERE ${win})`;
}

/** Every observation point's request rows (observation_point from their flows), for allHops logs. */
export function allRequestRows(scope: ViewScope, grouping: NodeGrouping, params: Params): string {
  return `(SELECT r.* REPLACE (coalesce(f.observation_point, r.observation_point) AS observation_point), 1::BIGINT AS hops,
            ${nodeColumns('r', grouping)}
          FROM requests r LEFT JOIN (SELECT flow_id, observation_point FROM flows) f ON f.flow_id = r.flow_id ${nameJoins('r', grouping)}
          WHERE ${captureCondition(params, scope, 'r.')} AND ${requestWindowCondition(params, scope, 'r.')})`;
}

/** Every observation point's flow rows, for allHops logs. */
export function allFlowRows(scope: ViewScope, grouping: NodeGrouping, params: Params): string {
  return `(SELECT f.*, 1::BIGINT AS hops, ${nodeColumns('f', grouping)} FROM flows f ${nameJoins('f', grouping)}
          WHERE ${captureCondition(params, scope, 'f.')} AND ${flowWindowCondition(params, scope, 'f.')})`;
}
