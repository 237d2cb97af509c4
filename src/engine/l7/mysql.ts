// MySQL / MariaDB client-server protocol over TCP.
//
// Packets are a 3-byte little-endian length and a sequence id; a command starts with sequence 0 from
// the client, and its answer is the server's packets up to the end of the command's reply: an OK or
// ERR packet, or a result set (column count, column definitions, [EOF], rows, EOF/OK — repeated while
// the server says more results exist), or for COM_STMT_PREPARE the OK with statement id followed by
// its parameter and column definitions. A new command from the client also ends whatever answer is
// still open (a reply whose end the parser could not tell, e.g. an optional EOF).
//
// Rows follow DeepFlow's sql/mysql.rs: request_type is the command name (COM_QUERY, COM_STMT_PREPARE,
// COM_STMT_EXECUTE, COM_INIT_DB, COM_PING, …; the handshake response is "Login"), request_resource
// the SQL text ("Login username: U db: D" for the login), endpoint "VERB table" (SPEC.md), version the
// protocol version of the server greeting ("10"). response_code is the ERR packet's error code and
// response_exception its message; codes 2000–2999 are client errors, other codes server errors
// (SPEC.md). COM_STMT_EXECUTE shows the prepared statement's SQL when its COM_STMT_PREPARE was seen
// (DeepFlow shows the bound parameters instead). COM_QUIT, COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA
// get no answer: they are rows of their own with status ok (DeepFlow's "Session" logs). Trace context
// in SQL comments (traceparent=…, sw8=…) fills trace_id / span_id. After the client asks for TLS
// (SSL request in the handshake) nothing more is parsed. The compressed protocol (CLIENT_COMPRESS at
// login, or recognised on the first payload as DeepFlow does) is unwrapped, inflating with zlib.

import { inflateSync } from 'node:zlib';
import { looksLikeSql, sqlEndpoint, sqlTrace } from './sql-text';
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

const COM_QUIT = 0x01;
const COM_INIT_DB = 0x02;
const COM_QUERY = 0x03;
const COM_FIELD_LIST = 0x04;
const COM_PING = 0x0e;
const COM_CHANGE_USER = 0x11;
const COM_STMT_PREPARE = 0x16;
const COM_STMT_EXECUTE = 0x17;
const COM_STMT_SEND_LONG_DATA = 0x18;
const COM_STMT_CLOSE = 0x19;
const COM_STMT_FETCH = 0x1c;

const COMMANDS = [
  '', 'COM_QUIT', 'COM_INIT_DB', 'COM_QUERY', 'COM_FIELD_LIST', 'COM_CREATE_DB', 'COM_DROP_DB', 'COM_REFRESH',
  'COM_SHUTDOWN', 'COM_STATISTICS', 'COM_PROCESS_INFO', 'COM_CONNECT', 'COM_PROCESS_KILL', 'COM_DEBUG',
  'COM_PING', 'COM_TIME', 'COM_DELAYED_INSERT', 'COM_CHANGE_USER', 'COM_BINLOG_DUMP', 'COM_TABLE_DUMP',
  'COM_CONNECT_OUT', 'COM_REGISTER_SLAVE', 'COM_STMT_PREPARE', 'COM_STMT_EXECUTE', 'COM_STMT_SEND_LONG_DATA',
  'COM_STMT_CLOSE', 'COM_STMT_RESET', 'COM_SET_OPTION', 'COM_STMT_FETCH', 'COM_DAEMON', 'COM_BINLOG_DUMP_GTID',
  'COM_RESET_CONNECTION',
];

const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_COMPRESS = 0x20;
/** Largest compressed packet read (and inflated); larger ones end parsing of their direction. */
const MAX_COMPRESSED = 1 << 20;
const SERVER_MORE_RESULTS_EXISTS = 0x0008;
/** Packet bytes kept (SQL text, error message); longer statements are cut. */
const KEEP = 16384;
const MAX_STATEMENTS = 256;

/** SPEC.md: error codes 2000–2999 are the client's, the others (1000–1999, 3000+) the server's. */
export function mysqlErrorStatus(code: number): ResponseStatus {
  return code >= 2000 && code <= 2999 ? 'client_error' : 'server_error';
}

