// flowscope requests <capture...> | --db PATH [--filter "field op value"]... [--sort field[:desc]]
//                    [--limit N] [--offset N] [--grouping service|pod|ip] [--all-hops] [--k8s FILE]... [--json]
//
// The request log: one row per request (the observation point RED counts), or every hop's row with
// --all-hops. Filters are the API's (shared/views.ts FilterClause): "response_status in (client_error,
// server_error)", "duration > 1000", "request_resource contains /users". Several --filter are ANDed.

import { existsSync, statSync } from 'node:fs';
import { parseArgs, UsageError } from './args';
import { formatCount, formatDuration, formatTable, formatTimestamp } from './format';
import { loadK8sFiles, splitMetadataFiles, takeK8sFiles } from './k8s';
import type { QueryValue } from '../engine/store/query';
import { Store } from '../engine/store/store';
import { importCaptures } from '../engine/import';
import { parseFilterText, Views } from '../engine/store/views';
import { ApiError } from '../shared/api';
import type { FilterClause, LogPage, NodeGrouping, RequestRow, SortSpec } from '../shared/views';

/** Takes every `--filter X` / `--filter=X` out of argv (the shared parser keeps one value per option). */
function takeFilters(argv: string[]): { rest: string[]; filters: string[] } {
  const rest: string[] = [];
  const filters: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--filter') {
      const v = argv[++i];
      if (v === undefined) throw new UsageError('--filter needs a value: "field op value"');
      filters.push(v);
    } else if (a.startsWith('--filter=')) filters.push(a.slice('--filter='.length));
    else rest.push(a);
  }
  return { rest, filters };
}

export function parseSort(text: string): SortSpec {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::(asc|desc))?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--sort takes field[:desc], not ${JSON.stringify(text)}`);
  return { field: m[1], desc: m[2]?.toLowerCase() === 'desc' };
}

function wholeNumber(v: string | true | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < 0) throw new UsageError(`--${name} takes a whole number`);
  return n;
}

/** The request log as a table: when, who → whom, what, outcome, how long, seen on how many hops. */
export function formatRequestPage(page: LogPage<RequestRow>): string {
  const columns = ['start', 'client', 'server', 'port', 'protocol', 'type', 'resource', 'status', 'code', 'duration', 'hops', 'op'];
  const types = ['VARCHAR', 'VARCHAR', 'VARCHAR', 'INTEGER', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'INTEGER', 'VARCHAR', 'INTEGER', 'VARCHAR'];
  const rows: QueryValue[][] = page.rows.map((r) => [
    formatTimestamp(r.startTime),
    r.clientNode,
    r.serverNode,
    r.serverPort,
    r.l7Protocol,
    r.requestType,
    r.requestResource ?? r.requestDomain,
    r.responseStatus,
    r.responseCode,
    r.duration === null ? null : formatDuration(r.duration),
    r.hops,
    r.observationPoint,
  ]);
  const shown = page.rows.length === 0 ? 'none' : `${formatCount(page.offset + 1)}–${formatCount(page.offset + page.rows.length)}`;
  return formatTable({ columns, types, rows }, { footer: `(${shown} of ${formatCount(page.total)} requests)` });
}

export async function requestsCommand(argv: string[]): Promise<number> {
  const { rest: withoutK8s, k8s } = takeK8sFiles(argv);
  const { rest, filters } = takeFilters(withoutK8s);
  const args = parseArgs(rest, ['db', 'sort', 'limit', 'offset', 'grouping'], ['json', 'all-hops']);
  const dbPath = args.options.get('db') as string | undefined;
  for (const f of args.positionals) {
    if (!existsSync(f)) throw new UsageError(`${f}: no such file`);
    if (!statSync(f).isFile()) throw new UsageError(`${f}: not a file`);
  }
  const { captures: files, metadata } = await splitMetadataFiles(args.positionals);
  k8s.push(...metadata);
  if (dbPath === undefined && files.length === 0) throw new UsageError('requests needs capture files or --db PATH');
  if (dbPath !== undefined && files.length > 0) throw new UsageError('requests takes capture files or --db PATH, not both');
  if (dbPath !== undefined && !existsSync(dbPath)) throw new UsageError(`${dbPath}: no such database`);
  let filter: FilterClause[];
  try {
    filter = filters.map(parseFilterText);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const sortText = args.options.get('sort');
  const sort = typeof sortText === 'string' ? parseSort(sortText) : undefined;
  const limit = wholeNumber(args.options.get('limit'), 'limit') ?? 50;
  if (limit > 1000) throw new UsageError('--limit is at most 1000 (page with --offset)');
  const offset = wholeNumber(args.options.get('offset'), 'offset') ?? 0;
  const grouping = args.options.get('grouping') as NodeGrouping | undefined;
  if (grouping !== undefined && !['service', 'pod', 'ip'].includes(grouping)) throw new UsageError('--grouping is service, pod or ip');

  const store = await Store.open(dbPath ?? ':memory:');
  const views = new Views(store);
  let errors: string[] = [];
  try {
    await loadK8sFiles(store, k8s);
    let captureIds: number[] | undefined;
    if (files.length > 0) {
      const results = await importCaptures(store, files);
      captureIds = results.map((r) => r.capture.captureId);
      errors = results.filter((r) => r.error).map((r) => r.error!.message);
    }
    let page: LogPage<RequestRow>;
    try {
      page = await views.requestLog({ captureIds, filter, sort, limit, offset, grouping, allHops: args.options.has('all-hops') });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'bad_request') throw new UsageError(err.message);
      throw err;
    }
    process.stdout.write(args.options.has('json') ? JSON.stringify(page, null, 2) + '\n' : formatRequestPage(page));
    for (const e of errors) process.stderr.write(`flowscope: ${e} (everything before it was kept)\n`);
    return errors.length > 0 ? 1 : 0;
  } finally {
    await views.close();
    await store.close();
  }
}
