// The built-in Redis module (src/engine/l7/redis.ts) against: the samples' real redis-server traffic and
// the generator's truth (every command once per interface it crossed, fields as the client sent and saw
// them), tshark's RESP dissector per interface, DeepFlow's parser results for its Redis captures, and a
// RESP3 capture of redis-server (samples/l7/redis: HELLO 3, maps, errors, a pipeline, pub/sub) with the
// truth its client wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { MAX_ELEMENTS, MAX_LINE, REDIS, RedisParser } from '../src/engine/l7/redis';
import type { RequestRecord } from '../src/shared/records';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket } from '../src/engine/decode/packet';
import { Transport, type Dir, type L7FlowParser, type L7Message, type L7Protocol, type MessageSink } from '../src/engine/l7/types';
import { FLOWGEN, SAMPLES, runCapture, readPackets, rng, sameRowsWhenCut, tsharkFields } from './l7-helpers';

const registry = (): ProtocolRegistry => new ProtocolRegistry([...BUILTIN_PROTOCOLS, REDIS]);

interface Hop { node: string; interface: string; src_ip: string; src_port: number; dst_ip: string; dst_port: number }
interface Req {
  id: string; connection: string; protocol: string; method: string; resource: string; reply_type: string;
  reply: string | number | null; error_class: string; start_us: number; end_us: number; index_on_connection: number;
}
interface Truth {
  files: { file: string; node: string | null; interfaces: string | { id: number; node: string; name: string }[] }[];
  topology: { nodes: { name: string; interfaces: { name: string; ifindex: number }[] }[] };
  connections: { id: string; l7: string | null; hops: Hop[] }[];
  requests: Req[];
  expected: { per_interface: { node: string; interface: string; requests_by_protocol: Record<string, number> }[] };
}
const truth = JSON.parse(readFileSync(join(SAMPLES, 'k8s.truth.json'), 'utf8')) as Truth;

function pointsOf(file: Truth['files'][number]): { ifIndex: number; node: string; name: string; filter: string }[] {
  if (Array.isArray(file.interfaces)) {
    return file.interfaces.map((i) => ({ ifIndex: i.id, node: i.node, name: i.name, filter: `frame.interface_id==${i.id}` }));
  }
  const node = truth.topology.nodes.find((n) => n.name === file.node)!;
  return node.interfaces.map((i) => ({ ifIndex: i.ifindex, node: node.name, name: i.name, filter: `sll.ifindex==${i.ifindex}` }));
}

/** RESP reply types as the truth's client names them → response_result. */
const REPLY_TYPES: Record<string, string> = { simple_string: 'simple_string', bulk_string: 'bulk_string', integer: 'integer', error: 'error', array: 'array', null: 'bulk_string' };

for (const file of truth.files) {
  test(`redis samples ${file.file}: every Redis command once per interface it crossed, as the client sent and saw it`, async () => {
    const { records, engine } = await runCapture(join(SAMPLES, file.file), { registry: registry() });
    assert.equal(engine.stats.parserErrors, 0);
    const redis = records.filter((r) => r.l7Protocol === 'redis');
    let checked = 0;
    let points = 0;
    for (const pt of pointsOf(file)) {
      const here = redis.filter((r) => r.ifIndex === pt.ifIndex);
      const expected = truth.expected.per_interface.find((e) => e.node === pt.node && e.interface === pt.name)!;
      assert.equal(here.length, expected.requests_by_protocol.redis ?? 0, `${pt.node}/${pt.name}: redis rows`);
      for (const c of truth.connections) {
        if (c.l7 !== 'redis') continue;
        const hop = c.hops.find((h) => h.node === pt.node && h.interface === pt.name);
        if (!hop) continue;
        const want = truth.requests.filter((r) => r.connection === c.id).sort((a, b) => a.index_on_connection - b.index_on_connection);
        const got = here
          .filter((r) => r.clientIp === hop.src_ip && r.clientPort === hop.src_port && r.serverIp === hop.dst_ip && r.serverPort === hop.dst_port)
          .sort((a, b) => a.startTime - b.startTime);
        assert.equal(got.length, want.length, `${pt.node}/${pt.name} ${c.id}`);
        want.forEach((t, i) => {
          const r = got[i];
          const what = `${pt.node}/${pt.name} ${t.id} ${t.resource}`;
          assert.equal(r.requestType, t.method, what);
          assert.equal(r.endpoint, t.method, what);
          assert.equal(r.requestResource, t.resource, what);
          assert.equal(r.responseStatus, t.error_class, what);
          assert.equal(r.responseResult, REPLY_TYPES[t.reply_type], what);
          // DeepFlow shows an error reply with its type byte.
          assert.equal(r.responseException, t.reply_type === 'error' ? `-${String(t.reply)}` : null, what);
          assert.ok(r.duration !== null && r.duration >= 0 && r.reqTcpSeq !== null && r.respTcpSeq !== null, `${what}: paired`);
          assert.ok(r.startTime >= t.start_us && r.endTime <= t.end_us, `${what}: inside the client's window`);
          // RESP bytes of the command as the client encoded it.
          const args = t.resource.split(' ');
          assert.equal(r.requestLength, `*${args.length}\r\n`.length + args.reduce((n, a) => n + `$${a.length}\r\n${a}\r\n`.length, 0), what);
          checked++;
        });
      }
      points++;
    }
    assert.ok(points >= 6 && checked >= 21, `${points} interfaces, ${checked} rows checked`);
  });
}

