// Kafka over TCP: size-prefixed requests (api key, api version, correlation id, client id) and responses
// (correlation id), paired by correlation id. The first bytes of each message are kept for the fields;
// record batches beyond them are counted, not held.
//
// Fields (DeepFlow's mq/kafka.rs): API name → request_type (Produce, Fetch, Metadata, …); api version →
// version; topic → request_domain; `topic-partition` → endpoint and `topic-partition:offset` →
// request_resource (Produce: the base offset the broker assigned; Fetch: the fetch offset); correlation id
// → x_request_id on both sides (as DeepFlow); size prefix → request/response length. error_code →
// response_code for Produce (first partition), Fetch (v7+: the top-level code; before: first partition),
// ApiVersions, Metadata-free group APIs (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, FindCoordinator,
// OffsetCommit's first partition, DescribeGroups, ListGroups, InitProducerId, SaslHandshake/Authenticate,
// CreateTopics/DeleteTopics first topic): 0 ok, anything else server_error (SPEC.md). APIs whose code is
// not read are 'ok' with no code (DeepFlow writes -2 there). Trace context from Produce record headers
// (traceparent, sw8, b3, uber-trace-id). Produce with acks=0 has no response: a one-way row.

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
} from './types';

/** Bytes kept of one message for its fields; the rest is counted. */
export const MAX_KEEP = 16 * 1024;
/** Largest message believed (the broker's default socket.request.max.bytes is 100 MiB). */
const MAX_MESSAGE = 100 * 1024 * 1024;
/** Requests awaiting their response per connection (their api key/version decode it). */
export const MAX_INFLIGHT = 1024;
const KAFKA_PORTS = [9092, 9093, 9094];

export const API_NAMES = [
  'Produce', 'Fetch', 'ListOffsets', 'Metadata', 'LeaderAndIsr', 'StopReplica', 'UpdateMetadata',
  'ControlledShutdown', 'OffsetCommit', 'OffsetFetch', 'FindCoordinator', 'JoinGroup', 'Heartbeat', 'LeaveGroup',
  'SyncGroup', 'DescribeGroups', 'ListGroups', 'SaslHandshake', 'ApiVersions', 'CreateTopics', 'DeleteTopics',
  'DeleteRecords', 'InitProducerId', 'OffsetForLeaderEpoch', 'AddPartitionsToTxn', 'AddOffsetsToTxn', 'EndTxn',
  'WriteTxnMarkers', 'TxnOffsetCommit', 'DescribeAcls', 'CreateAcls', 'DeleteAcls', 'DescribeConfigs',
  'AlterConfigs', 'AlterReplicaLogDirs', 'DescribeLogDirs', 'SaslAuthenticate', 'CreatePartitions',
  'CreateDelegationToken', 'RenewDelegationToken', 'ExpireDelegationToken', 'DescribeDelegationToken',
  'DeleteGroups', 'ElectLeaders', 'IncrementalAlterConfigs', 'AlterPartitionReassignments',
  'ListPartitionReassignments', 'OffsetDelete', 'DescribeClientQuotas', 'AlterClientQuotas',
  'DescribeUserScramCredentials', 'AlterUserScramCredentials', 'Vote', 'BeginQuorumEpoch', 'EndQuorumEpoch',
  'DescribeQuorum', 'AlterPartition', 'UpdateFeatures', 'Envelope', 'FetchSnapshot', 'DescribeCluster',
  'DescribeProducers', 'BrokerRegistration', 'BrokerHeartbeat', 'UnregisterBroker', 'DescribeTransactions',
  'ListTransactions', 'AllocateProducerIds', 'ConsumerGroupHeartbeat',
];

/** First flexible (compact, tagged) version per api key, -1 if never (Apache Kafka's message specs). */
const FLEXIBLE: Record<number, number> = {
  0: 9, 1: 12, 2: 6, 3: 9, 4: 4, 5: 2, 6: 6, 7: 3, 8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4, 15: 5, 16: 3,
  17: -1, 18: 3, 19: 5, 20: 4, 21: 2, 22: 2, 23: 4, 24: 3, 25: 3, 26: 3, 27: 1, 28: 3, 29: 2, 30: 2, 31: 2,
  32: 4, 33: 2, 34: 2, 35: 2, 36: 2, 37: 2, 38: 2, 39: 2, 40: 2, 41: 2, 42: 2, 43: 2, 44: 1, 45: 0, 46: 0,
  47: -1, 48: 1, 49: 1, 50: 0, 51: 0,
};
/** Highest api version believed per key at detection (a little above today's). */
const MAX_VERSION = 20;

