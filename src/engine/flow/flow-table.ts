// Bidirectional flows keyed by (interface, tunnel, IP version, protocol, endpoint pair), with TCP state,
// TCP performance metrics and idle timeouts in packet time. One table per capture source.
// Hot path: open addressing over an Int32Array of slots, pooled Flow objects, no per-packet allocation.

import {
  DecodedPacket,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  TUNNEL_NAMES,
  ipToString,
} from '../decode/packet';
import { CloseType, type FlowRecord } from '../../shared/records';
import type { L7Engine, L7FlowInfo } from '../l7/engine';
import { TcpPerf } from './tcp-perf';
import { TcpState, closeTypeOf, isFinished, nextState, stateTimeoutUs } from './tcp-state';

const F_FIN = 0x01;
const F_SYN = 0x02;
const F_RST = 0x04;
const F_ACK = 0x10;

/** Idle timeout for flows that are not TCP (DeepFlow's "others" is 5 s for one-way traffic). */
const UDP_TIMEOUT_US = 60e6;
const SINGLE_DIRECTION_TIMEOUT_US = 5e6;
/** How often (packet time) idle flows are swept out. */
const SWEEP_INTERVAL_US = 1e6;

/** Mutable per-flow state; objects are pooled and reused for later flows. */
export class Flow {
  hash = 0;
  /** flows.flow_id, given when the flow starts (L7 records name it before the flow ends). */
  flowId = 0;
  ifIndex = 0;
  ipVersion = 0;
  protocol = 0;
  tunnelType = 0;
  tunnelId = -1;
  /** Endpoint 0 = sender of the flow's first packet. */
  readonly ip0 = new Int32Array(4);
  readonly ip1 = new Int32Array(4);
  port0 = 0;
  port1 = 0;
  clientIs0 = true;
  vlan = -1;
  tunnelIpVersion = 0;
  readonly tunnelSrc = new Int32Array(4);
  readonly tunnelDst = new Int32Array(4);

  startUs = 0;
  lastUs = 0;
  timeoutUs = 0;
  /** Index 0 = client→server (tx), 1 = server→client (rx). */
  packetsTx = 0;
  packetsRx = 0;
  bytesTx = 0;
  bytesRx = 0;
  payloadTx = 0;
  payloadRx = 0;
  flagsTx = 0;
  flagsRx = 0;
  finCount = 0;
  rstCount = 0;
  synSeq = -1;
  synackSeq = -1;
  firstWasSyn = false;
  state: TcpState = TcpState.Raw;
  perf: TcpPerf | null = null;
  /** Bucket of the open-addressing table holding this flow (for O(1) removal). */
  slot = -1;
  /** Index in FlowTable.live. */
  liveIndex = -1;

  init(p: DecodedPacket, ifIndex: number, hash: number): void {
    const tsUs = p.tsUs;
    this.hash = hash;
    this.ifIndex = ifIndex;
    this.ipVersion = p.ipVersion;
    this.protocol = p.protocol;
    this.tunnelType = p.tunnelType;
    this.tunnelId = p.tunnelId;
    this.ip0.set(p.srcIp);
    this.ip1.set(p.dstIp);
    this.port0 = p.srcPort;
    this.port1 = p.dstPort;
    this.vlan = p.vlan;
    this.tunnelIpVersion = p.tunnelIpVersion;
    this.startUs = tsUs;
    this.lastUs = tsUs;
    this.packetsTx = this.packetsRx = this.bytesTx = this.bytesRx = 0;
    this.payloadTx = this.payloadRx = this.flagsTx = this.flagsRx = 0;
    this.finCount = this.rstCount = 0;
    this.synSeq = -1;
    this.synackSeq = -1;
    this.state = TcpState.Raw;
    const flags = p.tcpFlags & 0x3f;
    this.firstWasSyn = p.protocol === IPPROTO_TCP && flags === F_SYN;
    this.clientIs0 = decideClientIs0(p, flags);
    // Outer header as seen on client→server packets (DeepFlow's tunnel tx fields).
    if (this.clientIs0) {
      this.tunnelSrc.set(p.tunnelSrc);
      this.tunnelDst.set(p.tunnelDst);
    } else {
      this.tunnelSrc.set(p.tunnelDst);
      this.tunnelDst.set(p.tunnelSrc);
    }
    if (p.protocol === IPPROTO_TCP) {
      if (this.perf === null) this.perf = new TcpPerf();
      else this.perf.reset();
    }
    this.timeoutUs = SINGLE_DIRECTION_TIMEOUT_US;
  }
}

