// The Electron bridge derived from src/shared/api.ts: the preload exposes exactly the API's methods,
// the main process handles exactly those channels, and a call makes the whole trip
// (client → preload → IPC → handler → service) with errors keeping their code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  API_EVENT_NAMES,
  API_METHOD_NAMES,
  ApiError,
  createClient,
  eventChannel,
  methodChannel,
  type FlowscopeService,
  type ImportProgress,
  type WireResult,
} from '../src/shared/api';
import { createBridge, type IpcRendererLike } from '../src/preload/bridge';
import { isTrustedRendererUrl, registerApiHandlers, type IpcMainLike } from '../src/main/ipc-handlers';

// The methods the brief for this API asks for, written out independently of the definition.
const EXPECTED_METHODS = [
  'appInfo', 'cancelImport', 'captureSummary', 'flowLog', 'listCaptures', 'listMetadata', 'network', 'openCapture', 'query',
  'red', 'removeMetadata', 'requestLog', 'requestPath', 'serviceMap', 'timeSeries',
];

type Listener = (event: unknown, ...args: unknown[]) => void;

/** Records what the bridge does with ipcRenderer; `answer` decides what invoke returns. */
function fakeIpcRenderer(answer: (channel: string, request: unknown) => unknown) {
  const invoked: { channel: string; request: unknown }[] = [];
  const listeners = new Map<string, Set<Listener>>();
  const ipc: IpcRendererLike = {
    async invoke(channel, request) {
      invoked.push({ channel, request });
      return answer(channel, request);
    },
    on(channel, listener) {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel)!.add(listener);
    },
    removeListener(channel, listener) {
      listeners.get(channel)?.delete(listener);
    },
  };
  const emit = (channel: string, payload: unknown) => {
    for (const l of listeners.get(channel) ?? []) l({ sender: 'the IPC event' }, payload);
  };
  return { ipc, invoked, listeners, emit };
}

/** An in-memory ipcMain whose handlers a paired ipcRenderer can invoke, sender URL included. */
function fakeIpcPair(senderUrl: string) {
  const handlers = new Map<string, (event: { senderFrame: { url: string } }, ...args: unknown[]) => Promise<unknown>>();
  const main: IpcMainLike = {
    handle(channel, listener) {
      assert.ok(!handlers.has(channel), `channel ${channel} registered twice`);
      handlers.set(channel, listener);
    },
    removeHandler(channel) {
      handlers.delete(channel);
    },
  };
  const renderer = fakeIpcRenderer((channel, request) => {
    const handler = handlers.get(channel);
    if (!handler) throw new Error(`No handler registered for '${channel}'`);
    return handler({ senderFrame: { url: senderUrl } }, request);
  });
  return { main, handlers, renderer };
}

const progress: ImportProgress = {
  importId: 'import-1',
  captureId: 1,
  path: '/tmp/a.pcap',
  phase: 'reading',
  bytesRead: 10,
  totalBytes: 100,
  packets: 3,
  flows: 1,
};

test('the definition lists exactly the expected methods and the importProgress and metadataChanged events', () => {
  assert.deepEqual([...API_METHOD_NAMES].sort(), EXPECTED_METHODS);
  assert.deepEqual(API_EVENT_NAMES, ['importProgress', 'metadataChanged']);
});

test('the preload bridge exposes exactly the API methods, on and pathForFile', () => {
  const { ipc } = fakeIpcRenderer(() => ({ ok: true, value: null }));
  const withPaths = createBridge(ipc, () => '/x');
  assert.deepEqual(Object.keys(withPaths).sort(), [...EXPECTED_METHODS, 'on', 'pathForFile'].sort());
  for (const key of Object.keys(withPaths)) assert.equal(typeof (withPaths as unknown as Record<string, unknown>)[key], 'function', key);
  assert.ok(Object.isFrozen(withPaths), 'the page must not be able to replace bridge members');

  // Without webUtils (not Electron) there is no pathForFile, and nothing else appears.
  const withoutPaths = createBridge(ipc);
  assert.deepEqual(Object.keys(withoutPaths).sort(), [...EXPECTED_METHODS, 'on'].sort());
});

test('each bridge method invokes its own channel with the request and returns the envelope as is', async () => {
  const { ipc, invoked } = fakeIpcRenderer((channel) => ({ ok: true, value: `answer from ${channel}` }));
  const bridge = createBridge(ipc);
  const request = { paths: ['/data/one.pcap', '/data/two.pcapng'] };
  assert.deepEqual(await bridge.openCapture(request), { ok: true, value: 'answer from flowscope:call:openCapture' });
  assert.deepEqual(await bridge.listCaptures(), { ok: true, value: 'answer from flowscope:call:listCaptures' });
  assert.deepEqual(invoked, [
    { channel: 'flowscope:call:openCapture', request },
    { channel: 'flowscope:call:listCaptures', request: undefined },
  ]);
});

test('a failed invoke (no handler, main gone) still answers with an unavailable envelope', async () => {
  const { ipc } = fakeIpcRenderer(() => {
    throw new Error("No handler registered for 'flowscope:call:query'");
  });
  const result = (await createBridge(ipc).query({ sql: 'select 1' })) as WireResult<unknown>;
  assert.deepEqual(result, {
    ok: false,
    error: { code: 'unavailable', message: "No handler registered for 'flowscope:call:query'" },
  });
});

