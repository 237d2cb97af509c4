// The plugin interface (src/engine/l7/README.md) used the way a user would: a protocol written as a
// small TypeScript module outside the engine — here a minimal RESP (Redis) parser — registered next to
// the built-in ones and run over the samples' real Redis traffic; and a module whose parser throws, which
// must cost its own flows only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import { L7Message, MsgKind, Transport, type Dir, type L7FlowParser, type L7Protocol, type MessageSink } from '../src/engine/l7/types';
import { BUILTIN_L7_PROTOCOLS } from '../src/shared/records';
import { SAMPLES, runCapture } from './l7-helpers';

/** A RESP parser as a user might write it: whole messages from buffered bytes, errors = server errors. */
class RespParser implements L7FlowParser {
  private bufs: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];
  private seqs: [number, number] = [0, 0];
  constructor(private readonly sink: MessageSink) {}

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    if (this.bufs[dir].length === 0) this.seqs[dir] = seq;
    this.bufs[dir] = Buffer.concat([this.bufs[dir], buf.subarray(off, off + len)]);
    if (this.bufs[dir].length > 1 << 20) this.bufs[dir] = Buffer.alloc(0); // bounded
    for (;;) {
      const b = this.bufs[dir];
      const n = messageLength(b, 0);
      if (n <= 0) return;
      const m = new L7Message(b[0] === 0x2a && dir === 0 ? MsgKind.Request : MsgKind.Response, dir);
      m.startTs = m.endTs = tsUs;
      m.tcpSeq = this.seqs[dir];
      m.length = n;
      if (m.kind === MsgKind.Request) {
        const words = b.toString('latin1', 0, n).split('\r\n').filter((_, i) => i % 2 === 0 && i > 0);
        m.requestType = words[0].toUpperCase();
        m.requestResource = words.join(' ');
        m.endpoint = m.requestType;
      } else {
        m.responseStatus = b[0] === 0x2d ? 'server_error' : 'ok';
        if (b[0] === 0x2d) m.responseException = b.toString('latin1', 1, n - 2);
      }
      m.ended = true;
      this.sink.begin(m);
      this.sink.end(m);
      this.bufs[dir] = b.subarray(n);
      this.seqs[dir] = (this.seqs[dir] + n) >>> 0;
    }
  }
  gap(dir: Dir): void {
    this.bufs[dir] = Buffer.alloc(0);
  }
  datagram(): void {}
  close(): void {}
  finish(): void {}
}

/** Bytes of the complete RESP value at b[at], 0 if incomplete. */
function messageLength(b: Buffer, at: number): number {
  const eol = b.indexOf('\r\n', at);
  if (eol < 0) return 0;
  const head = b.toString('latin1', at + 1, eol);
  const type = b[at];
  if (type === 0x2b || type === 0x2d || type === 0x3a) return eol + 2 - at;
  const n = Number(head);
  if (type === 0x24) return n < 0 ? eol + 2 - at : b.length >= eol + 2 + n + 2 ? eol + 2 + n + 2 - at : 0;
  if (type === 0x2a) {
    let p = eol + 2;
    for (let i = 0; i < n; i++) {
      const k = messageLength(b, p);
      if (k === 0) return 0;
      p += k;
    }
    return p - at;
  }
  return 0;
}

const RESP: L7Protocol = {
  name: 'redis-plugin',
  tcp: true,
  udp: false,
  ports: [6379],
  requestTimeoutUs: 120e6,
  hasSessionId: false,
  detect: (buf, off, len, ctx) =>
    ctx.transport === Transport.Tcp && len >= 4 && buf[off] === 0x2a && buf[off + 1] >= 0x31 && buf[off + 1] <= 0x39 ? 80 : 0,
  createParser: (sink) => new RespParser(sink),
};

interface Req { connection: string; method: string; resource: string; error_class: string }

/** The built-ins without Redis: a user's own module for a protocol Flowscope has takes its place. */
const withoutRedis = (): ProtocolRegistry => new ProtocolRegistry(BUILTIN_PROTOCOLS.filter((p) => p.name !== 'redis'));
const truth = JSON.parse(readFileSync(join(SAMPLES, 'k8s.truth.json'), 'utf8')) as { requests: Req[] };

test('the UI\'s list of protocol names (src/shared) is every built-in module, plus gRPC from HTTP/2', () => {
  assert.deepEqual([...BUILTIN_L7_PROTOCOLS].sort(), [...BUILTIN_PROTOCOLS.map((p) => p.name), 'grpc'].sort());
});

test('plugin: a RESP module registered by the user finds every Redis command of the samples, paired FIFO', async () => {
  const registry = withoutRedis();
  registry.register(RESP);
  const { records, engine } = await runCapture(join(SAMPLES, 'k8s-node2.pcapng'), { registry });
  const veth = 4; // veth-redis in k8s-node2.pcapng: sees both Redis connections (c19 cross-node, c26 local)
  const rows = records.filter((r) => r.l7Protocol === 'redis-plugin' && r.ifIndex === veth).sort((a, b) => a.startTime - b.startTime);
  const want = truth.requests.filter((r) => r.connection === 'c19' || r.connection === 'c26');
  assert.equal(rows.length, want.length);
  for (const t of want) {
    const r = rows.find((x) => x.requestResource === t.resource && x.requestType === t.method);
    assert.ok(r, t.resource);
    assert.equal(r.responseStatus, t.error_class, t.resource);
    assert.ok(r.duration !== null && r.duration >= 0);
  }
  assert.equal(rows.find((r) => r.requestType === 'FLY')!.responseException, "ERR unknown command 'FLY', with args beginning with: 'away' ");
  assert.ok(engine.stats.detected['redis-plugin'] >= 2);
  // The built-in protocols are untouched by the plugin.
  assert.equal(records.filter((r) => r.l7Protocol === 'http' && r.ifIndex === 3).length, 7);
});

test('plugin: a module whose parser throws loses its own flows only', async () => {
  const registry = withoutRedis();
  registry.register({
    ...RESP,
    name: 'broken',
    createParser: () => ({
      data() {
        throw new Error('boom');
      },
      gap() {},
      datagram() {},
      close() {},
      finish() {},
    }),
  });
  const { records, engine } = await runCapture(join(SAMPLES, 'k8s-node2.pcapng'), { registry });
  assert.ok(engine.stats.parserErrors >= 2);
  assert.equal(engine.stats.lastParserError, 'broken parser: boom');
  assert.equal(records.filter((r) => r.l7Protocol === 'broken').length, 0);
  const plain = await runCapture(join(SAMPLES, 'k8s-node2.pcapng'), { registry: withoutRedis() });
  assert.equal(records.length, plain.records.length, 'the other protocols\' rows as without the module');
});