/** Client = SYN sender; SYN-ACK sender is the server; otherwise the side on the well-known/lower port is the server. */
function decideClientIs0(p: DecodedPacket, flags: number): boolean {
  if (p.protocol === IPPROTO_TCP) {
    if (flags === F_SYN) return true;
    if (flags === (F_SYN | F_ACK)) return false;
  }
  if (p.protocol === IPPROTO_ICMP || p.protocol === IPPROTO_ICMPV6) {
    // Echo reply (0 / 129) first: the receiver pinged.
    return !(p.icmpType === 0 || p.icmpType === 129);
  }
  const s = p.srcPort;
  const d = p.dstPort;
  const sWell = s > 0 && s < 1024;
  const dWell = d > 0 && d < 1024;
  if (sWell !== dWell) return dWell;
  if (s !== d && (s >= 32768) !== (d >= 32768)) return s >= 32768; // Linux ephemeral range
  return true;
}

export interface FlowTableOptions {
  captureId: number;
  /** First flow id to hand out; ids increase by flowIdStride (default 1). */
  firstFlowId: number;
  /** Shard k of n hands out firstFlowId + k + n·i: ids stay unique across shards without renumbering. */
  flowIdStride?: number;
  onFlow: (rec: FlowRecord) => void;
  /** Application-layer parsing, fed every packet of every flow; null to count flows only. */
  l7?: L7Engine | null;
}

export class FlowTable {
  private slots: Int32Array; // flow index + 1, 0 = empty
  private mask: number;
  private flows: Flow[] = [];
  private free: number[] = [];
  /** Live flow indexes, for sweeping. */
  private live: number[] = [];
  private nextFlowId: number;
  private readonly flowIdStride: number;
  private readonly l7: L7Engine | null;
  /** Reused for every L7 call (the engine reads it on a flow's first packet only). */
  private readonly l7Info: L7FlowInfo = { ifIndex: 0, observationPoint: 'rest', flowId: 0 };
  private lastSweepUs = 0;
  private nowUs = 0;
  /** Counters for the capture summary. */
  flowsEmitted = 0;
  readonly closeTypeCounts = new Map<number, number>();

  constructor(private readonly opts: FlowTableOptions, initialCapacity = 1 << 16) {
    this.slots = new Int32Array(initialCapacity);
    this.mask = initialCapacity - 1;
    this.nextFlowId = opts.firstFlowId;
    this.flowIdStride = opts.flowIdStride ?? 1;
    this.l7 = opts.l7 ?? null;
  }

  get liveFlows(): number {
    return this.live.length;
  }

