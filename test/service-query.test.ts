// The API's `query`: read-only SQL against the workspace store. Every read form a user reaches for
// works and answers from the imported data; every write form is refused with a reason, and the data
// is provably unchanged afterwards; results are capped and travel as JSON-safe values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explainedStatement } from '../src/engine/read-only-query';
import { analyzeJson, FG, startService } from './service-helpers';

const HTTP = `${FG}/http.pcap`;
const RESET = `${FG}/server-reset.pcap`;

test('reads work, writes and file access are refused, the data stays as it was, rows are capped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-query-'));
  const reference = analyzeJson([HTTP, RESET]);
  const { service, log } = startService(join(dir, 'w.duckdb'), { maxQueryRows: 1000 });
  try {
    const { importIds } = await service.openCapture({ paths: [HTTP, RESET] });
    await Promise.all(importIds.map((id) => log.ended(id)));
    const q = (sql: string) => service.query({ sql });

    // The figures of the CLI test (cli-analyze.test.ts) for the same two files, through the API.
    assert.deepEqual(await q('SELECT server_port, close_type, packets_tx, packets_rx FROM flows ORDER BY flow_id'), {
      columns: [
        { name: 'server_port', type: 'INTEGER' },
        { name: 'close_type', type: 'SMALLINT' },
        { name: 'packets_tx', type: 'BIGINT' },
        { name: 'packets_rx', type: 'BIGINT' },
      ],
      rows: [
        [80, 1, 8, 5],
        [1379, 15, 1, 1],
      ],
      truncated: false,
    });
    const packets = reference.captures.map((c) => c.packets);
    assert.deepEqual((await q('WITH c AS (SELECT * FROM captures) SELECT packets FROM c ORDER BY capture_id')).rows, packets.map((p) => [p]));
    assert.deepEqual((await q('FROM captures SELECT sum(packets)')).rows, [[packets[0] + packets[1]]]);
    assert.deepEqual((await q('  -- a comment first\n (SELECT 1) UNION ALL (SELECT 2) ORDER BY 1')).rows, [[1], [2]]);
    assert.deepEqual((await q('VALUES (1, 2)')).rows, [[1, 2]]);
    const described = await q('DESCRIBE flows');
    assert.deepEqual(described.rows.slice(0, 3).map((r) => r[0]), ['flow_id', 'capture_id', 'if_index']);
    assert.ok((await q('SHOW TABLES')).rows.some((r) => r[0] === 'requests'));
    assert.deepEqual((await q("PRAGMA table_info('captures')")).rows.map((r) => r[1]).slice(0, 2), ['capture_id', 'source']);
    assert.equal((await q('SUMMARIZE captures')).rows.length, (await q('DESCRIBE captures')).rows.length, 'one row per column');
    assert.match(String((await q('EXPLAIN SELECT count(*) FROM flows')).rows[0][1]), /SEQ_SCAN|TABLE_SCAN|flows/i);
    assert.ok((await q('EXPLAIN ANALYZE SELECT count(*) FROM flows')).rows.length > 0);

    const refused: [string, RegExp][] = [
      ['INSERT INTO flows SELECT * FROM flows', /INSERT is not a read/],
      ['with x AS (SELECT 1) INSERT INTO meta SELECT \'k\', \'v\' FROM x', /INSERT is not a read/],
      ['UPDATE captures SET packets = 0', /UPDATE is not a read/],
      ['/* hidden */ DELETE FROM flows', /DELETE is not a read/],
      ['CREATE TABLE t AS SELECT 1', /CREATE is not a read/],
      ['DROP TABLE flows', /DROP is not a read/],
      // Refused by the rule or, already while DuckDB binds them, by the file-system switch.
      [`COPY flows TO '${join(dir, 'out.csv')}'`, /COPY is not a read|file system operations are disabled/],
      [`ATTACH '${join(dir, 'other.duckdb')}' AS other`, /ATTACH is not a read|file system operations are disabled/],
      ['SET threads = 1', /SET is not a read/],
      ['PRAGMA enable_profiling', /PRAGMA is not a read/],
      ['CHECKPOINT', /CALL is not a read/],
      ['BEGIN TRANSACTION', /TRANSACTION is not a read/],
      ['EXPLAIN ANALYZE DELETE FROM flows', /DELETE is not a read/],
      ['EXPLAIN /* x */ ANALYZE UPDATE captures SET packets = 0', /UPDATE is not a read/],
      ['SELECT 1; DELETE FROM flows', /2 statements given/],
      [' ; -- nothing here', /no statement given/],
      ["SELECT * FROM read_text('/etc/hostname')", /file system operations are disabled/],
      ["SELECT * FROM read_csv('/etc/passwd')", /file system operations are disabled/],
      ['SELECT * FROM no_such_table', /no_such_table/],
    ];
    for (const [sql, reason] of refused) {
      await assert.rejects(q(sql), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'bad_request', sql);
        assert.match(err.message, reason, sql);
        return true;
      });
    }
    // Nothing above changed a thing, and the engine still answers.
    assert.deepEqual((await readdir(dir)).filter((f) => !f.startsWith('w.duckdb')), [], 'no file was written');
    assert.deepEqual(await service.listCaptures(), reference.captures);
    assert.deepEqual(await service.captureSummary({}), reference.summary);
    assert.deepEqual((await q('SELECT count(*) FROM flows')).rows, [[reference.summary.flowRows]]);

    const big = await q('SELECT range AS n FROM range(25000)');
    assert.equal(big.rows.length, 1000);
    assert.equal(big.truncated, true);
    assert.deepEqual(big.rows.at(-1), [999]);
    assert.equal((await q('SELECT range FROM range(1000)')).truncated, false, 'exactly the cap is not truncated');

    // Values as JSON carries them: safe BIGINTs as numbers, the rest as decimal text; BLOBs as hex.
    const values = await q("SELECT 9007199254740991::BIGINT, 9007199254740993::BIGINT, -12345678901234567890::HUGEINT, 'fs'::BLOB, [1, 2]::BIGINT[], {'a': 3::BIGINT}, NULL, 1.5::DOUBLE, 'x'");
    assert.deepEqual(values.rows, [[9007199254740991, '9007199254740993', '-12345678901234567890', '6673', [1, 2], { a: 3 }, null, 1.5, 'x']]);
    assert.deepEqual(JSON.parse(JSON.stringify(values.rows)), values.rows);

    // Concurrent queries each get their own answer.
    const answers = await Promise.all([1, 2, 3, 4, 5].map((n) => q(`SELECT ${n} * 10`)));
    assert.deepEqual(answers.map((a) => a.rows[0][0]), [10, 20, 30, 40, 50]);
  } finally {
    await service.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('what EXPLAIN wraps is found past comments, and only at the start', () => {
  assert.equal(explainedStatement('EXPLAIN SELECT 1'), 'SELECT 1');
  assert.equal(explainedStatement(' -- c\n explain /* a */ Analyze\tdelete from x'), 'delete from x');
  assert.equal(explainedStatement('EXPLAINED'), null);
  assert.equal(explainedStatement('SELECT 1 -- EXPLAIN'), null);
});
