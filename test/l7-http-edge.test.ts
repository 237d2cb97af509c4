// HTTP/1.x framing and header cases between a real server and client (test/fixtures/l7-http-edge:
// generate.sh records workload.py on the loopback of a network namespace): HEAD, 204, 304, chunked with
// trailers, 100-continue, chunked request bodies, each trace header kind, X-Request-ID on request and
// response, a header line past the parser's limit, ids folded in the endpoint, pipelining with a HEAD
// first, an HTTP/1.0 body delimited by the close, and a 101 upgrade followed by WebSocket frames.
// The ground truth is what the client sent and read; tshark counts the same messages where it can.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCapture, tsharkFields } from './l7-helpers';

const DIR = join(import.meta.dirname, 'fixtures/l7-http-edge');
const PCAP = join(DIR, 'http-edge.pcap');
interface Exchange {
  connection: string;
  client_port: number;
  index_on_connection: number;
  method: string;
  resource: string;
  host: string;
  status: number;
  version: string;
  request_body_bytes: number;
  response_body_bytes: number;
  x_request_id: string | null;
  response_x_request_id: string | null;
  trace_id: string | null;
  span_id: string | null;
  parent_span_id: string | null;
  start_us: number;
  end_us: number;
}
const truth = JSON.parse(readFileSync(join(DIR, 'http-edge.truth.json'), 'utf8')) as { exchanges: Exchange[] };

test('http edge cases: one row per exchange, framed, paired and classified as the client saw it', async () => {
  const { records, engine } = await runCapture(PCAP);
  assert.equal(engine.stats.gaps, 0);
  assert.equal(records.length, truth.exchanges.length, 'no row from interim responses or WebSocket frames');
  for (const t of truth.exchanges) {
    const rows = records.filter((r) => r.clientPort === t.client_port).sort((a, b) => a.startTime - b.startTime);
    const r = rows[t.index_on_connection];
    const what = `${t.connection} #${t.index_on_connection} ${t.method} ${t.resource.slice(0, 40)}`;
    assert.ok(r, what);
    assert.equal(r.requestType, t.method, what);
    assert.equal(r.requestResource, t.resource, what);
    assert.equal(r.requestDomain, t.host, what);
    assert.equal(r.version, t.version, what);
    assert.equal(r.responseCode, t.status, what);
    assert.equal(r.responseStatus, t.status >= 500 ? 'server_error' : t.status >= 400 ? 'client_error' : 'ok', what);
    assert.equal(r.requestLength, t.request_body_bytes, `${what}: request body`);
    assert.equal(r.responseLength, t.response_body_bytes, `${what}: response body`);
    assert.equal(r.xRequestId0, t.x_request_id, what);
    assert.equal(r.xRequestId1, t.response_x_request_id, what);
    assert.equal(r.traceId, t.trace_id, `${what}: trace id`);
    assert.equal(r.spanId, t.span_id, `${what}: span id`);
    assert.equal(r.parentSpanId, t.parent_span_id, `${what}: parent span id`);
    assert.ok(r.startTime >= t.start_us && r.endTime <= t.end_us, `${what}: inside the client's window`);
    assert.ok(r.duration !== null && r.duration >= 0);
  }
  const ids = records.find((r) => r.requestResource!.startsWith('/users/42/'))!;
  assert.equal(ids.endpoint, '/users/{id}/orders/{id}/items/{id}', 'number, UUID and long hex id folded');
});

test('http edge cases: tshark counts the same requests and responses, except where a pipelined HEAD misleads it', async () => {
  const { records } = await runCapture(PCAP);
  const pipelined = truth.exchanges.find((t) => t.connection === 'pipelined')!.client_port;
  // One row per message: a frame carrying several (pipelining) lists them comma-separated.
  const rows = tsharkFields(PCAP, ['tcp.srcport', 'tcp.dstport', 'http.request.method', 'http.response.code']).flatMap((x) =>
    x[2] !== '' ? x[2].split(',').map((m) => [x[0], x[1], m, '']) : x[3] !== '' ? x[3].split(',').map((c) => [x[0], x[1], '', c]) : [],
  );
  const tsharkReq = rows.filter((x) => x[2] !== '');
  const tsharkResp = rows.filter((x) => x[3] !== '' && Number(x[3]) !== 100); // 100 Continue is interim, not a row
  assert.equal(records.filter((r) => r.requestType !== null).length, tsharkReq.length);
  const codes = (xs: number[]) => xs.sort((a, b) => a - b).join(',');
  const notPipelined = (port: number) => port !== pipelined;
  assert.equal(
    codes(records.filter((r) => notPipelined(r.clientPort)).map((r) => r.responseCode!)),
    codes(tsharkResp.filter((x) => notPipelined(Number(x[1]))).map((x) => Number(x[3]))),
  );
  // tshark takes the bytes after the HEAD response (Content-Length: 5120, no body) for its body and so
  // misses the two responses that follow; the client read all three.
  const tsharkPipelined = tsharkResp.filter((x) => Number(x[1]) === pipelined).length;
  const ours = records.filter((r) => r.clientPort === pipelined && r.responseCode !== null).length;
  assert.equal(ours, truth.exchanges.filter((t) => t.client_port === pipelined).length);
  assert.ok(tsharkPipelined < ours, `tshark ${tsharkPipelined}, Flowscope ${ours}`);
});