test("redis samples k8s-both.pcapng: tshark's RESP dissector per interface sees the same commands, replies and errors", async () => {
  const path = join(SAMPLES, 'k8s-both.pcapng');
  const { records } = await runCapture(path, { registry: registry() });
  const rows = tsharkFields(path, ['frame.interface_id', '_ws.col.Info'], [
    '-o', 'tcp.desegment_tcp_streams:FALSE', '-o', 'tcp.analyze_sequence_numbers:FALSE', '-d', 'tcp.port==6379,resp', '-Y', 'resp',
  ]);
  let total = 0;
  for (let id = 0; id < 12; id++) {
    const mine = records.filter((r) => r.l7Protocol === 'redis' && r.ifIndex === id);
    const info = rows.filter((r) => Number(r[0]) === id).map((r) => r[1]);
    const requests = info.filter((x) => x.startsWith('Request: ')).map((x) => x.slice(9)).sort();
    assert.deepEqual(mine.map((r) => r.requestResource).sort(), requests, `interface ${id}: commands`);
    assert.equal(info.filter((x) => x.startsWith('Response')).length, mine.filter((r) => r.duration !== null).length, `interface ${id}: replies`);
    const errors = info.filter((x) => x.startsWith('Response: Error: ')).map((x) => `-${x.slice(17)}`);
    assert.deepEqual(mine.filter((r) => r.responseStatus === 'server_error').map((r) => r.responseException), errors, `interface ${id}: errors`);
    total += mine.length;
  }
  const both = truth.files.find((f) => f.file === 'k8s-both.pcapng')!;
  const want = pointsOf(both).reduce((n, pt) => n + (truth.expected.per_interface.find((e) => e.node === pt.node && e.interface === pt.name)!.requests_by_protocol.redis ?? 0), 0);
  assert.equal(total, want, 'rows over all interfaces, as the truth counts them');
});

interface DfRedis { request: string; request_type: string; response_result: string; error: string; _detected: boolean }
const deepflow = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/deepflow-redis.json'), 'utf8')) as {
  results: Record<string, DfRedis[]>;
};

for (const [name, lines] of Object.entries(deepflow.results)) {
  test(`redis deepflow ${name}: command, arguments, reply type and error as DeepFlow's parser`, async () => {
    const pcap = join(FLOWGEN, 'redis', `${name}.pcap`);
    const { records, engine } = await runCapture(pcap, { registry: registry() });
    assert.equal(engine.stats.detected.redis, 1, 'detected from the command, as DeepFlow (is_redis: true)');
    assert.equal(records.length, 1);
    const r = records[0];
    const [req, resp] = lines;
    assert.equal(r.requestResource, req.request);
    // DeepFlow keeps the command as sent ("get"); Flowscope upper-cases it (one endpoint per command).
    assert.equal(r.requestType, req.request_type.toUpperCase());
    assert.equal(r.endpoint, req.request_type.toUpperCase());
    assert.equal(r.responseResult, resp.response_result === 'Error' ? 'error' : resp.response_result.toLowerCase());
    assert.equal(r.responseException, resp.error === '' ? null : resp.error);
    assert.equal(r.responseStatus, resp.error === '' ? 'ok' : 'server_error');
    // Times and sequence numbers from tshark: first payload packet each way.
    const pk = tsharkFields(pcap, ['frame.time_epoch', 'tcp.seq_raw', 'tcp.len', 'tcp.dstport']).filter((x) => Number(x[2]) > 0);
    const toServer = pk.find((x) => Number(x[3]) === r.serverPort)!;
    const toClient = pk.find((x) => Number(x[3]) !== r.serverPort)!;
    assert.equal(r.startTime, Math.round(Number(toServer[0]) * 1e6));
    assert.equal(r.duration, Math.round(Number(toClient[0]) * 1e6) - r.startTime);
    assert.equal(r.reqTcpSeq, Number(toServer[1]));
    assert.equal(r.respTcpSeq, Number(toClient[1]));
    // Lengths are RESP bytes (DeepFlow gives none for Redis): the whole reply, across its segments.
    const respBytes = pk.filter((x) => Number(x[3]) !== r.serverPort).reduce((n, x) => n + Number(x[2]), 0);
    assert.equal(r.responseLength, respBytes);
  });
}

