// HTTP/2 over cleartext TCP (h2c with prior knowledge, or a capture that starts mid-connection) and
// gRPC on top of it. Frames are read straight from the reassembled bytes; HEADERS/CONTINUATION/
// PUSH_PROMISE blocks are copied (bounded) and decoded with one HPACK decoder per direction; DATA is only
// counted. Messages are paired by stream id (hasSessionId: sessionId = stream id).
//
// Fields: :method → request_type, :authority (else host) → request_domain, :path → request_resource,
// folded path → endpoint (gRPC: the /pkg.Service/Method path as it is), :status → response_code/status,
// DATA payload bytes (padding excluded) → request/response length, trace headers and x-request-id of
// either side, tcp seq / time of the first byte of the HEADERS frame that starts the message.
//
// gRPC: one parser emits both names. A connection is detected from its first bytes, where gRPC and plain
// HTTP/2 look alike (preface, SETTINGS), so the flow stays 'http2' and each message whose stream carries
// `content-type: application/grpc*` (or grpc-status) says l7Protocol = 'grpc' for its row, as DeepFlow
// upgrades HTTP2 to gRPC per parsed message. Once a connection has carried gRPC, a later stream whose
// content-type cannot be decoded (mid-connection capture, unknown HPACK entry) counts as gRPC too.
// gRPC rows: response_code = grpc-status (trailers, or Trailers-Only headers) else :status; status
// 0 ok, 1 3 5 6 7 9 11 16 client error, other non-zero server error (SPEC.md); grpc-message →
// response_exception (percent-decoded). request_resource stays the :path (DeepFlow puts the service
// name there; Flowscope keeps one meaning per column; the service is the endpoint's first segment).
//
// Streams that end without a response: RST_STREAM with an error code ends the stream as a client error
// when the client sent it (CANCEL: the caller gave up), a server error when the server did (REFUSED,
// INTERNAL); NO_ERROR leaves the status unknown; response_exception = "RST_STREAM <CODE>". GOAWAY ends
// the streams above its last stream id that were never answered (unknown, or a server error when the
// GOAWAY carries an error), response_exception = "GOAWAY <CODE>". Unanswered streams left at the end
// of the flow become timeouts (pairing). Server push (PUSH_PROMISE) is decoded for the HPACK table's
// sake and not reported.

import { foldPath } from './endpoint';
import { HpackDecoder } from './hpack';
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

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const T_DATA = 0;
const T_HEADERS = 1;
const T_PRIORITY = 2;
const T_RST_STREAM = 3;
const T_SETTINGS = 4;
const T_PUSH_PROMISE = 5;
const T_PING = 6;
const T_GOAWAY = 7;
const T_WINDOW_UPDATE = 8;
const T_CONTINUATION = 9;
/** Flags each known frame type may carry (RFC 9113 §6). */
const VALID_FLAGS = [0x09, 0x2d, 0, 0, 0x01, 0x0c, 0x01, 0, 0, 0x04];

const F_END_STREAM = 0x01;
const F_END_HEADERS = 0x04;
const F_PADDED = 0x08;
const F_PRIORITY = 0x20;

/** Largest header block kept (HEADERS + CONTINUATION); a longer one is dropped and HPACK desyncs. */
export const MAX_HEADER_BLOCK = 64 * 1024;
/** Streams open at once per connection; beyond, the oldest is ended (truncated). */
export const MAX_OPEN_STREAMS = 1024;
/** Frames longer than this are not believed when re-finding frame boundaries (SETTINGS_MAX_FRAME_SIZE default). */
const RESYNC_MAX_FRAME = 16384;
/** Largest frame believed when detecting a connection from its middle. */
const DETECT_MAX_FRAME = 1 << 20;
const MAX_VALUE = 2048;
const MAX_RESOURCE = 4096;

const ERROR_CODES = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED',
  'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];
const errorName = (c: number): string => ERROR_CODES[c] ?? `0x${c.toString(16)}`;

/** gRPC status classes (SPEC.md "Requests"). */
export function grpcStatusOf(code: number): ResponseStatus {
  if (code === 0) return 'ok';
  switch (code) {
    case 1:
    case 3:
    case 5:
    case 6:
    case 7:
    case 9:
    case 11:
    case 16:
      return 'client_error';
    default:
      return 'server_error';
  }
}

function httpStatusOf(code: number): ResponseStatus {
  if (code >= 400 && code <= 499) return 'client_error';
  if (code >= 500 && code <= 600) return 'server_error';
  return 'ok';
}

/**
 * Whether a plausible frame header starts at b[i] (9 bytes there): known type, its flags, reserved bit
 * clear, stream id 0 exactly for connection frames, fixed lengths where the frame has one.
 */
