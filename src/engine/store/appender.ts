// Bulk writers: records are staged column by column (chunk.ts) and handed to DuckDB one DataChunk of up
// to 2048 rows at a time (row-wise appends are ~10x slower, ARCHITECTURE.md "store"). The chunks come
// from this thread's add() or, staged by a worker thread that parses packets, through appendChunk().
//
// The chunk's vectors are filled through @duckdb/node-bindings (the C API node-api itself wraps; the
// exact version node-api pins) rather than node-api's DuckDBVector objects: those rebuild a vector
// object per column per chunk, keep validity in BigInt words (setItemValid was ~5 % of an import) and
// make one native call per string. Here every column is already in the vector's own layout, copied in
// with one call per column, validity the same way; a string too long to be inline costs one native
// call per distinct value in the chunk (vector_assign_string_element).
import duckdb from '@duckdb/node-bindings';
import {
  DuckDBDataChunk,
  DuckDBTypeId,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
} from '@duckdb/node-api';
import type { FlowRecord, RequestRecord } from '../../shared/records';
import { CHUNK_ROWS, ChunkBuilder, LAYOUT_BYTES, STRING_T, type Accessor, type ColumnSpec, type NumLayout, type StagedChunk } from './chunk';

/**
 * Rows after which a writer commits what it appended (a multiple of CHUNK_ROWS). Left to itself,
 * DuckDB's appender keeps up to 204,800 rows uncompressed in its own buffer and copies them once more
 * into transaction-local storage when it flushes: ~250 MB for a batch of requests, the largest part of
 * an import's peak RSS, and a file with more requests has more such batches (bench capture, 220k
 * requests: 440 MB peak; twice the packets: 560 MB). Committed rows are bounded by the checkpoint and
 * memory settings import.ts applies. 16,384 rows: 305–315 MB peak (355–375 MB for twice the packets);
 * 32,768 rows: 310–380 MB.
 */
export const COMMIT_ROWS = 8 * CHUNK_ROWS;

const NUM_LAYOUTS = new Map<DuckDBTypeId, NumLayout>([
  [DuckDBTypeId.TINYINT, 'i8'],
  [DuckDBTypeId.SMALLINT, 'i16'],
  [DuckDBTypeId.INTEGER, 'i32'],
  [DuckDBTypeId.UTINYINT, 'u8'],
  [DuckDBTypeId.USMALLINT, 'u16'],
  [DuckDBTypeId.UINTEGER, 'u32'],
  [DuckDBTypeId.BIGINT, 'i64'],
  [DuckDBTypeId.FLOAT, 'f32'],
  [DuckDBTypeId.DOUBLE, 'f64'],
]);


/** Column names of a table in table order. */
async function tableColumns(conn: DuckDBConnection, table: string): Promise<string[]> {
  const reader = await conn.runAndReadAll(
    `SELECT column_name FROM information_schema.columns
     WHERE table_schema = 'main' AND table_catalog = current_database() AND table_name = $1
     ORDER BY ordinal_position`,
    [table],
  );
  return reader.getRows().map((r) => String(r[0]));
}

/**
 * Appends records of type R to one table. The table's own column order decides the chunk layout,
 * so a column added by a later migration only needs an accessor, never a reordering.
 */
export class TableWriter<R> {
  private readonly chunk: DuckDBDataChunk;
  private readonly builder: ChunkBuilder<R>;
  private total = 0;
  /** Rows handed to DuckDB's appender since its last flush. */
  private uncommitted = 0;
  private closed = false;
  /** Set when a flush failed: the writer refuses more rows and close() reports it again. */
  private failed: Error | null = null;

  private constructor(
    readonly table: string,
    private readonly appender: DuckDBAppender,
    /** The table's columns as a ChunkBuilder (here or in a worker thread) must stage them. */
    readonly specs: readonly ColumnSpec[],
    chunkTypes: DuckDBType[],
    accessors: Readonly<Record<string, Accessor<R>>>,
    private readonly onClose: (() => void) | null,
  ) {
    this.chunk = DuckDBDataChunk.create(chunkTypes);
    this.builder = new ChunkBuilder(table, specs, accessors);
  }