/** What the rest of the server's answer looks like. */
const enum Reply {
  /** No answer open. */
  None,
  /** First packet of an answer expected (OK, ERR, column count, …). */
  First,
  /** Column definitions of a result set; then an EOF or the first row. */
  Columns,
  /** Rows until EOF/OK (0xFE) or ERR. */
  Rows,
  /** COM_STMT_PREPARE: parameter and column definitions, each list followed by an EOF when not deprecated. */
  PrepareDefs,
  /** Login: until OK or ERR (auth switch and more-data packets in between). */
  Auth,
}

class Half {
  readonly hdr = Buffer.alloc(4);
  hdrHave = 0;
  /** Payload length of the current packet, -1 while the header is incomplete. */
  len = -1;
  seq = 0;
  have = 0;
  body = Buffer.alloc(256);
  startSeq = 0;
  startTs = 0;
  lost = false;
  cut = false;
}

class CompressedHalf {
  readonly hdr = Buffer.alloc(7);
  hdrHave = 0;
  len = -1;
  ulen = 0;
  have = 0;
  body = Buffer.alloc(0);
  startSeq = 0;
  startTs = 0;
  lost = false;
}

export class MysqlParser implements L7FlowParser {
  private readonly half: [Half, Half] = [new Half(), new Half()];
  private clientDir: Dir = 0;
  private decided = false;
  private stopped = false;
  private version: string | null = null;
  /** Login expected next from the client (greeting seen). */
  private greeted = false;
  private deprecateEof = false;
  private serverDeprecateEof: boolean | null = null;

  private req: L7Message | null = null;
  private reqCommand = -1;
  private resp: L7Message | null = null;
  private reply = Reply.None;
  /** Column definitions left in the current list (Columns / PrepareDefs). */
  private defsLeft = 0;
  /** PrepareDefs: column definitions that follow the parameter list. */
  private prepareColumns = 0;
  /** An EOF may still follow the definitions (PrepareDefs, when not deprecated). */
  private eofPending = false;
  private pendingSql: string | null = null;
  private readonly statements = new Map<number, string>();
  /** Compressed protocol (decided on the first payload, or by the login's CLIENT_COMPRESS); null = not yet. */
  private compressed: boolean | null = null;
  private compressAfterLogin = false;
  private readonly comp: [CompressedHalf, CompressedHalf] = [new CompressedHalf(), new CompressedHalf()];