function plausibleHeader(b: Buffer, i: number, maxLen: number): boolean {
  const len = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
  const type = b[i + 3];
  const flags = b[i + 4];
  if (type > 9 || (flags & ~VALID_FLAGS[type]) !== 0 || (b[i + 5] & 0x80) !== 0 || len > maxLen) return false;
  const stream = b.readUInt32BE(i + 5);
  switch (type) {
    case T_DATA:
    case T_HEADERS:
    case T_CONTINUATION:
    case T_PUSH_PROMISE:
      return stream !== 0 && (type !== T_HEADERS || len > 0);
    case T_PRIORITY:
      return stream !== 0 && len === 5;
    case T_RST_STREAM:
      return stream !== 0 && len === 4;
    case T_SETTINGS:
      return stream === 0 && len % 6 === 0 && ((flags & 1) === 0 || len === 0);
    case T_PING:
      return stream === 0 && len === 8;
    case T_GOAWAY:
      return stream === 0 && len >= 8;
    case T_WINDOW_UPDATE:
      return len === 4;
    default:
      return false;
  }
}

/**
 * Frames chain from b[i] to `end`: every header plausible, the last frame ending exactly at `end` or
 * running past it. Returns the number of complete frames, -1 if the chain breaks.
 */
function frameChain(b: Buffer, i: number, end: number, maxLen: number): number {
  let frames = 0;
  while (i + 9 <= end) {
    if (!plausibleHeader(b, i, maxLen)) return -1;
    const next = i + 9 + ((b[i] << 16) | (b[i + 1] << 8) | b[i + 2]);
    if (next > end) return frames;
    frames++;
    i = next;
  }
  return i === end ? frames : frames > 0 ? frames : -1;
}

/** Detection: the client preface, or frames that chain exactly over the payload (mid-connection). */
function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp || len < 9) return 0;
  const end = off + len;
  let k = 0;
  while (k < PREFACE.length && k < len && buf[off + k] === PREFACE[k]) k++;
  if (k === PREFACE.length) return 100;
  if (k === len && k >= 9) return 60; // the preface, cut by the segment
  // Mid-connection: frames up to 1 MiB each must chain exactly to the end of the payload, and every
  // HEADERS frame must be on an odd (client-initiated) stream.
  const frames = frameChain(buf, off, end, DETECT_MAX_FRAME);
  if (frames < 0) return 0;
  let i = off;
  let headers = 0;
  while (i + 9 <= end) {
    const flen = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2];
    if (buf[i + 3] === T_HEADERS) {
      if ((buf[i + 8] & 1) === 0) return 0;
      headers++;
      // A HEADERS frame running past the segment: believable only at a common frame size.
      if (i + 9 + flen > end && flen > RESYNC_MAX_FRAME) return 0;
    }
    i += 9 + flen;
  }
  if (frames >= 1) return 60;
  // Only a HEADERS frame that continues in the next segment.
  return headers > 0 ? 55 : 0;
}

const enum St {
  Preface,
  Header,
  Payload,
  Resync,
}

/** The fields of one decoded header block that matter. */
class Fields {
  method: string | null = null;
  path: string | null = null;
  authority: string | null = null;
  host: string | null = null;
  status: string | null = null;
  contentType: string | null = null;
  grpcStatus: string | null = null;
  grpcMessage: string | null = null;
  xRequestId: string | null = null;
  /** Some field of the block was an unknown dynamic entry. */
  unknown = 0;
  /** Pseudo-header names seen (a request or a response even when the value is unknown). */
  requestPseudo = false;
  responsePseudo = false;
  readonly trace = new TraceHeaders();

  reset(): void {
    this.method = this.path = this.authority = this.host = this.status = null;
    this.contentType = this.grpcStatus = this.grpcMessage = this.xRequestId = null;
    this.unknown = 0;
    this.requestPseudo = this.responsePseudo = false;
    this.trace.reset();
  }
}

/** Header names the parser reads (pseudo-headers aside): values of others need no decoding. */
const WANTED = new Set([
  'content-type', 'host', 'grpc-status', 'grpc-message', 'x-request-id', 'traceparent', 'sw8', 'b3',
  'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'uber-trace-id',
]);
const wanted = (name: string): boolean => name.charCodeAt(0) === 58 || WANTED.has(name);

function cut(v: string, max: number): string {
  return v.length > max ? v.slice(0, max) : v;
}

