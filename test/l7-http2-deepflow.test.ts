// HTTP/2 and gRPC against DeepFlow's own parser results for its test captures
// (test/fixtures/deepflow-http2.json, copied from agent/resources/test/flow_generator/http/*.result),
// with tshark for packet sequence numbers and DATA bytes. Where Flowscope differs by SPEC.md the test
// says why and checks Flowscope's rule instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HTTP2 } from '../src/engine/l7/http2';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { FLOWGEN, runCapture, tsharkFields } from './l7-helpers';

interface Line {
  headers_offset: number | null;
  proto: 'Grpc' | 'Http2';
  msg_type: 'Request' | 'Response' | 'Session';
  stream_id: number;
  method: string;
  path: string;
  host: string;
  req_content_length: number | null;
  resp_content_length: number | null;
  status_code: number | null;
  status: string;
  grpc_status_code: number | null;
  endpoint: string | null;
  service_name: string | null;
}
const fixtures = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/deepflow-http2.json'), 'utf8')) as {
  captures: Record<string, Line[]>;
};

/**
 * Per stream, from tshark: the seq of each HEADERS frame of it (packet seq + the frames before it in the
 * packet; these captures' packets begin at frame boundaries), per direction, and DATA bytes.
 */
function sharkStreams(pcap: string, serverPort: number): Map<number, { reqSeqs: number[]; respSeqs: number[]; data: [number, number] }> {
  const rows = tsharkFields(pcap, ['tcp.seq_raw', 'tcp.dstport', 'http2.streamid', 'http2.type', 'http2.length', 'http2.flags'], [
    '-d',
    `tcp.port==${serverPort},http2`,
    '-Y',
    'http2',
  ]);
  const out = new Map<number, { reqSeqs: number[]; respSeqs: number[]; data: [number, number] }>();
  for (const [seq, dport, sids, types, lens, flags] of rows) {
    const toServer = Number(dport) === serverPort;
    const s = sids.split(',');
    const t = types.split(',');
    const l = lens.split(',');
    const f = flags.split(',');
    let at = 0;
    for (let k = 0; k < s.length; k++, at += 9 + Number(l[k - 1])) {
      const sid = Number(s[k]);
      if (sid === 0) continue;
      let e = out.get(sid);
      if (e === undefined) out.set(sid, (e = { reqSeqs: [], respSeqs: [], data: [0, 0] }));
      if (t[k] === '1') (toServer ? e.reqSeqs : e.respSeqs).push((Number(seq) + at) >>> 0);
      if (t[k] === '0' && (Number(f[k]) & 0x08) === 0) e.data[toServer ? 0 : 1] += Number(l[k]);
    }
  }
  return out;
}

/** Seq of the packet (of the given direction) holding the byte at `seq`. */
function tsharkPacketSeq(pcap: string, seq: number, toServer: boolean, serverPort: number): number {
  for (const [s, len, dport] of tsharkFields(pcap, ['tcp.seq_raw', 'tcp.len', 'tcp.dstport'])) {
    if ((Number(dport) === serverPort) !== toServer) continue;
    const d = (seq - Number(s)) >>> 0;
    if (d < Number(len)) return Number(s);
  }
  throw new Error(`no packet holds seq ${seq}`);
}

/** The server port as DeepFlow's test takes it: the destination port of the first packet. */
function serverPortOf(pcap: string): number {
  return Number(tsharkFields(pcap, ['tcp.dstport'], ['-c', '1'])[0][0]);
}

