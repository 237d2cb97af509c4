// TLS handshakes over TCP (TLS 1.0–1.3). One row per handshake: the ClientHello is the request
// (request_type "ClientHello", request_domain and request_resource = SNI, as DeepFlow's TLS log), the
// server's answer is the response — it starts with the ServerHello (or a plaintext alert) and ends when
// the handshake is done: both sides have sent their Finished (TLS 1.2: the first record after each
// side's ChangeCipherSpec; TLS 1.3: the client's first encrypted record). So duration = ServerHello −
// ClientHello (SPEC: first response packet − first request packet) and end_time − start_time is the
// whole handshake. version is the negotiated one ("TLSv1.3", from supported_versions), response_result
// "cipher=<suite> alpn=<protocol>" as the ServerHello chose them (TLS 1.3 encrypts the ALPN choice:
// "alpn_offered=<the client's list>" instead).
//
// Alerts (DeepFlow): a fatal alert from the client is a client error, from the server a server error;
// response_code is the alert description, response_exception its name. In TLS 1.3 the client's alert
// after the ServerHello is encrypted; a first encrypted client record too short to be a Finished
// (< 53 bytes: 4 + 32 + 1 + 16) is taken for that alert. Once the handshake is done nothing more is
// parsed: application data is never counted nor looked at.

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
} from './types';

const CHANGE_CIPHER_SPEC = 20;
const ALERT = 21;
const HANDSHAKE = 22;
const APPLICATION_DATA = 23;
const CLIENT_HELLO = 1;
const SERVER_HELLO = 2;
/** Largest record (2^14 + 2048 of expansion) and the part of a handshake record kept for parsing. */
const MAX_RECORD = 18432;
/** Shortest TLS 1.3 Finished record: handshake header + SHA-256 verify data + inner type + AEAD tag. */
const MIN_FINISHED_13 = 4 + 32 + 1 + 16;

const VERSIONS: Record<number, string> = {
  0x0300: 'SSLv3',
  0x0301: 'TLSv1.0',
  0x0302: 'TLSv1.1',
  0x0303: 'TLSv1.2',
  0x0304: 'TLSv1.3',
};

const ALERTS: Record<number, string> = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 21: 'decryption_failed',
  22: 'record_overflow', 30: 'decompression_failure', 40: 'handshake_failure', 41: 'no_certificate',
  42: 'bad_certificate', 43: 'unsupported_certificate', 44: 'certificate_revoked', 45: 'certificate_expired',
  46: 'certificate_unknown', 47: 'illegal_parameter', 48: 'unknown_ca', 49: 'access_denied', 50: 'decode_error',
  51: 'decrypt_error', 60: 'export_restriction', 70: 'protocol_version', 71: 'insufficient_security',
  80: 'internal_error', 86: 'inappropriate_fallback', 90: 'user_canceled', 100: 'no_renegotiation',
  109: 'missing_extension', 110: 'unsupported_extension', 112: 'unrecognized_name',
  113: 'bad_certificate_status_response', 115: 'unknown_psk_identity', 116: 'certificate_required',
  120: 'no_application_protocol',
};

/** IANA names of the common cipher suites (others are shown as 0xHHHH). */
const SUITES: Record<number, string> = {
  0x1301: 'TLS_AES_128_GCM_SHA256', 0x1302: 'TLS_AES_256_GCM_SHA384', 0x1303: 'TLS_CHACHA20_POLY1305_SHA256',
  0x1304: 'TLS_AES_128_CCM_SHA256', 0x1305: 'TLS_AES_128_CCM_8_SHA256',
  0xc02b: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 0xc02c: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  0xc02f: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 0xc030: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  0xcca8: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 0xcca9: 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  0xccaa: 'TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 0x009e: 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256',
  0x009f: 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384', 0xc013: 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA',
  0xc014: 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA', 0xc009: 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA',
  0xc00a: 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA', 0xc027: 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256',
  0xc028: 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384', 0x009c: 'TLS_RSA_WITH_AES_128_GCM_SHA256',
  0x009d: 'TLS_RSA_WITH_AES_256_GCM_SHA384', 0x002f: 'TLS_RSA_WITH_AES_128_CBC_SHA',
  0x0035: 'TLS_RSA_WITH_AES_256_CBC_SHA', 0x003c: 'TLS_RSA_WITH_AES_128_CBC_SHA256',
  0x003d: 'TLS_RSA_WITH_AES_256_CBC_SHA256', 0x000a: 'TLS_RSA_WITH_3DES_EDE_CBC_SHA',
};

