// The message protocol between the main process and the engine's own thread or process. The engine
// side serves one FlowscopeService; calls are correlated by id and results travel as WireResults,
// events as ApiEvents. Only structured-clonable data crosses, so the same protocol works over a
// worker_thread, an Electron utilityProcess or a child process with an IPC channel.

import {
  checkRequest,
  isMethodName,
  toWireError,
  ApiError,
  type ApiEvent,
  type EmitEvent,
  type FlowscopeService,
  type MethodName,
  type WireResult,
} from '../shared/api';

/** The workspace database's file name in the app's data directory (main and worker agree on it). */
export const WORKSPACE_DB_NAME = 'workspace.duckdb';

export type HostMessage =
  | { type: 'call'; id: number; method: MethodName; request: unknown }
  | { type: 'stop' };

export type EngineMessage =
  | { type: 'result'; id: number; result: WireResult<unknown> }
  | { type: 'event'; event: ApiEvent }
  | { type: 'stopped' };

/** The engine side of the channel (worker_threads' parentPort fits). */
export interface EnginePort {
  postMessage(message: EngineMessage): void;
  on(event: 'message', listener: (message: HostMessage) => void): unknown;
}

/** A service plus an optional shutdown hook (the engine closes its store there). */
export type HostedService = FlowscopeService & { close?: () => Promise<void> };

export function serveEngine(port: EnginePort, create: (emit: EmitEvent) => HostedService): void {
  const emit: EmitEvent = (name, payload) => {
    port.postMessage({ type: 'event', event: { name, payload } as ApiEvent });
  };
  const service = create(emit);

  port.on('message', (message) => {
    if (message.type === 'stop') {
      const done = () => port.postMessage({ type: 'stopped' });
      (service.close ? service.close() : Promise.resolve()).then(done, done);
      return;
    }
    void answer(message.id, message.method, message.request);
  });

  async function answer(id: number, method: unknown, request: unknown): Promise<void> {
    let result: WireResult<unknown>;
    try {
      if (!isMethodName(method)) throw new ApiError('bad_request', `unknown method: ${String(method)}`);
      checkRequest(method, request);
      const call = service[method] as (request: unknown) => Promise<unknown>;
      result = { ok: true, value: await call.call(service, request) };
    } catch (err) {
      result = { ok: false, error: toWireError(err) };
    }
    port.postMessage({ type: 'result', id, result });
  }
}
