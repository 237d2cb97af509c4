// `npm run bench`: Flowscope's throughput and memory on a generated ≥ 1 M-packet multi-hop capture,
// against tshark on the same file in the same run; then the views' query latency (bench/views.ts) and the
// UI in Chromium (bench/ui.ts) on a generated 1M-request workspace. Writes bench/RESULTS.md.
// Options: --packets N (default 1,500,000 ≈ 1 GB), --keep (reuse bench/data files).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCapture, type GeneratedTruth } from './gen-capture';
import { runTsharkBaseline } from './tshark';
import { benchUi, uiMarkdown } from './ui';
import { benchViews, viewsMarkdown } from './views';
import { bundle } from '../scripts/bundle.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = join(here, 'data');
const args = process.argv.slice(2);
const packets = args.includes('--packets') ? Number(args[args.indexOf('--packets') + 1]) : 1_500_000;
const keep = args.includes('--keep');
const RUNS = 5;

interface StageResult {
  stage: string;
  workers: number;
  seconds: number;
  /** CPU time of the process, all threads. */
  cpuSeconds: number;
  packets: number;
  flows: number;
  requests: number;
  fileBytes: number;
  maxRssMB: number;
  /** The slowest of the RUNS runs (seconds), to show the machine's spread. */
  slowest?: number;
}