function flexible(key: number, version: number): boolean {
  const f = FLEXIBLE[key] ?? 0;
  return f >= 0 && version >= f;
}

/** Bounds-checked reads over b[0, end); a read past the end sets `bad` and returns 0. */
class Reader {
  b: Buffer = Buffer.alloc(0);
  p = 0;
  end = 0;
  bad = false;

  reset(b: Buffer, p: number, end: number): this {
    this.b = b;
    this.p = p;
    this.end = end;
    this.bad = false;
    return this;
  }

  private need(n: number): boolean {
    if (this.bad || this.p + n > this.end) {
      this.bad = true;
      return false;
    }
    return true;
  }

  i8(): number {
    if (!this.need(1)) return 0;
    return this.b.readInt8(this.p++);
  }

  i16(): number {
    if (!this.need(2)) return 0;
    const v = this.b.readInt16BE(this.p);
    this.p += 2;
    return v;
  }

  i32(): number {
    if (!this.need(4)) return 0;
    const v = this.b.readInt32BE(this.p);
    this.p += 4;
    return v;
  }

  /** int64 as a number (exact up to 2^53; offsets are far below). */
  i64(): number {
    if (!this.need(8)) return 0;
    const hi = this.b.readInt32BE(this.p);
    const lo = this.b.readUInt32BE(this.p + 4);
    this.p += 8;
    return hi * 4294967296 + lo;
  }

  skip(n: number): void {
    if (n < 0 || !this.need(n)) {
      this.bad = true;
      return;
    }
    this.p += n;
  }

  uvarint(): number {
    let n = 0;
    let mul = 1;
    for (let k = 0; k < 5; k++) {
      if (!this.need(1)) return 0;
      const c = this.b[this.p++];
      n += (c & 0x7f) * mul;
      if ((c & 0x80) === 0) return n;
      mul *= 128;
    }
    this.bad = true;
    return 0;
  }

  /** Zigzag varint (record fields). */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** STRING / NULLABLE_STRING (i16 length) or COMPACT_(NULLABLE_)STRING; null for a null string. */
  str(compact: boolean): string | null {
    const n = compact ? this.uvarint() - 1 : this.i16();
    if (n < 0 || this.bad) return null;
    if (!this.need(n)) return null;
    const s = this.b.toString('utf8', this.p, this.p + n);
    this.p += n;
    return s;
  }

  /** ARRAY (i32 count) or COMPACT_ARRAY length; -1 for null. */
  arr(compact: boolean): number {
    return compact ? this.uvarint() - 1 : this.i32();
  }

  /** Tagged fields (flexible versions). */
  tags(): void {
    const n = this.uvarint();
    for (let k = 0; k < n && !this.bad; k++) {
      this.uvarint();
      this.skip(this.uvarint());
    }
  }
}

const R = new Reader();

/** Request header at b[p, end) (after the size): sets the fields below; false if it is not one. */
let hKey = 0;
let hVersion = 0;
let hCorr = 0;
let hClient: string | null = null;
function readRequestHeader(r: Reader): boolean {
  hKey = r.i16();
  hVersion = r.i16();
  hCorr = r.i32();
  hClient = r.str(false);
  if (r.bad) return false;
  if (flexible(hKey, hVersion)) r.tags();
  return !r.bad;
}

function detect(buf: Buffer, off: number, len: number, ctx: DetectContext): number {
  if (ctx.transport !== Transport.Tcp) return 0;
  const end = Math.min(off + len, buf.length);
  if (end - off < 14) return 0;
  const size = buf.readInt32BE(off);
  if (size < 10 || size > MAX_MESSAGE) return 0;
  const r = R.reset(buf, off + 4, Math.min(end, off + 4 + size));
  if (!readRequestHeader(r)) return 0;
  if (hKey < 0 || hKey >= API_NAMES.length || hVersion < 0 || hVersion > MAX_VERSION || hCorr < 0) return 0;
  // DeepFlow: a non-empty ASCII client id.
  if (hClient === null || hClient.length === 0 || !/^[\x20-\x7e]+$/.test(hClient)) return 0;
  // Surer when the message fills the segment exactly.
  return size + 4 === end - off ? 85 : 60;
}

