// Dubbo 2 (the "dubbo" protocol) over TCP: a 16-byte header (magic 0xdabb, flags: request / two-way /
// event and serialization id, status, request id, body length) and a body. Requests and responses pair
// by request id. The first bytes of each body are kept; the rest is counted.
//
// Fields (DeepFlow's rpc/dubbo.rs): the request body's leading strings (dubbo version, service path,
// service version, method) in Hessian2 (serialization 2) or Kryo (8) → method as request_type, service as
// request_domain and request_resource, `service/method` as endpoint, dubbo version as version; body length
// → request/response length; status byte → response_code: 20 OK; 30, 40, 90 client error; 31, 50, 60,
// 70, 80, 100 server error (DeepFlow's classes; other codes ok as DeepFlow). A failed response's Hessian2
// error message → response_exception. Trace context from the request's attachments (traceparent, sw8,
// b3, uber-trace-id; DeepFlow reads sw8 and configured headers). Heartbeats (event flag) are rows of type
// HEARTBEAT; a request without the two-way flag expects no response (one-way row).

import { TraceHeaders, resolveTrace } from './trace-context';
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

const HEADER = 16;
/** Body bytes kept for the fields; the rest is counted. */
export const MAX_KEEP = 8 * 1024;
/** Largest body believed (Dubbo's default payload limit is 8 MiB). */
const MAX_BODY = 64 * 1024 * 1024;
const MAX_FIELD = 512;
const DUBBO_PORTS = [20880];
const SERIAL_HESSIAN2 = 2;
const SERIAL_KRYO = 8;

export function dubboStatus(code: number): ResponseStatus {
  switch (code) {
    case 20:
      return 'ok';
    case 30: // client timeout
    case 40: // bad request
    case 90: // client error
      return 'client_error';
    case 31: // server timeout
    case 50: // bad response
    case 60: // service not found
    case 70: // service error
    case 80: // server error
    case 100: // server thread pool exhausted
      return 'server_error';
    default:
      return 'ok';
  }
}

function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp) return 0;
  const end = Math.min(off + len, buf.length);
  if (end - off < HEADER || buf[off] !== 0xda || buf[off + 1] !== 0xbb) return 0;
  const flags = buf[off + 2];
  // A request (DeepFlow: requests only, status 0).
  if ((flags & 0x80) === 0 || buf[off + 3] !== 0) return 0;
  const n = buf.readUInt32BE(off + 12);
  return n <= MAX_BODY ? 90 : 0;
}

/** Hessian2 string at b[p]: its text or null; hNext = the byte after it. Lengths count characters. */
let hNext = 0;
function hessianString(b: Buffer, p: number, end: number): string | null {
  if (p >= end) return null;
  const t = b[p];
  let chars: number;
  let q: number;
  if (t <= 0x1f) {
    chars = t;
    q = p + 1;
  } else if (t >= 0x30 && t <= 0x33) {
    if (p + 1 >= end) return null;
    chars = ((t - 0x30) << 8) | b[p + 1];
    q = p + 2;
  } else if (t === 0x53 || t === 0x52) {
    if (p + 2 >= end) return null;
    chars = (b[p + 1] << 8) | b[p + 2];
    q = p + 3;
  } else {
    return null;
  }
  // Walk `chars` UTF-8 characters.
  const s = q;
  for (let k = 0; k < chars; k++) {
    if (q >= end) return null;
    const c = b[q];
    q += c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  }
  if (q > end) return null;
  hNext = q;
  return b.toString('utf8', s, Math.min(q, s + MAX_FIELD * 4));
}

/** Kryo ASCII string at b[p] (last character has its high bit set): text or null; hNext after it. */
function kryoString(b: Buffer, p: number, end: number): string | null {
  let s = '';
  for (let q = p; q < end && q - p < MAX_FIELD; q++) {
    const c = b[q];
    const ch = c & 0x7f;
    if (ch < 0x20 || ch === 0x7f) return null;
    s += String.fromCharCode(ch);
    if ((c & 0x80) !== 0) {
      hNext = q + 1;
      return s;
    }
  }
  return null;
}

