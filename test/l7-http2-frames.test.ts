// Frame-level cases the real capture does not hold, built byte by byte (header blocks as HPACK literals
// without indexing, RFC 7541 §6.2.2): GOAWAY with streams above its last stream id, server push, a
// gRPC response reset before its trailers, gRPC Trailers-Only, padded DATA, interim 1xx, a header block
// split over many segments, a gap inside DATA, and a frame header split byte by byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Http2Parser } from '../src/engine/l7/http2';
import { MsgKind, type Dir, type L7Message, type MessageSink } from '../src/engine/l7/types';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/** A header block of literals without indexing (new names). */
function block(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [n, v] of fields) parts.push(Buffer.from([0x00, n.length]), Buffer.from(n), Buffer.from([v.length]), Buffer.from(v));
  return Buffer.concat(parts);
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

class Sink implements MessageSink {
  msgs: L7Message[] = [];
  ended: L7Message[] = [];
  begin(m: L7Message): void {
    this.msgs.push(m);
  }
  end(m: L7Message): void {
    this.ended.push(m);
  }
  resp(id: number): L7Message | undefined {
    return this.msgs.find((m) => m.kind === MsgKind.Response && m.sessionId === id);
  }
  req(id: number): L7Message | undefined {
    return this.msgs.find((m) => m.kind === MsgKind.Request && m.sessionId === id);
  }
}

const GET = (path: string): [string, string][] => [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', path],
  [':authority', 'svc:80'],
];
const GRPC = (path: string): [string, string][] => [
  [':method', 'POST'],
  [':scheme', 'http'],
  [':path', path],
  [':authority', 'svc:50051'],
  ['content-type', 'application/grpc'],
];

function setup(): { p: Http2Parser; sink: Sink; send: (dir: Dir, ...b: Buffer[]) => void } {
  const sink = new Sink();
  const p = new Http2Parser(sink);
  const seq = [1000, 5000];
  let ts = 0;
  const send = (dir: Dir, ...b: Buffer[]): void => {
    const all = Buffer.concat(b);
    p.data(dir, all, 0, all.length, seq[dir], ++ts);
    seq[dir] += all.length;
  };
  send(0, PREFACE, frame(4, 0, 0, Buffer.alloc(0)));
  send(1, frame(4, 0, 0, Buffer.from([0, 1, 0, 0, 0x10, 0]))); // SETTINGS_HEADER_TABLE_SIZE 4096
  return { p, sink, send };
}

test('http2 frames: GOAWAY ends the streams above its last stream id (unknown / server error), not those below', () => {
  const { p, sink, send } = setup();
  for (const id of [1, 3, 5]) send(0, frame(1, 0x05, id, block(GET(`/s${id}`))));
  send(1, frame(1, 0x05, 1, block([[':status', '200']])));
  // The server processed up to stream 3: stream 5 never will be.
  send(1, frame(7, 0, 0, Buffer.concat([u32(3), u32(0)])));
  assert.equal(sink.resp(5)?.responseStatus, 'unknown');
  assert.equal(sink.resp(5)?.responseException, 'GOAWAY NO_ERROR');
  assert.equal(sink.resp(3), undefined, 'stream 3 (below the last id) stays open');
  send(1, frame(7, 0, 0, Buffer.concat([u32(1), u32(2)]))); // INTERNAL_ERROR, last id 1
  assert.equal(sink.resp(3)?.responseStatus, 'server_error');
  assert.equal(sink.resp(3)?.responseException, 'GOAWAY INTERNAL_ERROR');
  assert.equal(sink.resp(3)?.tcpSeq !== null, true, 'the GOAWAY frame came from the server: its seq');
  p.finish(100);
  assert.equal(sink.ended.length, sink.msgs.length);
});

test('http2 frames: server push (PUSH_PROMISE and the pushed response) is not reported; its HPACK block is decoded', () => {
  const { p, sink, send } = setup();
  send(0, frame(1, 0x05, 1, block(GET('/page'))));
  // PUSH_PROMISE on stream 1 promising stream 2 (with an indexed literal to the table: 0x40 = incremental).
  const promised = Buffer.concat([u32(2), Buffer.from([0x82, 0x86, 0x40, 0x01, 0x78, 0x01, 0x79])]); // x: y
  send(1, frame(5, 0x04, 1, promised));
  send(1, frame(1, 0x04, 1, block([[':status', '200']])), frame(0, 0x01, 1, Buffer.from('page')));
  send(1, frame(1, 0x04, 2, Buffer.from([0x88, 0xbe])), frame(0, 0x01, 2, Buffer.from('pushed'))); // :status 200, x: y (dynamic 62)
  p.finish(100);
  assert.equal(sink.msgs.filter((m) => m.kind === MsgKind.Response).length, 1, 'only the response to the request');
  assert.equal(sink.resp(1)?.length, 4);
  assert.equal(p.decoder(1).count, 1, 'the promise inserted its entry');
  assert.equal(p.decoder(1).unknownRefs, 0, 'the pushed response referred to it');
});

