// RED of a set of requests (SPEC.md "RED and the service map"), as SQL aggregates over a request set
// (dedupe.ts) and their conversion to RedStats; and the RED table (per service, endpoint or edge).
//
// - rate = requests / window seconds (the window asked for, else the data's extent);
// - errors = client_error + server_error, errorRatio over responses (ok + client_error + server_error);
// - timeoutRatio over requests;
// - durations of answered requests (a response was seen: duration not NULL): avg, max and exact
//   quantiles (quantile_disc: a duration some request really had; on 1M requests it was faster than
//   approx_quantile's t-digest in every grouping measured, 1.3–2.8×).
import { ApiError } from '../../../shared/api';
import type { RedRequest, RedRow, RedStats, RedTable, ViewScope } from '../../../shared/views';
import type { ViewContext } from './context';
import { rowsInScope } from './dedupe';
import { columnsNamed, filterSql, REQUEST_COLUMNS } from './filter';
import { checkGrouping } from './nodes';
import { checkScope, resolveWindow, type Window } from './scope';
import { num, numOrNull, Params, rows, type Row } from './sql';

/** Aggregates every RED figure needs; columns prefixed `red_`. */
export const RED_AGGREGATES = `
  count(*) AS red_requests,
  count(*) FILTER (WHERE response_status IN ('ok', 'client_error', 'server_error')) AS red_responses,
  count(*) FILTER (WHERE response_status = 'client_error') AS red_client_errors,
  count(*) FILTER (WHERE response_status = 'server_error') AS red_server_errors,
  count(*) FILTER (WHERE response_status = 'timeout') AS red_timeouts,
  avg(duration) FILTER (WHERE duration IS NOT NULL) AS red_avg,
  quantile_disc(duration, [0.5, 0.9, 0.99]) FILTER (WHERE duration IS NOT NULL) AS red_q,
  max(duration) FILTER (WHERE duration IS NOT NULL) AS red_max`;

export function redStats(r: Row, window: Window): RedStats {
  const requests = num(r.red_requests);
  const responses = num(r.red_responses);
  const clientErrors = num(r.red_client_errors);
  const serverErrors = num(r.red_server_errors);
  const timeouts = num(r.red_timeouts);
  const q = (r.red_q as unknown[] | null) ?? [null, null, null];
  return {
    requests,
    rate: requests / ((window.to - window.from) / 1e6),
    responses,
    clientErrors,
    serverErrors,
    timeouts,
    errorRatio: responses > 0 ? (clientErrors + serverErrors) / responses : 0,
    timeoutRatio: requests > 0 ? timeouts / requests : 0,
    durationAvg: numOrNull(r.red_avg),
    durationP50: numOrNull(q[0]),
    durationP90: numOrNull(q[1]),
    durationP99: numOrNull(q[2]),
    durationMax: numOrNull(r.red_max),
  };
}

export function emptyRed(): RedStats {
  return {
    requests: 0, rate: 0, responses: 0, clientErrors: 0, serverErrors: 0, timeouts: 0, errorRatio: 0, timeoutRatio: 0,
    durationAvg: null, durationP50: null, durationP90: null, durationP99: null, durationMax: null,
  };
}

/** RedRow properties a RED table sorts by → SQL over the aggregated rows. */
const RED_SORT: Record<string, string> = {
  requests: 'red_requests',
  rate: 'red_requests',
  responses: 'red_responses',
  clientErrors: 'red_client_errors',
  serverErrors: 'red_server_errors',
  errors: 'red_client_errors + red_server_errors',
  timeouts: 'red_timeouts',
  errorRatio: '(red_client_errors + red_server_errors) / nullif(red_responses, 0)',
  timeoutRatio: 'red_timeouts / red_requests',
  durationAvg: 'red_avg',
  durationP50: 'red_q[1]',
  durationP90: 'red_q[2]',
  durationP99: 'red_q[3]',
  durationMax: 'red_max',
  server: 'server',
  client: 'client',
  protocol: 'protocol',
  serverPort: 'server_port',
  endpoint: 'endpoint',
};

const KEY_SORT = new Set(['server', 'client', 'protocol', 'server_port', 'endpoint']);

export function redSortSql(field: string | undefined, desc: boolean | undefined, keys: string[], what: string): string {
  const tie = keys.join(', ');
  if (field === undefined) return `red_requests DESC, ${tie}`;
  const expr = Object.prototype.hasOwnProperty.call(RED_SORT, field) ? RED_SORT[field] : undefined;
  if (expr === undefined || (KEY_SORT.has(expr) && !keys.includes(expr))) {
    const allowed = Object.keys(RED_SORT).filter((k) => !KEY_SORT.has(RED_SORT[k]) || keys.includes(RED_SORT[k]));
    throw new ApiError('bad_request', `${what}: cannot sort by ${JSON.stringify(field)}; one of: ${allowed.join(', ')}`);
  }
  return `${expr} ${desc ? 'DESC' : 'ASC'} NULLS LAST, ${tie}`;
}

