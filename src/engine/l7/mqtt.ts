// MQTT 3.1, 3.1.1 and 5 over TCP. Every control packet is framed by its fixed header (type, flags,
// remaining length); the first bytes of each body are kept for the fields, the rest (payloads) counted.
//
// Fields (DeepFlow's mq/mqtt.rs): packet type → request_type (CONNECT, PUBLISH, …); the client id (from
// CONNECT) → request_domain, on every row of the connection (DeepFlow: the CONNECT row only); topic →
// request_resource and endpoint (SUBSCRIBE/UNSUBSCRIBE: the filters joined by ','; PUBREL: the topic of
// its QoS 2 PUBLISH); version from CONNECT's protocol level ('3.1', '3.1.1', '5.0'); remaining length →
// request/response length. CONNACK's return code (v3) or reason code (v5) → response_code; v5 reason codes
// of PUBACK/PUBREC/PUBCOMP/UNSUBACK/DISCONNECT and a failed SUBACK likewise.
//
// Status (SPEC.md): v3 CONNACK 0 ok, 1/2/4/5 client error, 3 server error; v5 reason codes ≥ 0x80 are
// put in the same classes (0x84/0x85/0x86/0x87 are v3's 1/2/4/5 → client; 0x88/0x89 are v3's 3 →
// server; unspecified/implementation errors, quota, server moved → server; the rest → client).
//
// Pairing by packet identifier where there is one: PUBLISH QoS 1 → PUBACK, QoS 2 → PUBREC, PUBREL →
// PUBCOMP, SUBSCRIBE → SUBACK, UNSUBSCRIBE → UNSUBACK (ids of the two directions kept apart);
// CONNECT → CONNACK and PINGREQ → PINGRESP in order. PUBLISH QoS 0, DISCONNECT and AUTH expect no
// response: one-way rows. A PUBLISH from the broker (a delivery) is a row whose client is the broker.

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

/** Body bytes kept per packet for its fields (topics, client id, properties); the rest is counted. */
export const MAX_KEEP = 4096;
/** Topics joined into request_resource are cut here. */
const MAX_RESOURCE = 1024;
/** QoS 2 topics remembered by packet id until their PUBREL. */
const MAX_QOS2 = 1024;
const MQTT_PORTS = [1883, 8883];

export const TYPE_NAMES = [
  '', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK',
  'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH',
];
const VERSIONS: Record<number, string> = { 3: '3.1', 4: '3.1.1', 5: '5.0' };

/** Pairing classes: the request and its response share one (session id = class, requester, packet id). */
const enum Pair {
  Connect = 1,
  Ping = 2,
  PubQos1 = 3,
  PubQos2 = 4,
  PubRel = 5,
  Sub = 6,
  Unsub = 7,
}

function sessionOf(cls: Pair, requester: Dir, id: number): number {
  return cls * 0x20000 + requester * 0x10000 + id;
}

/** v3 CONNACK return codes. */
function v3ConnackStatus(code: number): ResponseStatus {
  if (code === 0) return 'ok';
  if (code === 1 || code === 2 || code === 4 || code === 5) return 'client_error';
  return 'server_error';
}

/** v5 reason codes (success below 0x80). */
export function v5ReasonStatus(code: number): ResponseStatus {
  if (code < 0x80) return 'ok';
  switch (code) {
    case 0x80: // unspecified error
    case 0x83: // implementation specific error
    case 0x88: // server unavailable (v3: 3)
    case 0x89: // server busy
    case 0x8b: // server shutting down
    case 0x97: // quota exceeded
    case 0x9c: // use another server
    case 0x9d: // server moved
    case 0x9e: // shared subscriptions not supported
    case 0xa1: // subscription identifiers not supported
    case 0xa2: // wildcard subscriptions not supported
      return 'server_error';
    default:
      return 'client_error';
  }
}

/** Fixed header at b[off]: sets hdrType/hdrFlags/hdrRemaining/hdrLen; false if incomplete or invalid. */
let hdrType = 0;
let hdrFlags = 0;
let hdrRemaining = 0;
let hdrLen = 0;
function readFixedHeader(b: Buffer, off: number, end: number): boolean {
  if (off >= end) return false;
  hdrType = b[off] >> 4;
  hdrFlags = b[off] & 0x0f;
  let n = 0;
  let mul = 1;
  for (let k = 1; k <= 4; k++) {
    if (off + k >= end) return false;
    const c = b[off + k];
    n += (c & 0x7f) * mul;
    if ((c & 0x80) === 0) {
      hdrRemaining = n;
      hdrLen = k + 1;
      return true;
    }
    mul *= 128;
  }
  return false;
}

