// NATS client protocol (text): INFO, CONNECT, PUB, HPUB, SUB, UNSUB, MSG, HMSG, PING, PONG, +OK, -ERR.
//
// What is a row: PING is answered by PONG (either side may ping); with `verbose` in CONNECT every
// client operation (CONNECT, PUB, HPUB, SUB, UNSUB) is answered by +OK or -ERR; otherwise those
// operations, INFO and the deliveries (MSG, HMSG) are rows of their own (one-way, ok). A -ERR nobody
// waits for is a row of its own too. DeepFlow pairs INFO with CONNECT and reports -ERR as normal;
// Flowscope pairs CONNECT with its +OK/-ERR (the server's verdict on it) and classes -ERR: slow
// consumer, stale connection and too many connections are the server's trouble, others the client's.
//
// Every row is reported client → server (the NATS client is the client even for the server's PING or
// its deliveries), so the service map has one edge per connection. Fields as DeepFlow: request_type =
// the operation, request_domain = server_name and version = the server version (from INFO),
// request_resource = the subject. endpoint = the subject (DeepFlow keeps its first token), with reply
// inboxes (`_INBOX.<random>…`) folded to `_INBOX.*`. HPUB/HMSG headers carry the trace context.

import { LineStream, clip, parseUint, tokE, tokS, tokenize, type LineHandler } from './memcached';
import { resolveTrace, TraceHeaders } from './trace-context';
import {
  L7Message,
  MsgKind,
  Transport,
  type DetectContext,
  type Dir,
  type L7FlowParser,
  type L7Protocol,
  type MessageSink,
  type ResponseStatus,
} from './types';

const NATS_PORTS = [4222];
/** Header bytes of HPUB/HMSG looked at for trace context. */
const MAX_HEADERS = 4096;

const enum Op {
  None,
  Info,
  Connect,
  Pub,
  Hpub,
  Sub,
  Unsub,
  Msg,
  Hmsg,
  Ping,
  Pong,
  Ok,
  Err,
}

const OPS: Record<string, Op> = {
  INFO: Op.Info,
  CONNECT: Op.Connect,
  PUB: Op.Pub,
  HPUB: Op.Hpub,
  SUB: Op.Sub,
  UNSUB: Op.Unsub,
  MSG: Op.Msg,
  HMSG: Op.Hmsg,
  PING: Op.Ping,
  PONG: Op.Pong,
  '+OK': Op.Ok,
  '-ERR': Op.Err,
};
const NAMES = ['', 'INFO', 'CONNECT', 'PUB', 'HPUB', 'SUB', 'UNSUB', 'MSG', 'HMSG', 'PING', 'PONG', 'OK', 'ERR'];

/** Sent by the server only / by the client only (decides which side is which). */
function fromServer(op: Op): boolean {
  return op === Op.Info || op === Op.Msg || op === Op.Hmsg || op === Op.Ok || op === Op.Err;
}
function fromClient(op: Op): boolean {
  return op === Op.Connect || op === Op.Pub || op === Op.Hpub || op === Op.Sub || op === Op.Unsub;
}

function opOf(b: Buffer, s: number, e: number): Op {
  const n = e - s;
  if (n < 3 || n > 7) return Op.None;
  let w = '';
  for (let k = s; k < e; k++) {
    let c = b[k];
    if (c >= 97 && c <= 122) c -= 32; // operations are case-insensitive
    w += String.fromCharCode(c);
  }
  return OPS[w] ?? Op.None;
}

/** -ERR text → status: the server's own trouble vs the client's mistake. */
export function natsErrStatus(text: string): ResponseStatus {
  return /slow consumer|stale connection|maximum connections|internal/i.test(text) ? 'server_error' : 'client_error';
}

export function natsEndpoint(subject: string): string {
  if (subject.startsWith('_INBOX.')) return '_INBOX.*';
  return subject.length > 128 ? subject.slice(0, 128) : subject;
}

