// flowscope query "<SQL>" --db PATH [--json] [--max-rows N]

import { existsSync } from 'node:fs';
import { parseArgs, UsageError } from './args';
import { formatJson, formatTable } from './format';
import { Store } from '../engine/store/store';

export async function queryCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['db', 'max-rows'], ['json']);
  if (args.positionals.length !== 1) throw new UsageError('query takes one SQL statement (quote it)');
  const db = args.options.get('db');
  if (typeof db !== 'string') throw new UsageError('query needs --db PATH');
  if (!existsSync(db)) throw new UsageError(`${db}: no such database`);
  const maxRows = args.options.has('max-rows') ? Number(args.options.get('max-rows')) : undefined;
  const store = await Store.open(db);
  try {
    const result = await store.query(args.positionals[0]);
    if (maxRows !== undefined) {
      if (!Number.isInteger(maxRows) || maxRows < 0) throw new UsageError('--max-rows takes a whole number');
      if (result.rows.length > maxRows) process.stderr.write(`(showing ${maxRows} of ${result.rows.length} rows)\n`);
      result.rows = result.rows.slice(0, maxRows);
    }
    process.stdout.write(args.options.has('json') ? formatJson(result) : formatTable(result));
    return 0;
  } finally {
    await store.close();
  }
}