for (const [name, lines] of Object.entries(fixtures.captures)) {
  test(`deepflow http/${name}: HTTP/2 and gRPC fields as DeepFlow's parser; seqs and DATA bytes from tshark`, async () => {
    const pcap = join(FLOWGEN, 'http', `${name}.pcap`);
    const serverPort = serverPortOf(pcap);
    const shark = sharkStreams(pcap, serverPort);
    const { records, engine } = await runCapture(pcap, { registry: new ProtocolRegistry([...BUILTIN_PROTOCOLS, HTTP2]) });
    assert.equal(engine.stats.parserErrors, 0);
    const streams = [...new Set(lines.map((l) => l.stream_id))];
    assert.equal(records.length, streams.length, 'one row per stream DeepFlow logged');
    for (const sid of streams) {
      const req = lines.find((l) => l.stream_id === sid && l.msg_type === 'Request');
      const resp = lines.find((l) => l.stream_id === sid && l.msg_type === 'Response');
      const sessions = lines.filter((l) => l.stream_id === sid && l.msg_type === 'Session');
      const sh = shark.get(sid)!;
      // The row of this stream: its request starts at DeepFlow's headers offset in the packet tshark shows.
      const reqSeq = req ? sh.reqSeqs[0] : null;
      const r = records.find((x) => (reqSeq !== null ? x.reqTcpSeq === reqSeq : x.reqTcpSeq === null))!;
      assert.ok(r, `row of stream ${sid} at request seq ${reqSeq}`);
      if (req) {
        // DeepFlow's request seq: packet seq + headers_offset, the same HEADERS frame.
        const pkt = tsharkPacketSeq(pcap, reqSeq!, true, serverPort);
        assert.equal(r.reqTcpSeq, (pkt + req.headers_offset!) >>> 0, `stream ${sid}: DeepFlow's req_tcp_seq`);
      }
      const what = `stream ${sid}`;
      if (name === 'http2-multi') {
        // DeepFlow could not decode content-type (a dynamic entry: the capture starts mid-connection) and
        // says Http2; the DATA frames are gRPC length-prefixed messages (00, length, protobuf: hipstershop's
        // product catalog on port 3550) and Flowscope says gRPC.
        assert.equal(r.l7Protocol, 'grpc', what);
      } else {
        assert.equal(r.l7Protocol, (req ?? resp)!.proto === 'Grpc' ? 'grpc' : 'http2', what);
      }
      assert.equal(r.version, '2');
      if (req) {
        // DeepFlow writes "POST" for every gRPC request; HTTP/2 requests carry :method (Post → POST).
        assert.equal(r.requestType, 'POST', what);
        // Empty path / host: DeepFlow could not decode them either (dynamic entries of a capture that
        // starts mid-connection); Flowscope leaves them null.
        assert.equal(r.requestDomain, req.host === '' ? null : req.host, what);
        assert.equal(r.requestResource, req.path === '' ? null : req.path, what);
        if (req.proto === 'Grpc') {
          // DeepFlow puts the service name in request_resource; Flowscope keeps the :path there (one meaning
          // per column) and the endpoint is the same /pkg.Service/Method as DeepFlow's.
          assert.equal(r.endpoint, req.endpoint, what);
          assert.equal(r.endpoint!.split('/')[1], req.service_name, `${what}: the service is the endpoint's first segment`);
        }
        // Request length: every DATA byte of the stream (tshark). DeepFlow counts per packet log: the
        // request line plus its streaming Session lines; equal unless its DATA came in a packet of its own
        // with no log line (grpc-segmented: DeepFlow 0, the 2438-byte DATA followed in the next packet).
        assert.equal(r.requestLength, sh.data[0], `${what}: request DATA bytes`);
        const dfReq = (req.req_content_length ?? 0) + sessions.reduce((a, l) => a + (l.req_content_length ?? 0), 0);
        if (name !== 'grpc-segmented') assert.equal(r.requestLength, dfReq, `${what}: DeepFlow's request length`);
        else assert.equal(dfReq, 0);
      }
      if (resp) {
        // Flowscope: the seq of the response's first HEADERS frame (the frame that starts it). DeepFlow
        // moves its offset to the trailers' HEADERS when they carry grpc-status (h2c_ascii 167,
        // grpc-service-name 140), else the same frame.
        assert.equal(r.respTcpSeq, sh.respSeqs[0], `${what}: response seq`);
        const pkt = tsharkPacketSeq(pcap, sh.respSeqs[0], false, serverPort);
        const dfSeq = (pkt + resp.headers_offset!) >>> 0;
        if (resp.grpc_status_code === null) assert.equal(r.respTcpSeq, dfSeq, `${what}: DeepFlow's resp_tcp_seq`);
        else assert.equal(dfSeq, sh.respSeqs[sh.respSeqs.length - 1], `${what}: DeepFlow's seq is the trailers'`);
        assert.equal(r.responseCode, resp.grpc_status_code ?? resp.status_code, `${what}: grpc-status, else :status`);
        if (name === 'http2-multi') {
          // The trailers (2 bytes: two dynamic-table references) hide grpc-status from the capture: the
          // call's outcome is unknown; :status 200 stays the code (DeepFlow: Http2, 200 Ok).
          assert.equal(r.responseStatus, 'unknown', what);
        } else {
          assert.equal(r.responseStatus, resp.status === 'Ok' ? 'ok' : resp.status, what);
        }
        // Response length: as DeepFlow, the DATA frames' declared lengths (grpc-unary's 16384-byte frame is
        // cut by the capture: declared length, like a Content-Length).
        assert.equal(r.responseLength, resp.resp_content_length, `${what}: response length`);
        assert.ok(r.duration !== null && r.duration >= 0);
      } else {
        // DeepFlow logs the lone request with status Unknown; Flowscope's rule (SPEC.md "Requests"):
        // unanswered at the end of input is a timeout.
        assert.equal(r.respTcpSeq, null);
        assert.equal(r.responseStatus, 'timeout', `${what}: no response in the capture`);
      }
    }
  });
}

test('deepflow fixtures of every other protocol: HTTP/2 detection claims none of their flows', async () => {
  const pcaps: string[] = [];
  for (const d of readdirSync(FLOWGEN, { withFileTypes: true })) {
    if (d.isDirectory()) {
      for (const f of readdirSync(join(FLOWGEN, d.name))) if (f.endsWith('.pcap')) pcaps.push(join(FLOWGEN, d.name, f));
    } else if (d.name.endsWith('.pcap')) pcaps.push(join(FLOWGEN, d.name));
  }
  const h2 = new Set(Object.keys(fixtures.captures).map((n) => join(FLOWGEN, 'http', `${n}.pcap`)));
  let flows = 0;
  for (const pcap of pcaps.filter((p) => !h2.has(p))) {
    const { engine } = await runCapture(pcap, { registry: new ProtocolRegistry([HTTP2]) });
    flows += engine.stats.flows;
    assert.deepEqual(engine.stats.detected, {}, pcap);
  }
  assert.ok(pcaps.length - h2.size >= 95 && flows > 100, `${pcaps.length - h2.size} captures, ${flows} flows`);
});
