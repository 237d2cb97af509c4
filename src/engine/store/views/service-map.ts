// The service map: nodes (services, pods or IPs) and edges (client node, server node, protocol, server
// port) with RED from requests counted once, and the network side (flows counted once per connection).
// An edge exists when requests or flows went that way: a refused connection is an edge with no requests.
// A flow joins the request edge of its protocol; a flow with no recognised L7 protocol joins a request
// edge of the same client, server and port if there is one, else its own edge named by transport.
import type { DuckDBConnection } from '@duckdb/node-api';
import { CONNECTION_FAILURE_CLOSE_TYPES } from '../../../shared/records';
import type { MapEdge, MapNode, ServiceMap, ServiceMapRequest } from '../../../shared/views';
import { createFlowSet, createRequestSet } from './dedupe';
import { checkGrouping } from './nodes';
import { RED_AGGREGATES, emptyRed, redStats } from './red';
import { checkScope, resolveWindow } from './scope';
import { num, rows, strOrNull } from './sql';

/** A flow's protocol as views name it: its L7 protocol, else the transport. */
export const FLOW_PROTOCOL = `CASE WHEN l7_protocol <> '' THEN l7_protocol WHEN protocol = 6 THEN 'tcp' WHEN protocol = 17 THEN 'udp'
  WHEN protocol IN (1, 58) THEN 'icmp' ELSE 'ip' END`;

export const CONNECTION_FAILURE_SQL = `close_type IN (${CONNECTION_FAILURE_CLOSE_TYPES.join(', ')})`;

const edgeId = (source: string, target: string, protocol: string, port: number): string => `${source}→${target} ${protocol}:${port}`;

export async function serviceMap(conn: DuckDBConnection, req: ServiceMapRequest): Promise<ServiceMap> {
  const what = 'serviceMap';
  checkScope(req, what);
  const grouping = checkGrouping(req.grouping, what);
  const window = await resolveWindow(conn, req);
  await createRequestSet(conn, 'v_map', req, { grouping });
  await createFlowSet(conn, 'v_mapf', req, { grouping });

  const edges = new Map<string, MapEdge>();
  const byPair = new Map<string, MapEdge>(); // client, server, port → first request edge
  for (const r of await rows(
    conn,
    `SELECT client_node, server_node, l7_protocol, server_port, ${RED_AGGREGATES}
     FROM v_map GROUP BY ALL ORDER BY client_node, server_node, l7_protocol, server_port`,
  )) {
    const source = String(r.client_node);
    const target = String(r.server_node);
    const protocol = String(r.l7_protocol);
    const port = num(r.server_port);
    const e: MapEdge = {
      id: edgeId(source, target, protocol, port),
      source, target, protocol, serverPort: port,
      red: redStats(r, window),
      flows: 0, bytes: 0, connectionFailures: 0,
    };
    edges.set(e.id, e);
    const pair = `${source}\u0000${target}\u0000${port}`;
    if (!byPair.has(pair)) byPair.set(pair, e);
  }
  for (const r of await rows(
    conn,
    `SELECT client_node, server_node, l7_protocol <> '' AS known, ${FLOW_PROTOCOL} AS proto, server_port,
            count(*) AS flows, sum(bytes_tx + bytes_rx) AS bytes, count(*) FILTER (WHERE ${CONNECTION_FAILURE_SQL}) AS failures
     FROM v_mapf GROUP BY ALL ORDER BY client_node, server_node, proto, server_port`,
  )) {
    const source = String(r.client_node);
    const target = String(r.server_node);
    const protocol = String(r.proto);
    const port = num(r.server_port);
    let e = edges.get(edgeId(source, target, protocol, port));
    if (!e && !r.known) e = byPair.get(`${source}\u0000${target}\u0000${port}`);
    if (!e) {
      e = {
        id: edgeId(source, target, protocol, port),
        source, target, protocol, serverPort: port,
        red: emptyRed(),
        flows: 0, bytes: 0, connectionFailures: 0,
      };
      edges.set(e.id, e);
    }
    e.flows += num(r.flows);
    e.bytes += num(r.bytes);
    e.connectionFailures += num(r.failures);
  }

  const served = new Map<string, ReturnType<typeof redStats>>();
  for (const r of await rows(conn, `SELECT server_node, ${RED_AGGREGATES} FROM v_map GROUP BY ALL`)) {
    served.set(String(r.server_node), redStats(r, window));
  }
  const nodes: MapNode[] = (
    await rows(
      conn,
      `WITH e AS (
         SELECT client_node AS map_node, client_ip AS ip FROM v_map UNION SELECT server_node, server_ip FROM v_map
         UNION SELECT client_node, client_ip FROM v_mapf UNION SELECT server_node, server_ip FROM v_mapf
       )
       SELECT e.map_node, list(DISTINCT e.ip ORDER BY e.ip) AS ips, min(n.namespace) AS namespace, bool_or(e.map_node <> e.ip) AS named
       FROM e LEFT JOIN ip_names n ON n.ip = e.ip GROUP BY e.map_node ORDER BY e.map_node`,
    )
  ).map((r) => ({
    id: String(r.map_node),
    label: String(r.map_node),
    kind: r.named ? grouping : 'ip',
    namespace: strOrNull(r.namespace),
    ips: (r.ips as unknown[]).map(String),
    served: served.get(String(r.map_node)) ?? null,
  }));
  return { grouping, window, nodes, edges: [...edges.values()] };
}
