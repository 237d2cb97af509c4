import type { MetadataSource } from '../../../shared/api';
import { fileName } from '../format';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The Kubernetes metadata files whose names the views use, each with what it holds and a way to drop it. */
export function MetadataList(props: { metadata: MetadataSource[]; onRemove: (source: string) => void }) {
  if (props.metadata.length === 0) return null;
  return (
    <section className="metadata-list" aria-label="Kubernetes metadata">
      <h2 className="metadata-list__title">Kubernetes metadata</h2>
      <ul>
        {props.metadata.map((m) => (
          <li key={m.source} className="metadata-list__item">
            <span className="capture__name" title={m.path}>
              {fileName(m.path)}
            </span>
            <span className="muted">
              {plural(m.pods, 'pod')} · {plural(m.services, 'service')} · {plural(m.nodes, 'node')}
            </span>
            <button type="button" className="button button--small" onClick={() => props.onRemove(m.source)} aria-label={`Remove ${fileName(m.path)}`}>
              Remove
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
