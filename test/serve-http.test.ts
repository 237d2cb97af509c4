// The API over real HTTP (src/engine/rpc/http-server.ts) in front of the real engine service, and the
// renderer's own HTTP transport (src/renderer/src/http-transport.ts) talking to it: the token is
// required everywhere under /api, every method answers what the service answers, progress events
// arrive over Server-Sent Events, errors keep their code, and the UI's files are served.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_METHOD_NAMES, ApiError, createClient, type ImportProgress } from '../src/shared/api';
import { createEventHub } from '../src/engine/rpc/event-hub';
import { startHttpServer, type HttpApiServer } from '../src/engine/rpc/http-server';
import { createEngineService, type EngineService } from '../src/engine/service';
import { createHttpWire, SseParser, tokenFromUrl } from '../src/renderer/src/http-transport';
import { analyzeJson, APP_INFO, FG } from './service-helpers';

const HTTP = `${FG}/http.pcap`;
const ERSPAN = '/work/shared/fixtures/deepflow/server/libs/datatype/decapsulate_erspan1.pcap';

let dir: string;
let service: EngineService;
let server: HttpApiServer;
let subscribers = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowscope-serve-'));
  await mkdir(join(dir, 'ui', 'assets'), { recursive: true });
  await writeFile(join(dir, 'ui', 'index.html'), '<!doctype html><title>Flowscope</title><script type="module" src="./assets/app-1a2b.js"></script>');
  await writeFile(join(dir, 'ui', 'assets', 'app-1a2b.js'), 'console.log("flowscope");\n');
  const hub = createEventHub();
  service = createEngineService({ dbPath: join(dir, 'w.duckdb'), emit: hub.emit, appInfo: APP_INFO });
  server = await startHttpServer({
    service,
    subscribe: (listener) => {
      subscribers++;
      const off = hub.subscribe(listener);
      return () => {
        subscribers--;
        off();
      };
    },
    staticDir: join(dir, 'ui'),
  });
});

after(async () => {
  await server.close();
  await service.close();
  await rm(dir, { recursive: true, force: true });
});

const api = (name: string, init: RequestInit = {}, query = '') => fetch(new URL(`api/${name}${query}`, server.origin), init);
const post = (name: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${server.token}` }) =>
  api(name, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

test('the server binds 127.0.0.1 on a free port and prints a URL with a long random token', () => {
  assert.match(server.origin, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.ok(server.port > 0);
  assert.equal(server.url, `${server.origin}?token=${server.token}`);
  assert.match(server.token, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  assert.equal(tokenFromUrl(server.url), server.token);
});

test('every method and the event stream answer 401 without the right token', async () => {
  for (const name of [...API_METHOD_NAMES, 'events', 'nope']) {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${server.token}x` }, { authorization: `Basic ${server.token}` }]) {
      const res = name === 'events' ? await api(name, { headers }) : await post(name, null, headers);
      assert.equal(res.status, 401, `${name} ${JSON.stringify(headers)}`);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      assert.deepEqual(await res.json(), {
        ok: false,
        error: { code: 'forbidden', message: 'missing or wrong token: open the URL that `flowscope serve` printed' },
      });
    }
  }
  assert.equal((await api('listCaptures', { method: 'POST' }, '?token=nope')).status, 401);
  // The token in the query works too (EventSource cannot send headers).
  const viaQuery = await api('appInfo', { method: 'POST' }, `?token=${encodeURIComponent(server.token)}`);
  assert.equal(viaQuery.status, 200);
  assert.equal(subscribers, 0, 'no refused request subscribed to events');
});

