// Text and JSON rendering of query results and of the capture summary. Pure functions, no I/O.
import type { QueryResult, QueryValue } from '../engine/store/query';
import type { CaptureSummary, CloseTypeCount, Percentiles, TimingAverage } from '../shared/summary';

// ---------------------------------------------------------------------------------------------
// Scalars

/** 1234567 → '1,234,567'. */
export function formatCount(n: number | bigint): string {
  const s = n.toString();
  const neg = s.startsWith('-');
  const digits = neg ? s.slice(1) : s;
  if (!/^\d+$/.test(digits)) return s; // fractions, NaN, Infinity: leave as they are
  return (neg ? '-' : '') + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Bytes with decimal (SI) units: 1234 → '1.23 kB'. Exact below 1000. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 1 : 2)} ${units[u]}`;
}

/** A duration in µs, in the unit that reads best: '850 µs', '12.35 ms', '4.500 s', '2m 0.5s', '3h 04m 05s'. */
export function formatDuration(us: number): string {
  if (!Number.isFinite(us)) return String(us);
  const sign = us < 0 ? '-' : '';
  const a = Math.abs(us);
  if (a < 1000) return `${sign}${round(a, 1)} µs`;
  if (a < 1_000_000) return `${sign}${(a / 1000).toFixed(2)} ms`;
  if (a < 60_000_000) return `${sign}${(a / 1_000_000).toFixed(3)} s`;
  const totalS = a / 1_000_000;
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  if (h === 0) return `${sign}${m}m ${round(s, 3)}s`;
  return `${sign}${h}h ${String(m).padStart(2, '0')}m ${String(Math.floor(s)).padStart(2, '0')}s`;
}

function round(x: number, digits: number): string {
  return String(Number(x.toFixed(digits)));
}

/** µs since epoch → '2023-11-14 22:13:20.000001' (UTC). */
export function formatTimestamp(us: number): string {
  const ms = Math.floor(us / 1000);
  const frac = String(us - ms * 1000).padStart(3, '0');
  const iso = new Date(ms).toISOString(); // 2023-11-14T22:13:20.000Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}${frac}`;
}

/** 0.01234 → '1.23%'; null → 'n/a'. */
export function formatPercent(ratio: number | null, digits = 2): string {
  return ratio === null || !Number.isFinite(ratio) ? 'n/a' : `${(ratio * 100).toFixed(digits)}%`;
}

// ---------------------------------------------------------------------------------------------
// Terminal width of text: East Asian wide characters take two cells, combining marks none.

function charWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

/** Columns the text takes in a terminal. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0)!);
  return w;
}

function padEnd(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)));
}

function padStart(s: string, width: number): string {
  return ' '.repeat(Math.max(0, width - displayWidth(s))) + s;
}

// ---------------------------------------------------------------------------------------------
// Query results

/** BLOB text as DuckDB prints it: printable ASCII as is, other bytes (and \\ ' ") as \\xNN. */
function blobText(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    const printable = b >= 32 && b <= 126 && b !== 0x5c && b !== 0x27 && b !== 0x22;
    s += printable ? String.fromCharCode(b) : '\\x' + b.toString(16).padStart(2, '0').toUpperCase();
  }
  return s;
}