export function tlsVersionName(v: number): string {
  return VERSIONS[v] ?? `0x${v.toString(16).padStart(4, '0')}`;
}

export function cipherSuiteName(s: number): string {
  return SUITES[s] ?? `0x${s.toString(16).padStart(4, '0')}`;
}

export function alertName(d: number): string {
  return ALERTS[d] ?? `alert_${d}`;
}

class Half {
  readonly hdr = Buffer.alloc(5);
  hdrHave = 0;
  type = 0;
  /** Record body length, -1 while the header is incomplete. */
  len = -1;
  have = 0;
  body = Buffer.alloc(0);
  startSeq = 0;
  startTs = 0;
  /** Sent ChangeCipherSpec (TLS ≤ 1.2), and a record after it (its Finished). */
  ccs = false;
  finished = false;
  lost = false;
}

/** ClientHello / ServerHello fields (parse results, reused). */
interface Hello {
  version: number;
  suite: number;
  sni: string | null;
  /** ALPN: the server's choice (ServerHello), or the client's list joined by ',' (ClientHello). */
  alpn: string | null;
}

export class TlsParser implements L7FlowParser {
  private readonly half: [Half, Half] = [new Half(), new Half()];
  /** Direction of the ClientHello's sender, once known. */
  private clientDir: Dir | -1 = -1;
  private req: L7Message | null = null;
  private resp: L7Message | null = null;
  private tls13 = false;
  private offeredAlpn: string | null = null;
  /** The handshake is over (done or failed): nothing more is parsed. */
  private done = false;
  private readonly hello: Hello = { version: 0, suite: 0, sni: null, alpn: null };