/** Attachment keys read for trace context (Hessian2 short strings). */
const TRACE_KEYS: [string, keyof TraceHeaders][] = [
  ['traceparent', 'traceparent'],
  ['sw8', 'sw8'],
  ['b3', 'b3'],
  ['X-B3-TraceId', 'xB3TraceId'],
  ['X-B3-SpanId', 'xB3SpanId'],
  ['X-B3-ParentSpanId', 'xB3ParentSpanId'],
  ['uber-trace-id', 'uberTraceId'],
];
const TRACE_KEY_BYTES = TRACE_KEYS.map(([k]) => Buffer.concat([Buffer.from([k.length]), Buffer.from(k, 'latin1')]));

/** Parse state of one direction. */
class Half {
  readonly head = Buffer.alloc(HEADER);
  headHave = 0;
  /** Body bytes still to come (-1: reading a header). */
  left = -1;
  total = 0;
  readonly keep = Buffer.allocUnsafe(MAX_KEEP);
  keepLen = 0;
  keepStop = false;
  startSeq = 0;
  startTs = 0;
  lost = false;
}

export class DubboParser implements L7FlowParser {
  private readonly half: [Half, Half] = [new Half(), new Half()];
  private readonly trace = new TraceHeaders();

  constructor(private readonly sink: MessageSink) {}

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    const h = this.half[dir];
    let end = off + len;
    if (end > buf.length) end = buf.length;
    if (h.lost) {
      if (end - off < 2 || buf[off] !== 0xda || buf[off + 1] !== 0xbb) return;
      h.lost = false;
      h.headHave = 0;
      h.left = -1;
    }
    let i = off;
    while (i < end) {
      if (h.left < 0) {
        if (h.headHave === 0) {
          h.startSeq = (seq + (i - off)) >>> 0;
          h.startTs = tsUs;
        }
        const n = Math.min(HEADER - h.headHave, end - i);
        buf.copy(h.head, h.headHave, i, i + n);
        h.headHave += n;
        i += n;
        if (h.headHave < HEADER) continue;
        h.headHave = 0;
        const body = h.head.readUInt32BE(12);
        if (h.head[0] !== 0xda || h.head[1] !== 0xbb || body > MAX_BODY) {
          this.lose(dir);
          return;
        }
        h.left = body;
        h.total = body;
        h.keepLen = 0;
        h.keepStop = false;
        if (body === 0) this.message(dir, h, tsUs, false);
        continue;
      }
      const n = Math.min(h.left, end - i);
      if (h.keepLen < MAX_KEEP && !h.keepStop) {
        const k = Math.min(n, MAX_KEEP - h.keepLen);
        buf.copy(h.keep, h.keepLen, i, i + k);
        h.keepLen += k;
      }
      h.left -= n;
      i += n;
      if (h.left === 0) this.message(dir, h, tsUs, false);
    }
  }

  private lose(dir: Dir): void {
    const h = this.half[dir];
    h.lost = true;
    h.headHave = 0;
    h.left = -1;
  }

  private message(dir: Dir, h: Half, tsUs: number, truncated: boolean): void {
    h.left = -1;
    const flags = h.head[2];
    const isRequest = (flags & 0x80) !== 0;
    const event = (flags & 0x20) !== 0;
    const serial = flags & 0x1f;
    const m = new L7Message(isRequest ? MsgKind.Request : MsgKind.Response, dir);
    // Request ids are 64-bit counters; their low 32 bits pair (as DeepFlow's u32 session id).
    m.sessionId = h.head.readUInt32BE(8);
    m.length = h.total;
    if (isRequest) {
      if ((flags & 0x40) === 0) {
        m.oneWay = true;
        m.responseStatus = 'ok';
      }
      if (event) m.requestType = 'HEARTBEAT';
      else this.requestBody(m, h.keep, h.keepLen, serial);
    } else {
      const status = h.head[3];
      m.responseCode = status;
      m.responseStatus = dubboStatus(status);
      if (status !== 20 && serial === SERIAL_HESSIAN2) {
        const ex = hessianString(h.keep, 0, h.keepLen);
        if (ex !== null) m.responseException = ex.length > MAX_FIELD ? ex.slice(0, MAX_FIELD) : ex;
      }
    }
    m.startTs = h.startTs;
    m.endTs = tsUs;
    m.tcpSeq = h.startSeq;
    m.truncated = truncated;
    m.ended = true;
    this.sink.begin(m);
    this.sink.end(m);
  }

  /** dubbo version, service path, service version, method name; then the attachments' trace headers. */
  private requestBody(m: L7Message, b: Buffer, end: number, serial: number): void {
    const fields: string[] = [];
    let p = 0;
    if (serial === SERIAL_KRYO) {
      if (p < end && b[p] < 0x20) p++; // a marker byte ahead of the first string
      for (let k = 0; k < 4; k++) {
        const s = kryoString(b, p, end);
        if (s === null) break;
        fields.push(s);
        p = hNext;
      }
    } else {
      for (let k = 0; k < 4; k++) {
        const s = hessianString(b, p, end);
        if (s === null) break;
        fields.push(s);
        p = hNext;
      }
    }
    if (fields.length >= 1 && fields[0].length > 0) m.version = fields[0];
    const service = fields.length >= 2 && fields[1].length > 0 ? fields[1] : null;
    const method = fields.length >= 4 && fields[3].length > 0 ? fields[3] : null;
    m.requestDomain = service;
    m.requestResource = service;
    m.requestType = method;
    if (service !== null || method !== null) m.endpoint = `${service ?? ''}/${method ?? ''}`;
    if (serial === SERIAL_HESSIAN2) this.attachments(m, b, p, end);
  }

  /** Trace headers among the Hessian2 attachments (key string followed by its value string). */
  private attachments(m: L7Message, b: Buffer, from: number, end: number): void {
    const tr = this.trace;
    tr.reset();
    for (let k = 0; k < TRACE_KEYS.length; k++) {
      const key = TRACE_KEY_BYTES[k];
      let at = b.indexOf(key, from);
      while (at >= 0 && at + key.length <= end) {
        const v = hessianString(b, at + key.length, end);
        if (v !== null && v.length > 0) {
          (tr as unknown as Record<string, string | null>)[TRACE_KEYS[k][1]] = v;
          break;
        }
        at = b.indexOf(key, at + 1);
      }
    }
    if (!tr.any) return;
    const t = resolveTrace(tr);
    if (t === null) return;
    m.traceId = t.traceId;
    m.spanId = t.spanId;
    m.parentSpanId = t.parentSpanId;
  }

  gap(dir: Dir, _seq: number, len: number, tsUs: number): void {
    const h = this.half[dir];
    if (h.lost) return;
    if (h.left > 0 && len < h.left) {
      h.left -= len;
      h.keepStop = true;
      return;
    }
    if (h.left > 0 && len === h.left) {
      h.keepStop = true;
      this.message(dir, h, tsUs, true);
      return;
    }
    this.lose(dir);
  }

  datagram(): void {}

  close(): void {}

  finish(tsUs: number): void {
    for (const dir of [0, 1] as const) {
      const h = this.half[dir];
      if (!h.lost && h.left > 0) this.message(dir, h, tsUs, true);
      h.left = -1;
      h.lost = true;
    }
  }
}

export const DUBBO: L7Protocol = {
  name: 'dubbo',
  tcp: true,
  udp: false,
  ports: DUBBO_PORTS,
  requestTimeoutUs: 120e6,
  hasSessionId: true,
  detect,
  createParser: (sink: MessageSink) => new DubboParser(sink),
};
