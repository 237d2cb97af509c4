// Entry of the engine thread (built to out/main/engine-worker.js, started by startWorkerEngine).
//
// This is where the desktop app meets the engine: the factory passed to serveEngine is the one
// FlowscopeService that answers every window's calls — the engine's own service (src/engine/
// service.ts: workspace store, import queue, summaries, queries), the same one `flowscope serve` hosts.

import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { AppInfo } from '../shared/api';
import { createEngineService } from '../engine/service';
import { serveEngine, WORKSPACE_DB_NAME, type EnginePort } from './engine-protocol';

export interface EngineWorkerData {
  appInfo: Omit<AppInfo, 'engine'>;
  /**
   * The workspace database (main passes app.getPath('userData')/workspace.duckdb). Without it:
   * FLOWSCOPE_USER_DATA/workspace.duckdb when that is set, else an in-memory store.
   */
  dbPath?: string;
}

if (!parentPort) throw new Error('engine-worker.ts must run as a worker thread (see engine-host.ts)');
const data = workerData as EngineWorkerData;
const userData = process.env.FLOWSCOPE_USER_DATA;
const dbPath = data.dbPath ?? (userData ? join(userData, WORKSPACE_DB_NAME) : ':memory:');

serveEngine(parentPort as unknown as EnginePort, (emit) =>
  createEngineService({
    emit,
    appInfo: data.appInfo,
    dbPath,
  }),
);
