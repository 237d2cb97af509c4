// Rows staged column by column in the exact memory layout of a DuckDB DataChunk's vectors, with no
// DuckDB in sight: a worker thread that parses packets builds chunks here and transfers their buffers
// (no copy, no structured clone of records) to the thread that owns the database, which copies each
// column into its vector with one native call (appender.ts).
//
// - Numbers are staged as float64 (NaN marks NULL) and converted to the column's layout when the
//   chunk is taken. BIGINT is two int32 halves computed from the JS number (exact below 2^53, every
//   number we hold): no BigInt per cell and no DOUBLE → BIGINT cast inside DuckDB.
// - VARCHAR: DuckDB's string_t is 16 bytes, {u32 length, 12 inline bytes} when length <= 12. ASCII
//   strings that short (IPs, 'http', 'GET', 'ok', observation points ...) are written inline as the row
//   is added (the record's strings are still in the CPU cache then). Longer or non-ASCII strings travel
//   as JS strings, once per distinct value in the chunk; their repeats name the row holding the first.
// - A number a column cannot hold (a fraction in an integer column, out of range) is refused when the
//   chunk is taken, not rounded: take() throws, naming the column.

/** One cell as a record accessor returns it; null is SQL NULL. */
export type CellValue = number | string | boolean | null;
export type Accessor<R> = (rec: R) => CellValue;

/** DuckDB's vector size: the most rows one DataChunk holds. */
export const CHUNK_ROWS = 2048;

/** How a numeric column is laid out in its vector. */
export type NumLayout = 'i8' | 'i16' | 'i32' | 'u8' | 'u16' | 'u32' | 'i64' | 'f32' | 'f64';

/** What a builder needs to know of one table column (the owner of the database derives it). */
export type ColumnSpec =
  | { name: string; kind: 'num'; layout: NumLayout }
  | { name: string; kind: 'str' }
  | { name: string; kind: 'bool' };

/** One column of a staged chunk, ready to be copied into its vector. */
export interface StagedColumn {
  /** The vector's data for the chunk's rows (string_t array for strings, a byte per row for booleans). */
  data: ArrayBuffer;
  /** Validity bitmask in the vector's uint64-word layout (bit set = valid); null when no row is NULL. */
  valid: ArrayBuffer | null;
  /** Strings: the rows whose string is not inline, the first row of each distinct value ... */
  longRows: Int32Array | null;
  /** ... and those strings, in the same order. */
  longs: string[] | null;
  /** Strings: (row, earlier row with the same long string) pairs. */
  dupRows: Int32Array | null;
}

export interface StagedChunk {
  rows: number;
  columns: StagedColumn[];
}

/** The buffers of a chunk, for postMessage's transfer list. */
export function chunkTransferList(chunk: StagedChunk): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const c of chunk.columns) {
    out.push(c.data);
    if (c.valid) out.push(c.valid);
    if (c.longRows) out.push(c.longRows.buffer as ArrayBuffer);
    if (c.dupRows) out.push(c.dupRows.buffer as ArrayBuffer);
  }
  return out;
}

interface Layout {
  /** A typed array of n cells, over `buffer` when one is given (of the right size). */
  make: (n: number, buffer: ArrayBuffer | null) => Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;
  /** Integer range; null for floating point. */
  min: number | null;
  max: number | null;
}

