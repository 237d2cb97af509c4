// Schema versions. MIGRATIONS[i] takes a database from version i to version i + 1; version 0 is an
// empty database. Each step runs in its own transaction together with the version bump, so a
// failure leaves the database at the last complete version.
import type { DuckDBConnection } from '@duckdb/node-api';
import { SCHEMA_V1, SCHEMA_V2, SCHEMA_V3 } from './schema';

export type Migration = (conn: DuckDBConnection) => Promise<void>;

export const MIGRATIONS: readonly Migration[] = [
  async (conn) => {
    await conn.run(SCHEMA_V1);
  },
  async (conn) => {
    await conn.run(SCHEMA_V2);
  },
  async (conn) => {
    await conn.run(SCHEMA_V3);
  },
];

/** The version this build writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export const APP_NAME = 'flowscope';

async function tableNames(conn: DuckDBConnection): Promise<string[]> {
  const reader = await conn.runAndReadAll(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_catalog = current_database()`,
  );
  return reader.getRows().map((r) => String(r[0]));
}

async function readMeta(conn: DuckDBConnection, key: string): Promise<string | null> {
  const reader = await conn.runAndReadAll(`SELECT value FROM meta WHERE key = $1`, [key]);
  const rows = reader.getRows();
  return rows.length === 0 ? null : String(rows[0][0]);
}

/**
 * Bring the database to SCHEMA_VERSION. Returns the version found before migrating. Refuses a
 * database written by a newer Flowscope (its tables may mean something this build does not know)
 * and a non-empty database that is not a Flowscope store (we would mix our tables into it).
 */
export async function migrate(conn: DuckDBConnection, path: string): Promise<number> {
  const tables = await tableNames(conn);
  let version = 0;
  if (tables.includes('meta')) {
    const v = await readMeta(conn, 'schema_version');
    if (v === null || !/^\d+$/.test(v)) {
      throw new Error(`${path}: not a Flowscope database (meta table has no valid schema_version)`);
    }
    version = Number(v);
  } else if (tables.length > 0) {
    throw new Error(
      `${path}: not a Flowscope database (it has tables ${tables.slice(0, 5).join(', ')} but no meta table)`,
    );
  }
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `${path}: database schema version ${version} is newer than this Flowscope supports (${SCHEMA_VERSION}); ` +
        `open it with a newer Flowscope or use another --db`,
    );
  }
  const found = version;
  while (version < SCHEMA_VERSION) {
    const target = version + 1;
    await conn.run('BEGIN TRANSACTION');
    try {
      await MIGRATIONS[version](conn);
      await conn.run(
        `INSERT OR REPLACE INTO meta VALUES ('schema_version', $1), ('app', $2)`,
        [String(target), APP_NAME],
      );
      await conn.run('COMMIT');
    } catch (err) {
      await conn.run('ROLLBACK');
      throw new Error(`${path}: migrating the schema to version ${target} failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    version = target;
  }
  return found;
}