/** Flags the spec fixes per type (PUBLISH's are its own); invalid QoS 3 rejected. */
function validFlags(type: number, flags: number): boolean {
  if (type === 3) return (flags & 0x06) !== 0x06;
  if (type === 6 || type === 8 || type === 10) return flags === 2;
  return type >= 1 && type <= 15 && flags === 0;
}

/** A UTF-8 string (2-byte length) at b[p] within end: its text, or null; strNext = the byte after it. */
let strNext = 0;
function readStr(b: Buffer, p: number, end: number): string | null {
  if (p + 2 > end) return null;
  const n = (b[p] << 8) | b[p + 1];
  if (p + 2 + n > end) return null;
  strNext = p + 2 + n;
  return b.toString('utf8', p + 2, p + 2 + n);
}

/** A v5 variable byte integer at b[p]: its value, or -1; strNext = the byte after it. */
function readVarInt(b: Buffer, p: number, end: number): number {
  let n = 0;
  let mul = 1;
  for (let k = 0; k < 4; k++) {
    if (p + k >= end) return -1;
    const c = b[p + k];
    n += (c & 0x7f) * mul;
    if ((c & 0x80) === 0) {
      strNext = p + k + 1;
      return n;
    }
    mul *= 128;
  }
  return -1;
}

/** Skips v5 properties at b[p]: the byte after them, or -1. */
function skipProps(b: Buffer, p: number, end: number): number {
  const n = readVarInt(b, p, end);
  if (n < 0 || strNext + n > end) return -1;
  return strNext + n;
}

/** CONNECT body b[p, end): protocol level and client id, or null if it is not one. */
function readConnect(b: Buffer, p: number, end: number): { level: number; clientId: string } | null {
  const name = readStr(b, p, end);
  if (name === null) return null;
  let q = strNext;
  if (q + 4 > end) return null;
  const level = b[q];
  if (!((name === 'MQTT' && (level === 4 || level === 5)) || (name === 'MQIsdp' && level === 3))) return null;
  if ((b[q + 1] & 0x01) !== 0) return null; // reserved flag
  q += 4; // level, flags, keep alive
  if (level === 5) {
    q = skipProps(b, q, end);
    if (q < 0) return null;
  }
  const clientId = readStr(b, q, end);
  if (clientId === null) return null;
  return { level, clientId };
}

function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp) return 0;
  const end = Math.min(off + len, buf.length);
  if (!readFixedHeader(buf, off, end) || !validFlags(hdrType, hdrFlags)) return 0;
  const body = off + hdrLen;
  if (hdrType === 1) {
    return readConnect(buf, body, Math.min(end, body + hdrRemaining)) !== null ? 90 : 0;
  }
  // Mid-connection (no CONNECT seen): a SUBSCRIBE or PUBLISH whose topic reads cleanly and whose packet
  // fills the segment exactly; a guess that counts on the MQTT ports only.
  if (body + hdrRemaining !== end) return 0;
  if (hdrType === 8) {
    const t = readStr(buf, body + 2, end);
    return t !== null && t.length > 0 && strNext < end ? 40 : 0;
  }
  if (hdrType === 3) {
    const t = readStr(buf, body, end);
    return t !== null && t.length > 0 && !/[\x00-\x1f]/.test(t) ? 30 : 0;
  }
  return 0;
}

/** Parse state of one direction. */
class Half {
  /** Fixed header bytes gathered (at most 5). */
  readonly hdr = Buffer.alloc(5);
  hdrHave = 0;
  /** Body bytes still to come, kept bytes of the body. */
  left = -1;
  remaining = 0;
  type = 0;
  flags = 0;
  readonly keep = Buffer.allocUnsafe(MAX_KEEP);
  keepLen = 0;
  /** Bytes of the body went missing: keep nothing more of it. */
  keepStop = false;
  startSeq = 0;
  startTs = 0;
  lost = false;
}

export class MqttParser implements L7FlowParser {
  private readonly half: [Half, Half] = [new Half(), new Half()];
  private level = 0;
  private clientId: string | null = null;
  /** Topics of QoS 2 PUBLISHes by (sender, packet id), for their PUBREL rows. */
  private readonly qos2 = new Map<number, string>();

