// The workspace database: one DuckDB file (or :memory:) holding the contract tables of schema.ts.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { CaptureRecord, InterfaceRecord } from '../../shared/records';
import { FLOW_ACCESSORS, REQUEST_ACCESSORS } from './accessors';
import { TableWriter, type FlowWriter, type RequestWriter } from './appender';
import type { Accessor } from './chunk';
import { SCHEMA_VERSION, migrate } from './migrations';
import { runQuery, type QueryResult } from './query';

/** Largest id of `column` over `tables` plus one (1 for an empty database). */
async function nextId(conn: DuckDBConnection, column: string, tables: string[], metaKey: string): Promise<number> {
  const parts = tables.map((t) => `SELECT max(${column})::BIGINT AS m FROM ${t}`);
  parts.push(`SELECT max(TRY_CAST(value AS BIGINT)) - 1 AS m FROM meta WHERE key = '${metaKey}'`);
  const reader = await conn.runAndReadAll(`SELECT coalesce(max(m), 0) FROM (${parts.join(' UNION ALL ')})`);
  return Number(reader.getRows()[0][0]) + 1;
}

// Two DuckDB instances in one process must not attach the same file (node-api README; the OS file
// lock only keeps other processes out), so a second open of the same file is refused.
const openFiles = new Set<string>();

export class Store {
  private writers = 0;
  private closed = false;
  private readonly connections = new Set<DuckDBConnection>();

  private constructor(
    /** The path given to open(), ':memory:' for an in-memory store. */
    readonly path: string,
    private readonly file: string | null,
    private readonly instance: DuckDBInstance,
    /** The store's own connection; it carries the writers' appenders. Work that may overlap with
     *  other work (queries from the UI) belongs on connect(). */
    readonly conn: DuckDBConnection,
    /** Schema version the file had before open() migrated it (0 = new database). */
    readonly openedAtVersion: number,
    private nextCapture: number,
    private nextFlow: number,
    private nextRequest: number,
  ) {}

  /** Open or create a store; creates missing parent directories; migrates to SCHEMA_VERSION. */
  static async open(path: string = ':memory:'): Promise<Store> {
    const file = path === ':memory:' || path === '' ? null : resolve(path);
    if (file !== null) {
      if (openFiles.has(file)) throw new Error(`${path}: database is already open in this process`);
      openFiles.add(file); // before the first await, so two concurrent opens cannot both pass
    }
    let instance: DuckDBInstance;
    try {
      if (file !== null) mkdirSync(dirname(file), { recursive: true });
      instance = await DuckDBInstance.create(path);
    } catch (err) {
      if (file !== null) openFiles.delete(file);
      throw new Error(`${path}: cannot open database: ${(err as Error).message}`, { cause: err });
    }
    let conn: DuckDBConnection | null = null;
    try {
      conn = await instance.connect();
      const found = await migrate(conn, path);
      const nextCapture = await nextId(conn, 'capture_id', ['captures', 'interfaces', 'flows', 'requests'], 'next_capture_id');
      const nextFlow = await nextId(conn, 'flow_id', ['flows', 'requests'], 'next_flow_id');
      const nextRequest = await nextId(conn, 'request_id', ['requests'], 'next_request_id');
      return new Store(path, file, instance, conn, found, nextCapture, nextFlow, nextRequest);
    } catch (err) {
      conn?.closeSync();
      instance.closeSync();
      if (file !== null) openFiles.delete(file);
      throw err;
    }
  }

  get schemaVersion(): number {
    return SCHEMA_VERSION;
  }

  /** A capture id not used in this database yet (ids are never handed out twice per open store). */
  nextCaptureId(): number {
    return this.nextCapture++;
  }

  /** Reserve n consecutive flow ids; returns the first. */
  allocateFlowIds(n: number): number {
    if (!Number.isInteger(n) || n < 0) throw new Error(`allocateFlowIds: bad count ${n}`);
    const first = this.nextFlow;
    this.nextFlow += n;
    return first;
  }

  /** Reserve n consecutive request ids; returns the first. */
  allocateRequestIds(n: number): number {
    if (!Number.isInteger(n) || n < 0) throw new Error(`allocateRequestIds: bad count ${n}`);
    const first = this.nextRequest;
    this.nextRequest += n;
    return first;
  }

