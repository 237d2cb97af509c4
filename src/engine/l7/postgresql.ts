// PostgreSQL frontend/backend protocol v3 over TCP.
//
// Messages are a type byte and a 4-byte big-endian length (counting itself); the client's first
// messages (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest) have no type byte. One request
// is one simple Query ('Q'), one extended-protocol batch ending with Sync ('S': Parse/Bind/Describe/
// Execute/Close…), or one FunctionCall ('F'); the server ends the answer to each with ReadyForQuery
// ('Z'), so FIFO pairing stays exact under pipelining. DeepFlow instead makes a request of each client
// packet (Parse → "parse", Bind/Execute → "execute", …) and a response of each server packet.
//
// Fields (DeepFlow's names): request_type "simple query" / "parse" / "execute" / …; request_resource
// the SQL (for a batch of Bind/Execute of a statement prepared earlier on the connection, that
// statement's SQL, which DeepFlow leaves empty); endpoint "VERB table" (SPEC); response_result the
// SQLSTATE of the first ErrorResponse, else the last CommandComplete tag ("SELECT 3", "INSERT 0 1");
// response_exception the error's message; status by SQLSTATE as DeepFlow's postgre_convert.rs.
// Startup, authentication and Terminate make no rows. After the server accepts SSL or GSS encryption
// nothing more is parsed.