/** One direction of the connection. */
class Half {
  st = St.Preface;
  readonly hpack = new HpackDecoder(false);
  /** Bytes of the preface matched so far. */
  preface = 0;
  /** Frame header bytes split across segments. */
  readonly hdr = Buffer.alloc(9);
  hdrLen = 0;
  hdrSeq = 0;
  hdrTs = 0;
  // The frame being read.
  fLen = 0;
  fType = 0;
  fFlags = 0;
  fStream = 0;
  fRemain = 0;
  fSeq = 0;
  fTs = 0;
  /** DATA: padding length once the first payload byte is read (-1 before). */
  padLen = -1;
  /** Small frames' payload (RST_STREAM, SETTINGS, GOAWAY head, PING...). */
  readonly ctl = Buffer.alloc(64);
  ctlLen = 0;
  // The header block being collected (HEADERS or PUSH_PROMISE, then CONTINUATION).
  block: Buffer = Buffer.alloc(0);
  blockLen = 0;
  /** Offset in `block` where the current frame's payload began. */
  frameAt = 0;
  inBlock = false;
  blockStream = 0;
  blockEndStream = false;
  blockPush = false;
  blockLost = false;
  blockSeq = 0;
  blockTs = 0;
  /** The first frame of this direction has been read (the decoder is synced if the stream began here). */
  started = false;

  constructor(readonly dir: Dir) {}

  append(b: Buffer, s: number, e: number): void {
    const n = e - s;
    if (this.blockLost || n <= 0) return;
    if (this.blockLen + n > MAX_HEADER_BLOCK) {
      this.blockLost = true;
      return;
    }
    if (this.block.length < this.blockLen + n) {
      const grown = Buffer.allocUnsafe(Math.min(MAX_HEADER_BLOCK, Math.max(1024, (this.blockLen + n) * 2)));
      this.block.copy(grown, 0, 0, this.blockLen);
      this.block = grown;
    }
    b.copy(this.block, this.blockLen, s, e);
    this.blockLen += n;
  }
}

/** One stream's messages. */
class Stream {
  req: L7Message | null = null;
  resp: L7Message | null = null;
  reqDone = false;
  respDone = false;
  grpc = false;
  /** A grpc-status was seen for this stream. */
  grpcStatus = false;
  /** The request's content-type was decoded (gRPC or not is known, no guessing from DATA). */
  typeKnown = false;

  constructor(readonly id: number) {}
}

export class Http2Parser implements L7FlowParser {
  private readonly halves: [Half, Half] = [new Half(0), new Half(1)];
  private readonly streams = new Map<number, Stream>();
  /** Direction of the client (sender of the preface or of requests); -1 until known. */
  private clientDir = -1;
  /** The connection has carried gRPC. */
  private grpc = false;
  /** Streams promised by PUSH_PROMISE (not reported), bounded. */
  private readonly pushed = new Set<number>();
  private readonly fields = new Fields();
  private readonly onField = (name: string | null, value: string | null): void => this.field(name, value);

  constructor(private readonly sink: MessageSink) {}

  /** Streams with state (tests of the memory bound). */
  get openStreams(): number {
    return this.streams.size;
  }

  /** HPACK decoders (tests). */
  decoder(dir: Dir): HpackDecoder {
    return this.halves[dir].hpack;
  }

