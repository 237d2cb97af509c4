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
    const errors = results.filter((r) => r.error).map((r) => r.error!.message);
    if (json) {
      process.stdout.write(JSON.stringify({ db: dbPath, captures: results.map((r) => r.capture), summary, errors }, null, 2) + '\n');
    } else {
      process.stdout.write(formatSummary(summary));
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
