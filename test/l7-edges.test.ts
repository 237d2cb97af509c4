// Edge cases made from the real packets of the samples (the client's veth in k8s-node1.pcapng): a request
// and a response split over many tiny segments (in and out of order), a response missing from the capture,
// a request missing, a request that never gets its response, timeouts in capture time, and records whose
// flow id is only known when the flow ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket } from '../src/engine/decode/packet';
import type { RequestRecord } from '../src/shared/records';
import { SAMPLES, cutSegments, readPackets, runPackets, type RawPacket } from './l7-helpers';

interface Conn { id: string; client_port: number; hops: { node: string; interface: string }[] }
interface Req { id: string; connection: string; method: string; resource: string; code: number; error_class: string; x_request_id?: string }
const truth = JSON.parse(readFileSync(join(SAMPLES, 'k8s.truth.json'), 'utf8')) as { connections: Conn[]; requests: Req[] };
const VETH_CLIENT = 4; // interface id of veth-client in k8s-node1.pcapng

const all = await readPackets(join(SAMPLES, 'k8s-node1.pcapng'));
const veth = all.filter((p) => p.ifIndex === VETH_CLIENT);

const decoder = new Decoder();
interface View {
  srcPort: number;
  dstPort: number;
  seq: number;
  flags: number;
  payload: Buffer;
  /** Offsets in the frame. */
  l3: number;
  l4: number;
  pay: number;
}
function view(raw: RawPacket): View | null {
  const p = new DecodedPacket();
  if (decoder.decode(raw.data, 0, raw.data.length, raw.data.length, raw.linkType, raw.tsUs, p) !== DecodeStatus.Ok) return null;
  if (p.protocol !== 6 && p.protocol !== 17) return null;
  return {
    srcPort: p.srcPort,
    dstPort: p.dstPort,
    seq: p.tcpSeq,
    flags: p.tcpFlags,
    payload: Buffer.from(p.buf.subarray(p.payloadOffset, p.payloadOffset + p.capturedPayloadLen)),
    l3: p.l3Offset,
    l4: p.l4Offset,
    pay: p.payloadOffset,
  };
}

const conn = (id: string): Conn => truth.connections.find((c) => c.id === id)!;
const reqsOf = (id: string): Req[] => truth.requests.filter((r) => r.connection === id);
/** Rows of one connection, in start order. */
function rowsOf(records: RequestRecord[], c: Conn): RequestRecord[] {
  return records.filter((r) => r.ifIndex === VETH_CLIENT && r.clientPort === c.client_port).sort((a, b) => a.startTime - b.startTime);
}
function strip(r: RequestRecord): Omit<RequestRecord, 'requestId'> {
  const { requestId: _id, ...rest } = r;
  return rest;
}

const baseline = runPackets(veth).records;

test('edges: a request and its response cut into 1..13-byte segments (in and out of order) give the same rows', () => {
  const c = conn('c09'); // keep-alive: GET /users/456, POST /orders (with a body), GET /users/789
  const want = rowsOf(baseline, c).map(strip);
  assert.equal(want.length, 3);
  for (let seed = 1; seed <= 8; seed++) {
    const shuffle = seed % 2 === 0;
    const cutReq = cutSegments(veth, (p, payload) => p.srcPort === c.client_port && payload.toString('latin1').startsWith('POST'), seed, 13, shuffle);
    const cutBoth = cutSegments(cutReq, (p) => p.dstPort === c.client_port, seed + 100, 13, shuffle);
    assert.ok(cutBoth.length > veth.length + 60, `many more segments (${cutBoth.length - veth.length})`);
    const { records, engine } = runPackets(cutBoth);
    assert.equal(engine.stats.gaps, 0);
    assert.deepEqual(rowsOf(records, c).map(strip), want, `seed ${seed}${shuffle ? ' (shuffled)' : ''}`);
  }
});

test('edges: a response missing from the capture leaves its request without one; later pairs stay right', () => {
  const c = conn('c08'); // keep-alive: /, /healthz, /users/123, /missing (404), /error (500)
  const reqs = reqsOf('c08');
  const lost = veth.findIndex((raw) => {
    const v = view(raw);
    return v !== null && v.dstPort === c.client_port && v.payload.toString('latin1').includes(`X-Request-ID: ${reqs[1].x_request_id}`);
  });
  assert.ok(lost >= 0);
  const packets = veth.filter((_, i) => i !== lost);
  const { records, engine } = runPackets(packets);
  assert.ok(engine.stats.gaps >= 1, 'the loss is seen (the client ACKs bytes the capture never had)');
  const rows = rowsOf(records, c);
  assert.equal(rows.length, 5);
  assert.equal(rows[1].requestResource, '/healthz');
  assert.equal(rows[1].responseCode, null);
  assert.equal(rows[1].responseStatus, 'unknown', 'answered (the client ACKed it) but not seen');
  assert.equal(rows[1].duration, null);
  for (const k of [0, 2, 3, 4]) {
    assert.equal(rows[k].requestResource, reqs[k].resource);
    assert.equal(rows[k].responseCode, reqs[k].code);
    assert.equal(rows[k].responseStatus, reqs[k].error_class);
    assert.equal(rows[k].xRequestId1, rows[k].xRequestId0, `${reqs[k].resource} paired with its own response`);
  }
});

