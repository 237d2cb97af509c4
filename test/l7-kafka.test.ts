// The built-in Kafka module (src/engine/l7/kafka.ts) against DeepFlow's parser results for its Kafka
// captures and tshark's Kafka dissector over the same captures (there is no Kafka broker in Debian to make
// a capture of our own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KAFKA, MAX_INFLIGHT } from '../src/engine/l7/kafka';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket } from '../src/engine/decode/packet';
import { Transport, type Dir, type L7FlowParser, type L7Message, type L7Protocol, type MessageSink } from '../src/engine/l7/types';
import { FLOWGEN, runCapture, readPackets, rng, sameRowsWhenCut, tsharkFields } from './l7-helpers';

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

// ---- Seeded fuzz: mutated real payloads (both directions), random segmentation and gaps ----
interface FuzzParser extends L7FlowParser {
  finish(tsUs: number): void;
}
/** The payloads of captures as [to the server, from the server] streams (server = first payload's destination port). */
async function streams(pcaps: string[]): Promise<[Buffer, Buffer]> {
  const out: [Buffer[], Buffer[]] = [[], []];
  const d = new Decoder();
  const p = new DecodedPacket();
  for (const pcap of pcaps) {
    let port = -1;
    for (const raw of await readPackets(pcap)) {
      if (d.decode(raw.data, 0, raw.data.length, raw.data.length, raw.linkType, raw.tsUs, p) !== DecodeStatus.Ok || p.capturedPayloadLen === 0) continue;
      if (port < 0) port = p.dstPort;
      out[p.dstPort === port ? 0 : 1].push(Buffer.from(p.buf.subarray(p.payloadOffset, p.payloadOffset + p.capturedPayloadLen)));
    }
  }
  return [Buffer.concat(out[0]), Buffer.concat(out[1])];
}

function mutate(src: Buffer, rand: () => number, tokens: Buffer[]): Buffer {
  let b = Buffer.from(src);
  const ops = 1 + Math.floor(rand() * 6);
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(rand() * (b.length + 1));
    switch (Math.floor(rand() * 5)) {
      case 0:
        for (let j = 0; j < 1 + rand() * 8 && b.length > 0; j++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), tokens[Math.floor(rand() * tokens.length)], b.subarray(at)]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + Math.floor(rand() * 64)))]);
        break;
      case 3: {
        const from = Math.floor(rand() * b.length);
        b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + Math.floor(rand() * 256)), b.subarray(at)]);
        break;
      }
      default:
        b = b.subarray(0, at);
    }
  }
  return b;
}

/** Feeds both streams in random segments (with random gaps) to a fresh parser; checks the sink's rules. */
function fuzz(proto: L7Protocol, pair: [Buffer, Buffer], tokens: Buffer[], seed: number, rounds: number, check: (p: FuzzParser) => void): number {
  const rand = rng(seed);
  let messages = 0;
  for (let round = 0; round < rounds; round++) {
    const open = new Set<L7Message>();
    let begun = 0;
    const sink: MessageSink = {
      begin(m) {
        assert.ok(!open.has(m));
        open.add(m);
        begun++;
      },
      end(m) {
        assert.ok(open.delete(m), 'end() after begin()');
        assert.ok(m.ended);
      },
    };
    const parser = proto.createParser(sink, Transport.Tcp) as FuzzParser;
    const data: [Buffer, Buffer] = [mutate(pair[0], rand, tokens), mutate(pair[1], rand, tokens)];
    const pos = [0, 0];
    const seq = [1000, 900000];
    let ts = 1;
    while (pos[0] < data[0].length || pos[1] < data[1].length) {
      const dir = (pos[0] >= data[0].length ? 1 : pos[1] >= data[1].length ? 0 : rand() < 0.5 ? 0 : 1) as Dir;
      const n = Math.min(data[dir].length - pos[dir], 1 + Math.floor(rand() * 700));
      ts += 10;
      if (rand() < 0.03) parser.gap(dir, seq[dir], n, ts);
      else {
        // The bytes sit inside a bigger buffer, as in a capture batch.
        const wrap = Buffer.concat([Buffer.from([0x2a, 0x0d]), data[dir].subarray(pos[dir], pos[dir] + n), Buffer.from('\r\n*1\r\n')]);
        assert.ok(proto.detect(wrap, 2, n, { transport: Transport.Tcp, fromClient: dir === 0, srcPort: 1, dstPort: 2 }) >= 0);
        parser.data(dir, wrap, 2, n, seq[dir], ts);
      }
      seq[dir] = (seq[dir] + n) >>> 0;
      pos[dir] += n;
    }
    check(parser);
    parser.finish(ts + 1);
    assert.equal(open.size, 0, 'every message begun is ended by finish()');
    messages += begun;
  }
  return messages;
}

test('kafka fuzz: mutated real Kafka streams never throw or hang, end every message, keep state bounded', { timeout: 180_000 }, async () => {
  const pcaps = ['00-produce-v2', '00-produce-v7-sw8', '01-fetch-v12-ok', '11-join-group-v7', '13-leave-group-v4', '18-api-versions-v3', 'mixed-with-unsupported'];
  const pair = await streams(pcaps.map((f) => join(FLOWGEN, `kafka/${f}.pcap`)));
  const tokens = [[0x7f, 0xff, 0xff, 0xff], [0, 0, 0, 4], [0, 0, 0, 20, 0, 0, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x80, 0x80, 0x80, 0x80, 0x80], [0xff, 0xff]]
    .map((x) => Buffer.from(x));
  const n = fuzz(KAFKA, pair, tokens, 13, 400, (p) => {
    assert.ok((p as unknown as { inflight: unknown[] }).inflight.length <= MAX_INFLIGHT);
  });
  assert.ok(n > 1500, `${n} messages`);
});

test('kafka: the same rows when every segment of real captures is cut into 1..7-byte pieces, in order and shuffled', { timeout: 120_000 }, async () => {
  const n = await sameRowsWhenCut(KAFKA, ['00-produce-v7-sw8', '01-fetch-v12-ok', 'mixed-with-unsupported'].map((f) => join(FLOWGEN, `kafka/${f}.pcap`)));
  assert.ok(n >= 3, `${n} rows`);
});
