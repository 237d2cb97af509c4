// What MySQL and PostgreSQL rows take from SQL text: the first keyword (skipping leading comments, as
// DeepFlow's sql_check.rs does), the endpoint "VERB table" (SPEC.md "Requests"; DeepFlow fills it for
// SELECT/INSERT/UPDATE/DELETE/ALTER when a table is named, e.g. "SELECT controller"), and trace
// context carried in SQL comments (sqlcommenter style `/*traceparent='00-…'*/`, or `key=value` /
// `key: value` pairs inside any comment).

import { fromB3Single, fromSw8, fromTraceparent, fromUber, type TraceIds } from './trace-context';

/** Keywords that may start a statement (DeepFlow's COMMON_SQL_START plus its MySQL and PostgreSQL lists). */
const SQL_START = new Set([
  'SELECT', 'PREPARE', 'INSERT', 'UPDATE', 'DELETE', 'SHOW', 'CREATE', 'DROP', 'ALTER', 'EXPLAIN', 'GRANT',
  'SET', 'SAVEPOINT', 'RELEASE', 'DECLARE', 'CALL', 'FETCH', 'IMPORT', 'REVOKE',
  // MySQL
  'XA', 'FLUSH', 'USE', 'LOCK', 'UNLOCK', 'STOP', 'START', 'LOAD', 'ANALYZE', 'BEGIN', 'COMMIT', 'ROLLBACK',
  'DESC', 'DESCRIBE', 'REPLACE', 'TRUNCATE', 'RENAME', 'HANDLER', 'DO', 'WITH', 'OPTIMIZE', 'CHECKSUM',
  'KILL', 'RESET', 'PURGE', 'CHANGE', 'INSTALL', 'UNINSTALL', 'HELP', 'CHECK', 'REPAIR', 'SIGNAL',
  // PostgreSQL
  'EXECUTE', 'MATERIALIZED', 'ABORT', 'CHECKPOINT', 'REFRESH', 'REINDEX', 'TABLE', 'CLUSTER', 'VALUES',
  'COPY', 'VACUUM', 'LISTEN', 'NOTIFY', 'UNLISTEN', 'DISCARD', 'DEALLOCATE', 'CLOSE', 'MOVE', 'END',
  'COMMENT', 'SECURITY', 'REASSIGN',
]);

/** Index of the first character after leading whitespace and comments (/* *\/, -- and #), or -1. */
function skipComments(sql: string, hashComments: boolean): number {
  let i = 0;
  const n = sql.length;
  for (;;) {
    while (i < n && sql.charCodeAt(i) <= 32) i++;
    if (i >= n) return -1;
    const c = sql.charCodeAt(i);
    if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      const e = sql.indexOf('*/', i + 2);
      if (e < 0) return -1;
      i = e + 2;
    } else if ((c === 0x2d && sql.charCodeAt(i + 1) === 0x2d) || (c === 0x23 && hashComments)) {
      const e = sql.indexOf('\n', i);
      if (e < 0) return -1;
      i = e + 1;
    } else {
      return i;
    }
  }
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** The statement's first word in upper case (letters only, at most 16), or null. */
export function sqlVerb(sql: string, hashComments = true): string | null {
  const i = skipComments(sql, hashComments);
  if (i < 0) return null;
  let j = i;
  while (j < sql.length && j - i <= 16 && isLetter(sql.charCodeAt(j))) j++;
  if (j === i || j - i > 16) return null;
  return sql.slice(i, j).toUpperCase();
}

/** True when the text starts (after comments) with a keyword that starts SQL statements. */
export function looksLikeSql(sql: string, hashComments = true): boolean {
  const v = sqlVerb(sql, hashComments);
  return v !== null && SQL_START.has(v);
}

/** Reads an identifier (optionally qualified, quoted with `, " or []) at sql[i]; '' if none. */
function identifierAt(sql: string, i: number): string {
  const n = sql.length;
  while (i < n && sql.charCodeAt(i) <= 32) i++;
  let out = '';
  for (;;) {
    if (i >= n) break;
    const c = sql[i];
    if (c === '`' || c === '"' || c === '[') {
      const close = c === '[' ? ']' : c;
      const e = sql.indexOf(close, i + 1);
      if (e < 0) break;
      out += sql.slice(i + 1, e);
      i = e + 1;
    } else {
      let j = i;
      while (j < n) {
        const k = sql.charCodeAt(j);
        if (isLetter(k) || (k >= 48 && k <= 57) || k === 95 || k === 36 || k >= 128) j++;
        else break;
      }
      if (j === i) break;
      out += sql.slice(i, j);
      i = j;
    }
    if (sql[i] === '.') {
      out += '.';
      i++;
    } else {
      break;
    }
  }
  return out;
}