  /** Bytes held for header blocks (bounded by 2 × MAX_HEADER_BLOCK). */
  get bufferedBytes(): number {
    return this.halves[0].block.length + this.halves[1].block.length;
  }

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    const h = this.halves[dir];
    const end = off + len;
    let i = off;
    while (i < end) {
      switch (h.st) {
        case St.Preface: {
          // The client's first bytes are the preface; otherwise the capture began mid-connection.
          while (i < end && h.preface < PREFACE.length && buf[i] === PREFACE[h.preface]) {
            i++;
            h.preface++;
          }
          if (h.preface === PREFACE.length) {
            h.hpack.resetSynced();
            h.started = true;
            if (this.clientDir < 0) this.clientDir = dir;
            h.st = St.Header;
          } else if (i < end) {
            // Not the preface (or a preface broken off): look for frames from the start of the stream.
            i = h.preface > 0 ? off : i;
            h.preface = 0;
            h.st = St.Resync;
          }
          break;
        }
        case St.Header: {
          const avail = end - i;
          if (h.hdrLen === 0 && avail >= 9) {
            h.hdrSeq = (seq + (i - off)) >>> 0;
            h.hdrTs = tsUs;
            this.frameHeader(h, buf, i);
            i += 9;
          } else {
            if (h.hdrLen === 0) {
              h.hdrSeq = (seq + (i - off)) >>> 0;
              h.hdrTs = tsUs;
            }
            const n = Math.min(9 - h.hdrLen, avail);
            buf.copy(h.hdr, h.hdrLen, i, i + n);
            h.hdrLen += n;
            i += n;
            if (h.hdrLen === 9) {
              h.hdrLen = 0;
              this.frameHeader(h, h.hdr, 0);
            }
          }
          break;
        }
        case St.Payload: {
          const n = Math.min(h.fRemain, end - i);
          this.payload(h, buf, i, i + n);
          i += n;
          h.fRemain -= n;
          if (h.fRemain === 0) this.frameEnd(h, tsUs);
          break;
        }
        case St.Resync:
          i = this.resync(h, buf, i, end);
          break;
      }
    }
  }

  /** Finds the next frame boundary: a position where frames chain to the end of the bytes at hand. */
  private resync(h: Half, buf: Buffer, i: number, end: number): number {
    for (; i + 9 <= end; i++) {
      if (!plausibleHeader(buf, i, RESYNC_MAX_FRAME)) continue;
      if (frameChain(buf, i, end, RESYNC_MAX_FRAME) < 0) continue;
      h.st = St.Header;
      // Whatever the table held before is unknown from here.
      if (h.started) h.hpack.desync();
      return i;
    }
    return end;
  }

  private frameHeader(h: Half, b: Buffer, i: number): void {
    const len = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    const type = b[i + 3];
    const flags = b[i + 4];
    const stream = b.readUInt32BE(i + 5) & 0x7fffffff;
    const first = !h.started;
    h.started = true;
    if (type <= 9 && !plausibleHeader(b, i, 1 << 24)) {
      // Not a frame: the framing is lost (or never was HTTP/2 here).
      this.dropBlock(h);
      h.st = St.Resync;
      return;
    }
    if (first && type === T_SETTINGS && (flags & 1) === 0 && h.preface === 0) {
      // A server's stream begins with its SETTINGS (its preface): the capture saw it from the start.
      h.hpack.resetSynced();
    }
    if (h.inBlock && type !== T_CONTINUATION) {
      // A header block interrupted: protocol error; its insertions are lost to us.
      this.dropBlock(h);
    }
    h.fLen = len;
    h.fType = type;
    h.fFlags = flags;
    h.fStream = stream;
    h.fRemain = len;
    h.fSeq = h.hdrSeq;
    h.fTs = h.hdrTs;
    h.padLen = -1;
    h.ctlLen = 0;
    if (type === T_HEADERS || type === T_PUSH_PROMISE) {
      h.inBlock = true;
      h.blockLen = 0;
      h.blockLost = false;
      h.blockStream = stream;
      h.blockEndStream = type === T_HEADERS && (flags & F_END_STREAM) !== 0;
      h.blockPush = type === T_PUSH_PROMISE;
      h.blockSeq = h.hdrSeq;
      h.blockTs = h.hdrTs;
      h.frameAt = 0;
    } else if (type === T_CONTINUATION) {
      if (!h.inBlock || stream !== h.blockStream) {
        h.st = len === 0 ? St.Header : St.Payload;
        h.fType = 255; // skipped
        if (len === 0) this.frameEnd(h, h.hdrTs);
        return;
      }
      h.frameAt = h.blockLen;
    }
    h.st = St.Payload;
    if (type === T_DATA && (flags & F_PADDED) === 0) this.dataLength(h, -1);
    if (len === 0) this.frameEnd(h, h.hdrTs);
  }

  private payload(h: Half, b: Buffer, s: number, e: number): void {
    if (s >= e) return;
    switch (h.fType) {
      case T_DATA: {
        if (h.padLen < 0 && (h.fFlags & F_PADDED) !== 0 && h.fRemain === h.fLen) {
          h.padLen = b[s];
          this.dataLength(h, h.padLen);
        }
        // The first bytes of an unpadded DATA frame: a gRPC message prefix? (see grpcPrefix)
        if ((h.fFlags & F_PADDED) === 0 && h.ctlLen < 5) {
          const n = Math.min(5 - h.ctlLen, e - s);
          b.copy(h.ctl, h.ctlLen, s, s + n);
          h.ctlLen += n;
        }
        return;
      }
      case T_HEADERS:
      case T_PUSH_PROMISE:
      case T_CONTINUATION:
        h.append(b, s, e);
        return;
      default: {
        // Control frames: their first bytes (a SETTINGS list is read up to 60 bytes = 10 settings).
        const n = Math.min(e - s, h.ctl.length - h.ctlLen);
        if (n > 0) {
          b.copy(h.ctl, h.ctlLen, s, s + n);
          h.ctlLen += n;
        }
      }
    }
  }

  private frameEnd(h: Half, tsUs: number): void {
    h.st = St.Header;
    switch (h.fType) {
      case T_DATA:
        this.dataFrame(h, tsUs);
        return;
      case T_HEADERS:
      case T_PUSH_PROMISE:
      case T_CONTINUATION:
        this.blockFrameEnd(h, tsUs);
        return;
      case T_RST_STREAM:
        if (h.ctlLen >= 4) this.reset(h, h.fStream, h.ctl.readUInt32BE(0), tsUs);
        return;
      case T_SETTINGS:
        if ((h.fFlags & 1) === 0) this.settings(h);
        return;
      case T_GOAWAY:
        if (h.ctlLen >= 8) this.goaway(h, h.ctl.readUInt32BE(0) & 0x7fffffff, h.ctl.readUInt32BE(4), tsUs);
        return;
      default:
        return; // PRIORITY, PING, WINDOW_UPDATE, unknown types: nothing for requests
    }
  }

  /**
   * DATA counts as declared by its frame header (padding excluded), as soon as that is known: a frame
   * the capture cut still counts whole, like a declared Content-Length in HTTP/1.
   */
  private dataLength(h: Half, padLen: number): void {
    const s = this.streams.get(h.fStream);
    if (s === undefined) return; // a stream that began before the capture
    const body = padLen < 0 ? h.fLen : Math.max(0, h.fLen - 1 - padLen);
    if (s.req !== null && s.req.dir === h.dir && !s.reqDone) s.req.length = (s.req.length ?? 0) + body;
    else if (s.resp !== null && s.resp.dir === h.dir && !s.respDone) s.resp.length = (s.resp.length ?? 0) + body;
  }

  private dataFrame(h: Half, tsUs: number): void {
    const s = this.streams.get(h.fStream);
    if (s === undefined) return;
    if (!s.grpc && !s.typeKnown && h.ctlLen === 5 && grpcPrefix(h.ctl, h.fLen)) {
      s.grpc = true;
      this.markGrpc(s);
    }
    const end = (h.fFlags & F_END_STREAM) !== 0;
    if (s.req !== null && s.req.dir === h.dir && !s.reqDone) {
      s.req.endTs = tsUs;
      if (end) this.endRequest(s, false);
    } else if (s.resp !== null && s.resp.dir === h.dir && !s.respDone) {
      s.resp.endTs = tsUs;
      if (end) this.endResponse(s, false);
    }
  }

  private blockFrameEnd(h: Half, tsUs: number): void {
    if (!h.inBlock) return;
    // Strip this frame's padding and priority / promised stream id from what was appended.
    if (h.fType !== T_CONTINUATION && !h.blockLost) {
      let pre = 0;
      let pad = 0;
      if ((h.fFlags & F_PADDED) !== 0) {
        pad = h.blockLen > h.frameAt ? h.block[h.frameAt] : 0;
        pre = 1;
      }
      if (h.fType === T_HEADERS && (h.fFlags & F_PRIORITY) !== 0) pre += 5;
      if (h.fType === T_PUSH_PROMISE) {
        if (h.blockLen >= h.frameAt + pre + 4) this.promise(h.block.readUInt32BE(h.frameAt + pre) & 0x7fffffff);
        pre += 4;
      }
      const start = h.frameAt + pre;
      const stop = h.blockLen - pad;
      if (stop < start) {
        h.blockLost = true;
      } else {
        h.block.copyWithin(h.frameAt, start, stop);
        h.blockLen = h.frameAt + (stop - start);
      }
    }
    if ((h.fFlags & F_END_HEADERS) === 0) return; // CONTINUATION follows
    h.inBlock = false;
    const f = this.fields;
    f.reset();
    if (h.blockLost || !h.hpack.decode(h.block, 0, h.blockLen, this.onField, wanted)) {
      h.hpack.desync();
      h.blockLost = false;
      if (h.blockPush) return;
      // The block's fields are unknown, but the frame still starts or ends a message.
      f.reset();
      f.unknown = 1;
    }
    if (h.blockPush) return;
    this.headerBlock(h, h.blockStream, h.blockEndStream, h.blockSeq, h.blockTs, tsUs);
  }

  private dropBlock(h: Half): void {
    if (!h.inBlock) return;
    h.inBlock = false;
    h.blockLen = 0;
    h.hpack.desync();
  }

  private field(name: string | null, value: string | null): void {
    const f = this.fields;
    if (name === null) {
      f.unknown++;
      return;
    }
    const c0 = name.charCodeAt(0);
    if (c0 === 58) {
      // Pseudo-headers.
      switch (name) {
        case ':method':
          f.requestPseudo = true;
          if (value === null) f.unknown++;
          else f.method ??= value;
          return;
        case ':path':
          f.requestPseudo = true;
          if (value === null) f.unknown++;
          else f.path ??= value;
          return;
        case ':authority':
          f.requestPseudo = true;
          if (value === null) f.unknown++;
          else f.authority ??= value;
          return;
        case ':scheme':
          f.requestPseudo = true;
          return;
        case ':status':
          f.responsePseudo = true;
          if (value === null) f.unknown++;
          else f.status ??= value;
          return;
      }
      return;
    }
    if (value === null) {
      f.unknown++;
      return;
    }
    switch (name) {
      case 'content-type':
        f.contentType ??= value;
        return;
      case 'host':
        f.host ??= cut(value, MAX_VALUE);
        return;
      case 'grpc-status':
        f.grpcStatus ??= value;
        return;
      case 'grpc-message':
        f.grpcMessage ??= cut(value, MAX_VALUE);
        return;
      case 'x-request-id':
        f.xRequestId ??= cut(value, MAX_VALUE);
        return;
      case 'traceparent':
        f.trace.traceparent ??= value;
        return;
      case 'sw8':
        f.trace.sw8 ??= value;
        return;
      case 'b3':
        f.trace.b3 ??= value;
        return;
      case 'x-b3-traceid':
        f.trace.xB3TraceId ??= value;
        return;
      case 'x-b3-spanid':
        f.trace.xB3SpanId ??= value;
        return;
      case 'x-b3-parentspanid':
        f.trace.xB3ParentSpanId ??= value;
        return;
      case 'uber-trace-id':
        f.trace.uberTraceId ??= value;
        return;
    }
  }

  /** A stream the server promised (server push): its response is not a request of the client's. */
  private promise(id: number): void {
    if (this.pushed.size >= MAX_OPEN_STREAMS) this.pushed.delete(this.pushed.values().next().value!);
    this.pushed.add(id);
  }

  /** A complete header block of stream `id` from direction h.dir. */
  private headerBlock(h: Half, id: number, endStream: boolean, seq: number, startTs: number, tsUs: number): void {
    if (id === 0) return;
    if (this.pushed.has(id)) {
      if (endStream) this.pushed.delete(id);
      return;
    }
    const f = this.fields;
    let s = this.streams.get(id);
    const isGrpcType = f.contentType !== null && f.contentType.startsWith('application/grpc');
    // What the block is: request headers, response headers, or trailers of either.
    let kind: 'req' | 'resp' | 'reqTrailers' | 'respTrailers';
    if (f.method !== null || (f.requestPseudo && !f.responsePseudo)) kind = 'req';
    else if (f.status !== null || f.responsePseudo) kind = 'resp';
    else if (s !== undefined && s.resp !== null && s.resp.dir === h.dir) kind = 'respTrailers';
    else if (s !== undefined && s.req !== null && s.req.dir === h.dir) kind = s.resp === null && s.reqDone ? 'resp' : 'reqTrailers';
    else if (s !== undefined && s.req !== null) kind = 'resp';
    else if (f.grpcStatus !== null) kind = 'resp'; // trailers of a stream that began before the capture
    else kind = this.clientDir < 0 ? (h.dir === 0 ? 'req' : 'resp') : h.dir === this.clientDir ? 'req' : 'resp';
    if (kind === 'req' && this.clientDir < 0 && f.method !== null) this.clientDir = h.dir;

    if (kind === 'req') {
      if (s !== undefined) {
        // A stream id reused (or a second request block): the old one is over.
        this.closeStream(s, true);
      }
      s = this.openStream(id);
      const m = new L7Message(MsgKind.Request, h.dir);
      m.sessionId = id;
      m.startTs = startTs;
      m.endTs = tsUs;
      m.tcpSeq = seq;
      m.version = '2';
      m.requestType = f.method;
      m.requestDomain = f.authority !== null ? cut(f.authority, MAX_VALUE) : f.host;
      s.typeKnown = f.contentType !== null;
      s.grpc = isGrpcType || (this.grpc && f.contentType === null && f.unknown > 0);
      if (isGrpcType) this.grpc = true;
      if (f.path !== null) {
        m.requestResource = cut(f.path, MAX_RESOURCE);
        m.endpoint = s.grpc ? grpcEndpoint(m.requestResource) : foldPath(m.requestResource);
      }
      m.xRequestId = f.xRequestId;
      m.length = 0;
      if (s.grpc) m.l7Protocol = 'grpc';
      this.applyTrace(m, f.trace);
      s.req = m;
      this.sink.begin(m);
      if (endStream) this.endRequest(s, false);
      return;
    }
    if (kind === 'reqTrailers') {
      if (s!.req !== null && !s!.reqDone) {
        s!.req.endTs = tsUs;
        if (endStream) this.endRequest(s!, false);
      }
      return;
    }
    if (kind === 'resp') {
      const code = f.status !== null ? parseCode(f.status) : -1;
      if (code >= 100 && code < 200) return; // interim (100 Continue, 103 Early Hints)
      if (s === undefined) s = this.openStream(id);
      if (s.resp !== null) {
        // A second response block: treat as trailers.
        this.trailers(s, tsUs, endStream);
        return;
      }
      const m = new L7Message(MsgKind.Response, h.dir);
      m.sessionId = id;
      m.startTs = startTs;
      m.endTs = tsUs;
      m.tcpSeq = seq;
      m.version = '2';
      m.length = 0;
      if (code >= 0) {
        m.responseCode = code;
        m.responseStatus = httpStatusOf(code);
      }
      m.xRequestId = f.xRequestId;
      if (isGrpcType) {
        s.grpc = true;
        this.grpc = true;
      }
      s.resp = m;
      this.applyTrace(m, f.trace);
      if (s.grpc) this.markGrpc(s);
      if (f.grpcStatus !== null) this.applyGrpcStatus(s, m); // Trailers-Only
      else if (s.grpc && endStream && f.unknown > 0) this.unknownOutcome(s, m);
      this.sink.begin(m);
      if (endStream) this.endResponse(s, false);
      return;
    }
    this.trailers(s!, tsUs, endStream);
  }

  /** Trailers of a response (gRPC status lives here). */
  private trailers(s: Stream, tsUs: number, endStream: boolean): void {
    const m = s.resp;
    if (m === null || s.respDone) return;
    m.endTs = tsUs;
    const f = this.fields;
    if (m.xRequestId === null) m.xRequestId = f.xRequestId;
    if (m.traceId === null) this.applyTrace(m, f.trace);
    if (f.grpcStatus !== null) this.applyGrpcStatus(s, m);
    else if (s.grpc && f.unknown > 0 && endStream) this.unknownOutcome(s, m);
    if (endStream) this.endResponse(s, false);
  }

  /**
   * gRPC trailers whose grpc-status the capture cannot decode (an HPACK entry inserted before the
   * capture began): the :status 200 says nothing of the call's outcome, so the status is unknown.
   */
  private unknownOutcome(s: Stream, m: L7Message): void {
    if (s.grpcStatus) return;
    m.responseStatus = 'unknown';
  }

  private applyGrpcStatus(s: Stream, m: L7Message): void {
    const f = this.fields;
    const code = parseCode(f.grpcStatus!);
    if (code < 0) return;
    s.grpc = true;
    s.grpcStatus = true;
    this.grpc = true;
    this.markGrpc(s);
    m.responseCode = code;
    m.responseStatus = grpcStatusOf(code);
    // grpc-message of an OK status (grpc-js sends "OK") is not an exception.
    if (code !== 0 && f.grpcMessage !== null && f.grpcMessage.length > 0) m.responseException = percentDecode(f.grpcMessage);
  }

  private markGrpc(s: Stream): void {
    if (s.req !== null) {
      s.req.l7Protocol = 'grpc';
      if (s.req.requestResource !== null) s.req.endpoint = grpcEndpoint(s.req.requestResource);
    }
    if (s.resp !== null) s.resp.l7Protocol = 'grpc';
  }

  private applyTrace(m: L7Message, t: TraceHeaders): void {
    if (!t.any) return;
    const ids = resolveTrace(t);
    if (ids === null) return;
    m.traceId = ids.traceId;
    m.spanId = ids.spanId;
    m.parentSpanId = ids.parentSpanId;
  }

  private openStream(id: number): Stream {
    const s = new Stream(id);
    this.streams.set(id, s);
    if (this.streams.size > MAX_OPEN_STREAMS) {
      const oldest = this.streams.values().next().value!;
      this.closeStream(oldest, true);
    }
    return s;
  }

  private endRequest(s: Stream, truncated: boolean): void {
    if (s.reqDone || s.req === null) return;
    s.reqDone = true;
    const m = s.req;
    if (truncated) m.truncated = true;
    m.ended = true;
    this.sink.end(m);
    if (s.respDone) this.streams.delete(s.id);
  }

  private endResponse(s: Stream, truncated: boolean): void {
    if (s.respDone || s.resp === null) return;
    s.respDone = true;
    // The exchange is over for the server: a request still open ends with it.
    if (s.req !== null && !s.reqDone) this.endRequest(s, false);
    const m = s.resp;
    if (truncated) m.truncated = true;
    m.ended = true;
    this.sink.end(m);
    this.streams.delete(s.id);
  }

  /** Ends what is open on a stream (capture over, stream evicted or reused). */
  private closeStream(s: Stream, truncated: boolean): void {
    if (s.req !== null && !s.reqDone) this.endRequest(s, truncated);
    if (s.resp !== null && !s.respDone) this.endResponse(s, truncated);
    this.streams.delete(s.id);
  }

  /** A stream ended without (complete) response: RST_STREAM or GOAWAY. */
  private abort(s: Stream, senderDir: Dir, code: number, what: string, status: ResponseStatus, seq: number | null, tsUs: number): void {
    let m = s.resp;
    if (m === null) {
      if (s.req === null) {
        this.streams.delete(s.id);
        return;
      }
      m = new L7Message(MsgKind.Response, (s.req.dir ^ 1) as Dir);
      m.sessionId = s.id;
      m.startTs = tsUs;
      m.endTs = tsUs;
      m.tcpSeq = senderDir === m.dir ? seq : null;
      m.version = '2';
      if (s.grpc) m.l7Protocol = 'grpc';
      m.responseStatus = status;
      m.responseException = `${what} ${errorName(code)}`;
      s.resp = m;
      this.sink.begin(m);
      this.endResponse(s, false);
      return;
    }
    if (s.respDone) return;
    m.endTs = tsUs;
    // A gRPC response whose trailers never came: the reset is its outcome. An HTTP response keeps its
    // :status (its body was cut).
    if (code !== 0 && s.grpc && !s.grpcStatus) {
      m.responseStatus = status;
      m.responseException ??= `${what} ${errorName(code)}`;
    }
    this.endResponse(s, code !== 0);
  }

  private reset(h: Half, id: number, code: number, tsUs: number): void {
    const s = this.streams.get(id);
    if (s === undefined) return;
    const fromClient = s.req !== null ? s.req.dir === h.dir : this.clientDir === h.dir;
    const status: ResponseStatus = code === 0 ? 'unknown' : fromClient ? 'client_error' : 'server_error';
    this.abort(s, h.dir, code, 'RST_STREAM', status, h.fSeq, tsUs);
  }

  private goaway(h: Half, lastId: number, code: number, tsUs: number): void {
    // Streams the GOAWAY's sender never processed: those its peer opened above lastId.
    for (const s of [...this.streams.values()]) {
      if (s.id <= lastId || s.req === null || s.req.dir === h.dir || s.resp !== null) continue;
      this.abort(s, h.dir, code, 'GOAWAY', code === 0 ? 'unknown' : 'server_error', h.fSeq, tsUs);
    }
  }

  private settings(h: Half): void {
    // SETTINGS_HEADER_TABLE_SIZE bounds the table of the headers its sender receives; the encoder
    // confirms with a size update, which is what the decoder follows. Nothing else here matters.
    for (let k = 0; k + 6 <= h.ctlLen; k += 6) {
      const id = h.ctl.readUInt16BE(k);
      if (id === 1) this.halves[h.dir ^ 1].hpack.announced = h.ctl.readUInt32BE(k + 2);
    }
  }

  gap(dir: Dir, _seq: number, len: number, _tsUs: number): void {
    const h = this.halves[dir];
    h.hdrLen = 0;
    if (h.st === St.Payload && len < h.fRemain) {
      // Inside one frame: DATA only loses bytes it counts anyway; a header block is lost.
      h.fRemain -= len;
      if (h.fType === T_HEADERS || h.fType === T_CONTINUATION || h.fType === T_PUSH_PROMISE) h.blockLost = true;
      else if (h.fType !== T_DATA) h.fType = 255;
      const s = this.streams.get(h.fStream);
      if (s !== undefined) {
        if (s.req !== null && s.req.dir === dir) s.req.truncated = true;
        if (s.resp !== null && s.resp.dir === dir) s.resp.truncated = true;
      }
      return;
    }
    if (h.st === St.Payload && len === h.fRemain && h.fType === T_DATA) {
      h.fRemain = 0;
      this.frameEnd(h, _tsUs);
      return;
    }
    // Across a frame boundary: frames (and header blocks, hence the HPACK table) are lost.
    this.dropBlock(h);
    h.hpack.desync();
    h.st = St.Resync;
  }

  datagram(): void {
    // HTTP/2 is TCP only.
  }

  close(_dir: Dir, _tsUs: number): void {
    // Messages are framed: a FIN ends nothing by itself (finish() ends what is open).
  }

  finish(_tsUs: number): void {
    for (const s of [...this.streams.values()]) this.closeStream(s, true);
  }
}