  /** Accounts one decoded IP packet (status Ok); p.tsUs and p.frameLen must be set. */
  add(p: DecodedPacket, ifIndex: number): void {
    const tsUs = p.tsUs;
    if (tsUs > this.nowUs) this.nowUs = tsUs;
    if (this.nowUs - this.lastSweepUs >= SWEEP_INTERVAL_US) {
      this.lastSweepUs = this.nowUs;
      this.sweep(this.nowUs);
    }

    const hash = flowHash(p, ifIndex);
    let dir = 0; // 1 = packet from endpoint 0, 2 = from endpoint 1
    let flow: Flow | null = null;
    let i = hash & this.mask;
    const slots = this.slots;
    const flows = this.flows;
    for (;;) {
      const s = slots[i];
      if (s === 0) break;
      const f = flows[s - 1];
      if (f.hash === hash) {
        dir = matchDirection(f, p, ifIndex);
        if (dir !== 0) {
          flow = f;
          break;
        }
      }
      i = (i + 1) & this.mask;
    }

    if (flow !== null) {
      const flags = p.tcpFlags & 0x3f;
      // Expired in packet time, or a new connection reusing the 5-tuple: close it, start another.
      if (
        tsUs - flow.lastUs > flow.timeoutUs ||
        (p.protocol === IPPROTO_TCP &&
          flags === F_SYN &&
          flow.synSeq !== -1 &&
          p.tcpSeq !== flow.synSeq &&
          (isFinished(flow.state) || flow.finCount > 0 || flow.rstCount > 0))
      ) {
        this.close(flow);
        flow = null;
      }
    }
    if (flow === null) {
      flow = this.create(p, ifIndex, hash);
      dir = 1;
    }
    const fromClient = dir === 1 ? flow.clientIs0 : !flow.clientIs0;
    this.update(flow, p, fromClient);
    if (this.l7 !== null) {
      // Every packet, pure ACKs included: an ACK past bytes the capture lacks reveals a gap early.
      const info = this.l7Info;
      info.ifIndex = ifIndex;
      info.flowId = flow.flowId;
      this.l7.onPacket(flow, p, fromClient, info);
    }
  }

  private create(p: DecodedPacket, ifIndex: number, hash: number): Flow {
    let idx: number;
    let f: Flow;
    if (this.free.length > 0) {
      idx = this.free.pop()!;
      f = this.flows[idx];
    } else {
      idx = this.flows.length;
      f = new Flow();
      this.flows.push(f);
    }
    f.init(p, ifIndex, hash);
    f.flowId = this.nextFlowId;
    this.nextFlowId += this.flowIdStride;
    f.liveIndex = this.live.length;
    this.live.push(idx);
    if ((this.live.length << 1) > this.slots.length) this.grow();
    let i = hash & this.mask;
    while (this.slots[i] !== 0) i = (i + 1) & this.mask;
    this.slots[i] = idx + 1;
    f.slot = i;
    return f;
  }

  private update(f: Flow, p: DecodedPacket, fromClient: boolean): void {
    const tsUs = p.tsUs;
    const frameLen = p.frameLen;
    if (tsUs > f.lastUs) f.lastUs = tsUs;
    const flags = p.tcpFlags;
    if (fromClient) {
      f.packetsTx++;
      f.bytesTx += frameLen;
      f.payloadTx += p.payloadLen;
      f.flagsTx |= flags;
    } else {
      f.packetsRx++;
      f.bytesRx += frameLen;
      f.payloadRx += p.payloadLen;
      f.flagsRx |= flags;
    }
    if (p.protocol !== IPPROTO_TCP) {
      f.timeoutUs = f.packetsTx === 0 || f.packetsRx === 0 ? SINGLE_DIRECTION_TIMEOUT_US : UDP_TIMEOUT_US;
      return;
    }
    if (flags & F_FIN) f.finCount++;
    if (flags & F_RST) f.rstCount++;
    if ((flags & 0x3f) === F_SYN && f.synSeq === -1) f.synSeq = p.tcpSeq;
    else if ((flags & 0x3f) === (F_SYN | F_ACK) && !fromClient && f.synackSeq === -1) f.synackSeq = p.tcpSeq;
    const prev = f.state;
    f.state = nextState(prev, flags, fromClient);
    f.timeoutUs =
      f.packetsTx === 0 || f.packetsRx === 0 ? SINGLE_DIRECTION_TIMEOUT_US : stateTimeoutUs(f.state, prev);
    f.perf!.parse(p, fromClient);
  }

  /** Emits flows idle past their timeout (packet time). */
  sweep(nowUs: number): void {
    const live = this.live;
    for (let k = live.length - 1; k >= 0; k--) {
      const f = this.flows[live[k]];
      if (nowUs - f.lastUs > f.timeoutUs) this.close(f);
    }
  }

