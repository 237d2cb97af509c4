// The engine's API service with real fixture files and a real DuckDB file: imports are queued and
// reported, and what the app lists and summarises is exactly what `flowscope analyze --json` reports
// for the same files. A truncated file fails with its offset and keeps its packets; wrong files are
// refused at once with a reason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { analyzeJson, FG, pcapRecordOffsetAt, startService } from './service-helpers';

// 473 flows, ERSPAN-encapsulated. Not 171-mysql.pcap: its observation points come out
// differently from run to run (client and server tie in flow/observation.ts's arg_max).
const ERSPAN = '/work/shared/fixtures/deepflow/server/libs/datatype/decapsulate_erspan1.pcap';
const MEMCACHED = `${FG}/memcached/memcached-userdata.pcap`;
const HTTP = `${FG}/http.pcap`;

test('two captures: progress from 0 to the last byte ends in done; list and summary equal `flowscope analyze --json`', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-service-'));
  const db = join(dir, 'workspace', 'flowscope.duckdb');
  const reference = analyzeJson([MEMCACHED, ERSPAN]);
  assert.equal(reference.captures.length, 2);
  try {
    const { service, log } = startService(db);
    const opened = await service.openCapture({ paths: [MEMCACHED, ERSPAN] });
    assert.deepEqual(opened, { captureIds: [1, 2], importIds: ['import-1', 'import-2'], rejected: [] });

    // Listed at once, before their imports finish: the UI shows them with their progress.
    const early = await service.listCaptures();
    assert.deepEqual(early.map((r) => [r.captureId, r.source, r.kind]), [[1, MEMCACHED, 'pcap'], [2, ERSPAN, 'pcap']]);

    const [first, second] = await Promise.all([log.ended('import-1'), log.ended('import-2')]);
    for (const [i, end] of [first, second].entries()) {
      const file = [MEMCACHED, ERSPAN][i];
      const size = (await stat(file)).size;
      const flows = await service.query({ sql: `SELECT count(*) AS n FROM flows WHERE capture_id = ${i + 1}` });
      assert.deepEqual(end, {
        importId: `import-${i + 1}`,
        captureId: i + 1,
        path: file,
        phase: 'done',
        bytesRead: size,
        totalBytes: size,
        packets: reference.captures[i].packets,
        flows: flows.rows[0][0],
      });
      const events = log.of(`import-${i + 1}`);
      assert.deepEqual(events[0], { ...end, phase: 'reading', bytesRead: 0, packets: 0, flows: 0 }, 'the first event announces the import');
      const read = events.map((e) => e.bytesRead);
      assert.deepEqual(read, [...read].sort((a, b) => a - b), 'progress never goes back');
      const packets = events.map((e) => e.packets);
      assert.deepEqual(packets, [...packets].sort((a, b) => a - b));
    }
    // The 2.2 MB file reports on its way (about every MiB), not only at the start and the end.
    assert.ok(log.of('import-1').length >= 4, `${log.of('import-1').length} events for the 2.2 MB file`);
    // One at a time, in order: the second import starts reading only after the first has ended.
    const firstDone = log.events.indexOf(first);
    assert.ok(log.events.findIndex((e) => e.importId === 'import-2' && e.bytesRead > 0) > firstDone);

    assert.deepEqual(await service.listCaptures(), reference.captures);
    assert.deepEqual(await service.captureSummary({}), reference.summary);
    assert.deepEqual(await service.captureSummary({ captureIds: [1, 2] }), reference.summary);
    const one = await service.captureSummary({ captureIds: [2] });
    assert.deepEqual(one.captureIds, [2]);
    assert.equal(one.packets, reference.captures[1].packets);
    await assert.rejects(service.captureSummary({ captureIds: [7] }), { code: 'not_found', message: 'no capture with id 7' });
    assert.deepEqual(await service.cancelImport({ importId: 'import-1' }), { cancelled: false }, 'a finished import cannot be cancelled');
    await service.close();

    // The workspace is a file: a new engine on it lists the same captures, and new ids follow on.
    const again = startService(db);
    assert.deepEqual(await again.service.listCaptures(), reference.captures);
    const reopened = await again.service.openCapture({ paths: [HTTP] });
    assert.deepEqual(reopened.captureIds, [3]);
    assert.equal((await again.log.ended(reopened.importIds[0])).phase, 'done');
    const ids = await again.service.query({ sql: 'SELECT count(*), count(DISTINCT flow_id) FROM flows' });
    assert.equal(ids.rows[0][0], ids.rows[0][1], 'flow ids stay unique across sessions');
    await again.service.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a truncated capture fails with the file and the offset of the cut record, and keeps the packets before it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-service-'));
  try {
    const whole = await readFile(HTTP);
    const cut = join(dir, 'cut.pcap');
    const cutAt = whole.length - 30;
    await writeFile(cut, whole.subarray(0, cutAt));
    const offset = pcapRecordOffsetAt(whole, cutAt);
    const reference = analyzeJson([cut]);

    const { service, log } = startService(join(dir, 'w.duckdb'));
    const { importIds } = await service.openCapture({ paths: [cut, HTTP] });
    const failed = await log.ended(importIds[0]);
    assert.equal(failed.phase, 'failed');
    assert.equal(failed.packets, 12, 'the 12 whole records before the cut');
    assert.match(failed.error ?? '', new RegExp(`^${cut}: at byte offset ${offset}: `));
    assert.equal(failed.error, reference.errors[0]);
    // The next file in the queue is not held up by the broken one.
    assert.equal((await log.ended(importIds[1])).phase, 'done');

    const [record] = await service.listCaptures();
    assert.deepEqual(record, reference.captures[0]);
    assert.equal(record.error, failed.error);
    const flows = await service.query({ sql: 'SELECT count(*) FROM flows WHERE capture_id = 1' });
    assert.equal(flows.rows[0][0], reference.summary.flowRows, 'its flows are kept');
    assert.equal((await service.captureSummary({ captureIds: [1] })).packets, 12);
    await service.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a file that disappears while queued fails with the reason, is listed with it, and the queue goes on', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-service-'));
  try {
    const gone = join(dir, 'gone.pcap');
    await copyFile(HTTP, gone);
    const { service, log } = startService(join(dir, 'w.duckdb'));
    // Removed while the first import runs (inside its progress event, so certainly before its turn).
    log.onEvent = (e) => {
      if (e.importId === 'import-1' && e.bytesRead > 0 && existsSync(gone)) unlinkSync(gone);
    };
    const opened = await service.openCapture({ paths: [MEMCACHED, gone, HTTP] });
    assert.deepEqual(opened.rejected, [], 'it was there when opened');
    const failed = await log.ended('import-2');
    const reason = `${gone}: import failed: ENOENT: no such file or directory, open '${gone}'`;
    assert.deepEqual(failed, { importId: 'import-2', captureId: 2, path: gone, phase: 'failed', bytesRead: 0, totalBytes: 6252, packets: 0, flows: 0, error: reason });
    assert.equal((await log.ended('import-3')).phase, 'done');
    const records = await service.listCaptures();
    assert.deepEqual(records.map((r) => [r.captureId, r.packets, r.error]), [[1, 20421, null], [2, 0, reason], [3, 13, null]], 'packet counts as tshark counts them');
    assert.deepEqual((await service.query({ sql: 'SELECT count(*) FROM flows WHERE capture_id = 2' })).rows, [[0]]);
    await service.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('wrong files are refused at once with the file and the reason; gzip and pcapng are accepted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-service-'));
  try {
    const png = join(dir, 'soccer-ball.png');
    await writeFile(png, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
    const empty = join(dir, 'empty.pcap');
    await writeFile(empty, '');
    const gzText = join(dir, 'log.gz');
    await writeFile(gzText, gzipSync('hello world\n'));
    const folder = join(dir, 'folder.pcap');
    await mkdir(folder);
    const missing = join(dir, 'missing.pcap');
    const gz = join(dir, 'http.pcap.gz');
    await writeFile(gz, gzipSync(await readFile(HTTP)));
    const pcapng = join(dir, 'http.pcapng');
    execFileSync('editcap', ['-F', 'pcapng', HTTP, pcapng]);

    const { service, log } = startService(':memory:');
    const opened = await service.openCapture({ paths: [png, gz, empty, gzText, folder, missing, 'relative.pcap', pcapng] });
    assert.deepEqual(opened.captureIds, [1, 2]);
    assert.deepEqual(opened.rejected, [
      { path: png, reason: `${png}: at byte offset 0: not a pcap or pcapng file (magic 0x89504e47)` },
      { path: empty, reason: `${empty}: at byte offset 0: the file is empty (0 bytes): not a capture` },
      { path: gzText, reason: `${gzText}: at byte offset 0: not a pcap or pcapng file inside gzip (magic 0x68656c6c)` },
      { path: folder, reason: `${folder}: not a regular file` },
      { path: missing, reason: `${missing}: cannot read: ENOENT: no such file or directory, stat '${missing}'` },
      { path: 'relative.pcap', reason: 'relative.pcap: not an absolute path' },
    ]);
    await Promise.all(opened.importIds.map((id) => log.ended(id)));
    const records = await service.listCaptures();
    assert.deepEqual(records.map((r) => [r.source, r.kind, r.packets, r.error]), [
      [gz, 'pcap+gzip', 13, null],
      [pcapng, 'pcapng', 13, null],
    ]);
    assert.equal(records[0].fileBytes, (await stat(gz)).size, 'progress and size of a gzip file are in compressed bytes');
    await service.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a workspace database that cannot be opened makes every call but appInfo say why', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-service-'));
  try {
    const notADb = join(dir, 'notes.duckdb');
    await writeFile(notADb, 'this is a text file, not a DuckDB database\n'.repeat(200));
    const { service } = startService(notADb);
    assert.match((await service.appInfo()).engine, /notes\.duckdb/);
    await assert.rejects(service.listCaptures(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'unavailable');
      assert.match(err.message, /^the workspace database could not be opened: .*notes\.duckdb/);
      return true;
    });
    await service.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