test('each method over HTTP: the same answers as the service, the same numbers as `flowscope analyze`', async () => {
  const reference = analyzeJson([HTTP, ERSPAN]);
  const ok = async (res: Response) => {
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as { ok: true; value: unknown };
    assert.equal(body.ok, true, JSON.stringify(body));
    return body.value;
  };
  assert.deepEqual(await ok(await post('appInfo', null)), await service.appInfo());
  assert.deepEqual(await ok(await api('appInfo', { method: 'POST', headers: { authorization: `Bearer ${server.token}` } })), await service.appInfo(), 'an empty body is no request');

  // Events, read as a browser would, from before the import starts.
  const events: ImportProgress[] = [];
  const stream = await api('events', { headers: { authorization: `Bearer ${server.token}` } });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = stream.body!.getReader();
  const parser = new SseParser((name, data) => {
    assert.equal(name, 'importProgress');
    events.push(JSON.parse(data) as ImportProgress);
  });
  const twoEnded = (async () => {
    const decoder = new TextDecoder();
    while (events.filter((e) => e.phase !== 'reading').length < 2) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the event stream ended early');
      parser.push(decoder.decode(value, { stream: true }));
    }
    await reader.cancel();
  })();

  const opened = (await ok(await post('openCapture', { paths: [HTTP, '/no/such.pcap', ERSPAN] }))) as { captureIds: number[]; importIds: string[] };
  assert.deepEqual(opened, {
    captureIds: [1, 2],
    importIds: ['import-1', 'import-2'],
    rejected: [{ path: '/no/such.pcap', reason: "/no/such.pcap: cannot read: ENOENT: no such file or directory, stat '/no/such.pcap'" }],
  });
  await twoEnded;
  for (const [i, id] of opened.importIds.entries()) {
    const mine = events.filter((e) => e.importId === id);
    assert.equal(mine[0].bytesRead, 0);
    assert.deepEqual(
      [mine.at(-1)!.phase, mine.at(-1)!.packets, mine.at(-1)!.bytesRead],
      ['done', reference.captures[i].packets, reference.captures[i].fileBytes],
    );
  }

  assert.deepEqual(await ok(await post('listCaptures', null)), reference.captures);
  assert.deepEqual(await ok(await post('captureSummary', {})), reference.summary);
  assert.deepEqual(await ok(await post('query', { sql: 'SELECT count(*) AS n FROM flows' })), {
    columns: [{ name: 'n', type: 'BIGINT' }],
    rows: [[reference.summary.flowRows]],
    truncated: false,
  });
  assert.deepEqual(await ok(await post('cancelImport', { importId: 'import-1' })), { cancelled: false });
});

test('errors keep their code and map to HTTP statuses', async () => {
  const expectError = async (res: Response, status: number, code: string, message: RegExp) => {
    assert.equal(res.status, status);
    const body = (await res.json()) as { ok: false; error: { code: string; message: string } };
    assert.equal(body.ok, false);
    assert.equal(body.error.code, code);
    assert.match(body.error.message, message);
  };
  await expectError(await post('openCapture', { paths: 'x' }), 400, 'bad_request', /^openCapture: expected \{paths: string\[\]\}/);
  await expectError(await post('appInfo', { unexpected: true }), 400, 'bad_request', /takes no request/);
  await expectError(await post('query', { sql: 'DELETE FROM flows' }), 400, 'bad_request', /DELETE is not a read/);
  await expectError(await post('captureSummary', { captureIds: [42] }), 404, 'not_found', /no capture with id 42/);
  await expectError(await post('nope', null), 404, 'not_found', /unknown method: nope/);
  const notJson = await api('query', { method: 'POST', headers: { authorization: `Bearer ${server.token}` }, body: '{sql: nope' });
  await expectError(notJson, 400, 'bad_request', /^query: the body is not JSON/);
  const big = await post('query', { sql: `SELECT '${'x'.repeat(2 << 20)}'` });
  await expectError(big, 413, 'bad_request', /request body larger than 1048576 bytes/);
  const get = await api('listCaptures', { headers: { authorization: `Bearer ${server.token}` } });
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST');
});

