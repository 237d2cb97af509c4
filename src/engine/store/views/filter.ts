// FilterClause[] → a parameterised SQL condition. Only columns of an allow-list may be named (the
// field text never reaches SQL: it selects a column name from the list); every value is bound as a
// parameter. Anything else is refused with a message saying what was wrong.
import { ApiError } from '../../../shared/api';
import {
  FLOW_FILTER_FIELDS,
  REQUEST_FILTER_FIELDS,
  type FilterClause,
  type SortSpec,
} from '../../../shared/views';
import { camel, type Params } from './sql';

export type ColumnType = 'number' | 'text' | 'boolean';

/** A row type's filterable columns: field → SQL column of the view's row set and its type. */
export interface ColumnSet {
  name: string;
  columns: ReadonlyMap<string, ColumnType>;
  /** Property name (camelCase) → column. */
  aliases: ReadonlyMap<string, string>;
}

const REQUEST_TEXT = new Set([
  'observation_point', 'l7_protocol', 'version', 'request_type', 'request_domain', 'request_resource', 'endpoint',
  'response_status', 'response_exception', 'response_result', 'trace_id', 'span_id', 'parent_span_id',
  'x_request_id_0', 'x_request_id_1', 'client_ip', 'server_ip', 'signal_source', 'client_node', 'server_node',
]);
const FLOW_TEXT = new Set([
  'observation_point', 'client_ip', 'server_ip', 'tunnel_type', 'tunnel_outer_src', 'tunnel_outer_dst', 'l7_protocol',
  'client_node', 'server_node',
]);

function columnSet(name: string, fields: readonly string[], text: Set<string>, booleans: Set<string>): ColumnSet {
  const columns = new Map<string, ColumnType>();
  const aliases = new Map<string, string>();
  for (const f of fields) {
    columns.set(f, text.has(f) ? 'text' : booleans.has(f) ? 'boolean' : 'number');
    aliases.set(camel(f), f);
  }
  return { name, columns, aliases };
}

export const REQUEST_COLUMNS = columnSet('request', REQUEST_FILTER_FIELDS, REQUEST_TEXT, new Set());
export const FLOW_COLUMNS = columnSet('flow', FLOW_FILTER_FIELDS, FLOW_TEXT, new Set(['handshake_seen']));

/** The column a field names, or an ApiError listing what is allowed. */
export function columnOf(set: ColumnSet, field: unknown, what: string): string {
  if (typeof field === 'string') {
    if (set.columns.has(field)) return field;
    const aliased = set.aliases.get(field);
    if (aliased !== undefined) return aliased;
  }
  throw new ApiError(
    'bad_request',
    `${what}: unknown ${set.name} field ${JSON.stringify(field)}; one of: ${[...set.columns.keys()].join(', ')}`,
  );
}

/** The columns clauses (and a sort) name, for views that must fetch them. */
export function columnsNamed(set: ColumnSet, clauses: readonly FilterClause[] | undefined, what: string, sort?: SortSpec): string[] {
  const out = (clauses ?? []).map((c) => columnOf(set, c.field, what));
  if (sort) out.push(columnOf(set, sort.field, what));
  return out;
}

const NUMERIC = /^-?\d+(\.\d+)?$/;

function bindValue(params: Params, type: ColumnType, value: unknown, column: string, what: string): string {
  if (type === 'number') {
    const n = typeof value === 'number' ? value : typeof value === 'string' && NUMERIC.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isFinite(n)) throw new ApiError('bad_request', `${what}: ${column} takes numbers, not ${JSON.stringify(value)}`);
    return params.p(n);
  }
  if (type === 'boolean') {
    if (value === true || value === 'true') return params.p(true);
    if (value === false || value === 'false') return params.p(false);
    throw new ApiError('bad_request', `${what}: ${column} takes true or false, not ${JSON.stringify(value)}`);
  }
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new ApiError('bad_request', `${what}: ${column} takes text, not ${JSON.stringify(value)}`);
  }
  return params.p(String(value));
}

export const MAX_IN_VALUES = 1000;

/** One SQL condition for all clauses (AND); 'TRUE' when there is none. `alias` prefixes columns. */
export function filterSql(params: Params, clauses: readonly FilterClause[] | undefined, set: ColumnSet, what: string, alias = ''): string {
  if (clauses === undefined || clauses.length === 0) return 'TRUE';
  const parts = clauses.map((c) => {
    const column = columnOf(set, c.field, what);
    const type = set.columns.get(column)!;
    const col = `${alias}${column}`;
    switch (c.op) {
      case 'in': {
        if (!Array.isArray(c.value) || c.value.length === 0 || c.value.length > MAX_IN_VALUES) {
          throw new ApiError('bad_request', `${what}: 'in' takes a list of 1 to ${MAX_IN_VALUES} values`);
        }
        return `${col} IN (${c.value.map((v) => bindValue(params, type, v, column, what)).join(', ')})`;
      }
      case 'contains':
        if (type !== 'text') throw new ApiError('bad_request', `${what}: 'contains' applies to text fields, not ${column}`);
        if (Array.isArray(c.value)) throw new ApiError('bad_request', `${what}: 'contains' takes one value`);
        return `contains(${col}, ${bindValue(params, type, c.value, column, what)})`;
      case '=':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=': {
        if (Array.isArray(c.value)) throw new ApiError('bad_request', `${what}: '${c.op}' takes one value (use 'in' for a list)`);
        const v = bindValue(params, type, c.value, column, what);
        return c.op === '!=' ? `${col} IS DISTINCT FROM ${v}` : `${col} ${c.op} ${v}`;
      }
      default:
        throw new ApiError('bad_request', `${what}: unknown operator ${JSON.stringify((c as { op: unknown }).op)}`);
    }
  });
  return parts.map((p) => `(${p})`).join(' AND ');
}

/** ORDER BY text for a log: the named column (allow-listed), then the row's id so pages are stable. */
export function orderSql(set: ColumnSet, sort: SortSpec | undefined, idColumn: string, what: string, alias = ''): string {
  if (sort === undefined) return `${alias}start_time, ${alias}${idColumn}`;
  const column = columnOf(set, sort.field, what);
  return `${alias}${column} ${sort.desc ? 'DESC' : 'ASC'} NULLS LAST, ${alias}${idColumn}${sort.desc ? ' DESC' : ''}`;
}

/** Parses the CLI's "field op value" text into a clause: `response_status in (client_error, server_error)`. */
export function parseFilterText(text: string): FilterClause {
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|!=|=|<|>|\bcontains\b|\bin\b)\s*([\s\S]*?)\s*$/i.exec(text);
  if (!m) throw new Error(`cannot read filter ${JSON.stringify(text)}: expected "field op value" (op: = != < <= > >= contains in)`);
  const op = m[2].toLowerCase() as FilterClause['op'];
  const raw = m[3];
  const unquote = (s: string): string => {
    const t = s.trim();
    return /^(['"]).*\1$/s.test(t) ? t.slice(1, -1) : t;
  };
  if (op === 'in') {
    const inner = /^\((.*)\)$/s.exec(raw.trim());
    const items = (inner ? inner[1] : raw).split(',').map(unquote).filter((s) => s.length > 0);
    if (items.length === 0) throw new Error(`filter ${JSON.stringify(text)}: 'in' needs values, e.g. in (a, b)`);
    return { field: m[1], op, value: items };
  }
  const value = unquote(raw);
  if (value.length === 0) throw new Error(`filter ${JSON.stringify(text)}: no value`);
  return { field: m[1], op, value };
}
