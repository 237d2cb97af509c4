// `flowscope serve` as a person runs it: a real process on a free port, the URL with its token on
// the first line, captures from the command line imported at start, the API behind the token, and a
// clean stop on Ctrl+C that leaves the workspace file readable by `flowscope query`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { analyzeJson, CLI, FG } from './service-helpers';

const HTTP = `${FG}/http.pcap`;
const ERSPAN = '/work/shared/fixtures/deepflow/server/libs/datatype/decapsulate_erspan1.pcap';
const UI = join(import.meta.dirname, '../out/renderer/index.html');

function flowscope(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8' });
}

/** Starts `flowscope serve`; resolves with the process and its stdout lines as they come. */
function serve(args: string[]): { child: ChildProcessWithoutNullStreams; lines: string[]; line: (re: RegExp) => Promise<string>; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', ...args]);
  const lines: string[] = [];
  const waiting: { re: RegExp; resolve: (line: string) => void }[] = [];
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiting.filter((w) => w.re.test(l))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(l);
    }
  });
  const line = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find((l) => re.test(l));
      if (seen) return resolve(seen);
      waiting.push({ re, resolve });
      child.once('exit', (code) => reject(new Error(`serve exited (${code}) before printing ${re}: ${err}`)));
    });
  return { child, lines, line, stderr: () => err };
}

test('serve: URL with token, captures imported at start, API behind the token, clean stop on SIGINT', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-serve-cli-'));
  const db = join(dir, 'served.duckdb');
  const reference = analyzeJson([HTTP, ERSPAN]);
  const s = serve(['--port', '0', '--db', db, HTTP, ERSPAN]);
  try {
    const first = await s.line(/^Flowscope is serving /);
    const url = first.slice('Flowscope is serving '.length);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    assert.equal(s.lines[0], first, 'the URL is the first line');
    const token = new URL(url).searchParams.get('token')!;
    const origin = new URL('/', url).href;
    assert.equal(await s.line(/^  workspace: /), `  workspace: ${db}`);
    await s.line(/^  Ctrl\+C stops it\.$/);

    // Both files end up imported, and say so.
    await s.line(/^imported .*decapsulate_erspan1\.pcap: /);
    assert.ok(s.lines.includes(`imported ${HTTP}: 13 packets, 1 flow`), s.lines.join('\n'));
    assert.ok(s.lines.includes(`imported ${ERSPAN}: ${reference.captures[1].packets} packets, ${reference.summary.flowRows - 1} flows`), s.lines.join('\n'));

    const call = (name: string, body: unknown, auth = `Bearer ${token}`) =>
      fetch(new URL(`api/${name}`, origin), { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await call('listCaptures', null, '')).status, 401);
    assert.equal((await call('listCaptures', null, 'Bearer x')).status, 401);
    assert.deepEqual(await (await call('listCaptures', null)).json(), { ok: true, value: reference.captures });
    assert.deepEqual(await (await call('captureSummary', {})).json(), { ok: true, value: reference.summary });

    const page = await fetch(origin);
    if (existsSync(UI)) {
      // Built by `npm run build:app` (the e2e tests need it too): the real page.
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>Flowscope<\/title>/);
      assert.ok(!s.lines.some((l) => /UI is not built/.test(l)));
    } else {
      assert.equal(page.status, 404);
      assert.ok(s.lines.some((l) => /the UI is not built \(npm run build:app\): serving the API only/.test(l)));
    }

    const exited = new Promise<number | null>((resolve) => s.child.once('exit', resolve));
    s.child.kill('SIGINT');
    assert.equal(await exited, 0, s.stderr());
    assert.equal(s.lines.at(-1), 'SIGINT: stopping');
    await assert.rejects(fetch(origin), /fetch failed/);
  } finally {
    s.child.kill('SIGKILL');
  }

  // The workspace outlives the server.
  const q = flowscope(['query', 'SELECT capture_id, packets FROM captures ORDER BY 1', '--db', db, '--json']);
  assert.equal(q.status, 0, q.stderr);
  const rows = JSON.parse(q.stdout) as { rows?: unknown[] } | unknown[];
  assert.deepEqual(Array.isArray(rows) ? rows : rows.rows, [
    { capture_id: 1, packets: 13 },
    { capture_id: 2, packets: reference.captures[1].packets },
  ]);
  await rm(dir, { recursive: true, force: true });
});

test('serve: usage errors and a workspace that cannot be opened', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-serve-cli-'));
  try {
    const missing = flowscope(['serve', join(dir, 'missing.pcap')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /missing\.pcap: no such file/);
    const badPort = flowscope(['serve', '--port', 'http']);
    assert.equal(badPort.status, 2);
    assert.match(badPort.stderr, /--port takes a port number/);
    const notDir = flowscope(['serve', '--db', `${HTTP}/w.duckdb`]);
    assert.equal(notDir.status, 1);
    assert.match(notDir.stderr, /^flowscope: .*w\.duckdb/);
    assert.equal(notDir.stdout, '', 'nothing is served');
    const help = flowscope(['--help']);
    assert.match(help.stdout, /flowscope serve \[capture\.\.\.\] \[--port N\] \[--host ADDR\] \[--db PATH\]/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