  constructor(private readonly sink: MessageSink) {}

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    if (this.stopped) return;
    if (this.compressed === null) this.compressed = looksCompressed(buf, off, len) && !looksPlain(buf, off, len);
    if (this.compressed) this.compressedData(dir, buf, off, len, seq, tsUs);
    else this.plain(dir, buf, off, len, seq, tsUs);
  }

  /**
   * Compressed protocol: each compressed packet (3-byte length, sequence, 3-byte uncompressed length —
   * 0 when sent as is) carries a piece of the stream of ordinary packets, deflated or not.
   */
  private compressedData(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    const c = this.comp[dir];
    const end = off + len;
    let i = off;
    while (i < end && !this.stopped && !c.lost) {
      if (c.len < 0) {
        if (c.hdrHave === 0) {
          c.startSeq = (seq + (i - off)) >>> 0;
          c.startTs = tsUs;
        }
        const n = Math.min(7 - c.hdrHave, end - i);
        buf.copy(c.hdr, c.hdrHave, i, i + n);
        c.hdrHave += n;
        i += n;
        if (c.hdrHave < 7) break;
        c.len = c.hdr[0] | (c.hdr[1] << 8) | (c.hdr[2] << 16);
        c.ulen = c.hdr[4] | (c.hdr[5] << 8) | (c.hdr[6] << 16);
        c.have = 0;
        if (c.len > MAX_COMPRESSED) {
          c.lost = true;
          return;
        }
        if (c.body.length < c.len) c.body = Buffer.alloc(Math.max(c.len, 1024));
        continue;
      }
      const n = Math.min(c.len - c.have, end - i);
      buf.copy(c.body, c.have, i, i + n);
      c.have += n;
      i += n;
      if (c.have < c.len) break;
      c.len = -1;
      c.hdrHave = 0;
      if (c.ulen === 0) {
        this.plain(dir, c.body, 0, c.have, (c.startSeq + 7) >>> 0, c.startTs);
      } else {
        let out: Buffer;
        try {
          out = inflateSync(c.body.subarray(0, c.have), { maxOutputLength: MAX_COMPRESSED });
        } catch {
          c.lost = true; // not zlib after all, or cut: the rest of this direction is unreadable
          return;
        }
        this.plain(dir, out, 0, out.length, c.startSeq, c.startTs);
      }
    }
  }

  private plain(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    const h = this.half[dir];
    const end = off + len;
    let i = off;
    if (h.lost) {
      if (!plausiblePacket(buf, off, len)) return;
      h.lost = false;
      h.hdrHave = 0;
      h.len = -1;
    }
    while (i < end && !this.stopped && !h.lost) {
      if (h.len < 0) {
        if (h.hdrHave === 0) {
          h.startSeq = (seq + (i - off)) >>> 0;
          h.startTs = tsUs;
        }
        const n = Math.min(4 - h.hdrHave, end - i);
        buf.copy(h.hdr, h.hdrHave, i, i + n);
        h.hdrHave += n;
        i += n;
        if (h.hdrHave < 4) break;
        h.len = h.hdr[0] | (h.hdr[1] << 8) | (h.hdr[2] << 16);
        h.seq = h.hdr[3];
        h.have = 0;
        h.cut = false;
        if (h.len === 0) this.packet(dir, h, tsUs);
        continue;
      }
      const n = Math.min(h.len - h.have, end - i);
      if (h.have < KEEP) {
        const k = Math.min(n, KEEP - h.have);
        if (h.body.length < h.have + k) {
          const nb = Buffer.alloc(Math.min(KEEP, Math.max(h.body.length * 2, h.have + k)));
          h.body.copy(nb, 0, 0, h.have);
          h.body = nb;
        }
        buf.copy(h.body, h.have, i, i + k);
      }
      h.have += n;
      i += n;
      if (h.have === h.len) this.packet(dir, h, tsUs);
    }
  }

  /** One whole packet (payload kept up to KEEP bytes). */
  private packet(dir: Dir, h: Half, tsUs: number): void {
    const kept = Math.min(h.have, KEEP);
    h.hdrHave = 0;
    const len = h.len;
    h.len = -1;
    if (!this.decided) this.decide(dir, h, kept);
    if (dir === this.clientDir) this.clientPacket(dir, h, len, kept, tsUs);
    else this.serverPacket(dir, h, len, kept, tsUs);
  }

  /** The first packet tells who is the client: the greeting and replies come from the server. */
  private decide(dir: Dir, h: Half, kept: number): void {
    this.decided = true;
    const b = h.body;
    let server = false;
    if (h.seq === 0) server = kept > 0 && b[0] === 0x0a && isGreeting(b, 0, kept);
    else server = !(h.seq === 1 && kept >= 32 && (b.readUInt32LE(0) & CLIENT_PROTOCOL_41) !== 0 && b[31] === 0 && b[9] === 0);
    this.clientDir = server ? ((dir ^ 1) as Dir) : dir;
  }

  private clientPacket(dir: Dir, h: Half, len: number, kept: number, tsUs: number): void {
    const b = h.body;
    if (h.seq === 0) {
      if (len === 0 || h.cut) return;
      this.command(dir, h, len, kept, tsUs);
      return;
    }
    if (h.seq === 1 && this.req === null && kept >= 32 && (this.greeted || this.reply === Reply.None)) {
      // Handshake response (login) or SSL request.
      const caps = b.readUInt32LE(0);
      if ((caps & CLIENT_PROTOCOL_41) === 0) return;
      for (let k = 9; k < 32; k++) if (b[k] !== 0) return;
      this.greeted = false;
      if ((caps & CLIENT_SSL) !== 0 && len === 32) {
        this.stopped = true; // TLS follows: nothing more is readable
        return;
      }
      // CLIENT_DEPRECATE_EOF only when both sides have it (an unseen greeting counts as yes).
      this.deprecateEof = (caps & (1 << 24)) !== 0 && this.serverDeprecateEof !== false;
      this.compressAfterLogin = (caps & CLIENT_COMPRESS) !== 0;
      let p = 32;
      let user = '';
      let e = p;
      while (e < kept && b[e] !== 0) e++;
      user = b.toString('utf8', p, e);
      p = e + 1;
      let db = '';
      // Auth response: length-encoded (CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) or 1-byte length, then the db.
      if (p < kept) {
        let alen = b[p];
        let q = p + 1;
        if ((caps & 0x200000) !== 0 && alen === 0xfc && p + 2 < kept) {
          alen = b[p + 1] | (b[p + 2] << 8);
          q = p + 3;
        } else if ((caps & 0x8000) === 0 && (caps & 0x200000) === 0) {
          while (q < kept && b[q - 1] !== 0) q++;
          alen = 0;
          q--;
        }
        p = q + alen;
        if ((caps & 0x8) !== 0 && p < kept) {
          e = p;
          while (e < kept && b[e] !== 0) e++;
          db = b.toString('utf8', p, e);
        }
      }
      const m = this.begin(dir, h, 'Login', len);
      m.requestResource = db.length > 0 ? `Login username: ${user} db: ${db}` : `Login username: ${user}`;
      m.endpoint = m.requestResource;
      this.finishRequest(m, tsUs);
      this.reply = Reply.Auth;
      return;
    }
    // Auth continuation, LOCAL INFILE contents, …: part of the exchange in progress.
  }

  private command(dir: Dir, h: Half, len: number, kept: number, tsUs: number): void {
    this.endReply(false);
    const b = h.body;
    const cmd = b[0];
    const name = cmd < COMMANDS.length ? COMMANDS[cmd] : '';
    if (name === '' || cmd === COM_CHANGE_USER) {
      // Unknown command (or a re-authentication): nothing to pair it with reliably.
      this.reply = cmd === COM_CHANGE_USER ? Reply.Auth : Reply.None;
      return;
    }
    const m = this.begin(dir, h, name, len);
    this.reqCommand = cmd;
    this.pendingSql = null;
    switch (cmd) {
      case COM_QUERY:
      case COM_STMT_PREPARE: {
        // MySQL 8.0.26+ with query attributes puts "0x00 0x01" (no parameters, one set) before the text.
        const start = kept > 2 && b[1] === 0 && b[2] === 1 ? 3 : 1;
        const sql = b.toString('utf8', start, kept);
        this.setSql(m, sql);
        if (cmd === COM_STMT_PREPARE) this.pendingSql = sql;
        break;
      }
      case COM_INIT_DB:
      case COM_FIELD_LIST: {
        let e = 1;
        while (e < kept && b[e] !== 0) e++;
        m.requestResource = b.toString('utf8', 1, e);
        break;
      }
      case COM_STMT_EXECUTE:
      case COM_STMT_FETCH:
        if (kept >= 5) {
          const sql = this.statements.get(b.readUInt32LE(1));
          if (sql !== undefined) this.setSql(m, sql);
        }
        break;
      case COM_STMT_CLOSE:
        if (kept >= 5) this.statements.delete(b.readUInt32LE(1));
        break;
      default:
        break;
    }
    if (cmd === COM_QUIT || cmd === COM_STMT_CLOSE || cmd === COM_STMT_SEND_LONG_DATA) {
      // No answer by design: a row of its own (DeepFlow's Session log).
      m.oneWay = true;
      m.responseStatus = 'ok';
      this.finishRequest(m, tsUs);
      return;
    }
    this.finishRequest(m, tsUs);
    this.reply = Reply.First;
  }

  private begin(dir: Dir, h: Half, type: string, len: number): L7Message {
    const m = new L7Message(MsgKind.Request, dir);
    m.startTs = h.startTs;
    m.tcpSeq = h.startSeq;
    m.requestType = type;
    m.version = this.version;
    m.length = len;
    this.sink.begin(m);
    return m;
  }

  private finishRequest(m: L7Message, tsUs: number): void {
    m.endTs = tsUs;
    m.ended = true;
    this.sink.end(m);
  }

  private setSql(m: L7Message, sql: string): void {
    m.requestResource = sql;
    m.endpoint = sqlEndpoint(sql, true);
    const ids = sqlTrace(sql);
    if (ids !== null) {
      m.traceId = ids.traceId;
      m.spanId = ids.spanId;
      m.parentSpanId = ids.parentSpanId;
    }
  }

  private serverPacket(dir: Dir, h: Half, len: number, kept: number, tsUs: number): void {
    const b = h.body;
    if (this.reply === Reply.None) {
      if (h.seq === 0 && kept > 0 && b[0] === 0x0a && isGreeting(b, 0, kept)) {
        this.version = '10';
        this.greeted = true;
        this.serverDeprecateEof = (greetingCaps(b, kept) & (1 << 24)) !== 0;
      }
      return;
    }
    if (this.resp === null) {
      const m = new L7Message(MsgKind.Response, dir);
      m.startTs = h.startTs;
      m.tcpSeq = h.startSeq;
      m.version = this.version;
      m.responseStatus = 'ok';
      m.length = 0;
      this.resp = m;
      this.sink.begin(m);
    }
    const m = this.resp;
    m.endTs = tsUs;
    m.length = (m.length ?? 0) + len;
    const first = kept > 0 ? b[0] : -1;
    if (first === 0xff && !h.cut) {
      // ERR ends any answer.
      if (kept >= 3) {
        const code = b[1] | (b[2] << 8);
        m.responseCode = code;
        m.responseStatus = mysqlErrorStatus(code);
        const p = kept > 3 && b[3] === 0x23 ? 9 : 3; // '#' + 5-byte SQL state
        if (p < kept) m.responseException = b.toString('utf8', p, kept);
      } else {
        m.responseStatus = 'server_error';
      }
      this.endReply(true);
      return;
    }
    switch (this.reply) {
      case Reply.Auth:
        if (first === 0x00) {
          this.endReply(true);
          // Both directions switch to compressed packets after a successful login that asked for it.
          if (this.compressAfterLogin) this.compressed = true;
        }
        return;
      case Reply.First:
        if (first === 0x00) {
          if (this.reqCommand === COM_STMT_PREPARE && kept >= 9) {
            const id = b.readUInt32LE(1);
            const cols = b[5] | (b[6] << 8);
            const params = b[7] | (b[8] << 8);
            if (this.pendingSql !== null) {
              this.statements.set(id, this.pendingSql);
              if (this.statements.size > MAX_STATEMENTS) this.statements.delete(this.statements.keys().next().value!);
            }
            if (cols + params === 0) {
              this.endReply(true);
            } else {
              this.reply = Reply.PrepareDefs;
              this.defsLeft = params > 0 ? params : cols;
              this.prepareColumns = params > 0 ? cols : 0;
              this.eofPending = false;
            }
            return;
          }
          if (moreResults(b, kept, true)) return; // another result follows
          this.endReply(true);
          return;
        }
        if (first === 0xfe && len < 9) {
          // EOF (COM_FIELD_LIST end, COM_SET_OPTION) or an old-style auth switch.
          this.endReply(true);
          return;
        }
        if (first === 0xfb) return; // LOCAL INFILE request: the client sends the file, then an OK comes
        if (this.reqCommand === COM_FIELD_LIST) {
          this.reply = Reply.Rows;
          return;
        }
        if (this.reqCommand === COM_QUERY || this.reqCommand === COM_STMT_EXECUTE || this.reqCommand === COM_STMT_FETCH) {
          // Column count: that many definitions follow.
          this.defsLeft = lenenc(b, 0, kept);
          this.reply = this.reqCommand === COM_STMT_FETCH ? Reply.Rows : Reply.Columns;
          return;
        }
        this.endReply(true); // COM_STATISTICS and other one-packet answers
        return;
      case Reply.Columns:
        if (this.defsLeft > 0) {
          this.defsLeft--;
          return;
        }
        this.reply = Reply.Rows;
        if (first === 0xfe && len < 9) return; // the EOF after the definitions
        // No EOF (CLIENT_DEPRECATE_EOF): this packet is the first row, or the closing OK.
        if (first === 0xfe) this.rowsEnd(b, kept);
        return;
      case Reply.Rows:
        if (first === 0xfe && len < 0xffffff) this.rowsEnd(b, kept);
        return;
      case Reply.PrepareDefs:
        if (this.eofPending) {
          this.eofPending = false;
          if (first === 0xfe && len < 9) {
            if (this.defsLeft === 0) this.endReply(true);
            return;
          }
        }
        if (this.defsLeft > 0) this.defsLeft--;
        if (this.defsLeft === 0) {
          if (this.prepareColumns > 0) {
            this.defsLeft = this.prepareColumns;
            this.prepareColumns = 0;
            if (this.deprecateEof) return;
            this.eofPending = true;
            return;
          }
          if (this.deprecateEof) this.endReply(true);
          else this.eofPending = true;
        }
        return;
      default:
        return;
    }
  }

  /** EOF / OK closing the rows of one result: the answer ends unless more results follow. */
  private rowsEnd(b: Buffer, kept: number): void {
    if (moreResults(b, kept, kept >= 9)) {
      this.reply = Reply.First;
      return;
    }
    this.endReply(true);
  }

  /** Ends the open answer (complete, or cut short by the next command). */
  private endReply(_complete: boolean): void {
    this.reply = Reply.None;
    this.eofPending = false;
    const m = this.resp;
    if (m === null) return;
    this.resp = null;
    m.ended = true;
    this.sink.end(m);
  }

  gap(dir: Dir, _seq: number, len: number): void {
    if (this.stopped) return;
    const h = this.half[dir];
    if (h.lost) return;
    if (h.len >= 0 && len <= h.len - h.have) {
      h.have += len;
      h.cut = true;
      return;
    }
    h.lost = true;
    h.hdrHave = 0;
    h.len = -1;
    if (dir !== this.clientDir && this.resp !== null) {
      this.resp.truncated = true;
      this.endReply(true);
    }
  }

  datagram(): void {}

  close(): void {}

  finish(): void {
    if (this.resp !== null) {
      this.resp.truncated = true;
      this.endReply(true);
    }
  }
}

