// Electron IPC handlers derived from the API definition: one `handle` per method name, each
// checking who is calling, validating the request against the definition and answering with a
// WireResult envelope (preload unwraps it). Pure: it takes the ipcMain-like object and the caller.

import {
  API_METHOD_NAMES,
  ApiError,
  checkRequest,
  methodChannel,
  toWireError,
  type MethodName,
  type RequestOf,
  type ResponseOf,
  type WireResult,
} from '../shared/api';

export interface IpcInvokeEventLike {
  /** The frame that sent the call; null when it has navigated away or been destroyed. */
  senderFrame?: { url: string } | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcInvokeEventLike, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

export type ApiCaller = <K extends MethodName>(method: K, request: RequestOf<K>) => Promise<ResponseOf<K>>;

/** Registers every API method; returns a function that removes them again. */
export function registerApiHandlers(
  ipc: IpcMainLike,
  call: ApiCaller,
  isTrustedSender: (url: string) => boolean,
): () => void {
  for (const name of API_METHOD_NAMES) {
    ipc.handle(methodChannel(name), async (event, request): Promise<WireResult<unknown>> => {
      try {
        // HTTP Toolkit's rule: only our own page may call, never a frame it navigated to.
        const url = event.senderFrame?.url ?? '';
        if (!isTrustedSender(url)) throw new ApiError('forbidden', `${name}: caller ${url || '(unknown frame)'} is not the Flowscope UI`);
        checkRequest(name, request);
        return { ok: true, value: await call(name, request as RequestOf<typeof name>) };
      } catch (err) {
        return { ok: false, error: toWireError(err) };
      }
    });
  }
  return () => {
    for (const name of API_METHOD_NAMES) ipc.removeHandler(methodChannel(name));
  };
}

/**
 * Whether `url` is the page we loaded: the same file (ignoring query and hash) for a packaged
 * build, the same origin for the dev server.
 */
export function isTrustedRendererUrl(url: string, rendererUrl: string): boolean {
  let actual: URL;
  let expected: URL;
  try {
    actual = new URL(url);
    expected = new URL(rendererUrl);
  } catch {
    return false;
  }
  if (expected.protocol === 'file:') return actual.protocol === 'file:' && actual.pathname === expected.pathname;
  return actual.origin === expected.origin;
}
