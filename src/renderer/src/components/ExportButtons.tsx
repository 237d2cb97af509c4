import { download, toCsv, toJson, type ExportColumn } from '../workspace/export';

/** CSV and JSON export of a table's visible columns; `rows` may be fetched on demand (logs). */
export function ExportButtons<Row>(props: { name: string; columns: ExportColumn<Row>[]; rows: () => Promise<readonly Row[]> | readonly Row[]; disabled?: boolean }) {
  const run = async (format: 'csv' | 'json') => {
    const rows = await props.rows();
    if (format === 'csv') download(`${props.name}.csv`, toCsv(props.columns, rows), 'text/csv');
    else download(`${props.name}.json`, toJson(props.columns, rows), 'application/json');
  };
  return (
    <span className="export-buttons">
      <button type="button" className="button button--small" disabled={props.disabled} onClick={() => void run('csv')}>
        Export CSV
      </button>
      <button type="button" className="button button--small" disabled={props.disabled} onClick={() => void run('json')}>
        Export JSON
      </button>
    </span>
  );
}
