// HTTP/1.0 and 1.1 over TCP: requests and responses per direction, keep-alive, Content-Length,
// chunked, bodies delimited by the close, responses without a body (HEAD, 1xx, 204, 304), pipelining
// (responses take the methods of the requests in order), 101/CONNECT (parsing stops: the connection
// carries another protocol). After a gap the parser skips to the next line that starts a message.
//
// Fields: method → request_type, Host → request_domain, target → request_resource, folded path →
// endpoint, status → response_code/status, trace headers → trace/span ids, X-Request-ID → x_request_id,
// body bytes → request/response length (Content-Length, or the sum of chunks, or bytes until close).

import { foldPath } from './endpoint';
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

/** Longest start or header line kept; longer lines are cut (the message is marked truncated). */
export const MAX_LINE = 16 * 1024;
const MAX_VALUE = 2048;
const MAX_RESOURCE = 4096;
/** Requests whose responses are outstanding, per connection (pipelining depth). */
export const MAX_PENDING_METHODS = 1024;

const METHODS = [
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND',
  'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT', 'PURGE', 'MKCALENDAR',
  'ACL', 'LINK', 'UNLINK',
];
const METHOD_BYTES = METHODS.map((m) => Buffer.from(m + ' ', 'latin1'));
const HTTP_1 = Buffer.from('HTTP/1.', 'latin1');
/** '1.0' ... '1.9' by minor digit (no string built per message). */
const VERSIONS = Array.from({ length: 10 }, (_, d) => `1.${d}`);

const enum St {
  Line,
  Headers,
  Body,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
  Resync,
  Stopped,
}

const enum Role {
  Unknown,
  Requests,
  Responses,
}

/** Headers the parser reads; everything else is skipped without decoding. */
const enum H {
  Other,
  Host,
  ContentLength,
  TransferEncoding,
  Traceparent,
  Sw8,
  B3,
  XB3TraceId,
  XB3SpanId,
  XB3ParentSpanId,
  UberTraceId,
  XRequestId,
}
const HEADER_NAMES: [string, H][] = [
  ['host', H.Host],
  ['content-length', H.ContentLength],
  ['transfer-encoding', H.TransferEncoding],
  ['traceparent', H.Traceparent],
  ['sw8', H.Sw8],
  ['b3', H.B3],
  ['x-b3-traceid', H.XB3TraceId],
  ['x-b3-spanid', H.XB3SpanId],
  ['x-b3-parentspanid', H.XB3ParentSpanId],
  ['uber-trace-id', H.UberTraceId],
  ['x-request-id', H.XRequestId],
];
/** Known header names by length, as lowercase bytes. */
const HEADERS_BY_LEN: [Buffer, H][][] = [];
for (const [name, id] of HEADER_NAMES) {
  (HEADERS_BY_LEN[name.length] ??= []).push([Buffer.from(name, 'latin1'), id]);
}

function headerId(b: Buffer, s: number, e: number): H {
  const list = HEADERS_BY_LEN[e - s];
  if (list === undefined) return H.Other;
  outer: for (const [name, id] of list) {
    for (let k = 0; k < name.length; k++) {
      let c = b[s + k];
      if (c >= 65 && c <= 90) c += 32;
      if (c !== name[k]) continue outer;
    }
    return id;
  }
  return H.Other;
}

function startsWith(b: Buffer, at: number, end: number, p: Buffer): boolean {
  if (end - at < p.length) return false;
  for (let k = 0; k < p.length; k++) if (b[at + k] !== p[k]) return false;
  return true;
}

/** Index of the known method (with its space) at b[at..], -1 if none. */
function methodAt(b: Buffer, at: number, end: number): number {
  for (let m = 0; m < METHOD_BYTES.length; m++) if (startsWith(b, at, end, METHOD_BYTES[m])) return m;
  return -1;
}

