// The built-in Dubbo module (src/engine/l7/dubbo.ts) against DeepFlow's parser results for its Dubbo
// captures (Hessian2 and Kryo bodies). There is no Dubbo server in Debian and tshark 4.0 has no Dubbo
// dissector: tshark supplies the packets (times, sequence numbers, the header bytes) instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DUBBO } from '../src/engine/l7/dubbo';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { FLOWGEN, runCapture, tsharkFields } from './l7-helpers';

const registry = (): ProtocolRegistry => new ProtocolRegistry([...BUILTIN_PROTOCOLS, DUBBO]);

interface DfDubbo {
  msg_type: 'Request' | 'Response'; serial_id: number; request_id: number; dubbo_version: string; service_name: string;
  service_version: string; method_name: string; trace_ids: string; status_code: number | null; endpoint: string | null;
  rrt: number; req_msg_size: number | null; resp_msg_size: number | null; _detected: boolean;
}
const deepflow = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/deepflow-dubbo.json'), 'utf8')) as { results: Record<string, DfDubbo[]> };

/** DeepFlow's test names dubbo_hessian.result after dubbo_hessian2.pcap. */
const PCAP: Record<string, string> = { dubbo_hessian: 'dubbo_hessian2' };

for (const [name, lines] of Object.entries(deepflow.results)) {
  test(`dubbo deepflow ${name}: method, service, endpoint, version, status, lengths, rrt as DeepFlow's parser; request ids from the wire`, async () => {
    const pcap = join(FLOWGEN, 'dubbo', `${PCAP[name] ?? name}.pcap`);
    const { records, engine } = await runCapture(pcap, { registry: registry() });
    assert.equal(engine.stats.parserErrors, 0);
    assert.equal(engine.stats.detected.dubbo, 1);
    const rows = records.filter((r) => r.l7Protocol === 'dubbo').sort((a, b) => a.startTime - b.startTime);
    const reqs = lines.filter((l) => l.msg_type === 'Request');
    assert.equal(rows.length, reqs.length);
    // The wire: every payload's header (tshark's bytes), in order.
    const pk = tsharkFields(pcap, ['frame.time_epoch', 'tcp.seq_raw', 'tcp.payload']).filter((x) => x[2] !== '');
    reqs.forEach((q, i) => {
      const r = rows[i];
      const what = `${name} ${q.request_id}`;
      const p = lines.find((l) => l.msg_type === 'Response' && l.request_id === q.request_id);
      assert.equal(r.requestType, q.method_name, what);
      assert.equal(r.requestResource, q.service_name, what);
      assert.equal(r.requestDomain, q.service_name, what);
      assert.equal(r.endpoint, q.endpoint, what);
      assert.equal(r.version, q.dubbo_version, what);
      assert.equal(r.requestLength, q.req_msg_size, what);
      // The request's packet: its header carries this request id.
      const reqPk = pk.find((x) => Number(BigInt(`0x${x[2].slice(8, 24)}`)) === q.request_id && (parseInt(x[2].slice(4, 6), 16) & 0x80) !== 0)!;
      assert.equal(r.startTime, Math.round(Number(reqPk[0]) * 1e6), what);
      assert.equal(r.reqTcpSeq, Number(reqPk[1]), what);
      if (p === undefined) {
        // dubbo-eys.pcap holds the request alone: unanswered at the end of the capture.
        assert.equal(r.responseStatus, 'timeout', what);
        assert.equal(r.duration, null, what);
      } else {
        assert.equal(r.responseCode, p.status_code, what);
        assert.equal(r.responseStatus, p.status_code === 20 ? 'ok' : 'server_error', what);
        assert.equal(r.responseLength, p.resp_msg_size, what);
        assert.equal(r.duration, p.rrt, what);
        const respPk = pk.find((x) => Number(BigInt(`0x${x[2].slice(8, 24)}`)) === q.request_id && (parseInt(x[2].slice(4, 6), 16) & 0x80) === 0)!;
        assert.equal(r.respTcpSeq, Number(respPk[1]), `${what}: paired by request id`);
      }
      // DeepFlow's test configuration reads EagleEye-TraceID (dubbo-eys) as a custom trace header; Flowscope
      // reads the headers SPEC.md names (traceparent, sw8, b3, uber-trace-id), absent or empty here.
      assert.equal(r.traceId, null, what);
    });
  });
}

test('dubbo: status codes in DeepFlow classes (20 ok; 30/40/90 client; 31/50/60/70/80/100 server)', async () => {
  const { dubboStatus } = await import('../src/engine/l7/dubbo');
  assert.deepEqual([20, 30, 40, 90].map(dubboStatus), ['ok', 'client_error', 'client_error', 'client_error']);
  assert.deepEqual([31, 50, 60, 70, 80, 100].map(dubboStatus), Array(6).fill('server_error'));
});
