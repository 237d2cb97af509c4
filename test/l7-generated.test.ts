// The benchmark's synthetic Kubernetes capture (bench/gen-capture.ts: many connections, keep-alive, hop
// copies on veth/cni0/eth0-VXLAN, retransmitted response tails, server resets, DNS with NXDOMAIN) against
// the generator's ground truth: one row per request per hop it crossed, and — joined by the TCP
// sequence numbers, as the path view will — exactly the unique requests, methods, statuses and trace ids
// the generator wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateCapture } from '../bench/gen-capture';
import type { RequestRecord } from '../src/shared/records';
import { tempDir } from './capture-helpers';
import { runCapture } from './l7-helpers';

test('generated capture: HTTP, Redis and DNS rows per hop and unique requests equal the generator\'s truth', { timeout: 300_000 }, async () => {
  const path = join(tempDir('l7-gen'), 'gen.pcapng');
  const truth = await generateCapture({ path, packets: 40_000, seed: 7 });
  const { records, engine } = await runCapture(path);
  assert.equal(engine.stats.gaps, 0, 'retransmissions are not loss');
  assert.equal(engine.stats.parserErrors, 0);
  const http = records.filter((r) => r.l7Protocol === 'http');
  const dns = records.filter((r) => r.l7Protocol === 'dns');
  const redis = records.filter((r) => r.l7Protocol === 'redis');
  assert.equal(records.length, http.length + dns.length + redis.length, 'no other protocol claims a flow');

  // Per hop: every copy of a request is a row (what a per-interface view shows).
  assert.equal(http.filter((r) => r.requestType !== null).length, truth.httpRequestsSeen);
  assert.equal(http.filter((r) => r.requestType === null).length, 0, 'no lone responses');

  // Joined over hops by the request's first sequence number: the unique requests.
  const unique = new Map<string, RequestRecord[]>();
  for (const r of http) {
    const k = `${r.clientIp}:${r.clientPort}#${r.reqTcpSeq}`;
    unique.set(k, [...(unique.get(k) ?? []), r]);
  }
  assert.equal(unique.size, truth.httpRequests);
  const multi = [...unique.values()].filter((g) => g.length === 3);
  assert.equal(multi.length, truth.httpRequestsMultiHop);
  assert.equal(unique.size - multi.length, [...unique.values()].filter((g) => g.length === 1).length, 'seen once or three times');
  for (const g of multi) {
    assert.equal(new Set(g.map((r) => r.ifIndex)).size, 3, 'three observation points');
    assert.equal(new Set(g.map((r) => `${r.respTcpSeq}|${r.responseCode}|${r.requestResource}`)).size, 1, 'the same pair at every hop');
  }
  const one = [...unique.values()].map((g) => g[0]);
  const methods: Record<string, number> = {};
  for (const r of one) methods[r.requestType!] = (methods[r.requestType!] ?? 0) + 1;
  assert.deepEqual(methods, truth.httpMethods);
  const status: Record<string, number> = {};
  for (const r of one) if (r.responseCode !== null) status[String(r.responseCode)] = (status[String(r.responseCode)] ?? 0) + 1;
  assert.deepEqual(status, truth.httpStatus);
  assert.equal(one.filter((r) => r.responseCode !== null).length, truth.httpResponses);
  // Requests the server answered with RST have no response: 'timeout' at the end of their flow.
  assert.equal(one.filter((r) => r.responseStatus === 'timeout').length, truth.httpRequests - truth.httpResponses);
  assert.equal(one.filter((r) => r.traceId !== null).length, truth.httpRequestsWithTraceparent);

  // Redis: every command once per hop; joined by sequence number, the generator's commands and replies.
  const redisOnce = new Map<string, RequestRecord>();
  for (const r of redis) redisOnce.set(`${r.clientIp}:${r.clientPort}#${r.reqTcpSeq}`, r);
  assert.equal(redisOnce.size, truth.redisCommands);
  assert.equal([...redisOnce.values()].filter((r) => r.responseStatus === 'ok' || r.responseStatus === 'server_error').length, truth.redisReplies);

  // DNS is seen at the client's veth only.
  assert.equal(dns.length, truth.dnsQueries);
  assert.equal(dns.filter((r) => r.responseCode !== null).length, truth.dnsResponses);
  assert.equal(dns.filter((r) => r.responseCode === 3 && r.responseStatus === 'client_error').length, truth.dnsNxdomain);
});