/** Length-encoded integer at b[p] (0 when it does not fit). */
function lenenc(b: Buffer, p: number, end: number): number {
  if (p >= end) return 0;
  const c = b[p];
  if (c < 0xfb) return c;
  if (c === 0xfc && p + 2 < end) return b[p + 1] | (b[p + 2] << 8);
  if (c === 0xfd && p + 3 < end) return b[p + 1] | (b[p + 2] << 8) | (b[p + 3] << 16);
  return 0;
}

function lenencSize(b: Buffer, p: number): number {
  const c = b[p];
  return c < 0xfb ? 1 : c === 0xfc ? 3 : c === 0xfd ? 4 : 9;
}

/** Status flags of an OK (ok = true: header, affected rows, last id, status) or EOF packet say more results follow. */
function moreResults(b: Buffer, kept: number, ok: boolean): boolean {
  let p: number;
  if (ok) {
    p = 1;
    if (p >= kept) return false;
    p += lenencSize(b, p);
    if (p >= kept) return false;
    p += lenencSize(b, p);
  } else {
    p = 3; // 0xFE, warnings (2)
  }
  if (p + 1 >= kept) return false;
  return ((b[p] | (b[p + 1] << 8)) & SERVER_MORE_RESULTS_EXISTS) !== 0;
}