  constructor(private readonly sink: MessageSink) {}

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    if (this.done) return;
    const h = this.half[dir];
    if (h.lost) return; // framing lost inside the handshake: the rest is not readable
    const end = off + len;
    let i = off;
    while (i < end && !this.done) {
      if (h.len < 0) {
        if (h.hdrHave === 0) {
          h.startSeq = (seq + (i - off)) >>> 0;
          h.startTs = tsUs;
        }
        const n = Math.min(5 - h.hdrHave, end - i);
        buf.copy(h.hdr, h.hdrHave, i, i + n);
        h.hdrHave += n;
        i += n;
        if (h.hdrHave < 5) break;
        h.type = h.hdr[0];
        const rl = h.hdr.readUInt16BE(3);
        if (h.type < 20 || h.type > 24 || h.hdr[1] !== 3 || rl > MAX_RECORD) {
          this.lose(dir, tsUs);
          return;
        }
        h.len = rl;
        h.have = 0;
        if (h.type === HANDSHAKE || h.type === ALERT) {
          if (h.body.length < rl) h.body = Buffer.alloc(Math.max(rl, 512));
        }
        if (rl === 0) this.record(dir, h, tsUs);
        continue;
      }
      const n = Math.min(h.len - h.have, end - i);
      if (h.type === HANDSHAKE || h.type === ALERT) buf.copy(h.body, h.have, i, i + n);
      h.have += n;
      i += n;
      if (h.have === h.len) this.record(dir, h, tsUs);
    }
  }

  private record(dir: Dir, h: Half, tsUs: number): void {
    const len = h.len;
    h.len = -1;
    h.hdrHave = 0;
    const b = h.body;
    switch (h.type) {
      case HANDSHAKE:
        if (h.ccs) {
          this.finishedBy(dir, h, tsUs); // encrypted Finished after ChangeCipherSpec
          return;
        }
        if (len >= 4) this.handshake(dir, h, b, len, tsUs);
        return;
      case CHANGE_CIPHER_SPEC:
        if (!this.tls13) h.ccs = true;
        return;
      case ALERT:
        if (len >= 2 && !h.ccs) this.alert(dir, h, b[0], b[1], tsUs);
        else if (h.ccs) this.finishedBy(dir, h, tsUs);
        return;
      case APPLICATION_DATA:
        if (this.req === null && this.resp === null) {
          this.done = true; // seen mid-connection: only encrypted data follows
          return;
        }
        if (this.tls13 && this.resp !== null && dir === this.clientDir && len < MIN_FINISHED_13) {
          // TLS 1.3: the client's first encrypted record is too short to be its Finished: an alert.
          const m = this.resp;
          m.responseStatus = 'client_error';
          m.responseException = 'encrypted alert';
          this.endResponse(tsUs);
          return;
        }
        if (this.tls13 || h.ccs) this.finishedBy(dir, h, tsUs);
        return;
      default:
        return;
    }
  }

  private handshake(dir: Dir, h: Half, b: Buffer, len: number, tsUs: number): void {
    const t = b[0];
    const mlen = (b[1] << 16) | (b[2] << 8) | b[3];
    const end = Math.min(len, 4 + mlen);
    if (t === CLIENT_HELLO && this.req === null && this.resp === null) {
      if (!parseHello(b, 4, end, true, this.hello)) return;
      this.clientDir = dir;
      const m = new L7Message(MsgKind.Request, dir);
      m.startTs = h.startTs;
      m.endTs = tsUs;
      m.tcpSeq = h.startSeq;
      m.requestType = 'ClientHello';
      m.requestDomain = this.hello.sni;
      m.requestResource = this.hello.sni;
      m.length = mlen;
      m.ended = true;
      this.offeredAlpn = this.hello.alpn;
      this.req = m;
      this.sink.begin(m);
      this.sink.end(m);
      return;
    }
    if (t === SERVER_HELLO && this.resp === null && (this.clientDir === -1 || dir !== this.clientDir)) {
      if (!parseHello(b, 4, end, false, this.hello)) return;
      if (this.clientDir === -1) this.clientDir = (dir ^ 1) as Dir;
      this.tls13 = this.hello.version === 0x0304;
      const m = this.beginResponse(dir, h);
      m.version = tlsVersionName(this.hello.version);
      // TLS 1.3 sends the chosen ALPN encrypted (EncryptedExtensions): show what the client offered.
      const cipher = `cipher=${cipherSuiteName(this.hello.suite)}`;
      m.responseResult =
        this.hello.alpn !== null
          ? `${cipher} alpn=${this.hello.alpn}`
          : this.offeredAlpn !== null
            ? `${cipher} alpn_offered=${this.offeredAlpn}`
            : cipher;
      m.length = mlen;
      m.endTs = tsUs;
    }
  }

  private beginResponse(dir: Dir, h: Half): L7Message {
    const m = new L7Message(MsgKind.Response, dir);
    m.startTs = h.startTs;
    m.endTs = h.startTs;
    m.tcpSeq = h.startSeq;
    m.responseStatus = 'ok';
    this.resp = m;
    this.sink.begin(m);
    return m;
  }

  private alert(dir: Dir, h: Half, level: number, desc: number, tsUs: number): void {
    if (level !== 2 && desc !== 0) return; // warnings do not end the handshake
    const fromClient = this.clientDir === -1 ? dir === 0 : dir === this.clientDir;
    if (this.resp === null) {
      if (this.req === null) return; // an alert with no handshake seen: nothing to pair it with
      this.beginResponse(dir, h);
    }
    const m = this.resp!;
    m.responseCode = desc;
    m.responseException = alertName(desc);
    m.responseStatus = desc === 0 ? 'ok' : fromClient ? 'client_error' : 'server_error';
    this.endResponse(tsUs);
  }

  /** Direction `dir` sent its Finished; the handshake is done once both sides have (1.3: the client). */
  private finishedBy(dir: Dir, h: Half, tsUs: number): void {
    h.finished = true;
    if (this.resp === null) {
      this.done = true;
      return;
    }
    this.resp.endTs = tsUs;
    const other = this.half[(dir ^ 1) as Dir];
    if ((this.tls13 && dir === this.clientDir) || (!this.tls13 && other.finished)) this.endResponse(tsUs);
  }

  private endResponse(tsUs: number): void {
    const m = this.resp;
    this.done = true;
    if (m === null) return;
    this.resp = null;
    if (tsUs > m.endTs) m.endTs = tsUs;
    m.ended = true;
    this.sink.end(m);
  }

  private lose(dir: Dir, tsUs: number): void {
    this.half[dir].lost = true;
    if (this.resp !== null) {
      this.resp.truncated = true;
      this.endResponse(tsUs);
    }
    this.done = true;
  }

  gap(dir: Dir, _seq: number, _len: number, tsUs: number): void {
    if (this.done) return;
    this.lose(dir, tsUs);
  }

  datagram(): void {}

  close(_dir: Dir, _tsUs: number): void {}

  finish(): void {
    if (this.resp !== null) {
      // The connection ended before the handshake did.
      const m = this.resp;
      this.resp = null;
      m.truncated = true;
      m.ended = true;
      this.sink.end(m);
    }
  }
}

