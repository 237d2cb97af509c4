// Runs one capture on worker threads (see shard-worker.ts): one worker keeps the packet work off this
// thread, several shard the flows by hash. Their rows arrive as staged chunks, which the sink appends
// to the store on this thread. Packet and interface counts come from worker 0 (every worker sees every
// packet).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CaptureError } from './capture/types';
import type { L7Stats } from './l7/engine';
import type { AnalyzeOptions, CaptureResult } from './pipeline';
import type { ShardJob, ShardMessage, WorkerTables } from './shard-worker';
import type { StagedChunk } from './store/chunk';
import type { CaptureRecord, InterfaceRecord } from '../shared/records';

/** Where the workers' rows go: the store's writers (import.ts), on the thread that owns the database. */
export interface ChunkSink {
  beginCapture(): Promise<{ captureId: number; firstFlowId: number }>;
  /** The tables the workers stage for (after beginCapture). */
  workerTables(): WorkerTables;
  appendChunk(table: 'flows' | 'requests', chunk: StagedChunk): void;
  /** The largest flow and request ids the workers used, before endCapture. */
  usedIds(lastFlowId: number, lastRequestId: number): void;
  endCapture(capture: CaptureRecord, interfaces: InterfaceRecord[]): Promise<void>;
}

/** Starts a shard worker: the bundled script next to the CLI bundle, or the TypeScript source via tsx. */
function startWorker(job: ShardJob): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) {
    // Bundled: the CLI ships dist/flow-worker.mjs, the desktop build out/main/flow-worker.js.
    const bundled = ['./flow-worker.mjs', './flow-worker.js'].map((f) => new URL(f, here)).find((u) => existsSync(u));
    if (!bundled) throw new Error(`no flow worker script next to ${fileURLToPath(here)}`);
    return new Worker(bundled, { workerData: job });
  }
  // Running from source (tests, `npm run bench`): register tsx inside the worker, then load the module.
  const tsx = import.meta.resolve('tsx/esm/api');
  const src = new URL('./shard-worker.ts', here).href;
  const shim = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(src)}); })`;
  return new Worker(shim, { eval: true, workerData: job });
}

export async function analyzeCaptureSharded(
  path: string,
  workers: number,
  opts: Pick<AnalyzeOptions, 'signal' | 'onProgress'> & { sink?: ChunkSink | null } = {},
): Promise<CaptureResult> {
  const sink = opts.sink ?? null;
  const { captureId, firstFlowId } = sink ? await sink.beginCapture() : { captureId: 0, firstFlowId: 1 };
  const tables = sink ? sink.workerTables() : null;
  const threads: Worker[] = [];
  type Done = { result: CaptureResult; readerError: CaptureError | null; lastFlowId: number; lastRequestId: number };
  const results: Promise<Done>[] = [];
  for (let i = 0; i < workers; i++) {
    const appended = new Int32Array(new SharedArrayBuffer(4));
    const job: ShardJob = { path, shard: [i, workers], captureId, firstFlowId, tables, appended: appended.buffer as SharedArrayBuffer };
    const w = startWorker(job);
    threads.push(w);
    results.push(
      new Promise((resolve, reject) => {
        w.on('message', (m: ShardMessage) => {
          if (m.type === 'chunk') {
            try {
              sink!.appendChunk(m.table, m.chunk);
            } catch (err) {
              reject(err as Error);
              return;
            }
            Atomics.add(appended, 0, 1);
            Atomics.notify(appended, 0);
          } else if (m.type === 'progress') {
            opts.onProgress?.({ file: path, bytesRead: m.bytesRead, totalBytes: m.totalBytes, packets: m.packets, flows: m.flows });
          } else if (m.type === 'done') {
            const e = m.readerError;
            const readerError = e ? new CaptureError(e.file, e.offset, e.reason) : null;
            resolve({ result: m.result, readerError, lastFlowId: m.lastFlowId, lastRequestId: m.lastRequestId });
          } else {
            reject(m.file !== undefined ? new CaptureError(m.file, m.offset ?? 0, m.reason ?? m.message) : new Error(m.message));
          }
        });
        w.on('error', reject);
        w.on('exit', (code) => {
          if (code !== 0) reject(new Error(`flow worker ${i} exited with code ${code}`));
        });
      }),
    );
  }
  const onAbort = () => threads.forEach((t) => void t.terminate());
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const done = await Promise.all(results);
    const first = done[0].result;
    const flows = done.reduce((n, d) => n + d.result.flows, 0);
    const requests = done.reduce((n, d) => n + d.result.requests, 0);
    const closeTypes: Record<number, number> = {};
    for (const d of done) for (const [k, v] of Object.entries(d.result.closeTypes)) closeTypes[+k] = (closeTypes[+k] ?? 0) + v;
    const error = done[0].readerError;
    const capture = { ...first.capture, captureId, error: error ? error.message : first.capture.error };
    const interfaces = first.interfaces.map((i) => ({ ...i, captureId }));
    if (sink) {
      sink.usedIds(Math.max(...done.map((d) => d.lastFlowId)), Math.max(...done.map((d) => d.lastRequestId)));
      await sink.endCapture(capture, interfaces);
    }
    return { capture, interfaces, flows, requests, l7: mergeL7(done.map((d) => d.result.l7)), closeTypes, error };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await Promise.all(threads.map((t) => t.terminate()));
  }
}

/** Sums the workers' L7 statistics (null when L7 did not run). */
function mergeL7(parts: (L7Stats | null)[]): L7Stats | null {
  const present = parts.filter((p): p is L7Stats => p !== null);
  if (present.length === 0) return null;
  const out: L7Stats = { flows: 0, detected: {}, ignored: 0, records: 0, gaps: 0, parserErrors: 0, lastParserError: null };
  for (const p of present) {
    out.flows += p.flows;
    out.ignored += p.ignored;
    out.records += p.records;
    out.gaps += p.gaps;
    out.parserErrors += p.parserErrors;
    out.lastParserError = p.lastParserError ?? out.lastParserError;
    for (const [k, v] of Object.entries(p.detected)) out.detected[k] = (out.detected[k] ?? 0) + v;
  }
  return out;
}
