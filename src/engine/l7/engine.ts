// The L7 stage as the flow table drives it: one call per packet of a TCP/UDP flow, one when the flow
// ends, one at the end of input. Request records come out through a callback. Nothing here knows the
// flow table's internals: a flow is named by a dense index the caller may reuse once the flow has
// ended (the flow table's pooled flow index), so sessions live in an array, with no hashing per packet.

import { DecodedPacket, IPPROTO_TCP, IPPROTO_UDP } from '../decode/packet';
import type { RequestRecord, RequestStatus } from '../../shared/records';
import type { Exchange } from './pairing';
import { DEFAULT_MAX_BUFFERED } from './reassembly';
import { ProtocolRegistry, defaultRegistry } from './registry';
import { FlowSession, type SessionHost } from './session';
import { Transport, type Dir } from './types';

/** How often (capture time) unanswered requests are checked for their timeout. */
const EXPIRE_INTERVAL_US = 1e6;

export interface L7FlowInfo {
  /** Observation point (interface) of the flow. */
  ifIndex: number;
  /** DeepFlow observation point name; 'rest' when not given. */
  observationPoint?: string;
  /**
   * flows.flow_id, when the flow table knows it on the flow's first packet. Without it, records are
   * held until onFlowEndAt(index, flowId) says which flow they belong to.
   */
  flowId?: number;
}

export interface L7EngineOptions {
  captureId: number;
  onRecord: (r: RequestRecord) => void;
  /** First request_id to hand out (Store.allocateRequestIds); ids increase by one. Default 1. */
  firstRequestId?: number;
  registry?: ProtocolRegistry;
  /** Bytes held out of order per flow direction (default 256 KiB). */
  maxBufferedPerDirection?: number;
}

export interface L7Stats {
  /** Flows given an L7 state (TCP with SYN or payload, UDP with payload). */
  flows: number;
  /** Flows a protocol module claimed, per protocol. */
  detected: Record<string, number>;
  /** Flows given up as not a known protocol. */
  ignored: number;
  records: number;
  /** Gaps (bytes missing from the capture) met inside claimed flows. */
  gaps: number;
  /** Parsers that threw (the flow was given up); the last message. */
  parserErrors: number;
  lastParserError: string | null;
}

export class L7Engine implements SessionHost {
  readonly registry: ProtocolRegistry;
  readonly maxBufferedPerDirection: number;
  readonly stats: L7Stats = {
    flows: 0,
    detected: {},
    ignored: 0,
    records: 0,
    gaps: 0,
    parserErrors: 0,
    lastParserError: null,
  };
  /** Sessions by flow index (onFlowPacket); null = none. Kept packed (never holey). */
  private readonly byIndex: (FlowSession | null)[] = [];
  private indexedCount = 0;
  /** Sessions with open exchanges (checked for timeouts). */
  private readonly watched = new Set<FlowSession>();
  private nextRequestId: number;
  private nowUs = 0;
  private lastExpireUs = 0;

  constructor(private readonly opts: L7EngineOptions) {
    this.registry = opts.registry ?? defaultRegistry();
    this.maxBufferedPerDirection = opts.maxBufferedPerDirection ?? DEFAULT_MAX_BUFFERED;
    this.nextRequestId = opts.firstRequestId ?? 1;
  }

  /** Flows with L7 state right now. */
  get liveFlows(): number {
    return this.indexedCount;
  }

  /**
   * One decoded packet of a flow, in capture order. `index` (>= 0; the flow table's pooled flow index)
   * names the flow until onFlowEndAt(index); `fromClient` is the flow table's direction. `info` is read
   * only on the flow's first packet that L7 keeps: pass one reused object rather than a new literal per
   * packet. Cheap for packets that carry nothing for L7 (pure ACKs of flows without state return at
   * once). Returns false once L7 is done with the flow (given up, or not TCP/UDP): its later packets
   * need not be passed until the flow ends; pass their times to advance() instead.
   */
  onFlowPacket(index: number, p: DecodedPacket, fromClient: boolean, info: L7FlowInfo): boolean {
    this.advance(p.tsUs);
    const proto = p.protocol;
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return false;
    const byIndex = this.byIndex;
    let s = index < byIndex.length ? byIndex[index] : null;
    if (s === null) {
      if (p.payloadLen === 0 && (proto === IPPROTO_UDP || (p.tcpFlags & 0x02) === 0)) return true;
      s = this.open(p, fromClient, info);
      while (byIndex.length <= index) byIndex.push(null);
      byIndex[index] = s;
      this.indexedCount++;
    }
    return this.feed(s, p, fromClient);
  }

