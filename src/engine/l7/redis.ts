// Redis over TCP: RESP2 and RESP3 (arrays, bulk and simple strings, errors, integers, nulls, booleans,
// doubles, big numbers, bulk errors, verbatim strings, maps, sets, attributes, pushes) and inline
// commands. The parser streams: bulk values are counted, never held, so a 512 MB value costs nothing;
// only the first bytes of each top-level element are kept for the row.
//
// Fields (DeepFlow's sql/redis.rs where it has them): command → request_type (upper case) and endpoint;
// the arguments joined by spaces → request_resource (empty arguments left out, a null bulk as NULL, as
// DeepFlow writes them; AUTH and HELLO … AUTH passwords masked as `?`); an error reply (`-` or `!`) →
// server_error with the error line as DeepFlow shows it (type byte included, 256 bytes at most) in
// response_exception; the reply's RESP type → response_result; message bytes → request/response length.
// No session id: replies pair with commands first in, first out (pipelining included). Pub/sub
// deliveries (RESP3 pushes, RESP2 `message`/`pmessage`/`smessage` arrays on a subscribed connection) are
// never responses: each is a one-way row sent by the server. (P|S)(UN)SUBSCRIBE is answered by its first
// confirmation; the confirmations for its other channels are absorbed.

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

/** Nesting depth of aggregates followed; deeper is treated as garbage (resync). */
export const MAX_DEPTH = 32;
/** Elements one aggregate may declare; more is treated as garbage. */
export const MAX_ELEMENTS = 1 << 24;
/** Longest header / simple-string line accepted. */
export const MAX_LINE = 64 * 1024;
/** request_resource is cut here. */
export const MAX_RESOURCE = 1024;
/** Bytes kept of one top-level element. */
const MAX_ELEMENT = 512;
/** response_exception is cut here (DeepFlow: 256 bytes then '...'). */
const MAX_ERROR = 256;
/** Top-level elements kept of a reply (enough to classify a push: kind, channel, payload / count). */
const REPLY_ELEMENTS = 4;
/** Subscribe commands whose confirmations are awaited. */
const MAX_PENDING_SUBS = 256;

const CR = 0x0d;
const LF = 0x0a;

/** RESP type bytes → response_result names. */
const TYPE_NAMES: Record<number, string> = {
  0x2b: 'simple_string', // +
  0x2d: 'error', // -
  0x3a: 'integer', // :
  0x24: 'bulk_string', // $
  0x2a: 'array', // *
  0x5f: 'null', // _
  0x23: 'boolean', // #
  0x2c: 'double', // ,
  0x28: 'big_number', // (
  0x21: 'bulk_error', // !
  0x3d: 'verbatim_string', // =
  0x25: 'map', // %
  0x7e: 'set', // ~
  0x3e: 'push', // >
  0x7c: 'attribute', // |
};

const enum T {
  Simple = 1,
  Bulk = 2,
  Aggregate = 3,
}

function typeClass(c: number): number {
  switch (c) {
    case 0x2b: case 0x2d: case 0x3a: case 0x5f: case 0x23: case 0x2c: case 0x28:
      return T.Simple;
    case 0x24: case 0x21: case 0x3d:
      return T.Bulk;
    case 0x2a: case 0x7e: case 0x3e: case 0x25: case 0x7c:
      return T.Aggregate;
    default:
      return 0;
  }
}

