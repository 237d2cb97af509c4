// Bulk writers: records are buffered column by column and handed to DuckDB one DataChunk of up to
// 2048 rows at a time (row-wise appends are ~10x slower, ARCHITECTURE.md "store").
//
// The chunk's vectors are filled through @duckdb/node-bindings (the C API node-api itself wraps; the
// exact version node-api pins) rather than node-api's DuckDBVector objects: those rebuild a vector
// object per column per chunk, keep validity in BigInt words (setItemValid was ~5 % of an import) and
// make one native call per string. Here every column is a typed array in the vector's own layout,
// copied in with one call per column, and validity is a Uint32Array bitmask copied the same way.
//
// - BIGINT is written as two int32 halves computed from the JS number (exact below 2^53, every number
//   we hold) — no BigInt per cell and no DOUBLE → BIGINT cast inside DuckDB.
// - VARCHAR: DuckDB's string_t is 16 bytes, {u32 length, 12 inline bytes} when length <= 12. ASCII
//   strings that short (IPs, 'http', 'GET', 'ok', observation points ...) are written inline into the
//   column's buffer as the row is added; only longer or non-ASCII strings cost a native call
//   (vector_assign_string_element), once per distinct value in the chunk (fillStrings).
// - add() is compiled per table (compileAddRow) so that every accessor is inlined.
// - A number a column cannot hold (a fraction in an integer column, out of range) is refused at flush,
//   not rounded: the chunk is dropped and the writer fails loudly, naming the column.
import duckdb from '@duckdb/node-bindings';
import {
  DuckDBDataChunk,
  DuckDBTypeId,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
} from '@duckdb/node-api';
import type { FlowRecord } from '../../shared/records';

/** One cell as a record accessor returns it; null is SQL NULL. */
export type CellValue = number | string | boolean | null;
export type Accessor<R> = (rec: R) => CellValue;

/** DuckDB's vector size: the most rows one DataChunk holds. */
export const CHUNK_ROWS = 2048;

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

const enum Kind {
  /** Numbers, staged as float64 (NaN marks NULL) and converted to the column's type at flush. */
  Num,
  Str,
  /** 1 true, 0 false, -1 NULL. */
  Bool,
}

/** How a numeric column's values are laid out in its vector, and the integers it can hold. */
interface NumLayout {
  array: (n: number) => Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;
  /** Integer range; null for floating point. */
  min: number | null;
  max: number | null;
}

const NUM_LAYOUTS = new Map<DuckDBTypeId, NumLayout>([
  [DuckDBTypeId.TINYINT, { array: (n) => new Int8Array(n), min: -128, max: 127 }],
  [DuckDBTypeId.SMALLINT, { array: (n) => new Int16Array(n), min: -32768, max: 32767 }],
  [DuckDBTypeId.INTEGER, { array: (n) => new Int32Array(n), min: -2147483648, max: 2147483647 }],
  [DuckDBTypeId.UTINYINT, { array: (n) => new Uint8Array(n), min: 0, max: 255 }],
  [DuckDBTypeId.USMALLINT, { array: (n) => new Uint16Array(n), min: 0, max: 65535 }],
  [DuckDBTypeId.UINTEGER, { array: (n) => new Uint32Array(n), min: 0, max: 4294967295 }],
  // Two int32 per cell (low word first, little-endian like every platform DuckDB's npm package ships for).
  [DuckDBTypeId.BIGINT, { array: (n) => new Int32Array(2 * n), min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }],
  [DuckDBTypeId.FLOAT, { array: (n) => new Float32Array(n), min: null, max: null }],
  [DuckDBTypeId.DOUBLE, { array: (n) => new Float64Array(n), min: null, max: null }],
]);

const TWO_32 = 4294967296;
/** Bytes of one DuckDB string_t, and the longest string stored inside it. */
const STRING_T = 16;
const INLINE_MAX = 12;

