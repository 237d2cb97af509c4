// A tiny inline SVG line of requests per bucket (RED tables). Pure SVG attributes, no inline style,
// so it renders under the strict CSP.

export function Sparkline(props: { values: number[] | undefined; width?: number; height?: number; label?: string }) {
  const { values, width = 80, height = 20 } = props;
  if (!values || values.length === 0) return <span className="muted">—</span>;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`).join(' ');
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={props.label ?? `Requests over time, peak ${max}`}>
      <polyline points={points} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}
