// What every view module shares: a parameter list (user values travel as $n parameters, never as SQL
// text), running a statement on a connection, and turning DuckDB's values into plain numbers.
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { OBSERVATION_POINT_PREFERENCE } from '../../../shared/summary';

/** Collects bound values; `p(v)` returns the placeholder to write into the SQL text. */
export class Params {
  readonly values: DuckDBValue[] = [];

  p(value: string | number | boolean): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export type Row = Record<string, unknown>;

/** Runs one statement and returns its rows as objects (BIGINTs as bigint, lists as arrays). */
export async function rows(conn: DuckDBConnection, sql: string, params?: Params): Promise<Row[]> {
  const reader = await conn.runAndReadAll(sql, params && params.values.length > 0 ? params.values : undefined);
  return reader.getRowObjectsJS() as Row[];
}

export async function exec(conn: DuckDBConnection, sql: string, params?: Params): Promise<void> {
  await conn.run(sql, params && params.values.length > 0 ? params.values : undefined);
}

export function num(v: unknown): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'bigint' ? Number(v) : Number(v);
}

export function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

export function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** A fixed SQL string literal (for the project's own constants only; user text goes through Params). */
export function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** SQL rank of an observation_point expression by OBSERVATION_POINT_PREFERENCE (lower is preferred). */
export function opRank(expr: string): string {
  return `CASE ${expr} ${OBSERVATION_POINT_PREFERENCE.map((op, i) => `WHEN ${literal(op)} THEN ${i}`).join(' ')} ELSE ${
    OBSERVATION_POINT_PREFERENCE.length
  } END`;
}

/** snake_case column → the record's property name: x_request_id_0 → xRequestId0, l7_protocol → l7Protocol. */
export function camel(column: string): string {
  return column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
