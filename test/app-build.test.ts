// `electron-vite build` produces a loadable app: ESM main plus the engine worker, a CommonJS preload
// that needs nothing but `electron` (the sandbox allows nothing else), and a renderer whose page
// keeps its strict Content-Security-Policy. The built engine worker is then run for real.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { API_METHOD_NAMES, type ImportProgress } from '../src/shared/api';
import { startWorkerEngine } from '../src/main/engine-host';
import type { EngineWorkerData } from '../src/main/engine-worker';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = '/work/shared/fixtures/deepflow/server/libs/datatype/ipip.pcap';

test('electron-vite build writes main, engine worker, sandbox-safe preload and renderer', async () => {
  // Inside the checkout, so the built engine worker finds its external packages (@duckdb/node-api)
  // in node_modules the way the app's own out/ does.
  await mkdir(join(ROOT, 'node_modules/.cache'), { recursive: true });
  const out = await mkdtemp(join(ROOT, 'node_modules/.cache/flowscope-build-'));
  try {
    execFileSync(join(ROOT, 'node_modules/.bin/electron-vite'), ['build', '--outDir', out, '--logLevel', 'error'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 240_000,
    });

    for (const file of ['main/index.js', 'main/engine-worker.js', 'preload/index.cjs', 'renderer/index.html']) {
      assert.ok(existsSync(join(out, file)), `${file} was built`);
    }

    const main = await readFile(join(out, 'main/index.js'), 'utf8');
    assert.match(main, /^import .* from "electron";$/m, 'main is an ES module importing electron');
    assert.match(main, /contextIsolation: true/);
    assert.match(main, /sandbox: true/);
    assert.match(main, /nodeIntegration: false/);
    assert.match(main, /"\.\.\/preload\/index\.cjs"/, 'main points at the preload file that is built');
    assert.match(main, /"engine-worker\.js"/, 'main points at the worker file that is built');

    const preload = await readFile(join(out, 'preload/index.cjs'), 'utf8');
    const required = [...preload.matchAll(/require\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(required)], ['electron'], 'a sandboxed preload may require only electron');
    assert.doesNotMatch(preload, /^\s*(import|export)\s/m, 'the preload is CommonJS');
    assert.match(preload, /exposeInMainWorld\("flowscope"/);
    // Run the built preload as the sandbox would, with `electron` its only module: it must expose
    // window.flowscope with exactly the API's methods plus on and pathForFile, and nothing else.
    const exposed: Record<string, Record<string, unknown>> = {};
    const invoked: unknown[] = [];
    const electronApi = {
      contextBridge: { exposeInMainWorld: (key: string, api: Record<string, unknown>) => (exposed[key] = api) },
      ipcRenderer: { invoke: async (...args: unknown[]) => invoked.push(args), on() {}, removeListener() {} },
      webUtils: { getPathForFile: () => '/dropped.pcap' },
    };
    runInNewContext(preload, {
      require: (id: string) => {
        assert.equal(id, 'electron');
        return electronApi;
      },
      module: { exports: {} },
      exports: {},
    });
    assert.deepEqual(Object.keys(exposed), ['flowscope']);
    assert.deepEqual(Object.keys(exposed.flowscope).sort(), [...API_METHOD_NAMES, 'on', 'pathForFile'].sort());
    await (exposed.flowscope.cancelImport as (r: unknown) => Promise<unknown>)({ importId: 'import-9' });
    assert.deepEqual(invoked, [['flowscope:call:cancelImport', { importId: 'import-9' }]]);

    const html = await readFile(join(out, 'renderer/index.html'), 'utf8');
    assert.match(html, /<title>Flowscope<\/title>/);
    const csp = html.match(/http-equiv="Content-Security-Policy"\s+content="([^"]+)"/)?.[1] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, 'the built page keeps the strict policy');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline scripts');
    const assets = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), `assets: ${assets}`);
    for (const asset of assets) assert.ok((await stat(join(out, 'renderer', asset))).size > 0, asset);
    for (const file of await readdir(join(out, 'renderer/assets'))) {
      if (!file.endsWith('.js')) continue;
      const js = await readFile(join(out, 'renderer/assets', file), 'utf8');
      assert.doesNotMatch(js, /require\(["'](electron|node:[a-z_]+|fs|child_process)["']\)/, 'the renderer reaches nothing but window.flowscope');
    }

    // The built worker is plain Node: start it the way main does and import a real capture with
    // the engine bundled into it (ipip.pcap: 5 packets by tshark, 2330 bytes).
    const host = startWorkerEngine(join(out, 'main/engine-worker.js'), {
      appInfo: { name: 'Flowscope', version: 'built', platform: process.platform, arch: process.arch, versions: {} },
      dbPath: join(out, 'workspace.duckdb'),
    } satisfies EngineWorkerData);
    try {
      assert.equal((await host.call('appInfo', undefined)).version, 'built');
      const ended = new Promise<ImportProgress>((resolve) =>
        host.onEvent((event) => {
          if (event.name === 'importProgress' && event.payload.phase !== 'reading') resolve(event.payload);
        }),
      );
      const opened = await host.call('openCapture', { paths: [FIXTURE] });
      assert.deepEqual(opened.captureIds, [1]);
      assert.deepEqual(await ended, { importId: 'import-1', captureId: 1, path: FIXTURE, phase: 'done', bytesRead: 2330, totalBytes: 2330, packets: 5, flows: (await ended).flows });
      assert.deepEqual((await host.call('listCaptures', undefined)).map((r) => [r.kind, r.fileBytes, r.packets]), [['pcap', 2330, 5]]);
      const flows = await host.call('query', { sql: 'SELECT count(*) FROM flows' });
      assert.deepEqual(flows.rows, [[(await ended).flows]]);
      assert.ok((await ended).flows > 0);
    } finally {
      await host.close();
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
