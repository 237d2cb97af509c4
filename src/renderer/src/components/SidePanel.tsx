// A panel on the right of a view (map selection, log row details). Esc closes it; focus moves into it
// when it opens so keyboard users land on its content.

import { useEffect, useRef, type ReactNode } from 'react';

export function SidePanel(props: { title: string; onClose: () => void; children: ReactNode; testId?: string }) {
  const { onClose } = props;
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  useEffect(() => {
    ref.current?.focus();
  }, [props.title]);
  return (
    <aside className="side-panel" aria-label={props.title} tabIndex={-1} ref={ref} data-testid={props.testId}>
      <header className="side-panel__head">
        <h2>{props.title}</h2>
        <button type="button" className="button button--small" onClick={onClose} aria-label="Close panel (Esc)">
          ×
        </button>
      </header>
      <div className="side-panel__body">{props.children}</div>
    </aside>
  );
}

/** Label/value pairs, as definition list (tests and screen readers read them as term/definition). */
export function Facts(props: { items: [string, ReactNode][]; label?: string }) {
  return (
    <dl className="facts" aria-label={props.label}>
      {props.items.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
