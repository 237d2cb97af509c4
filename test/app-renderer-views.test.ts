// The views' pure rules: health colours from RED numbers (thresholds documented in health.ts), the
// filter bar's clauses, CSV/JSON export, field names, the workspace window and drill-downs, the
// layered map layout, and that the views render (react-dom/server) what a user needs to read.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import type { NetworkRow, RedRow, RedStats, ServiceMap } from '../src/shared/views';
import { formatRate, formatRatio, formatTimestamp } from '../src/renderer/src/format';
import { fieldOf } from '../src/renderer/src/workspace/fields';
import { clauseText, makeClause } from '../src/renderer/src/workspace/filters';
import { healthOf } from '../src/renderer/src/workspace/health';
import { toCsv, toJson } from '../src/renderer/src/workspace/export';
import { initialWorkspace, workspaceReducer } from '../src/renderer/src/workspace/workspace-state';
import { layeredPositions } from '../src/renderer/src/views/layered-layout';
import { closeTypeName } from '../src/renderer/src/views/logs';
import { drillFilter, RedView } from '../src/renderer/src/views/RedView';
import { NetworkView } from '../src/renderer/src/views/NetworkView';
import { edgeLabel } from '../src/renderer/src/views/ServiceMapView';
import { Sparkline } from '../src/renderer/src/components/Sparkline';

function red(requests: number, clientErrors: number, serverErrors: number, timeouts = 0): RedStats {
  const responses = requests - timeouts;
  return {
    requests, rate: requests / 10, responses, clientErrors, serverErrors, timeouts,
    errorRatio: responses > 0 ? (clientErrors + serverErrors) / responses : 0,
    timeoutRatio: requests > 0 ? timeouts / requests : 0,
    durationAvg: 1000, durationP50: 900, durationP90: 2000, durationP99: 7580, durationMax: 8000,
  };
}

test('health: idle without requests, degraded above 0.1 % errors, failure at 10 % server errors or 20 % errors or 10 % timeouts', () => {
  assert.equal(healthOf(null), 'idle');
  assert.equal(healthOf(red(0, 0, 0)), 'idle');
  assert.equal(healthOf(red(10_000, 0, 0)), 'healthy');
  assert.equal(healthOf(red(10_000, 10, 0)), 'healthy'); // exactly 0.1 %: not above it
  assert.equal(healthOf(red(10_000, 11, 0)), 'degraded');
  assert.equal(healthOf(red(100, 19, 0)), 'degraded'); // 4xx alone fail at 20 %
  assert.equal(healthOf(red(100, 20, 0)), 'failure');
  assert.equal(healthOf(red(100, 0, 9)), 'degraded');
  assert.equal(healthOf(red(100, 0, 10)), 'failure'); // 5xx fail at 10 %
  assert.equal(healthOf(red(100, 0, 0, 10)), 'failure');
  assert.equal(healthOf(red(1000, 0, 0, 2)), 'degraded');
  // The k8s sample's client → frontend edge: 18 requests, 3 client and 2 server errors.
  assert.equal(healthOf(red(18, 3, 2)), 'failure');
});

test('filter bar: typed values become clauses of the right type; bad numbers are refused with a reason', () => {
  const status = { field: 'response_status', label: 'Status', numeric: false };
  const code = { field: 'response_code', label: 'Code', numeric: true };
  assert.deepEqual(makeClause(status, 'in', ' client_error, server_error ,'), { field: 'response_status', op: 'in', value: ['client_error', 'server_error'] });
  assert.deepEqual(makeClause(code, '>=', '500'), { field: 'response_code', op: '>=', value: 500 });
  assert.deepEqual(makeClause(code, 'in', '404, 500'), { field: 'response_code', op: 'in', value: [404, 500] });
  assert.equal(makeClause(code, '=', 'abc'), 'Code takes a number');
  assert.equal(makeClause(code, 'in', '1, x'), 'Code takes numbers');
  assert.equal(makeClause(status, '=', '  '), 'Type a value first');
  assert.equal(clauseText({ field: 'response_status', op: 'in', value: ['a', 'b'] }, 'Status'), 'Status in a, b');
});

test('field names: row properties to the snake_case columns filters and log sorts use', () => {
  assert.equal(fieldOf('responseStatus'), 'response_status');
  assert.equal(fieldOf('l7Protocol'), 'l7_protocol');
  assert.equal(fieldOf('xRequestId0'), 'x_request_id_0');
  assert.equal(fieldOf('reqTcpSeq'), 'req_tcp_seq');
  assert.equal(fieldOf('startTime'), 'start_time');
  assert.equal(fieldOf('hops'), 'hops');
});