/** Position after keyword `kw` (whole word, case-insensitive, outside quotes and parentheses) from `from`. */
function findKeyword(sql: string, kw: string, from: number): number {
  const n = sql.length;
  const L = kw.length;
  let depth = 0;
  for (let i = from; i < n; i++) {
    const c = sql.charCodeAt(i);
    if (c === 0x27 || c === 0x22 || c === 0x60) {
      const e = sql.indexOf(sql[i], i + 1);
      if (e < 0) return -1;
      i = e;
      continue;
    }
    if (c === 0x28) depth++;
    else if (c === 0x29) depth--;
    else if (depth <= 0 && (c | 0x20) === (kw.charCodeAt(0) | 0x20) && i + L <= n) {
      if (i > 0 && isWordChar(sql.charCodeAt(i - 1))) continue;
      if (i + L < n && isWordChar(sql.charCodeAt(i + L))) continue;
      if (sql.slice(i, i + L).toUpperCase() === kw) return i + L;
    }
  }
  return -1;
}

function isWordChar(c: number): boolean {
  return isLetter(c) || (c >= 48 && c <= 57) || c === 95;
}

/**
 * "VERB table" for statements that name a table (SELECT … FROM t, INSERT INTO t, UPDATE t, DELETE FROM t,
 * REPLACE INTO t, ALTER TABLE t), else null — as DeepFlow's MySQL endpoint.
 */
export function sqlEndpoint(sql: string, hashComments = true): string | null {
  const start = skipComments(sql, hashComments);
  if (start < 0) return null;
  const verb = sqlVerb(sql, hashComments);
  if (verb === null) return null;
  let p = start + verb.length;
  let table = '';
  switch (verb) {
    case 'SELECT': {
      const f = findKeyword(sql, 'FROM', p);
      if (f >= 0) table = identifierAt(sql, f);
      break;
    }
    case 'INSERT':
    case 'REPLACE': {
      const w = sqlVerb(sql.slice(p)) ?? '';
      if (w === 'LOW' || w === 'DELAYED' || w === 'HIGH' || w === 'IGNORE') p = findKeyword(sql, w, p);
      const into = findKeyword(sql, 'INTO', p);
      table = identifierAt(sql, into >= 0 ? into : p);
      break;
    }
    case 'UPDATE': {
      const w = sqlVerb(sql.slice(p)) ?? '';
      if (w === 'LOW' || w === 'IGNORE' || w === 'ONLY') p = findKeyword(sql, w === 'LOW' ? 'LOW_PRIORITY' : w, p);
      table = identifierAt(sql, p < 0 ? start + 6 : p);
      break;
    }
    case 'DELETE': {
      const f = findKeyword(sql, 'FROM', p);
      if (f >= 0) table = identifierAt(sql, f);
      break;
    }
    case 'ALTER': {
      const t = findKeyword(sql, 'TABLE', p);
      if (t >= 0) table = identifierAt(sql, t);
      break;
    }
    default:
      return null;
  }
  if (table.length === 0 || table.endsWith('.')) return null;
  return `${verb} ${table}`;
}

/**
 * Trace context from comments in the SQL text: the first of traceparent, sw8, b3, uber-trace-id found
 * as `key=value` or `key: value` (value optionally quoted, sqlcommenter URL-encoding undone).
 * Null when none (most statements): the scan is one indexOf for a comment opener.
 */
export function sqlTrace(sql: string): TraceIds | null {
  if (sql.indexOf('/*') < 0 && sql.indexOf('--') < 0 && sql.indexOf('#') < 0) return null;
  const lower = sql.length > 8192 ? sql.slice(0, 8192).toLowerCase() : sql.toLowerCase();
  const keys: [string, (v: string) => TraceIds | null][] = [
    ['traceparent', fromTraceparent],
    ['sw8', fromSw8],
    ['b3', fromB3Single],
    ['uber-trace-id', fromUber],
  ];
  for (const [key, decode] of keys) {
    let at = lower.indexOf(key);
    while (at >= 0) {
      const before = at > 0 ? lower.charCodeAt(at - 1) : 32;
      let i = at + key.length;
      if (!isWordChar(before) && before !== 0x2d) {
        while (i < lower.length && lower.charCodeAt(i) === 32) i++;
        if (lower[i] === '=' || lower[i] === ':') {
          i++;
          while (i < lower.length && lower.charCodeAt(i) === 32) i++;
          let v: string;
          const q = sql[i];
          if (q === "'" || q === '"') {
            const e = sql.indexOf(q, i + 1);
            v = e < 0 ? '' : sql.slice(i + 1, e);
          } else {
            let e = i;
            while (e < sql.length && sql.charCodeAt(e) > 32 && sql[e] !== ',' && !sql.startsWith('*/', e)) e++;
            v = sql.slice(i, e);
          }
          if (v.includes('%')) {
            try {
              v = decodeURIComponent(v);
            } catch {
              // not URL-encoded after all: keep as is
            }
          }
          const ids = v.length > 0 ? decode(v) : null;
          if (ids !== null) return ids;
        }
      }
      at = lower.indexOf(key, at + key.length);
    }
  }
  return null;
}
