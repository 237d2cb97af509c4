// A sortable table of aggregated rows (RED, network): sorting is the server's (onSort hands the
// field back), rows are few (limit-capped), so no virtualization. Keyboard: Tab reaches the table,
// ↑/↓/Home/End move between rows, Enter opens the row.

import { useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { SortSpec } from '../../../shared/views';

export interface Column<Row> {
  key: string;
  label: string;
  /** Sort/filter field (snake_case); not sortable when omitted. */
  field?: string;
  numeric?: boolean;
  render: (row: Row) => ReactNode;
  /** Plain value for export. */
  value: (row: Row) => unknown;
  title?: string;
}

export function SortHeader(props: { label: string; field?: string; sort: SortSpec | undefined; onSort?: (sort: SortSpec) => void; numeric?: boolean; title?: string }) {
  const { field, sort, onSort } = props;
  const active = field !== undefined && sort?.field === field;
  const ariaSort = active ? (sort?.desc ? 'descending' : 'ascending') : undefined;
  if (!field || !onSort) {
    return (
      <th scope="col" className={props.numeric ? 'num' : undefined} title={props.title}>
        {props.label}
      </th>
    );
  }
  return (
    <th scope="col" className={props.numeric ? 'num' : undefined} aria-sort={ariaSort} title={props.title}>
      <button
        type="button"
        className="th-button"
        onClick={() => onSort({ field, desc: active ? !sort?.desc : props.numeric === true })}
      >
        {props.label}
        <span className="sort-mark" aria-hidden="true">{active ? (sort?.desc ? '▼' : '▲') : ''}</span>
      </button>
    </th>
  );
}

export function DataTable<Row>(props: {
  label: string;
  columns: Column<Row>[];
  rows: Row[];
  rowKey: (row: Row) => string;
  sort?: SortSpec;
  onSort?: (sort: SortSpec) => void;
  onOpen?: (row: Row) => void;
  selectedKey?: string | null;
}) {
  const { columns, rows, rowKey, onOpen } = props;
  const [focus, setFocus] = useState(0);
  const body = useRef<HTMLTableSectionElement>(null);

  const move = (index: number) => {
    const clamped = Math.max(0, Math.min(rows.length - 1, index));
    setFocus(clamped);
    (body.current?.children[clamped] as HTMLElement | undefined)?.focus();
  };
  const onKey = (event: KeyboardEvent, index: number, row: Row) => {
    if (event.key === 'ArrowDown') move(index + 1);
    else if (event.key === 'ArrowUp') move(index - 1);
    else if (event.key === 'Home') move(0);
    else if (event.key === 'End') move(rows.length - 1);
    else if (event.key === 'Enter' && onOpen) onOpen(row);
    else return;
    event.preventDefault();
  };

  return (
    <div className="table-wrap">
      <table className="data-table" aria-label={props.label} aria-rowcount={rows.length + 1}>
        <thead>
          <tr>
            {columns.map((c) => (
              <SortHeader key={c.key} label={c.label} field={c.field} sort={props.sort} onSort={props.onSort} numeric={c.numeric} title={c.title} />
            ))}
          </tr>
        </thead>
        <tbody ref={body}>
          {rows.map((row, index) => {
            const key = rowKey(row);
            return (
              <tr
                key={key}
                tabIndex={index === Math.min(focus, rows.length - 1) ? 0 : -1}
                aria-selected={props.selectedKey === key}
                className={props.selectedKey === key ? 'selected' : undefined}
                onClick={() => {
                  setFocus(index);
                  onOpen?.(row);
                }}
                onKeyDown={(event) => onKey(event, index, row)}
              >
                {columns.map((c) => (
                  <td key={c.key} className={c.numeric ? 'num' : undefined}>
                    {c.render(row)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
