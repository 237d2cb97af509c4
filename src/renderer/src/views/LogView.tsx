// One log view (requests or flows): filter bar, column chooser, export, the virtualized table and
// the details panel of the row clicked.

import { useCallback, useState, type ReactNode } from 'react';
import type { FilterClause, LogPage, LogRequest, SortSpec } from '../../../shared/views';
import { ColumnChooser, useColumnChoice } from '../components/ColumnChooser';
import { ExportButtons } from '../components/ExportButtons';
import { FilterBar, type FilterPreset } from '../components/FilterBar';
import { LogTable, type LogColumn } from '../components/LogTable';
import { Facts, SidePanel } from '../components/SidePanel';
import { formatCount } from '../format';
import type { FilterField } from '../workspace/filters';

export interface DetailGroup {
  title: string;
  keys: string[];
}

export function LogView<Row extends object>(props: {
  kind: 'requests' | 'flows';
  noun: string;
  scopeKey: string;
  columns: LogColumn<Row>[];
  fields: FilterField[];
  presets: FilterPreset[];
  filter: FilterClause[];
  onFilter: (filter: FilterClause[]) => void;
  fetchPage: (request: LogRequest) => Promise<LogPage<Row>>;
  rowKey: (row: Row) => string;
  detailTitle: (row: Row) => string;
  detailGroups: DetailGroup[];
  /** Shown at the top of the details panel (the request's network path). */
  detailExtra?: (row: Row) => ReactNode;
  formatField: (key: string, value: unknown) => ReactNode;
  defaultSort: SortSpec;
  empty: ReactNode;
}) {
  const { columns, fetchPage, filter } = props;
  const [visible, setVisible] = useColumnChoice(`flowscope.columns.${props.kind}`, columns.filter((c) => c.initial).map((c) => c.key));
  const [sort, setSort] = useState<SortSpec>(props.defaultSort);
  const [open, setOpen] = useState<Row | null>(null);
  const [total, setTotal] = useState<number | null>(null);
  // One row per request / connection (the hop RED counts) unless the user asks for every hop.
  const [allHops, setAllHops] = useState(false);
  const fetchRows = useCallback((request: LogRequest) => fetchPage({ ...request, allHops }), [fetchPage, allHops]);
  const close = useCallback(() => setOpen(null), []);
  const shown = columns.filter((c) => visible.includes(c.key));

  const exportRows = async () => (await fetchRows({ filter, sort, offset: 0, limit: 1000 })).rows;

  return (
    <section className="view view--log" aria-label={props.noun}>
      <div className="view__toolbar">
        <FilterBar label={`Filter ${props.kind}`} fields={props.fields} filter={filter} onChange={props.onFilter} presets={props.presets} />
        <span className="toolbar__spacer" />
        <span className="muted" data-testid={`${props.kind}-total`}>
          {total === null ? '—' : `${formatCount(total)} ${props.kind === 'requests' ? (total === 1 ? 'request' : 'requests') : total === 1 ? 'flow' : 'flows'}`}
        </span>
        <label className="toggle">
          <input type="checkbox" checked={allHops} onChange={(e) => setAllHops(e.target.checked)} /> Every hop
        </label>
        <ColumnChooser columns={columns} visible={visible} onChange={setVisible} />
        <ExportButtons name={`flowscope-${props.kind}`} columns={shown.map((c) => ({ label: c.label, value: c.value }))} rows={exportRows} disabled={!total} />
      </div>
      <div className="view__body">
        <div className="view__main">
          <LogTable
            label={props.noun}
            scopeKey={`${props.scopeKey}|${allHops}`}
            columns={columns}
            visible={visible}
            filter={filter}
            sort={sort}
            onSort={setSort}
            fetchPage={fetchRows}
            onOpen={setOpen}
            openKey={open ? props.rowKey(open) : null}
            rowKey={props.rowKey}
            onTotal={setTotal}
            empty={props.empty}
          />
        </div>
        {open && (
          <SidePanel title={props.detailTitle(open)} onClose={close} testId={`${props.kind}-details`}>
            {props.detailExtra?.(open)}
            <RowDetails row={open} groups={props.detailGroups} formatField={props.formatField} />
          </SidePanel>
        )}
      </div>
    </section>
  );
}

function RowDetails<Row extends object>(props: { row: Row; groups: DetailGroup[]; formatField: (key: string, value: unknown) => ReactNode }) {
  const entries = Object.entries(props.row) as [string, unknown][];
  const grouped = new Set(props.groups.flatMap((g) => g.keys));
  const rest = entries.filter(([k]) => !grouped.has(k));
  const record = props.row as Record<string, unknown>;
  return (
    <>
      {props.groups.map((group) => (
        <section key={group.title} className="details-group">
          <h3>{group.title}</h3>
          <Facts label={group.title} items={group.keys.filter((k) => k in record).map((k) => [k, props.formatField(k, record[k])])} />
        </section>
      ))}
      <section className="details-group">
        <h3>All other fields</h3>
        <Facts label="All other fields" items={rest.map(([k, v]) => [k, props.formatField(k, v)])} />
      </section>
    </>
  );
}
