// Sharding flows over worker threads must not change a single number.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeCapture, type CaptureSink } from '../src/engine/pipeline';
import { analyzeCaptureSharded } from '../src/engine/sharded';
import type { FlowRecord } from '../src/shared/records';

const FG = '/work/shared/fixtures/deepflow/agent/resources/test/flow_generator';

function collect(): { sink: CaptureSink; flows: FlowRecord[] } {
  const flows: FlowRecord[] = [];
  return {
    flows,
    sink: { beginCapture: async () => ({ captureId: 7, firstFlowId: 1 }), addFlow: (f) => flows.push(f), endCapture: async () => {} },
  };
}

test('2 worker threads give exactly the flows of 1 thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-shard-'));
  const merged = join(dir, 'all.pcap');
  // Every fixture pcap (standard format: mergecap cannot read the 'modified' NATS ones into pcap).
  const inputs = (readdirSync(FG, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.pcap') && !f.includes('nats-nrpc'))
    .map((f) => join(FG, f));
  execFileSync('mergecap', ['-F', 'pcap', '-w', merged, ...inputs]);
  const one = collect();
  const r1 = await analyzeCapture(merged, { sink: one.sink });
  const two = collect();
  const r2 = await analyzeCaptureSharded(merged, 2, { sink: two.sink });
  assert.ok(one.flows.length >= 100, `${one.flows.length} flows`);
  assert.equal(r2.capture.packets, r1.capture.packets);
  assert.deepEqual(r2.closeTypes, r1.closeTypes);
  const key = (f: FlowRecord) => JSON.stringify({ ...f, flowId: 0 });
  assert.deepEqual(two.flows.map(key).sort(), one.flows.map(key).sort());
  assert.deepEqual(two.flows.map((f) => f.flowId).sort((a, b) => a - b), one.flows.map((_, i) => i + 1), 'ids are dense');
});