/** 1: a message starts at b[at..]; 2: too few bytes to tell, but it may; 0: no. */
function startLineAt(b: Buffer, at: number, end: number, role: Role): number {
  const n = end - at;
  if (role !== Role.Responses) {
    if (methodAt(b, at, end) >= 0) return 1;
    if (n < 11) {
      for (const m of METHOD_BYTES) if (prefixOf(b, at, end, m)) return 2;
    }
  }
  if (role !== Role.Requests) {
    if (startsWith(b, at, end, HTTP_1)) return 1;
    if (n < HTTP_1.length && prefixOf(b, at, end, HTTP_1)) return 2;
  }
  return 0;
}

function prefixOf(b: Buffer, at: number, end: number, p: Buffer): boolean {
  const n = end - at;
  if (n <= 0 || n > p.length) return false;
  for (let k = 0; k < n; k++) if (b[at + k] !== p[k]) return false;
  return true;
}

/**
 * First LF in buf[from, end), else `end`. Buffer.indexOf (memchr) is ~3x faster than a byte loop over
 * header lines; it may look past `end` (the buffer can be a whole capture batch), at memchr speed and
 * only up to the next LF, which a match beyond `end` is taken as "none".
 */
function lineFeed(buf: Buffer, from: number, end: number): number {
  const j = buf.indexOf(10, from);
  return j < 0 || j > end ? end : j;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function statusOf(code: number): ResponseStatus {
  if (code >= 400 && code <= 499) return 'client_error';
  if (code >= 500 && code <= 600) return 'server_error';
  return 'ok';
}

function trimmedValue(b: Buffer, s: number, e: number): string {
  while (s < e && (b[s] === 32 || b[s] === 9)) s++;
  while (e > s && (b[e - 1] === 32 || b[e - 1] === 9)) e--;
  if (e - s > MAX_VALUE) e = s + MAX_VALUE;
  return b.toString('latin1', s, e);
}

/** One direction of the connection. */
class Half {
  st = St.Line;
  role = Role.Unknown;
  /** Bytes of a line split across segments. */
  line: Buffer = Buffer.alloc(0);
  lineLen = 0;
  lineCut = false;
  /** Sequence number and time of the current line's first byte. */
  lineSeq = 0;
  lineTs = 0;
  msg: L7Message | null = null;
  /** The message being read is a 1xx interim response: read, then dropped. */
  interim = false;
  /** Method of the request a response answers (framing: HEAD has no body). */
  method: string | null = null;
  contentLength = -1;
  chunked = false;
  remaining = 0;
  bodyBytes = 0;
  readonly trace = new TraceHeaders();
  /** The last byte seen was a line end (resync looks for a message at line starts). */
  atLineStart = true;

  constructor(readonly dir: Dir) {}

  appendLine(b: Buffer, s: number, e: number): void {
    let n = e - s;
    if (this.lineLen + n > MAX_LINE) {
      n = MAX_LINE - this.lineLen;
      this.lineCut = true;
    }
    if (n <= 0) return;
    if (this.line.length < this.lineLen + n) {
      const grown = Buffer.allocUnsafe(Math.min(MAX_LINE, Math.max(256, (this.lineLen + n) * 2)));
      this.line.copy(grown, 0, 0, this.lineLen);
      this.line = grown;
    }
    b.copy(this.line, this.lineLen, s, s + n);
    this.lineLen += n;
  }
}

export class Http1Parser implements L7FlowParser {
  private readonly halves: [Half, Half] = [new Half(0), new Half(1)];
  /** Methods of requests still waiting for their response, oldest first. */
  private readonly methods: string[] = [];
  private stopped = false;

  constructor(private readonly sink: MessageSink) {}

  /** Bytes this parser holds (line buffers), for tests of its memory bound (2 × MAX_LINE). */
  get bufferedBytes(): number {
    return this.halves[0].line.length + this.halves[1].line.length;
  }

  /** Requests whose responses are still expected (bounded by MAX_PENDING_METHODS). */
  get pendingMethods(): number {
    return this.methods.length;
  }

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    const h = this.halves[dir];
    const end = off + len;
    let i = off;
    while (i < end) {
      switch (h.st) {
        case St.Line:
        case St.Headers:
        case St.ChunkSize:
        case St.ChunkEnd:
        case St.Trailers: {
          const j = lineFeed(buf, i, end);
          if (h.lineLen === 0 && !h.lineCut) {
            h.lineSeq = (seq + (i - off)) >>> 0;
            h.lineTs = tsUs;
          }
          if (h.msg !== null) h.msg.endTs = tsUs;
          if (j === end) {
            h.appendLine(buf, i, end);
            h.atLineStart = false;
            i = end;
            break;
          }
          let lb: Buffer;
          let ls: number;
          let le: number;
          if (h.lineLen === 0 && !h.lineCut) {
            lb = buf;
            ls = i;
            le = j;
          } else {
            h.appendLine(buf, i, j);
            lb = h.line;
            ls = 0;
            le = h.lineLen;
          }
          if (le > ls && lb[le - 1] === 13) le--;
          const cut = h.lineCut;
          h.lineLen = 0;
          h.lineCut = false;
          h.atLineStart = true;
          i = j + 1;
          this.line(h, lb, ls, le, cut);
          break;
        }
        case St.Body:
        case St.ChunkData: {
          let n = end - i;
          if (n > h.remaining) n = h.remaining;
          i += n;
          h.remaining -= n;
          h.bodyBytes += n;
          h.msg!.endTs = tsUs;
          h.atLineStart = false;
          if (h.remaining === 0) {
            if (h.st === St.Body) this.endMessage(h, false);
            else h.st = St.ChunkEnd;
          }
          break;
        }
        case St.UntilClose:
          h.bodyBytes += end - i;
          h.msg!.endTs = tsUs;
          i = end;
          break;
        case St.Resync:
          i = this.resync(h, buf, i, end);
          break;
        case St.Stopped:
          return;
      }
    }
  }

  /** Skips to the next line start that begins a message; returns where scanning stopped. */
  private resync(h: Half, buf: Buffer, i: number, end: number): number {
    while (i < end) {
      if (h.atLineStart && startLineAt(buf, i, end, h.role) !== 0) {
        h.st = St.Line;
        return i;
      }
      h.atLineStart = buf[i] === 10;
      i++;
    }
    return end;
  }

  private line(h: Half, b: Buffer, s: number, e: number, cut: boolean): void {
    switch (h.st) {
      case St.Line:
        if (e === s) return; // empty lines between messages are allowed
        if (!this.startLine(h, b, s, e, cut)) h.st = St.Resync;
        return;
      case St.Headers:
        if (e === s) {
          this.headersDone(h);
          return;
        }
        if (cut) h.msg!.truncated = true;
        this.header(h, b, s, e);
        return;
      case St.ChunkSize: {
        let size = 0;
        let k = s;
        let digits = 0;
        for (; k < e; k++) {
          const c = b[k];
          const v = isDigit(c) ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (v < 0) break;
          size = size * 16 + v;
          digits++;
        }
        // The size may be followed by chunk extensions (";name=value") or whitespace only.
        if (digits === 0 || digits > 12 || (k < e && b[k] !== 59 && b[k] !== 32 && b[k] !== 9)) {
          this.endMessage(h, true);
          h.st = St.Resync;
          return;
        }
        if (size === 0) {
          h.st = St.Trailers;
          return;
        }
        h.msg!.length = (h.msg!.length ?? 0) + size;
        h.remaining = size;
        h.st = St.ChunkData;
        return;
      }
      case St.ChunkEnd:
        if (e === s) {
          h.st = St.ChunkSize;
          return;
        }
        // Data where the CRLF after a chunk belongs: the framing is lost.
        this.endMessage(h, true);
        h.st = St.Resync;
        return;
      case St.Trailers:
        if (e === s) this.endMessage(h, false);
        else if (h.msg !== null) this.header(h, b, s, e);
        return;
    }
  }

  /** Parses a request or status line and begins its message. */
  private startLine(h: Half, b: Buffer, s: number, e: number, cut: boolean): boolean {
    if (h.role !== Role.Responses && this.requestLine(h, b, s, e, cut)) return true;
    if (h.role !== Role.Requests && this.statusLine(h, b, s, e)) return true;
    return false;
  }

  private requestLine(h: Half, b: Buffer, s: number, e: number, cut: boolean): boolean {
    // METHOD SP request-target SP HTTP/1.x ; a cut line may lack the version.
    let sp1 = s;
    while (sp1 < e && b[sp1] >= 65 && b[sp1] <= 90) sp1++;
    if (sp1 === s || sp1 - s > 20 || sp1 >= e || b[sp1] !== 32) return false;
    let sp2 = e - 1;
    while (sp2 > sp1 && b[sp2] !== 32) sp2--;
    let version: string | null = null;
    let targetEnd = e;
    if (
      sp2 > sp1 + 1 &&
      e - sp2 === 9 &&
      startsWith(b, sp2 + 1, e, HTTP_1) &&
      isDigit(b[e - 1])
    ) {
      version = VERSIONS[b[e - 1] - 48];
      targetEnd = sp2;
    } else if (!cut || methodAt(b, s, e) < 0) {
      // No version: HTTP/0.9 is not parsed; a line cut by the length limit keeps a known method.
      return false;
    }
    const known = methodAt(b, s, e);
    const method = known >= 0 && METHODS[known].length === sp1 - s ? METHODS[known] : b.toString('latin1', s, sp1);
    let target = b.toString('utf8', sp1 + 1, Math.min(targetEnd, sp1 + 1 + MAX_RESOURCE));
    target = target.trim();
    if (target.length === 0) return false;
    const m = new L7Message(MsgKind.Request, h.dir);
    m.startTs = h.lineTs;
    m.endTs = h.lineTs;
    m.tcpSeq = h.lineSeq;
    m.version = version;
    m.requestType = method;
    m.requestResource = target;
    m.endpoint = foldPath(target);
    m.truncated = cut || targetEnd - (sp1 + 1) > MAX_RESOURCE;
    this.beginMessage(h, m, Role.Requests);
    if (this.methods.length < MAX_PENDING_METHODS) this.methods.push(method);
    return true;
  }

  private statusLine(h: Half, b: Buffer, s: number, e: number): boolean {
    // HTTP/1.x SP 3DIGIT [SP reason]
    if (e - s < 12 || !startsWith(b, s, e, HTTP_1) || !isDigit(b[s + 7]) || b[s + 8] !== 32) return false;
    if (!isDigit(b[s + 9]) || !isDigit(b[s + 10]) || !isDigit(b[s + 11])) return false;
    if (e > s + 12 && b[s + 12] !== 32) return false;
    const code = (b[s + 9] - 48) * 100 + (b[s + 10] - 48) * 10 + (b[s + 11] - 48);
    if (code < 100) return false;
    const m = new L7Message(MsgKind.Response, h.dir);
    m.startTs = h.lineTs;
    m.endTs = h.lineTs;
    m.tcpSeq = h.lineSeq;
    m.version = VERSIONS[b[s + 7] - 48];
    m.responseCode = code;
    m.responseStatus = statusOf(code);
    h.interim = code < 200 && code !== 101;
    if (h.interim) {
      // 100 Continue and friends: read and dropped, the final response follows.
      h.role = Role.Responses;
      h.msg = m;
      h.contentLength = -1;
      h.chunked = false;
      h.bodyBytes = 0;
      h.trace.reset();
      h.st = St.Headers;
      return true;
    }
    h.method = this.methods.length > 0 ? this.methods.shift()! : null;
    this.beginMessage(h, m, Role.Responses);
    return true;
  }

  private beginMessage(h: Half, m: L7Message, role: Role): void {
    h.role = role;
    h.msg = m;
    h.interim = false;
    h.contentLength = -1;
    h.chunked = false;
    h.remaining = 0;
    h.bodyBytes = 0;
    h.trace.reset();
    h.st = St.Headers;
    this.sink.begin(m);
  }

  private header(h: Half, b: Buffer, s: number, e: number): void {
    const m = h.msg!;
    if (b[s] === 32 || b[s] === 9) return; // obsolete line folding: continuation of the last header
    let colon = s;
    while (colon < e && b[colon] !== 58) colon++;
    if (colon === e) return;
    let nameEnd = colon;
    while (nameEnd > s && (b[nameEnd - 1] === 32 || b[nameEnd - 1] === 9)) nameEnd--;
    const id = headerId(b, s, nameEnd);
    if (id === H.Other) return;
    const vs = colon + 1;
    switch (id) {
      case H.ContentLength: {
        if (h.contentLength >= 0) return;
        let k = vs;
        while (k < e && (b[k] === 32 || b[k] === 9)) k++;
        let v = 0;
        let digits = 0;
        for (; k < e && isDigit(b[k]); k++) {
          v = v * 10 + (b[k] - 48);
          digits++;
        }
        if (digits > 0 && digits <= 15) h.contentLength = v;
        return;
      }
      case H.TransferEncoding:
        h.chunked = /chunked\s*$/i.test(trimmedValue(b, vs, e));
        return;
      case H.Host:
        if (m.kind === MsgKind.Request && m.requestDomain === null) m.requestDomain = trimmedValue(b, vs, e);
        return;
      case H.XRequestId:
        if (m.xRequestId === null) m.xRequestId = trimmedValue(b, vs, e);
        return;
      case H.Traceparent:
        h.trace.traceparent ??= trimmedValue(b, vs, e);
        return;
      case H.Sw8:
        h.trace.sw8 ??= trimmedValue(b, vs, e);
        return;
      case H.B3:
        h.trace.b3 ??= trimmedValue(b, vs, e);
        return;
      case H.XB3TraceId:
        h.trace.xB3TraceId ??= trimmedValue(b, vs, e);
        return;
      case H.XB3SpanId:
        h.trace.xB3SpanId ??= trimmedValue(b, vs, e);
        return;
      case H.XB3ParentSpanId:
        h.trace.xB3ParentSpanId ??= trimmedValue(b, vs, e);
        return;
      case H.UberTraceId:
        h.trace.uberTraceId ??= trimmedValue(b, vs, e);
        return;
    }
  }

  private applyTrace(h: Half): void {
    const m = h.msg;
    if (m === null || !h.trace.any) return;
    const t = resolveTrace(h.trace);
    if (t !== null) {
      m.traceId = t.traceId;
      m.spanId = t.spanId;
      m.parentSpanId = t.parentSpanId;
    }
    h.trace.reset();
  }

  /** The empty line after the headers: decide how the body is framed. */
  private headersDone(h: Half): void {
    const m = h.msg!;
    this.applyTrace(h);
    if (h.interim) {
      h.msg = null;
      h.interim = false;
      h.st = St.Line;
      return;
    }
    if (m.kind === MsgKind.Response) {
      const code = m.responseCode!;
      if (code === 101 || (h.method === 'CONNECT' && code >= 200 && code < 300)) {
        // The connection now carries another protocol (WebSocket, h2c, a tunnel).
        m.length = 0;
        this.endMessage(h, false);
        this.stopAll();
        return;
      }
      if (h.method === 'HEAD' || code === 204 || code === 304 || code < 200) {
        m.length = 0;
        this.endMessage(h, false);
        return;
      }
    }
    if (h.chunked) {
      m.length = 0;
      h.st = St.ChunkSize;
      return;
    }
    if (h.contentLength >= 0) {
      m.length = h.contentLength;
      if (h.contentLength === 0) {
        this.endMessage(h, false);
        return;
      }
      h.remaining = h.contentLength;
      h.st = St.Body;
      return;
    }
    if (m.kind === MsgKind.Request) {
      m.length = 0;
      this.endMessage(h, false);
      return;
    }
    // A response without length: the body runs until the server closes the connection.
    h.st = St.UntilClose;
  }

  private endMessage(h: Half, truncated: boolean): void {
    const m = h.msg;
    h.st = St.Line;
    if (m === null) return;
    if (h.interim) {
      h.msg = null;
      h.interim = false;
      return;
    }
    this.applyTrace(h);
    h.msg = null;
    if (truncated) m.truncated = true;
    if (m.length === null && h.bodyBytes > 0) m.length = h.bodyBytes;
    m.ended = true;
    this.sink.end(m);
  }

  /** Ends a message cut short (gap, close, end of flow), keeping what its headers said. */
  private cutMessage(h: Half): void {
    const m = h.msg;
    if (m === null) return;
    if (h.st === St.UntilClose) m.length = h.bodyBytes;
    else if (h.st === St.Headers && h.contentLength >= 0) m.length = h.contentLength; // the declared length is the best we know
    this.endMessage(h, true);
  }

  private stopAll(): void {
    this.stopped = true;
    for (const h of this.halves) {
      if (h.msg !== null) this.cutMessage(h);
      h.st = St.Stopped;
    }
  }

  gap(dir: Dir, _seq: number, len: number, _tsUs: number): void {
    const h = this.halves[dir];
    h.lineLen = 0;
    h.lineCut = false;
    switch (h.st) {
      case St.Body:
      case St.ChunkData: {
        h.msg!.truncated = true;
        if (len < h.remaining) {
          h.remaining -= len;
          h.bodyBytes += len;
          return;
        }
        const over = len - h.remaining;
        h.bodyBytes += h.remaining;
        h.remaining = 0;
        if (h.st === St.Body) {
          this.endMessage(h, true);
          h.st = over === 0 ? St.Line : St.Resync;
        } else {
          // The chunk's CRLF and what follows are lost: the framing cannot be recovered.
          this.endMessage(h, true);
          h.st = St.Resync;
        }
        h.atLineStart = true;
        return;
      }
      case St.UntilClose:
        h.msg!.truncated = true;
        h.bodyBytes += len;
        return;
      case St.Stopped:
        return;
      case St.Resync:
        h.atLineStart = true;
        return;
      default:
        if (h.msg !== null) this.cutMessage(h);
        h.st = St.Resync;
        h.atLineStart = true;
    }
  }

  datagram(): void {
    // HTTP/1 is TCP only.
  }

  close(dir: Dir, _tsUs: number): void {
    const h = this.halves[dir];
    if (h.st === St.UntilClose && h.msg !== null) {
      h.msg.length = h.bodyBytes;
      this.endMessage(h, false);
    } else if (h.msg !== null) {
      this.cutMessage(h);
    }
    if (!this.stopped) h.st = St.Stopped;
  }

  finish(_tsUs: number): void {
    for (const h of this.halves) {
      if (h.msg === null && h.lineLen > 0 && h.st === St.Line) {
        // A start line cut off by the end of the capture: keep what it says.
        const b = h.line;
        const n = h.lineLen;
        h.lineLen = 0;
        this.startLine(h, b, 0, n, true);
      }
      if (h.msg !== null) this.cutMessage(h);
      h.st = St.Stopped;
    }
  }
}