/** Argument count check of an operation line (tokens split by tokenize). */
function argsOk(b: Buffer, op: Op, n: number): boolean {
  switch (op) {
    case Op.Pub:
      return (n === 3 || n === 4) && parseUint(b, tokS[n - 1], tokE[n - 1]) >= 0;
    case Op.Hpub:
      return (n === 4 || n === 5) && parseUint(b, tokS[n - 1], tokE[n - 1]) >= parseUint(b, tokS[n - 2], tokE[n - 2]) && parseUint(b, tokS[n - 2], tokE[n - 2]) >= 0;
    case Op.Sub:
      return n === 3 || n === 4;
    case Op.Unsub:
      return n === 2 || n === 3;
    case Op.Msg:
      return (n === 4 || n === 5) && parseUint(b, tokS[n - 1], tokE[n - 1]) >= 0;
    case Op.Hmsg:
      return (n === 5 || n === 6) && parseUint(b, tokS[n - 1], tokE[n - 1]) >= parseUint(b, tokS[n - 2], tokE[n - 2]) && parseUint(b, tokS[n - 2], tokE[n - 2]) >= 0;
    case Op.Ping:
    case Op.Pong:
    case Op.Ok:
      return n === 1;
    case Op.Info:
    case Op.Connect:
      return n >= 2 && b[tokS[1]] === 0x7b; // '{'
    case Op.Err:
      return true;
    default:
      return false;
  }
}

function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp || len < 4) return 0;
  if (off + len > buf.length) len = buf.length - off;
  const end = Math.min(off + len, off + 8192);
  let nl = off;
  while (nl < end && buf[nl] !== 10) nl++;
  if (nl >= end || buf[nl - 1] !== 13) return 0;
  const e = nl - 1;
  const n = tokenize(buf, off, e);
  if (n === 0) return 0;
  const op = opOf(buf, tokS[0], tokE[0]);
  if (op === Op.None || !argsOk(buf, op, n)) return 0;
  const onPort = NATS_PORTS.includes(ctx.srcPort) || NATS_PORTS.includes(ctx.dstPort);
  if (op === Op.Info || op === Op.Connect) {
    const json = buf.toString('latin1', tokS[1], e);
    const sure = op === Op.Info ? /"server_id"\s*:/.test(json) : /"(verbose|lang|protocol)"\s*:/.test(json);
    return sure ? 90 : onPort ? 60 : 0;
  }
  if (op === Op.Pub || op === Op.Hpub || op === Op.Msg || op === Op.Hmsg || op === Op.Sub) return onPort ? 80 : 0;
  return onPort ? 60 : 0;
}

interface Pending {
  id: number;
}

export class NatsParser implements L7FlowParser, LineHandler {
  private readonly lines: [LineStream, LineStream];
  /** Direction the NATS server sends (learned from the operations; the flow's server until then). */
  private serverDir: Dir = 1;
  private roleKnown = false;
  private verbose = false;
  private version: string | null = null;
  private serverName: string | null = null;
  /** Client operations waiting for +OK / -ERR (verbose), oldest first. */
  private readonly acks: Pending[] = [];
  /** PINGs waiting for a PONG, per sending direction. */
  private readonly pings: [Pending[], Pending[]] = [[], []];
  private nextId = 1;
  /** Message waiting for its payload (PUB/HPUB/MSG/HMSG), per direction. */
  private readonly open: [L7Message | null, L7Message | null] = [null, null];
  private readonly openHeaders = [0, 0];
  private readonly trace = new TraceHeaders();

  constructor(private readonly sink: MessageSink) {
    this.lines = [new LineStream(0, this), new LineStream(1, this)];
  }

