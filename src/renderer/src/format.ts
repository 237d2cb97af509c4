// Number and name formatting for the UI.

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${BYTE_UNITS[unit]}`;
}

export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

/** Last path segment, for POSIX and Windows paths alike. */
export function fileName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

export function percent(done: number, total: number): number {
  if (total <= 0) return 100;
  return Math.min(100, Math.floor((done / total) * 100));
}

/** A duration given in µs: "850 µs", "12.3 ms", "4.56 s", "2 min 5 s", "3 h 7 min". */
export function formatDuration(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toPrecision(3)} ms`;
  const seconds = us / 1_000_000;
  if (seconds < 60) return `${seconds.toPrecision(3)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

/** A rate per second, Kiali-style: at most two decimals, trailing zeros trimmed. */
export function formatRate(perSecond: number): string {
  if (perSecond >= 100) return Math.round(perSecond).toLocaleString('en-US');
  return String(Number(perSecond.toFixed(2)));
}

/** A ratio (0..1) as a percentage with up to two decimals: "0 %", "12.5 %". */
export function formatRatio(ratio: number): string {
  return `${Number((ratio * 100).toFixed(2))} %`;
}

/** A duration in µs, or an em dash when there is none. */
export function formatMaybeDuration(us: number | null | undefined): string {
  return us === null || us === undefined ? '—' : formatDuration(us);
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** A timestamp (µs since the epoch) as UTC wall-clock time with µs: "2026-11-25 11:44:11.123456". */
export function formatTimestamp(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  const micros = ((us % 1_000_000) + 1_000_000) % 1_000_000;
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(micros, 6)}`;
}

/** Time of day only (UTC, ms precision), for compact window labels. */
export function formatTimeOfDay(us: number): string {
  return formatTimestamp(us).slice(11, 23);
}