import { looksLikeSql, sqlEndpoint, sqlTrace } from './sql-text';
import {
  DETECT_SURE,
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

const PROTOCOL_3 = 196608;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
/** Message body bytes kept for parsing (SQL text, error fields); longer SQL is cut. */
const KEEP = 16384;
/** Larger messages mean the framing is lost (real ones are far smaller; COPY data is chunked). */
const MAX_MESSAGE = 64 << 20;
/** Prepared statements / portals remembered per connection. */
const MAX_NAMES = 256;

const REQUEST_NAMES: Record<number, string> = {
  0x51: 'simple query', // Q
  0x50: 'parse', // P
  0x42: 'bind', // B
  0x45: 'execute', // E
  0x46: 'fastpath function call', // F
  0x43: 'close', // C
  0x44: 'describe', // D
  0x48: 'flush', // H
  0x53: 'sync', // S
};

/** Client message types that start or extend an extended-protocol batch. */
function isBatchType(t: number): boolean {
  return t === 0x50 || t === 0x42 || t === 0x45 || t === 0x43 || t === 0x44 || t === 0x48 || t === 0x53;
}

/** Backend message types (for resynchronising after a gap and for detection of the server side). */
const BACKEND_TYPES = new Set([...'RSKZTDCEINnt123sGHWdcVAv'].map((c) => c.charCodeAt(0)));
const FRONTEND_TYPES = new Set([...'QPBEFCDHSXdcfp'].map((c) => c.charCodeAt(0)));

/** DeepFlow's SQLSTATE classes that are the client's fault (postgre_convert.rs); the rest are the server's. */
const CLIENT_CLASSES = new Set(['03', '0A', '0B', '0F', '0L', '0P', '20', '22', '23', '26', '2F', '34', '3D', '3F', '42']);

export function sqlstateStatus(code: string): ResponseStatus {
  if (code === '40001' || code === '40003' || code === '40P01') return 'client_error';
  return CLIENT_CLASSES.has(code.slice(0, 2)) ? 'client_error' : 'server_error';
}

/** NUL-terminated string at b[p, end): text and the index after its NUL (or end). */
let cstrNext = 0;
function cstr(b: Buffer, p: number, end: number): string {
  let e = p;
  while (e < end && b[e] !== 0) e++;
  cstrNext = e < end ? e + 1 : end;
  return b.toString('utf8', p, e);
}

class Half {
  /** Header bytes of the current message (type + length, or length + code for untagged ones). */
  readonly hdr = Buffer.alloc(8);
  hdrHave = 0;
  hdrNeed = 5;
  type = 0;
  /** Body length of the current message, -1 while its header is incomplete. */
  bodyLen = -1;
  bodyHave = 0;
  /** Kept part of the body (first KEEP bytes). */
  body = Buffer.alloc(256);
  startSeq = 0;
  startTs = 0;
  /** Framing lost after a gap or nonsense: wait for a segment that starts with a plausible message. */
  lost = false;
  /** The body lost bytes to a gap. */
  cut = false;
}

export class PostgresqlParser implements L7FlowParser {
  private readonly half: [Half, Half] = [new Half(), new Half()];
  /** Direction of the client (sender of queries); decided by the first telling message. */
  private clientDir: Dir = 0;
  private decided = false;
  private encrypted = false;
  /** The server's next byte answers an SSLRequest / GSSENCRequest ('S'/'G' yes, 'N' no). */
  private awaitEncryptionAnswer = false;
  /** The answer was lost to a gap: the client's next bytes tell (a TLS ClientHello, or a plain startup). */
  private encryptionAnswerLost = false;
  /** Open extended-protocol batch (until Sync). */
  private batch: L7Message | null = null;
  private batchHasParse = false;
  /** Requests begun whose response has not begun yet. */
  private waiting = 0;
  private resp: L7Message | null = null;
  private respError = false;
  private version: string | null = null;
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, string>();

  constructor(private readonly sink: MessageSink) {}

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    if (this.encrypted) return;
    if (this.encryptionAnswerLost && !this.isServer(dir) && len > 0) {
      this.encryptionAnswerLost = false;
      if (buf[off] === 0x16) {
        this.encrypted = true;
        return;
      }
    }
    const h = this.half[dir];
    const end = off + len;
    let i = off;
    if (h.lost) {
      if (!this.plausibleStart(dir, buf, off, len)) return;
      h.lost = false;
      this.resetMessage(h);
    }
    while (i < end && !this.encrypted && !h.lost) {
      if (h.bodyLen < 0) {
        if (h.hdrHave === 0) {
          h.startSeq = (seq + (i - off)) >>> 0;
          h.startTs = tsUs;
          const c = buf[i];
          if (this.isServer(dir) && this.awaitEncryptionAnswer && (c === 0x53 || c === 0x4e || c === 0x47)) {
            // The one-byte answer to SSLRequest / GSSENCRequest.
            this.awaitEncryptionAnswer = false;
            i++;
            if (c !== 0x4e) this.encrypted = true;
            continue;
          }
          // Only the client sends untagged messages, and no type byte is 0.
          h.hdrNeed = c === 0 && !this.isServer(dir) ? 8 : 5;
        }
        const n = Math.min(h.hdrNeed - h.hdrHave, end - i);
        buf.copy(h.hdr, h.hdrHave, i, i + n);
        h.hdrHave += n;
        i += n;
        if (h.hdrHave < h.hdrNeed) break;
        if (!this.header(dir, h, tsUs)) {
          h.lost = true;
          break;
        }
        if (h.bodyLen === 0) this.message(dir, h, tsUs);
        continue;
      }
      const n = Math.min(h.bodyLen - h.bodyHave, end - i);
      if (h.bodyHave < KEEP) {
        const k = Math.min(n, KEEP - h.bodyHave);
        if (h.body.length < h.bodyHave + k) {
          const nb = Buffer.alloc(Math.min(KEEP, Math.max(h.body.length * 2, h.bodyHave + k)));
          h.body.copy(nb, 0, 0, h.bodyHave);
          h.body = nb;
        }
        buf.copy(h.body, h.bodyHave, i, i + k);
      }
      h.bodyHave += n;
      i += n;
      if (h.bodyHave === h.bodyLen) this.message(dir, h, tsUs);
    }
  }

  private isServer(dir: Dir): boolean {
    return dir !== this.clientDir;
  }

  private resetMessage(h: Half): void {
    h.hdrHave = 0;
    h.bodyLen = -1;
    h.bodyHave = 0;
    h.cut = false;
  }

  /** Header complete: checks it and sets the body length. False if it cannot be PostgreSQL. */
  private header(dir: Dir, h: Half, tsUs: number): boolean {
    const hd = h.hdr;
    if (h.hdrNeed === 8) {
      const total = hd.readUInt32BE(0);
      const code = hd.readUInt32BE(4);
      if (total < 8 || total > 10240) return false;
      h.type = 0;
      h.bodyLen = total - 8;
      if (!this.decided) this.decide(dir, true);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) this.awaitEncryptionAnswer = true;
      else if (code === PROTOCOL_3 || (code >>> 16) === 3) this.version = `${code >>> 16}.${code & 0xffff}`;
      else if (code !== CANCEL_REQUEST) return false;
      return true;
    }
    const t = hd[0];
    const total = hd.readUInt32BE(1);
    if (total < 4 || total > MAX_MESSAGE) return false;
    if (!this.decided) {
      if (FRONTEND_TYPES.has(t) && !BACKEND_TYPES.has(t)) this.decide(dir, true);
      else if (t === 0x51 || t === 0x50) this.decide(dir, true);
      else if (BACKEND_TYPES.has(t) && !FRONTEND_TYPES.has(t)) this.decide(dir, false);
    }
    const known = this.isServer(dir) ? BACKEND_TYPES.has(t) : FRONTEND_TYPES.has(t);
    if (!known) return false;
    h.type = t;
    h.bodyLen = total - 4;
    if (!this.isServer(dir)) this.requestStart(dir, h, tsUs);
    else this.responseStart(dir, h);
    return true;
  }

  private decide(dir: Dir, isClient: boolean): void {
    this.decided = true;
    this.clientDir = isClient ? dir : ((dir ^ 1) as Dir);
  }

  /** A client message's header is known: begin its request (pairing needs the order of starts). */
  private requestStart(dir: Dir, h: Half, tsUs: number): void {
    const t = h.type;
    if (t === 0x51 || t === 0x46) {
      this.closeBatch(tsUs, true);
      const m = this.newRequest(dir, h, REQUEST_NAMES[t]);
      m.length = h.bodyLen + 5;
      this.batch = m;
    } else if (isBatchType(t)) {
      if (this.batch === null) {
        this.batch = this.newRequest(dir, h, REQUEST_NAMES[t]);
        this.batch.length = 0;
          this.batchHasParse = false;
      }
      this.batch.length = (this.batch.length ?? 0) + h.bodyLen + 5;
    }
  }

  private newRequest(dir: Dir, h: Half, type: string): L7Message {
    const m = new L7Message(MsgKind.Request, dir);
    m.startTs = h.startTs;
    m.endTs = h.startTs;
    m.tcpSeq = h.startSeq;
    m.requestType = type;
    m.version = this.version;
    this.waiting++;
    this.sink.begin(m);
    return m;
  }

  private responseStart(dir: Dir, h: Half): void {
    if (this.resp !== null || this.waiting === 0) return;
    const t = h.type;
    // Asynchronous messages may arrive at any time: they do not start an answer.
    if (t === 0x4e || t === 0x41 || t === 0x53) return;
    const m = new L7Message(MsgKind.Response, dir);
    m.startTs = h.startTs;
    m.endTs = h.startTs;
    m.tcpSeq = h.startSeq;
    m.responseStatus = 'ok';
    m.version = this.version;
    m.length = 0;
    this.waiting--;
    this.resp = m;
    this.respError = false;
    this.sink.begin(m);
  }

  /** A whole message (body possibly cut at KEEP bytes). */
  private message(dir: Dir, h: Half, tsUs: number): void {
    const kept = Math.min(h.bodyHave, KEEP);
    if (this.isServer(dir)) this.serverMessage(h, kept, tsUs);
    else this.clientMessage(h, kept, tsUs);
    this.resetMessage(h);
  }

  private clientMessage(h: Half, kept: number, tsUs: number): void {
    const b = h.body;
    const t = h.type;
    const m = this.batch;
    if (m === null || h.cut) {
      if (m !== null && (t === 0x51 || t === 0x46 || t === 0x53)) this.closeBatch(tsUs, false);
      return;
    }
    m.endTs = tsUs;
    switch (t) {
      case 0x51: {
        this.setSql(m, cstr(b, 0, kept));
        this.closeBatch(tsUs, false);
        return;
      }
      case 0x46:
        this.closeBatch(tsUs, false);
        return;
      case 0x50: {
        const name = cstr(b, 0, kept);
        const sql = cstr(b, cstrNext, kept);
        this.batchHasParse = true;
        m.requestType = REQUEST_NAMES[0x50];
        if (m.requestResource === null) this.setSql(m, sql);
        this.remember(this.statements, name, sql);
        return;
      }
      case 0x42: {
        const portal = cstr(b, 0, kept);
        const stmt = cstr(b, cstrNext, kept);
        const sql = this.statements.get(stmt);
        // A statement prepared before the capture began stays unknown (and so does its portal).
        if (sql !== undefined) this.remember(this.portals, portal, sql);
        else this.portals.delete(portal);
        if (m.requestResource === null && sql !== undefined) this.setSql(m, sql);
        return;
      }
      case 0x45: {
        const portal = cstr(b, 0, kept);
        if (!this.batchHasParse) m.requestType = REQUEST_NAMES[0x45];
        const sql = this.portals.get(portal);
        if (m.requestResource === null && sql !== undefined) this.setSql(m, sql);
        return;
      }
      case 0x53:
        this.closeBatch(tsUs, false);
        return;
      default:
        return;
    }
  }

  private setSql(m: L7Message, sql: string): void {
    m.requestResource = sql;
    m.endpoint = sqlEndpoint(sql, false);
    const ids = sqlTrace(sql);
    if (ids !== null) {
      m.traceId = ids.traceId;
      m.spanId = ids.spanId;
      m.parentSpanId = ids.parentSpanId;
    }
  }

  private remember(map: Map<string, string>, key: string, sql: string): void {
    map.delete(key);
    map.set(key, sql);
    if (map.size > MAX_NAMES) map.delete(map.keys().next().value!);
  }

  /** Ends the open request (Sync, Query, FunctionCall), or, cut short, a batch left open. */
  private closeBatch(tsUs: number, interrupted: boolean): void {
    const m = this.batch;
    if (m === null) return;
    this.batch = null;
    if (interrupted) m.truncated = true;
    else m.endTs = tsUs;
    m.ended = true;
    this.sink.end(m);
  }

  private serverMessage(h: Half, kept: number, tsUs: number): void {
    const m = this.resp;
    if (m === null) return;
    m.endTs = tsUs;
    m.length = (m.length ?? 0) + h.bodyLen + 5;
    const b = h.body;
    switch (h.type) {
      case 0x43: // CommandComplete
        if (!this.respError && !h.cut) m.responseResult = cstr(b, 0, kept);
        return;
      case 0x45: {
        // ErrorResponse: fields "<code><text>\0"…; the first error decides.
        if (this.respError || h.cut) return;
        this.respError = true;
        let p = 0;
        let code = '';
        let msg: string | null = null;
        while (p < kept && b[p] !== 0) {
          const f = b[p];
          const v = cstr(b, p + 1, kept);
          p = cstrNext;
          if (f === 0x43) code = v;
          else if (f === 0x4d) msg = v;
        }
        m.responseResult = code.length > 0 ? code : null;
        m.responseException = msg;
        m.responseStatus = code.length === 5 ? sqlstateStatus(code) : 'server_error';
        return;
      }
      case 0x5a: // ReadyForQuery: the answer is complete
        this.resp = null;
        m.ended = true;
        this.sink.end(m);
        return;
      default:
        return;
    }
  }

  /** Segment start after lost framing: does it start with a whole plausible message of this side? */
  private plausibleStart(dir: Dir, b: Buffer, off: number, len: number): boolean {
    if (len < 5) return false;
    const t = b[off];
    const total = b.readUInt32BE(off + 1);
    if (total < 4 || total > MAX_MESSAGE) return false;
    if (this.isServer(dir)) return BACKEND_TYPES.has(t) && (total + 1 >= len || BACKEND_TYPES.has(b[off + 1 + total]));
    if (t === 0x51 || t === 0x50) return detectTagged(b, off, len) > 0;
    return FRONTEND_TYPES.has(t) && (total + 1 >= len || FRONTEND_TYPES.has(b[off + 1 + total]));
  }

  gap(dir: Dir, _seq: number, len: number, tsUs: number): void {
    if (this.encrypted) return;
    const h = this.half[dir];
    if (this.awaitEncryptionAnswer && this.isServer(dir)) {
      this.awaitEncryptionAnswer = false;
      this.encryptionAnswerLost = true;
    }
    if (h.lost) return;
    if (h.bodyLen >= 0 && len <= h.bodyLen - h.bodyHave) {
      // Bytes of one message body are missing: keep the framing, the message is cut.
      h.bodyHave += len;
      h.cut = true;
      if (h.bodyHave === h.bodyLen) this.message(dir, h, tsUs);
      return;
    }
    h.lost = true;
    this.resetMessage(h);
    if (!this.isServer(dir)) {
      if (this.batch !== null) this.closeBatch(tsUs, true);
    } else if (this.resp !== null) {
      // The rest of this answer (its ReadyForQuery among it) is gone.
      const m = this.resp;
      this.resp = null;
      m.truncated = true;
      m.ended = true;
      this.sink.end(m);
    }
  }

  datagram(): void {}

  close(): void {}

  finish(): void {
    if (this.batch !== null) {
      const m = this.batch;
      this.batch = null;
      m.truncated = true;
      m.ended = true;
      this.sink.end(m);
    }
    if (this.resp !== null) {
      const m = this.resp;
      this.resp = null;
      m.truncated = true;
      m.ended = true;
      this.sink.end(m);
    }
  }
}