  /** End of input: emits every remaining flow. */
  flushAll(): void {
    const live = this.live;
    for (let k = live.length - 1; k >= 0; k--) this.close(this.flows[live[k]]);
  }

  private close(f: Flow): void {
    const rec = this.toRecord(f);
    // Before remove(): the pooled Flow object may be reused (as a new L7 key) at once.
    if (this.l7 !== null) rec.l7Protocol = this.l7.onFlowEnd(f, rec.flowId);
    this.closeTypeCounts.set(rec.closeType, (this.closeTypeCounts.get(rec.closeType) ?? 0) + 1);
    this.flowsEmitted++;
    this.opts.onFlow(rec);
    this.remove(f);
  }

  private remove(f: Flow): void {
    const idx = this.slotIndexOf(f);
    // Backward-shift deletion keeps linear probing correct without tombstones.
    const slots = this.slots;
    const mask = this.mask;
    let i = f.slot;
    slots[i] = 0;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const s = slots[j];
      if (s === 0) break;
      const g = this.flows[s - 1];
      const home = g.hash & mask;
      // Move g back to i if its home is not in the cyclic range (i, j].
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!inRange) {
        slots[i] = s;
        g.slot = i;
        slots[j] = 0;
        i = j;
      }
    }
    // Remove from the live list by swapping in the last element.
    const li = f.liveIndex;
    const lastIdx = this.live.pop()!;
    if (li < this.live.length) {
      this.live[li] = lastIdx;
      this.flows[lastIdx].liveIndex = li;
    }
    f.liveIndex = -1;
    f.slot = -1;
    this.free.push(idx);
  }

  private slotIndexOf(f: Flow): number {
    return this.slots[f.slot] - 1;
  }

  private grow(): void {
    const old = this.slots;
    const cap = old.length * 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    for (let k = 0; k < old.length; k++) {
      const s = old[k];
      if (s === 0) continue;
      const f = this.flows[s - 1];
      let i = f.hash & this.mask;
      while (this.slots[i] !== 0) i = (i + 1) & this.mask;
      this.slots[i] = s;
      f.slot = i;
    }
  }

  private toRecord(f: Flow): FlowRecord {
    const c = f.clientIs0;
    const isTcp = f.protocol === IPPROTO_TCP;
    // Flow objects are pooled: a non-TCP flow may hold the TcpPerf of an earlier TCP flow.
    const perf = isTcp ? f.perf : null;
    const closeType = isTcp
      ? closeTypeOf(f.state, f.flagsTx, f.flagsRx, f.packetsRx)
      : CloseType.Timeout;
    return {
      flowId: f.flowId,
      captureId: this.opts.captureId,
      ifIndex: f.ifIndex,
      // Decided after import from what the whole capture shows (observation.ts).
      observationPoint: 'rest',
      startTime: f.startUs,
      endTime: f.lastUs,
      ipVersion: f.ipVersion,
      protocol: f.protocol,
      clientIp: ipToString(f.ipVersion, c ? f.ip0 : f.ip1),
      serverIp: ipToString(f.ipVersion, c ? f.ip1 : f.ip0),
      clientPort: c ? f.port0 : f.port1,
      serverPort: c ? f.port1 : f.port0,
      tunnelType: TUNNEL_NAMES[f.tunnelType] ?? '',
      tunnelId: f.tunnelId,
      tunnelOuterSrc: f.tunnelType ? ipToString(f.tunnelIpVersion, f.tunnelSrc) : '',
      tunnelOuterDst: f.tunnelType ? ipToString(f.tunnelIpVersion, f.tunnelDst) : '',
      vlan: f.vlan,
      packetsTx: f.packetsTx,
      packetsRx: f.packetsRx,
      bytesTx: f.bytesTx,
      bytesRx: f.bytesRx,
      payloadTx: f.payloadTx,
      payloadRx: f.payloadRx,
      synCount: perf ? perf.syn : 0,
      synackCount: perf ? perf.synack : 0,
      finCount: f.finCount,
      rstCount: f.rstCount,
      retransTx: perf ? perf.retransTx : 0,
      retransRx: perf ? perf.retransRx : 0,
      zeroWinTx: perf ? perf.zeroWinTx : 0,
      zeroWinRx: perf ? perf.zeroWinRx : 0,
      oooTx: perf ? perf.oooTx : 0,
      oooRx: perf ? perf.oooRx : 0,
      rtt: perf ? perf.rttFull : 0,
      rttClient: perf ? perf.rttClient.max : 0,
      rttServer: perf ? perf.rttServer.max : 0,
      srtSum: perf ? perf.srtServer.sum : 0,
      srtCount: perf ? perf.srtServer.count : 0,
      srtMax: perf ? perf.srtServer.max : 0,
      artSum: perf ? perf.artServer.sum : 0,
      artCount: perf ? perf.artServer.count : 0,
      artMax: perf ? perf.artServer.max : 0,
      citSum: perf ? perf.cit.sum : 0,
      citCount: perf ? perf.cit.count : 0,
      citMax: perf ? perf.cit.max : 0,
      closeType,
      handshakeSeen: f.firstWasSyn,
      synSeq: isTcp ? f.synSeq : -1,
      synackSeq: isTcp ? f.synackSeq : -1,
      l7Protocol: '',
    };
  }
}

