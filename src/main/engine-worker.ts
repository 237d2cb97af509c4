// Entry of the engine thread (built to out/main/engine-worker.js, started by startWorkerEngine).
//
// This is where the desktop app meets the engine: the factory passed to serveEngine is the one
// FlowscopeService that answers every window's calls. Today that is the file-intake service; the
// engine's service (store + pipeline) goes in its place with the same (emit) => service signature,
// and nothing else in src/main, src/preload or src/renderer changes.

import { parentPort, workerData } from 'node:worker_threads';
import type { AppInfo } from '../shared/api';
import { serveEngine, type EnginePort } from './engine-protocol';
import { createFileIntakeService } from './file-intake-service';

export interface EngineWorkerData {
  appInfo: Omit<AppInfo, 'engine'>;
}

if (!parentPort) throw new Error('engine-worker.ts must run as a worker thread (see engine-host.ts)');
const data = workerData as EngineWorkerData;

serveEngine(parentPort as unknown as EnginePort, (emit) => createFileIntakeService({ emit, appInfo: data.appInfo }));
