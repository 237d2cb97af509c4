// AMQP 0-9-1 (RabbitMQ): protocol header, then frames `type(1) channel(2) size(4) payload 0xCE`.
//
// Rows: a synchronous method (Queue.Declare, Basic.Get, Connection.Open, …) is a request answered by its
// `-Ok` (Basic.Get also by Basic.GetEmpty) on the same channel; asynchronous methods (Basic.Publish,
// Basic.Deliver, Basic.Return, Basic.Ack/Nack/Reject, Connection.Blocked, …) are rows of their own,
// kept open until their content (header frame + body frames) has passed so that the trace headers of
// the content properties and the body size belong to them. A Channel.Close / Connection.Close carrying
// an error reply code is one row: the refusal of the request it answers (DeepFlow's rule: 320
// connection-forced, 506 resource-error, 541 internal-error are server errors, other codes but 200
// client errors), or a row of its own; its Close-Ok is not another row. A synchronous method sent with
// its no-wait bit (Queue.Declare, Exchange.Declare, Queue.Bind, Basic.Consume, …) gets no -Ok: a row of
// its own. Heartbeats and the protocol header are not rows (DeepFlow lists them as sessions).
//
// Every row reads client → broker, also for what the broker asks (Connection.Start, Tune, a broker's
// Close) or pushes (Basic.Deliver), so the service map has one edge. request_type `Class.Method`,
// request_domain the vhost, request_resource and endpoint `exchange.routing_key` or the queue (DeepFlow).
// Lengths: the method frame's bytes; for a method with content, the body size.

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

const AMQP_PORTS = [5672];
/** Method / content-header payload bytes kept (arguments, property tables). */
const MAX_CAPTURE = 16 * 1024;
const MAX_PENDING = 256;

const CLASSES: Record<number, string> = { 10: 'Connection', 20: 'Channel', 40: 'Exchange', 50: 'Queue', 60: 'Basic', 85: 'Confirm', 90: 'Tx' };
const METHODS: Record<number, Record<number, string>> = {
  10: { 10: 'Start', 11: 'StartOk', 20: 'Secure', 21: 'SecureOk', 30: 'Tune', 31: 'TuneOk', 40: 'Open', 41: 'OpenOk', 50: 'Close', 51: 'CloseOk', 60: 'Blocked', 61: 'Unblocked', 70: 'UpdateSecret', 71: 'UpdateSecretOk' },
  20: { 10: 'Open', 11: 'OpenOk', 20: 'Flow', 21: 'FlowOk', 40: 'Close', 41: 'CloseOk' },
  40: { 10: 'Declare', 11: 'DeclareOk', 20: 'Delete', 21: 'DeleteOk', 30: 'Bind', 31: 'BindOk', 40: 'Unbind', 51: 'UnbindOk' },
  50: { 10: 'Declare', 11: 'DeclareOk', 20: 'Bind', 21: 'BindOk', 30: 'Purge', 31: 'PurgeOk', 40: 'Delete', 41: 'DeleteOk', 50: 'Unbind', 51: 'UnbindOk' },
  60: { 10: 'Qos', 11: 'QosOk', 20: 'Consume', 21: 'ConsumeOk', 30: 'Cancel', 31: 'CancelOk', 40: 'Publish', 50: 'Return', 60: 'Deliver', 70: 'Get', 71: 'GetOk', 72: 'GetEmpty', 80: 'Ack', 90: 'Reject', 100: 'RecoverAsync', 110: 'Recover', 111: 'RecoverOk', 120: 'Nack' },
  85: { 10: 'Select', 11: 'SelectOk' },
  90: { 10: 'Select', 11: 'SelectOk', 20: 'Commit', 21: 'CommitOk', 30: 'Rollback', 31: 'RollbackOk' },
};

const enum Kind {
  Request,
  Response,
  OneWay,
}

/** What a method is (DeepFlow's classification). */
function kindOf(cls: number, method: number): Kind {
  if (cls === 60 && (method === 40 || method === 50 || method === 60 || method === 80 || method === 90 || method === 100 || method === 120)) return Kind.OneWay;
  if (cls === 10 && (method === 60 || method === 61)) return Kind.OneWay;
  if (cls === 60 && method === 72) return Kind.Response; // GetEmpty answers Get
  if (cls === 40 && method === 51) return Kind.Response; // Exchange.UnbindOk is 51
  return method % 2 === 1 || (cls === 60 && method === 71) ? Kind.Response : Kind.Request;
}