/**
 * ClientHello / ServerHello body b[p, end): legacy version, cipher suite (ServerHello), extensions
 * SNI (ClientHello), ALPN (the first protocol), supported_versions (the highest offered / the chosen).
 */
function parseHello(b: Buffer, p: number, end: number, client: boolean, out: Hello): boolean {
  out.version = 0;
  out.suite = 0;
  out.sni = null;
  out.alpn = null;
  if (p + 2 + 32 + 1 > end) return false;
  out.version = b.readUInt16BE(p);
  if (b[p] !== 3) return false;
  p += 2 + 32;
  const sid = b[p];
  p += 1 + sid;
  if (client) {
    if (p + 2 > end) return false;
    const cs = b.readUInt16BE(p);
    p += 2 + cs;
    if (p + 1 > end) return false;
    p += 1 + b[p];
  } else {
    if (p + 3 > end) return false;
    out.suite = b.readUInt16BE(p);
    p += 3;
  }
  if (p > end) return false;
  if (p + 2 > end) return true; // no extensions
  const extEnd = Math.min(end, p + 2 + b.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = b.readUInt16BE(p);
    const n = b.readUInt16BE(p + 2);
    const q = p + 4;
    if (q + n > extEnd) break;
    if (type === 0 && client && n >= 5) {
      // server_name: list length, type 0 (host_name), name length, name
      const nl = b.readUInt16BE(q + 3);
      if (b[q + 2] === 0 && q + 5 + nl <= q + n) out.sni = b.toString('latin1', q + 5, q + 5 + nl);
    } else if (type === 16 && n >= 3) {
      // ALPN: list length, then length-prefixed protocol names
      let list = '';
      for (let k = q + 2; k < q + n; ) {
        const pl = b[k];
        if (k + 1 + pl > q + n) break;
        list += (list.length > 0 ? ',' : '') + b.toString('latin1', k + 1, k + 1 + pl);
        k += 1 + pl;
      }
      if (list.length > 0) out.alpn = list;
    } else if (type === 43) {
      if (client) {
        const vl = b[q];
        let best = 0;
        for (let k = q + 1; k + 1 < q + 1 + vl && k + 1 < q + n; k += 2) {
          const v = b.readUInt16BE(k);
          if ((v & 0x0f0f) === 0x0a0a) continue; // GREASE
          if (v > best && v <= 0x0304) best = v;
        }
        if (best > 0) out.version = best;
      } else if (n === 2) {
        out.version = b.readUInt16BE(q);
      }
    }
    p = q + n;
  }
  return true;
}

/** Encrypted records (type 23, TLS 1.2 framing) that fill the segment: a connection seen mid-stream. */
function detectApplicationData(buf: Buffer, off: number, len: number): number {
  let p = off;
  const end = off + len;
  let records = 0;
  while (p + 5 <= end) {
    if (buf[p] !== APPLICATION_DATA || buf[p + 1] !== 3 || buf[p + 2] !== 3) return 0;
    const rl = buf.readUInt16BE(p + 3);
    if (rl < 17 || rl > MAX_RECORD) return 0;
    p += 5 + rl;
    records++;
  }
  // Exactly filled, or a record running on into the next segment: claimed without rows (nothing to read).
  return p === end || (records === 1 && p > end) ? DETECT_SURE : 0;
}

function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp || len < 6 || off + len > buf.length) return 0;
  if (buf[off] === APPLICATION_DATA) return detectApplicationData(buf, off, len);
  if (len < 11) return 0;
  if (buf[off] !== HANDSHAKE || buf[off + 1] !== 3 || buf[off + 2] > 4) return 0;
  const rl = buf.readUInt16BE(off + 3);
  const t = buf[off + 5];
  const ml = (buf[off + 6] << 16) | (buf[off + 7] << 8) | buf[off + 8];
  if (rl < 4 || rl > MAX_RECORD || ml + 4 > 1 << 16) return 0;
  // A hello's version is 3.x too; its length fits the record or continues in later records.
  if (buf[off + 9] !== 3) return 0;
  if (t === CLIENT_HELLO) return 90;
  if (t === SERVER_HELLO) return ml + 4 <= rl ? 70 : 0;
  return 0;
}

export const TLS: L7Protocol = {
  name: 'tls',
  tcp: true,
  udp: false,
  ports: [443, 6443, 8443, 993, 995, 465, 636],
  requestTimeoutUs: 15e6,
  hasSessionId: false,
  detect,
  createParser: (sink: MessageSink) => new TlsParser(sink),
};