interface Inflight {
  corr: number;
  key: number;
  version: number;
  topic: string | null;
  partition: number;
}

/** Parse state of one direction. */
class Half {
  readonly size = Buffer.alloc(4);
  sizeHave = 0;
  /** Message bytes still to come (-1: reading the size). */
  left = -1;
  total = 0;
  readonly keep = Buffer.allocUnsafe(MAX_KEEP);
  keepLen = 0;
  keepStop = false;
  startSeq = 0;
  startTs = 0;
  lost = false;
}

export class KafkaParser implements L7FlowParser {
  private readonly half: [Half, Half] = [new Half(), new Half()];
  /** Direction requests travel in (learned from the first message that reads as a request). */
  private reqDir: Dir | -1 = -1;
  private readonly inflight: Inflight[] = [];
  private readonly trace = new TraceHeaders();

  constructor(private readonly sink: MessageSink) {}

  data(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    const h = this.half[dir];
    let end = off + len;
    if (end > buf.length) end = buf.length;
    if (this.reqDir < 0) this.reqDir = detect(buf, off, end - off, DETECT_CTX) > 0 ? dir : ((dir ^ 1) as Dir);
    if (h.lost) {
      // After a gap: a segment starting with a plausible size (and, for requests, a header).
      if (end - off < 8) return;
      const size = buf.readInt32BE(off);
      if (size < 4 || size > MAX_MESSAGE) return;
      if (dir === this.reqDir && detect(buf, off, end - off, DETECT_CTX) === 0) return;
      if (dir !== this.reqDir && this.inflight.findIndex((x) => x.corr === buf.readInt32BE(off + 4)) < 0) return;
      h.lost = false;
      h.sizeHave = 0;
      h.left = -1;
    }
    let i = off;
    while (i < end) {
      if (h.left < 0) {
        if (h.sizeHave === 0) {
          h.startSeq = (seq + (i - off)) >>> 0;
          h.startTs = tsUs;
        }
        h.size[h.sizeHave++] = buf[i++];
        if (h.sizeHave < 4) continue;
        h.sizeHave = 0;
        const size = h.size.readInt32BE(0);
        if (size < 4 || size > MAX_MESSAGE) {
          this.lose(dir);
          return;
        }
        h.left = size;
        h.total = size;
        h.keepLen = 0;
        h.keepStop = false;
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
      if (h.left === 0) this.message(dir, h, tsUs, false);
    }
  }

  private lose(dir: Dir): void {
    const h = this.half[dir];
    h.lost = true;
    h.sizeHave = 0;
    h.left = -1;
  }

  private message(dir: Dir, h: Half, tsUs: number, truncated: boolean): void {
    h.left = -1;
    const m = dir === this.reqDir ? this.request(dir, h) : this.response(dir, h);
    if (m === null) return;
    m.startTs = h.startTs;
    m.endTs = tsUs;
    m.tcpSeq = h.startSeq;
    m.length = h.total;
    m.truncated = truncated;
    m.ended = true;
    this.sink.begin(m);
    this.sink.end(m);
  }

  private request(dir: Dir, h: Half): L7Message | null {
    const r = R.reset(h.keep, 0, h.keepLen);
    if (!readRequestHeader(r) || hKey < 0 || hKey >= API_NAMES.length) return null;
    const m = new L7Message(MsgKind.Request, dir);
    m.sessionId = hCorr;
    m.requestType = API_NAMES[hKey];
    m.version = String(hVersion);
    m.xRequestId = String(hCorr);
    const f: Inflight = { corr: hCorr, key: hKey, version: hVersion, topic: null, partition: -1 };
    const compact = flexible(hKey, hVersion);
    this.trace.reset();
    if (hKey === 0) {
      // Produce: [transactional_id] acks timeout [topic [partition records]]
      if (hVersion >= 3) r.str(compact);
      const acks = r.i16();
      r.i32();
      if (r.arr(compact) > 0) {
        f.topic = r.str(compact);
        if (r.arr(compact) > 0) {
          f.partition = r.i32();
          const size = compact ? r.uvarint() - 1 : r.i32();
          if (!r.bad && size > 0 && hVersion >= 3) this.recordHeaders(r, Math.min(r.end, r.p + size));
        }
      }
      if (acks === 0 && !r.bad) {
        m.oneWay = true;
        m.responseStatus = 'ok';
      }
    } else if (hKey === 1 && hVersion <= 12) {
      // Fetch (v13+ names topics by id): replica_id max_wait min_bytes [max_bytes] [isolation]
      // [session_id epoch] [topic [partition [leader_epoch] fetch_offset …]]
      r.i32();
      r.i32();
      r.i32();
      if (hVersion >= 3) r.i32();
      if (hVersion >= 4) r.i8();
      if (hVersion >= 7) {
        r.i32();
        r.i32();
      }
      if (r.arr(compact) > 0) {
        f.topic = r.str(compact);
        if (r.arr(compact) > 0) {
          f.partition = r.i32();
          if (hVersion >= 9) r.i32();
          const offset = r.i64();
          if (!r.bad && f.topic !== null) m.requestResource = `${f.topic}-${f.partition}:${offset}`;
        }
      }
    }
    if (r.bad && m.requestResource === null) f.partition = -1;
    if (f.topic !== null && f.topic.length > 0) {
      m.requestDomain = f.topic;
      if (f.partition >= 0) m.endpoint = `${f.topic}-${f.partition}`;
    }
    const t = this.trace.any ? resolveTrace(this.trace) : null;
    if (t !== null) {
      m.traceId = t.traceId;
      m.spanId = t.spanId;
      m.parentSpanId = t.parentSpanId;
    }
    if (!m.oneWay) {
      this.inflight.push(f);
      if (this.inflight.length > MAX_INFLIGHT) this.inflight.shift();
    }
    return m;
  }

  /** Headers of the first record of a v2 record batch at r.p (uncompressed batches only). */
  private recordHeaders(r: Reader, end: number): void {
    r.end = end;
    r.i64(); // base offset
    r.i32(); // batch length
    r.i32(); // partition leader epoch
    if (r.i8() !== 2) return; // magic
    r.i32(); // crc
    const attributes = r.i16();
    if ((attributes & 0x07) !== 0) return; // compressed
    r.skip(4 + 8 + 8 + 8 + 2 + 4); // last offset delta, timestamps, producer id/epoch, base sequence
    if (r.i32() <= 0) return;
    r.varint(); // record length
    r.i8(); // attributes
    r.varint(); // timestamp delta
    r.varint(); // offset delta
    r.skip(Math.max(0, r.varint())); // key
    r.skip(Math.max(0, r.varint())); // value
    const n = r.varint();
    for (let k = 0; k < n && k < 64 && !r.bad; k++) {
      const kl = r.varint();
      if (kl < 0 || r.p + kl > r.end) return;
      const key = r.b.toString('latin1', r.p, r.p + kl).toLowerCase();
      r.p += kl;
      const vl = r.varint();
      if (vl < 0 || r.p + vl > r.end) {
        r.skip(Math.max(vl, 0));
        continue;
      }
      const value = vl <= 1024 ? r.b.toString('utf8', r.p, r.p + vl) : null;
      r.p += vl;
      if (value === null) continue;
      const tr = this.trace;
      if (key === 'traceparent') tr.traceparent = value;
      else if (key === 'sw8') tr.sw8 = value;
      else if (key === 'b3') tr.b3 = value;
      else if (key === 'x-b3-traceid') tr.xB3TraceId = value;
      else if (key === 'x-b3-spanid') tr.xB3SpanId = value;
      else if (key === 'x-b3-parentspanid') tr.xB3ParentSpanId = value;
      else if (key === 'uber-trace-id') tr.uberTraceId = value;
    }
  }

  private response(dir: Dir, h: Half): L7Message | null {
    if (h.keepLen < 4) return null;
    const corr = h.keep.readInt32BE(0);
    const at = this.inflight.findIndex((x) => x.corr === corr);
    const m = new L7Message(MsgKind.Response, dir);
    m.sessionId = corr;
    m.xRequestId = String(corr);
    m.responseStatus = 'ok';
    if (at < 0) return m;
    const f = this.inflight[at];
    this.inflight.splice(at, 1);
    m.requestType = API_NAMES[f.key];
    m.version = String(f.version);
    const r = R.reset(h.keep, 4, h.keepLen);
    // ApiVersions answers with header v0 whatever its version (so that any client can read it).
    const compact = flexible(f.key, f.version);
    if (compact && f.key !== 18) r.tags();
    const code = this.errorCode(r, f, m, compact);
    if (code !== null && !r.bad) {
      m.responseCode = code;
      m.responseStatus = code === 0 ? 'ok' : 'server_error';
    }
    return m;
  }

  /** The response's error code (see the header comment), or null where it is not read. */
  private errorCode(r: Reader, f: Inflight, m: L7Message, compact: boolean): number | null {
    const v = f.version;
    switch (f.key) {
      case 0: {
        // Produce: [topic [index error_code base_offset …]] throttle
        if (r.arr(compact) <= 0) return null;
        const topic = r.str(compact);
        if (r.arr(compact) <= 0) return null;
        const partition = r.i32();
        const code = r.i16();
        const offset = r.i64();
        if (!r.bad && topic !== null) m.requestResource = `${topic}-${partition}:${offset}`;
        return code;
      }
      case 1: {
        if (v >= 1) r.i32(); // throttle
        if (v >= 7) return r.i16();
        if (r.arr(compact) <= 0) return null;
        r.str(compact);
        if (r.arr(compact) <= 0) return null;
        r.i32();
        return r.i16();
      }
      case 8: {
        // OffsetCommit: [throttle] [topic [partition error_code]]
        if (v >= 3) r.i32();
        if (r.arr(compact) <= 0) return null;
        r.str(compact);
        if (r.arr(compact) <= 0) return null;
        r.i32();
        return r.i16();
      }
      case 19:
      case 20: {
        // CreateTopics / DeleteTopics: [throttle] [name error_code …]
        if ((f.key === 19 && v >= 2) || (f.key === 20 && v >= 1)) r.i32();
        if (r.arr(compact) <= 0) return null;
        r.str(compact);
        return r.i16();
      }
      case 10:
      case 11:
      case 12:
      case 13:
      case 14:
      case 16:
        // FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, ListGroups: [throttle] error_code
        if (v >= (f.key === 11 ? 2 : 1)) r.i32();
        return r.i16();
      case 15: {
        // DescribeGroups: [throttle] [error_code group_id …]: the first group's code
        if (v >= 1) r.i32();
        if (r.arr(compact) <= 0) return null;
        return r.i16();
      }
      case 17:
      case 18:
      case 36:
        // SaslHandshake, ApiVersions, SaslAuthenticate: error_code first
        return r.i16();
      case 22:
        // InitProducerId: throttle error_code
        r.i32();
        return r.i16();
      default:
        return null;
    }
  }

  gap(dir: Dir, _seq: number, len: number, tsUs: number): void {
    const h = this.half[dir];
    if (h.lost) return;
    if (h.left > 0 && len < h.left) {
      h.left -= len;
      h.keepStop = true;
      return;
    }
    if (h.left > 0 && len === h.left) {
      h.keepStop = true;
      this.message(dir, h, tsUs, true);
      return;
    }
    this.lose(dir);
  }

  datagram(): void {}

  close(): void {}

  finish(tsUs: number): void {
    for (const dir of [0, 1] as const) {
      const h = this.half[dir];
      if (!h.lost && h.left > 0 && h.keepLen >= 8) this.message(dir, h, tsUs, true);
      h.left = -1;
      h.lost = true;
    }
  }
}

const DETECT_CTX: DetectContext = { transport: Transport.Tcp, fromClient: true, srcPort: 0, dstPort: 0 };

export const KAFKA: L7Protocol = {
  name: 'kafka',
  tcp: true,
  udp: false,
  ports: KAFKA_PORTS,
  requestTimeoutUs: 120e6,
  hasSessionId: true,
  detect,
  createParser: (sink: MessageSink) => new KafkaParser(sink),
};
