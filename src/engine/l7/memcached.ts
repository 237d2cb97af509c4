// Memcached, text and binary protocols (one module: a direction's first byte 0x80/0x81 means binary).
//
// Text: commands are lowercase words, responses uppercase ones, so each line is classified by itself
// whatever side sent it. Storage commands (and `VALUE`/`VA` responses) carry a data block of a declared
// size that is skipped, never scanned. A retrieval answer is `VALUE …` blocks up to `END` (a bare `END`
// is a miss); `stats` is `STAT …` lines up to `END`. Pairing is first in, first out; `noreply` and
// `quit` expect nothing and are rows of their own. Binary: a 24-byte header whose opaque pairs the
// response; quiet commands (GetQ, SetQ, …) are answered only on a miss/error, so a later answer on the
// connection means they succeeded silently.
//
// Status (DeepFlow's rules): ERROR / CLIENT_ERROR → client error, SERVER_ERROR → server error, other
// answers ok. DeepFlow reports NOT_FOUND as `unknown`; Flowscope keeps `unknown` for "no response seen",
// so a NOT_FOUND (an answered miss, like END) is ok.

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

/** Longest text line kept (a key is at most 250 bytes; `get` may list many keys). */
const MAX_LINE = 8192;
/** Longest request_resource / response_result / exception kept. */
const MAX_TEXT = 256;

// ---------------------------------------------------------------------------------------------------
// Line framing shared by the text protocols (memcached, NATS): lines end in LF (CR stripped), a line
// may announce a data block of known size that follows it. Part of the block can be captured.

export interface LineHandler {
  /**
   * A complete line b[s, e) (without CR LF); `raw` = its bytes on the wire including the line end.
   * Returns the size of the data block that follows (0 = none). May set `stream.capture`.
   */
  line(dir: Dir, b: Buffer, s: number, e: number, raw: number, seq: number, tsUs: number): number;
  /** The block announced by the last line is complete (cap holds its first captured bytes). */
  blockEnd(dir: Dir, cap: Buffer, capLen: number, tsUs: number): void;
  /** Bytes of this direction were lost: end what is open as truncated. */
  lost(dir: Dir, tsUs: number): void;
}

export class LineStream {
  private pend = Buffer.alloc(256);
  private pendLen = 0;
  private pendSeq = 0;
  private pendTs = 0;
  /** Skipping to the next line end (after a loss or an over-long line). */
  private discard = false;
  private block = 0;
  /** Bytes of the coming block to capture (set by the handler from line()). */
  capture = 0;
  private cap = Buffer.alloc(0);
  private capLen = 0;
  /** The current block lost bytes. */
  blockTruncated = false;

  constructor(
    private readonly dir: Dir,
    private readonly h: LineHandler,
  ) {}

  get bufferedBytes(): number {
    return this.pend.length + this.cap.length;
  }

  data(buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    if (off + len > buf.length) len = Math.max(0, buf.length - off);
    const end = off + len;
    let i = off;
    while (i < end) {
      if (this.block > 0) {
        const n = Math.min(this.block, end - i);
        if (this.capLen < this.capture) {
          const c = Math.min(n, this.capture - this.capLen);
          buf.copy(this.cap, this.capLen, i, i + c);
          this.capLen += c;
        }
        this.block -= n;
        i += n;
        if (this.block === 0) this.endBlock(tsUs);
        continue;
      }
      let nl = i;
      while (nl < end && buf[nl] !== 10) nl++;
      if (this.discard) {
        if (nl >= end) return;
        this.discard = false;
        i = nl + 1;
        continue;
      }
      if (nl >= end) {
        const n = end - i;
        if (this.pendLen + n > MAX_LINE) {
          this.pendLen = 0;
          this.discard = true;
          return;
        }
        if (this.pendLen === 0) {
          this.pendSeq = (seq + (i - off)) >>> 0;
          this.pendTs = tsUs;
        }
        this.append(buf, i, end);
        return;
      }
      let blockLen: number;
      if (this.pendLen > 0) {
        if (this.pendLen + (nl + 1 - i) > MAX_LINE) {
          this.pendLen = 0;
          i = nl + 1;
          continue;
        }
        this.append(buf, i, nl + 1);
        const raw = this.pendLen;
        this.pendLen = 0;
        let e = raw - 1;
        if (e > 0 && this.pend[e - 1] === 13) e--;
        blockLen = this.startLine(this.pend, 0, e, raw, this.pendSeq, this.pendTs);
      } else {
        let e = nl;
        if (e > i && buf[e - 1] === 13) e--;
        blockLen = this.startLine(buf, i, e, nl + 1 - i, (seq + (i - off)) >>> 0, tsUs);
      }
      i = nl + 1;
      if (blockLen > 0) this.block = blockLen;
    }
  }