/** Does response method `rm` answer request method `qm` of class `cls`? */
function answers(cls: number, qm: number, rm: number): boolean {
  if (cls === 60 && qm === 70) return rm === 71 || rm === 72;
  if (cls === 40 && qm === 40) return rm === 51;
  return rm === qm + 1;
}

/** Reply code → response_status (DeepFlow). */
export function amqpStatus(code: number): ResponseStatus {
  if (code === 200 || code === 0) return 'ok';
  if (code === 320 || code === 506 || code === 541) return 'server_error';
  return 'client_error';
}

export function methodName(cls: number, method: number): string | null {
  const c = CLASSES[cls];
  const m = METHODS[cls]?.[method];
  return c === undefined || m === undefined ? null : `${c}.${m}`;
}

const HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');

function isProtocolHeader(b: Buffer, off: number, len: number): boolean {
  if (len < 8) return false;
  for (let k = 0; k < 8; k++) if (b[off + k] !== HEADER[k]) return false;
  return true;
}

/** A frame at b[off…] that looks right (type, known method, frame end where the size says). */
function frameOk(b: Buffer, off: number, len: number): boolean {
  if (len < 8) return false;
  const type = b[off];
  if (type !== 1 && type !== 2 && type !== 3 && type !== 8) return false;
  const size = b.readUInt32BE(off + 3);
  if (size > 128 * 1024 * 1024) return false;
  if (7 + size < len && b[off + 7 + size] !== 0xce) return false;
  if (type === 1) return size >= 4 && len >= 11 && methodName(b.readUInt16BE(off + 7), b.readUInt16BE(off + 9)) !== null;
  if (type === 8) return size === 0 && b.readUInt16BE(off + 1) === 0;
  if (type === 2) return size >= 14 && len >= 9 && CLASSES[b.readUInt16BE(off + 7)] !== undefined;
  return 7 + size < len; // a body frame alone is believed only with its frame end in view
}

function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp) return 0;
  if (off + len > buf.length) len = buf.length - off;
  if (isProtocolHeader(buf, off, len)) return 95;
  if (!frameOk(buf, off, len)) return 0;
  const onPort = AMQP_PORTS.includes(ctx.srcPort) || AMQP_PORTS.includes(ctx.dstPort);
  const size = buf.readUInt32BE(off + 3);
  // A method frame whose end byte is in view is as good as a header.
  if (buf[off] === 1 && 7 + size < len) return onPort ? 85 : 60;
  return onPort ? 55 : 0;
}

// ---- argument readers (bounded by the captured payload) ----

let rdPos = 0;
/** Short string at b[p] within [.., end); sets rdPos after it; null if it does not fit. */
function shortStr(b: Buffer, p: number, end: number): string | null {
  if (p >= end) return null;
  const n = b[p];
  if (p + 1 + n > end) return null;
  rdPos = p + 1 + n;
  return b.toString('utf8', p + 1, p + 1 + n);
}

interface Args {
  queue: string | null;
  exchange: string | null;
  routingKey: string | null;
  vhost: string | null;
  replyCode: number;
  replyText: string | null;
  /** The method's no-wait bit is set: the peer sends no -Ok. */
  noWait: boolean;
}

/** The no-wait bit `mask` of the bits octet at b[q] (q < 0: the octet could not be located). */
function bit(b: Buffer, q: number, end: number, mask: number): boolean {
  return q >= 0 && q < end && (b[q] & mask) !== 0;
}