export const MAX_ROWS = 10_000;
export const MAX_SPARK = 1000;

/** The RED table: one row per server node (and protocol), endpoint or edge. */
export async function redTable(ctx: ViewContext, req: RedRequest): Promise<RedTable> {
  const { conn } = ctx;
  const what = 'red';
  checkScope(req, what);
  const grouping = checkGrouping(req.grouping, what);
  if (!['service', 'endpoint', 'edge'].includes(req.groupBy)) throw new ApiError('bad_request', `${what}: groupBy must be service, endpoint or edge`);
  const limit = req.limit ?? MAX_ROWS;
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_ROWS) throw new ApiError('bad_request', `${what}: limit is 0 to ${MAX_ROWS}`);
  const spark = req.sparkline ?? 0;
  if (!Number.isInteger(spark) || spark < 0 || spark > MAX_SPARK) throw new ApiError('bad_request', `${what}: sparkline is 0 to ${MAX_SPARK} points`);
  const window = await resolveWindow(conn, req);
  const table = await ctx.requestTable(req.captureIds);

  const params = new Params();
  const named = columnsNamed(REQUEST_COLUMNS, req.filter, what);
  const source = rowsInScope(table, 'request', req, grouping, params, named);
  const where = filterSql(params, req.filter, REQUEST_COLUMNS, what);
  const keys =
    req.groupBy === 'edge'
      ? ['client_node AS client', 'server_node AS server', 'l7_protocol AS protocol', 'server_port']
      : req.groupBy === 'endpoint'
        ? ['server_node AS server', 'l7_protocol AS protocol', "coalesce(endpoint, '') AS endpoint"]
        : ['server_node AS server', 'l7_protocol AS protocol'];
  const keyNames = keys.map((k) => k.split(' AS ').pop()!.trim());
  const order = redSortSql(req.sort?.field, req.sort?.desc, keyNames, what);
  // Sparklines in the same pass: a histogram of each row's requests over `spark` buckets of the window.
  const step = spark > 0 ? (window.to - window.from) / spark : 0;
  const sparkSql =
    spark > 0 ? `, histogram(least(${spark - 1}, floor((start_time - ${params.p(window.from)}) / ${params.p(step)}))::INTEGER) AS red_spark` : '';
  const found = await rows(
    conn,
    `SELECT * FROM (SELECT ${keys.join(', ')}, ${RED_AGGREGATES}${sparkSql} FROM ${source} WHERE ${where} GROUP BY ALL)
     ORDER BY ${order} LIMIT ${limit}`,
    params,
  );
  const out: RedRow[] = found.map((r) => {
    const row: RedRow = { server: String(r.server), protocol: String(r.protocol), ...redStats(r, window) };
    if (req.groupBy === 'edge') {
      row.client = String(r.client);
      row.serverPort = num(r.server_port);
    }
    if (req.groupBy === 'endpoint') row.endpoint = String(r.endpoint);
    if (spark > 0) {
      row.spark = new Array<number>(spark).fill(0);
      for (const [b, n] of histogramEntries(r.red_spark)) row.spark[b] += n;
    }
    return row;
  });
  return { window, rows: out };
}

/** The (bucket, count) pairs of a DuckDB histogram() value (a MAP reads as [{key, value}, …]). */
function histogramEntries(v: unknown): [number, number][] {
  return ((v ?? []) as { key: unknown; value: unknown }[]).map((e) => [num(e.key), num(e.value)]);
}

/** RED per L7 protocol (no grouping by node): what `flowscope analyze` prints as the protocol mix. */
export async function redByProtocol(ctx: ViewContext, scope: ViewScope): Promise<({ protocol: string } & RedStats)[]> {
  checkScope(scope, 'redByProtocol');
  const window = await resolveWindow(ctx.conn, scope);
  const params = new Params();
  const source = rowsInScope(await ctx.requestTable(scope.captureIds), 'request', scope, 'ip', params);
  const found = await rows(ctx.conn, `SELECT l7_protocol, ${RED_AGGREGATES} FROM ${source} GROUP BY ALL ORDER BY red_requests DESC, l7_protocol`, params);
  return found.map((r) => ({ protocol: String(r.l7_protocol), ...redStats(r, window) }));
}
