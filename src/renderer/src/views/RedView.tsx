// RED tables: per service, per endpoint, per edge (client → server). Sorting and filtering run in the
// engine; each row has a sparkline of requests across the window. Opening a row shows its requests.

import { useState } from 'react';
import type { FilterClause, RedGroupBy, RedRow, RedTable, SortSpec } from '../../../shared/views';
import { DataTable, type Column } from '../components/DataTable';
import { ExportButtons } from '../components/ExportButtons';
import { FilterBar } from '../components/FilterBar';
import { REQUEST_FIELDS } from './logs';
import { Sparkline } from '../components/Sparkline';
import { formatCount, formatMaybeDuration, formatRate, formatRatio } from '../format';
import { healthOf } from '../workspace/health';

export const RED_TABS: { id: RedGroupBy; label: string }[] = [
  { id: 'service', label: 'Services' },
  { id: 'endpoint', label: 'Endpoints' },
  { id: 'edge', label: 'Edges' },
];

function columnsFor(groupBy: RedGroupBy): Column<RedRow>[] {
  const cols: Column<RedRow>[] = [];
  if (groupBy === 'edge') cols.push({ key: 'client', label: 'Client', field: 'client', render: (r) => r.client ?? '—', value: (r) => r.client });
  cols.push({
    key: 'server',
    label: 'Server',
    field: 'server',
    render: (r) => (
      <>
        <span className={`dot dot--${healthOf(r)}`} aria-hidden="true" /> {r.server}
      </>
    ),
    value: (r) => r.server,
  });
  if (groupBy === 'endpoint') cols.push({ key: 'endpoint', label: 'Endpoint', field: 'endpoint', render: (r) => r.endpoint ?? '—', value: (r) => r.endpoint });
  cols.push(
    { key: 'protocol', label: 'Protocol', field: 'protocol', render: (r) => (r.serverPort ? `${r.protocol}:${r.serverPort}` : r.protocol), value: (r) => r.protocol },
    { key: 'requests', label: 'Requests', field: 'requests', numeric: true, render: (r) => formatCount(r.requests), value: (r) => r.requests },
    { key: 'rate', label: 'Rate (rps)', field: 'rate', numeric: true, render: (r) => formatRate(r.rate), value: (r) => r.rate },
    { key: 'spark', label: 'Trend', render: (r) => <Sparkline values={r.spark} label={`Requests over time for ${r.server}`} />, value: (r) => r.spark },
    { key: 'clientErrors', label: '4xx / client', field: 'clientErrors', numeric: true, render: (r) => formatCount(r.clientErrors), value: (r) => r.clientErrors, title: 'Client errors' },
    { key: 'serverErrors', label: '5xx / server', field: 'serverErrors', numeric: true, render: (r) => formatCount(r.serverErrors), value: (r) => r.serverErrors, title: 'Server errors' },
    { key: 'timeouts', label: 'Timeouts', field: 'timeouts', numeric: true, render: (r) => formatCount(r.timeouts), value: (r) => r.timeouts },
    { key: 'errorRatio', label: 'Error %', field: 'errorRatio', numeric: true, render: (r) => formatRatio(r.errorRatio), value: (r) => r.errorRatio },
    { key: 'p50', label: 'p50', field: 'durationP50', numeric: true, render: (r) => formatMaybeDuration(r.durationP50), value: (r) => r.durationP50 },
    { key: 'p90', label: 'p90', field: 'durationP90', numeric: true, render: (r) => formatMaybeDuration(r.durationP90), value: (r) => r.durationP90 },
    { key: 'p99', label: 'p99', field: 'durationP99', numeric: true, render: (r) => formatMaybeDuration(r.durationP99), value: (r) => r.durationP99 },
  );
  return cols;
}

export function redRowKey(r: RedRow): string {
  return [r.client ?? '', r.server, r.protocol, r.serverPort ?? '', r.endpoint ?? ''].join('|');
}

/** The request-log filter for a RED row. */
export function drillFilter(groupBy: RedGroupBy, r: RedRow): FilterClause[] {
  const f: FilterClause[] = [{ field: 'server_node', op: '=', value: r.server }, { field: 'l7_protocol', op: '=', value: r.protocol }];
  if (groupBy === 'edge' && r.client) f.unshift({ field: 'client_node', op: '=', value: r.client });
  if (r.serverPort !== undefined) f.push({ field: 'server_port', op: '=', value: r.serverPort });
  if (groupBy === 'endpoint' && r.endpoint) f.push({ field: 'endpoint', op: '=', value: r.endpoint });
  return f;
}

export function RedView(props: {
  groupBy: RedGroupBy;
  onGroupBy: (g: RedGroupBy) => void;
  table: RedTable | null;
  error: string | null;
  sort: SortSpec;
  onSort: (s: SortSpec) => void;
  search: string;
  onSearch: (s: string) => void;
  /** Clauses over the requests's fields, ANDed with the search. */
  filter: FilterClause[];
  onFilter: (f: FilterClause[]) => void;
  onDrill: (filter: FilterClause[]) => void;
}) {
  const { groupBy, table } = props;
  const [selected, setSelected] = useState<string | null>(null);
  const columns = columnsFor(groupBy);
  const rows = table?.rows ?? [];
  return (
    <section className="view view--red" aria-label="RED">
      <div className="view__toolbar">
        <div role="tablist" aria-label="Group RED by" className="segmented">
          {RED_TABS.map((t) => (
            <button key={t.id} type="button" role="tab" aria-selected={groupBy === t.id} className={groupBy === t.id ? 'segmented__on' : undefined} onClick={() => props.onGroupBy(t.id)}>
              {t.label}
            </button>
          ))}
        </div>
        <input type="search" placeholder="Filter by server name…" aria-label="Filter RED rows by server" value={props.search} onChange={(e) => props.onSearch(e.target.value)} />
        <FilterBar label="Filter RED rows" fields={REQUEST_FIELDS} filter={props.filter} onChange={props.onFilter} />
        <span className="toolbar__spacer" />
        <span className="muted" data-testid="red-count">
          {formatCount(rows.length)} rows · {formatCount(rows.reduce((s, r) => s + r.requests, 0))} requests
        </span>
        <ExportButtons name={`flowscope-red-${groupBy}`} columns={columns.map((c) => ({ label: c.label, value: c.value }))} rows={() => rows} disabled={rows.length === 0} />
      </div>
      <div className="view__body">
        <div className="view__main view__main--scroll">
          {props.error ? (
            <p className="notice notice--error" role="alert">{props.error}</p>
          ) : table && rows.length === 0 ? (
            <div className="empty-state empty-state--inline">
              <h2>No requests {props.search ? 'from servers matching this filter' : 'in this window'}</h2>
              <p className="muted">RED needs application requests (HTTP, DNS, …). Widen the time window, clear the filter, or open a capture with such traffic.</p>
            </div>
          ) : (
            <DataTable
              label={`RED by ${groupBy}`}
              columns={columns}
              rows={rows}
              rowKey={redRowKey}
              sort={props.sort}
              onSort={props.onSort}
              selectedKey={selected}
              onOpen={(r) => {
                setSelected(redRowKey(r));
                props.onDrill(drillFilter(groupBy, r));
              }}
            />
          )}
          {rows.length > 0 && <p className="muted table-hint">Click a row (or Enter) to open its requests.</p>}
        </div>
      </div>
    </section>
  );
}
