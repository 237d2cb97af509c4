// The service map: nodes (services, pods or IPs) and edges (client node, server node, protocol, server
// port) with RED from requests counted once, and the network side (flows counted once per connection).
// An edge exists when requests or flows went that way: a refused connection is an edge with no requests.
// A flow joins the request edge of its protocol; a flow with no recognised L7 protocol joins a request
// edge of the same client, server and port if there is one, else its own edge named by transport.
import { CONNECTION_FAILURE_CLOSE_TYPES } from '../../../shared/records';
import type { MapEdge, MapNode, ServiceMap, ServiceMapRequest } from '../../../shared/views';
import type { ViewContext } from './context';
import { rowsInScope } from './dedupe';
import { checkGrouping } from './nodes';
import { RED_AGGREGATES, emptyRed, redStats } from './red';
import { checkScope, resolveWindow } from './scope';
import { num, Params, rows, strOrNull } from './sql';

/** A flow's protocol as views name it: its L7 protocol, else the transport. */
export const FLOW_PROTOCOL = `CASE WHEN l7_protocol <> '' THEN l7_protocol WHEN protocol = 6 THEN 'tcp' WHEN protocol = 17 THEN 'udp'
  WHEN protocol IN (1, 58) THEN 'icmp' ELSE 'ip' END`;

export const CONNECTION_FAILURE_SQL = `close_type IN (${CONNECTION_FAILURE_CLOSE_TYPES.join(', ')})`;

const edgeId = (source: string, target: string, protocol: string, port: number): string => `${source}→${target} ${protocol}:${port}`;

export async function serviceMap(ctx: ViewContext, req: ServiceMapRequest): Promise<ServiceMap> {
  const { conn } = ctx;
  const what = 'serviceMap';
  checkScope(req, what);
  const grouping = checkGrouping(req.grouping, what);
  const window = await resolveWindow(conn, req);
  const reqTable = await ctx.requestTable(req.captureIds);
  const flowTable = await ctx.flowTable(req.captureIds);
  /** The scope's requests (flows) with node names, as a FROM clause bound to `p`. */
  const requestsIn = (p: Params) => rowsInScope(reqTable, 'request', req, grouping, p);
  const flowsIn = (p: Params) => rowsInScope(flowTable, 'flow', req, grouping, p);
  const query = (build: (p: Params) => string) => {
    const p = new Params();
    return rows(conn, build(p), p);
  };

  const edges = new Map<string, MapEdge>();
  const byPair = new Map<string, MapEdge>(); // client, server, port → first request edge
  for (const r of await query(
    (p) => `SELECT client_node, server_node, l7_protocol, server_port, ${RED_AGGREGATES}
     FROM ${requestsIn(p)} GROUP BY ALL ORDER BY client_node, server_node, l7_protocol, server_port`,
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
  for (const r of await query(
    (p) => `SELECT client_node, server_node, l7_protocol <> '' AS known, ${FLOW_PROTOCOL} AS proto, server_port,
            count(*) AS flows, sum(bytes_tx + bytes_rx) AS bytes, count(*) FILTER (WHERE ${CONNECTION_FAILURE_SQL}) AS failures
     FROM ${flowsIn(p)} GROUP BY ALL ORDER BY client_node, server_node, proto, server_port`,
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
  for (const r of await query((p) => `SELECT server_node, ${RED_AGGREGATES} FROM ${requestsIn(p)} GROUP BY ALL`)) {
    served.set(String(r.server_node), redStats(r, window));
  }
  const nodes: MapNode[] = (
    await query(
      (p) => `WITH r AS (SELECT client_node, client_ip, server_node, server_ip FROM ${requestsIn(p)}),
       f AS (SELECT client_node, client_ip, server_node, server_ip FROM ${flowsIn(p)}),
       e AS (
         SELECT client_node AS map_node, client_ip AS ip FROM r UNION SELECT server_node, server_ip FROM r
         UNION SELECT client_node, client_ip FROM f UNION SELECT server_node, server_ip FROM f
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