test('on() delivers only the payload, unsubscribes, and refuses unknown events', () => {
  const { ipc, listeners, emit } = fakeIpcRenderer(() => null);
  const bridge = createBridge(ipc);
  const seen: unknown[] = [];
  const off = bridge.on('importProgress', (p) => seen.push(p));
  emit(eventChannel('importProgress'), progress);
  assert.deepEqual(seen, [progress]);
  off();
  emit(eventChannel('importProgress'), { ...progress, phase: 'done' });
  assert.equal(seen.length, 1);
  assert.equal(listeners.get('flowscope:event:importProgress')?.size, 0);
  assert.throws(() => bridge.on('nonsense' as 'importProgress', () => {}), /unknown event: nonsense/);
});

test('main registers exactly one handler per API method and removes them all', () => {
  const { main, handlers } = fakeIpcPair('file:///app/out/renderer/index.html');
  const remove = registerApiHandlers(main, async () => null as never, () => true);
  assert.deepEqual([...handlers.keys()].sort(), EXPECTED_METHODS.map((m) => `flowscope:call:${m}`).sort());
  remove();
  assert.equal(handlers.size, 0);
});

test('handlers refuse untrusted senders and malformed requests before calling the engine', async () => {
  const page = 'file:///app/out/renderer/index.html';
  const calls: unknown[] = [];
  const caller = (async (method: string, request: unknown) => {
    calls.push([method, request]);
    return { captureIds: [1], importIds: ['import-1'], rejected: [] };
  }) as Parameters<typeof registerApiHandlers>[1];

  const evil = fakeIpcPair('https://evil.example/');
  registerApiHandlers(evil.main, caller, (url) => isTrustedRendererUrl(url, page));
  const refused = (await createBridge(evil.renderer.ipc).openCapture({ paths: ['/etc/passwd'] })) as WireResult<unknown>;
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.error.code, 'forbidden');

  const ours = fakeIpcPair(`${page}#/captures`);
  registerApiHandlers(ours.main, caller, (url) => isTrustedRendererUrl(url, page));
  const bridge = createBridge(ours.renderer.ipc);
  for (const bad of [undefined, {}, { paths: [] }, { paths: [''] }, { paths: '/a.pcap' }, { paths: [42] }]) {
    const result = (await bridge.openCapture(bad as never)) as WireResult<unknown>;
    assert.equal(!result.ok && result.error.code, 'bad_request', JSON.stringify(bad));
  }
  const extra = (await bridge.listCaptures.call(null, { sneaky: true } as never)) as WireResult<unknown>;
  assert.equal(!extra.ok && extra.error.code, 'bad_request');
  assert.deepEqual(calls, [], 'the engine saw none of the refused calls');

  const good = await bridge.openCapture({ paths: ['/data/a.pcap'] });
  assert.deepEqual(good, { ok: true, value: { captureIds: [1], importIds: ['import-1'], rejected: [] } });
  assert.deepEqual(calls, [['openCapture', { paths: ['/data/a.pcap'] }]]);
});

test('a call makes the whole trip and a failure arrives as an ApiError with its code', async () => {
  const service: Partial<FlowscopeService> = {
    appInfo: async () => ({ name: 'Flowscope', version: '0.1.0', platform: 'linux', arch: 'x64', versions: {}, engine: 'test' }),
    openCapture: async ({ paths }) => ({ captureIds: paths.map((_, i) => i + 1), importIds: paths.map((_, i) => `import-${i + 1}`), rejected: [] }),
    listCaptures: async () => [],
    captureSummary: async ({ captureIds }) => {
      throw new ApiError('not_found', `no capture with id ${captureIds?.[0]}`);
    },
    query: async () => {
      throw new Error('Parser Error: syntax error at or near "selec"');
    },
    cancelImport: async ({ importId }) => ({ cancelled: importId === 'import-1' }),
  };
  const page = 'file:///app/out/renderer/index.html';
  const pair = fakeIpcPair(page);
  registerApiHandlers(
    pair.main,
    (method, request) => (service[method] as (r: unknown) => Promise<never>)(request),
    (url) => isTrustedRendererUrl(url, page),
  );
  const client = createClient(createBridge(pair.renderer.ipc));

  assert.equal((await client.appInfo()).name, 'Flowscope');
  assert.deepEqual(await client.openCapture({ paths: ['/a.pcap', '/b.pcapng'] }), {
    captureIds: [1, 2],
    importIds: ['import-1', 'import-2'],
    rejected: [],
  });
  assert.deepEqual(await client.cancelImport({ importId: 'import-1' }), { cancelled: true });
  await assert.rejects(client.captureSummary({ captureIds: [7] }), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 'not_found');
    assert.equal(err.message, 'no capture with id 7');
    return true;
  });
  await assert.rejects(client.query({ sql: 'selec 1' }), { name: 'ApiError', code: 'internal', message: /syntax error/ });
});

test('only our own page counts as a trusted sender', () => {
  const file = 'file:///opt/flowscope/resources/app.asar/out/renderer/index.html';
  assert.ok(isTrustedRendererUrl(file, file));
  assert.ok(isTrustedRendererUrl(`${file}?x=1#/flows`, file));
  assert.ok(!isTrustedRendererUrl('file:///tmp/evil.html', file));
  assert.ok(!isTrustedRendererUrl('https://example.com/out/renderer/index.html', file));
  assert.ok(!isTrustedRendererUrl('', file));
  const dev = 'http://localhost:5173/';
  assert.ok(isTrustedRendererUrl('http://localhost:5173/index.html', dev));
  assert.ok(!isTrustedRendererUrl('http://localhost:5174/', dev));
  assert.ok(!isTrustedRendererUrl('http://127.0.0.1:5173/', dev));
});

test('method and event channels are distinct per name', () => {
  const channels = [...API_METHOD_NAMES.map(methodChannel), ...API_EVENT_NAMES.map(eventChannel)];
  assert.equal(new Set(channels).size, channels.length);
});
