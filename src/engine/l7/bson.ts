// A small BSON reader for the MongoDB module: walks the top-level elements of one document in place
// (no copies, no objects per element) and reads the few value types a request row needs. It never
// recurses: a nested document is entered explicitly, one level at a time, by the caller — deep nesting
// in a hostile payload costs nothing. Every read is bounded by the document's declared length and by
// the bytes at hand, whichever is shorter (a document may be cut by the capture limit).

export const enum BsonType {
  Double = 0x01,
  String = 0x02,
  Document = 0x03,
  Array = 0x04,
  Binary = 0x05,
  Undefined = 0x06,
  ObjectId = 0x07,
  Bool = 0x08,
  DateTime = 0x09,
  Null = 0x0a,
  Regex = 0x0b,
  DbPointer = 0x0c,
  Code = 0x0d,
  Symbol = 0x0e,
  CodeWithScope = 0x0f,
  Int32 = 0x10,
  Timestamp = 0x11,
  Int64 = 0x12,
  Decimal128 = 0x13,
  MinKey = 0xff,
  MaxKey = 0x7f,
}

/** The element found by the last successful call (reused: read it before the next call). */
export const el = { type: 0, nameStart: 0, nameEnd: 0, valueStart: 0, valueEnd: 0 };

/**
 * End of the document at b[p] (its declared end, cut to `limit`), or -1 if it does not start with a
 * plausible length. A document needs at least 5 bytes (length + terminating 0).
 */
export function docEnd(b: Buffer, p: number, limit: number): number {
  if (limit > b.length) limit = b.length;
  if (p < 0 || p + 5 > limit) return -1;
  const n = b.readInt32LE(p);
  if (n < 5) return -1;
  return Math.min(p + n, limit);
}

/** Length of the element value of `type` at b[v] (before `end`), or -1. */
function valueLength(b: Buffer, type: number, v: number, end: number): number {
  switch (type) {
    case BsonType.Double:
    case BsonType.DateTime:
    case BsonType.Timestamp:
    case BsonType.Int64:
      return 8;
    case BsonType.Int32:
      return 4;
    case BsonType.Bool:
      return 1;
    case BsonType.ObjectId:
      return 12;
    case BsonType.Decimal128:
      return 16;
    case BsonType.Undefined:
    case BsonType.Null:
    case BsonType.MinKey:
    case BsonType.MaxKey:
      return 0;
    case BsonType.String:
    case BsonType.Code:
    case BsonType.Symbol: {
      if (v + 4 > end) return -1;
      const n = b.readInt32LE(v);
      return n < 1 ? -1 : 4 + n;
    }
    case BsonType.DbPointer: {
      if (v + 4 > end) return -1;
      const n = b.readInt32LE(v);
      return n < 1 ? -1 : 4 + n + 12;
    }
    case BsonType.Document:
    case BsonType.Array:
    case BsonType.CodeWithScope: {
      if (v + 4 > end) return -1;
      const n = b.readInt32LE(v);
      return n < 5 ? -1 : n;
    }
    case BsonType.Binary: {
      if (v + 4 > end) return -1;
      const n = b.readInt32LE(v);
      return n < 0 ? -1 : 5 + n;
    }
    case BsonType.Regex: {
      let k = v;
      let zeros = 0;
      while (k < end && zeros < 2) if (b[k++] === 0) zeros++;
      return zeros === 2 ? k - v : -1;
    }
    default:
      return -1;
  }
}

/**
 * Visits the top-level elements of the document at b[p, end) in order, at most `max` of them; for each,
 * `el` is filled and `visit` is called; returning true stops the walk. False if the document is malformed
 * before the walk ended (elements before the fault were visited). A value cut by `end` is reported with
 * valueEnd = end once (it is the last).
 */
export function walk(b: Buffer, p: number, end: number, visit: () => boolean, max = 4096): boolean {
  const e = docEnd(b, p, end);
  if (e < 0) return false;
  let k = p + 4;
  for (let count = 0; count < max; count++) {
    if (k >= e) return false;
    const type = b[k];
    if (type === 0) return true;
    const ns = k + 1;
    let ne = ns;
    while (ne < e && b[ne] !== 0) ne++;
    if (ne >= e) return false;
    const v = ne + 1;
    const len = valueLength(b, type, v, e);
    if (len < 0) return false;
    el.type = type;
    el.nameStart = ns;
    el.nameEnd = ne;
    el.valueStart = v;
    el.valueEnd = Math.min(v + len, e);
    if (visit()) return true;
    if (v + len > e) return false;
    k = v + len;
  }
  return true;
}

function nameIs(b: Buffer, name: string): boolean {
  if (el.nameEnd - el.nameStart !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (b[el.nameStart + i] !== name.charCodeAt(i)) return false;
  return true;
}

/** Finds the top-level element `name`; fills `el` and returns true if present. */
export function find(b: Buffer, p: number, end: number, name: string): boolean {
  let found = false;
  walk(b, p, end, () => (found = nameIs(b, name)));
  return found;
}

/** The first element's name (a command document's command), or null; `el` holds the element. */
export function firstKey(b: Buffer, p: number, end: number): string | null {
  let name: string | null = null;
  walk(b, p, end, () => {
    name = b.toString('utf8', el.nameStart, el.nameEnd);
    return true;
  });
  return name;
}

/** String value of `el` (String / Symbol / Code), cut to `max` characters; null for other types. */
export function elString(b: Buffer, max = 256): string | null {
  if (el.type !== BsonType.String && el.type !== BsonType.Symbol && el.type !== BsonType.Code) return null;
  const s = el.valueStart + 4;
  let e = el.valueEnd - 1; // without the terminating 0
  if (e < s) e = Math.min(el.valueEnd, s);
  if (e - s > max * 4) e = s + max * 4;
  const text = b.toString('utf8', s, e);
  return text.length > max ? text.slice(0, max) : text;
}

/** Numeric value of `el` (Double, Int32, Int64, Bool), or NaN. */
export function elNumber(b: Buffer): number {
  const v = el.valueStart;
  const have = el.valueEnd - v;
  switch (el.type) {
    case BsonType.Double:
      return have >= 8 ? b.readDoubleLE(v) : NaN;
    case BsonType.Int32:
      return have >= 4 ? b.readInt32LE(v) : NaN;
    case BsonType.Int64:
      return have >= 8 ? b.readInt32LE(v + 4) * 4294967296 + b.readUInt32LE(v) : NaN;
    case BsonType.Bool:
      return have >= 1 ? b[v] : NaN;
    default:
      return NaN;
  }
}
