// DNS over UDP (one message per datagram) and TCP (each message prefixed by its 2-byte length).
// The transaction id pairs queries with responses. QTYPE → request_type, QNAME → request_resource,
// request_domain and endpoint; RCODE → response_code and response_status (1 FormErr, 3 NXDomain:
// client error; other non-zero: server error); answers and authority → response_result as
// `TYPE=value TTL=n` joined by '; ' (DeepFlow's form).

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
import { ipToString } from '../decode/packet';

const HEADER = 12;
/** Records summarised in response_result, and its length. */
const MAX_RECORDS = 16;
const MAX_RESULT = 512;
const DNS_PORTS = [53, 5353, 5355];

const TYPES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA',
  33: 'SRV', 35: 'NAPTR', 39: 'DNAME', 41: 'OPT', 43: 'DS', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY',
  50: 'NSEC3', 64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 251: 'IXFR', 252: 'AXFR', 255: 'ANY', 257: 'CAA',
};

export function dnsTypeName(t: number): string {
  return TYPES[t] ?? `TYPE${t}`;
}

export function dnsStatus(rcode: number): ResponseStatus {
  if (rcode === 0) return 'ok';
  if (rcode === 1 || rcode === 3) return 'client_error';
  return 'server_error';
}

// readName() leaves its results here instead of allocating a result object.
let nameNext = 0;
let nameText = '';

/**
 * Reads the (possibly compressed) name at b[p] of the message b[base, end). Sets nameNext to the
 * byte after the name where it sits and nameText to its text ('.' for the root). False if malformed.
 * Pointers must point backwards (as DeepFlow requires), which also rules out loops.
 */
function readName(b: Buffer, base: number, end: number, p: number, strict: boolean): boolean {
  let text = '';
  let next = -1;
  let total = 0;
  let hops = 0;
  for (;;) {
    if (p >= end) return false;
    const c = b[p];
    if (c === 0) {
      if (next < 0) next = p + 1;
      break;
    }
    const kind = c & 0xc0;
    if (kind === 0xc0) {
      if (p + 1 >= end || ++hops > 32) return false;
      const target = base + (((c & 0x3f) << 8) | b[p + 1]);
      if (target >= p) return false;
      if (next < 0) next = p + 2;
      p = target;
      continue;
    }
    if (kind !== 0) return false;
    if (p + 1 + c > end) return false;
    total += c + 1;
    if (total > 255) return false;
    for (let k = p + 1; k <= p + c; k++) {
      const ch = b[k];
      if (strict && (ch <= 32 || ch >= 127)) return false;
    }
    if (text.length > 0) text += '.';
    text += b.toString('latin1', p + 1, p + 1 + c);
    p += 1 + c;
  }
  nameNext = next;
  nameText = text.length === 0 ? '.' : text;
  return true;
}

function ipv4(b: Buffer, p: number): string {
  return `${b[p]}.${b[p + 1]}.${b[p + 2]}.${b[p + 3]}`;
}

/** AAAA data in the text form flows use (RFC 5952), so names learned from answers join on IP text. */
function ipv6(b: Buffer, p: number): string {
  const w = new Int32Array(4);
  for (let k = 0; k < 4; k++) w[k] = b.readInt32BE(p + 4 * k);
  return ipToString(6, w);
}

/** Presentation of one record's data, or null to show the type alone. */
function rdataText(b: Buffer, base: number, end: number, type: number, p: number, n: number): string | null {
  switch (type) {
    case 1:
      return n === 4 ? ipv4(b, p) : null;
    case 28:
      return n === 16 ? ipv6(b, p) : null;
    case 2:
    case 5:
    case 12:
    case 39:
    case 6: // SOA: the primary name server (MNAME), as DeepFlow shows it
      return readName(b, base, end, p, false) ? nameText : null;
    case 15:
      if (n < 3) return null;
      return readName(b, base, end, p + 2, false) ? `${b.readUInt16BE(p)} ${nameText}` : null;
    case 33:
      if (n < 7) return null;
      return readName(b, base, end, p + 6, false)
        ? `${b.readUInt16BE(p)} ${b.readUInt16BE(p + 2)} ${b.readUInt16BE(p + 4)} ${nameText}`
        : null;
    case 16: {
      // TXT: character-strings, joined.
      let s = '';
      let k = p;
      while (k < p + n) {
        const l = b[k];
        if (k + 1 + l > p + n) break;
        s += b.toString('latin1', k + 1, k + 1 + l);
        k += 1 + l;
        if (s.length > 128) break;
      }
      return s.length > 128 ? s.slice(0, 128) : s;
    }
    default:
      return null;
  }
}

/**
 * Parses one DNS message b[off, off+len). Returns null if it is not one. `strict` (detection) also
 * rejects odd header counts and non-printable names, and requires the records to fill the message.
 */