  static async create<R>(
    conn: DuckDBConnection,
    table: string,
    accessors: Readonly<Record<string, Accessor<R>>>,
    onClose: (() => void) | null = null,
  ): Promise<TableWriter<R>> {
    const names = await tableColumns(conn, table);
    if (names.length === 0) throw new Error(`store: no table named ${table}`);
    const appender = await conn.createAppender(table);
    const specs: ColumnSpec[] = [];
    const chunkTypes: DuckDBType[] = [];
    for (let i = 0; i < names.length; i++) {
      const type = appender.columnType(i);
      const name = names[i];
      const layout = NUM_LAYOUTS.get(type.typeId);
      if (layout !== undefined) specs.push({ name, kind: 'num', layout });
      else if (type.typeId === DuckDBTypeId.VARCHAR) specs.push({ name, kind: 'str' });
      else if (type.typeId === DuckDBTypeId.BOOLEAN) specs.push({ name, kind: 'bool' });
      else {
        appender.closeSync();
        throw new Error(`store: ${table}.${name} has type ${type.toString()}, which TableWriter cannot fill`);
      }
      chunkTypes.push(type);
    }
    try {
      return new TableWriter(table, appender, specs, chunkTypes, accessors, onClose);
    } catch (e) {
      appender.closeSync();
      throw e;
    }
  }

  /** Rows handed to add() or appendChunk() so far (appended or staged). */
  get rowCount(): number {
    return this.total + this.builder.pending;
  }

  add(rec: R): void {
    this.checkOpen();
    if (this.builder.add(rec)) this.flush();
  }

  /** Send the rows staged by add() to DuckDB as one chunk. */
  flush(): void {
    let staged: StagedChunk | null;
    try {
      staged = this.builder.take();
    } catch (e) {
      this.failed = e as Error;
      throw e;
    }
    if (staged) {
      this.append(staged);
      this.builder.recycle(staged);
    }
  }

  /** Appends a chunk staged elsewhere (a worker thread's ChunkBuilder over this writer's specs). */
  appendChunk(staged: StagedChunk): void {
    this.checkOpen();
    this.flush(); // rows added here first keep their order
    this.append(staged);
  }

  private append(staged: StagedChunk): void {
    const n = staged.rows;
    const raw = this.chunk.chunk;
    duckdb.data_chunk_reset(raw);
    duckdb.data_chunk_set_size(raw, n);
    for (let c = 0; c < this.specs.length; c++) {
      const spec = this.specs[c];
      const col = staged.columns[c];
      const vec = duckdb.data_chunk_get_vector(raw, c);
      const bytes = spec.kind === 'num' ? LAYOUT_BYTES[spec.layout] : spec.kind === 'str' ? STRING_T : 1;
      duckdb.copy_data_to_vector(vec, 0, col.data, 0, n * bytes);
      if (col.longRows) {
        const rows = col.longRows;
        const longs = col.longs!;
        for (let k = 0; k < rows.length; k++) duckdb.vector_assign_string_element(vec, rows[k], longs[k]);
        if (col.dupRows) copyRepeats(vec, n, col.dupRows);
      }
      if (col.valid) {
        duckdb.vector_ensure_validity_writable(vec);
        duckdb.copy_data_to_vector_validity(vec, 0, col.valid, 0, col.valid.byteLength);
      }
    }
    this.appender.appendDataChunk(this.chunk);
    this.total += n;
    this.uncommitted += n;
    if (this.uncommitted >= COMMIT_ROWS) this.commitAppended(); // bounded batches, see COMMIT_ROWS
  }

  /**
   * Make everything added so far visible to queries (a live capture calls this now and then);
   * DuckDB otherwise keeps appended chunks in the appender until it fills or closes.
   */
  commit(): void {
    this.checkOpen();
    this.flush();
    this.commitAppended();
  }

  private commitAppended(): void {
    this.appender.flushSync();
    this.uncommitted = 0;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`store: ${this.table} writer is closed`);
    if (this.failed) throw this.failed;
  }

  /**
   * Flush the rest and commit. Returns the number of rows written. After a failed flush, the
   * chunks appended before it are still committed and the failure is thrown again.
   */
  close(): number {
    if (this.closed) return this.total;
    this.closed = true;
    try {
      if (!this.failed) this.flush();
    } finally {
      try {
        this.appender.closeSync();
      } finally {
        this.onClose?.();
      }
    }
    if (this.failed) throw this.failed;
    return this.total;
  }
}

/**
 * Repeats of a long string get a copy of the first one's string_t, whose pointer (set by
 * vector_assign_string_element) is into the vector's own string heap, valid until the chunk is reset.
 */
function copyRepeats(vec: duckdb.Vector, n: number, dupRows: Int32Array): void {
  const cur = duckdb.vector_get_data(vec, n * STRING_T);
  for (let k = 0; k < dupRows.length; k += 2) {
    const from = dupRows[k + 1] * STRING_T;
    cur.copyWithin(dupRows[k] * STRING_T, from, from + STRING_T);
  }
  duckdb.copy_data_to_vector(vec, 0, cur.buffer as ArrayBuffer, cur.byteOffset, n * STRING_T);
}

export type FlowWriter = TableWriter<FlowRecord>;
export type RequestWriter = TableWriter<RequestRecord>;