test('edges: a request missing from the capture leaves a lone response row; later pairs stay right', () => {
  const c = conn('c08');
  const reqs = reqsOf('c08');
  const lost = veth.findIndex((raw) => {
    const v = view(raw);
    return v !== null && v.srcPort === c.client_port && v.payload.toString('latin1').startsWith(`GET ${reqs[2].resource} `);
  });
  const { records, engine } = runPackets(veth.filter((_, i) => i !== lost));
  assert.ok(engine.stats.gaps >= 1);
  const rows = rowsOf(records, c);
  assert.equal(rows.length, 5);
  const lone = rows[2];
  assert.equal(lone.requestType, null);
  assert.equal(lone.requestResource, null);
  assert.equal(lone.responseCode, 200);
  assert.equal(lone.responseStatus, 'ok');
  assert.equal(lone.xRequestId1, reqs[2].x_request_id);
  assert.equal(lone.duration, null);
  assert.equal(lone.reqTcpSeq, null);
  assert.equal(lone.clientPort, c.client_port, 'the client is the receiver of the lone response');
  for (const k of [0, 1, 3, 4]) {
    assert.equal(rows[k].requestResource, reqs[k].resource);
    assert.equal(rows[k].responseCode, reqs[k].code);
    assert.equal(rows[k].xRequestId1, rows[k].xRequestId0);
  }
});

test('edges: a request whose response never comes is a timeout row at the end of the flow', () => {
  const c = conn('c09');
  const reqs = reqsOf('c09');
  const last = reqs[reqs.length - 1];
  const firstLost = veth.findIndex((raw) => {
    const v = view(raw);
    return v !== null && v.dstPort === c.client_port && v.payload.toString('latin1').includes(`X-Request-ID: ${last.x_request_id}`);
  });
  // Everything the server sends from its last response on (data and FIN) is gone.
  const packets = veth.filter((raw, i) => {
    const v = view(raw);
    return !(i >= firstLost && v !== null && v.dstPort === c.client_port);
  });
  const rows = rowsOf(runPackets(packets).records, c);
  assert.equal(rows.length, 3);
  const r = rows[2];
  assert.equal(r.requestResource, last.resource);
  assert.equal(r.responseStatus, 'timeout');
  assert.equal(r.responseCode, null);
  assert.equal(r.duration, null);
  assert.equal(r.endTime, r.startTime, 'one request packet');
  assert.equal(rows[0].responseStatus, 'ok');
});

test('edges: unanswered requests time out in capture time (DNS 15 s, HTTP 120 s), not at the end of input', () => {
  // The first DNS query loses its response; the first HTTP request (c08) loses its response too; then
  // every later packet is moved 130 s later, so both timeouts expire while packets still come.
  const dnsConn = conn('c01');
  const httpConn = conn('c08');
  const httpReq = reqsOf('c08')[0];
  const isDnsResponse = (v: View) => v.dstPort === dnsConn.client_port && v.srcPort === 53;
  const firstHttpResponse = veth.findIndex((raw) => {
    const v = view(raw);
    return v !== null && v.dstPort === httpConn.client_port && v.payload.toString('latin1').includes(`X-Request-ID: ${httpReq.x_request_id}`);
  });
  const shiftFrom = veth.findIndex((raw) => {
    const v = view(raw);
    return v !== null && v.dstPort === httpConn.client_port && v.payload.length > 0;
  });
  const packets = veth
    .filter((raw, i) => {
      const v = view(raw);
      return v === null || (!isDnsResponse(v) && i !== firstHttpResponse);
    })
    .map((raw) => (veth.indexOf(raw) >= shiftFrom ? { ...raw, tsUs: raw.tsUs + 130e6 } : raw));
  let at = -1;
  const emittedAt = new Map<RequestRecord, number>();
  const records: RequestRecord[] = [];
  runPackets(packets, {
    beforePacket: (i) => (at = i),
    onRecord: (r) => {
      emittedAt.set(r, at);
      records.push(r);
    },
  });
  const dns = records.find((r) => r.clientPort === dnsConn.client_port)!;
  assert.equal(dns.responseStatus, 'timeout');
  assert.equal(dns.requestResource, 'frontend.default.svc.cluster.local');
  const http = records.find((r) => r.clientPort === httpConn.client_port && r.requestResource === httpReq.resource)!;
  assert.equal(http.responseStatus, 'timeout');
  // Both left while packets were still being read, after time passed their timeout.
  const shiftedTs = veth[shiftFrom].tsUs + 130e6;
  for (const r of [dns, http]) {
    const i = emittedAt.get(r)!;
    assert.ok(i >= 0 && i < packets.length - 1, `emitted at packet ${i} of ${packets.length}`);
    assert.ok(packets[i].tsUs >= shiftedTs, 'after the jump in capture time');
  }
  // The DNS answer would have been at most a few ms: 15 s later it is a timeout, as is HTTP after 120 s.
  assert.ok(packets[emittedAt.get(dns)!].tsUs - dns.startTime > 15e6);
  assert.ok(packets[emittedAt.get(http)!].tsUs - http.startTime > 120e6);
});

test('edges: records wait for the flow id when the flow table only knows it at the end', () => {
  const held = runPackets(veth, { flowIdAtStart: false }).records;
  assert.equal(held.length, baseline.length);
  assert.ok(held.every((r) => r.flowId > 0));
  // Same flows, same ids, same rows (ids are given in order of first packet either way).
  const key = (r: RequestRecord) => `${r.flowId} ${r.startTime} ${r.requestResource}`;
  assert.deepEqual(held.map(key).sort(), baseline.map(key).sort());
});
