// The API over HTTP + Server-Sent Events, for the UI in a browser (`flowscope serve`; server side in
// src/engine/rpc/http-server.ts). Derived from the method list like the Electron bridge: one POST
// per method name, one event stream shared by every listener. Resolves to the same WireResult
// envelopes, so createClient() turns it into the same FlowscopeClient.
//
// Events are read with fetch() rather than EventSource, so the token travels in a header, not in
// the URL of a long-lived request, and the same code runs in Node (tests) and browsers. The stream
// reconnects after a second while anyone listens; events sent while it was down are not replayed.

import {
  API_METHOD_NAMES,
  ApiError,
  isEventName,
  type EventName,
  type FlowscopeWire,
  type WireError,
  type WireResult,
} from '../../shared/api';

export interface HttpWireOptions {
  /** Where the server is, e.g. http://127.0.0.1:4173/ (the API lives under api/). */
  baseUrl: string;
  token: string;
  /** Delay before the event stream reconnects (default 1000 ms). */
  reconnectMs?: number;
  /** Called each time the event stream is (re)connected: events from then on are delivered. */
  onStreamOpen?: () => void;
  fetch?: typeof fetch;
}

/** The `token` query parameter of a page URL, as `flowscope serve` prints it. */
export function tokenFromUrl(href: string): string | null {
  try {
    return new URL(href).searchParams.get('token') || null;
  } catch {
    return null;
  }
}

function isWireResult(value: unknown): value is WireResult<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { ok?: unknown; error?: { code?: unknown; message?: unknown } };
  return v.ok === true ? 'value' in v : v.ok === false && typeof v.error?.code === 'string' && typeof v.error.message === 'string';
}

type Listener = (payload: unknown) => void;

/** Splits an SSE byte stream into events; `dispatch` gets each event's name and data. */
export class SseParser {
  private buffer = '';
  private name = '';
  private data: string[] = [];

  constructor(private readonly dispatch: (name: string, data: string) => void) {}

  push(text: string): void {
    this.buffer += text;
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      // A lone \r at the end may be the first half of \r\n: wait for the next chunk.
      if (width === 1 && this.buffer[newline] === '\r' && newline === this.buffer.length - 1) break;
      this.buffer = this.buffer.slice(newline + width);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.dispatch(this.name || 'message', this.data.join('\n'));
      this.name = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return; // comment (heartbeat)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.name = value;
    else if (field === 'data') this.data.push(value);
  }
}

export function createHttpWire(options: HttpWireOptions): FlowscopeWire {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const base = new URL('api/', options.baseUrl);
  const auth = { authorization: `Bearer ${options.token}` };
  const reconnectMs = options.reconnectMs ?? 1000;
  const wire: Record<string, unknown> = {};

  for (const name of API_METHOD_NAMES) {
    const url = new URL(name, base).href;
    wire[name] = async (request?: unknown): Promise<WireResult<unknown>> => {
      let response: Response;
      try {
        response = await doFetch(url, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify(request ?? null),
        });
      } catch (err) {
        return { ok: false, error: { code: 'unavailable', message: `${name}: the Flowscope server cannot be reached (${(err as Error).message})` } };
      }
      let body: unknown = null;
      try {
        body = await response.json();
      } catch {
        // Not JSON (a proxy's error page, a server gone mid-answer): described below.
      }
      if (isWireResult(body)) return body;
      const error: WireError = { code: response.status === 401 ? 'forbidden' : 'unavailable', message: `${name}: HTTP ${response.status} ${response.statusText}`.trim() };
      return { ok: false, error };
    };
  }

  // One event stream for all listeners, open while there is at least one.
  const listeners = new Map<EventName, Set<Listener>>();
  let stream: AbortController | null = null;

  function listenerCount(): number {
    let n = 0;
    for (const set of listeners.values()) n += set.size;
    return n;
  }

  function deliver(name: string, data: string): void {
    if (!isEventName(name)) return;
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    for (const listener of [...(listeners.get(name) ?? [])]) listener(payload);
  }

  async function run(abort: AbortController): Promise<void> {
    while (!abort.signal.aborted) {
      try {
        const response = await doFetch(new URL('events', base).href, {
          headers: { ...auth, accept: 'text/event-stream' },
          signal: abort.signal,
        });
        if (response.ok && response.body) {
          options.onStreamOpen?.();
          const parser = new SseParser(deliver);
          const decoder = new TextDecoder();
          const reader = response.body.getReader();
          while (true) {
            const { done, value } = await reader.read();
            if (done) break;
            parser.push(decoder.decode(value, { stream: true }));
          }
        } else {
          await response.body?.cancel();
        }
      } catch {
        // Dropped or refused: try again below unless stopped.
      }
      if (abort.signal.aborted) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, reconnectMs);
        abort.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  }

  wire.on = (name: unknown, listener: unknown): (() => void) => {
    if (!isEventName(name)) throw new ApiError('bad_request', `unknown event: ${String(name)}`);
    if (typeof listener !== 'function') throw new ApiError('bad_request', 'listener must be a function');
    if (!listeners.has(name)) listeners.set(name, new Set());
    const fn = listener as Listener;
    listeners.get(name)!.add(fn);
    if (!stream) {
      stream = new AbortController();
      void run(stream);
    }
    return () => {
      listeners.get(name)?.delete(fn);
      if (listenerCount() === 0 && stream) {
        stream.abort();
        stream = null;
      }
    };
  };

  return Object.freeze(wire) as unknown as FlowscopeWire;
}