const SUB_COMMANDS = new Set(['SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'UNSUBSCRIBE', 'PUNSUBSCRIBE', 'SUNSUBSCRIBE']);
const DELIVERIES = new Set(['message', 'pmessage', 'smessage']);

/** Commands accepted as inline (telnet-style) commands at detection, on the Redis port only. */
const INLINE_COMMANDS = new Set([
  'PING', 'GET', 'SET', 'DEL', 'INFO', 'AUTH', 'HELLO', 'SELECT', 'KEYS', 'EXISTS', 'INCR', 'DECR', 'EXPIRE',
  'TTL', 'TYPE', 'MGET', 'MSET', 'HGET', 'HSET', 'HGETALL', 'LPUSH', 'RPUSH', 'LPOP', 'RPOP', 'LRANGE', 'SADD',
  'SMEMBERS', 'ZADD', 'ZRANGE', 'PUBLISH', 'SUBSCRIBE', 'MONITOR', 'CONFIG', 'CLIENT', 'DBSIZE', 'FLUSHALL',
  'FLUSHDB', 'QUIT', 'ECHO', 'SCAN', 'COMMAND', 'MULTI', 'EXEC', 'DISCARD', 'WATCH', 'SHUTDOWN', 'SAVE',
]);

/** Reads the signed decimal b[from, to) ; NaN if it is not one. */
function readInt(b: Buffer, from: number, to: number): number {
  if (from >= to || to - from > 18) return NaN;
  let neg = false;
  let i = from;
  if (b[i] === 0x2d || b[i] === 0x2b) {
    neg = b[i] === 0x2d;
    i++;
    if (i === to) return NaN;
  }
  let n = 0;
  for (; i < to; i++) {
    const d = b[i] - 0x30;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return neg ? -n : n;
}

/** End (index of CR) of the line starting at `at`, or -1 if it does not end in b[at, end). */
function lineEnd(b: Buffer, at: number, end: number): number {
  const lf = findLF(b, at, end);
  if (lf < 0 || lf === at || b[lf - 1] !== CR) return -1;
  return lf - 1;
}

/**
 * First LF in b[from, end), or -1. Buffer.indexOf (memchr) beats a byte loop; it may look past `end`
 * (the buffer may be a whole capture batch) up to the next LF, and a match there counts as none.
 */
function findLF(b: Buffer, from: number, end: number): number {
  if (from >= end) return -1;
  const i = b.indexOf(LF, from);
  return i >= end ? -1 : i;
}

/**
 * A command array `*N\r\n$M\r\n<command>\r\n…` at b[off, off+len): 0 if not, else the confidence. The
 * command must be a short ASCII word (DeepFlow: at most 17 characters).
 */
function detectArray(b: Buffer, off: number, end: number): number {
  const e1 = lineEnd(b, off, end);
  if (e1 < 0) return 0;
  const n = readInt(b, off + 1, e1);
  if (!(n >= 1 && n <= 1 << 20)) return 0;
  const p = e1 + 2;
  if (p >= end || b[p] !== 0x24) return 0;
  const e2 = lineEnd(b, p, end);
  if (e2 < 0) return 0;
  const m = readInt(b, p + 1, e2);
  if (!(m >= 1 && m <= 17)) return 0;
  const c = e2 + 2;
  if (c + m + 2 > end) return 0;
  for (let k = c; k < c + m; k++) {
    const ch = b[k] | 0x20;
    if (!((ch >= 0x61 && ch <= 0x7a) || b[k] === 0x5f || b[k] === 0x2d || b[k] === 0x7c)) return 0;
  }
  if (b[c + m] !== CR || b[c + m + 1] !== LF) return 0;
  return 80;
}

function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp) return 0;
  const end = Math.min(off + len, buf.length);
  if (end - off < 4) return 0;
  if (buf[off] === 0x2a) return detectArray(buf, off, end);
  // Inline command: a known command word on a printable line; a guess that counts on the port only.
  const e = lineEnd(buf, off, end);
  if (e < 0 || e - off > 256) return 0;
  let w = off;
  while (w < e && buf[w] !== 0x20) {
    const ch = buf[w] | 0x20;
    if (ch < 0x61 || ch > 0x7a) return 0;
    w++;
  }
  return INLINE_COMMANDS.has(buf.toString('latin1', off, w).toUpperCase()) ? 40 : 0;
}

const enum Mode {
  Line,
  Bulk,
  /** The two bytes after a bulk value. */
  BulkEnd,
  /** Framing lost (gap, garbage): wait for a segment that starts a message. */
  Lost,
}

/** Parse state of one direction. */
class Half {
  mode = Mode.Line;
  /** Bytes of a line split across segments (bounded by MAX_LINE). */
  line: Buffer = Buffer.alloc(0);
  lineLen = 0;
  /** Bulk payload bytes still to read, and CRLF bytes still expected after it. */
  bulkLeft = 0;
  crlfLeft = 0;
  /** Kept bytes of the current bulk value (null when it is not kept). */
  keep: Buffer | null = null;
  keepLen = 0;
  /** Remaining elements of each open aggregate; attribute maps flagged (they are not elements). */
  readonly left = new Int32Array(MAX_DEPTH);
  readonly attr = new Uint8Array(MAX_DEPTH);
  depth = 0;
  // The message in progress.
  inMsg = false;
  startSeq = 0;
  startTs = 0;
  endTs = 0;
  bytes = 0;
  /** Type byte of the top-level value (attributes skipped); 0 until known; -1 for an inline command. */
  top = 0;
  /** Top-level elements (or the scalar's text) kept, as text. */
  elems: string[] = [];
  elemBytes = 0;
  readonly scratch = Buffer.allocUnsafe(MAX_ELEMENT);

  resetMessage(): void {
    this.inMsg = false;
    this.top = 0;
    this.elems = [];
    this.elemBytes = 0;
    this.depth = 0;
    this.bytes = 0;
  }
}

interface PendingSub {
  /** Confirmation kind, lower case ('subscribe', 'punsubscribe', ...). */
  kind: string;
  /** Confirmations still expected; -1: until the subscription count reaches 0 (unsubscribe from all). */
  left: number;
  answered: boolean;
}

export class RedisParser implements L7FlowParser {
  private readonly half: [Half, Half] = [new Half(), new Half()];
  /** Direction the commands travel in (learned from the first message: a command array or inline). */
  private reqDir: Dir | -1 = -1;
  private subscribed = false;
  private readonly pendingSubs: PendingSub[] = [];

  constructor(private readonly sink: MessageSink) {}

  /** Bytes held across segments (a split line; at most MAX_LINE per direction). */
  get bufferedBytes(): number {
    return this.half[0].line.length + this.half[1].line.length;
  }

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    const h = this.half[dir];
    let end = off + len;
    if (end > buf.length) end = buf.length;
    if (this.reqDir < 0) {
      // The first bytes seen: a command travels client → server.
      if (buf[off] === 0x2a || typeClass(buf[off]) === 0) this.reqDir = dir;
      else this.reqDir = (dir ^ 1) as Dir;
    }
    if (h.mode === Mode.Lost) {
      if (!this.startsMessage(dir, buf, off, end)) return;
      h.mode = Mode.Line;
      h.lineLen = 0;
      h.resetMessage();
    }
    let i = off;
    while (i < end) {
      if (!h.inMsg) {
        h.inMsg = true;
        h.startSeq = (seq + (i - off)) >>> 0;
        h.startTs = tsUs;
        h.bytes = 0;
      }
      h.endTs = tsUs;
      switch (h.mode) {
        case Mode.Line: {
          const lf = findLF(buf, i, end);
          const stop = lf < 0 ? end : lf + 1;
          if (lf < 0 || h.lineLen > 0) {
            // Part of a line: gather it (bounded).
            const n = stop - i;
            if (h.lineLen + n > MAX_LINE) {
              this.lose(dir, tsUs);
              return;
            }
            if (h.line.length < h.lineLen + n) {
              const nb = Buffer.allocUnsafe(Math.min(MAX_LINE, Math.max(256, (h.lineLen + n) * 2)));
              h.line.copy(nb, 0, 0, h.lineLen);
              h.line = nb;
            }
            buf.copy(h.line, h.lineLen, i, stop);
            h.lineLen += n;
            h.bytes += n;
            i = stop;
            if (lf < 0) break;
            const l = h.lineLen;
            h.lineLen = 0;
            if (!this.onLine(dir, h, h.line, 0, l, tsUs)) return;
          } else {
            h.bytes += stop - i;
            const from = i;
            i = stop;
            if (!this.onLine(dir, h, buf, from, stop, tsUs)) return;
          }
          break;
        }
        case Mode.Bulk: {
          const n = Math.min(h.bulkLeft, end - i);
          if (h.keep !== null && h.keepLen < h.keep.length) {
            const k = Math.min(n, h.keep.length - h.keepLen);
            const keep = h.keep;
            let at = h.keepLen;
            // Kept values are short (command words, keys): a loop beats Buffer.copy's per-call overhead.
            if (k <= 64) for (let x = i; x < i + k; x++) keep[at++] = buf[x];
            else buf.copy(keep, at, i, i + k);
            h.keepLen += k;
          }
          h.bulkLeft -= n;
          h.bytes += n;
          i += n;
          if (h.bulkLeft === 0) {
            h.mode = Mode.BulkEnd;
            h.crlfLeft = 2;
          }
          break;
        }
        case Mode.BulkEnd: {
          const want = h.crlfLeft === 2 ? CR : LF;
          if (buf[i] !== want) {
            this.lose(dir, tsUs);
            return;
          }
          i++;
          h.bytes++;
          if (--h.crlfLeft === 0) {
            h.mode = Mode.Line;
            const text = h.keep !== null ? h.keep.toString('utf8', 0, h.keepLen) : null;
            h.keep = null;
            if (!this.onScalar(dir, h, text, tsUs)) return;
          }
          break;
        }
        default:
          return;
      }
    }
  }

  /** Whether a segment that follows lost bytes starts a message of its direction. */
  private startsMessage(dir: Dir, b: Buffer, off: number, end: number): boolean {
    if (dir === this.reqDir) return b[off] === 0x2a ? detectArray(b, off, end) > 0 : false;
    const c = typeClass(b[off]);
    if (c === 0) return false;
    const e = lineEnd(b, off, end);
    if (e < 0) return false;
    return c === T.Simple || !Number.isNaN(readInt(b, off + 1, e));
  }

  /** A complete line b[from, to) (CRLF included). False if the parse had to stop. */
  private onLine(dir: Dir, h: Half, b: Buffer, from: number, to: number, tsUs: number): boolean {
    let e = to - 1; // the LF
    if (e > from && b[e - 1] === CR) e--;
    const c = b[from];
    const cls = typeClass(c);
    if (cls === 0) {
      if (h.depth === 0 && h.top === 0 && dir === this.reqDir) return this.inline(dir, h, b, from, e, tsUs);
      if (h.depth === 0 && h.top === 0 && e === from) {
        h.resetMessage(); // a stray empty line between messages
        return true;
      }
      this.lose(dir, tsUs);
      return false;
    }
    // The message's type is known once its first line is valid (garbage is not a reply).
    const first = h.depth === 0 && h.top === 0 && c !== 0x7c;
    if (cls === T.Simple) {
      if (first) h.top = c;
      if (c === 0x5f && e !== from + 1) {
        this.lose(dir, tsUs);
        return false;
      }
      const keep = this.keeping(dir, h) || (h.depth === 0 && (c === 0x2d || c === 0x2b));
      const lim = c === 0x2d ? MAX_ERROR : MAX_ELEMENT;
      let text: string | null = null;
      if (keep) {
        // Errors keep their type byte, as DeepFlow shows them.
        const s = c === 0x2d ? from : from + 1;
        text = b.toString('utf8', s, Math.min(e, s + lim));
        if (e - s > lim) text += '...';
      }
      return this.onScalar(dir, h, text, tsUs);
    }
    const n = readInt(b, from + 1, e);
    if (Number.isNaN(n) || n > MAX_ELEMENTS || n < -1) {
      this.lose(dir, tsUs);
      return false;
    }
    if (first) h.top = c;
    if (cls === T.Bulk) {
      if (n < 0) return this.onScalar(dir, h, 'NULL', tsUs);
      h.keep = this.keeping(dir, h) || (h.depth === 0 && c === 0x21) ? h.scratch : null;
      h.keepLen = 0;
      if (h.keep !== null && c === 0x21) {
        h.keep[0] = 0x21;
        h.keepLen = 1;
      }
      h.bulkLeft = n;
      if (n === 0) {
        h.mode = Mode.BulkEnd;
        h.crlfLeft = 2;
      } else {
        h.mode = Mode.Bulk;
      }
      return true;
    }
    // Aggregate.
    const count = c === 0x25 || c === 0x7c ? n * 2 : n;
    if (count <= 0) {
      if (c === 0x7c) return true; // an empty attribute map: the value follows
      return this.onScalar(dir, h, null, tsUs);
    }
    if (h.depth >= MAX_DEPTH) {
      this.lose(dir, tsUs);
      return false;
    }
    h.left[h.depth] = count;
    h.attr[h.depth] = c === 0x7c ? 1 : 0;
    h.depth++;
    return true;
  }

  /** Whether the value starting now is a top-level element worth keeping. */
  private keeping(dir: Dir, h: Half): boolean {
    // A reply that is one scalar is named by its type alone (response_result); only an error's text
    // is used, and the callers keep errors themselves. Not copying and decoding every GET's bulk value
    // was ~2 % of the L7 stage.
    if (h.depth === 0) return dir === this.reqDir;
    if (h.depth !== 1 || h.attr[0] === 1) return false;
    if (dir === this.reqDir) return h.elemBytes < MAX_RESOURCE;
    return h.elems.length < REPLY_ELEMENTS;
  }

  /** A value ended (text: its kept text, if kept). False if the parse had to stop. */
  private onScalar(dir: Dir, h: Half, text: string | null, tsUs: number): boolean {
    if (h.depth === 0) {
      if (text !== null) h.elems.push(text);
      this.complete(dir, h, tsUs);
      return true;
    }
    if (h.depth === 1 && h.attr[0] === 0 && text !== null) {
      h.elems.push(text);
      h.elemBytes += text.length + 1;
    }
    for (;;) {
      h.left[h.depth - 1]--;
      if (h.left[h.depth - 1] > 0) return true;
      h.depth--;
      const wasAttr = h.attr[h.depth] === 1;
      if (wasAttr) return true; // the attributed value follows (an attribute is not an element)
      if (h.depth === 0) {
        this.complete(dir, h, tsUs);
        return true;
      }
    }
  }

  /** An inline command line b[from, e). */
  private inline(dir: Dir, h: Half, b: Buffer, from: number, e: number, tsUs: number): boolean {
    if (e === from) {
      h.resetMessage();
      return true;
    }
    h.top = -1;
    const words = b.toString('utf8', from, Math.min(e, from + MAX_RESOURCE)).split(' ');
    for (const w of words) if (w.length > 0) h.elems.push(w);
    this.complete(dir, h, tsUs);
    return true;
  }

  /** The message of direction `dir` is complete. */
  private complete(dir: Dir, h: Half, tsUs: number): void {
    h.endTs = tsUs;
    const m = this.build(dir, h);
    h.resetMessage();
    if (m !== null) this.emit(m);
  }

  /** The row-worthy message of what `h` holds, or null (a confirmation absorbed, nothing known). */
  private build(dir: Dir, h: Half): L7Message | null {
    const top = h.top;
    const elems = h.elems;
    if (dir === this.reqDir) return (top === 0x2a || top === -1) && elems.length > 0 ? this.command(dir, h, elems) : null;
    return this.reply(dir, h, top, elems);
  }

  private message(kind: MsgKind, dir: Dir, h: Half): L7Message {
    const m = new L7Message(kind, dir);
    m.startTs = h.startTs;
    m.endTs = h.endTs;
    m.tcpSeq = h.startSeq;
    m.length = h.bytes;
    return m;
  }

  private command(dir: Dir, h: Half, args: string[]): L7Message {
    const cmd = (args[0].length <= 64 ? args[0] : args[0].slice(0, 64)).toUpperCase();
    const m = this.message(MsgKind.Request, dir, h);
    m.requestType = cmd;
    m.endpoint = cmd;
    m.requestResource = resource(cmd, args);
    if (SUB_COMMANDS.has(cmd)) {
      this.subscribed = true;
      if (this.pendingSubs.length < MAX_PENDING_SUBS) {
        this.pendingSubs.push({ kind: cmd.toLowerCase(), left: args.length > 1 ? args.length - 1 : -1, answered: false });
      }
    }
    return m;
  }

  private reply(dir: Dir, h: Half, top: number, elems: string[]): L7Message | null {
    if (top === 0) return null;
    const first = (top === 0x3e || top === 0x2a) && elems.length > 0 ? elems[0].toLowerCase() : '';
    if (top === 0x3e || (top === 0x2a && this.subscribed && (DELIVERIES.has(first) || first.endsWith('subscribe')))) {
      const sub = this.pendingSubs.length > 0 ? this.pendingSubs[0] : null;
      if (sub !== null && first === sub.kind) {
        // A confirmation of the oldest (un)subscribe command: its first one is the reply.
        let m: L7Message | null = null;
        if (!sub.answered) {
          sub.answered = true;
          m = this.message(MsgKind.Response, dir, h);
          m.responseStatus = 'ok';
          m.responseResult = TYPE_NAMES[top];
        }
        if (sub.left > 0) sub.left--;
        if (sub.left === 0 || (sub.left < 0 && (elems.length < 3 || Number(elems[2]) <= 0))) this.pendingSubs.shift();
        return m;
      }
      if (top === 0x3e || DELIVERIES.has(first)) {
        // A delivery: a row of its own, sent by the server, no response.
        const m = this.message(MsgKind.Request, dir, h);
        const kind = first.length > 0 && first.length <= 32 ? first.toUpperCase() : 'PUSH';
        m.oneWay = true;
        m.requestType = kind;
        m.endpoint = kind;
        m.requestResource = resource(kind, elems);
        m.responseStatus = 'ok';
        return m;
      }
    }
    const m = this.message(MsgKind.Response, dir, h);
    m.responseResult = TYPE_NAMES[top] ?? null;
    if (top === 0x2d || top === 0x21) {
      m.responseStatus = 'server_error';
      let ex = elems.length > 0 ? elems[0] : top === 0x2d ? '-' : '!';
      if (top === 0x21 && ex.length > MAX_ERROR) ex = ex.slice(0, MAX_ERROR) + '...';
      m.responseException = ex;
    } else {
      m.responseStatus = 'ok';
    }
    return m;
  }

  private emit(m: L7Message): void {
    m.ended = true;
    this.sink.begin(m);
    this.sink.end(m);
  }

  /** Framing is lost: what was under way is emitted cut short, then wait for a message start. */
  private lose(dir: Dir, tsUs: number): void {
    const h = this.half[dir];
    this.flushPartial(dir, h, tsUs);
    h.mode = Mode.Lost;
    h.lineLen = 0;
    h.keep = null;
    h.resetMessage();
  }

  /** A message cut short: a command with the arguments seen so far, or a reply of the type seen. */
  private flushPartial(dir: Dir, h: Half, tsUs: number): void {
    if (!h.inMsg || h.bytes === 0 || h.top === 0) return;
    h.endTs = tsUs;
    const m = this.build(dir, h);
    if (m === null) return;
    m.truncated = true;
    this.emit(m);
  }

  gap(dir: Dir, _seq: number, len: number, tsUs: number): void {
    const h = this.half[dir];
    if (h.mode === Mode.Lost) return;
    if (h.mode === Mode.Bulk && len <= h.bulkLeft) {
      // Inside a bulk value: the framing survives (nothing more of the value is kept).
      h.bulkLeft -= len;
      h.bytes += len;
      if (h.keep !== null) h.keep = h.keep.subarray(0, h.keepLen);
      if (h.bulkLeft === 0) {
        h.mode = Mode.BulkEnd;
        h.crlfLeft = 2;
      }
      return;
    }
    this.lose(dir, tsUs);
  }

  datagram(): void {}

  close(): void {}

  finish(tsUs: number): void {
    for (const dir of [0, 1] as const) {
      const h = this.half[dir];
      if (h.mode !== Mode.Lost) this.flushPartial(dir, h, tsUs);
      h.resetMessage();
      h.mode = Mode.Lost;
    }
  }
}

/** request_resource: the arguments joined by spaces (empty ones left out), passwords masked. */
function resource(cmd: string, args: string[]): string {
  // AUTH [username] password; HELLO [protover] [AUTH username password] [SETNAME name].
  let mask = -1;
  if (cmd === 'AUTH' && args.length >= 2) mask = args.length - 1;
  else if (cmd === 'HELLO') {
    for (let k = 1; k + 2 < args.length; k++) if (args[k].toUpperCase() === 'AUTH') mask = k + 2;
  }
  let out = '';
  for (let k = 0; k < args.length; k++) {
    const a = k === mask ? '?' : args[k];
    if (a.length === 0) continue;
    if (out.length > 0) out += ' ';
    out += a;
    if (out.length >= MAX_RESOURCE) return out.slice(0, MAX_RESOURCE);
  }
  return out;
}

export const REDIS: L7Protocol = {
  name: 'redis',
  tcp: true,
  udp: false,
  ports: [6379, 6380, 26379],
  requestTimeoutUs: 120e6,
  hasSessionId: false,
  detect,
  createParser: (sink: MessageSink) => new RedisParser(sink),
};
