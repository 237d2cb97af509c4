// RED (rate, errors, duration) by service, endpoint and edge, windows and the time series, against the
// samples' ground truth (samples/k8s.truth.json): counts and error classes are the clients' own; a
// duration must fit inside what the client measured around the exchange ([start_us, end_us], ± the
// time stamps' resolution: views-truth.ts span).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../src/engine/store/store';
import { Views } from '../src/engine/store/views';
import { loadK8sMetadata } from '../src/engine/tag/k8s-metadata';
import type { RedRow, RedStats, RequestRow } from '../src/shared/views';
import { importSamples, parsedProtocols, SAMPLES, truth, truthRequests, type Req } from './views-helpers';
import { conn, durationBound, kth, span, truthOf } from './views-truth';

/** What RED says about a set of requests, from the truth: counts and outcome classes. */
function truthRed(reqs: Req[]) {
  const clientErrors = reqs.filter((r) => r.error_class === 'client_error').length;
  const serverErrors = reqs.filter((r) => r.error_class === 'server_error').length;
  // Every request of the truth was answered (the clients read each response).
  return {
    requests: reqs.length,
    responses: reqs.length,
    clientErrors,
    serverErrors,
    timeouts: 0,
    errorRatio: reqs.length > 0 ? (clientErrors + serverErrors) / reqs.length : 0,
    timeoutRatio: 0,
  };
}

const counts = (s: RedStats) => ({
  requests: s.requests,
  responses: s.responses,
  clientErrors: s.clientErrors,
  serverErrors: s.serverErrors,
  timeouts: s.timeouts,
  errorRatio: s.errorRatio,
  timeoutRatio: s.timeoutRatio,
});

/** Groups truth requests by a key; sorted for readable diffs. */
function groupTruth(reqs: Req[], key: (r: Req) => string): Map<string, Req[]> {
  const m = new Map<string, Req[]>();
  for (const r of reqs) m.set(key(r), [...(m.get(key(r)) ?? []), r]);
  return new Map([...m].sort((a, b) => a[0].localeCompare(b[0])));
}

const sorted = <V>(m: Map<string, V>) => new Map([...m].sort((a, b) => a[0].localeCompare(b[0])));

/** The endpoint SPEC.md ("Requests") gives a request: HTTP path with ids folded, DNS qname, Redis command, SQL verb + table. */
function expectedEndpoint(r: Req): string {
  switch (r.protocol) {
    case 'http':
      return r.resource.split('?')[0].replace(/\/\d+(?=\/|$)/g, '/{id}');
    case 'dns':
      return r.resource;
    case 'redis':
      return r.method;
    case 'postgresql': {
      const verb = r.resource.trim().split(/\s+/)[0].toUpperCase();
      const table = /\b(?:FROM|INTO|UPDATE|JOIN)\s+([A-Za-z_][A-Za-z0-9_.]*)/i.exec(r.resource);
      // A statement without a table (SELECT 1) has no endpoint (the table shows '' for it).
      return table ? `${verb} ${table[1]}` : '';
    }
    default:
      throw new Error(`no endpoint rule for ${r.protocol}`);
  }
}

/**
 * Duration figures of a RED row vs its truth requests: every duration is at most what the client
 * measured around the exchange, so avg ≤ avg of those bounds, max ≤ their max, and the median ≤ their
 * upper median (order statistics keep an element-wise ≤); the quantiles are ordered.
 */
function checkDurations(s: RedStats, reqs: Req[], what: string): void {
  const bounds = reqs.map(durationBound);
  assert.ok(s.durationAvg !== null && s.durationP50 !== null && s.durationP90 !== null && s.durationP99 !== null && s.durationMax !== null, what);
  assert.ok(s.durationMax > 0, `${what}: max ${s.durationMax} > 0`);
  assert.ok(s.durationMax <= Math.max(...bounds), `${what}: max ${s.durationMax} ≤ ${Math.max(...bounds)}`);
  const avgBound = bounds.reduce((a, b) => a + b, 0) / bounds.length;
  assert.ok(s.durationAvg <= avgBound, `${what}: avg ${s.durationAvg} ≤ ${avgBound}`);
  const upperMedian = kth(bounds, Math.ceil((bounds.length - 1) / 2));
  assert.ok(s.durationP50 <= upperMedian, `${what}: p50 ${s.durationP50} ≤ ${upperMedian}`);
  assert.ok(s.durationP50 <= s.durationP90 && s.durationP90 <= s.durationP99 && s.durationP99 <= s.durationMax, `${what}: quantiles ordered`);
}

