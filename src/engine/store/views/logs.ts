// The request log and the flow log: filtered, sorted pages with the total count. One row per request
// (per connection) by default — the row RED counts — or every observation point's row with allHops.
import type { DuckDBConnection } from '@duckdb/node-api';
import { ApiError } from '../../../shared/api';
import type { FlowRow, LogPage, LogRequest, RequestRow } from '../../../shared/views';
import { FLOW_ACCESSORS } from '../appender';
import { REQUEST_ACCESSORS } from '../request-accessors';
import { createFlowSet, createRequestSet } from './dedupe';
import { FLOW_COLUMNS, filterSql, orderSql, REQUEST_COLUMNS, type ColumnSet } from './filter';
import { checkGrouping } from './nodes';
import { checkScope } from './scope';
import { camel, num, Params, rows, type Row } from './sql';

export const MAX_LOG_LIMIT = 1000;
export const DEFAULT_LOG_LIMIT = 100;

const REQUEST_OUT = [...Object.keys(REQUEST_ACCESSORS), 'client_node', 'server_node', 'hops'];
const FLOW_OUT = [...Object.keys(FLOW_ACCESSORS), 'client_node', 'server_node', 'hops'];

function record<T>(r: Row, columns: string[]): T {
  const out: Record<string, unknown> = {};
  for (const c of columns) {
    const v = r[c];
    out[camel(c)] = typeof v === 'bigint' ? Number(v) : v;
  }
  return out as T;
}

async function page<T>(
  conn: DuckDBConnection,
  req: LogRequest,
  what: string,
  set: ColumnSet,
  table: string,
  idColumn: string,
  columns: string[],
): Promise<LogPage<T>> {
  const offset = req.offset ?? 0;
  const limit = req.limit ?? DEFAULT_LOG_LIMIT;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ApiError('bad_request', `${what}: offset must be a whole number ≥ 0`);
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_LOG_LIMIT) throw new ApiError('bad_request', `${what}: limit is 0 to ${MAX_LOG_LIMIT}`);
  const params = new Params();
  const where = filterSql(params, req.filter, set, what);
  const order = orderSql(set, req.sort, idColumn, what);
  const [{ n }] = await rows(conn, `SELECT count(*) AS n FROM ${table} WHERE ${where}`, params);
  const found = await rows(
    conn,
    `SELECT ${columns.join(', ')} FROM ${table} WHERE ${where} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`,
    params,
  );
  return { total: num(n), offset, rows: found.map((r) => record<T>(r, columns)) };
}

export async function requestLog(conn: DuckDBConnection, req: LogRequest): Promise<LogPage<RequestRow>> {
  const what = 'requestLog';
  checkScope(req, what);
  const grouping = checkGrouping(req.grouping, what);
  await createRequestSet(conn, 'v_rlog', req, { grouping, allHops: req.allHops === true });
  return page<RequestRow>(conn, req, what, REQUEST_COLUMNS, 'v_rlog', 'request_id', REQUEST_OUT);
}

export async function flowLog(conn: DuckDBConnection, req: LogRequest): Promise<LogPage<FlowRow>> {
  const what = 'flowLog';
  checkScope(req, what);
  const grouping = checkGrouping(req.grouping, what);
  await createFlowSet(conn, 'v_flog', req, { grouping, allHops: req.allHops === true });
  return page<FlowRow>(conn, req, what, FLOW_COLUMNS, 'v_flog', 'flow_id', FLOW_OUT);
}
