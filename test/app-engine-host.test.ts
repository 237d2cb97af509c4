// The engine thread behind the API: a real worker_thread running src/main/engine-worker.ts with the
// engine's service on a real DuckDB file, reading real capture files. Checks what the UI relies on:
// accepted files get ids and imports whose progress ends at the file's size; what is listed and
// summarised equals `flowscope analyze --json`; wrong files are refused with file and reason; the
// workspace lands where main (or FLOWSCOPE_USER_DATA) says; the host fails cleanly once the engine
// is gone. Queueing and cancellation are checked on the service itself (service-*.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ApiError, type ApiEvent, type ImportProgress } from '../src/shared/api';
import { startWorkerEngine, type EngineHost } from '../src/main/engine-host';
import type { EngineWorkerData } from '../src/main/engine-worker';
import { analyzeJson } from './service-helpers';

const FIXTURES = '/work/shared/fixtures/deepflow';
const ERSPAN = `${FIXTURES}/server/libs/datatype/decapsulate_erspan1.pcap`;
const IPIP = `${FIXTURES}/server/libs/datatype/ipip.pcap`;
const WORKER_TS = new URL('../src/main/engine-worker.ts', import.meta.url).href;

/**
 * The built app starts out/main/engine-worker.js; here the TypeScript source runs instead, through
 * a one-line bootstrap that loads it with tsx (worker threads do not inherit `--import tsx`).
 */
async function workerEntry(dir: string): Promise<string> {
  const entry = join(dir, 'engine-worker-bootstrap.mjs');
  const tsx = import.meta.resolve('tsx/esm/api');
  await writeFile(entry, `import { tsImport } from ${JSON.stringify(tsx)};\nawait tsImport(${JSON.stringify(WORKER_TS)}, import.meta.url);\n`);
  return entry;
}

const appInfo: EngineWorkerData['appInfo'] = {
  name: 'Flowscope', version: '0.1.0-test', platform: process.platform, arch: process.arch, versions: { node: process.versions.node },
};

/** Collects import events until every listed import has ended. */
function importsEnded(host: EngineHost, count: number): { events: ImportProgress[]; done: Promise<void> } {
  const events: ImportProgress[] = [];
  let ended = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  host.onEvent((event: ApiEvent) => {
    if (event.name !== 'importProgress') return;
    events.push(event.payload);
    if (event.payload.phase !== 'reading' && ++ended === count) finish();
  });
  return { events, done };
}

