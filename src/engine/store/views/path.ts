// One request's network path: its copies at every observation point (client veth, bridge, tunnel,
// underlay, the server's node ...), found by the same key dedupe.ts counts them as one request by, in
// the order the request reached them. Where on the path time was spent shows as the duration at each
// hop: the gap between two hops' durations is what lies between them.
import type { RequestHop, RequestPath, RequestPathRequest } from '../../../shared/views';
import type { ViewContext } from './context';
import { LOOSE_GAP_US, REQUEST_KEY, REQUEST_LOOSE } from './dedupe';
import { captureCondition } from './scope';
import { num, numOrNull, opRank, Params, rows, strOrNull } from './sql';

export async function requestPath(ctx: ViewContext, req: RequestPathRequest): Promise<RequestPath> {
  const params = new Params();
  const cap = captureCondition(params, req);
  const id = params.p(req.requestId);
  // The request's key; rows with that key (a loose key: only those in the request's own run of
  // copies, split where they start more than LOOSE_GAP_US apart, as dedupe.ts splits them).
  const found = await rows(
    ctx.conn,
    `WITH k AS (
       SELECT request_id, start_time, ${REQUEST_KEY} AS key, ${REQUEST_LOOSE} AS loose FROM requests WHERE ${cap}
     ),
     same AS (
       SELECT request_id, start_time, loose FROM k WHERE key = (SELECT key FROM k WHERE request_id = ${id})
     ),
     runs AS (
       SELECT request_id, CASE WHEN NOT loose THEN 0 ELSE sum(is_new) OVER (ORDER BY start_time, request_id ROWS UNBOUNDED PRECEDING) END AS run
       FROM (
         SELECT *, CASE WHEN start_time - lag(start_time) OVER (ORDER BY start_time, request_id) <= ${LOOSE_GAP_US} THEN 0 ELSE 1 END AS is_new
         FROM same
       )
     )
     SELECT r.request_id, r.capture_id, r.flow_id, r.if_index, i.name AS interface_name, i.kind AS interface_kind,
       coalesce(f.observation_point, r.observation_point) AS op, r.start_time, r.end_time, r.duration,
       r.response_status, r.response_code, r.client_ip, r.client_port, r.server_ip, r.server_port,
       coalesce(f.tunnel_type, '') AS tunnel_type, coalesce(f.tunnel_id, 0) AS tunnel_id,
       coalesce(f.tunnel_outer_src, '') AS tunnel_outer_src, coalesce(f.tunnel_outer_dst, '') AS tunnel_outer_dst,
       row_number() OVER (ORDER BY ${opRank('coalesce(f.observation_point, r.observation_point)')}, r.duration IS NULL, r.request_id) = 1 AS chosen
     FROM runs
     JOIN requests r USING (request_id)
     LEFT JOIN flows f ON f.flow_id = r.flow_id
     LEFT JOIN interfaces i ON i.capture_id = r.capture_id AND i.if_index = r.if_index
     WHERE runs.run = (SELECT run FROM runs WHERE request_id = ${id})
     ORDER BY r.start_time, r.request_id`,
    params,
  );
  const hops: RequestHop[] = found.map((r) => ({
    requestId: num(r.request_id),
    captureId: num(r.capture_id),
    flowId: num(r.flow_id),
    ifIndex: num(r.if_index),
    interfaceName: strOrNull(r.interface_name),
    interfaceKind: strOrNull(r.interface_kind),
    observationPoint: String(r.op),
    startTime: num(r.start_time),
    endTime: num(r.end_time),
    duration: numOrNull(r.duration),
    responseStatus: String(r.response_status),
    responseCode: numOrNull(r.response_code),
    clientIp: String(r.client_ip),
    clientPort: num(r.client_port),
    serverIp: String(r.server_ip),
    serverPort: num(r.server_port),
    tunnelType: String(r.tunnel_type),
    tunnelId: num(r.tunnel_id),
    tunnelOuterSrc: String(r.tunnel_outer_src),
    tunnelOuterDst: String(r.tunnel_outer_dst),
    chosen: r.chosen === true,
  }));
  return { requestId: req.requestId, hops };
}
