// Imports capture files into a store: pipeline → flow writer → captures/interfaces rows → observation
// points. The one entry point the CLI, the desktop app and `serve` use.

import { analyzeCapture, type CaptureResult, type CaptureSink, type ImportProgress } from './pipeline';
import { analyzeCaptureSharded } from './sharded';
import { observationPointSql } from './flow/observation';
import { learnDnsNames } from './tag/dns-names';
import type { Store } from './store/store';

import type { FlowWriter, RequestWriter } from './store/appender';
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

/**
 * DuckDB settings while a file streams into a file-backed store (they are instance-wide: queries on
 * other connections share them until the previous values are back, before the capture's closing SQL).
 * The writers commit every COMMIT_ROWS rows (appender.ts); committed rows wait uncompressed in memory
 * until a checkpoint compresses them into the file, so without a bound they grow with the file.
 * - memory_limit: over it DuckDB spills to its temp directory; the default (80 % of RAM) never binds.
 *   256 MB, not less: the views' queries on another connection share it while an import runs, and at
 *   64 MB the map, RED and time series of a 1 M-request workspace failed with "Out of Memory"
 *   (256 MB: all answered). Bench capture peak RSS: 305-315 MB at 64 MB, 340-350 MB at 256 MB.
 * - wal_autocheckpoint: the default 16 MB checkpoints about once a second here, each recompressing
 *   the unfinished row group (~+50 % import time on a 3 M-packet capture); 64 MB keeps the peak with
 *   fewer checkpoints (256 MB no longer bounds it: 480-515 MB).
 * Peak RSS, bench capture (1.5 M packets, 220k requests) / twice its size: 435-455 / 520-560 MB
 * before; commits alone 320 / 500-535 MB; commits with these settings 305-315 / 355-375 MB, import
 * time unchanged on the bench capture and +10-15 % on twice its size.
 */
const IMPORT_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['memory_limit', '256MB'],
  ['wal_autocheckpoint', '64MB'],
];

class StoreSink implements CaptureSink {
  private flowWriter: FlowWriter | null = null;
  private requestWriter: RequestWriter | null = null;
  private firstFlowId = 0;
  private maxFlowId = -1;
  /** IMPORT_SETTINGS' values before beginCapture changed them; null when unchanged (or back). */
  private savedSettings: [string, string][] | null = null;

  constructor(
    private readonly store: Store,
    private readonly captureId?: number,
  ) {}

  async beginCapture(): Promise<{ captureId: number; firstFlowId: number }> {
    // An in-memory store has nowhere to spill to and no checkpoints: it keeps DuckDB's settings.
    if (this.store.path !== ':memory:' && this.store.path !== '') {
      const saved: [string, string][] = [];
      for (const [name] of IMPORT_SETTINGS) {
        const reader = await this.store.conn.runAndReadAll(`SELECT current_setting('${name}')`);
        saved.push([name, String(reader.getRows()[0][0])]);
      }
      this.savedSettings = saved;
      for (const [name, value] of IMPORT_SETTINGS) await this.store.conn.run(`SET ${name} = '${value}'`);
    }
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
    await this.restoreSettings();
    this.store.allocateFlowIds(this.maxFlowId - this.firstFlowId + 1);
    await this.store.writeCapture(capture);
    await this.store.writeInterfaces(interfaces);
    await this.store.conn.run(observationPointSql(capture.captureId));
    // Names the capture's own DNS answers give its IPs (SPEC.md "Auto-tagging").
    await learnDnsNames(this.store, capture.captureId);
  }

  /** Puts back the settings beginCapture changed (twice is harmless). */
  async restoreSettings(): Promise<void> {
    const saved = this.savedSettings;
    if (saved === null) return;
    this.savedSettings = null;
    for (const [name, value] of saved) await this.store.conn.run(`SET ${name} = '${value.replace(/'/g, "''")}'`);
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
    } finally {
      await sink.restoreSettings();
    }
  }
  return results;
}