  private startLine(b: Buffer, s: number, e: number, raw: number, seq: number, tsUs: number): number {
    this.capture = 0;
    this.capLen = 0;
    this.blockTruncated = false;
    const n = this.h.line(this.dir, b, s, e, raw, seq, tsUs);
    if (n > 0 && this.capture > 0) {
      if (this.capture > n) this.capture = n;
      if (this.cap.length < this.capture) this.cap = Buffer.allocUnsafe(Math.max(this.capture, 256));
    }
    return n > 0 ? n : 0;
  }

  private endBlock(tsUs: number): void {
    this.h.blockEnd(this.dir, this.cap, Math.min(this.capLen, this.capture), tsUs);
    this.capture = 0;
    this.capLen = 0;
  }

  private append(b: Buffer, s: number, e: number): void {
    const need = this.pendLen + (e - s);
    if (need > this.pend.length) {
      const nb = Buffer.allocUnsafe(Math.min(MAX_LINE + 1, Math.max(need, this.pend.length * 2)));
      this.pend.copy(nb, 0, 0, this.pendLen);
      this.pend = nb;
    }
    b.copy(this.pend, this.pendLen, s, e);
    this.pendLen = need;
  }

  gap(len: number, tsUs: number): void {
    if (this.block > 0 && len < this.block) {
      // Inside a data block: the framing survives, the block is short of bytes.
      this.block -= len;
      this.blockTruncated = true;
      // Captured bytes after the hole would be misplaced: stop capturing.
      this.capture = this.capLen;
      return;
    }
    if (this.block > 0 && len === this.block) {
      this.block = 0;
      this.blockTruncated = true;
      this.capture = this.capLen;
      this.endBlock(tsUs);
      return;
    }
    this.block = 0;
    this.pendLen = 0;
    this.discard = true;
    this.h.lost(this.dir, tsUs);
  }
}

/** Text of b[s, e) as latin1, cut to MAX_TEXT. */
export function clip(b: Buffer, s: number, e: number, max = MAX_TEXT): string {
  return b.toString('latin1', s, Math.min(e, s + max));
}