test('the engine worker answers appInfo, imports real captures to the last byte, and lists and summarises them like the CLI', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-host-'));
  const dbPath = join(dir, 'user-data', 'workspace.duckdb');
  const host = startWorkerEngine(await workerEntry(dir), { appInfo, dbPath } satisfies EngineWorkerData);
  try {
    const info = await host.call('appInfo', undefined);
    assert.equal(info.version, '0.1.0-test');
    assert.equal(info.engine, `Flowscope engine · store ${dbPath}`);

    const gz = join(dir, 'ipip.pcap.gz');
    await writeFile(gz, gzipSync(await readFile(IPIP)));
    const text = join(dir, 'notes.pcap');
    await writeFile(text, 'GET / HTTP/1.1\r\n');
    const reference = analyzeJson([ERSPAN, gz]);

    const { events, done } = importsEnded(host, 2);
    const opened = await host.call('openCapture', { paths: [ERSPAN, text, gz, 'relative/file.pcap'] });
    assert.deepEqual(opened.captureIds, [1, 2]);
    assert.deepEqual(opened.importIds, ['import-1', 'import-2']);
    assert.deepEqual(opened.rejected, [
      { path: text, reason: `${text}: at byte offset 0: not a pcap or pcapng file (magic 0x47455420)` },
      { path: 'relative/file.pcap', reason: 'relative/file.pcap: not an absolute path' },
    ]);
    await done;

    const last = (id: string) => events.filter((e) => e.importId === id).at(-1)!;
    for (const [i, path] of [ERSPAN, gz].entries()) {
      const id = `import-${i + 1}`;
      const bytes = (await stat(path)).size;
      assert.deepEqual({ ...last(id), flows: 0 }, {
        importId: id, captureId: i + 1, path, phase: 'done', bytesRead: bytes, totalBytes: bytes, packets: reference.captures[i].packets, flows: 0,
      });
      assert.ok(last(id).flows > 0, `${id}: flows reported`);
      const read = events.filter((e) => e.importId === id).map((e) => e.bytesRead);
      assert.deepEqual(read, [...read].sort((a, b) => a - b), `${id}: progress never goes back`);
      assert.equal(read[0], 0, `${id}: the first event announces the import`);
    }

    assert.deepEqual(await host.call('listCaptures', undefined), reference.captures);
    assert.deepEqual(await host.call('captureSummary', {}), reference.summary);
    await assert.rejects(host.call('captureSummary', { captureIds: [99] }), { code: 'not_found', message: 'no capture with id 99' });
    const flows = await host.call('query', { sql: 'SELECT count(*) AS rows FROM flows' });
    assert.deepEqual(flows, { columns: [{ name: 'rows', type: 'BIGINT' }], rows: [[reference.summary.flowRows]], truncated: false });
    await assert.rejects(host.call('query', { sql: 'DELETE FROM flows' }), { code: 'bad_request' });
    // Requests are validated on the engine side too, whoever the caller is.
    await assert.rejects(host.call('openCapture', { paths: 'nope' } as never), { code: 'bad_request' });
    assert.deepEqual(await host.call('cancelImport', { importId: 'import-1' }), { cancelled: false });
  } finally {
    await host.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('without a path from main, the workspace is FLOWSCOPE_USER_DATA/workspace.duckdb and outlives the engine', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-host-'));
  const userData = join(dir, 'user-data');
  const saved = process.env.FLOWSCOPE_USER_DATA;
  process.env.FLOWSCOPE_USER_DATA = userData; // a worker starts with a copy of process.env
  try {
    const entry = await workerEntry(dir);
    const first = startWorkerEngine(entry, { appInfo } satisfies EngineWorkerData);
    const { done } = importsEnded(first, 1);
    await first.call('openCapture', { paths: [IPIP] });
    await done;
    await first.close();
    assert.ok(existsSync(join(userData, 'workspace.duckdb')));

    const second = startWorkerEngine(entry, { appInfo } satisfies EngineWorkerData);
    try {
      const records = await second.call('listCaptures', undefined);
      assert.deepEqual(records.map((r) => [r.captureId, r.source, r.kind, r.packets]), [[1, IPIP, 'pcap', analyzeJson([IPIP]).captures[0].packets]]);
    } finally {
      await second.close();
    }
  } finally {
    if (saved === undefined) delete process.env.FLOWSCOPE_USER_DATA;
    else process.env.FLOWSCOPE_USER_DATA = saved;
    await rm(dir, { recursive: true, force: true });
  }
});

test('after close, calls fail with unavailable instead of hanging', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-host-'));
  const host = startWorkerEngine(await workerEntry(dir), { appInfo, dbPath: ':memory:' } satisfies EngineWorkerData);
  assert.equal((await host.call('listCaptures', undefined)).length, 0);
  await host.close();
  await rm(dir, { recursive: true, force: true });
  await assert.rejects(host.call('listCaptures', undefined), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 'unavailable');
    assert.match(err.message, /engine closed/);
    return true;
  });
});

test('a worker that dies fails its pending and later calls', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-host-'));
  const crashing = join(dir, 'crash.mjs');
  // An engine that accepts calls and never answers, then exits: the host must not wait forever.
  await writeFile(crashing, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => setTimeout(() => process.exit(3), 20));\n");
  const host = startWorkerEngine(crashing);
  try {
    await assert.rejects(host.call('appInfo', undefined), { code: 'unavailable', message: 'engine stopped (exit code 3)' });
    await assert.rejects(host.call('appInfo', undefined), { code: 'unavailable', message: 'engine stopped (exit code 3)' });
  } finally {
    await host.close();
    await rm(dir, { recursive: true, force: true });
  }
});
