// The built-in Kafka module (src/engine/l7/kafka.ts) against DeepFlow's parser results for its Kafka
// captures and tshark's Kafka dissector over the same captures (there is no Kafka broker in Debian to make
// a capture of our own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KAFKA } from '../src/engine/l7/kafka';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { FLOWGEN, runCapture, tsharkFields } from './l7-helpers';

const registry = (): ProtocolRegistry => new ProtocolRegistry([...BUILTIN_PROTOCOLS, KAFKA]);

interface DfKafka {
  msg_type: 'Request' | 'Response'; correlation_id: number; api_key: string; api_version: number; client_id: string;
  topic_name: string; partition: number; offset: number; group_id: string; resource: string | null; endpoint: string | null;
  command: string; status: string; status_code: number | null; req_msg_size: number | null; resp_msg_size: number | null;
  rrt: number; trace_ids: string; span_id: string; _detected: boolean; _line?: string;
}
const deepflow = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/deepflow-kafka.json'), 'utf8')) as { results: Record<string, DfKafka[]> };
const STATUS: Record<string, string> = { Ok: 'ok', ServerError: 'server_error', ClientError: 'client_error' };

/** APIs whose error code DeepFlow does not read (it writes -2, "Type not yet inspected"); Flowscope reads it. */
const READ_HERE = new Set(['OffsetCommit', 'Heartbeat']);

for (const [name, lines] of Object.entries(deepflow.results)) {
  test(`kafka deepflow ${name}: api, version, topic, endpoint, resource, code, status, lengths, rrt, trace ids as DeepFlow's parser`, async () => {
    const pcap = join(FLOWGEN, 'kafka', `${name}.pcap`);
    const { records, engine } = await runCapture(pcap, { registry: registry() });
    assert.equal(engine.stats.parserErrors, 0);
    const rows = records.filter((r) => r.l7Protocol === 'kafka');
    const reqs = lines.filter((l) => l.msg_type === 'Request');
    assert.equal(rows.length, reqs.length, 'one row per request');
    for (const q of reqs) {
      const p = lines.find((l) => l.msg_type === 'Response' && l.correlation_id === q.correlation_id)!;
      const r = rows.find((x) => x.xRequestId0 === String(q.correlation_id))!;
      const what = `${name} ${q.command} ${q.correlation_id}`;
      assert.ok(r, what);
      assert.equal(r.requestType, q.command, what);
      assert.equal(r.version, String(q.api_version), what);
      assert.equal(r.xRequestId1, String(q.correlation_id), `${what}: paired by correlation id`);
      assert.equal(r.requestDomain, q.topic_name === '' ? null : q.topic_name, what);
      assert.equal(r.endpoint, q.endpoint, what);
      assert.equal(r.requestResource, q.resource ?? p.resource, what);
      assert.equal(r.requestLength, q.req_msg_size, what);
      assert.equal(r.responseLength, p.resp_msg_size, what);
      assert.equal(r.duration, p.rrt, what);
      if (READ_HERE.has(q.command)) {
        assert.equal(p.status_code, -2);
        assert.equal(r.responseCode, 0, `${what}: the broker's error_code (tshark agrees below)`);
      } else {
        assert.equal(r.responseCode, p.status_code, what);
      }
      assert.equal(r.responseStatus, STATUS[p.status], what);
      const trace = /field: "([^"]+)"/.exec(q.trace_ids);
      assert.equal(r.traceId, trace ? trace[1] : null, what);
      assert.equal(r.spanId, q.span_id === '' ? null : q.span_id, what);
    }
  });

  test(`kafka deepflow ${name}: tshark's Kafka dissector agrees on api keys, versions, correlation ids, error codes, lengths`, async () => {
    const pcap = join(FLOWGEN, 'kafka', `${name}.pcap`);
    const { records } = await runCapture(pcap, { registry: registry() });
    const port = records[0].serverPort;
    const t = tsharkFields(pcap, ['tcp.srcport', 'kafka.api_key', 'kafka.api_version', 'kafka.correlation_id', 'kafka.error', 'kafka.len'], ['-d', `tcp.port==${port},kafka`, '-Y', 'kafka']);
    const requests = t.filter((x) => Number(x[0]) !== port);
    const responses = t.filter((x) => Number(x[0]) === port);
    assert.equal(records.length, requests.length);
    for (const q of requests) {
      const r = records.find((x) => x.xRequestId0 === q[3])!;
      assert.ok(r, q[3]);
      assert.equal(r.version, q[2]);
      assert.equal(r.requestLength, Number(q[5]));
      const s = responses.find((x) => x[3] === q[3])!;
      assert.equal(r.responseLength, Number(s[5]));
      // tshark's first error code of the response is the one Flowscope reads (when tshark decodes one).
      if (s[4] !== '') assert.equal(r.responseCode, Number(s[4].split(',')[0]), `${r.requestType} ${q[3]}`);
    }
  });
}
