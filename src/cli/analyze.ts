// flowscope analyze <capture...> [--db PATH] [--json] [--top N]

import { existsSync, statSync } from 'node:fs';
import { parseArgs, UsageError } from './args';
import { ProgressBar } from './progress';
import { formatSummary } from './format';
import { Store } from '../engine/store/store';
import { captureSummary } from '../engine/store/summary';
import { importCaptures } from '../engine/import';

export async function analyzeCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['db', 'top', 'workers'], ['json', 'quiet']);
  const files = args.positionals;
  if (files.length === 0) throw new UsageError('analyze needs at least one capture file');
  for (const f of files) {
    if (!existsSync(f)) throw new UsageError(`${f}: no such file`);
    if (!statSync(f).isFile()) throw new UsageError(`${f}: not a file`);
  }
  const json = args.options.has('json');
  const top = args.options.has('top') ? Number(args.options.get('top')) : 10;
  if (!Number.isInteger(top) || top < 0) throw new UsageError('--top takes a whole number');
  const dbPath = (args.options.get('db') as string | undefined) ?? ':memory:';
  const workers = args.options.has('workers') ? Number(args.options.get('workers')) : undefined;
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 1)) throw new UsageError('--workers takes a whole number ≥ 1');

  const store = await Store.open(dbPath);
  const bar = new ProgressBar();
  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    const results = await importCaptures(store, files, {
      workers,
      signal: abort.signal,
      onProgress: json || args.options.has('quiet') ? undefined : (p) => bar.update(p),
    });
    bar.done();
    const ids = results.map((r) => r.capture.captureId);
    const summary = await captureSummary(store, ids, { topConversations: top });
    const requests = await requestMix(store, ids);
    const errors = results.filter((r) => r.error).map((r) => r.error!.message);
    if (json) {
      process.stdout.write(JSON.stringify({ db: dbPath, captures: results.map((r) => r.capture), summary, requests, errors }, null, 2) + '\n');
    } else {
      process.stdout.write(formatSummary(summary));
      process.stdout.write(formatRequestMix(requests));
      if (dbPath !== ':memory:') process.stdout.write(`\nStored in ${dbPath} — try: flowscope query "SELECT * FROM flows LIMIT 10" --db ${dbPath}\n`);
    }
    for (const e of errors) process.stderr.write(`flowscope: ${e} (everything before it was kept)\n`);
    return errors.length > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    bar.done();
    await store.close();
  }
}

interface RequestMix {
  protocol: string;
  /** Request rows (a request seen at several observation points is one row per point). */
  rows: number;
  ok: number;
  clientErrors: number;
  serverErrors: number;
  timeouts: number;
}

/** Requests by protocol and outcome (the L7 view; RED per service comes with the request views). */
async function requestMix(store: Store, ids: number[]): Promise<RequestMix[]> {
  if (ids.length === 0) return [];
  const q = await store.query(
    `SELECT l7_protocol, count(*), count(*) FILTER (response_status = 'ok'), count(*) FILTER (response_status = 'client_error'),
            count(*) FILTER (response_status = 'server_error'), count(*) FILTER (response_status = 'timeout')
     FROM requests WHERE capture_id IN (${ids.join(', ')}) GROUP BY 1 ORDER BY 2 DESC, 1`,
  );
  return q.rows.map((r) => ({
    protocol: String(r[0]),
    rows: Number(r[1]),
    ok: Number(r[2]),
    clientErrors: Number(r[3]),
    serverErrors: Number(r[4]),
    timeouts: Number(r[5]),
  }));
}

function formatRequestMix(mix: RequestMix[]): string {
  if (mix.length === 0) return '\nRequests\n  none recognised (HTTP/1.x and DNS are parsed today)\n';
  const head = ['protocol', 'request rows', 'ok', 'client errors', 'server errors', 'timeouts'];
  const rows = mix.map((m) => [m.protocol, m.rows, m.ok, m.clientErrors, m.serverErrors, m.timeouts].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return `\nRequests (one row per observation point that saw the request)\n${[head, ...rows].map(line).join('\n')}\n`;
}
