// `flowscope requests` and the request sections of `flowscope analyze`, run as a user runs them, on a
// sample capture, against the sample's ground truth (samples/k8s.truth.json).
//
// Which CLI: bin/flowscope.mjs runs dist/cli.mjs when it exists (`npm run build:cli`), else the source
// through tsx. cli-analyze.test.ts runs whatever dist/ holds, which can be older than the source (it is
// not rebuilt by the tests). Here the bundle is built the way build:cli builds it (scripts/bundle.mjs,
// same entry points) into a temp dir beside a copy of bin/flowscope.mjs: the built CLI of the current
// source, started through the same launcher, without writing the shared dist/ that other runs may be
// reading.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogPage, RequestRow } from '../src/shared/views';
import { SAMPLES, truth, type Req } from './views-helpers';
import { conn, multiset, rowKey, truthKey } from './views-truth';

const ROOT = join(import.meta.dirname, '..');
const SAMPLE = join(SAMPLES, 'k8s-both.pcapng');
let tmp: string;
let bin: string;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'fs-cli-requests-'));
  mkdirSync(join(tmp, 'bin'));
  copyFileSync(join(ROOT, 'bin/flowscope.mjs'), join(tmp, 'bin/flowscope.mjs'));
  // DuckDB stays external to the bundle: resolved from the project's node_modules, as from dist/.
  symlinkSync(join(ROOT, 'node_modules'), join(tmp, 'node_modules'));
  const { bundle } = (await import(join(ROOT, 'scripts/bundle.mjs'))) as { bundle: (entries: Record<string, string>, out: string) => Promise<void> };
  await bundle({ cli: join(ROOT, 'src/cli/main.ts'), 'flow-worker': join(ROOT, 'src/engine/shard-worker.ts') }, join(tmp, 'dist'));
  bin = join(tmp, 'bin/flowscope.mjs');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function flowscope(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

function json<T>(args: string[]): T {
  const r = flowscope(args);
  assert.equal(r.status, 0, `flowscope ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** The truth's requests (every protocol of the sample is parsed: views-map.test.ts checks it). */
const reqs: Req[] = truth.requests;
const failing = reqs.filter((r) => r.error_class !== 'ok');
const hopRows = (rs: Req[]) => rs.reduce((s, r) => s + conn(r).hops.length, 0);

/** The table rows of `requests` text output: the lines between the header's rule and the "(a–b of n requests)" line. */
function tableRows(out: string): Record<string, string>[] {
  const lines = out.trimEnd().split('\n');
  const header = lines[0].split(' | ').map((c) => c.trim());
  assert.match(lines[1], /^-+(-\+-+)+$/, 'a rule under the header');
  const rows = lines.slice(2, lines.findIndex((l) => /^\((none|[\d,]+–[\d,]+) of [\d,]+ requests\)$/.test(l)));
  return rows.map((l) => Object.fromEntries(l.split(' | ').map((c, i) => [header[i], c.trim()])));
}

describe('flowscope requests', () => {
  test('--json: one row per request, the multiset of the truth (method, resource, code, status per edge)', () => {
    const page = json<LogPage<RequestRow>>(['requests', SAMPLE, '--json', '--limit', '1000', '--grouping', 'ip']);
    assert.equal(page.total, reqs.length);
    assert.deepEqual(multiset(page.rows.map(rowKey)), multiset(reqs.map(truthKey)));
    assert.ok(page.rows.every((r) => r.hops === conn(reqs.find((q) => truthKey(q) === rowKey(r))!).hops.length));
  });

  test('--filter: the errors only are the truth\'s failing requests; two filters are ANDed', () => {
    const page = json<LogPage<RequestRow>>(['requests', SAMPLE, '--json', '--limit', '1000', '--grouping', 'ip', '--filter', 'response_status in (client_error, server_error)']);
    assert.equal(page.total, failing.length);
    assert.deepEqual(multiset(page.rows.map(rowKey)), multiset(failing.map(truthKey)));
    const both = json<LogPage<RequestRow>>(['requests', SAMPLE, '--json', '--grouping', 'ip', '--filter', 'l7_protocol = http', '--filter=response_status = server_error']);
    const expected = reqs.filter((r) => r.protocol === 'http' && r.error_class === 'server_error');
    assert.deepEqual(multiset(both.rows.map(rowKey)), multiset(expected.map(truthKey)));
  });

  test('--all-hops: every hop\'s row; --sort duration:desc orders them', () => {
    const all = json<LogPage<RequestRow>>(['requests', SAMPLE, '--json', '--limit', '1', '--all-hops']);
    assert.equal(all.total, hopRows(reqs));
    const sorted = json<LogPage<RequestRow>>(['requests', SAMPLE, '--json', '--limit', '1000', '--sort', 'duration:desc']);
    assert.equal(sorted.rows.length, reqs.length);
    for (let i = 1; i < sorted.rows.length; i++) assert.ok(sorted.rows[i - 1].duration! >= sorted.rows[i].duration!);
  });

  test('text: a header, one line per request of the page, what is shown of how many', () => {
    const r = flowscope(['requests', SAMPLE, '--grouping', 'ip', '--limit', '1000']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.deepEqual(lines[0].split('|').map((c) => c.trim()), ['start', 'client', 'server', 'port', 'protocol', 'type', 'resource', 'status', 'code', 'duration', 'hops', 'op']);
    assert.equal(lines.length, 2 + reqs.length + 1, 'header, rule, the rows, "(a–b of n requests)"');
    assert.equal(lines.at(-1), `(1–${reqs.length} of ${reqs.length} requests)`);
    // The lines are the truth's requests: who → whom, what, outcome (numeric codes: HTTP status, DNS RCODE).
    const shown = tableRows(r.stdout).map((row) => `${row.client} > ${row.server}:${row.port} ${row.protocol} | ${row.resource} | ${row.status} ${['http', 'dns'].includes(row.protocol) ? row.code : ''}`);
    const expected = reqs.map((q) => {
      const c = conn(q);
      return `${c.client_ip} > ${c.backend_ip}:${c.backend_port} ${q.protocol} | ${q.resource} | ${q.error_class} ${['http', 'dns'].includes(q.protocol) ? q.code : ''}`;
    });
    assert.deepEqual(multiset(shown), multiset(expected));

    const page = flowscope(['requests', SAMPLE, '--limit', '5', '--offset', String(reqs.length - 2)]);
    assert.equal(page.status, 0, page.stderr);
    assert.equal(tableRows(page.stdout).length, 2);
    assert.match(page.stdout, new RegExp(`\\(${reqs.length - 1}–${reqs.length} of ${reqs.length} requests\\)\\n$`));
    const none = flowscope(['requests', SAMPLE, '--filter', 'request_resource = /no/such/path']);
    assert.equal(none.status, 0, none.stderr);
    assert.match(none.stdout, /\(none of 0 requests\)\n$/);
  });

  test('usage errors: exit 2 and a first line that says what is wrong', () => {
    const cases: [string[], RegExp][] = [
      [['requests', SAMPLE, '--filter', 'bogus'], /^flowscope: cannot read filter "bogus": expected "field op value"/],
      [['requests', SAMPLE, '--filter', 'nope = 1'], /^flowscope: requestLog: unknown request field "nope"; one of: /],
      [['requests', SAMPLE, '--filter', 'duration > slow'], /^flowscope: requestLog: duration takes numbers, not "slow"/],
      [['requests', SAMPLE, '--sort', 'duration:sideways'], /^flowscope: --sort takes field\[:desc\]/],
      [['requests', SAMPLE, '--limit', '5000'], /^flowscope: --limit is at most 1000/],
      [['requests'], /^flowscope: requests needs capture files or --db PATH/],
      [['requests', join(tmp, 'missing.pcap')], /^flowscope: .*missing\.pcap: no such file/],
    ];
    for (const [args, message] of cases) {
      const r = flowscope(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.split('\n')[0], message, args.join(' '));
      assert.equal(r.stdout, '', 'nothing on stdout');
    }
  });

  test('--db: the request log of a store analyze wrote', () => {
    const db = join(tmp, 'k8s.duckdb');
    assert.equal(flowscope(['analyze', SAMPLE, '--db', db, '--quiet']).status, 0);
    const page = json<LogPage<RequestRow>>(['requests', '--db', db, '--json', '--limit', '1000', '--grouping', 'ip']);
    assert.deepEqual(multiset(page.rows.map(rowKey)), multiset(reqs.map(truthKey)));
  });
});

describe('flowscope analyze: the request sections', () => {
  const perProtocol = (truth.expected as unknown as { per_protocol: Record<string, { requests: number; client_error: number; server_error: number }> }).per_protocol;

  test('text: protocol mix with each protocol\'s requests and error ratio, top endpoints, every failing request', () => {
    const r = flowscope(['analyze', SAMPLE, '--quiet', '--top', '100']);
    assert.equal(r.status, 0, r.stderr);
    const section = (title: string): string[] => {
      const lines = r.stdout.split('\n');
      const start = lines.indexOf(title);
      assert.ok(start >= 0, `section ${title}`);
      const end = lines.findIndex((l, i) => i > start && l === '');
      return lines.slice(start + 1, end < 0 ? undefined : end);
    };
    const mix = section('Protocol mix (each request once, at one observation point)');
    assert.deepEqual(mix[0].trim().split(/\s+/), ['protocol', 'requests', 'req/s', 'errors', 'timeouts', 'p50', 'p99', 'max']);
    const shown = new Map(mix.slice(1).map((l) => l.trim().split(/\s+/)).map((c) => [c[0], { requests: Number(c[1]), errors: c[3], timeouts: c[4] }]));
    assert.deepEqual(
      new Map([...shown].sort()),
      new Map(
        Object.entries(perProtocol)
          .map(([p, v]) => [p, { requests: v.requests, errors: `${((100 * (v.client_error + v.server_error)) / v.requests).toFixed(2)}%`, timeouts: '0.00%' }] as const)
          .sort(),
      ),
    );

    const endpoints = section('Top endpoints');
    assert.deepEqual(endpoints[0].trim().split(/\s+/).slice(0, 4), ['server', 'protocol', 'endpoint', 'requests']);
    // Every request is under one endpoint: the requests column adds up to the truth's count.
    // (Columns by pattern: an endpoint may hold spaces or be empty, durations read "619 µs".)
    const total = endpoints.slice(1).reduce((s, l) => {
      const m = /^ {2}(\S+)\s+(\S+)\s+(.*?)\s+(\d+)\s+\d+\.\d\d\s+\d+\.\d\d%\s+\d+\.\d\d%\s/.exec(l);
      assert.ok(m, `endpoint line ${JSON.stringify(l)}`);
      return s + Number(m[4]);
    }, 0);
    assert.equal(total, reqs.length);

    const failingSection = section('Failing requests');
    const rows = tableRows(failingSection.join('\n'));
    assert.deepEqual(multiset(rows.map((x) => `${x.resource} ${x.status}`)), multiset(failing.map((q) => `${q.resource} ${q.error_class}`)));
    assert.equal(failingSection.at(-1), `(1–${failing.length} of ${failing.length} requests)`);
  });

  test('--json: the views part agrees with the truth', () => {
    const out = json<{
      views: { protocols: { protocol: string; requests: number; clientErrors: number; serverErrors: number }[]; failing: LogPage<RequestRow>; slowest: LogPage<RequestRow> };
    }>(['analyze', SAMPLE, '--json', '--top', '5']);
    assert.deepEqual(
      new Map(out.views.protocols.map((p) => [p.protocol, [p.requests, p.clientErrors, p.serverErrors]] as const).sort()),
      new Map(Object.entries(perProtocol).map(([p, v]) => [p, [v.requests, v.client_error, v.server_error]] as const).sort()),
    );
    assert.equal(out.views.failing.total, failing.length);
    assert.equal(out.views.failing.rows.length, 5);
    assert.ok(out.views.failing.rows.every((row) => row.responseStatus === 'client_error' || row.responseStatus === 'server_error'));
    assert.equal(out.views.slowest.total, reqs.length, 'every request was answered');
  });
});
