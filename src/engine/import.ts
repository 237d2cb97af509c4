// Imports capture files into a store: pipeline → flow writer → captures/interfaces rows → observation
// points. The one entry point the CLI, the desktop app and `serve` use.

import { analyzeCapture, type CaptureResult, type CaptureSink, type ImportProgress } from './pipeline';
import { analyzeCaptureSharded } from './sharded';
import { observationPointSql } from './flow/observation';
import type { Store } from './store/store';
import type { FlowWriter } from './store/appender';
import type { CaptureRecord, FlowRecord, InterfaceRecord } from '../shared/records';

export interface ImportOptions {
  /**
   * Worker threads per file (flows sharded by hash); default 1 = in this thread. Every worker reads and
   * decodes the whole file, so this only pays off when flow work dominates: bench/RESULTS.md shows it
   * slower than one thread on a 2-core machine today.
   */
  workers?: number;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
  /**
   * Capture ids the caller reserved with store.nextCaptureId(), one per path: the app's service
   * answers openCapture with ids before the (queued) import runs. Default: a new id per file.
   */
  captureIds?: readonly number[];
}

class StoreSink implements CaptureSink {
  private writer: FlowWriter | null = null;
  private flows = 0;

  constructor(
    private readonly store: Store,
    private readonly captureId?: number,
  ) {}

  async beginCapture(): Promise<{ captureId: number; firstFlowId: number }> {
    this.writer = await this.store.flowWriter();
    this.flows = 0;
    return { captureId: this.captureId ?? this.store.nextCaptureId(), firstFlowId: this.store.allocateFlowIds(0) };
  }

  addFlow(rec: FlowRecord): void {
    this.writer!.add(rec);
    this.flows++;
  }

  async endCapture(capture: CaptureRecord, interfaces: InterfaceRecord[]): Promise<void> {
    this.writer!.close();
    this.writer = null;
    this.store.allocateFlowIds(this.flows);
    await this.store.writeCapture(capture);
    await this.store.writeInterfaces(interfaces);
    await this.store.conn.run(observationPointSql(capture.captureId));
  }

  /** Leaves the store consistent when an import is abandoned (cancel, internal error). */
  abandon(): void {
    if (this.writer) {
      try {
        this.writer.close();
      } catch {
        // The writer already reported its own failure; nothing more to keep.
      }
      this.writer = null;
    }
  }
}

/** Imports each file in turn; a file that ends badly keeps what was read and the next file still runs. */
export async function importCaptures(store: Store, paths: readonly string[], opts: ImportOptions = {}): Promise<CaptureResult[]> {
  if (opts.captureIds && opts.captureIds.length !== paths.length) {
    throw new Error(`importCaptures: ${opts.captureIds.length} capture ids for ${paths.length} paths`);
  }
  const results: CaptureResult[] = [];
  for (const [i, path] of paths.entries()) {
    const sink = new StoreSink(store, opts.captureIds?.[i]);
    try {
      const workers = opts.workers ?? 1;
      const run = { sink, signal: opts.signal, onProgress: opts.onProgress };
      results.push(workers > 1 ? await analyzeCaptureSharded(path, workers, run) : await analyzeCapture(path, run));
    } catch (err) {
      sink.abandon();
      throw err;
    }
  }
  return results;
}