test('export: CSV quotes what needs quoting, JSON keeps nulls; both carry the visible columns only', () => {
  const rows = [{ a: 'x,y', b: 1, c: null }, { a: 'say "hi"', b: 2, c: 'z' }];
  const cols = [{ label: 'A', value: (r: (typeof rows)[0]) => r.a }, { label: 'C', value: (r: (typeof rows)[0]) => r.c }];
  assert.equal(toCsv(cols, rows), 'A,C\r\n"x,y",\r\n"say ""hi""",z\r\n');
  assert.deepEqual(JSON.parse(toJson(cols, rows)), [{ A: 'x,y', C: null }, { A: 'say "hi"', C: 'z' }]);
});

test('workspace: a brushed window is kept, an empty one means all time; drilling opens a log with its filter', () => {
  let s = workspaceReducer(initialWorkspace, { type: 'window', window: { from: 10, to: 20 } });
  assert.deepEqual(s.window, { from: 10, to: 20 });
  s = workspaceReducer(s, { type: 'window', window: { from: 20, to: 20 } });
  assert.equal(s.window, null);
  const filter = [{ field: 'server_node', op: '=' as const, value: 'api' }];
  s = workspaceReducer(s, { type: 'drill', log: 'requests', filter });
  assert.equal(s.view, 'requests');
  assert.deepEqual(s.requestFilter, filter);
  s = workspaceReducer(s, { type: 'drill', log: 'flows', filter });
  assert.equal(s.view, 'flows');
  assert.deepEqual(s.flowFilter, filter);
  assert.deepEqual(s.requestFilter, filter, 'the request log keeps its own filter');
});

test('layered layout: callers left of callees, columns by longest path, no node on a skipping edge, cycles end', () => {
  // The k8s sample: client calls frontend, api, dns, redis, db; frontend calls api; api calls dns, redis, db.
  const edges = [
    ['client', 'frontend'], ['client', 'api'], ['client', 'dns'], ['client', 'redis'], ['client', 'db'],
    ['frontend', 'api'], ['api', 'dns'], ['api', 'redis'], ['api', 'db'],
  ].map(([source, target]) => ({ source, target }));
  const nodes = ['client', 'frontend', 'api', 'dns', 'redis', 'db'];
  const pos = layeredPositions({ nodes, edges }, { x: 100, y: 100 });
  assert.equal(pos.size, nodes.length);
  for (const e of edges) assert.ok(pos.get(e.source)!.x < pos.get(e.target)!.x, `${e.source} left of ${e.target}`);
  assert.deepEqual(['client', 'frontend', 'api', 'dns'].map((n) => pos.get(n)!.x), [0, 100, 200, 300]);
  // client → api skips frontend's column: frontend is not on that straight line's row there.
  assert.notEqual(pos.get('frontend')!.y, (pos.get('client')!.y + pos.get('api')!.y) / 2);
  const cyclic = layeredPositions({ nodes: ['a', 'b'], edges: [{ source: 'a', target: 'b' }, { source: 'b', target: 'a' }] });
  assert.equal(cyclic.size, 2);
  assert.notEqual(cyclic.get('a')!.x, cyclic.get('b')!.x, 'a two-node cycle spreads over two columns');
  // A cycle behind a client (checkout → orders → payments → checkout) reads left to right from the
  // client; only the edge that closes the cycle points back. Before: the whole cycle, and everything it
  // calls, piled into one column.
  const ring = [['web', 'checkout'], ['checkout', 'orders'], ['orders', 'payments'], ['payments', 'checkout'], ['payments', 'db']]
    .map(([source, target]) => ({ source, target }));
  const rp = layeredPositions({ nodes: ['db', 'payments', 'orders', 'checkout', 'web'], edges: ring }, { x: 100, y: 100 });
  assert.deepEqual(['web', 'checkout', 'orders', 'payments', 'db'].map((n) => rp.get(n)!.x), [0, 100, 200, 300, 400]);
  // A dense mesh (every service calls 5 others): any left-to-right order of it is arbitrary, and a
  // long one would be hundreds of columns wide. It stays one wrapped column between its callers and
  // its callees.
  const mesh = Array.from({ length: 60 }, (_, i) => `s${i}`);
  const meshEdges = mesh.flatMap((a, i) => [1, 7, 13, 29, 31].map((d) => ({ source: a, target: mesh[(i + d) % 60] })));
  meshEdges.push({ source: 'client', target: 's0' }, { source: 's59', target: 'store' });
  const mp = layeredPositions({ nodes: ['client', ...mesh, 'store'], edges: meshEdges }, { x: 100, y: 100 });
  const meshXs = new Set(mesh.map((n) => mp.get(n)!.x));
  assert.ok(meshXs.size <= 6, `${meshXs.size} columns for the mesh`);
  assert.ok(mp.get('client')!.x < Math.min(...meshXs) && mp.get('store')!.x > Math.max(...meshXs), 'callers left, callees right');
});

