// Bulk writers: records are buffered column by column and handed to DuckDB one DataChunk of up to
// 2048 rows at a time (row-wise appends are ~10x slower, ARCHITECTURE.md "store").
//
// BIGINT columns are buffered as float64 and sent in a DOUBLE vector: the appender casts them to
// BIGINT, which is exact for integers below 2^53 (every JS number we hold) and avoids one BigInt
// allocation per cell. Non-integers are refused at flush, not rounded.
import {
  DOUBLE,
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

const enum Kind {
  /** BIGINT sent as DOUBLE; NaN marks NULL. */
  Int64,
  /** Other numbers (INTEGER, SMALLINT, UTINYINT, DOUBLE, ...) sent as their own type; NaN marks NULL. */
  Num,
  Str,
  /** 1 true, 0 false, -1 NULL. */
  Bool,
}

const NUMERIC_IDS = new Set<DuckDBTypeId>([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.FLOAT,
  DuckDBTypeId.DOUBLE,
]);

interface Column<R> {
  name: string;
  kind: Kind;
  get: Accessor<R>;
  num: Float64Array | null;
  str: (string | null)[] | null;
  bool: Int8Array | null;
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
  private rows = 0;
  private total = 0;
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
      let kind: Kind;
      let chunkType: DuckDBType = type;
      if (type.typeId === DuckDBTypeId.BIGINT) {
        kind = Kind.Int64;
        chunkType = DOUBLE;
      } else if (NUMERIC_IDS.has(type.typeId)) kind = Kind.Num;
      else if (type.typeId === DuckDBTypeId.VARCHAR) kind = Kind.Str;
      else if (type.typeId === DuckDBTypeId.BOOLEAN) kind = Kind.Bool;
      else {
        appender.closeSync();
        throw new Error(`store: ${table}.${names[i]} has type ${type.toString()}, which TableWriter cannot fill`);
      }
      chunkTypes.push(chunkType);
      columns.push({
        name: names[i],
        kind,
        get: accessors[names[i]],
        num: kind === Kind.Int64 || kind === Kind.Num ? new Float64Array(CHUNK_ROWS) : null,
        str: kind === Kind.Str ? new Array<string | null>(CHUNK_ROWS).fill(null) : null,
        bool: kind === Kind.Bool ? new Int8Array(CHUNK_ROWS) : null,
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
    const cols = this.columns;
    for (let c = 0; c < cols.length; c++) {
      const col = cols[c];
      const v = col.get(rec);
      switch (col.kind) {
        case Kind.Int64:
        case Kind.Num:
          col.num![r] = v === null ? NaN : (v as number);
          break;
        case Kind.Str:
          col.str![r] = v as string | null;
          break;
        case Kind.Bool:
          col.bool![r] = v === null ? -1 : v ? 1 : 0;
          break;
      }
    }
    this.rows = r + 1;
    if (this.rows === CHUNK_ROWS) this.flush();
  }

  /** Send the buffered rows to DuckDB as one chunk. */
  flush(): void {
    const n = this.rows;
    if (n === 0) return;
    const chunk = this.chunk;
    chunk.reset();
    chunk.rowCount = n;
    for (let c = 0; c < this.columns.length; c++) {
      const col = this.columns[c];
      const vec = chunk.getColumnVector(c);
      switch (col.kind) {
        case Kind.Int64: {
          const a = col.num!;
          for (let i = 0; i < n; i++) {
            const x = a[i];
            if (x !== x) vec.setItem(i, null);
            else if (Number.isInteger(x)) vec.setItem(i, x);
            else throw this.badValue(col.name, x, i);
          }
          break;
        }
        case Kind.Num: {
          const a = col.num!;
          for (let i = 0; i < n; i++) {
            const x = a[i];
            try {
              vec.setItem(i, x !== x ? null : x);
            } catch {
              throw this.badValue(col.name, x, i);
            }
          }
          break;
        }
        case Kind.Str: {
          const a = col.str!;
          for (let i = 0; i < n; i++) vec.setItem(i, a[i]);
          a.fill(null, 0, n); // drop references to the records' strings
          break;
        }
        case Kind.Bool: {
          const a = col.bool!;
          for (let i = 0; i < n; i++) vec.setItem(i, a[i] < 0 ? null : a[i] === 1);
          break;
        }
      }
      vec.flush();
    }
    this.appender.appendDataChunk(chunk);
    this.total += n;
    this.rows = 0;
  }

  /**
   * Make everything added so far visible to queries (a live capture calls this now and then);
   * DuckDB otherwise keeps appended chunks in the appender until it fills or closes.
   */
  commit(): void {
    if (this.closed) throw new Error(`store: ${this.table} writer is closed`);
    if (this.failed) throw this.failed;
    this.flush();
    this.appender.flushSync();
  }

  /** A bad value is a bug upstream: the chunk holding it is dropped and the writer fails loudly. */
  private badValue(column: string, value: number, row: number): Error {
    this.rows = 0;
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
