// EngineHost: how the main process reaches the engine. The engine runs off the main thread so that
// decoding and DuckDB work never stall window handling or IPC.
//
// The seam: `startWorkerEngine(entry)` starts `entry` (built from src/main/engine-worker.ts) as a
// worker_thread; that file decides which FlowscopeService answers the API. Everything on this side
// (IPC handlers, menus, recent files) talks to the EngineHost interface only, so swapping the
// service, or moving it to an Electron utilityProcess or a remote agent, touches no caller.

import { Worker } from 'node:worker_threads';
import {
  ApiError,
  type ApiEvent,
  type MethodName,
  type RequestOf,
  type ResponseOf,
} from '../shared/api';
import type { EngineMessage, HostMessage } from './engine-protocol';

export interface EngineHost {
  call<K extends MethodName>(method: K, request: RequestOf<K>): Promise<ResponseOf<K>>;
  /** Every event the engine emits; returns the unsubscribe function. */
  onEvent(listener: (event: ApiEvent) => void): () => void;
  /** Asks the engine to shut down cleanly; kills it after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export function startWorkerEngine(entry: string | URL, workerData?: unknown): EngineHost {
  const worker = new Worker(entry, { workerData });
  const pending = new Map<number, Pending>();
  const listeners = new Set<(event: ApiEvent) => void>();
  let nextId = 1;
  // Once set, the engine is gone and every call fails with this reason.
  let stoppedReason: string | null = null;
  let stopped: (() => void) | null = null;

  function failAll(reason: string): void {
    stoppedReason ??= reason;
    for (const p of pending.values()) p.reject(new ApiError('unavailable', stoppedReason));
    pending.clear();
  }

  worker.on('message', (message: EngineMessage) => {
    switch (message.type) {
      case 'result': {
        const p = pending.get(message.id);
        if (!p) return;
        pending.delete(message.id);
        if (message.result.ok) p.resolve(message.result.value);
        else p.reject(new ApiError(message.result.error.code, message.result.error.message));
        return;
      }
      case 'event':
        for (const listener of listeners) listener(message.event);
        return;
      case 'stopped':
        stopped?.();
        return;
    }
  });
  worker.on('error', (err) => failAll(`engine failed: ${err.message}`));
  worker.on('exit', (code) => {
    failAll(`engine stopped (exit code ${code})`);
    stopped?.();
  });

  return {
    call<K extends MethodName>(method: K, request: RequestOf<K>): Promise<ResponseOf<K>> {
      if (stoppedReason !== null) return Promise.reject(new ApiError('unavailable', stoppedReason));
      const id = nextId++;
      return new Promise<ResponseOf<K>>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        worker.postMessage({ type: 'call', id, method, request } satisfies HostMessage);
      });
    },

    onEvent(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    async close(graceMs = 3000) {
      if (stoppedReason !== null) return;
      const done = new Promise<void>((resolve) => {
        stopped = resolve;
      });
      worker.postMessage({ type: 'stop' } satisfies HostMessage);
      const timer = setTimeout(() => void worker.terminate(), graceMs);
      await done;
      clearTimeout(timer);
      failAll('engine closed');
      await worker.terminate();
    },
  };
}