// RESP3 and pub/sub from a real redis-server (samples/l7/redis/generate.sh).
const RESP3 = join(SAMPLES, 'l7/redis');
interface R3Truth {
  commands: { conn: string; command: string; resource: string; reply_type: string; error: string | null; pipelined: boolean }[];
  deliveries: { conn: string; kind: string; channel: string; payload: string }[];
}
test('redis RESP3 capture: HELLO 3, map/set/double/null/verbatim/big-number replies, errors, a pipeline and pub/sub as the client saw them', { skip: !existsSync(join(RESP3, 'redis.truth.json')) }, async () => {
  const t = JSON.parse(readFileSync(join(RESP3, 'redis.truth.json'), 'utf8')) as R3Truth;
  const { records, engine } = await runCapture(join(RESP3, 'redis.pcap'), { registry: registry() });
  assert.equal(engine.stats.gaps, 0);
  assert.equal(engine.stats.detected.redis, 4, 'four connections');
  const rows = records.filter((r) => r.l7Protocol === 'redis').sort((a, b) => a.startTime - b.startTime);
  const commands = rows.filter((r) => r.duration !== null || r.responseStatus === 'timeout');
  const deliveries = rows.filter((r) => r.duration === null && r.responseStatus === 'ok');
  assert.equal(commands.length, t.commands.length, 'one row per command');
  assert.equal(deliveries.length, t.deliveries.length, 'one row per delivery, never a reply');
  const byConn = new Map<string, RequestRecord[]>();
  for (const r of commands) byConn.set(`${r.clientPort}`, [...(byConn.get(`${r.clientPort}`) ?? []), r]);
  // Commands in client order per connection.
  const tConns = [...new Set(t.commands.map((c) => c.conn))];
  assert.equal(byConn.size, tConns.length);
  for (const conn of tConns) {
    const want = t.commands.filter((c) => c.conn === conn);
    const got = [...byConn.values()].find((g) => g[0].requestResource === want[0].resource)!;
    assert.ok(got, conn);
    want.forEach((c, i) => {
      const r = got[i];
      // Flowscope keeps 512 bytes of an argument and 1024 of the whole resource.
      const kept = c.resource.split(' ').map((a) => a.slice(0, 512)).join(' ').slice(0, 1024);
      assert.equal(r.requestResource, kept, `${conn} #${i}`);
      assert.equal(r.requestType, c.command, `${conn} #${i}`);
      assert.equal(r.responseResult, c.reply_type, `${conn} #${i} ${c.resource}`);
      assert.equal(r.responseStatus, c.error === null ? 'ok' : 'server_error', `${conn} #${i}`);
      assert.equal(r.responseException, c.error, `${conn} #${i}`);
    });
  }
  for (const [i, d] of t.deliveries.entries()) {
    const r = deliveries[i];
    assert.equal(r.requestType, d.kind.toUpperCase());
    assert.ok(r.requestResource!.includes(d.channel) && r.requestResource!.includes(d.payload), r.requestResource!);
    assert.equal(r.responseStatus, 'ok');
  }
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

test('redis fuzz: mutated real RESP2/RESP3 streams never throw or hang, end every message, keep buffers bounded', { timeout: 180_000 }, async () => {
  const pair = await streams([join(SAMPLES, 'l7/redis/redis.pcap'), join(FLOWGEN, 'redis/redis-debug.pcap')]);
  const tokens = ['*99999999\r\n', '$-5\r\n', '$2147483648\r\n', '*1\r\n'.repeat(40), '>3\r\n', '|1\r\n', '%2\r\n', '\r\n', '+OK', ':12a\r\n', '_\r\n', '#x\r\n', 'x'.repeat(70000)]
    .map((s) => Buffer.from(s, 'latin1'));
  const n = fuzz(REDIS, pair, tokens, 7, 400, (p) => {
    assert.ok((p as RedisParser).bufferedBytes <= 2 * MAX_LINE);
    assert.ok((p as unknown as { pendingSubs: unknown[] }).pendingSubs.length <= 256);
  });
  assert.ok(n > 2000, `${n} messages`);
});

test('redis: nesting deeper than the cap and absurd counts cut the reply short (no recursion, nothing allocated per element); the next reply is found again', () => {
  const got: L7Message[] = [];
  const p = REDIS.createParser({ begin: (m) => got.push(m), end() {} }, Transport.Tcp) as RedisParser;
  const cmd = Buffer.from('*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n');
  p.data(0, cmd, 0, cmd.length, 1, 1);
  const deep = Buffer.from('*1\r\n'.repeat(100_000) + '+OK\r\n');
  p.data(1, deep, 0, deep.length, 1, 2);
  const huge = Buffer.from(`*${MAX_ELEMENTS + 1}\r\n`);
  p.data(1, huge, 0, huge.length, 1 + deep.length, 3);
  const pong = Buffer.from('+PONG\r\n');
  p.data(1, pong, 0, pong.length, 1 + deep.length + huge.length, 4);
  p.finish(5);
  const replies = got.filter((m) => m.dir === 1);
  assert.equal(got.length - replies.length, 3);
  assert.equal(replies.length, 2, 'the over-deep reply (cut short) and +PONG; the absurd count is dropped');
  assert.equal(replies[0].truncated, true);
  assert.equal(replies[0].responseResult, 'array');
  assert.equal(replies[1].responseResult, 'simple_string');
  assert.equal(p.bufferedBytes, 0);
});

test("redis, mqtt, kafka, dubbo: none of them claims a flow of DeepFlow's captures of other protocols (AMQP, NATS, memcached, MySQL, PostgreSQL, MongoDB, …) or of HTTP/DNS", { timeout: 180_000 }, async () => {
  const { MQTT } = await import('../src/engine/l7/mqtt');
  const { KAFKA } = await import('../src/engine/l7/kafka');
  const { DUBBO } = await import('../src/engine/l7/dubbo');
  const mine = new Set(['redis', 'mqtt', 'kafka', 'dubbo']);
  const files = readdirSync(FLOWGEN, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !mine.has(d.name))
    .flatMap((d) => readdirSync(join(FLOWGEN, d.name)).filter((f) => f.endsWith('.pcap')).map((f) => join(FLOWGEN, d.name, f)));
  assert.ok(files.length >= 60, `${files.length} captures`);
  for (const f of files) {
    const { engine } = await runCapture(f, { registry: new ProtocolRegistry([...BUILTIN_PROTOCOLS, REDIS, MQTT, KAFKA, DUBBO]) });
    for (const p of mine) assert.equal(engine.stats.detected[p], undefined, `${f}: claimed as ${p}`);
  }
});

test("redis RESP3 capture: tshark's RESP dissector sees the same commands per connection (pipelined ones included) and the same error replies", { skip: !existsSync(join(RESP3, 'redis.pcap')) }, async () => {
  const pcap = join(RESP3, 'redis.pcap');
  const { records } = await runCapture(pcap, { registry: registry() });
  const rows = records.filter((r) => r.l7Protocol === 'redis');
  const t = tsharkFields(pcap, ['tcp.srcport', 'tcp.dstport', '_ws.col.Info'], ['-d', 'tcp.port==6390,resp', '-Y', 'resp']);
  const ports = new Set(rows.filter((r) => r.serverPort === 6390).map((r) => r.clientPort));
  assert.equal(ports.size, 4);
  for (const port of ports) {
    // tshark 4.0 shows a pipelined segment as one "Request:" line with every command; a long value as
    // BulkString(n), which Flowscope keeps cut at 512 bytes; the AUTH password Flowscope masks.
    const theirs = t.filter((x) => Number(x[0]) === port).flatMap((x) => x[2].replace(/^Request: /, '').split(/\s+/))
      .filter((w) => w !== '' && !/^BulkString\(\d+\)$/.test(w) && w !== 'wrongpass');
    const mine = rows.filter((r) => r.clientPort === port && r.duration !== null).sort((a, b) => a.startTime - b.startTime)
      .flatMap((r) => r.requestResource!.split(' ')).filter((w) => w.length < 512 && w !== '?');
    assert.deepEqual(mine, theirs, `client port ${port}`);
    const errors = t.filter((x) => Number(x[1]) === port).flatMap((x) => x[2].split('Error: ').slice(1)).length;
    assert.equal(rows.filter((r) => r.clientPort === port && r.responseStatus === 'server_error').length, errors, `client port ${port}: errors`);
  }
});

test('redis: the same rows when every segment of real captures is cut into 1..7-byte pieces, in order and shuffled', { timeout: 120_000 }, async () => {
  const n = await sameRowsWhenCut(REDIS, [join(RESP3, 'redis.pcap'), join(SAMPLES, 'k8s-node2.pcapng')]);
  assert.ok(n >= 3, `${n} rows`);
});
