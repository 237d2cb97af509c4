// HTTP/2 and gRPC from real traffic: samples/l7/http2/http2.pcap was made by generate.sh (Node http2
// server and client over h2c with prior knowledge, one connection with padded frames, and a
// @grpc/grpc-js server and client), http2.truth.json is what the clients sent and saw. Flowscope's rows
// are checked against that truth and against tshark's HTTP/2 dissector; then the same capture cut so
// that it starts mid-connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { foldPath } from '../src/engine/l7/endpoint';
import { HTTP2 } from '../src/engine/l7/http2';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import type { RequestRecord } from '../src/shared/records';
import { SAMPLES, readPackets, runPackets, type RawPacket } from './l7-helpers';

interface Truth {
  conn: 'h2' | 'h2pad' | 'grpc' | 'grpc2';
  phase: 1 | 2;
  kind: 'http' | 'grpc';
  method: string;
  path: string;
  authority: string;
  xRequestId: string;
  traceId: string;
  spanId: string;
  reqBody?: number;
  /** :status as the client saw it (a number for HTTP, '200' for gRPC). */
  status: string | number | null;
  respXRequestId: string | null;
  respTraceId: string | null;
  respBody?: number;
  outcome: 'response' | 'client-reset' | 'server-reset';
  grpcStatus: number | null;
  grpcMessage: string | null;
}

const DIR = join(SAMPLES, 'l7/http2');
const PCAP = join(DIR, 'http2.pcap');
const truth = JSON.parse(readFileSync(join(DIR, 'http2.truth.json'), 'utf8')) as {
  h2Port: number;
  h2PadPort: number;
  grpcPort: number;
  cutUs: number;
  requests: Truth[];
};
const registry = (): ProtocolRegistry => new ProtocolRegistry([...BUILTIN_PROTOCOLS, HTTP2]);
const GRPC_CLIENT_ERRORS = [1, 3, 5, 6, 7, 9, 11, 16];
const port = (t: Truth): number => (t.conn === 'h2' ? truth.h2Port : t.conn === 'h2pad' ? truth.h2PadPort : truth.grpcPort);

function expectedStatus(t: Truth): string {
  if (t.outcome === 'client-reset') return 'client_error';
  if (t.outcome === 'server-reset') return 'server_error';
  if (t.kind === 'grpc') return t.grpcStatus === 0 ? 'ok' : GRPC_CLIENT_ERRORS.includes(t.grpcStatus!) ? 'client_error' : 'server_error';
  const c = Number(t.status);
  return c >= 500 ? 'server_error' : c >= 400 ? 'client_error' : 'ok';
}

function expectedException(t: Truth): string | null {
  if (t.outcome === 'client-reset') return 'RST_STREAM CANCEL';
  if (t.outcome === 'server-reset') return 'RST_STREAM INTERNAL_ERROR';
  return t.kind === 'grpc' && t.grpcStatus !== 0 ? t.grpcMessage : null;
}

let packets: RawPacket[] | null = null;
async function allPackets(): Promise<RawPacket[]> {
  packets ??= await readPackets(PCAP);
  return packets;
}

/** tshark's view, per request x-request-id: request and response pseudo-headers, grpc-status, DATA bytes, RST codes. */
interface SharkStream {
  xid: string | null;
  method: string | null;
  path: string | null;
  authority: string | null;
  status: string | null;
  grpcStatus: string | null;
  grpcMessage: string | null;
  /** DATA payload bytes (padding excluded) per direction: to the server, to the client. */
  data: [number, number];
  rst: string | null;
  /** [seq_raw, len] of the TCP segment (or reassembly window) whose tshark tree shows the request HEADERS / first response HEADERS. */
  reqSeg: [number, number] | null;
  respSeg: [number, number] | null;
}