/** Server greeting (protocol 10): a printable version string that starts with a digit, NUL-terminated. */
function isGreeting(b: Buffer, p: number, end: number): boolean {
  if (b[p] !== 0x0a && b[p] !== 0x09) return false;
  const v = p + 1;
  if (v >= end || b[v] < 0x30 || b[v] > 0x39) return false;
  let e = v;
  while (e < end && e - v < 64 && b[e] !== 0) {
    if (b[e] < 0x20 || b[e] > 0x7e) return false;
    e++;
  }
  return e < end && b[e] === 0 && e + 1 + 4 + 8 + 1 <= end;
}

/** Capability flags of a greeting (lower and upper 16 bits). */
function greetingCaps(b: Buffer, end: number): number {
  let e = 1;
  while (e < end && b[e] !== 0) e++;
  const p = e + 1 + 4 + 8 + 1; // NUL, thread id, auth data part 1, filler
  if (p + 2 > end) return 0;
  let caps = b[p] | (b[p + 1] << 8);
  if (p + 7 <= end) caps |= (b[p + 5] | (b[p + 6] << 8)) << 16;
  return caps >>> 0;
}

/** One ordinary packet exactly fills the payload. */
function looksPlain(b: Buffer, off: number, len: number): boolean {
  return len >= 4 && (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16)) + 4 === len;
}