test('labels: Kiali-style edge label, close types by name, rates and ratios trimmed, timestamps in UTC with µs', () => {
  const edge: ServiceMap['edges'][0] = { id: 'e', source: 'a', target: 'b', protocol: 'http', serverPort: 80, red: red(18, 3, 2), flows: 7, bytes: 1, connectionFailures: 0 };
  assert.equal(edgeLabel(edge), '1.8 rps\n27.78 % err\np99 7.58 ms');
  assert.equal(edgeLabel({ ...edge, protocol: 'tcp', serverPort: 81, red: red(0, 0, 0) }), 'tcp:81');
  assert.equal(closeTypeName(1), 'Normal');
  assert.equal(closeTypeName(15), 'ServerDirectRst');
  assert.equal(closeTypeName(99), '99');
  assert.equal(formatRate(5.543682), '5.54');
  assert.equal(formatRate(1234.5), '1,235');
  assert.equal(formatRatio(0.27777), '27.78 %');
  assert.equal(formatTimestamp(1795598394246288), '2026-11-25 09:19:54.246288');
});

test('RED and network tables render their rows, sort marks and drill filters; sparklines are plain SVG', () => {
  const row: RedRow = { ...red(18, 3, 2), server: 'frontend', client: 'client', protocol: 'http', serverPort: 80, spark: [1, 4, 0, 2] };
  const noop = () => {};
  const html = renderToStaticMarkup(
    createElement(RedView, { groupBy: 'edge', onGroupBy: noop, table: { window: { from: 0, to: 1 }, rows: [row] }, error: null, sort: { field: 'requests', desc: true }, onSort: noop, search: '', onSearch: noop, filter: [], onFilter: noop, onDrill: noop }),
  );
  assert.match(html, /aria-label="RED by edge"/);
  assert.match(html, /<td>client<\/td>/);
  assert.match(html, /aria-sort="descending"/);
  assert.match(html, /27\.78 %/);
  assert.match(html, /1 rows · 18 requests/);
  assert.deepEqual(drillFilter('edge', row), [
    { field: 'client_node', op: '=', value: 'client' },
    { field: 'server_node', op: '=', value: 'frontend' },
    { field: 'l7_protocol', op: '=', value: 'http' },
    { field: 'server_port', op: '=', value: 80 },
  ]);
  const empty = renderToStaticMarkup(
    createElement(RedView, { groupBy: 'service', onGroupBy: noop, table: { window: { from: 0, to: 1 }, rows: [] }, error: null, sort: { field: 'requests' }, onSort: noop, search: '', onSearch: noop, filter: [], onFilter: noop, onDrill: noop }),
  );
  assert.match(empty, /No requests in this window/);
  const net: NetworkRow = { server: 'db', protocol: 'tcp', serverPort: 5432, flows: 2, packets: 42, bytes: 4481, retransRatio: 0.0363, connectionFailures: 1, transferFailures: 0, rttAvg: 64, srtAvg: null };
  const netHtml = renderToStaticMarkup(createElement(NetworkView, { groupBy: 'service', onGroupBy: noop, rows: [net], error: null, sort: { field: 'bytes', desc: true }, onSort: noop, search: '', onSearch: noop, filter: [], onFilter: noop, onDrill: noop }));
  assert.match(netHtml, /4\.4 KiB/);
  assert.match(netHtml, /3\.63 %/);
  assert.match(netHtml, /1 rows · 2 flows/);
  const svg = renderToStaticMarkup(createElement(Sparkline, { values: [0, 5, 10] }));
  assert.match(svg, /<polyline points="0\.0,19\.0 40\.0,10\.0 80\.0,1\.0"/);
  assert.doesNotMatch(svg, /style=/);
});