  constructor(private readonly sink: MessageSink) {}

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    const h = this.half[dir];
    let end = off + len;
    if (end > buf.length) end = buf.length;
    if (h.lost) {
      // After a gap: a segment that starts with a plausible fixed header whose packet fits it.
      if (!readFixedHeader(buf, off, end) || !validFlags(hdrType, hdrFlags) || off + hdrLen + hdrRemaining > end) return;
      h.lost = false;
      h.hdrHave = 0;
      h.left = -1;
    }
    let i = off;
    while (i < end) {
      if (h.left < 0) {
        // Fixed header, possibly split across segments.
        if (h.hdrHave === 0) {
          h.startSeq = (seq + (i - off)) >>> 0;
          h.startTs = tsUs;
        }
        h.hdr[h.hdrHave++] = buf[i++];
        if (h.hdrHave === 1) {
          if (!validFlags(h.hdr[0] >> 4, h.hdr[0] & 0x0f)) {
            this.lose(dir);
            return;
          }
          continue;
        }
        const c = h.hdr[h.hdrHave - 1];
        if ((c & 0x80) !== 0) {
          if (h.hdrHave === 5) {
            this.lose(dir);
            return;
          }
          continue;
        }
        readFixedHeader(h.hdr, 0, h.hdrHave);
        h.type = hdrType;
        h.flags = hdrFlags;
        h.remaining = hdrRemaining;
        h.left = hdrRemaining;
        h.keepLen = 0;
        h.keepStop = false;
        h.hdrHave = 0;
        if (h.left === 0) this.packet(dir, h, tsUs, false);
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
      if (h.left === 0) this.packet(dir, h, tsUs, false);
    }
  }

  private lose(dir: Dir): void {
    const h = this.half[dir];
    h.lost = true;
    h.hdrHave = 0;
    h.left = -1;
  }

