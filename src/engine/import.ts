// Imports capture files into a store: pipeline → flow writer → captures/interfaces rows → observation
// points. The one entry point the CLI, the desktop app and `serve` use.

import { analyzeCapture, type CaptureResult, type CaptureSink, type ImportProgress } from './pipeline';
import { analyzeCaptureSharded } from './sharded';
import { observationPointSql } from './flow/observation';
import { learnDnsNames } from './tag/dns-names';
import type { Store } from './store/store';
import type { FlowWriter } from './store/appender';
import type { RequestWriter } from './store/request-accessors';
import type { CaptureRecord, FlowRecord, InterfaceRecord, RequestRecord } from '../shared/records';

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
  private flowWriter: FlowWriter | null = null;
  private requestWriter: RequestWriter | null = null;
  private firstFlowId = 0;
  private maxFlowId = -1;

  constructor(
    private readonly store: Store,
    private readonly captureId?: number,
  ) {}

  async beginCapture(): Promise<{ captureId: number; firstFlowId: number }> {
    this.flowWriter = await this.store.flowWriter();
    this.requestWriter = await this.store.requestWriter();
    this.firstFlowId = this.store.allocateFlowIds(0);
    this.maxFlowId = this.firstFlowId - 1;
    return { captureId: this.captureId ?? this.store.nextCaptureId(), firstFlowId: this.firstFlowId };
  }

  addFlow(rec: FlowRecord): void {
    this.flowWriter!.add(rec);
    // Sharded imports hand out ids with a stride: reserve up to the largest one used.
    if (rec.flowId > this.maxFlowId) this.maxFlowId = rec.flowId;
  }

  addRequest(rec: RequestRecord): void {
    rec.requestId = this.store.allocateRequestIds(1);
    this.requestWriter!.add(rec);
  }

  async endCapture(capture: CaptureRecord, interfaces: InterfaceRecord[]): Promise<void> {
    this.flowWriter!.close();
    this.flowWriter = null;
    this.requestWriter!.close();
    this.requestWriter = null;
    this.store.allocateFlowIds(this.maxFlowId - this.firstFlowId + 1);
    await this.store.writeCapture(capture);
    await this.store.writeInterfaces(interfaces);
    await this.store.conn.run(observationPointSql(capture.captureId));
    // Names the capture's own DNS answers give its IPs (SPEC.md "Auto-tagging").
    await learnDnsNames(this.store, capture.captureId);
  }

  /** Leaves the store consistent when an import is abandoned (cancel, internal error). */
  abandon(): void {
    for (const w of [this.flowWriter, this.requestWriter]) {
      try {
        w?.close();
      } catch {
        // The writer already reported its own failure; nothing more to keep.
      }
    }
    this.flowWriter = null;
    this.requestWriter = null;
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

