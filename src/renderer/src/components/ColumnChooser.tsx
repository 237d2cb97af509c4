// Which columns a log shows; the choice is kept per log in localStorage.

import { useState } from 'react';

export function useColumnChoice(storageKey: string, initial: string[]): [string[], (keys: string[]) => void] {
  const [visible, setVisible] = useState<string[]>(() => {
    try {
      const stored = JSON.parse(localStorage.getItem(storageKey) ?? 'null') as unknown;
      if (Array.isArray(stored) && stored.every((k) => typeof k === 'string') && stored.length > 0) return stored as string[];
    } catch {
      // A broken stored value falls back to the defaults.
    }
    return initial;
  });
  const choose = (keys: string[]) => {
    setVisible(keys);
    try {
      localStorage.setItem(storageKey, JSON.stringify(keys));
    } catch {
      // Storage unavailable: the choice lasts for this session.
    }
  };
  return [visible, choose];
}

export function ColumnChooser(props: { columns: { key: string; label: string }[]; visible: string[]; onChange: (keys: string[]) => void }) {
  const { columns, visible, onChange } = props;
  return (
    <details className="column-chooser">
      <summary className="button button--small">Columns</summary>
      <fieldset className="column-chooser__list">
        <legend>Visible columns</legend>
        {columns.map((c) => (
          <label key={c.key}>
            <input
              type="checkbox"
              checked={visible.includes(c.key)}
              onChange={(e) => {
                const next = e.target.checked ? columns.map((x) => x.key).filter((k) => k === c.key || visible.includes(k)) : visible.filter((k) => k !== c.key);
                if (next.length > 0) onChange(next);
              }}
            />
            {c.label}
          </label>
        ))}
      </fieldset>
    </details>
  );
}
