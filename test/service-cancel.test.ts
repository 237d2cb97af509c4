// Cancelling imports on a ~100 MB generated capture (bench/gen-capture.ts): a queued import is
// dropped before it starts, a running one stops part-way, in every import mode (flows sharded over
// two worker threads, parsing on one worker thread, all in the main thread). Nothing of a cancelled
// import stays in the store, the queue goes on, and finished captures stay readable meanwhile.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCapture, type GeneratedTruth } from '../bench/gen-capture';
import { ApiError } from '../src/shared/api';
import { FG, startService } from './service-helpers';

const HTTP = `${FG}/http.pcap`;
let dir: string;
let big: GeneratedTruth;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowscope-cancel-'));
  big = await generateCapture({ path: join(dir, 'big.pcap'), packets: 150_000, seed: 7 });
  assert.ok(big.fileBytes > 90e6, `generated ${big.fileBytes} bytes`);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

for (const [mode, importWorkers] of [['sharded over 2 worker threads', 2], ['on one worker thread', 1], ['in the main thread', 0]] as const) {
  test(`cancel, ${mode}: queued imports never start, a running one stops part-way and leaves nothing`, async () => {
    const { service, log } = startService(join(dir, `${importWorkers}.duckdb`), { importWorkers });
    try {
      const first = await service.openCapture({ paths: [HTTP] });
      assert.equal((await log.ended(first.importIds[0])).phase, 'done');
      const before = await service.captureSummary({ captureIds: [1] });

      // Everything below happens inside the engine's own progress events, while the import that
      // reported waits for the handler: so it is certain the big import is still running.
      const running = 'import-2';
      const queued = 'import-3';
      let cancelQueued = null as Promise<unknown> | null;
      let during = null as Promise<[unknown, unknown, unknown]> | null;
      log.onEvent = (e) => {
        if (e.importId !== running || e.bytesRead === 0) return;
        // The third import waits its turn: cancelling it ends it at once, at byte 0.
        cancelQueued ??= service.cancelImport({ importId: queued });
        // Well into the big file: read what is finished, ask for the running capture, and cancel
        // (the import stops at its next batch).
        if (during || e.bytesRead <= 8 << 20) return;
        during = Promise.all([
          service.captureSummary({ captureIds: [1] }),
          service.captureSummary({ captureIds: [2] }).catch((err: unknown) => err),
          service.cancelImport({ importId: running }),
        ]);
      };
      const opened = await service.openCapture({ paths: [big.path, HTTP] });
      assert.deepEqual(opened, { captureIds: [2, 3], importIds: [running, queued], rejected: [] });

      assert.deepEqual(await log.ended(queued), {
        importId: queued, captureId: 3, path: HTTP, phase: 'cancelled', bytesRead: 0, totalBytes: 6252, packets: 0, flows: 0,
      });
      assert.deepEqual(await cancelQueued, { cancelled: true });
      assert.equal(log.of(queued).length, 2, 'announced, then cancelled: it never read a byte');

      const midway = await log.when((e) => e.importId === running && e.bytesRead > 8 << 20);
      assert.ok(midway.packets > 0 && midway.packets < big.packets, `${midway.packets} packets so far`);
      const end = await log.ended(running);
      assert.ok(during, 'the big import reported progress past 8 MiB');
      const [summaryMeanwhile, runningSummary, cancelled] = await during;
      assert.deepEqual(summaryMeanwhile, before, 'a finished capture answers as before while another imports');
      assert.ok(runningSummary instanceof ApiError, String(runningSummary));
      assert.equal(runningSummary.code, 'unavailable');
      assert.equal(runningSummary.message, 'capture 2 is still being imported');
      assert.deepEqual(cancelled, { cancelled: true });

      assert.equal(end.phase, 'cancelled');
      assert.ok(end.bytesRead >= midway.bytesRead && end.bytesRead < big.fileBytes, `stopped at ${end.bytesRead} of ${big.fileBytes}`);
      assert.ok(end.packets < big.packets);
      assert.deepEqual(await service.cancelImport({ importId: running }), { cancelled: false }, 'an ended import cannot be cancelled again');

      // Nothing of captures 2 and 3 is left; capture 1 is untouched.
      assert.deepEqual((await service.listCaptures()).map((r) => r.captureId), [1]);
      const left = await service.query({
        sql: 'SELECT (SELECT count(*) FROM flows WHERE capture_id <> 1), (SELECT count(*) FROM interfaces WHERE capture_id <> 1), (SELECT count(*) FROM captures)',
      });
      assert.deepEqual(left.rows, [[0, 0, 1]]);
      assert.deepEqual(await service.captureSummary({}), before);

      // The queue goes on: a new import after the cancelled ones runs, with fresh ids.
      const next = await service.openCapture({ paths: [HTTP] });
      assert.deepEqual(next.captureIds, [4]);
      assert.equal((await log.ended(next.importIds[0])).phase, 'done');
      const ids = await service.query({ sql: 'SELECT count(*), count(DISTINCT flow_id), min(capture_id), max(capture_id) FROM flows' });
      assert.deepEqual(ids.rows, [[2, 2, 1, 4]]);
    } finally {
      await service.close();
    }
  });
}

test('closing the engine cancels the running import and closes the store', async () => {
  const db = join(dir, 'close.duckdb');
  const { service, log } = startService(db, { importWorkers: 0 });
  let closed = null as Promise<void> | null;
  // Closed from inside the big import's first progress event, so it is certainly still running.
  log.onEvent = (e) => {
    if (e.bytesRead > 0) closed ??= service.close();
  };
  const { importIds } = await service.openCapture({ paths: [big.path, HTTP] });
  await log.when((e) => e.importId === importIds[0] && e.bytesRead > 0);
  assert.ok(closed);
  await closed;
  assert.deepEqual([(await log.ended(importIds[0])).phase, (await log.ended(importIds[1])).phase], ['cancelled', 'cancelled']);
  await assert.rejects(service.listCaptures(), { code: 'unavailable' });
  // The file is released and holds nothing of either.
  const again = startService(db);
  assert.deepEqual(await again.service.listCaptures(), []);
  assert.deepEqual((await again.service.query({ sql: 'SELECT count(*) FROM flows' })).rows, [[0]]);
  await again.service.close();
});
