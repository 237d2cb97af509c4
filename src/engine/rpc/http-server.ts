// The API over HTTP, for `flowscope serve` and the browser build of the UI (ARCHITECTURE.md "One
// API, four transports", 3). Derived from the method list like the Electron bridge:
//
//   POST /api/<method>   JSON request body (empty for none) → the WireResult envelope as JSON; the
//                        HTTP status follows the error code (400, 401, 403, 404, 409, 413, 500, 503).
//   GET  /api/events     Server-Sent Events: `event: <name>` + `data: <payload JSON>` per event.
//   GET  /…              the built renderer (index.html, assets), when a directory is given.
//
// SSE rather than a WebSocket: events only flow to the page (calls are plain POSTs), SSE needs no
// framing code or library on either side, and it passes through anything that passes HTTP.
//
// Security: binds 127.0.0.1 unless told otherwise; every /api request needs the random token
// (`Authorization: Bearer <token>` or `?token=<token>`; EventSource cannot send headers). The
// static files are the public build and need none. No CORS headers are sent, so another site's page
// can neither read answers nor send a JSON POST (it would need a preflight we never grant).

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import {
  ApiError,
  checkRequest,
  isMethodName,
  toWireError,
  type ApiErrorCode,
  type ApiEvent,
  type FlowscopeService,
  type WireResult,
} from '../../shared/api';

export interface HttpApiServerOptions {
  service: FlowscopeService;
  /** Where the service's events come from (see event-hub.ts). */
  subscribe(listener: (event: ApiEvent) => void): () => void;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default: 32 random bytes, base64url. */
  token?: string;
  /** The built renderer (out/renderer) to serve at /; null: API only. */
  staticDir?: string | null;
  /** Largest request body accepted (default 1 MiB). */
  maxBodyBytes?: number;
  /** SSE comment interval that keeps idle connections open through proxies (default 15 s). */
  heartbeatMs?: number;
}

export interface HttpApiServer {
  /** http://host:port/ */
  origin: string;
  /** The page URL with the token, as printed for people. */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const STATUS: Record<ApiErrorCode, number> = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  cancelled: 409,
  internal: 500,
  unavailable: 503,
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  // The page URL carries the token: never send it on to anyone in a Referer.
  'referrer-policy': 'no-referrer',
};

/** JSON that also carries bigints (as numbers when exact, else decimal text). */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v,
  );
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = toJson(body);
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: ApiErrorCode, message: string, extra: Record<string, string> = {}): void {
  const body: WireResult<never> = { ok: false, error: { code, message } };
  sendJson(res, status, body, extra);
}

class BodyTooLarge extends ApiError {
  constructor(limit: number) {
    super('bad_request', `request body larger than ${limit} bytes`);
  }
}

/**
 * The request body as text; rejects past `limit` bytes. The rest is read and dropped (up to 64 ×
 * the limit) so the client gets the answer instead of a reset connection.
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > limit * 64) req.destroy();
    });
    req.on('end', () => (size > limit ? reject(new BodyTooLarge(limit)) : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

export async function startHttpServer(options: HttpApiServerOptions): Promise<HttpApiServer> {
  const { service } = options;
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? randomBytes(32).toString('base64url');
  const tokenBytes = Buffer.from(token);
  const maxBody = options.maxBodyBytes ?? 1 << 20;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const staticRoot = options.staticDir ? normalize(options.staticDir + sep) : null;
  const streams = new Set<ServerResponse>();

  function authorized(req: IncomingMessage, url: URL): boolean {
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice(7).trim() : url.searchParams.get('token');
    if (!given) return false;
    const bytes = Buffer.from(given);
    return bytes.length === tokenBytes.length && timingSafeEqual(bytes, tokenBytes);
  }

  async function callMethod(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    if (!isMethodName(name)) {
      sendError(res, 404, 'not_found', `unknown method: ${name}`);
      return;
    }
    if (req.method !== 'POST') {
      sendError(res, 405, 'bad_request', `${name}: use POST`, { allow: 'POST' });
      return;
    }
    try {
      const text = await readBody(req, maxBody);
      let request: unknown;
      try {
        request = text.trim() === '' ? undefined : JSON.parse(text);
      } catch (err) {
        throw new ApiError('bad_request', `${name}: the body is not JSON: ${(err as Error).message}`);
      }
      checkRequest(name, request);
      const call = service[name] as (request: unknown) => Promise<unknown>;
      const value = await call.call(service, request);
      sendJson(res, 200, { ok: true, value } satisfies WireResult<unknown>);
    } catch (err) {
      const error = toWireError(err);
      if (!res.headersSent) sendError(res, err instanceof BodyTooLarge ? 413 : STATUS[error.code], error.code, error.message);
    }
  }

  function openEvents(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') {
      sendError(res, 405, 'bad_request', 'events: use GET', { allow: 'GET' });
      return;
    }
    res.writeHead(200, {
      ...COMMON_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Subscribed before the headers go out: once a client sees the response, it gets every event.
    const unsubscribe = options.subscribe((event) => {
      res.write(`event: ${event.name}\ndata: ${toJson(event.payload)}\n\n`);
    });
    res.write('retry: 1000\n\n');
    const heartbeat = setInterval(() => res.write(': ping\n\n'), heartbeatMs);
    heartbeat.unref();
    streams.add(res);
    const end = () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    };
    res.on('close', end);
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, 405, 'bad_request', 'use GET', { allow: 'GET, HEAD' });
      return;
    }
    if (!staticRoot) {
      res.writeHead(404, { ...COMMON_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
      res.end('This server answers the Flowscope API only: the UI was not found (build it with `npm run build:app`).\n');
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      res.writeHead(400, COMMON_HEADERS).end();
      return;
    }
    const file = normalize(join(staticRoot, pathname === '/' ? 'index.html' : pathname));
    if (!file.startsWith(staticRoot) || pathname.includes('\0')) {
      res.writeHead(403, COMMON_HEADERS).end();
      return;
    }
    try {
      const info = await stat(file);
      if (!info.isFile()) throw new Error('not a file');
      res.writeHead(200, {
        ...COMMON_HEADERS,
        'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': info.size,
        // Hashed asset names change with their content; the page itself must always be fresh.
        'cache-control': file.endsWith('.html') ? 'no-store' : 'public, max-age=31536000, immutable',
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, { ...COMMON_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
      if (!authorized(req, url)) {
        sendError(res, 401, 'forbidden', 'missing or wrong token: open the URL that `flowscope serve` printed', {
          'www-authenticate': 'Bearer',
        });
        return;
      }
      const name = url.pathname.slice('/api/'.length);
      if (name === 'events') openEvents(req, res);
      else void callMethod(req, res, name);
      return;
    }
    void serveStatic(req, res, url);
  });
  // Node closes an idle keep-alive socket after 5 s; a client reusing it at that moment (a page or a
  // busy machine a little late) gets a reset instead of an answer. The page keeps calling for its
  // whole life, so idle sockets are kept a minute (close() still drops them at once).
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;

  return {
    origin,
    url: `${origin}?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of streams) res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