  get bufferedBytes(): number {
    return this.lines[0].bufferedBytes + this.lines[1].bufferedBytes;
  }

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    this.lines[dir].data(buf, off, len, seq, tsUs);
  }

  line(dir: Dir, b: Buffer, s: number, e: number, raw: number, seq: number, tsUs: number): number {
    const n = tokenize(b, s, e);
    if (n === 0) return 0;
    const op = opOf(b, tokS[0], tokE[0]);
    if (op === Op.None || !argsOk(b, op, n)) return 0;
    if (!this.roleKnown && (fromServer(op) || fromClient(op))) {
      this.serverDir = (fromServer(op) ? dir : dir ^ 1) as Dir;
      this.roleKnown = true;
    }
    const clientDir = (this.serverDir ^ 1) as Dir;
    this.endOpen(dir, tsUs, true);
    switch (op) {
      case Op.Info:
      case Op.Connect: {
        let json: Record<string, unknown> | null = null;
        try {
          const v = JSON.parse(b.toString('utf8', tokS[1], e)) as unknown;
          if (v !== null && typeof v === 'object') json = v as Record<string, unknown>;
        } catch {
          json = null;
        }
        if (op === Op.Info) {
          if (json !== null) {
            if (typeof json.version === 'string') this.version = json.version.slice(0, 32);
            if (typeof json.server_name === 'string') this.serverName = json.server_name.slice(0, 128);
          }
          this.oneWay(op, clientDir, seq, tsUs, raw, null);
        } else {
          this.verbose = json !== null && json.verbose === true;
          this.clientOp(op, clientDir, seq, tsUs, raw, null);
        }
        return 0;
      }
      case Op.Pub:
      case Op.Hpub: {
        const total = parseUint(b, tokS[n - 1], tokE[n - 1]);
        const hdr = op === Op.Hpub ? parseUint(b, tokS[n - 2], tokE[n - 2]) : 0;
        const m = this.clientOp(op, clientDir, seq, tsUs, total - hdr, b.toString('latin1', tokS[1], tokE[1]));
        return this.expectPayload(dir, m, hdr, total);
      }
      case Op.Msg:
      case Op.Hmsg: {
        const total = parseUint(b, tokS[n - 1], tokE[n - 1]);
        const hdr = op === Op.Hmsg ? parseUint(b, tokS[n - 2], tokE[n - 2]) : 0;
        const m = this.oneWay(op, clientDir, seq, tsUs, total - hdr, b.toString('latin1', tokS[1], tokE[1]), false);
        return this.expectPayload(dir, m, hdr, total);
      }
      case Op.Sub:
        this.clientOp(op, clientDir, seq, tsUs, null, b.toString('latin1', tokS[1], tokE[1]));
        return 0;
      case Op.Unsub:
        this.clientOp(op, clientDir, seq, tsUs, null, null);
        return 0;
      case Op.Ping: {
        // The row reads client → server whoever pinged; the PONG from the other side answers it.
        const m = this.message(MsgKind.Request, clientDir, op, seq, tsUs, null, null);
        m.sessionId = this.nextId++;
        this.queue(this.pings[dir], m.sessionId);
        this.sink.begin(m);
        this.endMsg(m, tsUs);
        return 0;
      }
      case Op.Pong: {
        const q = this.pings[dir ^ 1];
        const m = this.message(MsgKind.Response, this.serverDir, op, seq, tsUs, null, null);
        m.sessionId = q.length > 0 ? q.shift()!.id : this.nextId++;
        m.responseStatus = 'ok';
        this.sink.begin(m);
        this.endMsg(m, tsUs);
        return 0;
      }
      case Op.Ok:
      case Op.Err: {
        const text = op === Op.Err ? clip(b, tokE[0], e).trim().replace(/^'|'$/g, '') : null;
        if (op === Op.Ok && this.acks.length === 0) return 0; // nothing waits for it: not a row
        const m = this.message(MsgKind.Response, this.serverDir, op, seq, tsUs, null, null);
        m.sessionId = this.acks.length > 0 ? this.acks.shift()!.id : this.nextId++;
        m.responseStatus = text === null ? 'ok' : natsErrStatus(text);
        m.responseException = text;
        m.responseResult = text === null ? '+OK' : `-ERR ${text}`;
        this.sink.begin(m);
        this.endMsg(m, tsUs);
        return 0;
      }
      default:
        return 0;
    }
  }

  private queue(q: Pending[], id: number): void {
    q.push({ id });
    if (q.length > 1024) q.shift();
  }

  private message(kind: MsgKind, dir: Dir, op: Op, seq: number, tsUs: number, length: number | null, subject: string | null): L7Message {
    const m = new L7Message(kind, dir);
    m.startTs = m.endTs = tsUs;
    m.tcpSeq = seq;
    m.requestType = NAMES[op];
    m.version = this.version;
    m.requestDomain = this.serverName;
    m.length = length;
    if (subject !== null) {
      m.requestResource = subject.length > 256 ? subject.slice(0, 256) : subject;
      m.endpoint = natsEndpoint(subject);
    }
    return m;
  }

  /** A client operation: answered by +OK/-ERR in verbose mode, a row of its own otherwise. */
  private clientOp(op: Op, dir: Dir, seq: number, tsUs: number, length: number | null, subject: string | null): L7Message {
    const m = this.message(MsgKind.Request, dir, op, seq, tsUs, length, subject);
    if (this.verbose) {
      m.sessionId = this.nextId++;
      this.queue(this.acks, m.sessionId);
    } else {
      m.oneWay = true;
      m.responseStatus = 'ok';
    }
    this.sink.begin(m);
    if (op !== Op.Pub && op !== Op.Hpub) this.endMsg(m, tsUs);
    return m;
  }

  private oneWay(op: Op, dir: Dir, seq: number, tsUs: number, length: number | null, subject: string | null, end = true): L7Message {
    const m = this.message(MsgKind.Request, dir, op, seq, tsUs, length, subject);
    m.oneWay = true;
    m.responseStatus = 'ok';
    this.sink.begin(m);
    if (end) this.endMsg(m, tsUs);
    return m;
  }

  private expectPayload(dir: Dir, m: L7Message, hdr: number, total: number): number {
    this.open[dir] = m;
    this.openHeaders[dir] = hdr;
    if (hdr > 0) this.lines[dir].capture = Math.min(hdr, MAX_HEADERS);
    return total + 2;
  }

  blockEnd(dir: Dir, cap: Buffer, capLen: number, tsUs: number): void {
    const m = this.open[dir];
    if (m === null) return;
    this.open[dir] = null;
    if (this.lines[dir].blockTruncated) m.truncated = true;
    if (capLen > 0) this.headers(m, cap, capLen);
    this.endMsg(m, tsUs);
  }

  /** `NATS/1.0[ status]` then `Name: value` lines: trace context and x-request-id. */
  private headers(m: L7Message, b: Buffer, len: number): void {
    const t = this.trace;
    t.reset();
    let i = 0;
    let first = true;
    while (i < len) {
      let j = i;
      while (j < len && b[j] !== 10) j++;
      let e = j;
      if (e > i && b[e - 1] === 13) e--;
      if (!first && e > i) {
        let c = i;
        while (c < e && b[c] !== 58) c++;
        if (c < e) {
          const name = b.toString('latin1', i, c).trim().toLowerCase();
          const value = b.toString('latin1', c + 1, e).trim();
          switch (name) {
            case 'traceparent':
              t.traceparent = value;
              break;
            case 'sw8':
              t.sw8 = value;
              break;
            case 'b3':
              t.b3 = value;
              break;
            case 'x-b3-traceid':
              t.xB3TraceId = value;
              break;
            case 'x-b3-spanid':
              t.xB3SpanId = value;
              break;
            case 'x-b3-parentspanid':
              t.xB3ParentSpanId = value;
              break;
            case 'uber-trace-id':
              t.uberTraceId = value;
              break;
            case 'x-request-id':
              m.xRequestId = value.slice(0, 128);
              break;
          }
        }
      }
      first = false;
      i = j + 1;
    }
    if (!t.any) return;
    const ids = resolveTrace(t);
    if (ids === null) return;
    m.traceId = ids.traceId;
    m.spanId = ids.spanId;
    m.parentSpanId = ids.parentSpanId;
  }

  lost(dir: Dir, tsUs: number): void {
    this.endOpen(dir, tsUs, true);
  }

  private endOpen(dir: Dir, tsUs: number, truncated: boolean): void {
    const m = this.open[dir];
    if (m === null) return;
    this.open[dir] = null;
    if (truncated) m.truncated = true;
    this.endMsg(m, tsUs);
  }

  private endMsg(m: L7Message, tsUs: number): void {
    if (m.ended) return;
    if (tsUs > m.endTs) m.endTs = tsUs;
    m.ended = true;
    this.sink.end(m);
  }

  gap(dir: Dir, _seq: number, len: number, tsUs: number): void {
    this.lines[dir].gap(len, tsUs);
  }

  datagram(): void {}

  close(dir: Dir, tsUs: number): void {
    this.endOpen(dir, tsUs, true);
  }

  finish(tsUs: number): void {
    this.endOpen(0, tsUs, true);
    this.endOpen(1, tsUs, true);
  }
}

export const NATS: L7Protocol = {
  name: 'nats',
  tcp: true,
  udp: false,
  ports: NATS_PORTS,
  requestTimeoutUs: 120e6,
  hasSessionId: true,
  detect,
  createParser(sink: MessageSink): L7FlowParser {
    return new NatsParser(sink);
  },
};
