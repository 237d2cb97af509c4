// flowscope analyze <capture...> [--db PATH] [--json] [--top N] [--k8s FILE]... [--grouping service|pod|ip]
//
// --k8s loads Kubernetes metadata into the store before the views are read, so the service map,
// endpoints and request lists name services and pods (and `names` lists every named IP seen).

import { existsSync, statSync } from 'node:fs';
import { parseArgs, UsageError } from './args';
import { ProgressBar } from './progress';
import { formatCount, formatDuration, formatPercent, formatSummary } from './format';
import { formatRequestPage } from './requests';
import { describeMetadata, formatNamedIps, loadK8sFiles, namedIps, splitMetadataFiles, takeK8sFiles } from './k8s';
import { Store } from '../engine/store/store';
import { captureSummary } from '../engine/store/summary';
import { importCaptures } from '../engine/import';
import { Views } from '../engine/store/views';
import type { LogPage, NodeGrouping, RedRow, RedStats, RequestRow, ServiceMap } from '../shared/views';

export async function analyzeCommand(argv: string[]): Promise<number> {
  const { rest, k8s } = takeK8sFiles(argv);
  const args = parseArgs(rest, ['db', 'top', 'workers', 'grouping'], ['json', 'quiet', 'flows-only']);
  for (const f of args.positionals) {
    if (!existsSync(f)) throw new UsageError(`${f}: no such file`);
    if (!statSync(f).isFile()) throw new UsageError(`${f}: not a file`);
  }
  const { captures: files, metadata } = await splitMetadataFiles(args.positionals);
  k8s.push(...metadata);
  if (files.length === 0) throw new UsageError('analyze needs at least one capture file');
  const json = args.options.has('json');
  const top = args.options.has('top') ? Number(args.options.get('top')) : 10;
  if (!Number.isInteger(top) || top < 0) throw new UsageError('--top takes a whole number');
  const dbPath = (args.options.get('db') as string | undefined) ?? ':memory:';
  const workers = args.options.has('workers') ? Number(args.options.get('workers')) : undefined;
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 0)) throw new UsageError('--workers takes a whole number ≥ 0');
  const grouping = (args.options.get('grouping') as NodeGrouping | undefined) ?? 'service';
  if (!['service', 'pod', 'ip'].includes(grouping)) throw new UsageError('--grouping is service, pod or ip');

  const store = await Store.open(dbPath);
  const bar = new ProgressBar();
  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    // First, so a bad file stops the command before the (longer) import; names apply either way.
    const metadata = await loadK8sFiles(store, k8s);
    const results = await importCaptures(store, files, {
      workers,
      flowsOnly: args.options.has('flows-only'),
      signal: abort.signal,
      onProgress: json || args.options.has('quiet') ? undefined : (p) => bar.update(p),
    });
    bar.done();
    const ids = results.map((r) => r.capture.captureId);
    const summary = await captureSummary(store, ids, { topConversations: top });
    const requests = await requestMix(store, ids);
    const views = await requestViews(store, ids, top, grouping);
    const names = await namedIps(store, ids);
    const errors = results.filter((r) => r.error).map((r) => r.error!.message);
    if (json) {
      const out = { db: dbPath, captures: results.map((r) => r.capture), metadata, summary, requests, views, names, errors };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    } else {
      for (const m of metadata) process.stdout.write(`Kubernetes metadata ${describeMetadata(m)}\n`);
      if (metadata.length > 0) process.stdout.write('\n');
      process.stdout.write(formatSummary(summary));
      process.stdout.write(formatRequestMix(requests));
      process.stdout.write(formatRequestViews(views, top));
      process.stdout.write(`\nNames (IPs in the capture named by Kubernetes metadata or DNS answers)\n${formatNamedIps(names)}\n`);
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
  if (mix.length === 0) return '\nRequests\n  none recognised (no flow carried one of the application protocols Flowscope parses)\n';
  const head = ['protocol', 'request rows', 'ok', 'client errors', 'server errors', 'timeouts'];
  const rows = mix.map((m) => [m.protocol, m.rows, m.ok, m.clientErrors, m.serverErrors, m.timeouts].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return `\nRequests (one row per observation point that saw the request)\n${[head, ...rows].map(line).join('\n')}\n`;
}

/** What `analyze` shows of the request views: each request counted once (shared/views.ts). */
export interface RequestViews {
  /** RED per L7 protocol. */
  protocols: ({ protocol: string } & RedStats)[];
  /** Endpoints with the most requests, with their RED. */
  topEndpoints: RedRow[];
  /** Longest answered requests. */
  slowest: LogPage<RequestRow>;
  /** Requests answered with client_error or server_error. */
  failing: LogPage<RequestRow>;
  /** Nodes (services, pods or IPs by --grouping) and edges with RED. */
  serviceMap: ServiceMap;
}

async function requestViews(store: Store, ids: number[], top: number, grouping: NodeGrouping): Promise<RequestViews> {
  const views = new Views(store);
  try {
    const scope = { captureIds: ids, grouping };
    const protocols = await views.redByProtocol(scope);
    const topEndpoints = (await views.red({ ...scope, groupBy: 'endpoint', limit: top })).rows;
    const slowest = await views.requestLog({ ...scope, sort: { field: 'duration', desc: true }, filter: [{ field: 'duration', op: '>=', value: 0 }], limit: Math.min(top, 1000) });
    const failing = await views.requestLog({
      ...scope,
      filter: [{ field: 'response_status', op: 'in', value: ['client_error', 'server_error'] }],
      limit: Math.min(top, 1000),
    });
    const serviceMap = await views.serviceMap(scope);
    return { protocols, topEndpoints, slowest, failing, serviceMap };
  } finally {
    await views.close();
  }
}

function formatRequestViews(v: RequestViews, top: number): string {
  const out: string[] = [];
  const table = (head: string[], rows: string[][]): string => {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    return [head, ...rows].map(line).join('\n');
  };
  const d = (us: number | null) => (us === null ? '-' : formatDuration(us));
  const red = (r: RedStats) => [formatCount(r.requests), r.rate.toFixed(2), formatPercent(r.errorRatio), formatPercent(r.timeoutRatio), d(r.durationP50), d(r.durationP99), d(r.durationMax)];
  const redHead = ['requests', 'req/s', 'errors', 'timeouts', 'p50', 'p99', 'max'];
  out.push('\nProtocol mix (each request once, at one observation point)');
  out.push(v.protocols.length === 0 ? '  none' : table(['protocol', ...redHead], v.protocols.map((p) => [p.protocol, ...red(p)])));
  out.push('\nTop endpoints');
  out.push(
    v.topEndpoints.length === 0
      ? '  none'
      : table(['server', 'protocol', 'endpoint', ...redHead], v.topEndpoints.map((r) => [r.server, r.protocol, r.endpoint ?? '', ...red(r)])),
  );
  out.push('\nSlowest requests');
  out.push(v.slowest.rows.length === 0 ? '  none' : formatRequestPage(v.slowest).trimEnd());
  out.push('\nFailing requests');
  out.push(v.failing.rows.length === 0 ? '  none' : formatRequestPage(v.failing).trimEnd());
  const edges = [...v.serviceMap.edges].sort((a, b) => b.red.requests - a.red.requests || b.bytes - a.bytes).slice(0, top);
  out.push(`\nService map (by ${v.serviceMap.grouping}: ${formatCount(v.serviceMap.nodes.length)} nodes, ${formatCount(v.serviceMap.edges.length)} edges; busiest edges)`);
  out.push(
    edges.length === 0
      ? '  none'
      : table(
          ['client', 'server', 'protocol', 'port', 'flows', ...redHead],
          edges.map((e) => [e.source, e.target, e.protocol, String(e.serverPort), formatCount(e.flows), ...red(e.red)]),
        ),
  );
  return out.join('\n') + '\n';
}
