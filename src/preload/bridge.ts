// Derives `window.flowscope` from the API definition: one function per method name, plus `on` for
// events and the desktop-only `pathForFile`. Nothing is written per method, so the bridge cannot
// drift from src/shared/api.ts. Methods resolve to the main process's WireResult envelopes as they
// are (see FlowscopeWire); the renderer wraps them with createClient. Pure: it takes the IPC object,
// so a test can pass a fake one.

import {
  API_METHOD_NAMES,
  ApiError,
  eventChannel,
  isEventName,
  methodChannel,
  toWireError,
  type FlowscopeBridge,
  type WireResult,
} from '../shared/api';

/** The slice of Electron's ipcRenderer the bridge uses. */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

export function createBridge(ipc: IpcRendererLike, getPathForFile?: (file: File) => string): FlowscopeBridge {
  const bridge: Record<string, unknown> = {};
  for (const name of API_METHOD_NAMES) {
    const channel = methodChannel(name);
    bridge[name] = async (request?: unknown): Promise<WireResult<unknown>> => {
      try {
        return (await ipc.invoke(channel, request)) as WireResult<unknown>;
      } catch (err) {
        // invoke itself failed (no handler yet, main process gone): still answer with an envelope.
        return { ok: false, error: { ...toWireError(err), code: 'unavailable' } };
      }
    };
  }

  bridge.on = (name: unknown, listener: unknown): (() => void) => {
    if (!isEventName(name)) throw new ApiError('bad_request', `unknown event: ${String(name)}`);
    if (typeof listener !== 'function') throw new ApiError('bad_request', 'listener must be a function');
    const channel = eventChannel(name);
    // The IPC event object is dropped: it exposes the sender, which the page must not reach.
    const forward = (_event: unknown, payload: unknown) => (listener as (p: unknown) => void)(payload);
    ipc.on(channel, forward);
    return () => {
      ipc.removeListener(channel, forward);
    };
  };

  if (getPathForFile) {
    bridge.pathForFile = (file: File): string => getPathForFile(file);
  }

  return Object.freeze(bridge) as unknown as FlowscopeBridge;
}