describe('RED and time series of k8s-both.pcapng', () => {
  let store: Store;
  let views: Views;
  let reqs: Req[];
  /** Every request once, as the request log lists it (grouping pod). */
  let log: RequestRow[];

  before(async () => {
    ({ store } = await importSamples(':memory:', ['k8s-both.pcapng']));
    await loadK8sMetadata(store, `${SAMPLES}k8s.metadata.json`);
    views = new Views(store);
    reqs = truthRequests(await parsedProtocols(store));
    log = (await views.requestLog({ grouping: 'pod', limit: 1000 })).rows;
  });
  after(async () => {
    await views?.close();
    await store?.close();
  });

  const edgeOf = (r: Req) => `${conn(r).client_pod} → ${conn(r).server_pod} ${r.protocol}:${conn(r).backend_port}`;
  const edgeOfRow = (r: RedRow) => `${r.client} → ${r.server} ${r.protocol}:${r.serverPort}`;

  test('each answered request: its start and start + duration lie inside what the client measured', () => {
    assert.equal(log.length, reqs.length);
    for (const row of log) {
      const r = truthOf(row);
      const { lo, hi } = span(r);
      assert.ok(row.duration !== null, `${r.id} answered`);
      assert.ok(row.startTime >= lo && row.startTime <= hi, `${r.id}: start ${row.startTime} in [${lo}, ${hi}]`);
      assert.ok(row.duration >= 0 && row.startTime + row.duration <= hi, `${r.id}: ends ${row.startTime + row.duration} ≤ ${hi}`);
    }
  });

  test('by edge: requests, responses, client/server errors, ratios and durations of each client → server pair', async () => {
    const table = await views.red({ groupBy: 'edge', grouping: 'pod' });
    const expected = groupTruth(reqs, edgeOf);
    assert.deepEqual(sorted(new Map(table.rows.map((r) => [edgeOfRow(r), counts(r)]))), new Map([...expected].map(([k, v]) => [k, truthRed(v)])));
    const seconds = (table.window.to - table.window.from) / 1e6;
    assert.ok(table.window.from <= Math.min(...log.map((r) => r.startTime)) && table.window.to > Math.max(...log.map((r) => r.startTime)), 'the window covers the data');
    for (const row of table.rows) {
      const k = edgeOfRow(row);
      assert.ok(Math.abs(row.rate - row.requests / seconds) < 1e-9, `${k}: rate = requests / window seconds`);
      checkDurations(row, expected.get(k)!, k);
      // avg and max are those of the request log's rows of the edge (the one row RED counts).
      const durations = log.filter((l) => `${l.clientNode} → ${l.serverNode} ${l.l7Protocol}:${l.serverPort}` === k).map((l) => l.duration!);
      assert.equal(row.durationMax, Math.max(...durations), k);
      assert.ok(Math.abs(row.durationAvg! - durations.reduce((a, b) => a + b, 0) / durations.length) < 1e-6, k);
    }
  });

  test('sparklines: each edge\'s buckets add up to its requests and hold them where the truth puts them', async () => {
    const points = 40;
    const table = await views.red({ groupBy: 'edge', grouping: 'pod', sparkline: points });
    const { from, to } = table.window;
    const step = (to - from) / points;
    const expected = groupTruth(reqs, edgeOf);
    for (const row of table.rows) {
      const k = edgeOfRow(row);
      const mine = expected.get(k)!;
      assert.equal(row.spark!.length, points, k);
      assert.equal(row.spark!.reduce((a, b) => a + b, 0), mine.length, k);
      let upTo = 0;
      row.spark!.forEach((n, i) => {
        upTo += n;
        const end = from + (i + 1) * step;
        const lo = mine.filter((r) => span(r).hi < end).length;
        const hi = mine.filter((r) => span(r).lo < end).length;
        assert.ok(lo <= upTo && upTo <= hi, `${k}: ${lo} ≤ ${upTo} ≤ ${hi} before bucket ${i + 1}`);
      });
    }
  });

  test('by service: per server pod and protocol', async () => {
    const table = await views.red({ groupBy: 'service', grouping: 'pod' });
    const expected = groupTruth(reqs, (r) => `${conn(r).server_pod} ${r.protocol}`);
    assert.deepEqual(sorted(new Map(table.rows.map((r) => [`${r.server} ${r.protocol}`, counts(r)]))), new Map([...expected].map(([k, v]) => [k, truthRed(v)])));
    for (const row of table.rows) checkDurations(row, expected.get(`${row.server} ${row.protocol}`)!, `${row.server} ${row.protocol}`);
    // Sorted by requests (the default), most first.
    assert.deepEqual(table.rows.map((r) => r.requests), table.rows.map((r) => r.requests).sort((a, b) => b - a));
  });

  test('by endpoint: per server pod, protocol and endpoint (ids folded)', async () => {
    const table = await views.red({ groupBy: 'endpoint', grouping: 'pod' });
    const key = (server: string, protocol: string, endpoint: string) => `${server} ${protocol} ${endpoint}`;
    const expected = groupTruth(reqs, (r) => key(conn(r).server_pod, r.protocol, expectedEndpoint(r)));
    assert.deepEqual(
      sorted(new Map(table.rows.map((r) => [key(r.server, r.protocol, r.endpoint!), counts(r)]))),
      new Map([...expected].map(([k, v]) => [k, truthRed(v)])),
    );
    for (const row of table.rows) checkDurations(row, expected.get(key(row.server, row.protocol, row.endpoint!))!, key(row.server, row.protocol, row.endpoint!));
  });

  test('per protocol (the CLI summary): the truth per_protocol figures', async () => {
    const rows = await views.redByProtocol({});
    const perProtocol = (truth.expected as unknown as { per_protocol: Record<string, { requests: number; ok: number; client_error: number; server_error: number }> }).per_protocol;
    const protocols = await parsedProtocols(store);
    assert.deepEqual(
      sorted(new Map(rows.map((r) => [r.protocol, { requests: r.requests, ok: r.responses - r.clientErrors - r.serverErrors, clientErrors: r.clientErrors, serverErrors: r.serverErrors }]))),
      sorted(
        new Map(
          Object.entries(perProtocol)
            .filter(([p]) => protocols.has(p))
            .map(([p, v]) => [p, { requests: v.requests, ok: v.ok, clientErrors: v.client_error, serverErrors: v.server_error }]),
        ),
      ),
    );
  });

  /**
   * Times between requests where no request can be: every truth request's [start_us, end_us] (± its
   * tolerance) ends before and the next starts after. A window edge there must split the truth exactly.
   */
  function quietTimes(): number[] {
    const byStart = [...reqs].sort((a, b) => span(a).lo - span(b).lo);
    const out: number[] = [];
    let reach = -Infinity;
    for (let i = 0; i + 1 < byStart.length; i++) {
      reach = Math.max(reach, span(byStart[i]).hi);
      const next = span(byStart[i + 1]).lo; // the smallest lo of all later ones (sorted by lo)
      if (next - reach > 2) out.push(Math.floor((reach + next) / 2));
    }
    return out;
  }

  test('a window splits the requests exactly: [from, t) + [t, to) = the whole, each side = the truth before / after t', async () => {
    const whole = await views.red({ groupBy: 'edge', grouping: 'pod' });
    const { from, to } = whole.window;
    const quiet = quietTimes();
    assert.ok(quiet.length >= 10, `${quiet.length} quiet times`);
    // Three quiet times spread over the capture, and the start time of a logged request itself ([from, to): it is in the later window).
    const cuts = [quiet[Math.floor(quiet.length / 4)], quiet[Math.floor(quiet.length / 2)], quiet[Math.floor((3 * quiet.length) / 4)]];
    const atRequest = log[Math.floor(log.length / 3)].startTime;
    for (const t of [...cuts, atRequest]) {
      const early = await views.red({ groupBy: 'edge', grouping: 'pod', window: { from, to: t } });
      const late = await views.red({ groupBy: 'edge', grouping: 'pod', window: { from: t, to } });
      const sum = new Map<string, number>();
      for (const r of [...early.rows, ...late.rows]) sum.set(edgeOfRow(r), (sum.get(edgeOfRow(r)) ?? 0) + r.requests);
      assert.deepEqual(sorted(sum), sorted(new Map(whole.rows.map((r) => [edgeOfRow(r), r.requests]))), `cut at ${t}`);
      if (t === atRequest) {
        assert.equal(late.rows.reduce((s, r) => s + r.requests, 0), log.filter((l) => l.startTime >= t).length, 'a request starting at the cut is in the later window');
        continue;
      }
      const before = reqs.filter((r) => span(r).lo < t);
      assert.deepEqual(
        sorted(new Map(early.rows.map((r) => [edgeOfRow(r), counts(r)]))),
        new Map([...groupTruth(before, edgeOf)].map(([k, v]) => [k, truthRed(v)])),
        `before ${t}`,
      );
      assert.deepEqual(
        sorted(new Map(late.rows.map((r) => [edgeOfRow(r), counts(r)]))),
        new Map([...groupTruth(reqs.filter((r) => span(r).lo >= t), edgeOf)].map(([k, v]) => [k, truthRed(v)])),
        `after ${t}`,
      );
      // The rate is over the window asked for.
      for (const r of early.rows) assert.ok(Math.abs(r.rate - r.requests / ((t - from) / 1e6)) < 1e-9);
    }
  });

  test('time series: the buckets add up to every request once; requests and errors fall where the truth puts them', async () => {
    const step = 25_000;
    const from = truth.capture_window.start_us;
    const to = truth.capture_window.end_us + 1;
    const ts = await views.timeSeries({ stepUs: step, window: { from, to } });
    assert.equal(ts.stepUs, step);
    assert.equal(ts.points.length, Math.ceil((to - from) / step));
    ts.points.forEach((p, i) => assert.equal(p.t, from + i * step));
    const errorsOf = (rs: Req[]) => rs.filter((r) => r.error_class !== 'ok');
    assert.equal(ts.points.reduce((s, p) => s + p.requests, 0), reqs.length);
    assert.equal(ts.points.reduce((s, p) => s + p.errors, 0), errorsOf(reqs).length);
    assert.equal(ts.points.reduce((s, p) => s + p.timeouts, 0), 0);
    // A request starts somewhere in its span: the count up to a bucket edge is at least the truth's
    // requests wholly before it and at most those that began before it.
    const lo = (rs: Req[], t: number) => rs.filter((r) => span(r).hi < t).length;
    const hi = (rs: Req[], t: number) => rs.filter((r) => span(r).lo < t).length;
    let requests = 0;
    let errors = 0;
    let exactBuckets = 0;
    for (const p of ts.points) {
      requests += p.requests;
      errors += p.errors;
      const end = p.t + step;
      assert.ok(lo(reqs, end) <= requests && requests <= hi(reqs, end), `requests before ${end}: ${lo(reqs, end)} ≤ ${requests} ≤ ${hi(reqs, end)}`);
      const e = errorsOf(reqs);
      assert.ok(lo(e, end) <= errors && errors <= hi(e, end), `errors before ${end}: ${lo(e, end)} ≤ ${errors} ≤ ${hi(e, end)}`);
      if (lo(reqs, end) === hi(reqs, end)) exactBuckets++;
    }
    assert.ok(exactBuckets > ts.points.length / 2, `most bucket edges (${exactBuckets} of ${ts.points.length}) are exact`);
  });

  test('time series with its own step and a protocol filter: the filtered truth, once each', async () => {
    const all = await views.timeSeries({});
    assert.ok(all.points.length > 0 && all.points.length <= 120);
    assert.equal(all.points.reduce((s, p) => s + p.requests, 0), reqs.length);
    for (const protocol of await parsedProtocols(store)) {
      const ts = await views.timeSeries({ filter: [{ field: 'l7_protocol', op: '=', value: protocol }] });
      const mine = reqs.filter((r) => r.protocol === protocol);
      assert.equal(ts.points.reduce((s, p) => s + p.requests, 0), mine.length, protocol);
      assert.equal(ts.points.reduce((s, p) => s + p.errors, 0), mine.filter((r) => r.error_class !== 'ok').length, protocol);
      assert.equal(ts.flowsFiltered, true);
    }
  });
});