function readArgs(cls: number, method: number, b: Buffer, p: number, end: number, a: Args): void {
  a.queue = a.exchange = a.routingKey = a.vhost = a.replyText = null;
  a.replyCode = -1;
  a.noWait = false;
  const key = cls * 1000 + method;
  switch (key) {
    case 50010: // Queue.Declare: reserved short, queue, bits (no-wait 0x10)
    case 50030: // Queue.Purge: bits (no-wait 0x01)
    case 50040: // Queue.Delete: bits (no-wait 0x04)
      a.queue = shortStr(b, p + 2, end);
      if (a.queue !== null) a.noWait = bit(b, rdPos, end, key === 50010 ? 0x10 : key === 50030 ? 0x01 : 0x04);
      break;
    case 60020: // Basic.Consume: reserved, queue, consumer tag, bits (no-wait 0x08)
      a.queue = shortStr(b, p + 2, end);
      if (a.queue !== null && shortStr(b, rdPos, end) !== null) a.noWait = bit(b, rdPos, end, 0x08);
      break;
    case 60070: // Basic.Get
      a.queue = shortStr(b, p + 2, end);
      break;
    case 60030: // Basic.Cancel: consumer tag, bits (no-wait 0x01)
      if (shortStr(b, p, end) !== null) a.noWait = bit(b, rdPos, end, 0x01);
      break;
    case 85010: // Confirm.Select: bits (no-wait 0x01)
      a.noWait = bit(b, p, end, 0x01);
      break;
    case 50011: // Queue.DeclareOk: queue
      a.queue = shortStr(b, p, end);
      break;
    case 50020: // Queue.Bind: reserved, queue, exchange, routing key, bits (no-wait 0x01)
    case 50050: // Queue.Unbind (no no-wait)
      a.queue = shortStr(b, p + 2, end);
      if (a.queue !== null) a.exchange = shortStr(b, rdPos, end);
      if (a.exchange !== null) a.routingKey = shortStr(b, rdPos, end);
      if (key === 50020 && a.routingKey !== null) a.noWait = bit(b, rdPos, end, 0x01);
      break;
    case 40010: // Exchange.Declare: reserved, exchange, type, bits (no-wait 0x10)
      a.exchange = shortStr(b, p + 2, end);
      if (a.exchange !== null && shortStr(b, rdPos, end) !== null) a.noWait = bit(b, rdPos, end, 0x10);
      break;
    case 40020: // Exchange.Delete: reserved, exchange, bits (no-wait 0x02)
      a.exchange = shortStr(b, p + 2, end);
      if (a.exchange !== null) a.noWait = bit(b, rdPos, end, 0x02);
      break;
    case 40030: // Exchange.Bind: reserved, destination, source, routing key, bits (no-wait 0x01)
    case 40040: {
      const dst = shortStr(b, p + 2, end);
      const src = dst !== null ? shortStr(b, rdPos, end) : null;
      if (src !== null) a.routingKey = shortStr(b, rdPos, end);
      if (a.routingKey !== null) a.noWait = bit(b, rdPos, end, 0x01);
      break;
    }
    case 60040: // Basic.Publish: reserved, exchange, routing key
      a.exchange = shortStr(b, p + 2, end);
      if (a.exchange !== null) a.routingKey = shortStr(b, rdPos, end);
      break;
    case 60050: // Basic.Return: reply code, reply text, exchange, routing key
      if (p + 2 <= end) a.replyCode = b.readUInt16BE(p);
      a.replyText = shortStr(b, p + 2, end);
      if (a.replyText !== null) a.exchange = shortStr(b, rdPos, end);
      if (a.exchange !== null) a.routingKey = shortStr(b, rdPos, end);
      break;
    case 60060: {
      // Basic.Deliver: consumer tag, delivery tag (8), redelivered (1), exchange, routing key
      const tag = shortStr(b, p, end);
      if (tag !== null) a.exchange = shortStr(b, rdPos + 9, end);
      if (a.exchange !== null) a.routingKey = shortStr(b, rdPos, end);
      break;
    }
    case 60071: // Basic.GetOk: delivery tag (8), redelivered (1), exchange, routing key
      a.exchange = shortStr(b, p + 9, end);
      if (a.exchange !== null) a.routingKey = shortStr(b, rdPos, end);
      break;
    case 10040: // Connection.Open: vhost
      a.vhost = shortStr(b, p, end);
      break;
    case 10050: // Connection.Close: reply code, reply text, class, method
    case 20040: // Channel.Close
      if (p + 2 <= end) a.replyCode = b.readUInt16BE(p);
      a.replyText = shortStr(b, p + 2, end);
      break;
  }
}

