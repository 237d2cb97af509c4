// The service map: nodes (services, pods or IPs) and edges (client node, server node, protocol, server
// port) with RED from requests counted once, and the network side (flows counted once per connection).
// An edge exists when requests or flows went that way: a refused connection is an edge with no requests.
// A flow joins the request edge of its protocol; a flow with no recognised L7 protocol joins a request
// edge of the same client, server and port if there is one, else its own edge named by transport.
import { CONNECTION_FAILURE_CLOSE_TYPES } from '../../../shared/records';
import type { MapEdge, MapNode, ServiceMap, ServiceMapRequest } from '../../../shared/views';
import type { ViewContext } from './context';
import { rowsInScope } from './dedupe';
import { checkGrouping, NAMES_TABLE, nodeExpr } from './nodes';
import { RED_AGGREGATES, emptyRed, redStats } from './red';
import { checkScope, flowWindowCondition, requestWindowCondition, resolveWindow } from './scope';
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
  const served = new Map<string, ReturnType<typeof redStats>>();
  // One pass over the requests: per edge, and per server node (what the node serves).
  for (const r of await query(
    (p) => `SELECT client_node, server_node, l7_protocol, server_port, GROUPING(client_node) AS per_node, ${RED_AGGREGATES}
     FROM ${requestsIn(p)} GROUP BY GROUPING SETS ((client_node, server_node, l7_protocol, server_port), (server_node))
     ORDER BY client_node, server_node, l7_protocol, server_port`,
  )) {
    if (num(r.per_node) === 1) {
      served.set(String(r.server_node), redStats(r, window));
      continue;
    }
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

  // Nodes: the distinct addresses in scope (a few thousand, not a join per request), named.
  const nodes: MapNode[] = (
    await query(
      (p) => `WITH e AS (
         SELECT client_ip AS ip FROM ${reqTable} r WHERE ${requestWindowCondition(p, req, 'r.')}
         UNION SELECT server_ip FROM ${reqTable} r WHERE ${requestWindowCondition(p, req, 'r.')}
         UNION SELECT client_ip FROM ${flowTable} f WHERE ${flowWindowCondition(p, req, 'f.')}
         UNION SELECT server_ip FROM ${flowTable} f WHERE ${flowWindowCondition(p, req, 'f.')}
       ),
       named AS (SELECT e.ip, ${nodeExpr(grouping, 'e.ip', 'n')} AS map_node, n.namespace FROM e LEFT JOIN ${NAMES_TABLE} n ON n.ip = e.ip)
       SELECT map_node, list(ip ORDER BY ip) AS ips, min(namespace) AS namespace, bool_or(map_node <> ip) AS named
       FROM named GROUP BY map_node ORDER BY map_node`,
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