/** One compressed packet exactly fills the payload (DeepFlow's test): uncompressed length 0 or ≥ compressed. */
function looksCompressed(b: Buffer, off: number, len: number): boolean {
  if (len < 7 + 4) return false;
  const clen = b[off] | (b[off + 1] << 8) | (b[off + 2] << 16);
  const ulen = b[off + 4] | (b[off + 5] << 8) | (b[off + 6] << 16);
  return clen + 7 === len && (ulen === 0 || ulen >= clen);
}

/** Segment start after lost framing: a packet header whose length fits what follows (or runs past it). */
function plausiblePacket(b: Buffer, off: number, len: number): boolean {
  if (len < 5) return false;
  const n = b[off] | (b[off + 1] << 8) | (b[off + 2] << 16);
  if (n === 0) return false;
  if (n + 4 === len) return true;
  if (n + 4 < len) return n + 4 + 4 <= len && (b[off + n + 4] | (b[off + n + 5] << 8) | (b[off + n + 6] << 16)) + n + 8 <= len;
  return b[off + 3] === 0 && (b[off + 4] === COM_QUERY || b[off + 4] === COM_STMT_PREPARE);
}

function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp || len < 5 || off + len > buf.length) return 0;
  if (looksCompressed(buf, off, len) && !looksPlain(buf, off, len)) {
    // The compressed protocol seen mid-connection: judge the packet inside.
    if (buf[off + 4] === 0 && buf[off + 5] === 0 && buf[off + 6] === 0) return detectPlain(buf, off + 7, len - 7);
    if (len > 4096) return 0;
    try {
      const out = inflateSync(buf.subarray(off + 7, off + len), { maxOutputLength: 65536 });
      return detectPlain(out, 0, out.length);
    } catch {
      return 0;
    }
  }
  return detectPlain(buf, off, len);
}

