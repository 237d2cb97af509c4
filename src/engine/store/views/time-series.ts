// Requests over time: buckets of stepUs across the window (about TARGET_POINTS when no step is given,
// rounded to 1, 2 or 5 × a power of ten µs), each with requests (counted once, by the start time of
// the row that speaks for the request), errors, timeouts and duration quantiles (exact, as red.ts), and the
// bytes and packets of the flows active in it: a connection's totals (counted once) spread over its
// lifetime in proportion to time, in whole units that add up exactly to the connection's totals.
// The request filter applies to the flows too when it names only fields flows also have (addresses,
// ports, nodes, l7_protocol, capture, observation point); otherwise bytes and packets are of every flow
// in scope and `flowsFiltered` says so.
import { ApiError } from '../../../shared/api';
import type { NodeGrouping, TimeSeries, TimeSeriesPoint, TimeSeriesRequest } from '../../../shared/views';
import type { ViewContext } from './context';
import { rowsInScope } from './dedupe';
import { columnOf, columnsNamed, FLOW_COLUMNS, filterSql, REQUEST_COLUMNS } from './filter';
import { checkGrouping } from './nodes';
import { checkScope, resolveWindow } from './scope';
import { num, numOrNull, Params, rows } from './sql';

export const TARGET_POINTS = 120;
export const MAX_POINTS = 10_000;

/** The smallest 1/2/5 × 10^k µs step that covers `span` in at most `points` buckets. */
export function niceStep(span: number, points = TARGET_POINTS): number {
  const raw = Math.max(1, span / points);
  let p = 10 ** Math.floor(Math.log10(raw));
  for (;;) {
    for (const m of [1, 2, 5]) if (m * p >= raw) return m * p;
    p *= 10;
  }
}

export async function timeSeries(ctx: ViewContext, req: TimeSeriesRequest): Promise<TimeSeries> {
  const { conn } = ctx;
  const what = 'timeSeries';
  checkScope(req, what);
  const grouping = checkGrouping(req.grouping, what);
  const window = await resolveWindow(conn, req);
  const span = window.to - window.from;
  const step = req.stepUs ?? niceStep(span);
  if (!Number.isSafeInteger(step) || step <= 0) throw new ApiError('bad_request', `${what}: stepUs must be a whole number of µs > 0`);
  const n = Math.ceil(span / step);
  if (n > MAX_POINTS) throw new ApiError('bad_request', `${what}: ${n} buckets; at most ${MAX_POINTS} (raise stepUs)`);
  const scope = { ...req, window };

  const rp = new Params();
  const named = columnsNamed(REQUEST_COLUMNS, req.filter, what);
  // Node names cost two joins per row: only when the filter names a node.
  const byNode = (cols: readonly string[]): NodeGrouping => (cols.includes('client_node') || cols.includes('server_node') ? grouping : 'ip');
  const source = rowsInScope(await ctx.requestTable(req.captureIds), 'request', scope, byNode(named), rp, named);
  const where = filterSql(rp, req.filter, REQUEST_COLUMNS, what);
  const points: TimeSeriesPoint[] = [];
  for (let i = 0; i < n; i++) {
    points.push({ t: window.from + i * step, requests: 0, errors: 0, timeouts: 0, p50: null, p90: null, p99: null, bytes: 0, packets: 0 });
  }
  for (const r of await rows(
    conn,
    `SELECT (start_time - ${rp.p(window.from)}) // ${rp.p(step)} AS k, count(*) AS requests,
            count(*) FILTER (WHERE response_status IN ('client_error', 'server_error')) AS errors,
            count(*) FILTER (WHERE response_status = 'timeout') AS timeouts,
            quantile_disc(duration, [0.5, 0.9, 0.99]) FILTER (WHERE duration IS NOT NULL) AS q
     FROM ${source} WHERE ${where} GROUP BY ALL`,
    rp,
  )) {
    const pt = points[num(r.k)];
    const q = (r.q as unknown[] | null) ?? [null, null, null];
    Object.assign(pt, { requests: num(r.requests), errors: num(r.errors), timeouts: num(r.timeouts), p50: numOrNull(q[0]), p90: numOrNull(q[1]), p99: numOrNull(q[2]) });
  }

  // Flows follow the filter when every field is a flow field too.
  const flowsFiltered = (req.filter ?? []).every((c) => {
    const column = columnOf(REQUEST_COLUMNS, c.field, what);
    return FLOW_COLUMNS.columns.get(column) === REQUEST_COLUMNS.columns.get(column);
  });
  const fp = new Params();
  const fnamed = flowsFiltered ? columnsNamed(FLOW_COLUMNS, req.filter, what) : [];
  const fsource = rowsInScope(await ctx.flowTable(req.captureIds), 'flow', scope, byNode(fnamed), fp, fnamed);
  const fwhere = flowsFiltered ? filterSql(fp, req.filter, FLOW_COLUMNS, what) : 'TRUE';
  const from = fp.p(window.from);
  const to = fp.p(window.to);
  const st = fp.p(step);
  for (const r of await rows(
    conn,
    // Most flows fall inside one bucket and the window: summed as they are; the rest are cut per bucket.
    `WITH f AS (
       SELECT start_time AS s, end_time AS e, bytes_tx + bytes_rx AS b, packets_tx + packets_rx AS p,
              (greatest(start_time, ${from}) - ${from}) // ${st} AS k0, (least(end_time, ${to} - 1) - ${from}) // ${st} AS k1
       FROM ${fsource} WHERE ${fwhere}
     ),
     whole AS (SELECT k0 AS k, b, p FROM f WHERE k0 = k1 AND s >= ${from} AND e < ${to}),
     x AS (SELECT s, e, b, p, unnest(range(k0, k1 + 1)) AS k FROM f WHERE NOT (k0 = k1 AND s >= ${from} AND e < ${to})),
     y AS (SELECT k, s, e, b, p, greatest(s, ${from} + k * ${st}) AS lo, least(e, ${from} + (k + 1) * ${st}) AS hi FROM x),
     -- A bucket's share is round(total × fraction at its end) − round(total × fraction at its start):
     -- neighbours compute the same value for the boundary they share, so the shares add up to the
     -- total exactly (in doubles: 10× faster than exact HUGEINT products on 50k long connections).
     cut AS (
       SELECT k, CASE WHEN e = s THEN b ELSE (round(b * ((hi - s) / (e - s)::DOUBLE)) - round(b * ((lo - s) / (e - s)::DOUBLE)))::BIGINT END AS b,
                 CASE WHEN e = s THEN p ELSE (round(p * ((hi - s) / (e - s)::DOUBLE)) - round(p * ((lo - s) / (e - s)::DOUBLE)))::BIGINT END AS p
       FROM y
     )
     SELECT k, sum(b) AS bytes, sum(p) AS packets FROM (SELECT * FROM whole UNION ALL SELECT * FROM cut) GROUP BY k`,
    fp,
  )) {
    const k = num(r.k);
    if (k < 0 || k >= n) continue;
    points[k].bytes = num(r.bytes);
    points[k].packets = num(r.packets);
  }
  return { stepUs: step, window, points, flowsFiltered };
}
