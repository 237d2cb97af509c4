// The engine's implementation of the one API (shared/api.ts): a workspace store, an import queue and
// the queries the UI needs. Plain Node; every transport (Electron's engine worker, `flowscope serve`)
// hosts this same object.
//
// - openCapture checks each file's first bytes at once (a wrong file is refused with its reason),
//   reserves the capture id, and queues the import. Imports run one at a time, in order: each already
//   uses the cores it can (sharded flows), and one writer keeps the store simple.
// - importProgress events: 'reading' as soon as an import is queued (bytesRead 0 until its turn), then
//   about every MiB, and one final event: 'done'; 'failed' with the reader's message (file, offset,
//   reason) — a truncated or damaged file keeps everything read before the fault; or 'cancelled'.
// - A cancelled import leaves nothing behind: its flows so far are deleted (a half-read capture
//   would silently miss every flow still open at that moment).
// - listCaptures = the `captures` table plus the imports not finished yet (queued or reading).
// - A Kubernetes metadata file given to openCapture (a kubectl JSON dump, or any `.json` path) is
//   loaded as names for IPs (engine/tag) before openCapture returns, not imported; a bad one is
//   rejected with the file and what is wrong. Names join at query time, so they apply to captures
//   imported before and after; each load or removal emits metadataChanged.

import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import {
  ApiError,
  type AppInfo,
  type EmitEvent,
  type FlowscopeService,
  type ImportPhase,
  type MetadataSource,
  type OpenCaptureResponse,
} from '../shared/api';
import type { CaptureRecord } from '../shared/records';
import { openCapture as openCaptureFile } from './capture/open';
import { CaptureError } from './capture/types';
import { importCaptures } from './import';
import { ReadOnlyQueries, DEFAULT_MAX_QUERY_ROWS } from './read-only-query';
import { Store } from './store/store';
import { captureSummary } from './store/summary';
import { Views } from './store/views';
import { describeK8sMetadata, isMetadataPath, K8sMetadataError, loadK8sMetadata, removeK8sMetadata } from './tag/k8s-metadata';
import type { ViewScope } from '../shared/views';

export interface EngineServiceOptions {
  /** The workspace database file, or ':memory:'. Created (with its directory) when missing. */
  dbPath: string;
  emit: EmitEvent;
  appInfo: Omit<AppInfo, 'engine'>;
  /** Worker threads per import (importCaptures' `workers`; default 0: on the engine's own thread). */
  importWorkers?: number;
  /** Most rows `query` returns; more are cut off and `truncated` is set. */
  maxQueryRows?: number;
}

export type EngineService = FlowscopeService & {
  /** Settles when the store is open (rejects with the reason it could not be). */
  readonly ready: Promise<void>;
  /** Cancels every import, waits for them and closes the store. */
  close(): Promise<void>;
};

interface ImportJob {
  importId: string;
  /** What listCaptures shows until the capture's own row is written. */
  record: CaptureRecord;
  abort: AbortController;
  bytesRead: number;
  flows: number;
}

const CAPTURE_COLUMNS =
  'capture_id, source, kind, started_at, ended_at, packets, bytes, file_bytes, malformed_packets, non_ip_packets, error';

function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The file's kind and size if it is a capture the engine reads, else why not (file, offset, reason). */
async function checkCaptureFile(path: string): Promise<{ kind: string; fileBytes: number } | { reason: string }> {
  if (!isAbsolute(path)) return { reason: `${path}: not an absolute path` };
  try {
    const info = await stat(path);
    if (!info.isFile()) return { reason: `${path}: not a regular file` };
    const source = await openCaptureFile(path);
    return { kind: source.format, fileBytes: source.totalBytes };
  } catch (err) {
    if (err instanceof CaptureError) return { reason: err.message };
    return { reason: `${path}: cannot read: ${message(err)}` };
  }
}

