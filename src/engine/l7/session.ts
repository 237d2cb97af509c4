// The L7 state of one flow: TCP reassembly per direction, protocol inference until a module claims
// the flow (or it is given up), then that module's parser feeding the pairer, whose finished exchanges
// become request records.

import { DecodedPacket, ipToString } from '../decode/packet';
import type { RequestRecord, RequestStatus } from '../../shared/records';
import { Pairer, type Exchange } from './pairing';
import { buildRecord, type FlowContext } from './record';
import { TcpReassembler, type StreamConsumer } from './reassembly';
import type { ProtocolRegistry } from './registry';
import { Transport, type DetectContext, type Dir, type L7FlowParser, type L7Message, type L7Protocol, type MessageSink } from './types';

const F_FIN = 0x01;
const F_SYN = 0x02;
const F_ACK = 0x10;

/** Payload chunks (TCP) or datagrams (UDP) looked at before a flow is given up as not L7. */
export const MAX_DETECT_ATTEMPTS_TCP = 64;
export const MAX_DETECT_ATTEMPTS_UDP = 16;

/** What the session needs from its engine (kept narrow so that sessions can be tested alone). */
export interface SessionHost {
  readonly registry: ProtocolRegistry;
  readonly maxBufferedPerDirection: number;
  /** A record is ready (the host assigns request and flow ids). */
  record(s: FlowSession, x: Exchange, status: RequestStatus | null): void;
  /** The session has open exchanges that may time out. */
  watch(s: FlowSession): void;
}

class DirStream implements StreamConsumer {
  constructor(
    private readonly s: FlowSession,
    private readonly dir: Dir,
  ) {}

  onData(buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    this.s.streamData(this.dir, buf, off, len, seq, tsUs);
  }

  onGap(seq: number, len: number, tsUs: number): void {
    this.s.streamGap(this.dir, seq, len, tsUs);
  }

  onFin(tsUs: number): void {
    this.s.streamFin(this.dir, tsUs);
  }
}

export class FlowSession implements MessageSink {
  protocol: L7Protocol | null = null;
  parser: L7FlowParser | null = null;
  pairer: Pairer | null = null;
  /** Given up: not a protocol we know (or the parser is gone). */
  ignored = false;
  attempts = 0;
  gaps = 0;
  /** Why the parser was dropped, if it threw. */
  parseError: string | null = null;
  /** Records waiting for the flow id (held until the flow ends when the id is not known yet). */
  held: RequestRecord[] = [];
  flowId: number;
  private readonly streams: [TcpReassembler | null, TcpReassembler | null] = [null, null];
  /** Last acknowledgement sent by each direction's sender (-1 none yet). */
  private readonly lastAck = [-1, -1];
  private readonly ipVersion: number;
  /** Addresses of the senders of direction 0 and 1 (as words) and their ports. */
  private readonly ipWords = new Int32Array(8);
  readonly port: [number, number];
  private ctxCache: FlowContext | null = null;
  private serverKeyCache: string | null = null;

  constructor(
    private readonly host: SessionHost,
    readonly transport: Transport,
    p: DecodedPacket,
    fromClient: boolean,
    readonly captureId: number,
    readonly ifIndex: number,
    readonly observationPoint: string,
    flowId: number,
  ) {
    this.flowId = flowId;
    this.ipVersion = p.ipVersion;
    // Direction 0 is the flow table's client→server.
    const c = fromClient ? p.srcIp : p.dstIp;
    const s = fromClient ? p.dstIp : p.srcIp;
    for (let k = 0; k < 4; k++) {
      this.ipWords[k] = c[k];
      this.ipWords[4 + k] = s[k];
    }
    this.port = fromClient ? [p.srcPort, p.dstPort] : [p.dstPort, p.srcPort];
  }

  /** One TCP packet of this flow in capture order. */
  tcp(p: DecodedPacket, dir: Dir): void {
    if (this.ignored) return;
    const flags = p.tcpFlags;
    const ts = p.tsUs;
    const other = this.streams[dir ^ 1];
    if ((flags & F_ACK) !== 0) {
      this.lastAck[dir] = p.tcpAck;
      if (other !== null) other.ackOf(p);
    }
    const syn = (flags & F_SYN) !== 0;
    const fin = (flags & F_FIN) !== 0;
    if (!syn && !fin && p.payloadLen === 0) return;
    let r = this.streams[dir];
    if (r === null) {
      r = new TcpReassembler(new DirStream(this, dir), this.host.maxBufferedPerDirection);
      this.streams[dir] = r;
    }
    if (syn) r.syn(p.tcpSeq);
    if (p.payloadLen > 0 || fin) {
      const seq = syn ? (p.tcpSeq + 1) >>> 0 : p.tcpSeq;
      r.segment(seq, p.buf, p.payloadOffset, p.capturedPayloadLen, p.payloadLen, fin, ts);
    }
  }

  /** One UDP datagram of this flow. */
  udp(p: DecodedPacket, dir: Dir): void {
    if (this.ignored || p.payloadLen === 0) return;
    const len = p.capturedPayloadLen;
    if (this.parser === null && !this.detect(p.buf, p.payloadOffset, len, dir)) return;
    try {
      this.parser!.datagram(dir, p.buf, p.payloadOffset, len, p.tsUs);
    } catch (err) {
      this.parserFailed(err);
    }
  }

