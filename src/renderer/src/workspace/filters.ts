// Filter bar chips ↔ FilterClause[] (views.ts). Values typed in a text box become numbers for
// numeric fields and lists for `in`.

import type { FilterClause, FilterOp } from '../../../shared/views';

export interface FilterField {
  field: string;
  label: string;
  numeric: boolean;
  /** Known values, offered as suggestions. */
  values?: readonly string[];
}

export const STRING_OPS: FilterOp[] = ['=', '!=', 'contains', 'in'];
export const NUMBER_OPS: FilterOp[] = ['=', '!=', '<', '<=', '>', '>=', 'in'];

/** Builds a clause from what the user typed; an error message when the value does not fit. */
export function makeClause(field: FilterField, op: FilterOp, text: string): FilterClause | string {
  const raw = text.trim();
  if (raw === '') return 'Type a value first';
  const parse = (part: string): string | number | null => {
    if (!field.numeric) return part;
    const n = Number(part);
    return Number.isFinite(n) ? n : null;
  };
  if (op === 'in') {
    const parts = raw.split(',').map((p) => p.trim()).filter((p) => p !== '');
    const values = parts.map(parse);
    if (values.some((v) => v === null)) return `${field.label} takes numbers`;
    return { field: field.field, op, value: values as (string | number)[] };
  }
  const value = parse(raw);
  if (value === null) return `${field.label} takes a number`;
  return { field: field.field, op, value };
}

export function clauseText(clause: FilterClause, label = clause.field): string {
  const value = Array.isArray(clause.value) ? clause.value.join(', ') : String(clause.value);
  return `${label} ${clause.op} ${value}`;
}