test('http2 frames: gRPC reset before trailers is the reset sender\'s error; Trailers-Only carries the status', () => {
  const { p, sink, send } = setup();
  send(0, frame(1, 0x04, 1, block(GRPC('/pkg.Svc/Get'))), frame(0, 0x01, 1, Buffer.from([0, 0, 0, 0, 2, 8, 1])));
  send(1, frame(1, 0x04, 1, block([[':status', '200'], ['content-type', 'application/grpc']])), frame(0, 0, 1, Buffer.from([0, 0, 0, 0, 1, 7])));
  send(1, frame(3, 0, 1, u32(2))); // server: RST_STREAM INTERNAL_ERROR before grpc-status
  const r1 = sink.resp(1)!;
  assert.equal(r1.l7Protocol, 'grpc');
  assert.equal(r1.responseStatus, 'server_error');
  assert.equal(r1.responseException, 'RST_STREAM INTERNAL_ERROR');
  assert.equal(r1.length, 6);
  assert.equal(sink.req(1)?.length, 7);
  // Trailers-Only: one HEADERS with :status, grpc-status, grpc-message, END_STREAM.
  send(0, frame(1, 0x05, 3, block(GRPC('/pkg.Svc/Get'))));
  send(1, frame(1, 0x05, 3, block([[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '16'], ['grpc-message', 'bad%20token']])));
  const r3 = sink.resp(3)!;
  assert.equal(r3.responseCode, 16);
  assert.equal(r3.responseStatus, 'client_error', 'UNAUTHENTICATED is a client error');
  assert.equal(r3.responseException, 'bad token', 'percent-decoded');
  assert.ok(r3.ended);
  // A client that cancels a gRPC call mid-response.
  send(0, frame(1, 0x05, 5, block(GRPC('/pkg.Svc/Watch'))));
  send(1, frame(1, 0x04, 5, block([[':status', '200'], ['content-type', 'application/grpc']])));
  send(0, frame(3, 0, 5, u32(8)));
  assert.equal(sink.resp(5)?.responseStatus, 'client_error');
  assert.equal(sink.resp(5)?.responseException, 'RST_STREAM CANCEL');
  p.finish(100);
});

test('http2 frames: padded DATA counts without padding; 1xx is not a response; split header block and frame header', () => {
  const { p, sink, send } = setup();
  // POST with a padded DATA frame: pad length 10, 20 body bytes, 10 padding bytes.
  send(0, frame(1, 0x04, 1, block([[':method', 'POST'], [':scheme', 'http'], [':path', '/up'], [':authority', 'a']])));
  send(0, frame(0, 0x09, 1, Buffer.concat([Buffer.from([10]), Buffer.alloc(20, 1), Buffer.alloc(10)])));
  send(1, frame(1, 0x04, 1, block([[':status', '100']])));
  assert.equal(sink.resp(1), undefined, '100 Continue is interim');
  send(1, frame(1, 0x05, 1, block([[':status', '204']])));
  assert.equal(sink.req(1)?.length, 20);
  assert.equal(sink.resp(1)?.responseCode, 204);
  // Stream 3: HEADERS split over CONTINUATIONs, every byte in its own segment.
  const b = block(GET('/split/path'));
  const bytes = Buffer.concat([frame(1, 0x01, 3, b.subarray(0, 5)), frame(9, 0, 3, b.subarray(5, 20)), frame(9, 0x04, 3, b.subarray(20))]);
  for (let k = 0; k < bytes.length; k++) send(0, bytes.subarray(k, k + 1));
  const q = sink.req(3)!;
  assert.equal(q.requestResource, '/split/path');
  assert.equal(q.requestDomain, 'svc:80');
  assert.ok(q.ended, 'END_STREAM from the HEADERS frame');
  p.finish(100);
});

test('http2 frames: a gap inside DATA keeps the stream (truncated, declared length); a gap across frames resyncs', () => {
  const { p, sink, send } = setup();
  send(0, frame(1, 0x05, 1, block(GET('/big'))));
  send(1, frame(1, 0x04, 1, block([[':status', '200']])));
  const data = frame(0, 0x01, 1, Buffer.alloc(3000, 7));
  send(1, data.subarray(0, 1000));
  p.gap(1, 0, 1000, 10); // bytes 1000..2000 of the frame lost
  const rest = data.subarray(2000);
  p.data(1, rest, 0, rest.length, 0, 11);
  const r = sink.resp(1)!;
  assert.ok(r.ended && r.truncated);
  assert.equal(r.length, 3000);
  // A gap across frame boundaries: the next frames are found again, the HPACK table is forgotten.
  send(0, frame(1, 0x05, 3, block(GET('/after'))));
  p.gap(1, 0, 50, 12);
  send(1, frame(1, 0x05, 3, block([[':status', '404']])));
  assert.equal(sink.resp(3)?.responseCode, 404);
  assert.equal(sink.resp(3)?.responseStatus, 'client_error');
  p.finish(100);
  assert.equal(sink.ended.length, sink.msgs.length);
});
