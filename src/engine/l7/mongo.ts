// MongoDB wire protocol: a 16-byte header (messageLength, requestID, responseTo, opCode, little endian)
// then the body. A response's responseTo is its request's requestID: the pairing key.
//
// OP_MSG (MongoDB ≥ 3.6, every command): the body section's first key is the command (find, insert,
// update, delete, aggregate, getMore, hello, …) and its value the collection; `$db` the database.
// Legacy OP_QUERY (`db.$cmd` carries a command, else a query on `db.collection`) answered by OP_REPLY;
// OP_INSERT / OP_UPDATE / OP_DELETE / OP_KILL_CURSORS expect no answer (rows of their own); OP_MSG
// with moreToCome neither.
//
// Row: request_type = the command (DeepFlow shows the opcode, OP_MSG on nearly every row since 3.6,
// which says nothing), request_domain = the database, request_resource = the collection, endpoint =
// `command collection` (as SQL's verb + table). Errors as DeepFlow: an answer with `errmsg` (or ok: 0,
// a QueryFailure reply, writeErrors) is a client error; `code` → response_code, errmsg → exception.
// Lengths are messageLength. OP_COMPRESSED messages are paired but their content is not read.

import { BsonType, docEnd, el, elNumber, elString, find, firstKey } from './bson';
import {
  L7Message,
  MsgKind,
  Transport,
  type DetectContext,
  type Dir,
  type L7FlowParser,
  type L7Protocol,
  type MessageSink,
} from './types';

const MONGO_PORTS = [27017, 27018, 27019];
/** Message bytes kept for parsing (the command document's head; answers' ok/errmsg/code). */
const MAX_CAPTURE = 16 * 1024;
const MAX_MESSAGE = 48 * 1000 * 1000;

const OP_REPLY = 1;
const OP_UPDATE = 2001;
const OP_INSERT = 2002;
const OP_QUERY = 2004;
const OP_GET_MORE = 2005;
const OP_DELETE = 2006;
const OP_KILL_CURSORS = 2007;
const OP_COMMAND = 2010;
const OP_COMMANDREPLY = 2011;
const OP_COMPRESSED = 2012;
const OP_MSG = 2013;

export function opName(op: number): string | null {
  switch (op) {
    case OP_REPLY: return 'OP_REPLY';
    case OP_UPDATE: return 'OP_UPDATE';
    case OP_INSERT: return 'OP_INSERT';
    case OP_QUERY: return 'OP_QUERY';
    case OP_GET_MORE: return 'OP_GET_MORE';
    case OP_DELETE: return 'OP_DELETE';
    case OP_KILL_CURSORS: return 'OP_KILL_CURSORS';
    case OP_COMMAND: return 'OP_COMMAND';
    case OP_COMMANDREPLY: return 'OP_COMMANDREPLY';
    case OP_COMPRESSED: return 'OP_COMPRESSED';
    case OP_MSG: return 'OP_MSG';
    default: return null;
  }
}

function isRequest(op: number, responseTo: number): boolean {
  if (op === OP_REPLY || op === OP_COMMANDREPLY) return false;
  if (op === OP_QUERY || op === OP_UPDATE || op === OP_INSERT || op === OP_DELETE || op === OP_GET_MORE || op === OP_KILL_CURSORS) return true;
  return responseTo === 0;
}

/** Header at b[off] plausible (and, for OP_MSG, its first section). */
function headerOk(b: Buffer, off: number, len: number): boolean {
  if (len < 16) return false;
  const n = b.readInt32LE(off);
  const op = b.readInt32LE(off + 12);
  if (n < 16 || n > MAX_MESSAGE || opName(op) === null) return false;
  if (op === OP_MSG) {
    if (n < 21) return false;
    if (len >= 21) {
      const flags = b.readUInt32LE(off + 16);
      if ((flags & ~0x10003) !== 0) return false;
      const kind = b[off + 20];
      if (kind !== 0 && kind !== 1) return false;
      if (len >= 25 && kind === 0) {
        const d = b.readInt32LE(off + 21);
        if (d < 5 || d > n - 21) return false;
      }
    }
  }
  return true;
}

function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp) return 0;
  if (off + len > buf.length) len = buf.length - off;
  if (!headerOk(buf, off, len)) return 0;
  const onPort = MONGO_PORTS.includes(ctx.srcPort) || MONGO_PORTS.includes(ctx.dstPort);
  const op = buf.readInt32LE(off + 12);
  const req = isRequest(op, buf.readInt32LE(off + 8));
  // A whole OP_MSG / OP_QUERY in view whose command document parses is as good as sure.
  if ((op === OP_MSG || op === OP_QUERY) && buf.readInt32LE(off) <= len) {
    let p = -1;
    if (op === OP_MSG) p = buf[off + 20] === 0 ? off + 21 : -1;
    else {
      const ce = cstringEnd(buf, off + 20, off + len);
      p = ce < 0 ? -1 : ce + 8;
    }
    const name = p > 0 ? firstKey(buf, p, off + len) : null;
    if (name !== null && /^[$A-Za-z_][\w$.]*$/.test(name)) return onPort ? 95 : req ? 80 : 60;
  }
  return onPort ? 60 : 0;
}