  /** A whole control packet (or one cut short) of direction `dir`. */
  private packet(dir: Dir, h: Half, tsUs: number, truncated: boolean): void {
    h.left = -1;
    const type = h.type;
    const b = h.keep;
    const end = h.keepLen;
    const v5 = this.level === 5;
    let m: L7Message;
    const req = (oneWay: boolean): L7Message => {
      const x = new L7Message(MsgKind.Request, dir);
      x.oneWay = oneWay;
      x.length = h.remaining;
      return x;
    };
    const resp = (): L7Message => {
      const x = new L7Message(MsgKind.Response, dir);
      x.length = h.remaining;
      x.responseStatus = 'ok';
      return x;
    };
    const id = end >= 2 ? (b[0] << 8) | b[1] : 0;
    switch (type) {
      case 1: {
        const c = readConnect(b, 0, end);
        if (c !== null) {
          this.level = c.level;
          this.clientId = c.clientId;
        }
        m = req(false);
        m.sessionId = sessionOf(Pair.Connect, dir, 0);
        break;
      }
      case 2: {
        m = resp();
        m.sessionId = sessionOf(Pair.Connect, (dir ^ 1) as Dir, 0);
        if (end >= 2) {
          const code = b[1];
          m.responseCode = code;
          m.responseStatus = v5 ? v5ReasonStatus(code) : v3ConnackStatus(code);
        }
        break;
      }
      case 3: {
        const qos = (h.flags >> 1) & 3;
        const topic = readStr(b, 0, end);
        m = req(qos === 0);
        if (topic !== null) {
          m.requestResource = topic.length > MAX_RESOURCE ? topic.slice(0, MAX_RESOURCE) : topic;
          m.endpoint = m.requestResource;
          if (qos > 0 && strNext + 2 <= end) {
            const pid = (b[strNext] << 8) | b[strNext + 1];
            m.sessionId = sessionOf(qos === 1 ? Pair.PubQos1 : Pair.PubQos2, dir, pid);
            if (qos === 2) {
              this.qos2.delete(dir * 0x10000 + pid);
              this.qos2.set(dir * 0x10000 + pid, m.requestResource);
              if (this.qos2.size > MAX_QOS2) this.qos2.delete(this.qos2.keys().next().value!);
            }
          }
        }
        if (qos === 0) m.responseStatus = truncated ? 'unknown' : 'ok';
        break;
      }
      case 4:
      case 5:
      case 7: {
        m = resp();
        m.sessionId = sessionOf(type === 4 ? Pair.PubQos1 : type === 5 ? Pair.PubQos2 : Pair.PubRel, (dir ^ 1) as Dir, id);
        if (h.remaining > 2 && end >= 3) {
          m.responseCode = b[2];
          m.responseStatus = v5ReasonStatus(b[2]);
        }
        break;
      }
      case 6: {
        m = req(false);
        m.sessionId = sessionOf(Pair.PubRel, dir, id);
        const topic = this.qos2.get(dir * 0x10000 + id);
        if (topic !== undefined) {
          this.qos2.delete(dir * 0x10000 + id);
          m.requestResource = topic;
          m.endpoint = topic;
        }
        break;
      }
      case 8:
      case 10: {
        m = req(false);
        m.sessionId = sessionOf(type === 8 ? Pair.Sub : Pair.Unsub, dir, id);
        let p = 2;
        if (v5) p = skipProps(b, p, end);
        let topics = '';
        while (p >= 0 && p < end && topics.length < MAX_RESOURCE) {
          const t = readStr(b, p, end);
          if (t === null) break;
          topics += topics.length > 0 ? ',' + t : t;
          p = strNext + (type === 8 ? 1 : 0);
        }
        if (topics.length > 0) {
          m.requestResource = topics.length > MAX_RESOURCE ? topics.slice(0, MAX_RESOURCE) : topics;
          m.endpoint = m.requestResource;
        }
        break;
      }
      case 9:
      case 11: {
        m = resp();
        m.sessionId = sessionOf(type === 9 ? Pair.Sub : Pair.Unsub, (dir ^ 1) as Dir, id);
        let p = 2;
        if (v5) p = skipProps(b, p, end);
        // Reason codes, one per filter (v3 UNSUBACK has none): the first failure decides.
        if (p >= 0 && (type === 9 || v5)) {
          for (; p < end; p++) {
            if (b[p] >= 0x80) {
              m.responseCode = b[p];
              m.responseStatus = v5 ? v5ReasonStatus(b[p]) : 'server_error';
              break;
            }
          }
        }
        break;
      }
      case 12:
        m = req(false);
        m.sessionId = sessionOf(Pair.Ping, dir, 0);
        break;
      case 13:
        m = resp();
        m.sessionId = sessionOf(Pair.Ping, (dir ^ 1) as Dir, 0);
        break;
      case 14:
      case 15: {
        m = req(true);
        m.responseStatus = 'ok';
        if (end >= 1) {
          m.responseCode = b[0];
          // DISCONNECT 0x04 "with will message" is normal; AUTH 0x18/0x19 continue / re-authenticate.
          m.responseStatus = v5ReasonStatus(b[0]);
        }
        break;
      }
      default:
        return;
    }
    m.requestType = TYPE_NAMES[type];
    if (m.kind === MsgKind.Request) m.requestDomain = this.clientId;
    m.version = VERSIONS[this.level] ?? null;
    m.startTs = h.startTs;
    m.endTs = tsUs;
    m.tcpSeq = h.startSeq;
    m.truncated = truncated;
    m.ended = true;
    this.sink.begin(m);
    this.sink.end(m);
  }

  gap(dir: Dir, _seq: number, len: number, tsUs: number): void {
    const h = this.half[dir];
    if (h.lost) return;
    if (h.left > 0 && len < h.left) {
      // Inside a body (a payload, usually): the framing survives.
      h.left -= len;
      h.keepStop = true;
      return;
    }
    if (h.left > 0 && len === h.left) {
      h.left = 0;
      this.packet(dir, h, tsUs, true);
      return;
    }
    this.lose(dir);
  }

  datagram(): void {}

  close(): void {}

  finish(tsUs: number): void {
    for (const dir of [0, 1] as const) {
      const h = this.half[dir];
      if (!h.lost && h.left > 0) this.packet(dir, h, tsUs, true);
      h.left = -1;
      h.lost = true;
    }
  }
}

export const MQTT: L7Protocol = {
  name: 'mqtt',
  tcp: true,
  udp: false,
  ports: MQTT_PORTS,
  requestTimeoutUs: 120e6,
  hasSessionId: true,
  detect,
  createParser: (sink: MessageSink) => new MqttParser(sink),
};
