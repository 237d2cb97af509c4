// Sharding flows over worker threads must not change a single number.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeCapture, type CaptureSink } from '../src/engine/pipeline';
import { analyzeCaptureSharded } from '../src/engine/sharded';
import type { FlowRecord, RequestRecord } from '../src/shared/records';

const FG = '/work/shared/fixtures/deepflow/agent/resources/test/flow_generator';

function collect(): { sink: CaptureSink; flows: FlowRecord[]; requests: RequestRecord[] } {
  const flows: FlowRecord[] = [];
  const requests: RequestRecord[] = [];
  return {
    flows,
    requests,
    sink: {
      beginCapture: async () => ({ captureId: 7, firstFlowId: 1 }),
      addFlow: (f) => flows.push(f),
      addRequest: (r) => requests.push(r),
      endCapture: async () => {},
    },
  };
}

/**
 * Each request names a flow with its own endpoints. On a flow seen without its handshake the flow table
 * guesses the server by port while the L7 row's client is the request's sender (l7/README.md), so the
 * two may be opposite there (DeepFlow's kafka/11-join-group-v7.pcap: the client on port 30120, the
 * broker on ephemeral 36333) — never on a flow whose handshake was seen.
 */
function checkLinks(flows: FlowRecord[], requests: RequestRecord[]): void {
  const byId = new Map(flows.map((f) => [f.flowId, f]));
  for (const r of requests) {
    const f = byId.get(r.flowId);
    assert.ok(f, `request ${r.requestId} names flow ${r.flowId}`);
    const same = [f.clientIp, f.clientPort, f.serverIp, f.serverPort];
    const row = [r.clientIp, r.clientPort, r.serverIp, r.serverPort];
    if (f.protocol === 6 && f.synSeq >= 0) assert.deepEqual(same, row, `request ${r.requestId}`);
    else assert.ok(JSON.stringify(same) === JSON.stringify(row) || JSON.stringify([same[2], same[3], same[0], same[1]]) === JSON.stringify(row), `request ${r.requestId}`);
  }
}

test('2 worker threads give exactly the flows and requests of 1 thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-shard-'));
  const merged = join(dir, 'all.pcapng');
  // Every fixture pcap (standard format: mergecap cannot read the 'modified' NATS ones into pcap).
  const inputs = (readdirSync(FG, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.pcap') && !f.includes('nats-nrpc'))
    .map((f) => join(FG, f));
  // Plus a real multi-hop sample (HTTP, DNS seen on several interfaces).
  inputs.push(join(import.meta.dirname, '../samples/k8s-node1.pcapng'));
  execFileSync('mergecap', ['-F', 'pcapng', '-w', merged, ...inputs]);
  const one = collect();
  const r1 = await analyzeCapture(merged, { sink: one.sink });
  const two = collect();
  const r2 = await analyzeCaptureSharded(merged, 2, { sink: two.sink });
  assert.ok(one.flows.length >= 100, `${one.flows.length} flows`);
  assert.equal(r2.capture.packets, r1.capture.packets);
  assert.deepEqual(r2.closeTypes, r1.closeTypes);
  const key = (f: FlowRecord) => JSON.stringify({ ...f, flowId: 0 });
  assert.deepEqual(two.flows.map(key).sort(), one.flows.map(key).sort());
  assert.equal(new Set(two.flows.map((f) => f.flowId)).size, two.flows.length, 'flow ids are unique');
  assert.ok(one.requests.length > 80, `${one.requests.length} requests`);
  const rkey = (r: RequestRecord) => JSON.stringify({ ...r, requestId: 0, flowId: 0 });
  assert.deepEqual(two.requests.map(rkey).sort(), one.requests.map(rkey).sort());
  checkLinks(one.flows, one.requests);
  checkLinks(two.flows, two.requests);
});