function detectPlain(buf: Buffer, off: number, len: number): number {
  if (len < 5) return 0;
  const n = buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16);
  const seq = buf[off + 3];
  if (n === 0) return 0;
  const p = off + 4;
  const end = Math.min(off + len, p + n);
  const c = buf[p];
  if (seq === 0 && c === 0x0a && isGreeting(buf, p, end)) return 90;
  if (seq === 0 && (c === COM_QUERY || c === COM_STMT_PREPARE)) {
    const start = end - p > 2 && buf[p + 1] === 0 && buf[p + 2] === 1 ? p + 3 : p + 1;
    return looksLikeSql(buf.toString('latin1', start, Math.min(end, start + 64)), true) ? 80 : 0;
  }
  if (seq === 1 && n >= 32 && end - p >= 33) {
    // Handshake response: capabilities with PROTOCOL_41, 23 zero filler bytes, a printable user name.
    const caps = buf.readUInt32LE(p);
    if ((caps & CLIENT_PROTOCOL_41) === 0) return 0;
    for (let k = 9; k < 32; k++) if (buf[p + k] !== 0) return 0;
    if (n === 32) return (caps & CLIENT_SSL) !== 0 ? 80 : 0;
    const u = buf[p + 32];
    return u >= 0x20 && u < 0x7f ? 80 : 0;
  }
  // Short commands: only a guess, counted on the MySQL port.
  if (seq === 0 && n + 4 === len && (c === COM_PING || c === COM_QUIT) && n === 1) return 30;
  if (seq === 0 && n + 4 === len && c === COM_INIT_DB && n > 1) return 30;
  return 0;
}

export const MYSQL: L7Protocol = {
  name: 'mysql',
  tcp: true,
  udp: false,
  ports: [3306, 3307, 33060],
  requestTimeoutUs: 120e6,
  hasSessionId: false,
  detect,
  createParser: (sink: MessageSink) => new MysqlParser(sink),
};
