// Imports capture files into a store: pipeline → flow writer → captures/interfaces rows → observation
// points. The one entry point the CLI, the desktop app and `serve` use.

import { analyzeCapture, type CaptureResult, type CaptureSink, type ImportProgress } from './pipeline';
import { analyzeCaptureSharded, type ChunkSink } from './sharded';
import type { WorkerTables } from './shard-worker';
import type { StagedChunk } from './store/chunk';
import { observationPointSql } from './flow/observation';
import { learnDnsNames } from './tag/dns-names';
import type { Store } from './store/store';
import type { FlowWriter, RequestWriter } from './store/appender';
import type { CaptureRecord, FlowRecord, InterfaceRecord, RequestRecord } from '../shared/records';

export interface ImportOptions {
  /**
   * Worker threads per file. 0 (the default): everything on this thread. 1: reading, decoding, flows,
   * L7 and the staging of rows run on a worker while this thread only appends the staged chunks to
   * DuckDB. More: flows sharded by hash over that many workers, each of which reads and decodes the
   * whole file. On the 2-core benchmark machine neither is faster than 0 (bench/RESULTS.md): V8's
   * own GC threads and DuckDB already keep the second core busy.
   */
  workers?: number;
  /** Flows only: no application protocols are parsed and no requests are stored (faster, and what
   * a user after conversations and TCP health alone needs). */
  flowsOnly?: boolean;
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
 * - memory_limit: over it DuckDB spills to its temp directory; the default (80 % of RAM) never binds.
 *   256 MB, not less: the views' queries on another connection share it while an import runs, and at
 *   64 MB the map, RED and time series of a 1 M-request workspace failed with "Out of Memory"
 *   (256 MB: all answered).
 * Since the capture is one transaction (beginCapture), neither the limit (128-256 MB) nor
 * wal_autocheckpoint change the bench capture's peak RSS (310-330 MB; commits every 16k rows without
 * these settings: 435-455 MB).
 */
const IMPORT_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['memory_limit', '256MB'],
];

class StoreSink implements CaptureSink, ChunkSink {
  private flowWriter: FlowWriter | null = null;
  private requestWriter: RequestWriter | null = null;
  private firstFlowId = 0;
  private maxFlowId = -1;
  /** IMPORT_SETTINGS' values before beginCapture changed them; null when unchanged (or back). */
  private savedSettings: [string, string][] | null = null;
  /** The capture's rows are in a transaction beginCapture opened. */
  private inTransaction = false;

  /**
   * Requests to the store. Absent for a flows-only import: the pipeline parses application
   * protocols only for a sink that takes requests.
   */
  readonly addRequest?: (rec: RequestRecord) => void;

  constructor(
    private readonly store: Store,
    private readonly captureId: number | undefined,
    withRequests: boolean,
  ) {
    if (withRequests) {
      this.addRequest = (rec) => {
        rec.requestId = this.store.allocateRequestIds(1);
        this.requestWriter!.add(rec);
      };
    }
  }

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
    // One transaction per capture: DuckDB writes the full row groups of a large transaction straight
    // into the file, compressed ("optimistic writes"), where rows committed batch by batch went through
    // the WAL first and were written again by each checkpoint. Bench capture: DuckDB's share of the
    // import 1.5 → 0.9 s, peak RSS 335-355 → 310-335 MB.
    await this.store.conn.run('BEGIN TRANSACTION');
    this.inTransaction = true;
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

  workerTables(): WorkerTables {
    return {
      flows: this.flowWriter!.specs,
      requests: this.addRequest ? this.requestWriter!.specs : null,
      firstRequestId: this.store.allocateRequestIds(0),
    };
  }

  appendChunk(table: 'flows' | 'requests', chunk: StagedChunk): void {
    (table === 'flows' ? this.flowWriter! : this.requestWriter!).appendChunk(chunk);
  }

  usedIds(lastFlowId: number, lastRequestId: number): void {
    if (lastFlowId > this.maxFlowId) this.maxFlowId = lastFlowId;
    const first = this.store.allocateRequestIds(0);
    if (lastRequestId >= first) this.store.allocateRequestIds(lastRequestId - first + 1);
  }

  async endCapture(capture: CaptureRecord, interfaces: InterfaceRecord[]): Promise<void> {
    this.flowWriter!.close();
    this.flowWriter = null;
    this.requestWriter!.close();
    this.requestWriter = null;
    await this.commit();
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

  /**
   * Leaves the store consistent when an import is abandoned (cancel, internal error): the rows
   * appended so far are committed, and the caller decides whether to keep them.
   */
  async abandon(): Promise<void> {
    for (const w of [this.flowWriter, this.requestWriter]) {
      try {
        w?.close();
      } catch {
        // The writer already reported its own failure; nothing more to keep.
      }
    }
    this.flowWriter = null;
    this.requestWriter = null;
    await this.commit().catch(() => {});
  }

  private async commit(): Promise<void> {
    if (!this.inTransaction) return;
    this.inTransaction = false;
    try {
      await this.store.conn.run('COMMIT');
    } catch (err) {
      await this.store.conn.run('ROLLBACK').catch(() => {}); // a failed transaction must still end
      throw err;
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
    const sink = new StoreSink(store, opts.captureIds?.[i], !opts.flowsOnly);
    try {
      const workers = opts.workers ?? 0;
      const run = { sink, signal: opts.signal, onProgress: opts.onProgress };
      results.push(workers > 0 ? await analyzeCaptureSharded(path, workers, run) : await analyzeCapture(path, run));
    } catch (err) {
      await sink.abandon();
      throw err;
    } finally {
      await sink.restoreSettings();
    }
  }
  return results;
}