export function parseDns(
  b: Buffer,
  off: number,
  len: number,
  dir: Dir,
  strict: boolean,
): L7Message | null {
  if (off + len > b.length) len = b.length - off; // never read past the buffer, whatever the caller says
  if (len < HEADER + 5) return null;
  const end = off + len;
  const id = b.readUInt16BE(off);
  const flags = b.readUInt16BE(off + 2);
  const qd = b.readUInt16BE(off + 4);
  const an = b.readUInt16BE(off + 6);
  const ns = b.readUInt16BE(off + 8);
  const ar = b.readUInt16BE(off + 10);
  const isResponse = (flags & 0x8000) !== 0;
  const opcode = (flags >> 11) & 0xf;
  if (opcode === 3 || opcode > 6) return null;
  if (strict) {
    if (qd !== 1 || (flags & 0x0040) !== 0) return null;
    if (!isResponse && (an > 0 || ns > 0 || ar > 4 || (flags & 0x000f) !== 0)) return null;
    if (an + ns + ar > 256) return null;
  }
  let p = off + HEADER;
  let qname: string | null = null;
  let qtype = -1;
  for (let q = 0; q < qd; q++) {
    if (!readName(b, off, end, p, strict)) return null;
    p = nameNext;
    if (p + 4 > end) return null;
    if (q === 0) {
      qname = nameText;
      qtype = b.readUInt16BE(p);
      if (strict) {
        const qclass = b.readUInt16BE(p + 2) & 0x7fff; // mDNS sets the top bit (unicast response)
        if (qclass !== 1 && qclass !== 3 && qclass !== 4 && qclass !== 254 && qclass !== 255) return null;
      }
    }
    p += 4;
  }
  const m = new L7Message(isResponse ? MsgKind.Response : MsgKind.Request, dir);
  m.sessionId = id;
  m.length = len;
  if (qname !== null) {
    m.requestType = dnsTypeName(qtype);
    m.requestResource = qname;
    m.requestDomain = qname;
    m.endpoint = qname;
  }
  if (isResponse) {
    const rcode = flags & 0xf;
    m.responseCode = rcode;
    m.responseStatus = dnsStatus(rcode);
  }
  // Answer and authority records (summarised for responses); additional records only checked.
  let result = '';
  let shown = 0;
  const records = an + ns;
  for (let r = 0; r < an + ns + ar; r++) {
    if (!readName(b, off, end, p, false)) {
      if (strict) return null;
      break;
    }
    p = nameNext;
    if (p + 10 > end) {
      if (strict) return null;
      break;
    }
    const type = b.readUInt16BE(p);
    const ttl = b.readUInt32BE(p + 4);
    const n = b.readUInt16BE(p + 8);
    p += 10;
    if (p + n > end) {
      if (strict) return null;
      break;
    }
    if (isResponse && r < records && shown < MAX_RECORDS && result.length < MAX_RESULT) {
      const v = rdataText(b, off, end, type, p, n);
      if (result.length > 0) result += '; ';
      result += v === null ? `${dnsTypeName(type)} TTL=${ttl}` : `${dnsTypeName(type)}=${v} TTL=${ttl}`;
      shown++;
    }
    p += n;
  }
  if (strict && p !== end) return null;
  if (result.length > 0) m.responseResult = result.length > MAX_RESULT ? result.slice(0, MAX_RESULT) : result;
  return m;
}

function onDnsPort(ctx: DetectContext): boolean {
  return DNS_PORTS.includes(ctx.srcPort) || DNS_PORTS.includes(ctx.dstPort);
}

function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport === Transport.Udp) {
    if (parseDns(buf, off, len, 0, true) !== null) return onDnsPort(ctx) ? 90 : 70;
    // Off the DNS ports only a message whose records fill the datagram exactly is believed.
    return onDnsPort(ctx) && parseDns(buf, off, len, 0, false) !== null && looksLikeHeader(buf, off, len) ? 60 : 0;
  }
  if (len < 2 + HEADER + 5) return 0;
  const n = buf.readUInt16BE(off);
  if (n < HEADER + 5) return 0;
  if (n <= len - 2) {
    // Only the first message is checked (a segment may carry several).
    return parseDns(buf, off + 2, n, 0, true) !== null ? (onDnsPort(ctx) ? 90 : 70) : 0;
  }
  // The message continues in the next segment: the header and question must make sense.
  return onDnsPort(ctx) && looksLikeHeader(buf, off + 2, len - 2) ? 55 : 0;
}

