// Query latency of every view on a large generated workspace (issue #4 "Must measure": every view
// answers in under 300 ms with ≥ 1 M requests and ≥ 300 services). Each query runs once to warm
// DuckDB's caches, then `runs` times; the median and the worst are reported.
// Standalone: node --import tsx bench/views.ts [workspace.duckdb]

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../src/engine/store/store';
import { Views } from '../src/engine/store/views';
import { generateWorkspace, type WorkspaceTruth } from './gen-workspace';

export interface ViewTiming {
  view: string;
  medianMs: number;
  maxMs: number;
  rows: number;
}

export interface ViewsBench {
  truth: WorkspaceTruth;
  /** The first view after the store changed: builds the one-per-request / one-per-connection sets. */
  coldMs: number;
  timings: ViewTiming[];
}

export async function benchViews(path: string, runs = 5): Promise<ViewsBench> {
  const truth = await generateWorkspace({ path });
  const store = await Store.open(path);
  const v = new Views(store);
  const mid = truth.startUs + (truth.endUs - truth.startUs) / 2;
  const fiveMin = { from: Math.round(mid), to: Math.round(mid + 300e6) };
  const cases: [string, () => Promise<number>][] = [
    ['service map (services, whole hour)', async () => (await v.serviceMap({ grouping: 'service' })).edges.length],
    ['service map (pods, 5-minute window)', async () => (await v.serviceMap({ grouping: 'pod', window: fiveMin })).edges.length],
    ['RED by service + sparklines', async () => (await v.red({ groupBy: 'service', sparkline: 30 })).rows.length],
    ['RED by endpoint', async () => (await v.red({ groupBy: 'endpoint' })).rows.length],
    ['RED by edge, sorted by p99', async () => (await v.red({ groupBy: 'edge', sort: { field: 'durationP99', desc: true } })).rows.length],
    ['network by edge', async () => (await v.network({ groupBy: 'edge' })).length],
    ['time series (≈120 buckets)', async () => (await v.timeSeries({})).points.length],
    ['request log, first page', async () => (await v.requestLog({ limit: 100 })).rows.length],
    ['request log, errors only, page 50', async () =>
      (await v.requestLog({ filter: [{ field: 'response_status', op: 'in', value: ['client_error', 'server_error'] }], offset: 5000, limit: 100 })).rows.length],
    ['request log sorted by duration', async () => (await v.requestLog({ sort: { field: 'duration', desc: true }, limit: 100 })).rows.length],
    ['flow log, first page', async () => (await v.flowLog({ limit: 100 })).rows.length],
  ];
  const timings: ViewTiming[] = [];
  let coldMs = 0;
  try {
    const t0 = performance.now();
    await v.serviceMap({ grouping: 'service' });
    await v.flowLog({ limit: 1 });
    coldMs = performance.now() - t0;
    for (const [view, run] of cases) {
      await run();
      const ms: number[] = [];
      let rows = 0;
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        rows = await run();
        ms.push(performance.now() - t);
      }
      ms.sort((a, b) => a - b);
      timings.push({ view, medianMs: ms[Math.floor(ms.length / 2)], maxMs: ms[ms.length - 1], rows });
    }
  } finally {
    await v.close();
    await store.close();
  }
  return { truth, coldMs, timings };
}

export function viewsMarkdown({ truth, coldMs, timings }: ViewsBench): string {
  const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
  return `## Views (issue #4): query latency on a large workspace

Workspace from bench/gen-workspace.ts: ${fmt(truth.requests)} unique requests (${fmt(truth.requestRows)} rows with hop copies),
${fmt(truth.services)} services (2 pods each), ${fmt(truth.connections)} connections (${fmt(truth.flowRows)} flow rows), one hour.
Each view through the engine's \`Views\` (what the API calls), warm, median and worst of 5. Target: < 300 ms each.

| view | median ms | worst ms | rows |
|---|---:|---:|---:|
${timings.map((t) => `| ${t.view} | ${fmt(t.medianMs)} | ${fmt(t.maxMs)} | ${fmt(t.rows)} |`).join('\n')}

Building the one-per-request and one-per-connection sets every view shares (views/dedupe.ts; kept until the
store changes) took ${fmt(coldMs)} ms with the first service map and flow log page; the engine service starts it as soon
as an import ends (\`Views.warm\`), so a user who opens a view after the import does not wait for it.
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = process.argv[2] ?? join(import.meta.dirname, 'data', 'workspace.duckdb');
  if (existsSync(path) && !process.argv[2]) console.error(`regenerating ${path}`);
  process.stdout.write(viewsMarkdown(await benchViews(path)));
}