test("the renderer's HTTP transport: the typed client, progress events, errors as ApiError", async () => {
  let opens = 0;
  let streamOpen!: () => void;
  const connected = new Promise<void>((resolve) => (streamOpen = resolve));
  const client = createClient(
    createHttpWire({
      baseUrl: server.origin,
      token: server.token,
      onStreamOpen: () => {
        opens++;
        streamOpen();
      },
    }),
  );
  const events: ImportProgress[] = [];
  let ended!: (e: ImportProgress) => void;
  const end = new Promise<ImportProgress>((resolve) => (ended = resolve));
  const off = client.on('importProgress', (p) => {
    events.push(p);
    if (p.phase !== 'reading') ended(p);
  });
  await connected;
  assert.equal(subscribers, 1);

  const before = (await client.listCaptures()).length;
  const { importIds, captureIds } = await client.openCapture({ paths: [HTTP] });
  const done = await end;
  assert.deepEqual(done, { importId: importIds[0], captureId: captureIds[0], path: HTTP, phase: 'done', bytesRead: 6252, totalBytes: 6252, packets: 13, flows: 1 });
  assert.equal(events[0].phase, 'reading');
  assert.equal((await client.listCaptures()).length, before + 1);
  assert.equal((await client.captureSummary({ captureIds: [captureIds[0]] })).packets, 13);
  assert.deepEqual((await client.query({ sql: `SELECT packets FROM captures WHERE capture_id = ${captureIds[0]}` })).rows, [[13]]);
  assert.equal((await client.appInfo()).version, APP_INFO.version);

  await assert.rejects(client.query({ sql: 'DROP TABLE flows' }), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 'bad_request');
    return true;
  });
  const wrongToken = createClient(createHttpWire({ baseUrl: server.origin, token: 'wrong' }));
  await assert.rejects(wrongToken.listCaptures(), { code: 'forbidden', message: 'missing or wrong token: open the URL that `flowscope serve` printed' });
  const nobody = createClient(createHttpWire({ baseUrl: 'http://127.0.0.1:9/', token: 't' }));
  await assert.rejects(nobody.appInfo(), (err: unknown) => err instanceof ApiError && err.code === 'unavailable' && /cannot be reached/.test(err.message));

  off();
  // The stream closes with its last listener; the server notices and unsubscribes.
  for (let i = 0; i < 100 && subscribers > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(subscribers, 0);
  assert.equal(opens, 1);
});

test('the UI is served without the token; nothing outside its directory is', async () => {
  const page = await fetch(server.origin);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(page.headers.get('cache-control'), 'no-store');
  assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
  assert.match(await page.text(), /<title>Flowscope<\/title>/);
  const withToken = await fetch(server.url);
  assert.equal(withToken.status, 200, 'the page URL as printed');
  const script = await fetch(new URL('assets/app-1a2b.js', server.origin));
  assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(await script.text(), 'console.log("flowscope");\n');
  assert.equal((await fetch(new URL('assets/missing.js', server.origin))).status, 404);
  assert.equal((await fetch(new URL('assets/', server.origin))).status, 404, 'a directory is not a file');
  // Out of the directory: the URL parser resolves plain ../, so use encoded forms.
  for (const path of ['/%2e%2e/w.duckdb', '/assets/%2e%2e%2f%2e%2e%2fw.duckdb', '/..%2fw.duckdb']) {
    const res = await fetch(`${server.origin.slice(0, -1)}${path}`);
    assert.ok(res.status === 403 || res.status === 404, `${path}: ${res.status}`);
    assert.doesNotMatch(await res.text(), /DUCK/);
  }
  assert.equal((await fetch(server.origin, { method: 'POST' })).status, 405);
});

test('close() ends open event streams and stops listening', async () => {
  const hub = createEventHub();
  const other = await startHttpServer({ service, subscribe: hub.subscribe, staticDir: null });
  const res = await fetch(new URL('api/events', other.origin), { headers: { authorization: `Bearer ${other.token}` } });
  const reader = res.body!.getReader();
  await reader.read(); // the retry line
  const page = await fetch(other.origin);
  assert.equal(page.status, 404);
  assert.match(await page.text(), /API only: the UI was not found/);
  await other.close();
  let ended = false;
  for (let i = 0; i < 10 && !ended; i++) ended = (await reader.read()).done;
  assert.ok(ended, 'the stream ended');
  await assert.rejects(fetch(other.origin), /fetch failed/);
});

test('the SSE parser handles split chunks, CRLF, comments and multi-line data', () => {
  const seen: [string, string][] = [];
  const p = new SseParser((name, data) => seen.push([name, data]));
  for (const chunk of ['retry: 1000\n\n: ping\n\nevent: import', 'Progress\r', '\ndata: {"a":', '1}\r\n\r\ndata: x\ndata: y\n\n']) p.push(chunk);
  assert.deepEqual(seen, [['importProgress', '{"a":1}'], ['message', 'x\ny']]);
});