const LAYOUTS: Record<NumLayout, Layout> = {
  i8: { make: (n, b) => (b ? new Int8Array(b) : new Int8Array(n)), min: -128, max: 127 },
  i16: { make: (n, b) => (b ? new Int16Array(b) : new Int16Array(n)), min: -32768, max: 32767 },
  i32: { make: (n, b) => (b ? new Int32Array(b) : new Int32Array(n)), min: -2147483648, max: 2147483647 },
  u8: { make: (n, b) => (b ? new Uint8Array(b) : new Uint8Array(n)), min: 0, max: 255 },
  u16: { make: (n, b) => (b ? new Uint16Array(b) : new Uint16Array(n)), min: 0, max: 65535 },
  u32: { make: (n, b) => (b ? new Uint32Array(b) : new Uint32Array(n)), min: 0, max: 4294967295 },
  // Two int32 per cell (low word first, little-endian like every platform DuckDB's npm package ships for).
  i64: { make: (n, b) => (b ? new Int32Array(b) : new Int32Array(2 * n)), min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
  f32: { make: (n, b) => (b ? new Float32Array(b) : new Float32Array(n)), min: null, max: null },
  f64: { make: (n, b) => (b ? new Float64Array(b) : new Float64Array(n)), min: null, max: null },
};

/** Bytes per cell of each numeric layout in its vector. */
export const LAYOUT_BYTES: Record<NumLayout, number> = { i8: 1, u8: 1, i16: 2, u16: 2, i32: 4, u32: 4, f32: 4, i64: 8, f64: 8 };

const TWO_32 = 4294967296;
/** Bytes of one DuckDB string_t, and the longest string stored inside it. */
export const STRING_T = 16;
const INLINE_MAX = 12;
const VALID_WORDS = CHUNK_ROWS / 32;

/** Staging state of one column. */
interface Staging {
  spec: ColumnSpec;
  /** num: values, NaN = NULL. */
  num: Float64Array | null;
  /** str: the chunk's string_t array (short ASCII strings inline, NULLs and long strings zero). */
  strBytes: Uint8Array | null;
  strWords: Uint32Array | null;
  /** str: rows of the first occurrence of each long string, with the string. */
  longRows: Int32Array | null;
  longs: string[] | null;
  /** str: (row, first row) pairs of repeated long strings; distinct long strings → first row. */
  dupRows: Int32Array | null;
  dups: number;
  firstRow: Map<string, number> | null;
  /** str: NULLs so far (their validity bits are cleared as they are added). */
  nulls: number;
  /** bool: 1, 0, -1 = NULL. */
  bool: Int8Array | null;
  valid: Uint32Array;
  /** A taken chunk's data buffer handed back (recycle()) for the next chunk, else null. */
  spare: ArrayBuffer | null;
  /** Bytes of a full chunk's data buffer for this column. */
  capacity: number;
}

/**
 * Stages records of type R into chunks of up to CHUNK_ROWS rows. add() says when the chunk is full;
 * take() hands over the staged rows (the buffers are the chunk's from then on) and starts a new one.
 */
export class ChunkBuilder<R> {
  private readonly cols: Staging[];
  private readonly addRow: (rec: R, r: number) => void;
  private rows = 0;
  /** Rows taken before the current chunk (for error messages). */
  private taken = 0;

  constructor(
    private readonly table: string,
    specs: readonly ColumnSpec[],
    accessors: Readonly<Record<string, Accessor<R>>>,
  ) {
    const missing = specs.filter((s) => !(s.name in accessors)).map((s) => s.name);
    const unknown = Object.keys(accessors).filter((n) => !specs.some((s) => s.name === n));
    if (missing.length > 0 || unknown.length > 0) {
      throw new Error(
        `store: writer for ${table} does not match the table` +
          (missing.length ? `; no value for ${missing.join(', ')}` : '') +
          (unknown.length ? `; no column ${unknown.join(', ')}` : ''),
      );
    }
    this.cols = specs.map((spec) => {
      const str = spec.kind === 'str';
      const strBytes = str ? new Uint8Array(CHUNK_ROWS * STRING_T) : null;
      return {
        spec,
        num: spec.kind === 'num' ? new Float64Array(CHUNK_ROWS) : null,
        strBytes,
        strWords: strBytes ? new Uint32Array(strBytes.buffer) : null,
        longRows: str ? new Int32Array(CHUNK_ROWS) : null,
        longs: str ? [] : null,
        dupRows: str ? new Int32Array(2 * CHUNK_ROWS) : null,
        dups: 0,
        firstRow: str ? new Map<string, number>() : null,
        nulls: 0,
        bool: spec.kind === 'bool' ? new Int8Array(CHUNK_ROWS) : null,
        valid: new Uint32Array(VALID_WORDS).fill(0xffffffff),
        spare: null,
        capacity: CHUNK_ROWS * (spec.kind === 'str' ? STRING_T : spec.kind === 'bool' ? 1 : LAYOUT_BYTES[spec.layout]),
      };
    });
    this.addRow = compileAddRow(this.cols, specs.map((s) => accessors[s.name]));
  }

  /** Rows staged in the current chunk. */
  get pending(): number {
    return this.rows;
  }

  /** Stages one record; true when the chunk is full (take() it before the next add). */
  add(rec: R): boolean {
    const r = this.rows;
    this.addRow(rec, r);
    this.rows = r + 1;
    return this.rows === CHUNK_ROWS;
  }

  /**
   * The staged rows as a chunk (null when none) and a fresh chunk to stage into. A value its column
   * cannot hold throws, naming the column; the chunk holding it is dropped.
   */
  take(): StagedChunk | null {
    const n = this.rows;
    if (n === 0) return null;
    this.rows = 0;
    const taken = this.taken;
    this.taken += n;
    let bad: Error | null = null;
    const columns: StagedColumn[] = [];
    for (const col of this.cols) {
      try {
        if (bad === null) columns.push(this.takeColumn(col, n, taken));
      } catch (e) {
        bad = e as Error;
      }
      col.valid.fill(0xffffffff);
      if (col.spec.kind !== 'str') continue;
      col.nulls = col.dups = 0;
      col.firstRow!.clear();
      if (col.longs!.length > 0) col.longs = [];
    }
    if (bad) {
      // The dropped chunk's inline strings are still in the columns not taken: the next chunk starts clean.
      for (const col of this.cols) col.strBytes?.fill(0);
      throw bad;
    }
    return { rows: n, columns };
  }

  /**
   * Hands a chunk's buffers back once it has been copied into DuckDB (on the thread that took it; a
   * chunk sent to another thread is not recycled), so that the next chunks need no new ones.
   */
  recycle(chunk: StagedChunk): void {
    chunk.columns.forEach((c, i) => {
      if (c.data.byteLength === this.cols[i].capacity) this.cols[i].spare = c.data;
    });
  }

  private reuse(col: Staging): ArrayBuffer | null {
    const b = col.spare;
    col.spare = null;
    return b;
  }

  private takeColumn(col: Staging, n: number, taken: number): StagedColumn {
    const valid = col.valid;
    let nulls = 0;
    let data: ArrayBuffer;
    let longRows: Int32Array | null = null;
    let longs: string[] | null = null;
    let dupRows: Int32Array | null = null;
    const spec = col.spec;
    if (spec.kind === 'num') {
      const a = col.num!;
      const layout = LAYOUTS[spec.layout];
      const out = layout.make(CHUNK_ROWS, this.reuse(col));
      const { min, max } = layout;
      const wide = spec.layout === 'i64';
      for (let i = 0; i < n; i++) {
        const x = a[i];
        if (x !== x) {
          valid[i >>> 5] &= ~(1 << (i & 31));
          nulls++;
          continue;
        }
        if (min !== null && !(Number.isInteger(x) && x >= min && x <= max!)) {
          throw new Error(`store: ${this.table}.${spec.name} cannot hold ${x} (record ${taken + i} of this writer)`);
        }
        if (wide) {
          const hi = Math.floor(x / TWO_32);
          out[2 * i] = x - hi * TWO_32; // stored modulo 2^32 by the Int32Array
          out[2 * i + 1] = hi;
        } else out[i] = x;
      }
      data = out.buffer as ArrayBuffer;
    } else if (spec.kind === 'str') {
      nulls = col.nulls;
      data = col.strBytes!.buffer as ArrayBuffer;
      const k = col.longs!.length;
      if (k > 0) {
        longRows = col.longRows!.slice(0, k);
        longs = col.longs;
      }
      if (col.dups > 0) dupRows = col.dupRows!.slice(0, 2 * col.dups);
      const spare = this.reuse(col);
      const bytes = spare ? new Uint8Array(spare).fill(0) : new Uint8Array(CHUNK_ROWS * STRING_T);
      col.strBytes = bytes;
      col.strWords = new Uint32Array(bytes.buffer); // col.longs is replaced by take()
    } else {
      const a = col.bool!;
      for (let i = 0; i < n; i++) {
        if (a[i] < 0) {
          a[i] = 0;
          valid[i >>> 5] &= ~(1 << (i & 31));
          nulls++;
        }
      }
      data = a.buffer as ArrayBuffer;
      const spare = this.reuse(col);
      col.bool = spare ? new Int8Array(spare) : new Int8Array(CHUNK_ROWS);
    }
    const words = Math.ceil(n / 64) * 2;
    return { data, valid: nulls > 0 ? valid.slice(0, words).buffer : null, longRows, longs, dupRows };
  }
}

/**
 * add()'s per-row work, unrolled for one table's columns. A loop calling `get(rec)` for every column is
 * one call site for 32–50 different accessors (megamorphic: no inlining, a slow call each); unrolled,
 * every accessor has a call site of its own, which V8 inlines into a plain field read. The source is
 * built from column positions and kinds only (no names or data reach it). The staging arrays are read
 * from the column each row, since take() hands them over and replaces them.
 */
function compileAddRow<R>(cols: readonly Staging[], getters: readonly Accessor<R>[]): (rec: R, r: number) => void {
  const params: string[] = [];
  const args: unknown[] = [];
  const body: string[] = ['let v;'];
  cols.forEach((col, c) => {
    params.push(`get${c}`, `col${c}`);
    args.push(getters[c], col);
    body.push(`v = get${c}(rec);`);
    switch (col.spec.kind) {
      case 'num':
        params.push(`num${c}`);
        args.push(col.num); // numbers are converted out of this array: it is never replaced
        body.push(`num${c}[r] = v === null ? NaN : v;`);
        break;
      case 'str':
        body.push(`putString(col${c}, r, v);`);
        break;
      case 'bool':
        body.push(`col${c}.bool[r] = v === null ? -1 : v ? 1 : 0;`);
        break;
    }
  });
  const make = new Function('putString', ...params, `return function addRow(rec, r) {\n${body.join('\n')}\n};`);
  return make(putString, ...args) as (rec: R, r: number) => void;
}

/** One string cell of row r (see Staging). */
function putString(col: Staging, r: number, s: string | null): void {
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
      col.strWords![r * 4] = len;
      return;
    }
    bytes.fill(0, b, b + k); // not ASCII: UTF-8 by the native call instead
  }
  const first = col.firstRow!.get(s);
  if (first === undefined) {
    col.firstRow!.set(s, r);
    col.longRows![col.longs!.length] = r;
    col.longs!.push(s);
  } else {
    col.dupRows![2 * col.dups] = r;
    col.dupRows![2 * col.dups + 1] = first;
    col.dups++;
  }
}
