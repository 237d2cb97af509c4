// Imports capture files into a store: pipeline → flow writer → captures/interfaces rows → observation
// points. The one entry point the CLI, the desktop app and `serve` use.

import { analyzeCapture, type CaptureResult, type CaptureSink, type ImportProgress } from './pipeline';
import { observationPointSql } from './flow/observation';
import type { Store } from './store/store';
import type { FlowWriter } from './store/appender';
import type { CaptureRecord, FlowRecord, InterfaceRecord } from '../shared/records';

export interface ImportOptions {
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
}

class StoreSink implements CaptureSink {
  private writer: FlowWriter | null = null;
  private flows = 0;

  constructor(private readonly store: Store) {}

  async beginCapture(): Promise<{ captureId: number; firstFlowId: number }> {
    this.writer = await this.store.flowWriter();
    this.flows = 0;
    return { captureId: this.store.nextCaptureId(), firstFlowId: this.store.allocateFlowIds(0) };
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
  const results: CaptureResult[] = [];
  for (const path of paths) {
    const sink = new StoreSink(store);
    try {
      results.push(await analyzeCapture(path, { sink, signal: opts.signal, onProgress: opts.onProgress }));
    } catch (err) {
      sink.abandon();
      throw err;
    }
  }
  return results;
}