function sharkStreams(): Map<string, SharkStream> {
  const ports = [truth.h2Port, truth.h2PadPort, truth.grpcPort];
  const json = execFileSync(
    'tshark',
    ['-n', '-r', PCAP, ...ports.flatMap((p) => ['-d', `tcp.port==${p},http2`]), '-Y', 'http2', '-T', 'json', '--no-duplicate-keys', '-J', 'tcp http2'],
    { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const arr = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
  const byKey = new Map<string, SharkStream>();
  for (const pkt of JSON.parse(json) as { _source: { layers: Record<string, unknown> } }[]) {
    const tcp = pkt._source.layers.tcp as Record<string, string>;
    const toServer = ports.includes(Number(tcp['tcp.dstport']));
    // A frame tshark reassembled from several segments is shown in the last one: the window is then the
    // 64 KiB before that segment's end.
    const end = Number(tcp['tcp.seq_raw']) + Number(tcp['tcp.len']);
    const seg: [number, number] = 'tcp.segments' in pkt._source.layers ? [end - 65536, 65536] : [Number(tcp['tcp.seq_raw']), Number(tcp['tcp.len'])];
    for (const layer of arr(pkt._source.layers.http2 as Record<string, unknown> | Record<string, unknown>[])) {
      for (const f of arr(layer['http2.stream'] as Record<string, unknown> | Record<string, unknown>[])) {
        const sid = f['http2.streamid'] as string;
        const type = f['http2.type'] as string;
        if (sid === undefined || sid === '0' || type === undefined) continue;
        const key = `${tcp['tcp.stream']}/${sid}`;
        let s = byKey.get(key);
        if (s === undefined) {
          s = { xid: null, method: null, path: null, authority: null, status: null, grpcStatus: null, grpcMessage: null, data: [0, 0], rst: null, reqSeg: null, respSeg: null };
          byKey.set(key, s);
        }
        if (type === '0') {
          const padded = (f['http2.flags_tree'] as Record<string, string> | undefined)?.['http2.flags.padded'] === '1';
          const pad = padded ? Number(f['http2.pad_length']) + 1 : 0;
          s.data[toServer ? 0 : 1] += Number(f['http2.length']) - pad;
        } else if (type === '3') {
          s.rst = f['http2.rst_stream.error'] as string;
        } else if (type === '1') {
          const h = new Map<string, string>();
          for (const x of arr(f['http2.header'] as Record<string, string> | Record<string, string>[])) {
            if (!h.has(x['http2.header.name'])) h.set(x['http2.header.name'], x['http2.header.value']);
          }
          if (h.has(':method')) {
            s.method = h.get(':method')!;
            s.path = h.get(':path') ?? null;
            s.authority = h.get(':authority') ?? null;
            s.xid = h.get('x-request-id') ?? null;
            s.reqSeg ??= seg;
          }
          if (h.has(':status') && s.status === null) {
            s.status = h.get(':status')!;
            s.respSeg = seg;
          }
          if (h.has('grpc-status')) {
            s.grpcStatus = h.get('grpc-status')!;
            s.grpcMessage = h.get('grpc-message') ?? null;
          }
        }
      }
    }
  }
  const out = new Map<string, SharkStream>();
  for (const s of byKey.values()) if (s.xid !== null) out.set(s.xid, s);
  return out;
}

test('http2 sample: one row per request of the truth, with its fields, statuses and pairing', async () => {
  const { records, engine } = runPackets(await allPackets(), { registry: registry() });
  assert.equal(engine.stats.parserErrors, 0);
  assert.deepEqual(engine.stats.detected, { http2: 4 }, 'four connections, all HTTP/2');
  assert.equal(records.length, truth.requests.length, `${truth.requests.length} requests`);
  const byXid = new Map(records.map((r) => [r.xRequestId0, r]));
  let grpcRows = 0;
  for (const t of truth.requests) {
    const r = byXid.get(t.xRequestId);
    assert.ok(r, `a row for ${t.conn} ${t.method} ${t.path}`);
    const what = `${t.conn} ${t.method} ${t.path}`;
    assert.equal(r.l7Protocol, t.kind === 'grpc' ? 'grpc' : 'http2', what);
    if (t.kind === 'grpc') grpcRows++;
    assert.equal(r.version, '2', what);
    assert.equal(r.requestType, t.method, what);
    assert.equal(r.requestResource, t.path, what);
    assert.equal(r.requestDomain, t.authority, what);
    assert.equal(r.endpoint, t.kind === 'grpc' ? t.path : foldPath(t.path), what);
    assert.equal(r.serverPort, port(t), what);
    assert.equal(r.responseStatus, expectedStatus(t), what);
    assert.equal(r.responseCode, t.outcome !== 'response' ? null : t.kind === 'grpc' ? t.grpcStatus : Number(t.status), what);
    assert.equal(r.responseException, expectedException(t), what);
    assert.equal(r.traceId, t.traceId, `${what}: trace id from the request's ${t.traceId.startsWith('trace.') ? 'sw8' : 'trace'} header`);
    assert.equal(r.spanId, t.spanId, what);
    assert.equal(r.xRequestId1, t.respXRequestId, what);
    if (t.kind === 'http') {
      assert.equal(r.requestLength, t.reqBody, what);
      assert.equal(r.responseLength, t.outcome === 'response' ? t.respBody : null, what);
    }
    assert.ok(r.duration !== null && r.duration >= 0, `${what}: paired`);
    assert.ok(r.reqTcpSeq !== null, what);
    assert.equal(r.respTcpSeq === null, t.outcome === 'client-reset', `${what}: response seq unless the client reset the stream`);
  }
  assert.equal(grpcRows, 11);
  // Pairing by stream id: concurrent requests answered out of order keep their own responses (each waits
  // at least the delay the server was told, and the 300 ms one finishes last although it began first).
  for (const t of truth.requests.filter((x) => x.path.startsWith('/slow/'))) {
    const ms = Number(new URL(t.path, 'http://x').searchParams.get('ms'));
    const r = byXid.get(t.xRequestId)!;
    assert.ok(r.duration! >= ms * 1000, `${t.path}: duration ${r.duration} µs ≥ ${ms} ms`);
    assert.ok(r.duration! < ms * 1000 + 250_000, `${t.path}: not the response of a slower stream`);
  }
  // The client's reset (no response bytes from the server): duration up to the RST, ≥ the client's 100 ms.
  for (const t of truth.requests.filter((x) => x.outcome === 'client-reset')) assert.ok(byXid.get(t.xRequestId)!.duration! >= 100_000);
});

test('http2 sample: tshark agrees (method, path, authority, :status, grpc-status, grpc-message, DATA bytes, RST codes, segments)', async () => {
  const { records } = runPackets(await allPackets(), { registry: registry() });
  const shark = sharkStreams();
  assert.equal(shark.size, truth.requests.length, 'tshark sees every request (by x-request-id)');
  let checked = 0;
  for (const r of records) {
    const s = shark.get(r.xRequestId0!);
    assert.ok(s, `tshark has ${r.xRequestId0}`);
    const what = `${r.requestType} ${r.requestResource}`;
    assert.equal(r.requestType, s.method, what);
    assert.equal(r.requestResource, s.path, what);
    assert.equal(r.requestDomain, s.authority, what);
    if (s.grpcStatus !== null) {
      assert.equal(r.responseCode, Number(s.grpcStatus), what);
      if (s.grpcStatus !== '0') assert.equal(r.responseException, decodeURIComponent(s.grpcMessage!), what);
    } else {
      assert.equal(r.responseCode, s.status === null ? null : Number(s.status), what);
    }
    assert.equal(r.requestLength, s.data[0], `${what}: request DATA bytes`);
    assert.equal(r.responseLength, s.status === null ? null : s.data[1], `${what}: response DATA bytes`);
    if (s.rst !== null) assert.ok(r.responseException!.startsWith('RST_STREAM'), `${what}: RST_STREAM ${s.rst}`);
    // The seq of the message's first byte lies in the segment where tshark shows its HEADERS frame.
    assert.ok(r.reqTcpSeq! - s.reqSeg![0] >= 0 && r.reqTcpSeq! - s.reqSeg![0] < s.reqSeg![1], `${what}: request seq in its segment`);
    if (s.respSeg !== null) {
      assert.ok(r.respTcpSeq! - s.respSeg[0] >= 0 && r.respTcpSeq! - s.respSeg[0] < s.respSeg[1], `${what}: response seq in its segment`);
    }
    checked++;
  }
  assert.equal(checked, truth.requests.length);
});

/** Static-table :status values (RFC 7541 Appendix A): known whatever the capture missed. */
const STATIC_STATUS = ['200', '204', '206', '304', '400', '404', '500'];

test('http2 sample cut mid-connection: rows for the streams after the cut; fields behind unknown HPACK entries are null', async () => {
  const cut = (await allPackets()).filter((p) => p.tsUs >= truth.cutUs);
  assert.ok(cut.length > 0 && cut.length < (await allPackets()).length);
  const { records, engine } = runPackets(cut, { registry: registry() });
  assert.equal(engine.stats.parserErrors, 0);
  assert.deepEqual(engine.stats.detected, { http2: 4 }, 'three connections found mid-stream by their frames, one new');
  const after = truth.requests.filter((t) => t.phase === 2);
  assert.equal(records.length, after.length, `${after.length} requests after the cut, no others`);
  const rows = [...records].sort((a, b) => a.startTime - b.startTime);
  for (const conn of ['h2', 'h2pad', 'grpc', 'grpc2'] as const) {
    const ts = after.filter((t) => t.conn === conn);
    const p = port(ts[0]);
    // Same server port for grpc and grpc2: the new connection is the one with a known x-request-id.
    const rs = rows.filter((r) => r.serverPort === p && (conn === 'grpc2' ? r.xRequestId0 !== null : conn === 'grpc' ? r.xRequestId0 === null : true));
    assert.equal(rs.length, ts.length, `${conn}: rows`);
    // Concurrent /slow requests may finish in any order: match by path.
    for (const t of ts) {
      const r = rs.find((x) => x.requestResource === t.path && x.requestType === t.method && !(x as { used?: boolean }).used) as RequestRecord & { used?: boolean };
      assert.ok(r, `${conn} ${t.method} ${t.path}`);
      r.used = true;
      const what = `${conn} ${t.method} ${t.path}`;
      assert.equal(r.l7Protocol, t.kind === 'grpc' ? 'grpc' : 'http2', what);
      assert.equal(r.endpoint, t.kind === 'grpc' ? t.path : foldPath(t.path), what);
      if (conn === 'grpc2') {
        // A connection that began after the cut: decoded in full.
        assert.equal(r.requestDomain, t.authority);
        assert.equal(r.responseCode, t.grpcStatus);
        assert.equal(r.responseStatus, expectedStatus(t));
        assert.equal(r.traceId, t.traceId);
        assert.equal(r.xRequestId0, t.xRequestId);
        continue;
      }
      // Inserted into the dynamic table before the cut, so unknown: :authority, and the names
      // x-request-id, traceparent/b3/uber-trace-id/sw8 (their values come as literals under a name the
      // capture never saw).
      assert.equal(r.requestDomain, null, `${what}: :authority was a dynamic entry`);
      assert.equal(r.traceId, null, `${what}: trace header name was a dynamic entry`);
      assert.equal(r.xRequestId0, null, what);
      if (t.kind === 'grpc') {
        // content-type was a dynamic entry: gRPC is recognised from the DATA frames' message prefix.
        // grpc-status came under a dynamic name: the outcome is unknown, :status (static 200) stays the code.
        assert.equal(r.responseCode, 200, what);
        assert.equal(r.responseStatus, 'unknown', what);
        continue;
      }
      if (t.outcome === 'server-reset') {
        assert.equal(r.responseStatus, 'server_error', what);
        assert.equal(r.responseException, 'RST_STREAM INTERNAL_ERROR', what);
      } else if (STATIC_STATUS.includes(String(t.status))) {
        assert.equal(r.responseCode, Number(t.status), what);
        assert.equal(r.responseStatus, expectedStatus(t), what);
      } else {
        assert.equal(r.responseCode, null, `${what}: :status ${t.status} was a dynamic entry`);
        assert.equal(r.responseStatus, 'unknown', what);
      }
      assert.equal(r.requestLength, t.reqBody, what);
      assert.equal(r.responseLength, t.outcome === 'response' ? t.respBody : null, what);
    }
  }
});

test('http2 sample cut inside a 40 000-byte response: the parser re-finds frames; every later request of the connection is a row', async () => {
  const all = await allPackets();
  const big = truth.requests.find((t) => t.conn === 'h2' && t.path === '/big')!;
  const full = runPackets(all, { registry: registry() }).records;
  const bigRow = full.find((r) => r.xRequestId0 === big.xRequestId)!;
  // First packet after the middle of the /big response (its bytes are spread over many segments).
  const mid = (bigRow.startTime + bigRow.duration! + bigRow.endTime) / 2;
  let k = all.findIndex((p) => p.tsUs > mid);
  while (k < all.length && all[k].tsUs === all[k - 1].tsUs) k++;
  const { records, engine } = runPackets(all.slice(k), { registry: registry() });
  assert.equal(engine.stats.parserErrors, 0);
  const later = truth.requests.filter((t) => t.conn === 'h2' && truth.requests.indexOf(t) > truth.requests.indexOf(big));
  const h2rows = records.filter((r) => r.serverPort === truth.h2Port && r.requestType !== null);
  for (const t of later) {
    assert.ok(
      h2rows.some((r) => r.requestResource === t.path && r.requestType === t.method),
      `${t.method} ${t.path} after the cut`,
    );
  }
  assert.equal(h2rows.length, later.length, 'no row for the stream cut in its middle, none twice');
});