/** Index after the 0 ending the cstring at b[p] (before end), or -1. */
function cstringEnd(b: Buffer, p: number, end: number): number {
  for (let k = p; k < end; k++) if (b[k] === 0) return k + 1;
  return -1;
}

class Half {
  hdr = Buffer.alloc(16);
  hdrLen = 0;
  /** Body bytes still to come. */
  left = 0;
  cap = Buffer.alloc(0);
  capLen = 0;
  capNeed = 0;
  m: L7Message | null = null;
  op = 0;
  startSeq = 0;
  startTs = 0;
  lost = false;
}

export class MongoParser implements L7FlowParser {
  private readonly half: [Half, Half] = [new Half(), new Half()];

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
      if (!headerOk(buf, off, len)) return;
      h.lost = false;
      h.hdrLen = 0;
      h.left = 0;
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
        if (h.left === 0) this.complete(h, tsUs);
        continue;
      }
      if (h.hdrLen === 0) {
        h.startSeq = (seq + (i - off)) >>> 0;
        h.startTs = tsUs;
      }
      const n = Math.min(16 - h.hdrLen, end - i);
      buf.copy(h.hdr, h.hdrLen, i, i + n);
      h.hdrLen += n;
      i += n;
      if (h.hdrLen < 16) return;
      h.hdrLen = 0;
      if (!this.start(dir, h, tsUs)) {
        h.lost = true;
        return;
      }
      if (h.left === 0) this.complete(h, tsUs);
    }
  }

  /** The header of a message is in h.hdr: begin it. False if it is not a header. */
  private start(dir: Dir, h: Half, tsUs: number): boolean {
    const b = h.hdr;
    const length = b.readInt32LE(0);
    const requestId = b.readInt32LE(4);
    const responseTo = b.readInt32LE(8);
    const op = b.readInt32LE(12);
    if (length < 16 || length > MAX_MESSAGE || opName(op) === null) return false;
    const req = isRequest(op, responseTo);
    const m = new L7Message(req ? MsgKind.Request : MsgKind.Response, dir);
    m.startTs = h.startTs;
    m.endTs = tsUs;
    m.tcpSeq = h.startSeq;
    m.length = length;
    m.sessionId = req ? requestId : responseTo;
    m.requestType = opName(op);
    if (!req) m.responseStatus = 'ok';
    // Legacy writes and cursor kills are never answered.
    if (op === OP_INSERT || op === OP_UPDATE || op === OP_DELETE || op === OP_KILL_CURSORS) {
      m.oneWay = true;
      m.responseStatus = 'ok';
    }
    h.m = m;
    h.op = op;
    h.left = length - 16;
    h.capLen = 0;
    h.capNeed = Math.min(h.left, MAX_CAPTURE);
    if (h.cap.length < h.capNeed) h.cap = Buffer.allocUnsafe(Math.max(h.capNeed, 512));
    this.sink.begin(m);
    return true;
  }

  private complete(h: Half, tsUs: number): void {
    const m = h.m;
    if (m === null) return;
    h.m = null;
    try {
      if (m.kind === MsgKind.Request) this.request(m, h.op, h.cap, h.capLen);
      else this.response(m, h.op, h.cap, h.capLen);
    } finally {
      this.endMsg(m, tsUs);
    }
  }

  private request(m: L7Message, op: number, b: Buffer, n: number): void {
    switch (op) {
      case OP_MSG: {
        if (n >= 4 && (b.readUInt32LE(0) & 0x2) !== 0) {
          m.oneWay = true; // moreToCome: the sender expects no answer
          m.responseStatus = 'ok';
        }
        const p = bodySection(b, n);
        if (p < 0) return;
        this.command(m, b, p, n, null);
        return;
      }
      case OP_QUERY: {
        const ce = cstringEnd(b, 4, n);
        if (ce < 0) return;
        const ns = b.toString('utf8', 4, ce - 1);
        const dot = ns.indexOf('.');
        const db = dot < 0 ? ns : ns.slice(0, dot);
        const coll = dot < 0 ? '' : ns.slice(dot + 1);
        const q = ce + 8;
        if (coll === '$cmd') {
          this.command(m, b, q, n, db);
        } else {
          m.requestType = 'query';
          this.resource(m, db, coll);
        }
        return;
      }
      case OP_INSERT:
      case OP_UPDATE:
      case OP_DELETE:
      case OP_GET_MORE:
      case OP_KILL_CURSORS: {
        m.requestType = op === OP_INSERT ? 'insert' : op === OP_UPDATE ? 'update' : op === OP_DELETE ? 'delete' : op === OP_GET_MORE ? 'getMore' : 'killCursors';
        if (op === OP_KILL_CURSORS) return;
        // OP_INSERT: flags(4) ns; OP_UPDATE / OP_DELETE / OP_GET_MORE: ZERO(4) ns.
        const ce = cstringEnd(b, 4, n);
        if (ce < 0) return;
        const ns = b.toString('utf8', 4, ce - 1);
        const dot = ns.indexOf('.');
        this.resource(m, dot < 0 ? ns : ns.slice(0, dot), dot < 0 ? '' : ns.slice(dot + 1));
        return;
      }
      default:
        return;
    }
  }

  /** A command document at b[p]: its first key is the command, a string value the collection. */
  private command(m: L7Message, b: Buffer, p: number, n: number, db: string | null): void {
    const cmd = firstKey(b, p, n);
    if (cmd === null) return;
    m.requestType = cmd.length > 64 ? cmd.slice(0, 64) : cmd;
    let coll = elString(b, 256);
    if (coll === null && cmd === 'getMore' && find(b, p, n, 'collection')) coll = elString(b, 256);
    if (find(b, p, n, '$db')) db = elString(b, 128) ?? db;
    this.resource(m, db, coll ?? '');
  }

  private resource(m: L7Message, db: string | null, coll: string): void {
    m.requestDomain = db !== null && db.length > 0 ? db : null;
    if (coll.length > 0) {
      m.requestResource = coll.length > 256 ? coll.slice(0, 256) : coll;
      m.endpoint = `${m.requestType} ${m.requestResource}`;
    } else {
      m.endpoint = m.requestType;
    }
  }

  private response(m: L7Message, op: number, b: Buffer, n: number): void {
    let p = -1;
    if (op === OP_MSG) {
      p = bodySection(b, n);
    } else if (op === OP_REPLY) {
      if (n < 20) return;
      const flags = b.readUInt32LE(0);
      p = 20;
      if ((flags & 0x2) !== 0) {
        // QueryFailure: the one document is {$err, code}.
        m.responseStatus = 'client_error';
        if (find(b, p, n, '$err')) m.responseException = elString(b);
        if (find(b, p, n, 'code')) m.responseCode = numberOrNull(elNumber(b));
        if (m.responseException === null) m.responseException = 'QueryFailure';
        return;
      }
      if (b.readInt32LE(16) === 0) return; // no documents
    } else {
      return;
    }
    if (p < 0 || docEnd(b, p, n) < 0) return;
    let failed = false;
    if (find(b, p, n, 'ok')) failed = elNumber(b) === 0;
    if (find(b, p, n, 'errmsg')) {
      m.responseException = elString(b);
      failed = true;
    }
    if (find(b, p, n, 'code')) m.responseCode = numberOrNull(elNumber(b));
    if (failed && m.responseException === null && find(b, p, n, 'codeName')) m.responseException = elString(b);
    // Write errors come with ok: 1; the first one says what went wrong.
    if (!failed && find(b, p, n, 'writeErrors') && el.type === BsonType.Array) {
      const arr = el.valueStart;
      if (find(b, arr, n, "0") && (el.type as number) === BsonType.Document) {
        const d = el.valueStart;
        failed = true;
        if (find(b, d, n, 'code')) m.responseCode = numberOrNull(elNumber(b));
        if (find(b, d, n, 'errmsg')) m.responseException = elString(b);
      }
    }
    if (!failed && find(b, p, n, 'n')) {
      const v = elNumber(b);
      if (!Number.isNaN(v)) m.responseResult = `n=${v}`;
    }
    if (failed) m.responseStatus = 'client_error';
  }

  private endMsg(m: L7Message, tsUs: number): void {
    if (m.ended) return;
    if (tsUs > m.endTs) m.endTs = tsUs;
    m.ended = true;
    this.sink.end(m);
  }

  gap(dir: Dir, _seq: number, len: number, tsUs: number): void {
    const h = this.half[dir];
    if (h.lost) return;
    if (h.left > 0 && len <= h.left) {
      h.left -= len;
      h.capNeed = h.capLen; // later bytes would land at the wrong offset
      if (h.m !== null) h.m.truncated = true;
      if (h.left === 0) this.complete(h, tsUs);
      return;
    }
    if (h.m !== null) {
      h.m.truncated = true;
      this.complete(h, tsUs);
    }
    h.lost = true;
    h.hdrLen = 0;
    h.left = 0;
  }

  datagram(): void {}

  close(_dir: Dir, _tsUs: number): void {}

  finish(tsUs: number): void {
    for (const h of this.half) {
      if (h.m !== null) {
        h.m.truncated = true;
        this.complete(h, tsUs);
      }
    }
  }
}

function numberOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** Offset of the kind-0 (body) section's document in an OP_MSG body b[0, n) (after flagBits), or -1. */
function bodySection(b: Buffer, n: number): number {
  let p = 4;
  for (let guard = 0; guard < 64 && p < n; guard++) {
    const kind = b[p];
    if (kind === 0) return p + 1;
    if (kind !== 1 || p + 5 > n) return -1;
    const size = b.readInt32LE(p + 1);
    if (size < 5) return -1;
    p += 1 + size;
  }
  return -1;
}

export const MONGO: L7Protocol = {
  name: 'mongodb',
  tcp: true,
  udp: false,
  ports: MONGO_PORTS,
  requestTimeoutUs: 120e6,
  hasSessionId: true,
  detect,
  createParser(sink: MessageSink): L7FlowParser {
    return new MongoParser(sink);
  },
};