/** Direction-independent hash of the flow key (also used to shard flows across workers). */
export function flowHash(p: DecodedPacket, ifIndex: number): number {
  const a = endpointHash(p.srcIp, p.srcPort);
  const b = endpointHash(p.dstIp, p.dstPort);
  let h = (a + b) | 0;
  h = Math.imul(h ^ (p.protocol | (p.ipVersion << 8) | (p.tunnelType << 16)), 0x85ebca6b);
  h = Math.imul(h ^ ifIndex, 0xc2b2ae35);
  h ^= p.tunnelId;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h & 0x7fffffff;
}

function endpointHash(ip: Int32Array, port: number): number {
  let h = Math.imul(ip[0] ^ 0x9e3779b9, 0xcc9e2d51);
  h = Math.imul(h ^ ip[1] ^ (h >>> 15), 0x1b873593);
  h = Math.imul(h ^ ip[2] ^ (h >>> 13), 0xcc9e2d51);
  h = Math.imul(h ^ ip[3] ^ (h >>> 16), 0x1b873593);
  h = Math.imul(h ^ port ^ (h >>> 15), 0xe6546b64);
  return h ^ (h >>> 13);
}

/** 1 when the packet goes endpoint 0 → 1, 2 when 1 → 0, 0 when it is another flow. */
function matchDirection(f: Flow, p: DecodedPacket, ifIndex: number): number {
  if (
    f.ifIndex !== ifIndex ||
    f.protocol !== p.protocol ||
    f.ipVersion !== p.ipVersion ||
    f.tunnelType !== p.tunnelType ||
    f.tunnelId !== p.tunnelId
  ) {
    return 0;
  }
  const s = p.srcIp;
  const d = p.dstIp;
  if (
    f.port0 === p.srcPort &&
    f.port1 === p.dstPort &&
    f.ip0[0] === s[0] &&
    f.ip1[0] === d[0] &&
    f.ip0[1] === s[1] &&
    f.ip0[2] === s[2] &&
    f.ip0[3] === s[3] &&
    f.ip1[1] === d[1] &&
    f.ip1[2] === d[2] &&
    f.ip1[3] === d[3]
  ) {
    return 1;
  }
  if (
    f.port0 === p.dstPort &&
    f.port1 === p.srcPort &&
    f.ip0[0] === d[0] &&
    f.ip1[0] === s[0] &&
    f.ip0[1] === d[1] &&
    f.ip0[2] === d[2] &&
    f.ip0[3] === d[3] &&
    f.ip1[1] === s[1] &&
    f.ip1[2] === s[2] &&
    f.ip1[3] === s[3]
  ) {
    return 2;
  }
  return 0;
}
