// A view's scope in SQL: which captures, which time window; and the window a view reports rates over
// when the scope leaves it open (the data's own extent).
import type { DuckDBConnection } from '@duckdb/node-api';
import { ApiError } from '../../../shared/api';
import type { ViewScope } from '../../../shared/views';
import { num, Params, rows } from './sql';

/** Checks a scope from an untrusted caller (the API validators did the shapes; this the values). */
export function checkScope(scope: ViewScope, what: string): void {
  for (const id of scope.captureIds ?? []) {
    if (!Number.isSafeInteger(id) || id < 0) throw new ApiError('bad_request', `${what}: bad capture id ${String(id)}`);
  }
  const w = scope.window;
  for (const t of [w?.from, w?.to]) {
    if (t !== undefined && !Number.isSafeInteger(t)) throw new ApiError('bad_request', `${what}: window ends must be whole µs`);
  }
  if (w?.from !== undefined && w.to !== undefined && w.to <= w.from) {
    throw new ApiError('bad_request', `${what}: window.to must be after window.from`);
  }
}

/** `capture_id IN (...)` for the scope (TRUE for all captures). */
export function captureCondition(params: Params, scope: { captureIds?: readonly number[] }, alias = ''): string {
  const ids = scope.captureIds;
  if (ids === undefined) return 'TRUE';
  if (ids.length === 0) return 'FALSE';
  return `${alias}capture_id IN (${ids.map((id) => params.p(id)).join(', ')})`;
}

/** Requests: those that started inside the window. */
export function requestWindowCondition(params: Params, scope: ViewScope, alias = ''): string {
  const parts: string[] = [];
  if (scope.window?.from !== undefined) parts.push(`${alias}start_time >= ${params.p(scope.window.from)}`);
  if (scope.window?.to !== undefined) parts.push(`${alias}start_time < ${params.p(scope.window.to)}`);
  return parts.length > 0 ? parts.join(' AND ') : 'TRUE';
}

/** Flows: those active at some moment of the window. */
export function flowWindowCondition(params: Params, scope: ViewScope, alias = ''): string {
  const parts: string[] = [];
  if (scope.window?.from !== undefined) parts.push(`${alias}end_time >= ${params.p(scope.window.from)}`);
  if (scope.window?.to !== undefined) parts.push(`${alias}start_time < ${params.p(scope.window.to)}`);
  return parts.length > 0 ? parts.join(' AND ') : 'TRUE';
}

export interface Window {
  from: number;
  to: number;
}

/**
 * The window rates are computed over: the one asked for; an open end is the data's own extent (first
 * packet, last packet + 1 µs of the captures in scope, from the captures table, else from the flows and
 * requests). Never empty: at least 1 µs.
 */
export async function resolveWindow(conn: DuckDBConnection, scope: ViewScope): Promise<Window> {
  const asked = scope.window ?? {};
  if (asked.from !== undefined && asked.to !== undefined) return { from: asked.from, to: asked.to };
  const params = new Params();
  const cap = captureCondition(params, scope);
  const [r] = await rows(
    conn,
    `SELECT coalesce((SELECT min(started_at) FROM captures WHERE ${cap}),
                     (SELECT min(start_time) FROM flows WHERE ${cap}),
                     (SELECT min(start_time) FROM requests WHERE ${cap})) AS first,
            coalesce((SELECT max(ended_at) FROM captures WHERE ${cap}),
                     (SELECT max(end_time) FROM flows WHERE ${cap}),
                     (SELECT max(end_time) FROM requests WHERE ${cap})) AS last`,
    params,
  );
  const now = Date.now() * 1000;
  const first = r.first === null ? (asked.to ?? now) - 1 : num(r.first);
  const last = r.last === null ? first : num(r.last);
  const from = asked.from ?? Math.min(first, (asked.to ?? last + 1) - 1);
  const to = asked.to ?? Math.max(last + 1, from + 1);
  return { from, to };
}