interface Column<R> {
  name: string;
  typeId: DuckDBTypeId;
  kind: Kind;
  get: Accessor<R>;
  /** Num: staged values, NaN = NULL. */
  num: Float64Array | null;
  /** Num: the vector's layout, filled at flush. */
  out: ReturnType<NumLayout['array']> | null;
  min: number | null;
  max: number | null;
  /**
   * Str: the chunk's string_t array, filled as rows are added (the record's strings are still in the
   * CPU cache then; read again at flush they cost a cache miss each): short ASCII strings inline, NULLs
   * zero. Longer strings wait in `str` for their native call at flush, once per distinct value: the
   * rows of `longRows` hold the first of each (`firstRow`), `dupRows` pairs (row, first row) repeats.
   */
  str: (string | null)[] | null;
  strBytes: Uint8Array | null;
  strWords: Uint32Array | null;
  longRows: Int32Array | null;
  longs: number;
  dupRows: Int32Array | null;
  dups: number;
  firstRow: Map<string, number> | null;
  /** Str: NULLs in the chunk so far (their validity bits are cleared as they are added). */
  nulls: number;
  /** Bool: 1, 0, -1 = NULL; also the vector's layout (a byte per row) once NULLs are zeroed. */
  bool: Int8Array | null;
  /** Validity bitmask of the chunk (bit set = valid), in the vector's uint64-word layout. */
  valid: Uint32Array;
}

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
  private readonly columns: Column<R>[];
  private readonly chunk: DuckDBDataChunk;
  /** Stores one record's cells in row r of the column buffers (compileAddRow). */
  private readonly addRow: (rec: R, r: number) => void;
  private rows = 0;
  private total = 0;
  /** Rows handed to DuckDB's appender since its last flush. */
  private uncommitted = 0;
  private closed = false;
  /** Set when a flush failed: the writer refuses more rows and close() reports it again. */
  private failed: Error | null = null;

  private constructor(
    readonly table: string,
    private readonly appender: DuckDBAppender,
    columns: Column<R>[],
    chunkTypes: DuckDBType[],
    private readonly onClose: (() => void) | null,
  ) {
    this.columns = columns;
    this.chunk = DuckDBDataChunk.create(chunkTypes);
    this.addRow = compileAddRow(columns);
  }

  static async create<R>(
    conn: DuckDBConnection,
    table: string,
    accessors: Readonly<Record<string, Accessor<R>>>,
    onClose: (() => void) | null = null,
  ): Promise<TableWriter<R>> {
    const names = await tableColumns(conn, table);
    if (names.length === 0) throw new Error(`store: no table named ${table}`);
    const missing = names.filter((n) => !(n in accessors));
    const unknown = Object.keys(accessors).filter((n) => !names.includes(n));
    if (missing.length > 0 || unknown.length > 0) {
      throw new Error(
        `store: writer for ${table} does not match the table` +
          (missing.length ? `; no value for ${missing.join(', ')}` : '') +
          (unknown.length ? `; no column ${unknown.join(', ')}` : ''),
      );
    }
    const appender = await conn.createAppender(table);
    const columns: Column<R>[] = [];
    const chunkTypes: DuckDBType[] = [];
    for (let i = 0; i < names.length; i++) {
      const type = appender.columnType(i);
      const layout = NUM_LAYOUTS.get(type.typeId);
      let kind: Kind;
      if (layout !== undefined) kind = Kind.Num;
      else if (type.typeId === DuckDBTypeId.VARCHAR) kind = Kind.Str;
      else if (type.typeId === DuckDBTypeId.BOOLEAN) kind = Kind.Bool;
      else {
        appender.closeSync();
        throw new Error(`store: ${table}.${names[i]} has type ${type.toString()}, which TableWriter cannot fill`);
      }
      chunkTypes.push(type);
      const strBytes = kind === Kind.Str ? new Uint8Array(CHUNK_ROWS * STRING_T) : null;
      columns.push({
        name: names[i],
        typeId: type.typeId,
        kind,
        get: accessors[names[i]],
        num: kind === Kind.Num ? new Float64Array(CHUNK_ROWS) : null,
        out: layout?.array(CHUNK_ROWS) ?? null,
        min: layout?.min ?? null,
        max: layout?.max ?? null,
        str: kind === Kind.Str ? new Array<string | null>(CHUNK_ROWS).fill(null) : null,
        strBytes,
        strWords: strBytes ? new Uint32Array(strBytes.buffer) : null,
        longRows: kind === Kind.Str ? new Int32Array(CHUNK_ROWS) : null,
        longs: 0,
        dupRows: kind === Kind.Str ? new Int32Array(2 * CHUNK_ROWS) : null,
        dups: 0,
        firstRow: kind === Kind.Str ? new Map<string, number>() : null,
        nulls: 0,
        bool: kind === Kind.Bool ? new Int8Array(CHUNK_ROWS) : null,
        valid: new Uint32Array(CHUNK_ROWS / 32).fill(0xffffffff),
      });
    }
    return new TableWriter(table, appender, columns, chunkTypes, onClose);
  }

  /** Rows handed to add() so far (flushed or buffered). */
  get rowCount(): number {
    return this.total + this.rows;
  }

  add(rec: R): void {
    if (this.closed) throw new Error(`store: ${this.table} writer is closed`);
    if (this.failed) throw this.failed;
    const r = this.rows;
    this.addRow(rec, r);
    this.rows = r + 1;
    if (this.rows === CHUNK_ROWS) this.flush();
  }

  /** Send the buffered rows to DuckDB as one chunk. */
  flush(): void {
    const n = this.rows;
    if (n === 0) return;
    const raw = this.chunk.chunk;
    duckdb.data_chunk_reset(raw);
    duckdb.data_chunk_set_size(raw, n);
    for (let c = 0; c < this.columns.length; c++) {
      const col = this.columns[c];
      const vec = duckdb.data_chunk_get_vector(raw, c);
      const valid = col.valid;
      if (col.kind !== Kind.Str) valid.fill(0xffffffff); // strings set theirs as they were added
      let nulls = 0;
      switch (col.kind) {
        case Kind.Num:
          nulls = this.fillNumbers(col, n);
          duckdb.copy_data_to_vector(vec, 0, col.out!.buffer as ArrayBuffer, 0, n * (col.out!.byteLength / CHUNK_ROWS));
          break;
        case Kind.Str:
          nulls = col.nulls;
          fillStrings(col, n, vec);
          break;
        case Kind.Bool: {
          const a = col.bool!;
          for (let i = 0; i < n; i++) {
            if (a[i] < 0) {
              a[i] = 0;
              valid[i >>> 5] &= ~(1 << (i & 31));
              nulls++;
            }
          }
          duckdb.copy_data_to_vector(vec, 0, a.buffer as ArrayBuffer, 0, n);
          break;
        }
      }
      if (nulls > 0) {
        duckdb.vector_ensure_validity_writable(vec);
        duckdb.copy_data_to_vector_validity(vec, 0, valid.buffer as ArrayBuffer, 0, Math.ceil(n / 64) * 8);
      }
    }
    this.appender.appendDataChunk(this.chunk);
    this.total += n;
    this.uncommitted += n;
    this.rows = 0;
    this.resetStrings();
    if (this.uncommitted >= COMMIT_ROWS) this.commitAppended(); // bounded batches, see COMMIT_ROWS
  }

  /** String columns start the next chunk empty: no NULLs, no longer strings waiting. */
  private resetStrings(): void {
    for (const col of this.columns) {
      if (col.kind !== Kind.Str) continue;
      for (let k = 0; k < col.longs; k++) col.str![col.longRows![k]] = null; // drop the records' strings
      col.longs = col.dups = col.nulls = 0;
      col.firstRow!.clear();
      col.valid.fill(0xffffffff);
    }
  }

  /** Numbers into the column's vector layout and validity; returns the count of NULLs. */
  private fillNumbers(col: Column<R>, n: number): number {
    const a = col.num!;
    const out = col.out!;
    const valid = col.valid;
    const min = col.min;
    const max = col.max;
    let nulls = 0;
    for (let i = 0; i < n; i++) {
      const x = a[i];
      if (x !== x) {
        valid[i >>> 5] &= ~(1 << (i & 31));
        nulls++;
        continue;
      }
      if (min !== null && !(Number.isInteger(x) && x >= min && x <= max!)) throw this.badValue(col.name, x, i);
      if (col.typeId === DuckDBTypeId.BIGINT) {
        const hi = Math.floor(x / TWO_32);
        out[2 * i] = x - hi * TWO_32; // stored modulo 2^32 by the Int32Array
        out[2 * i + 1] = hi;
      } else out[i] = x;
    }
    return nulls;
  }

  /**
   * Make everything added so far visible to queries (a live capture calls this now and then);
   * DuckDB otherwise keeps appended chunks in the appender until it fills or closes.
   */
  commit(): void {
    if (this.closed) throw new Error(`store: ${this.table} writer is closed`);
    if (this.failed) throw this.failed;
    this.flush();
    this.commitAppended();
  }

  private commitAppended(): void {
    this.appender.flushSync();
    this.uncommitted = 0;
  }

  /** A bad value is a bug upstream: the chunk holding it is dropped and the writer fails loudly. */
  private badValue(column: string, value: number, row: number): Error {
    this.rows = 0;
    this.resetStrings();
    this.failed = new Error(
      `store: ${this.table}.${column} cannot hold ${value} (record ${this.total + row} of this writer)`,
    );
    return this.failed;
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
 * add()'s per-row work, unrolled for one table's columns. A loop calling `col.get(rec)` for every
 * column is one call site for 32–50 different accessors (megamorphic: no inlining, a slow call each);
 * unrolled, every accessor has a call site of its own, which V8 inlines into a plain field read. The
 * source is built from column positions and kinds only (no names or data reach it).
 */
function compileAddRow<R>(columns: readonly Column<R>[]): (rec: R, r: number) => void {
  const params: string[] = [];
  const args: unknown[] = [];
  const body: string[] = ['let v;'];
  columns.forEach((col, c) => {
    params.push(`get${c}`, `col${c}`);
    args.push(col.get, col);
    body.push(`v = get${c}(rec);`);
    switch (col.kind) {
      case Kind.Num:
        params.push(`num${c}`);
        args.push(col.num);
        body.push(`num${c}[r] = v === null ? NaN : v;`);
        break;
      case Kind.Str:
        body.push(`putString(col${c}, r, v);`);
        break;
      case Kind.Bool:
        params.push(`bool${c}`);
        args.push(col.bool);
        body.push(`bool${c}[r] = v === null ? -1 : v ? 1 : 0;`);
        break;
    }
  });
  const make = new Function('putString', ...params, `return function addRow(rec, r) {\n${body.join('\n')}\n};`);
  return make(putString, ...args) as (rec: R, r: number) => void;
}

/** One string cell of row r (see Column.str). */
function putString<R>(col: Column<R>, r: number, s: string | null): void {
  const words = col.strWords!;
  const w = r * 4;
  words[w] = words[w + 1] = words[w + 2] = words[w + 3] = 0;
  if (s === null) {
    col.valid[r >>> 5] &= ~(1 << (r & 31));
    col.nulls++;
    return;
  }
  const len = s.length;
  if (len <= INLINE_MAX) {
    const bytes = col.strBytes!;
    const b = r * STRING_T + 4;
    let k = 0;
    for (; k < len; k++) {
      const ch = s.charCodeAt(k);
      if (ch >= 0x80) break;
      bytes[b + k] = ch;
    }
    if (k === len) {
      words[w] = len;
      return;
    }
    words[w + 1] = words[w + 2] = words[w + 3] = 0; // not ASCII: UTF-8 by the native call instead
  }
  const first = col.firstRow!.get(s);
  if (first === undefined) {
    col.firstRow!.set(s, r);
    col.longRows![col.longs++] = r;
    col.str![r] = s;
  } else {
    col.dupRows![2 * col.dups] = r;
    col.dupRows![2 * col.dups + 1] = first;
    col.dups++;
  }
}

/**
 * A string column's chunk into its vector: the string_t array in one copy, then a native call per
 * distinct longer string. Its repeats (a host, an endpoint, the same request seen at several hops) get
 * a copy of the first one's string_t, whose pointer is into the vector's own string heap, valid until
 * the chunk is reset.
 */
function fillStrings<R>(col: Column<R>, n: number, vec: duckdb.Vector): void {
  const a = col.str!;
  const longRows = col.longRows!;
  duckdb.copy_data_to_vector(vec, 0, col.strBytes!.buffer as ArrayBuffer, 0, n * STRING_T);
  for (let k = 0; k < col.longs; k++) {
    const i = longRows[k];
    duckdb.vector_assign_string_element(vec, i, a[i]!);
  }
  const dups = col.dups;
  if (dups > 0) {
    // The assigned rows' string_t now hold heap pointers: read the column back, copy them over.
    const dupRows = col.dupRows!;
    const cur = duckdb.vector_get_data(vec, n * STRING_T);
    for (let k = 0; k < dups; k++) {
      const from = dupRows[2 * k + 1] * STRING_T;
      cur.copyWithin(dupRows[2 * k] * STRING_T, from, from + STRING_T);
    }
    duckdb.copy_data_to_vector(vec, 0, cur.buffer as ArrayBuffer, cur.byteOffset, n * STRING_T);
  }
}

export type FlowWriter = TableWriter<FlowRecord>;

/** FlowRecord field per flows column (schema.ts). */
export const FLOW_ACCESSORS: Readonly<Record<string, Accessor<FlowRecord>>> = {
  flow_id: (f) => f.flowId,
  capture_id: (f) => f.captureId,
  if_index: (f) => f.ifIndex,
  observation_point: (f) => f.observationPoint,
  start_time: (f) => f.startTime,
  end_time: (f) => f.endTime,
  ip_version: (f) => f.ipVersion,
  protocol: (f) => f.protocol,
  client_ip: (f) => f.clientIp,
  server_ip: (f) => f.serverIp,
  client_port: (f) => f.clientPort,
  server_port: (f) => f.serverPort,
  tunnel_type: (f) => f.tunnelType,
  tunnel_id: (f) => f.tunnelId,
  tunnel_outer_src: (f) => f.tunnelOuterSrc,
  tunnel_outer_dst: (f) => f.tunnelOuterDst,
  packets_tx: (f) => f.packetsTx,
  packets_rx: (f) => f.packetsRx,
  bytes_tx: (f) => f.bytesTx,
  bytes_rx: (f) => f.bytesRx,
  syn_count: (f) => f.synCount,
  synack_count: (f) => f.synackCount,
  retrans_tx: (f) => f.retransTx,
  retrans_rx: (f) => f.retransRx,
  zero_win_tx: (f) => f.zeroWinTx,
  zero_win_rx: (f) => f.zeroWinRx,
  ooo_tx: (f) => f.oooTx,
  ooo_rx: (f) => f.oooRx,
  rtt: (f) => f.rtt,
  rtt_client: (f) => f.rttClient,
  rtt_server: (f) => f.rttServer,
  srt_sum: (f) => f.srtSum,
  srt_count: (f) => f.srtCount,
  srt_max: (f) => f.srtMax,
  art_sum: (f) => f.artSum,
  art_count: (f) => f.artCount,
  art_max: (f) => f.artMax,
  cit_sum: (f) => f.citSum,
  cit_count: (f) => f.citCount,
  cit_max: (f) => f.citMax,
  close_type: (f) => f.closeType,
  l7_protocol: (f) => f.l7Protocol,
  vlan: (f) => f.vlan,
  payload_tx: (f) => f.payloadTx,
  payload_rx: (f) => f.payloadRx,
  fin_count: (f) => f.finCount,
  rst_count: (f) => f.rstCount,
  handshake_seen: (f) => f.handshakeSeen,
  syn_seq: (f) => f.synSeq,
  synack_seq: (f) => f.synackSeq,
};