  /** Insert or replace the capture's row (call again at the end with the final counts). */
  async writeCapture(rec: CaptureRecord): Promise<void> {
    this.checkOpen();
    await this.conn.run(`INSERT OR REPLACE INTO captures VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, [
      rec.captureId,
      rec.source,
      rec.kind,
      rec.startedAt,
      rec.endedAt,
      rec.packets,
      rec.bytes,
      rec.fileBytes,
      rec.malformedPackets,
      rec.nonIpPackets,
      rec.error,
      Date.now() * 1000,
    ]);
  }

  /** Insert or replace interface rows (keyed by capture_id, if_index). */
  async writeInterfaces(recs: readonly InterfaceRecord[]): Promise<void> {
    this.checkOpen();
    // One statement per 500 rows: a prepared statement run per row costs ~5 ms each here, which a
    // capture with hundreds of interfaces (one per pod veth) turns into seconds.
    const ROWS = 500;
    for (let i = 0; i < recs.length; i += ROWS) {
      const part = recs.slice(i, i + ROWS);
      const values = part.map((_, k) => `(${Array.from({ length: 7 }, (_, c) => `$${k * 7 + c + 1}`).join(', ')})`);
      const params = part.flatMap((r) => [r.captureId, r.ifIndex, r.name, r.description, r.linkType, r.kind, r.packets]);
      await this.conn.run(`INSERT OR REPLACE INTO interfaces VALUES ${values.join(', ')}`, params);
    }
  }

  /** A columnar bulk writer for requests; close() it to commit the rest. */
  requestWriter(): Promise<RequestWriter> {
    return this.writer('requests', REQUEST_ACCESSORS);
  }

  /** A columnar bulk writer for flows; close() it to commit the rest. */
  flowWriter(): Promise<FlowWriter> {
    return this.writer('flows', FLOW_ACCESSORS);
  }

  /** A writer on the store's own connection, counted among the open writers until it closes. */
  private async writer<R>(table: string, accessors: Readonly<Record<string, Accessor<R>>>): Promise<TableWriter<R>> {
    this.checkOpen();
    this.writers++;
    try {
      return await TableWriter.create<R>(this.conn, table, accessors, () => this.writers--);
    } catch (err) {
      this.writers--;
      throw err;
    }
  }

  /**
   * Another connection to the same database, for work that may run while another is in flight
   * (e.g. the app's read-only queries while an import appends): a DuckDB connection must not run
   * two statements at once, and the store's `conn` carries the writers' appenders. It sees
   * committed data only. Close it with closeSync() (twice is harmless); close() closes any left open.
   */
  async connect(): Promise<DuckDBConnection> {
    this.checkOpen();
    const conn = await this.instance.connect();
    this.connections.add(conn);
    const closeSync = conn.closeSync.bind(conn);
    conn.closeSync = () => {
      if (!this.connections.delete(conn)) return;
      closeSync();
    };
    return conn;
  }

  /** Run SQL (e.g. from `flowscope query`) on its own connection; every row as JS values. */
  async query(sql: string): Promise<QueryResult> {
    const conn = await this.connect();
    try {
      return await runQuery(conn, sql);
    } finally {
      conn.closeSync();
    }
  }

  /** Persist the id counters, checkpoint and release the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.writers > 0) throw new Error(`${this.path}: close the ${this.writers} open writer(s) before the store`);
    try {
      // Ids handed out but not (yet) written must not be handed out again after reopening.
      await this.conn.run(
        `INSERT OR REPLACE INTO meta VALUES ('next_capture_id', $1), ('next_flow_id', $2), ('next_request_id', $3)`,
        [String(this.nextCapture), String(this.nextFlow), String(this.nextRequest)],
      );
      if (this.path !== ':memory:' && this.path !== '') await this.conn.run('CHECKPOINT');
    } finally {
      this.closed = true;
      for (const c of [...this.connections]) c.closeSync();
      this.conn.closeSync();
      this.instance.closeSync();
      if (this.file !== null) openFiles.delete(this.file);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`${this.path}: store is closed`);
  }
}