/** A cell as text: NULL for null, DuckDB-like [..] and {..} for nested values. */
export function cellText(v: QueryValue, nested = false): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string') return nested ? `'${v.replace(/'/g, "''")}'` : v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return blobText(v);
  if (Array.isArray(v)) return `[${v.map((x) => cellText(x, true)).join(', ')}]`;
  return `{${Object.entries(v)
    .map(([k, x]) => `'${k}': ${cellText(x, true)}`)
    .join(', ')}}`;
}

const NUMERIC_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\)|BIGNUM)$/;

export interface TableOptions {
  /** Longer cells are cut to this many characters, ending in '…' (default 60). */
  maxCellWidth?: number;
  /** The last line instead of "(n rows)". */
  footer?: string;
}

/** Lay out rows of cells in aligned columns (no borders). */
export function alignRows(rows: string[][], rightAlign: boolean[], sep: string): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, displayWidth(c))));
  return rows.map((row) =>
    row
      .map((c, i) => (rightAlign[i] ? padStart(c, widths[i]) : i === row.length - 1 ? c : padEnd(c, widths[i])))
      .join(sep)
      .trimEnd(),
  );
}

/** One line of at most `max` columns; longer text ends in '…'. */
function clip(s: string, max: number): string {
  const oneLine = s.replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  if (displayWidth(oneLine) <= max) return oneLine;
  let out = '';
  let w = 0;
  for (const ch of oneLine) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > max - 1) break;
    out += ch;
    w += cw;
  }
  return out + '…';
}

/**
 * An aligned text table: header, dashes, one line per row, and a row count. Numbers are
 * right-aligned, NULL is printed as NULL, newlines inside cells as \n.
 */
export function formatTable(result: QueryResult, options: TableOptions = {}): string {
  const max = options.maxCellWidth ?? 60;
  const right = result.columns.map((_, i) => NUMERIC_TYPE.test(result.types[i] ?? ''));
  const body = result.rows.map((row) => row.map((v) => clip(cellText(v), max)));
  const header = result.columns.map((c) => clip(c, max));
  const widths = header.map((h, i) => Math.max(displayWidth(h), ...body.map((r) => displayWidth(r[i]))));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (right[i] ? padStart(c, widths[i]) : padEnd(c, widths[i])))
      .join(' | ')
      .trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...body.map(line)];
  const n = result.rows.length;
  out.push(options.footer ?? `(${formatCount(n)} ${n === 1 ? 'row' : 'rows'})`);
  return out.join('\n') + '\n';
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A cell as JSON: bigint → number when exactly representable, else its decimal text. */
export function toJsonValue(v: QueryValue): JsonValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v.toString();
  }
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (v instanceof Uint8Array) return blobText(v);
  if (Array.isArray(v)) return v.map(toJsonValue);
  const o: { [key: string]: JsonValue } = {};
  for (const [k, x] of Object.entries(v)) o[k] = toJsonValue(x);
  return o;
}

export interface JsonOptions {
  /** One JSON object per line instead of one array. */
  ndjson?: boolean;
}

/** Rows as JSON objects keyed by column name. */
export function formatJson(result: QueryResult, options: JsonOptions = {}): string {
  const objects = result.rows.map((row) => {
    const o: { [key: string]: JsonValue } = {};
    result.columns.forEach((c, i) => (o[c] = toJsonValue(row[i])));
    return o;
  });
  if (options.ndjson) return objects.map((o) => JSON.stringify(o) + '\n').join('');
  return JSON.stringify(objects, null, 2) + '\n';
}

// ---------------------------------------------------------------------------------------------
// Capture summary

const PROTOCOL_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 47: 'gre', 58: 'icmpv6', 132: 'sctp' };

function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function ms(us: number | null): string {
  return us === null ? 'n/a' : formatDuration(us);
}

function percentilesLine(p: Percentiles): string {
  if (p.count === 0) return 'no samples';
  return `p50 ${ms(p.p50)}  p90 ${ms(p.p90)}  p99 ${ms(p.p99)}  max ${ms(p.max)}  (${formatCount(p.count)} connections)`;
}

function timingLine(t: TimingAverage): string {
  if (t.count === 0) return 'no samples';
  return `avg ${ms(t.avg)}  max ${ms(t.max)}  (${formatCount(t.count)} samples)`;
}

function share(part: number, whole: number): string {
  return whole > 0 ? formatPercent(part / whole) : 'n/a';
}

function closeTypeLines(list: CloseTypeCount[], whole: number): string[][] {
  return list
    .filter((c) => c.connections > 0)
    .map((c) => [`    ${c.name} (${c.closeType})`, formatCount(c.connections), share(c.connections, whole)]);
}

/** The summary as a multi-section text for a terminal. */
export function formatSummary(s: CaptureSummary): string {
  const out: string[] = [];
  const section = (title: string): void => {
    if (out.length > 0) out.push('');
    out.push(title);
  };

  section('Capture');
  const info: string[][] = [];
  for (const c of s.captures) {
    info.push([`  capture ${c.captureId}`, `${c.source} (${c.kind}, ${formatBytes(c.fileBytes)})`]);
    if (c.error) info.push(['    error', c.error]);
  }
  if (s.captures.length === 0) info.push(['  captures', 'none']);
  info.push(['  packets', `${formatCount(s.packets)} (${formatCount(s.malformedPackets)} malformed, ${formatCount(s.nonIpPackets)} non-IP)`]);
  info.push(['  bytes', `${formatBytes(s.bytes)} (${formatCount(s.bytes)} B)`]);
  if (s.firstTime !== null && s.lastTime !== null) {
    info.push(['  time', `${formatTimestamp(s.firstTime)} → ${formatTimestamp(s.lastTime)} UTC`]);
    info.push(['  duration', formatDuration(s.durationUs ?? 0)]);
  }
  info.push([
    '  flows',
    `${formatCount(s.connections)} unique connections, ${formatCount(s.flowRows)} flow rows across observation points`,
  ]);
  out.push(...alignRows(info, [false, false], '  '));

  section('Protocols (packets and bytes counted once per connection)');
  const totalBytes = s.protocols.reduce((a, p) => a + p.bytes, 0);
  const protoRows = [['  protocol', 'connections', 'flow rows', 'packets', 'bytes', 'share of bytes']];
  for (const p of s.protocols) {
    protoRows.push([`  ${p.protocol}`, formatCount(p.connections), formatCount(p.flowRows), formatCount(p.packets), formatBytes(p.bytes), share(p.bytes, totalBytes)]);
  }
  out.push(...alignRows(protoRows, [false, true, true, true, true, true], '  '));

  section('Top conversations by bytes');
  if (s.topConversations.length === 0) out.push('  none');
  else {
    const rows = [['  client', '', 'server', 'proto', 'conns', 'packets', 'bytes', 'seen at']];
    for (const c of s.topConversations) {
      rows.push([
        `  ${endpoint(c.clientIp, c.clientPort)}`,
        '→',
        endpoint(c.serverIp, c.serverPort),
        PROTOCOL_NAMES[c.protocol] ?? String(c.protocol),
        formatCount(c.connections),
        formatCount(c.packets),
        formatBytes(c.bytes),
        `${c.observationPoints} obs. point${c.observationPoints === 1 ? '' : 's'}, ${c.interfaces} interface${c.interfaces === 1 ? '' : 's'}`,
      ]);
    }
    out.push(...alignRows(rows, [false, false, false, false, true, true, true, false], '  '));
  }

  const t = s.tcp;
  section('TCP health (each connection counted once)');
  const health: string[][] = [
    ['  connections', formatCount(t.connections), `(${formatCount(t.flowRows)} flow rows)`],
    ['  handshakes seen', formatCount(t.handshakesSeen), share(t.handshakesSeen, t.connections)],
    ['  connection failures', formatCount(t.connectionFailures.total), share(t.connectionFailures.total, t.connections)],
    ...closeTypeLines(t.connectionFailures.byType, t.connections),
    ['  resets', formatCount(t.resets.total), share(t.resets.total, t.connections)],
    ...closeTypeLines(t.resets.byType, t.connections),
    ['  timeouts', formatCount(t.timeouts), share(t.timeouts, t.connections)],
    [
      '  retransmissions',
      formatCount(t.retransTx + t.retransRx),
      `${formatPercent(t.retransRatio)} of ${formatCount(t.packets)} packets (tx ${formatCount(t.retransTx)}, rx ${formatCount(t.retransRx)})`,
    ],
    ['  zero window', formatCount(t.zeroWinTx + t.zeroWinRx), `tx ${formatCount(t.zeroWinTx)}, rx ${formatCount(t.zeroWinRx)}`],
    ['  out of order', formatCount(t.oooTx + t.oooRx), `tx ${formatCount(t.oooTx)}, rx ${formatCount(t.oooRx)}`],
  ];
  out.push(...alignRows(health, [false, true, false], '  '));
  out.push(...alignRows([['  RTT', percentilesLine(t.rtt)], ['  SRT', timingLine(t.srt)], ['  ART', timingLine(t.art)]], [false, false], '  '));

  section('Interfaces');
  if (s.interfaces.length === 0) out.push('  none');
  else {
    const rows = [['  capture', 'if', 'name', 'kind', 'flow rows', 'packets', 'bytes']];
    for (const i of s.interfaces) {
      rows.push([`  ${i.captureId}`, String(i.ifIndex), i.name || '?', i.kind || '?', formatCount(i.flowRows), formatCount(i.packets), formatBytes(i.bytes)]);
    }
    out.push(...alignRows(rows, [true, true, false, false, true, true, true], '  '));
  }
  if (s.observationPoints.length > 0) {
    section('Observation points (flow rows)');
    out.push(...alignRows(s.observationPoints.map((o) => [`  ${o.observationPoint}`, formatCount(o.flowRows)]), [false, true], '  '));
  }
  return out.join('\n') + '\n';
}
