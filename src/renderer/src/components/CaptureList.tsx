import type { ImportProgress } from '../../../shared/api';
import type { CaptureRecord } from '../../../shared/records';
import { summaryFigures, type SummaryState } from '../captures-state';
import { fileName, formatBytes, formatCount, percent } from '../format';

function ImportStatus(props: { record: CaptureRecord; progress: ImportProgress | undefined; onCancel: (importId: string) => void }) {
  const { record, progress, onCancel } = props;
  if (progress?.phase === 'reading') {
    const pct = percent(progress.bytesRead, progress.totalBytes);
    return (
      <div className="capture__status">
        <progress max={100} value={pct} aria-label={`Importing ${fileName(record.source)}`} />
        <span>{pct} %</span>
        <span className="muted" data-testid="import-counts">
          {formatCount(progress.packets)} packets · {formatCount(progress.flows)} flows
        </span>
        <button type="button" className="button button--small" onClick={() => onCancel(progress.importId)}>
          Cancel
        </button>
      </div>
    );
  }
  if (progress?.phase === 'cancelled') return <div className="capture__status muted">Import cancelled</div>;
  if (record.error !== null) return <div className="capture__status notice--error">{record.error}</div>;
  return null;
}

function Summary(props: { summary: SummaryState | undefined }) {
  const { summary } = props;
  if (!summary) return null;
  if (summary.state === 'loading') return <p className="muted">Summarising…</p>;
  if (summary.state === 'unavailable') return <p className="muted">{summary.reason}</p>;
  return (
    <dl className="capture__numbers">
      {summaryFigures(summary.summary).map(({ label, value }) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function CaptureList(props: {
  records: CaptureRecord[];
  progress: Record<number, ImportProgress>;
  summaries: Record<number, SummaryState>;
  onCancel: (importId: string) => void;
}) {
  return (
    <ul className="capture-list" aria-label="Captures">
      {props.records.map((record) => (
        <li key={record.captureId} className="capture" data-capture-id={record.captureId}>
          <div className="capture__head">
            <span className="capture__name" title={record.source}>
              {fileName(record.source)}
            </span>
            <span className="capture__kind">{record.kind}</span>
            <span className="muted">{formatBytes(record.fileBytes)}</span>
          </div>
          <ImportStatus record={record} progress={props.progress[record.captureId]} onCancel={props.onCancel} />
          <Summary summary={props.summaries[record.captureId]} />
        </li>
      ))}
    </ul>
  );
}