/** Non-negative decimal integer of b[s, e), or -1 (at most 15 digits). */
export function parseUint(b: Buffer, s: number, e: number): number {
  if (e <= s || e - s > 15) return -1;
  let v = 0;
  for (let k = s; k < e; k++) {
    const c = b[k] - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

// Token positions of the current line (reused: one line is parsed at a time).
const tokS = new Int32Array(16);
const tokE = new Int32Array(16);

/** Splits b[s, e) at spaces/tabs into at most 16 tokens (positions in tokS/tokE); returns the count. */
export function tokenize(b: Buffer, s: number, e: number): number {
  let n = 0;
  let k = s;
  while (k < e && n < 16) {
    while (k < e && (b[k] === 32 || b[k] === 9)) k++;
    if (k >= e) break;
    const t = k;
    while (k < e && b[k] !== 32 && b[k] !== 9) k++;
    tokS[n] = t;
    tokE[n] = k;
    n++;
  }
  return n;
}
export { tokS, tokE };

function tokIs(b: Buffer, i: number, word: string): boolean {
  const s = tokS[i];
  if (tokE[i] - s !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (b[s + k] !== word.charCodeAt(k)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------
// Memcached vocabulary.

const enum Cmd {
  None,
  Storage, // <cmd> <key> <flags> <exptime> <bytes> [noreply]
  Cas, // cas <key> <flags> <exptime> <bytes> <cas> [noreply]
  Retrieval, // get/gets <key>*
  Gat, // gat/gats <exptime> <key>*
  KeyOnly, // delete <key> [noreply]
  KeyArg, // incr/decr/touch <key> <arg> [noreply]
  Other, // stats, version, flush_all, verbosity, …
  Quit,
  MetaSet, // ms <key> <datalen> <flags>*
  Meta, // mg/md/ma/mn/me <key> <flags>*
}

const COMMANDS = new Map<string, Cmd>([
  ['set', Cmd.Storage],
  ['add', Cmd.Storage],
  ['replace', Cmd.Storage],
  ['append', Cmd.Storage],
  ['prepend', Cmd.Storage],
  ['cas', Cmd.Cas],
  ['get', Cmd.Retrieval],
  ['gets', Cmd.Retrieval],
  ['gat', Cmd.Gat],
  ['gats', Cmd.Gat],
  ['delete', Cmd.KeyOnly],
  ['incr', Cmd.KeyArg],
  ['decr', Cmd.KeyArg],
  ['touch', Cmd.KeyArg],
  ['stats', Cmd.Other],
  ['version', Cmd.Other],
  ['flush_all', Cmd.Other],
  ['verbosity', Cmd.Other],
  ['cache_memlimit', Cmd.Other],
  ['shutdown', Cmd.Other],
  ['lru_crawler', Cmd.Other],
  ['slabs', Cmd.Other],
  ['misbehave', Cmd.Other],
  ['quit', Cmd.Quit],
  ['ms', Cmd.MetaSet],
  ['mg', Cmd.Meta],
  ['md', Cmd.Meta],
  ['ma', Cmd.Meta],
  ['mn', Cmd.Meta],
  ['me', Cmd.Meta],
]);

const enum Resp {
  None,
  Single,
  Value, // VALUE <key> <flags> <bytes> [<cas>] + block, more may follow, up to END
  Stat, // STAT … lines up to END
  End,
  MetaValue, // VA <size> <flags>* + block
  Error,
  ClientError,
  ServerError,
}

const RESPONSES = new Map<string, Resp>([
  ['VALUE', Resp.Value],
  ['STAT', Resp.Stat],
  ['END', Resp.End],
  ['VA', Resp.MetaValue],
  ['ERROR', Resp.Error],
  ['CLIENT_ERROR', Resp.ClientError],
  ['SERVER_ERROR', Resp.ServerError],
  ['STORED', Resp.Single],
  ['NOT_STORED', Resp.Single],
  ['EXISTS', Resp.Single],
  ['NOT_FOUND', Resp.Single],
  ['DELETED', Resp.Single],
  ['TOUCHED', Resp.Single],
  ['OK', Resp.Single],
  ['VERSION', Resp.Single],
  ['RESET', Resp.Single],
  ['BUSY', Resp.Single],
  ['BADCLASS', Resp.Single],
  ['NOSPARE', Resp.Single],
  ['NOTFULL', Resp.Single],
  ['UNSAFE', Resp.Single],
  ['SAME', Resp.Single],
  ['HD', Resp.Single],
  ['EN', Resp.Single],
  ['NF', Resp.Single],
  ['NS', Resp.Single],
  ['EX', Resp.Single],
  ['MN', Resp.Single],
]);

// Interned names so that the same strings are reused for every message.
const NAMES = new Map<string, string>();
function intern(s: string): string {
  let v = NAMES.get(s);
  if (v === undefined) {
    if (NAMES.size > 256) return s;
    NAMES.set(s, s);
    v = s;
  }
  return v;
}

const BIN_OPS: Record<number, string> = {
  0x00: 'get', 0x01: 'set', 0x02: 'add', 0x03: 'replace', 0x04: 'delete', 0x05: 'incr', 0x06: 'decr',
  0x07: 'quit', 0x08: 'flush', 0x09: 'getq', 0x0a: 'noop', 0x0b: 'version', 0x0c: 'getk', 0x0d: 'getkq',
  0x0e: 'append', 0x0f: 'prepend', 0x10: 'stat', 0x11: 'setq', 0x12: 'addq', 0x13: 'replaceq',
  0x14: 'deleteq', 0x15: 'incrq', 0x16: 'decrq', 0x17: 'quitq', 0x18: 'flushq', 0x19: 'appendq',
  0x1a: 'prependq', 0x1b: 'verbosity', 0x1c: 'touch', 0x1d: 'gat', 0x1e: 'gatq', 0x20: 'sasl_list_mechs',
  0x21: 'sasl_auth', 0x22: 'sasl_step',
};
const BIN_QUIET = new Set([0x09, 0x0d, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1e]);
const BIN_STATUS: Record<number, string> = {
  0x00: 'No error', 0x01: 'Key not found', 0x02: 'Key exists', 0x03: 'Value too large',
  0x04: 'Invalid arguments', 0x05: 'Item not stored', 0x06: 'Incr/Decr on non-numeric value',
  0x07: 'The vbucket belongs to another server', 0x08: 'Authentication error', 0x09: 'Authentication continue',
  0x20: 'Authentication error', 0x81: 'Unknown command', 0x82: 'Out of memory', 0x83: 'Not supported',
  0x84: 'Internal error', 0x85: 'Busy', 0x86: 'Temporary failure',
};

/** Binary status → response_status: misses, existing keys and unstored items are answers, not errors. */
export function binaryStatus(code: number): ResponseStatus {
  if (code === 0 || code === 1 || code === 2 || code === 5 || code === 9) return 'ok';
  if (code === 0x82 || code === 0x84 || code === 0x85 || code === 0x86) return 'server_error';
  return 'client_error';
}

function binaryHeaderOk(b: Buffer, off: number, len: number): boolean {
  if (len < 24) return false;
  const magic = b[off];
  if (magic !== 0x80 && magic !== 0x81) return false;
  if (BIN_OPS[b[off + 1]] === undefined) return false;
  const keyLen = (b[off + 2] << 8) | b[off + 3];
  const extLen = b[off + 4];
  if (b[off + 5] !== 0) return false; // data type: raw bytes is the only one defined
  const total = b.readUInt32BE(off + 8);
  if (keyLen + extLen > total || total > 64 * 1024 * 1024 || keyLen > 250) return false;
  if (magic === 0x80 && b.readUInt16BE(off + 6) !== 0 && b[off + 1] !== 0x21 && b[off + 1] !== 0x22) {
    // vbucket ids are 0 against memcached itself; tolerated elsewhere but not for detection.
    return false;
  }
  return true;
}

function isLower(c: number): boolean {
  return (c >= 97 && c <= 122) || c === 95;
}

function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp || len < 3) return 0;
  if (off + len > buf.length) len = buf.length - off;
  const onPort = ctx.srcPort === 11211 || ctx.dstPort === 11211;
  if (buf[off] === 0x80 || buf[off] === 0x81) {
    return binaryHeaderOk(buf, off, len) ? (onPort ? 90 : 60) : 0;
  }
  // Text: the first line must be a complete command (or answer) that parses.
  let nl = off;
  const end = Math.min(off + len, off + MAX_LINE);
  while (nl < end && buf[nl] !== 10) nl++;
  if (nl >= end || nl === off || buf[nl - 1] !== 13) return 0;
  const e = nl - 1;
  const n = tokenize(buf, off, e);
  if (n === 0) return 0;
  for (let k = off; k < e; k++) if (buf[k] < 32 || buf[k] > 126) return 0;
  const word = buf.toString('latin1', tokS[0], tokE[0]);
  const cmd = COMMANDS.get(word);
  if (cmd !== undefined) {
    if (!validCommand(buf, cmd, n)) return 0;
    // Short generic words (`version`, `stats`) are believed on the port only.
    if (cmd === Cmd.Other || cmd === Cmd.Quit || cmd === Cmd.Meta || cmd === Cmd.MetaSet) return onPort ? 70 : 0;
    return onPort ? 90 : 60;
  }
  const r = RESPONSES.get(word);
  if (r === undefined) return 0;
  if (r === Resp.Value) return n >= 4 && parseUint(buf, tokS[3], tokE[3]) >= 0 ? (onPort ? 80 : 55) : 0;
  return onPort && r !== Resp.Single ? 60 : onPort ? 55 : 0;
}

/** Argument count and numbers of a command line (tokens already split). */
function validCommand(b: Buffer, cmd: Cmd, n: number): boolean {
  switch (cmd) {
    case Cmd.Storage:
      return (n === 5 || (n === 6 && tokIs(b, 5, 'noreply'))) && parseUint(b, tokS[4], tokE[4]) >= 0 && parseUint(b, tokS[2], tokE[2]) >= 0;
    case Cmd.Cas:
      return (n === 6 || (n === 7 && tokIs(b, 6, 'noreply'))) && parseUint(b, tokS[4], tokE[4]) >= 0;
    case Cmd.Retrieval:
    case Cmd.KeyOnly:
      return n >= 2;
    case Cmd.Gat:
    case Cmd.KeyArg:
      return n >= 3;
    case Cmd.MetaSet:
      return n >= 3 && parseUint(b, tokS[2], tokE[2]) >= 0;
    case Cmd.Meta:
      return n >= 1;
    default:
      return true;
  }
}

/** Per direction: text or binary framing, and the message in progress. */
class Half {
  /** 0 undecided, 1 text, 2 binary. */
  mode = 0;
  /** Text message waiting for its data block or its END. */
  open: L7Message | null = null;
  /** The open text response collects VALUE / STAT lines until END. */
  multi = false;
  values = 0;
  // Binary framing.
  hdr = Buffer.alloc(24);
  hdrLen = 0;
  /** Key (+ extras) and, for error answers, the value text to capture; bytes of body left. */
  cap = Buffer.alloc(0);
  capNeed = 0;
  capLen = 0;
  bodyLeft = 0;
  bin: L7Message | null = null;
  binOp = 0;
  binExt = 0;
  binKey = 0;
  binStartSeq = 0;
  binStartTs = 0;
  lost = false;
  /** This direction has sent a known command: its other lowercase lines are commands too. */
  sends = false;
}

interface PendingBin {
  opaque: number;
  quiet: boolean;
  m: L7Message;
}

export class MemcachedParser implements L7FlowParser, LineHandler {
  private readonly half: [Half, Half] = [new Half(), new Half()];
  private readonly lines: [LineStream, LineStream];
  /** Text pairing: ids of requests still waiting for their answer, oldest first. */
  private readonly waiting: number[] = [];
  private nextId = 1;
  /** Binary requests in the order sent (to settle quiet commands answered by silence). */
  private readonly binPending: PendingBin[] = [];

  constructor(private readonly sink: MessageSink) {
    this.lines = [new LineStream(0, this), new LineStream(1, this)];
  }

  get bufferedBytes(): number {
    return this.lines[0].bufferedBytes + this.lines[1].bufferedBytes + this.half[0].cap.length + this.half[1].cap.length;
  }

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    const h = this.half[dir];
    if (h.mode === 0) {
      if (len <= 0) return;
      h.mode = buf[off] === 0x80 || buf[off] === 0x81 ? 2 : 1;
    }
    if (h.mode === 1) this.lines[dir].data(buf, off, len, seq, tsUs);
    else this.binData(dir, h, buf, off, len, seq, tsUs);
  }

  // ---- text ----

  line(dir: Dir, b: Buffer, s: number, e: number, raw: number, seq: number, tsUs: number): number {
    const n = tokenize(b, s, e);
    if (n === 0) return 0;
    const c0 = b[tokS[0]];
    const h = this.half[dir];
    if (isLower(c0)) return this.requestLine(dir, h, b, s, e, n, raw, seq, tsUs);
    return this.responseLine(dir, h, b, s, e, n, raw, seq, tsUs);
  }

  private requestLine(dir: Dir, h: Half, b: Buffer, s: number, e: number, n: number, raw: number, seq: number, tsUs: number): number {
    const word = b.toString('latin1', tokS[0], tokE[0]);
    let cmd = COMMANDS.get(word);
    if (cmd !== undefined && !validCommand(b, cmd, n)) cmd = Cmd.Other;
    if (cmd === undefined) {
      // An unknown command still gets an answer (ERROR): keep it, from a side known to send commands.
      if (!h.sends) return 0;
      for (let k = s; k < e; k++) if (b[k] < 32 || b[k] > 126) return 0;
      cmd = Cmd.Other;
    }
    h.sends = true;
    this.closeOpen(h, tsUs, true);
    const m = new L7Message(MsgKind.Request, dir);
    m.startTs = m.endTs = tsUs;
    m.tcpSeq = seq;
    m.requestType = COMMANDS.has(word) ? intern(word) : word.slice(0, 32);
    m.endpoint = m.requestType;
    m.requestResource = clip(b, s, e);
    m.length = raw;
    m.version = 'text';
    let block = 0;
    if (cmd === Cmd.Storage || cmd === Cmd.Cas) {
      block = parseUint(b, tokS[4], tokE[4]) + 2;
      m.oneWay = tokIs(b, n - 1, 'noreply');
    } else if (cmd === Cmd.MetaSet) {
      block = parseUint(b, tokS[2], tokE[2]) + 2;
    } else if (cmd === Cmd.Quit) {
      m.oneWay = true;
    } else if (n >= 2 && (cmd === Cmd.KeyOnly || cmd === Cmd.KeyArg || cmd === Cmd.Other) && tokIs(b, n - 1, 'noreply')) {
      m.oneWay = true;
    }
    if (m.oneWay) m.responseStatus = 'ok';
    else {
      m.sessionId = this.nextId++;
      this.waiting.push(m.sessionId);
      if (this.waiting.length > 4096) this.waiting.shift();
    }
    this.sink.begin(m);
    if (block > 0) {
      m.length += block;
      h.open = m;
      h.multi = false;
      return block;
    }
    this.endMsg(m, tsUs);
    return 0;
  }

  private responseLine(dir: Dir, h: Half, b: Buffer, s: number, e: number, n: number, raw: number, seq: number, tsUs: number): number {
    const word = b.toString('latin1', tokS[0], tokE[0]);
    let r = RESPONSES.get(word);
    if (r === undefined) {
      // incr/decr answer with the bare number.
      if (n === 1 && parseUint(b, tokS[0], tokE[0]) >= 0) r = Resp.Single;
      else return 0;
    }
    if (h.open !== null && h.multi) {
      const m = h.open;
      if (r === Resp.Value || r === Resp.Stat) {
        m.length! += raw;
        m.endTs = tsUs;
        if (r === Resp.Value) {
          h.values++;
          if (n < 4) return 0;
          const size = parseUint(b, tokS[3], tokE[3]);
          if (size < 0) return 0;
          m.length! += size + 2;
          return size + 2;
        }
        return 0;
      }
      if (r === Resp.End) {
        m.length! += raw;
        h.open = null;
        h.multi = false;
        this.endMsg(m, tsUs);
        return 0;
      }
      // Anything else ends the answer as it stands (it lost its END).
      this.closeOpen(h, tsUs, true);
    } else if (h.open !== null) {
      this.closeOpen(h, tsUs, true);
    }
    const m = new L7Message(MsgKind.Response, dir);
    m.startTs = m.endTs = tsUs;
    m.tcpSeq = seq;
    m.length = raw;
    m.version = 'text';
    m.responseResult = clip(b, s, e);
    m.responseStatus = 'ok';
    if (r === Resp.Error || r === Resp.ClientError || r === Resp.ServerError) {
      m.responseStatus = r === Resp.ServerError ? 'server_error' : 'client_error';
      m.responseException = n > 1 ? clip(b, tokS[1], e) : word;
    }
    m.sessionId = this.waiting.length > 0 ? this.waiting.shift()! : this.nextId++;
    this.sink.begin(m);
    if (r === Resp.Value || r === Resp.Stat) {
      h.open = m;
      h.multi = true;
      h.values = 0;
      if (r === Resp.Value) {
        h.values = 1;
        const size = n >= 4 ? parseUint(b, tokS[3], tokE[3]) : -1;
        if (size >= 0) {
          m.length += size + 2;
          return size + 2;
        }
      }
      return 0;
    }
    if (r === Resp.MetaValue) {
      const size = n >= 2 ? parseUint(b, tokS[1], tokE[1]) : -1;
      if (size >= 0) {
        m.length += size + 2;
        h.open = m;
        h.multi = false;
        return size + 2;
      }
    }
    this.endMsg(m, tsUs);
    return 0;
  }

  blockEnd(dir: Dir, _cap: Buffer, _capLen: number, tsUs: number): void {
    const h = this.half[dir];
    const m = h.open;
    if (m === null) return;
    m.endTs = tsUs;
    if (this.lines[dir].blockTruncated) m.truncated = true;
    if (!h.multi) {
      h.open = null;
      this.endMsg(m, tsUs);
    }
  }

  lost(dir: Dir, tsUs: number): void {
    this.closeOpen(this.half[dir], tsUs, true);
  }

  private closeOpen(h: Half, tsUs: number, truncated: boolean): void {
    const m = h.open;
    if (m === null) return;
    h.open = null;
    h.multi = false;
    if (truncated) m.truncated = true;
    if (m.endTs < m.startTs) m.endTs = tsUs;
    this.endMsg(m, m.endTs);
  }

  private endMsg(m: L7Message, tsUs: number): void {
    if (m.ended) return;
    if (tsUs > m.endTs) m.endTs = tsUs;
    m.ended = true;
    this.sink.end(m);
  }

  // ---- binary ----

  private binData(dir: Dir, h: Half, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    if (off + len > buf.length) len = Math.max(0, buf.length - off);
    const end = off + len;
    let i = off;
    while (i < end) {
      if (h.bodyLeft > 0) {
        const n = Math.min(h.bodyLeft, end - i);
        if (h.capLen < h.capNeed) {
          const c = Math.min(n, h.capNeed - h.capLen);
          buf.copy(h.cap, h.capLen, i, i + c);
          h.capLen += c;
        }
        h.bodyLeft -= n;
        i += n;
        if (h.bodyLeft === 0) this.binEnd(h, tsUs);
        continue;
      }
      if (h.lost) {
        // Resynchronise on a segment that starts with a plausible header.
        if (i !== off || !binaryHeaderOk(buf, i, end - i)) return;
        h.lost = false;
      }
      if (h.hdrLen === 0) {
        h.binStartSeq = (seq + (i - off)) >>> 0;
        h.binStartTs = tsUs;
      }
      const n = Math.min(24 - h.hdrLen, end - i);
      buf.copy(h.hdr, h.hdrLen, i, i + n);
      h.hdrLen += n;
      i += n;
      if (h.hdrLen < 24) return;
      h.hdrLen = 0;
      if (!this.binHeader(dir, h, tsUs)) {
        h.lost = true;
        return;
      }
      if (h.bodyLeft === 0) this.binEnd(h, tsUs);
    }
  }

  /** The 24-byte header of a message is in h.hdr: start the message. False if it is not one. */
  private binHeader(dir: Dir, h: Half, tsUs: number): boolean {
    const b = h.hdr;
    const magic = b[0];
    if (magic !== 0x80 && magic !== 0x81) return false;
    const op = b[1];
    const keyLen = (b[2] << 8) | b[3];
    const extLen = b[4];
    const total = b.readUInt32BE(8);
    if (keyLen + extLen > total) return false;
    const name = BIN_OPS[op] ?? `op_0x${op.toString(16)}`;
    const m = new L7Message(magic === 0x80 ? MsgKind.Request : MsgKind.Response, dir);
    m.startTs = h.binStartTs;
    m.endTs = tsUs;
    m.tcpSeq = h.binStartSeq;
    m.sessionId = b.readUInt32BE(12);
    m.length = 24 + total;
    m.version = 'binary';
    m.requestType = intern(name);
    m.endpoint = m.requestType;
    h.binOp = op;
    h.binExt = extLen;
    h.binKey = keyLen;
    h.bodyLeft = total;
    h.capLen = 0;
    if (magic === 0x80) {
      h.capNeed = Math.min(extLen + keyLen, 512); // keys are at most 250 bytes
      if (op === 0x07 || op === 0x17) {
        m.oneWay = op === 0x17; // quitq expects nothing; quit gets an empty answer
        if (m.oneWay) m.responseStatus = 'ok';
      }
    } else {
      const status = b.readUInt16BE(6);
      m.responseCode = status;
      m.responseStatus = binaryStatus(status);
      m.responseResult = BIN_STATUS[status] ?? `status 0x${status.toString(16)}`;
      // Error answers carry their message as the value.
      h.capNeed = Math.min(total, extLen + keyLen + (status !== 0 ? MAX_TEXT : 0), 512 + MAX_TEXT);
      if (m.responseStatus !== 'ok') m.responseException = m.responseResult;
      this.settleQuiet(m.sessionId, tsUs);
    }
    if (h.cap.length < h.capNeed) h.cap = Buffer.allocUnsafe(Math.max(h.capNeed, 64));
    h.bin = m;
    if (magic === 0x80 && !m.oneWay) {
      this.binPending.push({ opaque: m.sessionId, quiet: BIN_QUIET.has(op), m });
      if (this.binPending.length > 1024) this.binPending.shift();
    }
    this.sink.begin(m);
    return true;
  }

  private binEnd(h: Half, tsUs: number): void {
    const m = h.bin;
    if (m === null) return;
    h.bin = null;
    const keyEnd = h.binExt + h.binKey;
    if (h.binKey > 0 && h.capLen >= keyEnd) {
      const key = clip(h.cap, h.binExt, keyEnd);
      if (m.kind === MsgKind.Request) m.requestResource = key;
    }
    if (m.kind === MsgKind.Response && m.responseStatus !== 'ok' && h.capLen > keyEnd) {
      m.responseException = clip(h.cap, keyEnd, h.capLen);
    }
    this.endMsg(m, tsUs);
  }

  /**
   * A binary answer with `opaque` arrived: quiet requests sent before that request were handled
   * without a word (the server answers in order and stays silent on their success), so they end ok.
   */
  private settleQuiet(opaque: number, tsUs: number): void {
    let idx = -1;
    for (let k = 0; k < this.binPending.length; k++) {
      if (this.binPending[k].opaque === opaque) {
        idx = k;
        break;
      }
    }
    if (idx < 0) return;
    const before = this.binPending.splice(0, idx + 1);
    before.pop();
    for (const p of before) {
      if (!p.quiet) continue;
      const r = new L7Message(MsgKind.Response, (p.m.dir ^ 1) as Dir);
      r.sessionId = p.opaque;
      r.startTs = r.endTs = tsUs;
      r.responseStatus = 'ok';
      r.responseResult = 'quiet: no answer';
      r.version = 'binary';
      r.ended = true;
      this.sink.begin(r);
      this.sink.end(r);
    }
  }

  gap(dir: Dir, _seq: number, len: number, tsUs: number): void {
    const h = this.half[dir];
    if (h.mode === 1) {
      this.lines[dir].gap(len, tsUs);
      return;
    }
    if (h.mode !== 2) return;
    if (h.bodyLeft > 0 && len <= h.bodyLeft) {
      h.bodyLeft -= len;
      if (h.bin !== null) h.bin.truncated = true;
      h.capNeed = h.capLen;
      if (h.bodyLeft === 0) this.binEnd(h, tsUs);
      return;
    }
    if (h.bin !== null) {
      h.bin.truncated = true;
      this.binEnd(h, tsUs);
    }
    h.bodyLeft = 0;
    h.hdrLen = 0;
    h.lost = true;
  }

  datagram(): void {}

  close(dir: Dir, tsUs: number): void {
    this.closeOpen(this.half[dir], tsUs, true);
  }

  finish(tsUs: number): void {
    for (const h of this.half) {
      this.closeOpen(h, tsUs, true);
      if (h.bin !== null) {
        h.bin.truncated = true;
        this.binEnd(h, tsUs);
      }
    }
  }
}

export const MEMCACHED: L7Protocol = {
  name: 'memcached',
  tcp: true,
  udp: false,
  ports: [11211],
  requestTimeoutUs: 120e6,
  hasSessionId: true,
  detect,
  createParser(sink: MessageSink): L7FlowParser {
    return new MemcachedParser(sink);
  },
};