/** Header sanity plus a readable question, for messages not entirely at hand. */
function looksLikeHeader(b: Buffer, off: number, len: number): boolean {
  if (len < HEADER + 5) return false;
  const flags = b.readUInt16BE(off + 2);
  const opcode = (flags >> 11) & 0xf;
  if (opcode === 3 || opcode > 6 || b.readUInt16BE(off + 4) !== 1) return false;
  if (!readName(b, off, off + len, off + HEADER, true)) return false;
  return nameNext + 4 <= off + len;
}

/** Per direction state of DNS over TCP. */
class TcpHalf {
  /** Length prefix bytes read so far (0..2) and the message length once known. */
  have = 0;
  need = -1;
  msg: Buffer = Buffer.alloc(0);
  startSeq = 0;
  startTs = 0;
  /** Framing lost after a gap: look for a plausible message at each segment start. */
  lost = false;
  /** Bytes of the current message still missing because of a gap (the message is dropped). */
  skip = 0;
  prefix0 = 0;
}

export class DnsParser implements L7FlowParser {
  private readonly tcp: [TcpHalf, TcpHalf] = [new TcpHalf(), new TcpHalf()];
  private readonly ctx: DetectContext = { transport: Transport.Tcp, fromClient: true, srcPort: 53, dstPort: 53 };

  constructor(private readonly sink: MessageSink) {}

  /** Bytes held for DNS-over-TCP messages split across segments (at most 2 × 64 KiB). */
  get bufferedBytes(): number {
    return this.tcp[0].msg.length + this.tcp[1].msg.length;
  }

  datagram(dir: Dir, buf: Buffer, off: number, len: number, tsUs: number): void {
    const m = parseDns(buf, off, len, dir, false);
    if (m === null) return;
    m.startTs = tsUs;
    m.endTs = tsUs;
    this.emit(m);
  }

  private emit(m: L7Message): void {
    m.ended = true;
    this.sink.begin(m);
    this.sink.end(m);
  }

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    const h = this.tcp[dir];
    const end = off + len;
    let i = off;
    if (h.lost) {
      if (detect(buf, off, len, this.ctx) === 0) return;
      h.lost = false;
      h.have = 0;
      h.need = -1;
    }
    while (i < end) {
      if (h.skip > 0) {
        const n = Math.min(h.skip, end - i);
        h.skip -= n;
        i += n;
        continue;
      }
      if (h.need < 0) {
        if (h.have === 0) {
          h.startSeq = (seq + (i - off)) >>> 0;
          h.startTs = tsUs;
          if (end - i >= 2) {
            h.need = buf.readUInt16BE(i);
            i += 2;
          } else {
            h.prefix0 = buf[i];
            h.have = 1;
            i++;
          }
        } else {
          h.need = (h.prefix0 << 8) | buf[i];
          h.have = 0;
          i++;
        }
        if (h.need >= 0) {
          h.have = 0;
          if (h.msg.length < h.need) h.msg = Buffer.allocUnsafe(Math.max(h.need, 512));
        }
        continue;
      }
      const n = Math.min(h.need - h.have, end - i);
      if (h.have === 0 && n === h.need) {
        // The whole message is in this segment: parse it in place.
        this.tcpMessage(dir, buf, i, n, h, tsUs);
      } else {
        buf.copy(h.msg, h.have, i, i + n);
        h.have += n;
        if (h.have === h.need) this.tcpMessage(dir, h.msg, 0, h.need, h, tsUs);
      }
      i += n;
    }
  }

  private tcpMessage(dir: Dir, b: Buffer, off: number, n: number, h: TcpHalf, tsUs: number): void {
    h.need = -1;
    h.have = 0;
    const m = parseDns(b, off, n, dir, false);
    if (m === null) return;
    m.startTs = h.startTs;
    m.endTs = tsUs;
    m.tcpSeq = h.startSeq;
    this.emit(m);
  }

  gap(dir: Dir, _seq: number, len: number): void {
    const h = this.tcp[dir];
    if (h.lost) return;
    if (h.skip > 0) {
      const n = Math.min(h.skip, len);
      h.skip -= n;
      len -= n;
      if (len === 0) return;
    }
    if (h.need >= 0 && len <= h.need - h.have) {
      // The message lost bytes: it cannot be parsed, but the framing survives.
      h.skip = h.need - h.have - len;
      h.need = -1;
      h.have = 0;
      return;
    }
    // The gap swallowed a message boundary (or several messages): find the next message.
    h.lost = true;
    h.need = -1;
    h.have = 0;
    h.skip = 0;
  }

  close(): void {}

  finish(): void {}
}

export const DNS: L7Protocol = {
  name: 'dns',
  tcp: true,
  udp: true,
  ports: DNS_PORTS,
  requestTimeoutUs: 15e6,
  hasSessionId: true,
  detect,
  createParser: (sink: MessageSink) => new DnsParser(sink),
};
