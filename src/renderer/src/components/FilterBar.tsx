// Field / operator / value → a chip; the chips together are the FilterClause[] the view sends.
// Presets offer the common ones in one click (HTTP Toolkit's filter bar does the same with its
// suggestions).

import { useState } from 'react';
import type { FilterClause, FilterOp } from '../../../shared/views';
import { clauseText, makeClause, NUMBER_OPS, STRING_OPS, type FilterField } from '../workspace/filters';

export interface FilterPreset {
  label: string;
  clauses: FilterClause[];
}

export function FilterBar(props: {
  fields: FilterField[];
  filter: FilterClause[];
  onChange: (filter: FilterClause[]) => void;
  presets?: FilterPreset[];
  label: string;
}) {
  const { fields, filter, onChange } = props;
  const [fieldName, setFieldName] = useState(fields[0]?.field ?? '');
  const field = fields.find((f) => f.field === fieldName) ?? fields[0];
  const ops = field?.numeric ? NUMBER_OPS : STRING_OPS;
  const [op, setOp] = useState<FilterOp>('=');
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const labelOf = (name: string) => fields.find((f) => f.field === name)?.label ?? name;
  const listId = `filter-values-${props.label.replace(/\W+/g, '-')}`;

  const add = () => {
    if (!field) return;
    const clause = makeClause(field, ops.includes(op) ? op : '=', text);
    if (typeof clause === 'string') {
      setProblem(clause);
      return;
    }
    setProblem(null);
    setText('');
    onChange([...filter, clause]);
  };

  return (
    <div className="filter-bar" role="group" aria-label={props.label}>
      <form
        className="filter-bar__form"
        onSubmit={(event) => {
          event.preventDefault();
          add();
        }}
      >
        <select aria-label="Filter field" value={field?.field} onChange={(e) => setFieldName(e.target.value)}>
          {fields.map((f) => (
            <option key={f.field} value={f.field}>
              {f.label}
            </option>
          ))}
        </select>
        <select aria-label="Filter operator" value={ops.includes(op) ? op : '='} onChange={(e) => setOp(e.target.value as FilterOp)}>
          {ops.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
        <input
          aria-label="Filter value"
          placeholder={op === 'in' ? 'a, b, c' : 'value'}
          value={text}
          list={field?.values ? listId : undefined}
          onChange={(e) => setText(e.target.value)}
        />
        {field?.values && (
          <datalist id={listId}>
            {field.values.map((v) => (
              <option key={v} value={v} />
            ))}
          </datalist>
        )}
        <button type="submit" className="button button--small">
          Add filter
        </button>
      </form>
      {props.presets?.map((preset) => (
        <button key={preset.label} type="button" className="button button--small" onClick={() => onChange([...filter, ...preset.clauses])}>
          {preset.label}
        </button>
      ))}
      <ul className="chips" aria-label="Active filters">
        {filter.map((clause, index) => (
          <li key={`${index}:${clauseText(clause)}`} className="chip">
            <span>{clauseText(clause, labelOf(clause.field))}</span>
            <button
              type="button"
              className="chip__remove"
              aria-label={`Remove filter ${clauseText(clause, labelOf(clause.field))}`}
              onClick={() => onChange(filter.filter((_, i) => i !== index))}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      {filter.length > 0 && (
        <button type="button" className="button button--small" onClick={() => onChange([])}>
          Clear filters
        </button>
      )}
      {problem && (
        <span className="notice--error filter-bar__problem" role="alert">
          {problem}
        </span>
      )}
    </div>
  );
}
