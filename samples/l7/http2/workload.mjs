// HTTP/2 and gRPC workload for generate.sh: a Node http2 server and client (h2c, prior knowledge; one
// plain connection and one with padded frames) and a @grpc/grpc-js server and client (unary OK, NOT_FOUND,
// INTERNAL, PERMISSION_DENIED, server streaming), in two phases on the same connections with a pause
// between them (tests cut the capture there to start mid-connection), plus one new gRPC connection in
// phase 2. Writes the truth (what the client sent and saw) to argv[2].
import http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const H2_PORT = 8081;
const H2_PAD_PORT = 8082;
const GRPC_PORT = 50051;
const out = process.argv[2];
const truth = { h2Port: H2_PORT, h2PadPort: H2_PAD_PORT, grpcPort: GRPC_PORT, cutUs: 0, requests: [] };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hex = (n) => randomBytes(n).toString('hex');

// ---- trace headers, one kind per request in turn; the ids a parser must find ----
let traceTurn = 0;
function traceHeaders() {
  const t = hex(16);
  const s = hex(8);
  switch (traceTurn++ % 5) {
    case 0:
      return { headers: { traceparent: `00-${t}-${s}-01` }, traceId: t, spanId: s };
    case 1:
      return { headers: { b3: `${t}-${s}-1` }, traceId: t, spanId: s };
    case 2:
      return { headers: { 'x-b3-traceid': t, 'x-b3-spanid': s, 'x-b3-sampled': '1' }, traceId: t, spanId: s };
    case 3:
      return { headers: { 'uber-trace-id': `${t}:${s}:0:1` }, traceId: t, spanId: s };
    default: {
      const tid = `trace.${hex(4)}`;
      const seg = `seg.${hex(4)}`;
      const b64 = (x) => Buffer.from(x).toString('base64');
      return {
        headers: { sw8: `1-${b64(tid)}-${b64(seg)}-3-${b64('svc')}-${b64('inst')}-${b64('/ep')}-${b64('peer:1')}` },
        traceId: tid,
        spanId: `${seg}-3`,
      };
    }
  }
}