/** A whole tagged Query / Parse message (or its start) carrying SQL: confidence, else 0. */
function detectTagged(b: Buffer, off: number, len: number): number {
  const t = b[off];
  const total = b.readUInt32BE(off + 1);
  if (total < 5 || total > MAX_MESSAGE) return 0;
  const end = Math.min(off + 1 + total, off + len, off + 1 + 4 + 1024);
  let p = off + 5;
  if (t === 0x50) {
    while (p < end && b[p] !== 0) p++;
    if (p >= end) return 0;
    p++;
  } else if (t !== 0x51) {
    return 0;
  }
  if (total + 1 <= len && b[off + total] !== 0) return 0; // the text ends with NUL
  return looksLikeSql(b.toString('latin1', p, Math.min(end, p + 64)), false) ? 80 : 1;
}

function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp || len < 5 || off + len > buf.length) return 0;
  if (buf[off] === 0) {
    if (len < 8) return 0;
    const total = buf.readUInt32BE(off);
    const code = buf.readUInt32BE(off + 4);
    if ((code === SSL_REQUEST || code === GSSENC_REQUEST) && total === 8 && len === 8) return 90;
    if (code === CANCEL_REQUEST && total === 16 && len === 16) return 90;
    if (code === PROTOCOL_3 && total >= 8 && total <= 10240 && total >= len - 0) {
      // Parameters are NUL-terminated name/value pairs that end with an extra NUL.
      if (total === len && buf[off + len - 1] !== 0) return 0;
      return 90;
    }
    return 0;
  }
  const c = detectTagged(buf, off, len);
  if (c >= DETECT_SURE) return c;
  // A whole Query message whose text is not a known statement (a typo): a guess that counts on port 5432.
  const t = buf[off];
  const total = buf.readUInt32BE(off + 1);
  return t === 0x51 && total + 1 === len && total > 5 && buf[off + total] === 0 ? 40 : 0;
}

export const POSTGRESQL: L7Protocol = {
  name: 'postgresql',
  tcp: true,
  udp: false,
  ports: [5432],
  requestTimeoutUs: 120e6,
  hasSessionId: false,
  detect,
  createParser: (sink: MessageSink) => new PostgresqlParser(sink),
};