function endpointOf(a: Args): string | null {
  const ex = a.exchange ?? '';
  const rk = a.routingKey ?? '';
  if (ex.length + rk.length > 0) return clip(`${ex}.${rk}`);
  return a.queue !== null && a.queue.length > 0 ? clip(a.queue) : null;
}

function clip(s: string): string {
  return s.length > 256 ? s.slice(0, 256) : s;
}

/** Reads the `headers` field table of Basic content properties into `t` (trace context). */
function readPropertyHeaders(b: Buffer, p: number, end: number, t: TraceHeaders, m: L7Message): void {
  if (p + 2 > end) return;
  const flags = b.readUInt16BE(p);
  p += 2;
  if (flags & 0x8000) {
    if (shortStr(b, p, end) === null) return; // content-type
    p = rdPos;
  }
  if (flags & 0x4000) {
    if (shortStr(b, p, end) === null) return; // content-encoding
    p = rdPos;
  }
  if ((flags & 0x2000) === 0 || p + 4 > end) return;
  const tableEnd = Math.min(end, p + 4 + b.readUInt32BE(p));
  p += 4;
  t.reset();
  for (let guard = 0; p < tableEnd && guard < 256; guard++) {
    const name = shortStr(b, p, tableEnd);
    if (name === null) return;
    p = rdPos;
    if (p >= tableEnd) return;
    const type = b[p++];
    let value: string | null = null;
    let size: number;
    switch (type) {
      case 0x53: // 'S' long string
        if (p + 4 > tableEnd) return;
        size = b.readUInt32BE(p);
        if (p + 4 + size > tableEnd) return;
        value = b.toString('utf8', p + 4, p + 4 + Math.min(size, 512));
        p += 4 + size;
        break;
      case 0x73: // 's' short string
        if (shortStr(b, p, tableEnd) === null) return;
        value = b.toString('utf8', p + 1, rdPos);
        p = rdPos;
        break;
      case 0x74: case 0x62: case 0x42: p += 1; break; // t b B
      case 0x55: case 0x75: p += 2; break; // U u
      case 0x49: case 0x69: case 0x66: p += 4; break; // I i f
      case 0x4c: case 0x6c: case 0x64: case 0x54: p += 8; break; // L l d T
      case 0x44: p += 5; break; // D decimal
      case 0x56: break; // V void
      case 0x46: case 0x41: case 0x78: // F table, A array, x byte array: skip by their size
        if (p + 4 > tableEnd) return;
        p += 4 + b.readUInt32BE(p);
        break;
      default:
        return;
    }
    if (value === null) continue;
    switch (name.toLowerCase()) {
      case 'traceparent': t.traceparent = value; break;
      case 'sw8': t.sw8 = value; break;
      case 'b3': t.b3 = value; break;
      case 'x-b3-traceid': t.xB3TraceId = value; break;
      case 'x-b3-spanid': t.xB3SpanId = value; break;
      case 'x-b3-parentspanid': t.xB3ParentSpanId = value; break;
      case 'uber-trace-id': t.uberTraceId = value; break;
      case 'x-request-id': m.xRequestId = value.slice(0, 128); break;
    }
  }
  if (!t.any) return;
  const ids = resolveTrace(t);
  if (ids === null) return;
  m.traceId = ids.traceId;
  m.spanId = ids.spanId;
  m.parentSpanId = ids.parentSpanId;
}

/** Per-direction frame state. */
class Half {
  hdr = Buffer.alloc(7);
  hdrLen = 0;
  /** Header bytes of the protocol header matched so far (it is 8 bytes, not a frame). */
  proto = 0;
  type = 0;
  channel = 0;
  size = 0;
  /** Payload bytes still to come, then the frame end byte. */
  left = 0;
  needEnd = false;
  cap = Buffer.alloc(0);
  capLen = 0;
  capNeed = 0;
  startSeq = 0;
  startTs = 0;
  lost = false;
  truncated = false;
  /** Message whose content (header + body frames) is still coming, per channel. */
  content = new Map<number, { m: L7Message; bodyLeft: number; hasHeader: boolean }>();
}

interface Pending {
  id: number;
  wireDir: Dir;
  cls: number;
  method: number;
}