/**
 * A DATA frame that is exactly one gRPC length-prefixed message (compressed flag 0 or 1, then the
 * message length, which fills the rest of the frame): how a stream whose content-type the capture
 * cannot decode (mid-connection HPACK) is still recognised as gRPC. Only used when content-type is unknown.
 */
function grpcPrefix(b: Buffer, frameLen: number): boolean {
  return (b[0] === 0 || b[0] === 1) && b.readUInt32BE(1) + 5 === frameLen;
}

/** The gRPC endpoint: the path without query, as it is (/pkg.Service/Method). */
function grpcEndpoint(path: string): string {
  const q = path.indexOf('?');
  const p = q >= 0 ? path.slice(0, q) : path;
  return p.length > 512 ? p.slice(0, 512) : p;
}

function parseCode(v: string): number {
  const t = v.trim();
  if (t.length === 0 || t.length > 6) return -1;
  let n = 0;
  for (let k = 0; k < t.length; k++) {
    const c = t.charCodeAt(k);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec); malformed escapes stay as they are. */
function percentDecode(v: string): string {
  if (!v.includes('%')) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

export const HTTP2: L7Protocol = {
  name: 'http2',
  tcp: true,
  udp: false,
  ports: [50051, 8080, 80, 9090, 8443, 10000],
  requestTimeoutUs: 120e6,
  hasSessionId: true,
  detect,
  createParser: (sink: MessageSink) => new Http2Parser(sink),
};
