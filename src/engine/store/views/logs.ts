// The request log and the flow log: filtered, sorted pages with the total count. One row per request
// (per connection) by default — the row RED counts — or every observation point's row with allHops.
import { ApiError } from '../../../shared/api';
import type { FlowRow, LogPage, LogRequest, NodeGrouping, RequestRow } from '../../../shared/views';
import { FLOW_ACCESSORS, REQUEST_ACCESSORS } from '../accessors';
import type { ViewContext } from './context';
import { allFlowRows, allRequestRows, rowsInScope } from './dedupe';
import { columnsNamed, FLOW_COLUMNS, filterSql, orderSql, REQUEST_COLUMNS, type ColumnSet } from './filter';
import { checkGrouping, nameJoins, nodeColumns } from './nodes';
import { checkScope } from './scope';
import { camel, num, Params, rows, type Row } from './sql';

export const MAX_LOG_LIMIT = 1000;
export const DEFAULT_LOG_LIMIT = 100;

const REQUEST_BASE = Object.keys(REQUEST_ACCESSORS);
const FLOW_BASE = Object.keys(FLOW_ACCESSORS);

function record<T>(r: Row, columns: string[]): T {
  const out: Record<string, unknown> = {};
  for (const c of columns) {
    const v = r[c];
    out[camel(c)] = typeof v === 'bigint' ? Number(v) : v;
  }
  return out as T;
}

interface LogKind {
  what: string;
  set: ColumnSet;
  /** FROM clause of the rows to list, fetching `columns` too, with nodes named by `grouping`; binds into `params`. */
  source: (params: Params, columns: string[], grouping: NodeGrouping) => string;
  grouping: NodeGrouping;
  base: 'requests' | 'flows';
  id: 'request_id' | 'flow_id';
  columns: string[];
}

/**
 * The page's ids come from the (narrow) row set, filtered and sorted (DuckDB's top-N, no copy of the
 * set); then the page's full rows are read from the base table by id, with the set's observation_point
 * and hops, and node names joined for those rows only — unless the filter or sort names a node, naming
 * a million rows to show a hundred cost most of the time.
 */
async function page<T>(ctx: ViewContext, req: LogRequest, kind: LogKind): Promise<LogPage<T>> {
  const { conn } = ctx;
  const { what, set, id } = kind;
  const offset = req.offset ?? 0;
  const limit = req.limit ?? DEFAULT_LOG_LIMIT;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ApiError('bad_request', `${what}: offset must be a whole number ≥ 0`);
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_LOG_LIMIT) throw new ApiError('bad_request', `${what}: limit is 0 to ${MAX_LOG_LIMIT}`);
  const named = columnsNamed(set, req.filter, what, req.sort);
  const byNode = named.includes('client_node') || named.includes('server_node');
  const params = new Params();
  const from = kind.source(params, named, byNode ? kind.grouping : 'ip');
  const where = filterSql(params, req.filter, set, what);
  const order = orderSql(set, req.sort, id, what);
  const [{ n }] = await rows(conn, `SELECT count(*) AS n FROM ${from} WHERE ${where}`, params);
  if (limit === 0 || offset >= num(n)) return { total: num(n), offset, rows: [] };
  const picked = await rows(conn, `SELECT ${id}, observation_point, hops FROM ${from} WHERE ${where} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`, params);
  const ids = new Params();
  const full = await rows(
    conn,
    `SELECT ${kind.columns.map((c) => `x.${c}`).join(', ')}, ${nodeColumns('x', kind.grouping)}
     FROM ${kind.base} x ${nameJoins('x', kind.grouping)} WHERE x.${id} IN (${picked.map((r) => ids.p(num(r[id]))).join(', ')})`,
    ids,
  );
  const byId = new Map(full.map((r) => [num(r[id]), r]));
  const out = picked.map((p) => record<T>({ ...byId.get(num(p[id])), ...p }, [...kind.columns, 'client_node', 'server_node', 'hops']));
  return { total: num(n), offset, rows: out };
}

export async function requestLog(ctx: ViewContext, req: LogRequest): Promise<LogPage<RequestRow>> {
  const what = 'requestLog';
  checkScope(req, what);
  const grouping = checkGrouping(req.grouping, what);
  const table = req.allHops ? '' : await ctx.requestTable(req.captureIds);
  return page<RequestRow>(ctx, req, {
    what,
    set: REQUEST_COLUMNS,
    source: (p, columns, g) => (req.allHops ? allRequestRows(req, g, p) : rowsInScope(table, 'request', req, g, p, columns)),
    grouping,
    base: 'requests',
    id: 'request_id',
    columns: REQUEST_BASE,
  });
}

export async function flowLog(ctx: ViewContext, req: LogRequest): Promise<LogPage<FlowRow>> {
  const what = 'flowLog';
  checkScope(req, what);
  const grouping = checkGrouping(req.grouping, what);
  const table = req.allHops ? '' : await ctx.flowTable(req.captureIds);
  return page<FlowRow>(ctx, req, {
    what,
    set: FLOW_COLUMNS,
    source: (p, columns, g) => (req.allHops ? allFlowRows(req, g, p) : rowsInScope(table, 'flow', req, g, p, columns)),
    grouping,
    base: 'flows',
    id: 'flow_id',
    columns: FLOW_BASE,
  });
}