  /** In-order bytes from a reassembler. */
  streamData(dir: Dir, buf: Buffer, off: number, len: number, seq: number, tsUs: number): void {
    if (this.parser === null && !this.detect(buf, off, len, dir)) return;
    try {
      this.parser!.data(dir, buf, off, len, seq, tsUs);
    } catch (err) {
      this.parserFailed(err);
    }
  }

  /** Bytes missing from the capture. */
  streamGap(dir: Dir, seq: number, len: number, tsUs: number): void {
    this.gaps++;
    if (this.parser === null) return;
    this.pairer!.gap(dir);
    try {
      this.parser.gap(dir, seq, len, tsUs);
    } catch (err) {
      this.parserFailed(err);
    }
  }

  /** The sender of `dir` closed its side. */
  streamFin(dir: Dir, tsUs: number): void {
    if (this.parser === null) return;
    try {
      this.parser.close(dir, tsUs);
    } catch (err) {
      this.parserFailed(err);
    }
  }

  private detect(buf: Buffer, off: number, len: number, dir: Dir): boolean {
    if (this.ignored) return false;
    const ctx = DETECT_CTX;
    ctx.transport = this.transport;
    ctx.fromClient = dir === 0;
    ctx.srcPort = this.port[dir];
    ctx.dstPort = this.port[dir ^ 1];
    const key = this.serverKey();
    const proto = this.host.registry.detect(buf, off, len, ctx, key);
    if (proto === null) {
      const max = this.transport === Transport.Tcp ? MAX_DETECT_ATTEMPTS_TCP : MAX_DETECT_ATTEMPTS_UDP;
      if (++this.attempts >= max) this.ignore();
      return false;
    }
    this.host.registry.remember(key, proto);
    this.protocol = proto;
    this.pairer = new Pairer(proto.hasSessionId, proto.requestTimeoutUs, (x, st) => this.host.record(this, x, st));
    this.parser = proto.createParser(this, this.transport);
    return true;
  }

  /** Server endpoint as the flow table sees it (ip, port, transport): the inference cache key. */
  private serverKey(): string {
    if (this.serverKeyCache === null) {
      const w = this.ipWords;
      this.serverKeyCache = `${this.transport}|${this.ipVersion}|${w[4]},${w[5]},${w[6]},${w[7]}|${this.port[1]}`;
    }
    return this.serverKeyCache;
  }

  private ignore(): void {
    this.ignored = true;
    this.streams[0] = null;
    this.streams[1] = null;
  }

  // MessageSink: the parser's messages go to the pairer.
  begin(m: L7Message): void {
    if (this.transport === Transport.Tcp) m.senderAck = this.lastAck[m.dir];
    this.pairer!.begin(m);
    this.host.watch(this);
  }

  end(): void {
    this.pairer!.end();
  }

  /** Capture time advanced: time out unanswered requests. */
  expire(nowUs: number): void {
    this.pairer?.expire(nowUs);
  }

  /** The flow ended (or the input did): drain the streams, end the messages, flush the pairs. */
  finish(tsUs: number): void {
    if (!this.ignored) {
      try {
        for (const r of this.streams) r?.flush(tsUs);
        this.parser?.finish(tsUs);
      } catch (err) {
        // A plugin parser failing must not take the capture down: its flow is given up.
        this.parserFailed(err);
      }
    }
    this.pairer?.flush();
    this.ignore();
  }

  /** A parser threw: the flow's open exchanges are flushed as they are, the rest is ignored. */
  parserFailed(err: unknown): void {
    this.parseError = `${this.protocol?.name ?? 'l7'} parser: ${err instanceof Error ? err.message : String(err)}`;
    this.parser = null;
    this.ignore();
  }

  /** Per-flow fields of its records. */
  context(): FlowContext {
    if (this.ctxCache === null) {
      const w = this.ipWords;
      this.ctxCache = {
        captureId: this.captureId,
        ifIndex: this.ifIndex,
        observationPoint: this.observationPoint,
        flowId: this.flowId,
        l7Protocol: this.protocol?.name ?? '',
        ip: [ipName(this.ipVersion, w, 0), ipName(this.ipVersion, w, 4)],
        port: this.port,
      };
    }
    this.ctxCache.flowId = this.flowId;
    return this.ctxCache;
  }

  build(x: Exchange, status: RequestStatus | null, requestId: number): RequestRecord {
    return buildRecord(x, status, this.context(), requestId);
  }
}

/**
 * Text form of the address at words[at, at + 4). IPv4 names are kept (a capture has few addresses and
 * many flows; the hop copies of one connection are three flows): one string per address, not per flow.
 */
function ipName(version: number, words: Int32Array, at: number): string {
  if (version !== 4) return ipToString(version, words.subarray(at, at + 4));
  const a = words[at];
  let name = IPV4_NAMES.get(a);
  if (name === undefined) {
    if (IPV4_NAMES.size >= MAX_IPV4_NAMES) IPV4_NAMES.clear();
    name = ipToString(4, words.subarray(at, at + 4));
    IPV4_NAMES.set(a, name);
  }
  return name;
}
const IPV4_NAMES = new Map<number, string>();
const MAX_IPV4_NAMES = 65536;

const DETECT_CTX: DetectContext = { transport: Transport.Tcp, fromClient: true, srcPort: 0, dstPort: 0 };