function runStage(file: string, stage: string, workers: number): StageResult {
  const db = join(dataDir, 'bench.duckdb');
  // The bundle (as `flowscope` ships), next to its flow worker.
  const r = spawnSync(process.execPath, [join(dataDir, 'stage.mjs'), file, stage, String(workers), db], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`stage ${stage} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as StageResult;
}

/** A number for the tables: thousands separated, d decimals. */
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, `bench-${packets}.pcapng`);
  let truth: GeneratedTruth | null = null;
  const truthFile = `${file}.truth.json`;
  if (keep && existsSync(file) && existsSync(truthFile)) {
    truth = JSON.parse(readFileSync(truthFile, 'utf8')) as GeneratedTruth;
  } else {
    console.error(`generating ${packets} packets into ${file} …`);
    truth = await generateCapture({ path: file, packets, seed: 42 });
    writeFileSync(truthFile, JSON.stringify(truth, null, 1));
  }
  const size = statSync(file).size;
  const loadAtStart = loadavg()[0];
  await bundle({ stage: join(here, 'stage.mts'), 'flow-worker': join(here, '../src/engine/shard-worker.ts') }, dataDir);
  const rows: StageResult[] = [];
  const plan: [string, number][] = [
    ['read', 1],
    ['decode', 1],
    ['flow', 1],
    ['flow', 2],
    ['flowstore', 0],
    ['l7', 1],
    ['store', 0],
    ['store', 1],
    ['store', 2],
  ];
  // Each stage RUNS times in fresh processes; the fastest run is reported (the machine is shared:
  // slower runs measure the neighbours, not Flowscope).
  for (const [stage, workers] of plan) {
    console.error(`stage ${stage} × ${workers} …`);
    const runs = Array.from({ length: RUNS }, () => runStage(file, stage, workers));
    const fastest = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    rows.push({ ...fastest, slowest: Math.max(...runs.map((r) => r.seconds)) });
  }
  console.error('tshark -z conv,tcp …');
  const conv = await runTsharkBaseline(file, 'conv', { packets: truth.packets });
  console.error('tshark -z http,tree …');
  const http = await runTsharkBaseline(file, 'http', { packets: truth.packets });

  const mb = size / 1e6;
  /** Threads of a stage: for the full import, the workers plus the main thread that appends to DuckDB. */
  const threads = (r: StageResult) =>
    r.stage !== 'store' && r.stage !== 'flowstore' ? String(r.workers) : r.workers === 0 ? '1' : `${r.workers} + main`;
  const label: Record<string, string> = {
    read: 'read (records walked)',
    decode: 'read + decode',
    flow: 'read + decode + flow (all TCP metrics)',
    flowstore: 'read + decode + flow + store (flows only, DuckDB file)',
    l7: 'read + decode + flow + L7 (requests, no store)',
    store: 'read + decode + flow + L7 + store (DuckDB file)',
  };
  const lines = rows.map((r) => {
    const pps = r.packets / r.seconds;
    const rps = r.requests ? `${fmt(r.requests / r.seconds / 1e3)} k` : '—';
    const vsHttp = r.requests ? `${fmt(pps / http.packetsPerSec, 1)}×` : '—';
    return `| ${label[r.stage]} | ${threads(r)} | ${fmt(r.seconds, 2)} (${fmt(r.slowest ?? r.seconds, 2)}) | ${fmt(pps / 1e6, 2)} M | ${fmt(mb / r.seconds)} | ${rps} | ${fmt(r.maxRssMB)} | ${fmt(pps / conv.packetsPerSec, 1)}× | ${vsHttp} |`;
  });
  const store0 = rows.find((r) => r.stage === 'store' && r.workers === 0)!;
  const flowStore = rows.find((r) => r.stage === 'flowstore')!;
  const store1 = rows.find((r) => r.stage === 'store' && r.workers === 1)!;
  const store2 = rows.find((r) => r.stage === 'store' && r.workers === 2)!;
  const flow1 = rows.find((r) => r.stage === 'flow' && r.workers === 1)!;
  const flow2 = rows.find((r) => r.stage === 'flow' && r.workers === 2)!;
  const l7 = rows.find((r) => r.stage === 'l7')!;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const tsharkVersion = execFileSync('tshark', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  const md = `# Benchmark results

Written by \`npm run bench\` (bench/run.mts). Each Flowscope stage runs ${RUNS} times, each in a fresh process, and the
fastest run is shown; peak RSS is that process's maximum resident set (worker threads included). tshark runs once
on the same file in the same run.

- Date: ${new Date().toISOString()}
- Machine: ${cpus().length} × ${cpu}, ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM; Node ${process.version}; ${tsharkVersion}
- Input: generated by bench/gen-capture.ts (seed 42): ${fmt(truth.packets)} packets, ${fmt(mb)} MB pcapng,
  ${truth.interfaces.length} interfaces (${describeInterfaces(truth.interfaces)}), ${fmt(truth.tcpConnections)} TCP connections
  (${fmt(truth.tcpConnectionsMultiHop)} seen at 3 hops), HTTP-heavy with Redis/DNS, retransmissions, resets and refusals.

| stage | threads | seconds (slowest of ${RUNS}) | packets/s | MB/s | requests/s | peak RSS (MB) | vs tshark conv | vs tshark http,tree |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
${lines.join('\n')}
| tshark -q -z conv,tcp | 1 | ${fmt(conv.seconds, 2)} | ${fmt(conv.packetsPerSec / 1e6, 3)} M | ${fmt(mb / conv.seconds)} | — | ${fmt(conv.maxRssMB)} | 1.0× | — |
| tshark -q -z http,tree | 1 | ${fmt(http.seconds, 2)} | ${fmt(http.packetsPerSec / 1e6, 3)} M | ${fmt(mb / http.seconds)} | — | ${fmt(http.maxRssMB)} | — | 1.0× |

- Flows: ${fmt(flow1.flows)} flow rows (one per connection per interface); tshark lists ${fmt(conv.conversations ?? 0)} TCP conversations.
- Worker threads (flows sharded by hash, every worker reads and decodes the whole file): 2 threads run the
  flow stage in ${fmt(flow2.seconds, 2)} s vs ${fmt(flow1.seconds, 2)} s on one, ${fmt(flow1.seconds / flow2.seconds, 2)}× the single-thread speed on this
  ${cpus().length}-core machine (below 1: slower; reading and decoding are repeated per thread and compete for memory bandwidth).
- Full import on threads (importCaptures' \`workers\`): with 1, reading, decoding, flows, L7 and the staging of
  DuckDB chunks run on a worker and the main thread only appends the chunks: ${fmt(store1.seconds, 2)} s vs ${fmt(store0.seconds, 2)} s all on
  the main thread (${fmt(store0.seconds / store1.seconds, 2)}×); with 2 (flows sharded by hash, the main thread appending) ${fmt(store2.seconds, 2)} s
  (${fmt(store0.seconds / store2.seconds, 2)}×). One thread already keeps this machine's second core partly busy with V8's
  garbage collector and DuckDB's own threads (a one-thread import uses ${fmt(store0.cpuSeconds, 1)} s of CPU in ${fmt(store0.seconds, 1)} s).
- Requests: ${fmt(l7.requests)} request rows (one per request per hop that saw it); the generator sent ${fmt(truth.httpRequests)} HTTP requests (${fmt(truth.httpRequestsSeen)} HTTP request copies across hops) and ${fmt(truth.redisCommands)} Redis commands.
- Targets: issue #2 ≥ 2.5 M packets/s for read + decode + flow on one core, peak RSS < 300 MB for a 1 GB file
  (its pipeline: read + decode + flow + store, flows only; ${fmt(flowStore.maxRssMB)} MB here, and ${fmt(store0.maxRssMB)} MB with L7 and requests);
  issue #3 ≥ 1.5 M packets/s end to end (with L7 and store) on one core and ≥ 20× tshark -z http,tree.
- Load while measuring (1-minute load average at the start of the run): ${loadAtStart.toFixed(2)} on ${cpus().length} cores.
`;
  console.error('memory against file size …');
  const memory = await memoryScaling(store0, flowStore);
  console.error('views on a generated 1M-request workspace …');
  const workspace = join(dataDir, 'workspace.duckdb');
  const views = viewsMarkdown(await benchViews(workspace));
  console.error('the UI in Chromium on the same workspace …');
  let ui: string;
  try {
    ui = uiMarkdown(await benchUi(workspace));
  } catch (err) {
    // The figures above are kept; say why these are missing.
    ui = `## UI (issue #4)\n\nbench/ui.ts failed: ${(err as Error).message}\n`;
  }
  writeFileSync(join(here, 'RESULTS.md'), `${md}\n${memory}\n${views}\n${ui}`);
  process.stdout.write(`${md}\n${memory}\n${views}\n${ui}`);
}

/**
 * Issue #3: memory bounded by open flows and outstanding requests, not by file size. The same
 * generator at 2× and 4× the packets (other seeds), each import once, next to the 1× figures above.
 */
async function memoryScaling(full1x: StageResult, flowsOnly1x: StageResult): Promise<string> {
  const lines: string[] = [];
  const line = (full: StageResult, flowsOnly: StageResult) =>
    `| ${fmt(full.packets)} | ${fmt(full.fileBytes / 1e6)} | ${fmt(flowsOnly.maxRssMB)} | ${fmt(full.maxRssMB)} | ${fmt(full.seconds, 2)} | ${fmt(full.requests)} |`;
  lines.push(line(full1x, flowsOnly1x));
  for (const times of [2, 4]) {
    const file = join(dataDir, `bench-${packets * times}.pcapng`);
    if (!keep || !existsSync(file)) {
      console.error(`generating ${packets * times} packets into ${file} …`);
      await generateCapture({ path: file, packets: packets * times, seed: 42 + times });
    }
    lines.push(line(runStage(file, 'store', 0), runStage(file, 'flowstore', 0)));
  }
  return `## Memory against file size (issue #3)

One import each, all on the main thread, of captures from the same generator at 1×, 2× and 4× the
packets. What Flowscope keeps while it reads is bounded by the flows open and the requests
outstanding (flow table, reassembly, pairing); DuckDB's own buffers by the memory_limit an import
sets (src/engine/import.ts), which the largest import approaches; the rest is V8's heap headroom,
which grows with the time spent allocating.

| packets | MB | peak RSS, flows only (MB) | peak RSS, full import (MB) | full import (s) | requests |
|---:|---:|---:|---:|---:|---:|
${lines.join('\n')}
`;
}

/** 'eth0, cni0, 200 veth*' rather than 202 names. */
function describeInterfaces(names: string[]): string {
  const veths = names.filter((n) => n.startsWith('veth')).length;
  const others = names.filter((n) => !n.startsWith('veth'));
  return [...others, ...(veths ? [`${veths} veth*`] : [])].join(', ');
}

await main();
