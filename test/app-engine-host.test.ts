// The engine thread behind the API: a real worker_thread running src/main/engine-worker.ts, reading
// real capture files. Checks what the UI relies on: accepted files get ids and imports whose progress
// ends at the file's size; wrong files are refused with file and reason; the host fails cleanly once
// the engine is gone. Cancellation is checked on the service itself, where the read size is small.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, truncate, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ApiError, type ApiEvent, type ImportProgress } from '../src/shared/api';
import { startWorkerEngine, type EngineHost } from '../src/main/engine-host';
import type { EngineWorkerData } from '../src/main/engine-worker';
import { createFileIntakeService } from '../src/main/file-intake-service';

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

const workerData: EngineWorkerData = {
  appInfo: { name: 'Flowscope', version: '0.1.0-test', platform: process.platform, arch: process.arch, versions: { node: process.versions.node } },
};

/** Collects import events until every listed import has ended. */
function importsEnded(host: EngineHost, count: number): { events: ImportProgress[]; done: Promise<void> } {
  const events: ImportProgress[] = [];
  let ended = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  host.onEvent((event: ApiEvent) => {
    events.push(event.payload);
    if (event.payload.phase !== 'reading' && ++ended === count) finish();
  });
  return { events, done };
}

test('the engine worker answers appInfo, opens real captures and reports progress to the last byte', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-host-'));
  const host = startWorkerEngine(await workerEntry(dir), workerData);
  try {
    const info = await host.call('appInfo', undefined);
    assert.equal(info.version, '0.1.0-test');
    assert.match(info.engine, /file intake/);

    const gz = join(dir, 'ipip.pcap.gz');
    await writeFile(gz, gzipSync(await readFile(IPIP)));
    const text = join(dir, 'notes.pcap');
    await writeFile(text, 'GET / HTTP/1.1\r\n');

    const { events, done } = importsEnded(host, 2);
    const opened = await host.call('openCapture', { paths: [ERSPAN, text, gz, 'relative/file.pcap'] });
    assert.deepEqual(opened.captureIds, [1, 2]);
    assert.deepEqual(opened.importIds, ['import-1', 'import-2']);
    assert.deepEqual(opened.rejected, [
      { path: text, reason: `${text}: offset 0: not a pcap or pcapng file (magic 47 45 54 20)` },
      { path: 'relative/file.pcap', reason: 'relative/file.pcap: not an absolute path' },
    ]);
    await done;

    const erspanBytes = (await stat(ERSPAN)).size;
    const gzBytes = (await stat(gz)).size;
    const last = (id: string) => events.filter((e) => e.importId === id).at(-1)!;
    assert.deepEqual(last('import-1'), { importId: 'import-1', captureId: 1, path: ERSPAN, phase: 'done', bytesRead: erspanBytes, totalBytes: erspanBytes });
    assert.deepEqual(last('import-2'), { importId: 'import-2', captureId: 2, path: gz, phase: 'done', bytesRead: gzBytes, totalBytes: gzBytes });
    for (const id of ['import-1', 'import-2']) {
      const read = events.filter((e) => e.importId === id).map((e) => e.bytesRead);
      assert.deepEqual(read, [...read].sort((a, b) => a - b), `${id}: progress never goes back`);
      assert.equal(read[0], 0, `${id}: the first event announces the import`);
    }

    const records = await host.call('listCaptures', undefined);
    assert.deepEqual(
      records.map((r) => [r.captureId, r.source, r.kind, r.fileBytes, r.error]),
      [
        [1, ERSPAN, 'pcap', erspanBytes, null],
        [2, gz, 'pcap+gzip', gzBytes, null],
      ],
    );

    // No decoder behind the intake service yet: it says so instead of inventing numbers.
    await assert.rejects(host.call('captureSummary', { captureIds: [1] }), { code: 'unavailable', message: 'Capture summaries are not available yet: this build reads capture files but does not decode them.' });
    await assert.rejects(host.call('captureSummary', { captureIds: [99] }), { code: 'not_found', message: 'no capture with id 99' });
    await assert.rejects(host.call('query', { sql: 'select count(*) from flows' }), { code: 'unavailable' });
    // Requests are validated on the engine side too, whoever the caller is.
    await assert.rejects(host.call('openCapture', { paths: 'nope' } as never), { code: 'bad_request' });
    assert.deepEqual(await host.call('cancelImport', { importId: 'import-1' }), { cancelled: false });
  } finally {
    await host.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('after close, calls fail with unavailable instead of hanging', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-host-'));
  const host = startWorkerEngine(await workerEntry(dir), workerData);
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

test('cancelling an import stops the read part-way and marks the capture', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-cancel-'));
  const big = join(dir, 'big.pcap');
  // A pcap header, then 64 MiB of (sparse) zeros: read 4 KiB at a time it takes thousands of turns.
  await writeFile(big, Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex'));
  await truncate(big, 64 << 20);
  const events: ImportProgress[] = [];
  let ended!: () => void;
  const end = new Promise<void>((resolve) => (ended = resolve));
  const service = createFileIntakeService({
    appInfo: workerData.appInfo,
    chunkBytes: 4096,
    emit: (_name, payload) => {
      const progress = payload as ImportProgress;
      events.push(progress);
      if (progress.phase !== 'reading') ended();
    },
  });
  try {
    const { importIds } = await service.openCapture({ paths: [big] });
    assert.deepEqual(await service.cancelImport({ importId: importIds[0] }), { cancelled: true });
    await end;
    const last = events.at(-1)!;
    assert.equal(last.phase, 'cancelled');
    assert.ok(last.bytesRead < 64 << 20, `stopped at ${last.bytesRead} of ${64 << 20} bytes`);
    const [record] = await service.listCaptures();
    assert.equal(record.error, `${big}: import cancelled at offset ${last.bytesRead}`);
    assert.deepEqual(await service.cancelImport({ importId: importIds[0] }), { cancelled: false });
  } finally {
    await service.close?.();
    await rm(dir, { recursive: true, force: true });
  }
});
