// The built-in Dubbo module (src/engine/l7/dubbo.ts) against DeepFlow's parser results for its Dubbo
// captures (Hessian2 and Kryo bodies). There is no Dubbo server in Debian and tshark 4.0 has no Dubbo
// dissector: tshark supplies the packets (times, sequence numbers, the header bytes) instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DUBBO } from '../src/engine/l7/dubbo';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket } from '../src/engine/decode/packet';
import { Transport, type Dir, type L7FlowParser, type L7Message, type L7Protocol, type MessageSink } from '../src/engine/l7/types';
import { FLOWGEN, runCapture, readPackets, rng, sameRowsWhenCut, tsharkFields } from './l7-helpers';

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

test('dubbo fuzz: mutated real Dubbo streams never throw or hang and end every message', { timeout: 180_000 }, async () => {
  const pair = await streams(['dubbo_hessian2', 'dubbo-kryo', 'dubbo-eys'].map((f) => join(FLOWGEN, `dubbo/${f}.pcap`)));
  const tokens = [[0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff], [0xda, 0xbb, 0x02, 70, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0x53, 0xff, 0xff], [0x33, 0xff], [0x1f]]
    .map((x) => Buffer.from(x));
  const n = fuzz(DUBBO, pair, tokens, 17, 400, () => {});
  assert.ok(n > 1000, `${n} messages`);
});

test('dubbo: the same rows when every segment of real captures is cut into 1..7-byte pieces, in order and shuffled', { timeout: 120_000 }, async () => {
  const n = await sameRowsWhenCut(DUBBO, ['dubbo_hessian2', 'dubbo-kryo'].map((f) => join(FLOWGEN, `dubbo/${f}.pcap`)));
  assert.ok(n >= 3, `${n} rows`);
});
