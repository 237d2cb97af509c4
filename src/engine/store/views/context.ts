// What a view query runs with: a connection and the one-per-request / one-per-connection tables of a
// capture set (built on first use, cached by index.ts).
import type { DuckDBConnection } from '@duckdb/node-api';

export interface ViewContext {
  conn: DuckDBConnection;
  /** Temp table: one row per request of these captures (all when undefined), all time. */
  requestTable(captureIds: readonly number[] | undefined): Promise<string>;
  /** Temp table: one row per connection of these captures, all time. */
  flowTable(captureIds: readonly number[] | undefined): Promise<string>;
}
