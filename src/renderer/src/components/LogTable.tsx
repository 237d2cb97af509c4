// A virtualized log (requests, flows) over server-side pages: only the rows on screen are rendered
// (@tanstack/react-virtual) and only the pages they fall in are fetched (LogRequest offset/limit),
// so a log of millions scrolls like one of fifty. Sorting and filtering are the engine's.
// Keyboard: the grid takes focus with Tab; ↑/↓/PageUp/PageDown/Home/End move the active row, Enter
// opens its details, Esc closes them.

import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { FilterClause, LogPage, LogRequest, SortSpec } from '../../../shared/views';

export const PAGE_SIZE = 200;
const ROW_HEIGHT = 28;

export interface LogColumn<Row> {
  key: string;
  label: string;
  /** Sort field (snake_case); not sortable when omitted. */
  field?: string;
  numeric?: boolean;
  width: number;
  render: (row: Row) => ReactNode;
  value: (row: Row) => unknown;
  /** Shown before the user chooses columns. */
  initial: boolean;
}

interface Pages<Row> {
  key: string;
  total: number | null;
  rows: Map<number, Row[]>;
  error: string | null;
}

export function LogTable<Row>(props: {
  label: string;
  /** Changes whenever the scope (window, captures, data) changes: everything is refetched. */
  scopeKey: string;
  columns: LogColumn<Row>[];
  visible: string[];
  filter: FilterClause[];
  sort: SortSpec | undefined;
  onSort: (sort: SortSpec) => void;
  fetchPage: (request: LogRequest) => Promise<LogPage<Row>>;
  onOpen: (row: Row | null) => void;
  openKey: string | null;
  rowKey: (row: Row) => string;
  onTotal?: (total: number | null) => void;
  empty: ReactNode;
}) {
  const { fetchPage, onOpen, onTotal } = props;
  const columns = props.columns.filter((c) => props.visible.includes(c.key));
  const queryKey = JSON.stringify([props.scopeKey, props.filter, props.sort]);
  const [pages, setPages] = useState<Pages<Row>>({ key: queryKey, total: null, rows: new Map(), error: null });
  const inFlight = useRef(new Set<string>());
  const [active, setActive] = useState(-1);
  const scroller = useRef<HTMLDivElement>(null);

  const current = pages.key === queryKey ? pages : { key: queryKey, total: null, rows: new Map<number, Row[]>(), error: null };

  const load = useCallback(
    (page: number) => {
      const flightKey = `${queryKey}#${page}`;
      if (inFlight.current.has(flightKey)) return;
      inFlight.current.add(flightKey);
      fetchPage({ filter: props.filter, sort: props.sort, offset: page * PAGE_SIZE, limit: PAGE_SIZE }).then(
        (result) =>
          setPages((prev) => {
            const base = prev.key === queryKey ? prev : { key: queryKey, total: null, rows: new Map<number, Row[]>(), error: null };
            const rows = new Map(base.rows);
            rows.set(page, result.rows);
            return { key: queryKey, total: result.total, rows, error: null };
          }),
        (err: unknown) =>
          setPages({ key: queryKey, total: 0, rows: new Map(), error: err instanceof Error ? err.message : String(err) }),
      );
    },
    // fetchPage, filter and sort are captured through queryKey.
    [queryKey],
  );

  // A new query: forget the old pages, start again at the top.
  useEffect(() => {
    inFlight.current.clear();
    setActive(-1);
    scroller.current?.scrollTo({ top: 0 });
    load(0);
  }, [queryKey, load]);

  // An error leaves the count unknown, not zero.
  useEffect(() => onTotal?.(current.error ? null : current.total), [current.total, current.error, onTotal]);

  const virtualizer = useVirtualizer({
    count: current.total ?? 0,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 20,
  });
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;

  useEffect(() => {
    if (current.total === null || current.total === 0) return;
    for (let page = Math.floor(first / PAGE_SIZE); page <= Math.floor(last / PAGE_SIZE); page++) {
      if (!current.rows.has(page)) load(page);
    }
  }, [first, last, current.total, current.rows, load]);

  const rowAt = useCallback((index: number): Row | undefined => current.rows.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE], [current.rows]);
  const width = useMemo(() => columns.reduce((sum, c) => sum + c.width, 0), [columns]);

  const moveTo = (index: number) => {
    const total = current.total ?? 0;
    if (total === 0) return;
    const next = Math.max(0, Math.min(total - 1, index));
    setActive(next);
    virtualizer.scrollToIndex(next, { align: 'auto' });
    const row = rowAt(next);
    if (row && props.openKey !== null) onOpen(row);
  };
  const onKey = (event: KeyboardEvent) => {
    const page = Math.max(1, Math.floor((scroller.current?.clientHeight ?? 280) / ROW_HEIGHT) - 1);
    if (event.key === 'ArrowDown') moveTo(active + 1);
    else if (event.key === 'ArrowUp') moveTo(active - 1);
    else if (event.key === 'PageDown') moveTo(active + page);
    else if (event.key === 'PageUp') moveTo(active - page);
    else if (event.key === 'Home') moveTo(0);
    else if (event.key === 'End') moveTo((current.total ?? 1) - 1);
    else if (event.key === 'Enter') {
      const row = rowAt(active);
      if (row) onOpen(row);
    } else return;
    event.preventDefault();
  };

  if (current.error) return <p className="notice notice--error" role="alert">{current.error}</p>;
  if (current.total === 0) return <div className="log-empty">{props.empty}</div>;

  return (
    <div
      className="log-table"
      role="table"
      aria-label={props.label}
      aria-rowcount={(current.total ?? 0) + 1}
      tabIndex={0}
      ref={scroller}
      onKeyDown={onKey}
    >
      <div className="log-table__head" role="row" style={{ width }}>
        {columns.map((c) => (
          <div key={c.key} role="columnheader" className={c.numeric ? 'log-cell num' : 'log-cell'} style={{ width: c.width }}>
            <SortHeaderInline label={c.label} field={c.field} sort={props.sort} onSort={props.onSort} numeric={c.numeric} />
          </div>
        ))}
      </div>
      <div className="log-table__body" style={{ height: virtualizer.getTotalSize(), width }}>
        {items.map((item) => {
          const row = rowAt(item.index);
          const key = row ? props.rowKey(row) : null;
          const classes = ['log-row'];
          if (item.index === active) classes.push('log-row--active');
          if (key !== null && key === props.openKey) classes.push('selected');
          return (
            <div
              key={item.key}
              role="row"
              aria-rowindex={item.index + 2}
              className={classes.join(' ')}
              style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT, width }}
              onClick={() => {
                setActive(item.index);
                if (row) onOpen(row);
              }}
            >
              {row
                ? columns.map((c) => (
                    <div key={c.key} role="cell" className={c.numeric ? 'log-cell num' : 'log-cell'} style={{ width: c.width }}>
                      {c.render(row)}
                    </div>
                  ))
                : <div role="cell" className="log-cell muted">Loading…</div>}
            </div>
          );
        })}
      </div>
    </div>
  );
}

/** The sort header inside a div grid (SortHeader renders a <th>). */
function SortHeaderInline(props: { label: string; field?: string; sort: SortSpec | undefined; onSort: (sort: SortSpec) => void; numeric?: boolean }) {
  const { field, sort } = props;
  if (!field) return <span>{props.label}</span>;
  const active = sort?.field === field;
  return (
    <button type="button" className="th-button" aria-label={`Sort by ${props.label}`} onClick={() => props.onSort({ field, desc: active ? !sort?.desc : props.numeric === true })}>
      {props.label}
      <span className="sort-mark" aria-hidden="true">{active ? (sort?.desc ? '▼' : '▲') : ''}</span>
    </button>
  );
}
