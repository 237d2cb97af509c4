// Ad-hoc SQL for `flowscope query`: column names, DuckDB type names and rows as plain JS values.
// Values keep full precision: BIGINT/HUGEINT stay bigint, temporal types become DuckDB's own text
// (a JS Date would drop the microseconds), DECIMAL becomes a number only when that is exact.
import {
  DuckDBTypeId,
  arrayFromArrayValue,
  arrayFromListValue,
  bigintFromBigIntValue,
  booleanFromValue,
  bytesFromBitValue,
  bytesFromBlobValue,
  bytesFromGeometryValue,
  createDuckDBValueConverter,
  fromVariantValue,
  nullConverter,
  numberFromValue,
  objectArrayFromMapValue,
  objectFromStructValue,
  objectFromUnionValue,
  stringFromValue,
  unsupportedConverter,
  type DuckDBConnection,
  type DuckDBValue,
  type DuckDBValueConverter,
} from '@duckdb/node-api';

/** A cell of a query result. Nested types become arrays / objects of cells. */
export type QueryValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | QueryValue[]
  | { [key: string]: QueryValue };

export interface QueryResult {
  /** Column names, made unique (DuckDB appends `_1`, `_2` to repeats). */
  columns: string[];
  /** DuckDB type of each column as SQL text, e.g. 'BIGINT', 'VARCHAR', 'DECIMAL(18,3)'. */
  types: string[];
  rows: QueryValue[][];
}

/** Decimal text to a number when the double holds it exactly (≤ 15 significant digits). */
function decimalFromValue(value: DuckDBValue): number | string {
  const text = String(value);
  const digits = text.replace(/^-/, '').replace('.', '').replace(/^0+/, '');
  return digits.length <= 15 ? Number(text) : text;
}

const text = stringFromValue as DuckDBValueConverter<QueryValue>;

const converters: Record<DuckDBTypeId, DuckDBValueConverter<QueryValue> | undefined> = {
  [DuckDBTypeId.INVALID]: unsupportedConverter,
  [DuckDBTypeId.BOOLEAN]: booleanFromValue,
  [DuckDBTypeId.TINYINT]: numberFromValue,
  [DuckDBTypeId.SMALLINT]: numberFromValue,
  [DuckDBTypeId.INTEGER]: numberFromValue,
  [DuckDBTypeId.BIGINT]: bigintFromBigIntValue,
  [DuckDBTypeId.UTINYINT]: numberFromValue,
  [DuckDBTypeId.USMALLINT]: numberFromValue,
  [DuckDBTypeId.UINTEGER]: numberFromValue,
  [DuckDBTypeId.UBIGINT]: bigintFromBigIntValue,
  [DuckDBTypeId.FLOAT]: numberFromValue,
  [DuckDBTypeId.DOUBLE]: numberFromValue,
  [DuckDBTypeId.TIMESTAMP]: text,
  [DuckDBTypeId.DATE]: text,
  [DuckDBTypeId.TIME]: text,
  [DuckDBTypeId.INTERVAL]: text,
  [DuckDBTypeId.HUGEINT]: bigintFromBigIntValue,
  [DuckDBTypeId.UHUGEINT]: bigintFromBigIntValue,
  [DuckDBTypeId.VARCHAR]: text,
  [DuckDBTypeId.BLOB]: bytesFromBlobValue,
  [DuckDBTypeId.DECIMAL]: decimalFromValue,
  [DuckDBTypeId.TIMESTAMP_S]: text,
  [DuckDBTypeId.TIMESTAMP_MS]: text,
  [DuckDBTypeId.TIMESTAMP_NS]: text,
  [DuckDBTypeId.ENUM]: text,
  [DuckDBTypeId.LIST]: arrayFromListValue as DuckDBValueConverter<QueryValue>,
  [DuckDBTypeId.STRUCT]: objectFromStructValue as DuckDBValueConverter<QueryValue>,
  [DuckDBTypeId.MAP]: objectArrayFromMapValue as DuckDBValueConverter<QueryValue>,
  [DuckDBTypeId.ARRAY]: arrayFromArrayValue as DuckDBValueConverter<QueryValue>,
  [DuckDBTypeId.UUID]: text,
  [DuckDBTypeId.UNION]: objectFromUnionValue as DuckDBValueConverter<QueryValue>,
  [DuckDBTypeId.BIT]: bytesFromBitValue,
  [DuckDBTypeId.TIME_TZ]: text,
  [DuckDBTypeId.TIMESTAMP_TZ]: text,
  [DuckDBTypeId.ANY]: unsupportedConverter,
  [DuckDBTypeId.BIGNUM]: bigintFromBigIntValue,
  [DuckDBTypeId.SQLNULL]: nullConverter,
  [DuckDBTypeId.STRING_LITERAL]: unsupportedConverter,
  [DuckDBTypeId.INTEGER_LITERAL]: unsupportedConverter,
  [DuckDBTypeId.TIME_NS]: text,
  [DuckDBTypeId.GEOMETRY]: bytesFromGeometryValue,
  [DuckDBTypeId.VARIANT]: fromVariantValue as DuckDBValueConverter<QueryValue>,
};

export const queryValueConverter: DuckDBValueConverter<QueryValue> = createDuckDBValueConverter(converters);

/**
 * Run SQL text, which may hold several statements separated by ';': all run in order and the
 * result of the last one is returned.
 */
export async function runQuery(conn: DuckDBConnection, sql: string): Promise<QueryResult> {
  // Text without any statement (blank, comments only) makes the binding fail without a reason.
  const bare = sql.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '').replace(/[\s;]/g, '');
  if (bare === '') return { columns: [], types: [], rows: [] };
  const statements = await conn.extractStatements(sql);
  if (statements.count === 0) return { columns: [], types: [], rows: [] };
  for (let i = 0; i < statements.count - 1; i++) {
    const prepared = await statements.prepare(i);
    try {
      await prepared.run();
    } finally {
      prepared.destroySync();
    }
  }
  const prepared = await statements.prepare(statements.count - 1);
  try {
    const reader = await prepared.runAndReadAll();
    return {
      columns: reader.deduplicatedColumnNames(),
      types: reader.columnTypes().map((t) => t.toString()),
      rows: reader.convertRows(queryValueConverter),
    };
  } finally {
    prepared.destroySync();
  }
}
