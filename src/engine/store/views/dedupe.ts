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
// Windows: rows are grouped over the window widened by WINDOW_PAD_US, then a request (connection) is
// in the window when its chosen row is, so a request whose copies straddle the window's edge is
// counted in exactly one of two adjacent windows.
import type { DuckDBConnection } from '@duckdb/node-api';
import { CONNECTION_GAP_US } from '../../../shared/summary';
import type { NodeGrouping, ViewScope } from '../../../shared/views';
import { nameJoins, nodeColumns } from './nodes';
import { captureCondition, flowWindowCondition, requestWindowCondition } from './scope';
import { exec, opRank, Params } from './sql';

/** Copies of a request without TCP sequence numbers start within this gap (µs) of each other. */
export const LOOSE_GAP_US = 50_000;
/** How far beyond the window copies are looked for. */
export const WINDOW_PAD_US = 10_000_000;

function padded(scope: ViewScope): ViewScope {
  const w = scope.window;
  if (!w) return scope;
  return {
    ...scope,
    window: {
      from: w.from === undefined ? undefined : w.from - WINDOW_PAD_US,
      to: w.to === undefined ? undefined : w.to + WINDOW_PAD_US,
    },
  };
}

export interface RowSetOptions {
  grouping: NodeGrouping;
  /** Every observation point's row instead of one per request/connection. */
  allHops?: boolean;
}

/** Creates (replaces) temp table `table`: the requests of the scope, one per request, with
 *  client_node, server_node and hops. */
export async function createRequestSet(conn: DuckDBConnection, table: string, scope: ViewScope, opts: RowSetOptions): Promise<void> {
  const params = new Params();
  const base = `
    SELECT r.* REPLACE (coalesce(f.observation_point, r.observation_point) AS observation_point)
    FROM requests r LEFT JOIN flows f ON f.flow_id = r.flow_id
    WHERE ${captureCondition(params, scope, 'r.')} AND ${requestWindowCondition(params, opts.allHops ? scope : padded(scope), 'r.')}`;
  const inWindow = requestWindowCondition(params, scope, 'r.');
  if (opts.allHops) {
    await exec(
      conn,
      `CREATE OR REPLACE TEMP TABLE ${table} AS
       WITH r AS (${base})
       SELECT r.*, 1::BIGINT AS hops, ${nodeColumns('r', opts.grouping)} FROM r ${nameJoins('r', opts.grouping)}`,
      params,
    );
    return;
  }
  await exec(
    conn,
    `CREATE OR REPLACE TEMP TABLE ${table} AS
     WITH r AS (${base}),
     k AS (
       SELECT request_id, start_time,
         {'rank': ${opRank('observation_point')}, 'unpaired': duration IS NULL, 'id': request_id} AS pref,
         CASE WHEN req_tcp_seq IS NOT NULL THEN hash(0, client_ip, client_port, req_tcp_seq)
              WHEN resp_tcp_seq IS NOT NULL THEN hash(1, client_ip, client_port, resp_tcp_seq)
              WHEN signal_source = 'packet' THEN hash(2, client_ip, client_port, l7_protocol, request_type, request_domain, request_resource)
              ELSE hash(3, request_id) END AS key,
         req_tcp_seq IS NULL AND resp_tcp_seq IS NULL AND signal_source = 'packet' AS loose
       FROM r
     ),
     g AS (
       SELECT key, 0 AS grp, pref FROM k WHERE NOT loose
       UNION ALL
       SELECT key, sum(is_new) OVER (PARTITION BY key ORDER BY start_time, request_id ROWS UNBOUNDED PRECEDING) AS grp, pref
       FROM (
         SELECT *, CASE WHEN start_time - lag(start_time) OVER (PARTITION BY key ORDER BY start_time, request_id) <= ${LOOSE_GAP_US}
                        THEN 0 ELSE 1 END AS is_new
         FROM k WHERE loose
       )
     ),
     pick AS (SELECT struct_extract(min(pref), 'id') AS request_id, count(*) AS hops FROM g GROUP BY key, grp)
     SELECT r.*, pick.hops, ${nodeColumns('r', opts.grouping)}
     FROM pick JOIN r USING (request_id) ${nameJoins('r', opts.grouping)}
     WHERE ${inWindow}`,
    params,
  );
}

/** Creates (replaces) temp table `table`: the flows of the scope, one per connection, with
 *  client_node, server_node and hops. */
export async function createFlowSet(conn: DuckDBConnection, table: string, scope: ViewScope, opts: RowSetOptions): Promise<void> {
  const params = new Params();
  const base = `SELECT * FROM flows WHERE ${captureCondition(params, scope)} AND ${flowWindowCondition(params, opts.allHops ? scope : padded(scope))}`;
  const inWindow = flowWindowCondition(params, scope, 'f.');
  if (opts.allHops) {
    await exec(
      conn,
      `CREATE OR REPLACE TEMP TABLE ${table} AS
       WITH f AS (${base})
       SELECT f.*, 1::BIGINT AS hops, ${nodeColumns('f', opts.grouping)} FROM f ${nameJoins('f', opts.grouping)}`,
      params,
    );
    return;
  }
  await exec(
    conn,
    `CREATE OR REPLACE TEMP TABLE ${table} AS
     WITH f AS (${base}),
     k AS (
       SELECT flow_id, start_time,
         {'rank': ${opRank('observation_point')}, 'packets': -(packets_tx + packets_rx), 'id': flow_id} AS pref,
         CASE WHEN protocol = 6 AND syn_seq >= 0 THEN hash(0, client_ip, client_port, syn_seq)
              ELSE hash(1, client_ip, client_port, server_ip, server_port, protocol) END AS key,
         NOT (protocol = 6 AND syn_seq >= 0) AS loose
       FROM f
     ),
     g AS (
       SELECT key, 0 AS grp, pref FROM k WHERE NOT loose
       UNION ALL
       SELECT key, sum(is_new) OVER (PARTITION BY key ORDER BY start_time, flow_id ROWS UNBOUNDED PRECEDING) AS grp, pref
       FROM (
         SELECT *, CASE WHEN start_time - lag(start_time) OVER (PARTITION BY key ORDER BY start_time, flow_id) <= ${CONNECTION_GAP_US}
                        THEN 0 ELSE 1 END AS is_new
         FROM k WHERE loose
       )
     ),
     pick AS (SELECT struct_extract(min(pref), 'id') AS flow_id, count(*) AS hops FROM g GROUP BY key, grp)
     SELECT f.*, pick.hops, ${nodeColumns('f', opts.grouping)}
     FROM pick JOIN f USING (flow_id) ${nameJoins('f', opts.grouping)}
     WHERE ${inWindow}`,
    params,
  );
}