// ---- HTTP/2 server ----
function h2Handler(stream, headers) {
  stream.on('error', () => {}); // resets (ours and the client's) surface here
  const path = headers[':path'];
  const xid = headers['x-request-id'];
  const base = xid ? { 'x-request-id': `resp-${xid}` } : {};
  const body = (status, text, extra = {}) => {
    stream.respond({ ':status': status, 'content-type': 'text/plain', ...base, ...extra });
    stream.end(text);
  };
  if (path === '/reset') {
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (path === '/cancel') return; // never answered: the client gives up
  if (path === '/items') {
    let n = 0;
    stream.on('data', (c) => (n += c.length));
    stream.on('end', () => body(201, `got ${n}`));
    return;
  }
  stream.resume();
  if (path === '/missing') return body(404, 'not here');
  if (path === '/boom') return body(500, 'boom');
  if (path === '/big') return body(200, 'x'.repeat(40000));
  if (path === '/resp-trace') return body(200, 'traced', { traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01` });
  if (path.startsWith('/slow/')) {
    const ms = Number(new URL(path, 'http://x').searchParams.get('ms'));
    setTimeout(() => body(200, `slow ${ms}`), ms);
    return;
  }
  if (headers[':method'] === 'HEAD') {
    stream.respond({ ':status': 200, ...base });
    stream.end();
    return;
  }
  body(200, `hello ${path}`);
}

const h2 = http2.createServer();
h2.on('stream', h2Handler);
const h2pad = http2.createServer({ paddingStrategy: http2.constants.PADDING_STRATEGY_MAX });
h2pad.on('stream', h2Handler);

// ---- gRPC server ----
const def = protoLoader.loadSync(fileURLToPath(new URL('./echo.proto', import.meta.url)));
const demo = grpc.loadPackageDefinition(def).demo;
const gs = new grpc.Server();
gs.addService(demo.Echo.service, {
  Say(call, cb) {
    const name = call.request.name;
    const xid = call.metadata.get('x-request-id')[0];
    if (xid) call.sendMetadata(new grpc.Metadata());
    if (name === 'missing') return cb({ code: grpc.status.NOT_FOUND, details: `user ${name} not found` });
    if (name === 'crash') return cb({ code: grpc.status.INTERNAL, details: 'db down: 100% broken' });
    if (name === 'denied') return cb({ code: grpc.status.PERMISSION_DENIED, details: 'no entry' });
    cb(null, { text: `hello ${name}` });
  },
  Count(call) {
    for (let i = 0; i < call.request.count; i++) call.write({ text: `n${i}` });
    call.end();
  },
});

// ---- HTTP/2 client ----
function h2Request(session, conn, phase, method, path, opts = {}) {
  return new Promise((resolve) => {
    const tr = traceHeaders();
    const xid = `${conn}-${truth.requests.length}-${hex(3)}`;
    const headers = { ':method': method, ':path': path, 'x-request-id': xid, ...tr.headers, ...(opts.headers ?? {}) };
    const entry = {
      conn,
      phase,
      kind: 'http',
      method,
      path,
      authority: `127.0.0.1:${conn === 'h2' ? H2_PORT : H2_PAD_PORT}`,
      xRequestId: xid,
      traceId: tr.traceId,
      spanId: tr.spanId,
      reqBody: opts.body ? Buffer.byteLength(opts.body) : 0,
      status: null,
      respXRequestId: null,
      respTraceId: null,
      respBody: 0,
      outcome: 'response',
      grpcStatus: null,
      grpcMessage: null,
    };
    truth.requests.push(entry);
    const req = session.request(headers, { endStream: !opts.body, ...(opts.weight ? { weight: opts.weight, exclusive: true } : {}) });
    req.on('response', (h) => {
      entry.status = h[':status'];
      entry.respXRequestId = h['x-request-id'] ?? null;
      if (h.traceparent) entry.respTraceId = h.traceparent.split('-')[1];
    });
    req.on('data', (c) => (entry.respBody += c.length));
    req.on('error', () => {});
    req.on('close', () => {
      if (entry.status === null) entry.outcome = opts.cancelAfter ? 'client-reset' : 'server-reset';
      entry.rstCode = req.rstCode;
      resolve();
    });
    if (opts.body) req.end(opts.body);
    if (opts.cancelAfter) setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), opts.cancelAfter);
  });
}

async function h2Phase(session, conn, phase) {
  if (phase === 1) {
    await h2Request(session, conn, phase, 'GET', '/hello');
    await h2Request(session, conn, phase, 'GET', '/users/123', { weight: 42 }); // HEADERS with PRIORITY
    await h2Request(session, conn, phase, 'POST', '/items', { body: 'i'.repeat(1000) });
    await h2Request(session, conn, phase, 'GET', '/missing');
    await h2Request(session, conn, phase, 'GET', '/boom');
    await h2Request(session, conn, phase, 'GET', '/big');
    await h2Request(session, conn, phase, 'HEAD', '/hello');
    // Concurrent streams answered out of order.
    await Promise.all([300, 50, 200, 10].map((ms, k) => h2Request(session, conn, phase, 'GET', `/slow/${k}?ms=${ms}`)));
    await h2Request(session, conn, phase, 'GET', '/cancel', { cancelAfter: 100 });
    await h2Request(session, conn, phase, 'GET', '/reset');
    // A header block longer than one frame: HEADERS + CONTINUATION.
    await h2Request(session, conn, phase, 'GET', '/long-headers', { headers: { 'x-pad': randomBytes(30000).toString('base64') } });
    await h2Request(session, conn, phase, 'GET', '/resp-trace');
  } else {
    await h2Request(session, conn, phase, 'GET', '/hello');
    await h2Request(session, conn, phase, 'GET', '/users/456');
    await h2Request(session, conn, phase, 'POST', '/items', { body: 'j'.repeat(300) });
    await h2Request(session, conn, phase, 'GET', '/missing');
    await h2Request(session, conn, phase, 'GET', '/phase-two/new');
    await Promise.all([100, 10].map((ms, k) => h2Request(session, conn, phase, 'GET', `/slow/${k + 10}?ms=${ms}`)));
    await h2Request(session, conn, phase, 'GET', '/reset');
  }
}

// ---- gRPC client ----
function grpcCall(client, conn, phase, method, name, count = 0) {
  return new Promise((resolve) => {
    const tr = traceHeaders();
    const xid = `${conn}-${truth.requests.length}-${hex(3)}`;
    const md = new grpc.Metadata();
    md.set('x-request-id', xid);
    for (const [k, v] of Object.entries(tr.headers)) md.set(k, v);
    const entry = {
      conn,
      phase,
      kind: 'grpc',
      method: 'POST',
      path: `/demo.Echo/${method}`,
      authority: `127.0.0.1:${GRPC_PORT}`,
      xRequestId: xid,
      traceId: tr.traceId,
      spanId: tr.spanId,
      status: '200',
      respXRequestId: null,
      respTraceId: null,
      outcome: 'response',
      grpcStatus: null,
      grpcMessage: null,
      messages: 0,
    };
    truth.requests.push(entry);
    if (method === 'Say') {
      client.Say({ name }, md, (err) => {
        entry.grpcStatus = err ? err.code : 0;
        entry.grpcMessage = err ? err.details : null;
        entry.messages = err ? 0 : 1;
        resolve();
      });
    } else {
      const call = client.Count({ name, count }, md);
      call.on('data', () => entry.messages++);
      call.on('error', (err) => {
        entry.grpcStatus = err.code;
        entry.grpcMessage = err.details;
      });
      call.on('status', (st) => {
        entry.grpcStatus = st.code;
        entry.grpcMessage = st.code === 0 ? null : st.details;
        resolve();
      });
    }
  });
}

async function grpcPhase(client, conn, phase) {
  if (phase === 1) {
    for (const n of ['ann', 'bob', 'cy']) await grpcCall(client, conn, phase, 'Say', n);
    await grpcCall(client, conn, phase, 'Say', 'missing');
    await grpcCall(client, conn, phase, 'Say', 'crash');
    await grpcCall(client, conn, phase, 'Count', 'four', 4);
  } else {
    await grpcCall(client, conn, phase, 'Say', 'dee');
    await grpcCall(client, conn, phase, 'Say', 'denied');
    await grpcCall(client, conn, phase, 'Count', 'three', 3);
    await grpcCall(client, conn, phase, 'Say', 'crash');
  }
}

async function main() {
  await new Promise((r) => h2.listen(H2_PORT, '127.0.0.1', r));
  await new Promise((r) => h2pad.listen(H2_PAD_PORT, '127.0.0.1', r));
  await new Promise((r, j) => gs.bindAsync(`127.0.0.1:${GRPC_PORT}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? j(e) : r())));

  const s1 = http2.connect(`http://127.0.0.1:${H2_PORT}`);
  const s2 = http2.connect(`http://127.0.0.1:${H2_PAD_PORT}`, { paddingStrategy: http2.constants.PADDING_STRATEGY_MAX });
  const g1 = new demo.Echo(`127.0.0.1:${GRPC_PORT}`, grpc.credentials.createInsecure());

  await h2Phase(s1, 'h2', 1);
  await h2Phase(s2, 'h2pad', 1);
  await grpcPhase(g1, 'grpc', 1);
  await sleep(400);
  truth.cutUs = Date.now() * 1000;
  await sleep(400);
  await h2Phase(s1, 'h2', 2);
  await h2Phase(s2, 'h2pad', 2);
  await grpcPhase(g1, 'grpc', 2);
  // A connection opened after the cut: decoded in full.
  const g2 = new demo.Echo(`127.0.0.1:${GRPC_PORT}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  await grpcCall(g2, 'grpc2', 2, 'Say', 'eve');

  await sleep(200);
  s1.close();
  s2.close();
  g1.close();
  g2.close();
  await sleep(200);
  gs.forceShutdown();
  h2.close();
  h2pad.close();
  writeFileSync(out, JSON.stringify(truth, null, 1) + '\n');
  console.log(`${truth.requests.length} requests`);
  setTimeout(() => process.exit(0), 300);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
