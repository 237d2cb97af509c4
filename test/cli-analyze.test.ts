// The `flowscope` command as a user runs it: real files, a real DuckDB file, exit codes and messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '../bin/flowscope.mjs');
const FG = '/work/shared/fixtures/deepflow/agent/resources/test/flow_generator';
const tmp = mkdtempSync(join(tmpdir(), 'fs-cli-'));

function flowscope(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
}

test('analyze --json stores flows and reports them; query reads the same file back', () => {
  const db = join(tmp, 'a.duckdb');
  const r = flowscope(['analyze', join(FG, 'http.pcap'), join(FG, 'server-reset.pcap'), '--db', db, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.captures.length, 2);
  assert.equal(out.captures[0].packets, 13);
  assert.equal(out.captures[1].packets, 2);
  const q = JSON.parse(
    execFileSync(process.execPath, [BIN, 'query', 'SELECT server_port, close_type, packets_tx, packets_rx FROM flows ORDER BY flow_id', '--db', db, '--json'], { encoding: 'utf8' }),
  );
  assert.deepEqual(q.rows ?? q, [
    { server_port: 80, close_type: 1, packets_tx: 8, packets_rx: 5 },
    { server_port: 1379, close_type: 15, packets_tx: 1, packets_rx: 1 },
  ]);
});

test('analyze --flows-only: flows and TCP health, no requests', () => {
  const db = join(tmp, 'flows-only.duckdb');
  const r = flowscope(['analyze', join(FG, 'http.pcap'), '--db', db, '--json', '--flows-only']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).captures[0].packets, 13);
  const q = JSON.parse(
    execFileSync(process.execPath, [BIN, 'query', 'SELECT (SELECT count(*) FROM flows)::INTEGER AS flows, (SELECT count(*) FROM requests)::INTEGER AS requests', '--db', db, '--json'], { encoding: 'utf8' }),
  );
  assert.deepEqual(q.rows ?? q, [{ flows: 1, requests: 0 }]);
});

test('a truncated capture: exit 1, a message with the file and offset, and the packets before it kept', () => {
  const whole = readFileSync(join(FG, 'http.pcap'));
  const cut = join(tmp, 'cut.pcap');
  writeFileSync(cut, whole.subarray(0, whole.length - 30));
  const db = join(tmp, 'cut.duckdb');
  const r = flowscope(['analyze', cut, '--db', db, '--json']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cut\.pcap.*offset \d+/);
  const out = JSON.parse(r.stdout);
  assert.equal(out.captures[0].packets, 12, 'all 12 complete records before the cut are kept');
  assert.match(out.captures[0].error, /offset/);
});

test('usage errors exit 2 and say what is wrong', () => {
  const r = flowscope(['analyze']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /at least one capture/);
  const r2 = flowscope(['analyze', join(tmp, 'missing.pcap')]);
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /no such file/);
  const garbage = join(tmp, 'garbage.pcap');
  writeFileSync(garbage, 'this is not a capture at all, just text');
  const r3 = flowscope(['analyze', garbage]);
  assert.equal(r3.status, 1);
  assert.match(r3.stderr, /garbage\.pcap.*not a pcap or pcapng/);
});