export class AmqpParser implements L7FlowParser {
  private readonly half: [Half, Half] = [new Half(), new Half()];
  /** Wire direction of the broker (receiver of the protocol header, sender of Connection.Start). */
  private brokerDir: Dir = 1;
  private roleKnown = false;
  private vhost: string | null = null;
  private readonly pending = new Map<number, Pending[]>();
  private pendingCount = 0;
  private nextId = 1;
  private readonly args: Args = { queue: null, exchange: null, routingKey: null, vhost: null, replyCode: -1, replyText: null, noWait: false };
  private readonly trace = new TraceHeaders();
  /** class << 16 | channel of error closes whose Close-Ok is not a row. */
  private readonly swallowCloseOk = new Set<number>();

  constructor(private readonly sink: MessageSink) {}

  get bufferedBytes(): number {
    return this.half[0].cap.length + this.half[1].cap.length;
  }

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    if (off + len > buf.length) len = Math.max(0, buf.length - off);
    const h = this.half[dir];
    const end = off + len;
    let i = off;
    if (h.lost) {
      if (!isProtocolHeader(buf, off, len) && !frameOk(buf, off, len)) return;
      h.lost = false;
      h.hdrLen = 0;
      h.left = 0;
      h.needEnd = false;
    }
    while (i < end) {
      if (h.left > 0) {
        const n = Math.min(h.left, end - i);
        if (h.capLen < h.capNeed) {
          const c = Math.min(n, h.capNeed - h.capLen);
          buf.copy(h.cap, h.capLen, i, i + c);
          h.capLen += c;
        }
        h.left -= n;
        i += n;
        continue;
      }
      if (h.needEnd) {
        h.needEnd = false;
        if (buf[i] !== 0xce) {
          this.loseFraming(dir, tsUs);
          return;
        }
        i++;
        this.frame(dir, h, tsUs);
        continue;
      }
      if (h.hdrLen === 0) {
        h.startSeq = (seq + (i - off)) >>> 0;
        h.startTs = tsUs;
        if (buf[i] === 0x41 /* 'A' */ || h.proto > 0) {
          // The protocol header: 8 bytes, possibly split.
          while (i < end && h.proto < 8 && buf[i] === HEADER[h.proto]) {
            h.proto++;
            i++;
          }
          if (h.proto === 8) {
            h.proto = 0;
            this.brokerDir = (dir ^ 1) as Dir;
            this.roleKnown = true;
            continue;
          }
          if (i < end) {
            h.proto = 0;
            this.loseFraming(dir, tsUs);
            return;
          }
          return;
        }
      }
      const n = Math.min(7 - h.hdrLen, end - i);
      buf.copy(h.hdr, h.hdrLen, i, i + n);
      h.hdrLen += n;
      i += n;
      if (h.hdrLen < 7) return;
      h.hdrLen = 0;
      h.type = h.hdr[0];
      h.channel = h.hdr.readUInt16BE(1);
      h.size = h.hdr.readUInt32BE(3);
      if ((h.type !== 1 && h.type !== 2 && h.type !== 3 && h.type !== 8) || h.size > 128 * 1024 * 1024) {
        this.loseFraming(dir, tsUs);
        return;
      }
      h.left = h.size;
      h.needEnd = true;
      h.capLen = 0;
      h.truncated = false;
      h.capNeed = h.type === 1 || h.type === 2 ? Math.min(h.size, MAX_CAPTURE) : 0;
      if (h.cap.length < h.capNeed) h.cap = Buffer.allocUnsafe(Math.max(h.capNeed, 256));
    }
  }

  /** A complete frame is in h (payload captured up to capNeed). */
  private frame(dir: Dir, h: Half, tsUs: number): void {
    switch (h.type) {
      case 1:
        this.method(dir, h, tsUs);
        break;
      case 2: {
        const c = h.content.get(h.channel);
        if (c === undefined || h.capLen < 12) break;
        c.hasHeader = true;
        const body = h.cap.readUInt32BE(4) * 4294967296 + h.cap.readUInt32BE(8);
        c.bodyLeft = body;
        c.m.length = body;
        c.m.endTs = tsUs;
        readPropertyHeaders(h.cap, 12, h.capLen, this.trace, c.m);
        if (body === 0) this.endContent(h, h.channel, tsUs);
        break;
      }
      case 3: {
        const c = h.content.get(h.channel);
        if (c === undefined) break;
        c.bodyLeft -= h.size;
        c.m.endTs = tsUs;
        if (h.truncated) c.m.truncated = true;
        if (c.bodyLeft <= 0) this.endContent(h, h.channel, tsUs);
        break;
      }
      default:
        break; // heartbeat
    }
  }

  private method(dir: Dir, h: Half, tsUs: number): void {
    if (h.capLen < 4) return;
    const cls = h.cap.readUInt16BE(0);
    const method = h.cap.readUInt16BE(2);
    const name = methodName(cls, method);
    if (name === null) return;
    // A new method on a channel ends content still open there (its body was cut short).
    const open = h.content.get(h.channel);
    if (open !== undefined) {
      open.m.truncated = true;
      this.endContent(h, h.channel, tsUs);
    }
    if (!this.roleKnown && cls === 10 && (method === 10 || method === 11)) {
      this.brokerDir = (method === 10 ? dir : dir ^ 1) as Dir;
      this.roleKnown = true;
    }
    const a = this.args;
    readArgs(cls, method, h.cap, 4, h.capLen, a);
    if (a.vhost !== null) this.vhost = a.vhost.slice(0, 128);
    const kind = kindOf(cls, method);
    const clientDir = (this.brokerDir ^ 1) as Dir;
    const frameBytes = h.size + 8;
    const hasContent = cls === 60 && (method === 40 || method === 50 || method === 60 || method === 71);

    // An error close is one row: the refusal of the oldest request of the other side (on its channel;
    // any, for the connection), else a row of its own. Its Close-Ok is then not a row.
    const isClose = (cls === 10 && method === 50) || (cls === 20 && method === 40);
    if (isClose && a.replyCode > 0 && a.replyCode !== 200) {
      const p = this.takePending(dir, cls === 10 ? -1 : h.channel, -1, -1);
      const r = this.msg(MsgKind.Response, this.brokerDir, name, h, tsUs, frameBytes);
      r.sessionId = p !== null ? p.id : this.nextId++;
      r.responseCode = a.replyCode;
      r.responseStatus = amqpStatus(a.replyCode);
      r.responseException = a.replyText;
      r.responseResult = a.replyText;
      this.emit(r, tsUs);
      this.swallowCloseOk.add(cls * 65536 + h.channel);
      return;
    }
    if (kind === Kind.Response && ((cls === 10 && method === 51) || (cls === 20 && method === 41)) && this.swallowCloseOk.delete((cls * 65536) + h.channel)) {
      return;
    }

    if (kind === Kind.Response) {
      const p = this.takePending(dir, h.channel, cls, method);
      const r = this.msg(MsgKind.Response, this.brokerDir, name, h, tsUs, frameBytes);
      r.sessionId = p !== null ? p.id : this.nextId++;
      r.responseStatus = 'ok';
      const ep = endpointOf(a);
      if (ep !== null) r.requestResource = r.endpoint = ep;
      if (hasContent) this.openContent(h, r);
      else this.emit(r, tsUs);
      return;
    }
    const m = this.msg(MsgKind.Request, clientDir, name, h, tsUs, frameBytes);
    const ep = endpointOf(a);
    if (ep !== null) m.requestResource = m.endpoint = ep;
    if (kind === Kind.OneWay || a.noWait) {
      m.oneWay = true;
      m.responseStatus = 'ok';
      if (cls === 60 && method === 50 && a.replyCode > 0) {
        m.responseCode = a.replyCode;
        m.responseStatus = amqpStatus(a.replyCode);
        m.responseException = a.replyText;
        m.responseResult = a.replyText;
      }
    } else {
      m.sessionId = this.nextId++;
      this.addPending({ id: m.sessionId, wireDir: dir, cls, method }, h.channel);
    }
    if (hasContent) {
      this.sink.begin(m);
      this.openContent(h, m, true);
    } else {
      this.emit(m, tsUs);
    }
  }

  private msg(kind: MsgKind, dir: Dir, name: string, h: Half, tsUs: number, length: number): L7Message {
    const m = new L7Message(kind, dir);
    m.startTs = h.startTs;
    m.endTs = tsUs;
    m.tcpSeq = h.startSeq;
    m.requestType = name;
    m.version = '0-9-1';
    m.requestDomain = this.vhost;
    m.length = length;
    if (h.truncated) m.truncated = true;
    return m;
  }

  private emit(m: L7Message, tsUs: number): void {
    this.sink.begin(m);
    this.endMsg(m, tsUs);
  }

  private endMsg(m: L7Message, tsUs: number): void {
    if (m.ended) return;
    if (tsUs > m.endTs) m.endTs = tsUs;
    m.ended = true;
    this.sink.end(m);
  }

  private openContent(h: Half, m: L7Message, begun = false): void {
    if (!begun) this.sink.begin(m);
    m.length = null;
    h.content.set(h.channel, { m, bodyLeft: 0, hasHeader: false });
    if (h.content.size > MAX_PENDING) {
      const first = h.content.keys().next().value as number;
      this.endContent(h, first, m.startTs);
    }
  }

  private endContent(h: Half, channel: number, tsUs: number): void {
    const c = h.content.get(channel);
    if (c === undefined) return;
    h.content.delete(channel);
    this.endMsg(c.m, Math.max(tsUs, c.m.endTs));
  }

  private addPending(p: Pending, channel: number): void {
    let q = this.pending.get(channel);
    if (q === undefined) {
      if (this.pending.size >= MAX_PENDING) return;
      q = [];
      this.pending.set(channel, q);
    }
    q.push(p);
    this.pendingCount++;
    if (q.length > MAX_PENDING) {
      q.shift();
      this.pendingCount--;
    }
  }

  /**
   * The oldest pending request sent opposite to `dir` on `channel` (-1: any) that a response of
   * `cls`/`method` answers (cls -1: any request, for an error close). Removed from the queue.
   */
  private takePending(dir: Dir, channel: number, cls: number, method: number): Pending | null {
    if (this.pendingCount === 0) return null;
    let best: Pending | null = null;
    let bestQ: Pending[] | null = null;
    let bestIdx = -1;
    for (const [ch, q] of this.pending) {
      if (channel >= 0 && ch !== channel) continue;
      for (let k = 0; k < q.length; k++) {
        const p = q[k];
        if (p.wireDir === dir) continue;
        if (cls >= 0 && (p.cls !== cls || !answers(cls, p.method, method))) continue;
        if (best === null || p.id < best.id) {
          best = p;
          bestQ = q;
          bestIdx = k;
        }
        break;
      }
    }
    if (best === null || bestQ === null) return null;
    bestQ.splice(bestIdx, 1);
    this.pendingCount--;
    return best;
  }

  private loseFraming(dir: Dir, tsUs: number): void {
    const h = this.half[dir];
    h.lost = true;
    h.hdrLen = 0;
    h.left = 0;
    h.needEnd = false;
    h.proto = 0;
    for (const ch of [...h.content.keys()]) {
      h.content.get(ch)!.m.truncated = true;
      this.endContent(h, ch, tsUs);
    }
  }

  gap(dir: Dir, _seq: number, len: number, tsUs: number): void {
    const h = this.half[dir];
    if (h.lost) return;
    if (h.left > 0 && len <= h.left) {
      // Inside a frame: the framing survives; its payload lost bytes.
      h.left -= len;
      h.truncated = true;
      h.capNeed = h.capLen;
      return;
    }
    this.loseFraming(dir, tsUs);
  }

  datagram(): void {}

  close(_dir: Dir, _tsUs: number): void {}

  finish(tsUs: number): void {
    for (const h of this.half) {
      for (const ch of [...h.content.keys()]) {
        h.content.get(ch)!.m.truncated = true;
        this.endContent(h, ch, tsUs);
      }
    }
  }
}

export const AMQP: L7Protocol = {
  name: 'amqp',
  tcp: true,
  udp: false,
  ports: AMQP_PORTS,
  requestTimeoutUs: 120e6,
  hasSessionId: true,
  detect,
  createParser(sink: MessageSink): L7FlowParser {
    return new AmqpParser(sink);
  },
};
