// The API's `query`: one read-only SQL statement against the workspace store, at most `maxRows` rows,
// with values that survive every transport (JSON included).
//
// The rule, and why it is this one:
// - Exactly one statement, and DuckDB's own parser must classify it as SELECT or EXPLAIN. Classifying
//   with the real parser (not the first word) means comments, parentheses or `WITH … INSERT` cannot
//   slip a write past. DuckDB already rewrites the read forms into SELECT: DESCRIBE, SHOW, SUMMARIZE,
//   FROM-first queries, VALUES and the reading PRAGMAs (table_info, show_tables, database_size,
//   version, …). PRAGMAs that change settings come out as PRAGMA or SET and are refused, like INSERT,
//   UPDATE, DELETE, CREATE, COPY, ATTACH, CALL, LOAD, SET, CHECKPOINT and transaction statements.
// - EXPLAIN ANALYZE runs its statement, so whatever follows EXPLAIN [ANALYZE] must pass the same rule.
// - Belt and braces: the statement runs in a READ ONLY transaction on a connection of its own (so a
//   write that got past the rule fails in DuckDB, and an import appending on the store's connection
//   is never disturbed), and the service turns DuckDB's file-system access off (see service.ts).

import { StatementType, type DuckDBConnection, type DuckDBPreparedStatement } from '@duckdb/node-api';
import { ApiError, type QueryResult } from '../shared/api';
import { queryValueConverter, type QueryValue } from './store/query';

export const DEFAULT_MAX_QUERY_ROWS = 10_000;

const READ_TYPES = new Set<number>([StatementType.SELECT, StatementType.EXPLAIN]);

/** Skips whitespace and SQL comments from `i`; returns the index of the next token. */
function skipBlank(sql: string, i: number): number {
  while (i < sql.length) {
    if (/\s/.test(sql[i])) i++;
    else if (sql.startsWith('--', i)) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (sql.startsWith('/*', i)) {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else break;
  }
  return i;
}

/** The statement an EXPLAIN [ANALYZE] wraps, or null if `sql` does not start that way. */
export function explainedStatement(sql: string): string | null {
  let i = skipBlank(sql, 0);
  const word = (w: string) => sql.slice(i, i + w.length).toLowerCase() === w && !/[\w$]/.test(sql[i + w.length] ?? '');
  if (!word('explain')) return null;
  i = skipBlank(sql, i + 'explain'.length);
  if (word('analyze')) i = skipBlank(sql, i + 'analyze'.length);
  return sql.slice(i);
}

function statementName(type: number): string {
  const name = (StatementType as unknown as Record<number, string>)[type];
  return name ? name.replace(/_STATEMENT$/, '') : `statement type ${type}`;
}

function refuse(what: string): never {
  throw new ApiError(
    'bad_request',
    `query: ${what}; only one read-only statement is allowed (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN, reading PRAGMAs)`,
  );
}

/** Parses `sql` on `conn` and checks the rule above; returns the prepared statement to run. */
async function prepareReadOnly(conn: DuckDBConnection, sql: string, depth = 0): Promise<DuckDBPreparedStatement> {
  // DuckDB fails without a reason on text that holds no statement (blank, comments, semicolons).
  if (skipBlank(sql.replace(/;/g, ' '), 0) >= sql.length) refuse('no statement given');
  let extracted;
  try {
    extracted = await conn.extractStatements(sql);
  } catch (err) {
    throw new ApiError('bad_request', `query: ${(err as Error).message}`);
  }
  if (extracted.count === 0) refuse('no statement given');
  if (extracted.count > 1) refuse(`${extracted.count} statements given`);
  let prepared: DuckDBPreparedStatement;
  try {
    prepared = await extracted.prepare(0);
  } catch (err) {
    throw new ApiError('bad_request', `query: ${(err as Error).message}`);
  }
  const type = prepared.statementType;
  if (!READ_TYPES.has(type)) {
    prepared.destroySync();
    refuse(`${statementName(type)} is not a read`);
  }
  if (type === StatementType.EXPLAIN) {
    const inner = depth === 0 ? explainedStatement(sql) : null;
    if (inner === null) {
      prepared.destroySync();
      refuse('EXPLAIN is allowed only as EXPLAIN [ANALYZE] <read statement>');
    }
    (await prepareReadOnly(conn, inner, depth + 1)).destroySync();
  }
  return prepared;
}

/** A cell as every transport can carry it: see QueryResult in shared/api.ts. */
export function wireValue(value: QueryValue): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (Array.isArray(value)) return value.map(wireValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = wireValue(v);
    return out;
  }
  return value;
}

/** Runs read-only queries one at a time on its own connection. */
export class ReadOnlyQueries {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly conn: DuckDBConnection,
    readonly maxRows = DEFAULT_MAX_QUERY_ROWS,
  ) {}

  run(sql: string): Promise<QueryResult> {
    // One statement at a time: the transaction below belongs to the connection.
    const result = this.tail.then(() => this.runNow(sql));
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async runNow(sql: string): Promise<QueryResult> {
    await this.conn.run('BEGIN TRANSACTION READ ONLY');
    try {
      const prepared = await prepareReadOnly(this.conn, sql);
      try {
        // Streams and stops after maxRows + 1 rows, so a huge result is never materialised.
        const reader = await prepared.streamAndReadUntil(this.maxRows + 1);
        const rows = reader.convertRows(queryValueConverter);
        const truncated = rows.length > this.maxRows;
        return {
          columns: reader.deduplicatedColumnNames().map((name, i) => ({ name, type: reader.columnTypes()[i].toString() })),
          rows: rows.slice(0, this.maxRows).map((row) => row.map(wireValue)),
          truncated,
        };
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw new ApiError('bad_request', `query: ${(err as Error).message}`);
      } finally {
        prepared.destroySync();
      }
    } finally {
      await this.conn.run('ROLLBACK');
    }
  }

  close(): void {
    this.conn.closeSync();
  }
}