export function createEngineService(options: EngineServiceOptions): EngineService {
  const { emit, dbPath } = options;
  const engineName = `Flowscope engine · store ${dbPath === ':memory:' || dbPath === '' ? 'in memory' : dbPath}`;
  let store: Store | null = null;
  let queries: ReadOnlyQueries | null = null;
  let viewQueries: Views | null = null;
  let closing = false;
  let closed: Promise<void> | null = null;

  const ready = (async () => {
    const opened = await Store.open(dbPath);
    try {
      // `query` reads the store, not the file system: without this, read_csv('/etc/…') would show
      // any file the engine's user can read to whoever holds the API (e.g. a `serve` token).
      await opened.conn.run('SET enable_external_access = false');
      queries = new ReadOnlyQueries(await opened.connect(), options.maxQueryRows ?? DEFAULT_MAX_QUERY_ROWS);
    } catch (err) {
      await opened.close();
      throw err;
    }
    store = opened;
    viewQueries = new Views(opened);
    // A workspace reopened with captures in it: build what the views share before the first is asked.
    const [[captures]] = (await opened.query('SELECT count(*) FROM captures')).rows;
    if (Number(captures) > 0) viewQueries.warm().catch(() => undefined);
  })();
  // Callers see the failure through open(); this only keeps it from being an unhandled rejection.
  ready.catch(() => undefined);

  async function open(): Promise<Store> {
    try {
      await ready;
    } catch (err) {
      throw new ApiError('unavailable', `the workspace database could not be opened: ${message(err)}`);
    }
    if (closing || !store) throw new ApiError('unavailable', 'the engine is shutting down');
    return store;
  }

  // The import queue: `queue` waits, `current` runs; `jobs` finds either by import id.
  const queue: ImportJob[] = [];
  const jobs = new Map<string, ImportJob>();
  let current: ImportJob | null = null;
  let pump: Promise<void> | null = null;
  let nextImport = 1;

  function report(job: ImportJob, phase: ImportPhase, error?: string): void {
    const { record } = job;
    emit('importProgress', {
      importId: job.importId,
      captureId: record.captureId,
      path: record.source,
      phase,
      bytesRead: job.bytesRead,
      totalBytes: record.fileBytes,
      packets: record.packets,
      flows: job.flows,
      ...(error === undefined ? {} : { error }),
    });
  }

  /** Removes every row of a capture (a cancelled or broken import). Runs between imports, so the
   *  store's own connection is free. */
  async function discard(s: Store, captureId: number): Promise<void> {
    for (const table of ['requests', 'flows', 'interfaces', 'captures']) {
      await s.conn.run(`DELETE FROM ${table} WHERE capture_id = $1`, [captureId]);
    }
  }

  async function runImport(s: Store, job: ImportJob): Promise<void> {
    const { record, abort } = job;
    let phase: ImportPhase;
    let error: string | undefined;
    try {
      const [result] = await importCaptures(s, [record.source], {
        captureIds: [record.captureId],
        workers: options.importWorkers,
        signal: abort.signal,
        onProgress: (p) => {
          // Sharded imports report per worker: keep the figures moving forward only. Each worker
          // reads every packet but keeps only its share of flows, so `flows` runs low until the end.
          if (p.bytesRead <= job.bytesRead) return;
          job.bytesRead = p.bytesRead;
          record.packets = Math.max(record.packets, p.packets);
          job.flows = Math.max(job.flows, p.flows);
          report(job, 'reading');
        },
      });
      if (abort.signal.aborted) throw abort.signal.reason;
      Object.assign(record, result.capture);
      job.flows = result.flows;
      if (result.error) {
        phase = 'failed';
        error = result.error.message;
      } else {
        phase = 'done';
        job.bytesRead = record.fileBytes;
      }
    } catch (err) {
      await discard(s, record.captureId);
      if (abort.signal.aborted) {
        phase = 'cancelled';
      } else {
        // Not the file's fault (e.g. the store failed): say so on the capture's row as well.
        phase = 'failed';
        error = err instanceof CaptureError ? err.message : `${record.source}: import failed: ${message(err)}`;
        Object.assign(record, { packets: 0, bytes: 0, startedAt: null, endedAt: null, error });
        job.flows = 0;
        await s.writeCapture(record);
      }
    }
    jobs.delete(job.importId);
    viewQueries?.invalidate();
    report(job, phase, error);
    // The last import of a batch: build what every view shares before the user asks (a failure here
    // shows again, and is reported, on the view that needs it).
    if (jobs.size === 0 && queue.length === 0) viewQueries?.warm().catch(() => undefined);
  }

  /** Runs queued imports until none is left. Started only with a non-empty queue, so `pump` is set
   *  before the loop can end (the first import always awaits). */
  async function drain(s: Store): Promise<void> {
    while (queue.length > 0) {
      const job = queue.shift()!;
      current = job;
      try {
        await runImport(s, job);
      } catch (err) {
        // Undoing or recording the failure failed too (the store is in trouble): still end the import.
        jobs.delete(job.importId);
        report(job, 'failed', `${job.record.source}: import failed: ${message(err)}`);
      } finally {
        current = null;
      }
    }
    pump = null;
  }

  async function listFinished(s: Store): Promise<CaptureRecord[]> {
    // A connection of its own: the store's `conn` belongs to the import running meanwhile.
    const conn = await s.connect();
    let rows: unknown[][];
    try {
      rows = (await conn.runAndReadAll(`SELECT ${CAPTURE_COLUMNS} FROM captures ORDER BY capture_id`)).getRows();
    } finally {
      conn.closeSync();
    }
    return rows.map((r) => ({
      captureId: num(r[0]),
      source: r[1] as string,
      kind: r[2] as string,
      startedAt: numOrNull(r[3]),
      endedAt: numOrNull(r[4]),
      packets: num(r[5]),
      bytes: num(r[6]),
      fileBytes: num(r[7]),
      malformedPackets: num(r[8]),
      nonIpPackets: num(r[9]),
      error: (r[10] as string | null) ?? null,
    }));
  }

  /**
   * A view's scope with its captures checked: only finished captures (an import under way has part of
   * its rows in the tables already), all of them when the scope names none.
   */
  async function finishedScope<T extends ViewScope>(s: Store, request: T): Promise<T> {
    const unfinished = new Set([...jobs.values()].map((j) => j.record.captureId));
    for (const id of request.captureIds ?? []) {
      if (unfinished.has(id)) throw new ApiError('unavailable', `capture ${id} is still being imported`);
    }
    if (request.captureIds !== undefined) return request;
    if (unfinished.size === 0) return request;
    const finished = (await listFinished(s)).map((r) => r.captureId).filter((id) => !unfinished.has(id));
    return { ...request, captureIds: finished };
  }

  /** Loads one metadata file into the tags; the views' next query sees the names. */
  async function loadMetadata(s: Store, path: string): Promise<MetadataSource> {
    const loaded = await loadK8sMetadata(s, path);
    const metadata = { path, source: loaded.source, pods: loaded.pods, services: loaded.services, nodes: loaded.nodes };
    viewQueries?.invalidate();
    emit('metadataChanged', { change: 'loaded', metadata });
    return metadata;
  }

  async function views<T extends ViewScope>(request: T): Promise<{ views: Views; request: T }> {
    const s = await open();
    return { views: viewQueries!, request: await finishedScope(s, request) };
  }

  return {
    ready,

    async appInfo() {
      return { ...options.appInfo, engine: engineName };
    },

    async openCapture({ paths }) {
      const s = await open();
      const response: OpenCaptureResponse = { captureIds: [], importIds: [], rejected: [] };
      for (const path of paths) {
        if (await isMetadataPath(path)) {
          try {
            const metadata = await loadMetadata(s, path);
            (response.metadata ??= []).push(metadata);
          } catch (err) {
            const reason = err instanceof K8sMetadataError ? err.message : `${path}: cannot load Kubernetes metadata: ${message(err)}`;
            response.rejected.push({ path, reason });
          }
          continue;
        }
        const checked = await checkCaptureFile(path);
        if ('reason' in checked) {
          response.rejected.push({ path, reason: checked.reason });
          continue;
        }
        const job: ImportJob = {
          importId: `import-${nextImport++}`,
          record: {
            captureId: s.nextCaptureId(),
            source: path,
            kind: checked.kind,
            startedAt: null,
            endedAt: null,
            packets: 0,
            bytes: 0,
            fileBytes: checked.fileBytes,
            malformedPackets: 0,
            nonIpPackets: 0,
            error: null,
          },
          abort: new AbortController(),
          bytesRead: 0,
          flows: 0,
        };
        jobs.set(job.importId, job);
        queue.push(job);
        report(job, 'reading');
        response.captureIds.push(job.record.captureId);
        response.importIds.push(job.importId);
      }
      if (!pump && queue.length > 0) pump = drain(s);
      return response;
    },

    async listMetadata() {
      const s = await open();
      return (await describeK8sMetadata(s)).map(({ file, ...counts }) => ({ path: file, ...counts }));
    },

    async removeMetadata({ source }) {
      const s = await open();
      const known = (await describeK8sMetadata(s)).find((m) => m.source === source);
      if (!known || !(await removeK8sMetadata(s, source))) return { removed: false };
      viewQueries?.invalidate();
      const { file, ...counts } = known;
      emit('metadataChanged', { change: 'removed', metadata: { path: file, ...counts } });
      return { removed: true };
    },

    async listCaptures() {
      const s = await open();
      const finished = await listFinished(s);
      const listed = new Set(finished.map((r) => r.captureId));
      const unfinished = [...jobs.values()].map((j) => ({ ...j.record })).filter((r) => !listed.has(r.captureId));
      return [...finished, ...unfinished].sort((a, b) => a.captureId - b.captureId);
    },

    async captureSummary({ captureIds }) {
      const s = await open();
      const unfinished = new Set([...jobs.values()].map((j) => j.record.captureId));
      for (const id of captureIds ?? []) {
        if (unfinished.has(id)) throw new ApiError('unavailable', `capture ${id} is still being imported`);
      }
      const finished = new Set((await listFinished(s)).map((r) => r.captureId));
      for (const id of captureIds ?? []) {
        if (!finished.has(id)) throw new ApiError('not_found', `no capture with id ${id}`);
      }
      // Only finished captures: an import under way has part of its flows in the table already.
      return captureSummary(s, captureIds ?? [...finished]);
    },

    async query({ sql }) {
      await open();
      return queries!.run(sql);
    },

    async serviceMap(request) {
      const v = await views(request);
      return v.views.serviceMap(v.request);
    },

    async red(request) {
      const v = await views(request);
      return v.views.red(v.request);
    },

    async network(request) {
      const v = await views(request);
      return v.views.network(v.request);
    },

    async timeSeries(request) {
      const v = await views(request);
      return v.views.timeSeries(v.request);
    },

    async requestLog(request) {
      const v = await views(request);
      return v.views.requestLog(v.request);
    },

    async flowLog(request) {
      const v = await views(request);
      return v.views.flowLog(v.request);
    },

    async requestPath(request) {
      const v = await views(request);
      return v.views.requestPath(v.request);
    },

    async cancelImport({ importId }) {
      const job = jobs.get(importId);
      if (!job || job.abort.signal.aborted) return { cancelled: false };
      job.abort.abort(new Error('import cancelled'));
      const waiting = queue.indexOf(job);
      if (waiting >= 0) {
        // Never started: nothing was written, nothing to undo.
        queue.splice(waiting, 1);
        jobs.delete(importId);
        report(job, 'cancelled');
      }
      return { cancelled: true };
    },

    close() {
      closed ??= (async () => {
        try {
          await ready;
        } catch {
          return; // nothing was opened
        }
        closing = true;
        for (const job of [...queue]) await this.cancelImport({ importId: job.importId });
        current?.abort.abort(new Error('the engine is closing'));
        await pump;
        queries?.close();
        await viewQueries?.close();
        await store?.close();
      })();
      return closed;
    },
  };
}