  /**
   * Capture time of a packet L7 is not given (onFlowPacket returned false for its flow): timeouts run
   * as if it had been.
   */
  advance(ts: number): void {
    if (ts > this.nowUs) {
      this.nowUs = ts;
      if (ts - this.lastExpireUs >= EXPIRE_INTERVAL_US) {
        this.lastExpireUs = ts;
        this.expire(ts);
      }
    }
  }

  private open(p: DecodedPacket, fromClient: boolean, info: L7FlowInfo): FlowSession {
    this.stats.flows++;
    return new FlowSession(
      this,
      p.protocol === IPPROTO_TCP ? Transport.Tcp : Transport.Udp,
      p,
      fromClient,
      this.opts.captureId,
      info.ifIndex,
      info.observationPoint ?? 'rest',
      info.flowId ?? 0,
    );
  }

  /** The packet to its session; false when the session is given up. */
  private feed(s: FlowSession, p: DecodedPacket, fromClient: boolean): boolean {
    if (s.ignored) return false;
    const dir: Dir = fromClient ? 0 : 1;
    const hadProtocol = s.protocol !== null;
    if (p.protocol === IPPROTO_TCP) s.tcp(p, dir);
    else s.udp(p, dir);
    if (!hadProtocol && s.protocol !== null) {
      const name = s.protocol.name;
      this.stats.detected[name] = (this.stats.detected[name] ?? 0) + 1;
    }
    if (s.ignored) {
      this.noteIgnored(s);
      return false;
    }
    return true;
  }

  /**
   * The flow ended (closed, timed out, or end of input). Emits its remaining records with `flowId`
   * (when given; else the id passed on its first packet, or 0) and forgets the flow; its index may be
   * reused after. Returns the flow's L7 protocol name ('' when none) for flows.l7_protocol.
   */
  onFlowEndAt(index: number, flowId?: number): string {
    const s = index < this.byIndex.length ? this.byIndex[index] : null;
    if (s === null) return '';
    this.byIndex[index] = null;
    this.indexedCount--;
    return this.end(s, flowId);
  }

  private end(s: FlowSession, flowId: number | undefined): string {
    if (flowId !== undefined) s.flowId = flowId;
    this.endSession(s);
    return s.protocol?.name ?? '';
  }

  /** End of input: every flow still live ends now, in index order (its held records keep the flow id they know). */
  flush(): void {
    const byIndex = this.byIndex;
    for (let i = 0; i < byIndex.length; i++) {
      const s = byIndex[i];
      if (s === null) continue;
      byIndex[i] = null;
      this.endSession(s);
    }
    this.indexedCount = 0;
    this.watched.clear();
  }

  private endSession(s: FlowSession): void {
    const wasIgnored = s.ignored;
    s.finish(this.nowUs);
    this.watched.delete(s);
    this.stats.gaps += s.gaps;
    if (s.parseError !== null) {
      this.stats.parserErrors++;
      this.stats.lastParserError = s.parseError;
    }
    if (wasIgnored && s.protocol === null) return;
    for (const r of s.held) {
      r.flowId = s.flowId;
      this.emit(r);
    }
    s.held.length = 0;
  }

  private noteIgnored(s: FlowSession): void {
    if (s.protocol === null) this.stats.ignored++;
    this.watched.delete(s);
    if (s.parseError !== null && s.pairer !== null) {
      // The parser threw: what was paired so far still counts.
      s.pairer.flush();
    }
  }

  private expire(nowUs: number): void {
    for (const s of this.watched) {
      s.expire(nowUs);
      if (s.pairer === null || s.pairer.openCount === 0) this.watched.delete(s);
    }
  }

  // SessionHost
  record(s: FlowSession, x: Exchange, status: RequestStatus | null): void {
    const r = s.build(x, status, this.nextRequestId++);
    if (s.flowId === 0) s.held.push(r);
    else this.emit(r);
  }

  watch(s: FlowSession): void {
    this.watched.add(s);
  }

  private emit(r: RequestRecord): void {
    this.stats.records++;
    this.opts.onRecord(r);
  }
}
