// The network table: per server or per client → server pair, the transport's side of things —
// flows, packets, bytes, retransmissions, failed connections and transfers, RTT and SRT.

import type { FilterClause, NetworkRow, SortSpec } from '../../../shared/views';
import { DataTable, type Column } from '../components/DataTable';
import { ExportButtons } from '../components/ExportButtons';
import { FilterBar } from '../components/FilterBar';
import { FLOW_FIELDS } from './logs';
import { formatBytes, formatCount, formatMaybeDuration, formatRatio } from '../format';

export type NetworkGroupBy = 'service' | 'edge';

function columnsFor(groupBy: NetworkGroupBy): Column<NetworkRow>[] {
  const cols: Column<NetworkRow>[] = [];
  if (groupBy === 'edge') cols.push({ key: 'client', label: 'Client', field: 'client', render: (r) => r.client ?? '—', value: (r) => r.client });
  cols.push(
    { key: 'server', label: 'Server', field: 'server', render: (r) => r.server, value: (r) => r.server },
    { key: 'protocol', label: 'Protocol', field: 'protocol', render: (r) => (r.serverPort ? `${r.protocol}:${r.serverPort}` : r.protocol), value: (r) => r.protocol },
    { key: 'flows', label: 'Flows', field: 'flows', numeric: true, render: (r) => formatCount(r.flows), value: (r) => r.flows },
    { key: 'packets', label: 'Packets', field: 'packets', numeric: true, render: (r) => formatCount(r.packets), value: (r) => r.packets },
    { key: 'bytes', label: 'Bytes', field: 'bytes', numeric: true, render: (r) => formatBytes(r.bytes), value: (r) => r.bytes },
    { key: 'retrans', label: 'Retrans %', field: 'retransRatio', numeric: true, render: (r) => formatRatio(r.retransRatio), value: (r) => r.retransRatio },
    { key: 'connFail', label: 'Conn. failures', field: 'connectionFailures', numeric: true, render: (r) => formatCount(r.connectionFailures), value: (r) => r.connectionFailures },
    { key: 'xferFail', label: 'Transfer failures', field: 'transferFailures', numeric: true, render: (r) => formatCount(r.transferFailures), value: (r) => r.transferFailures },
    { key: 'rtt', label: 'RTT avg', field: 'rttAvg', numeric: true, render: (r) => formatMaybeDuration(r.rttAvg), value: (r) => r.rttAvg },
    { key: 'srt', label: 'SRT avg', field: 'srtAvg', numeric: true, render: (r) => formatMaybeDuration(r.srtAvg), value: (r) => r.srtAvg },
  );
  return cols;
}

const rowKey = (r: NetworkRow) => [r.client ?? '', r.server, r.protocol, r.serverPort ?? ''].join('|');

export function NetworkView(props: {
  groupBy: NetworkGroupBy;
  onGroupBy: (g: NetworkGroupBy) => void;
  rows: NetworkRow[] | null;
  error: string | null;
  sort: SortSpec;
  onSort: (s: SortSpec) => void;
  search: string;
  onSearch: (s: string) => void;
  /** Clauses over the flows's fields, ANDed with the search. */
  filter: FilterClause[];
  onFilter: (f: FilterClause[]) => void;
  onDrill: (filter: FilterClause[]) => void;
}) {
  const columns = columnsFor(props.groupBy);
  const rows = props.rows ?? [];
  return (
    <section className="view view--network" aria-label="Network">
      <div className="view__toolbar">
        <div role="tablist" aria-label="Group network by" className="segmented">
          {(['service', 'edge'] as const).map((g) => (
            <button key={g} type="button" role="tab" aria-selected={props.groupBy === g} className={props.groupBy === g ? 'segmented__on' : undefined} onClick={() => props.onGroupBy(g)}>
              {g === 'service' ? 'Servers' : 'Client → server'}
            </button>
          ))}
        </div>
        <input type="search" placeholder="Filter by server name…" aria-label="Filter network rows by server" value={props.search} onChange={(e) => props.onSearch(e.target.value)} />
        <FilterBar label="Filter network rows" fields={FLOW_FIELDS} filter={props.filter} onChange={props.onFilter} />
        <span className="toolbar__spacer" />
        <span className="muted" data-testid="network-count">
          {formatCount(rows.length)} rows · {formatCount(rows.reduce((s, r) => s + r.flows, 0))} flows
        </span>
        <ExportButtons name={`flowscope-network-${props.groupBy}`} columns={columns.map((c) => ({ label: c.label, value: c.value }))} rows={() => rows} disabled={rows.length === 0} />
      </div>
      <div className="view__body">
        <div className="view__main view__main--scroll">
          {props.error ? (
            <p className="notice notice--error" role="alert">{props.error}</p>
          ) : props.rows && rows.length === 0 ? (
            <div className="empty-state empty-state--inline">
              <h2>No flows {props.search ? 'to servers matching this filter' : 'in this window'}</h2>
              <p className="muted">Widen the time window (Reset above the chart), clear the filter, or open a capture.</p>
            </div>
          ) : (
            <DataTable
              label={`Network by ${props.groupBy}`}
              columns={columns}
              rows={rows}
              rowKey={rowKey}
              sort={props.sort}
              onSort={props.onSort}
              onOpen={(r) =>
                props.onDrill([
                  ...(r.client ? [{ field: 'client_node', op: '=' as const, value: r.client }] : []),
                  { field: 'server_node', op: '=', value: r.server },
                  ...(r.serverPort !== undefined ? [{ field: 'server_port', op: '=' as const, value: r.serverPort }] : []),
                ])
              }
            />
          )}
          {rows.length > 0 && <p className="muted table-hint">Click a row (or Enter) to open its flows.</p>}
        </div>
      </div>
    </section>
  );
}