/** Detection: a request line with a known method, or an HTTP/1.x status line. */
function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp || len < 5) return 0;
  const end = off + len;
  const m = methodAt(buf, off, end);
  if (m >= 0) {
    const t = off + METHOD_BYTES[m].length;
    if (t >= end) return 0;
    const c = buf[t];
    if (c !== 47 && c !== 42 && c !== 104 && !(m === 5 && c > 32 && c < 127)) return 0; // '/', '*', 'http', CONNECT host
    let j = t;
    const lim = Math.min(end, off + 8192);
    while (j < lim && buf[j] !== 10) j++;
    if (j === lim) return j === end ? 60 : 0; // line continues in the next segment
    let e = j;
    if (e > t && buf[e - 1] === 13) e--;
    if (e - t >= 10 && startsWith(buf, e - 8, e, HTTP_1) && buf[e - 9] === 32 && isDigit(buf[e - 1])) return 90;
    return 0;
  }
  if (len >= 12 && startsWith(buf, off, end, HTTP_1) && isDigit(buf[off + 7]) && buf[off + 8] === 32) {
    if (isDigit(buf[off + 9]) && isDigit(buf[off + 10]) && isDigit(buf[off + 11])) return 80;
  }
  return 0;
}

export const HTTP1: L7Protocol = {
  name: 'http',
  tcp: true,
  udp: false,
  ports: [80, 8080, 8000, 8081, 8888, 3000, 5000, 9080],
  requestTimeoutUs: 120e6,
  hasSessionId: false,
  detect,
  createParser: (sink: MessageSink) => new Http1Parser(sink),
};
