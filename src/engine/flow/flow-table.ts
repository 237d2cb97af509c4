// Bidirectional flows keyed by (interface, tunnel, IP version, protocol, endpoint pair), with TCP state,
// TCP performance metrics and idle timeouts in packet time. One table per capture source.
// Hot path: open addressing over an Int32Array of slots; every flow lives in one row of a flat buffer
// indexed by a pooled flow index (its key as int32 words in the row's first cache line, then its
// counters and TCP metrics as doubles), so a packet touches a few adjacent cache lines rather than a
// dozen objects and boxed doubles. Nothing is allocated per packet.

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
import { Perf, tcpPerfParse } from './tcp-perf';
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

/** A flow's key: int32 words at the start of its row (index row * 2 + K in `keys`). Endpoint 0 = sender of the flow's first packet. */
const enum K {
  Hash = 0,
  IfIndex = 1,
  /** protocol | ipVersion << 8 | tunnelType << 16 */
  Proto = 2,
  /** port0 << 16 | port1 */
  Ports = 3,
  /** Addresses as 32-bit words, network order (IPv4: word 0 only). */
  Ip0 = 4,
  Ip1 = 8,
  /** Bucket of the open-addressing table holding the flow (for O(1) removal). */
  Slot = 12,
  /** Index in FlowTable.live. */
  LiveIndex = 13,
  /** 1 once L7 is done with the flow (onFlowPacket returned false): its packets only advance L7's clock. */
  L7Done = 14,
}

/** A flow's state: doubles after the key's 64 bytes (index row + F in `state`), then its TCP metrics (tcp-perf.ts). Booleans are 0/1. */
const enum F {
  // Second cache line: what finding the flow and checking its expiry read.
  LastUs = 8,
  TimeoutUs,
  ClientIs0,
  State,
  SynSeq,
  FinCount,
  RstCount,
  /** Not in the key row: a GRE key may use all 32 bits. */
  TunnelId,
  // Third: the per-packet counters (tx = client→server, rx = server→client).
  PacketsTx,
  PacketsRx,
  BytesTx,
  BytesRx,
  PayloadTx,
  PayloadRx,
  FlagsTx,
  FlagsRx,
  // Rarely read.
  SynackSeq,
  StartUs,
  /** flows.flow_id, given when the flow starts (L7 records name it before the flow ends). */
  FlowId,
  FirstWasSyn,
  Vlan,
  TunnelIpVersion,
  Perf,
  /** Doubles per row: Perf + PERF_SIZE (written out: esbuild folds enum arithmetic on same-file
   * values only), padded to whole 64-byte lines. */
  Row = Perf + 128 + 2,
}

/** Outer addresses (tunnel src, then dst, as seen client→server): 8 words per flow, read at close only. */
const TUN_STRIDE = 8;

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
  /** Per-flow rows: two views of one buffer (see K, F); grown by doubling. */
  private keys: Int32Array;
  private state: Float64Array;
  private tunnels: Int32Array;
  /** Flow indexes handed out so far (free ones are reused first). */
  private used = 0;
  private free: number[] = [];
  /** Live flow indexes, for sweeping. */
  private live: number[] = [];
  private nextFlowId: number;
  private readonly flowIdStride: number;
  private readonly l7: L7Engine | null;
  /** Reused for every L7 call (the engine reads it on a flow's first packet only). */
  private readonly l7Info: L7FlowInfo = { ifIndex: 0, observationPoint: 'rest', flowId: 0 };
  /** Scratch for address text at close. */
  private readonly ipWords = new Int32Array(4);
  private lastSweepUs = 0;
  private nowUs = 0;
  /** Counters for the capture summary. */
  flowsEmitted = 0;
  readonly closeTypeCounts = new Map<number, number>();

  constructor(private readonly opts: FlowTableOptions, initialCapacity = 1 << 16) {
    this.slots = new Int32Array(initialCapacity);
    this.mask = initialCapacity - 1;
    const flows = 1024;
    this.state = new Float64Array(flows * F.Row);
    this.keys = new Int32Array(this.state.buffer);
    this.tunnels = new Int32Array(flows * TUN_STRIDE);
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
    const idx = this.find(p, ifIndex, hash);
    let flow = idx >> 1;
    let forward = (idx & 1) === 0; // packet from endpoint 0
    if (idx >= 0) {
      const s = this.state;
      const o = flow * F.Row;
      const flags = p.tcpFlags & 0x3f;
      // Expired in packet time, or a new connection reusing the 5-tuple: close it, start another.
      if (
        tsUs - s[o + F.LastUs] > s[o + F.TimeoutUs] ||
        (p.protocol === IPPROTO_TCP &&
          flags === F_SYN &&
          s[o + F.SynSeq] !== -1 &&
          p.tcpSeq !== s[o + F.SynSeq] &&
          (isFinished(s[o + F.State]) || s[o + F.FinCount] > 0 || s[o + F.RstCount] > 0))
      ) {
        this.close(flow);
        flow = this.create(p, ifIndex, hash);
        forward = true;
      }
    } else {
      flow = this.create(p, ifIndex, hash);
      forward = true;
    }
    const clientIs0 = this.state[flow * F.Row + F.ClientIs0] !== 0;
    const fromClient = forward ? clientIs0 : !clientIs0;
    this.update(flow, p, fromClient);
    if (this.l7 !== null) {
      // Every packet, pure ACKs included: an ACK past bytes the capture lacks reveals a gap early.
      // L7 names the flow by its pooled index (sessions in an array); once it is done with the flow,
      // only the packet's time goes to it (timeouts of other flows run in packet time).
      const k = flow * (F.Row * 2) + K.L7Done;
      if (this.keys[k] === 0) {
        const info = this.l7Info;
        info.ifIndex = ifIndex;
        info.flowId = this.state[flow * F.Row + F.FlowId];
        if (!this.l7.onFlowPacket(flow, p, fromClient, info)) this.keys[k] = 1;
      } else {
        this.l7.advance(tsUs);
      }
    }
  }

  /** The packet's flow: index << 1 | 1 when the packet goes endpoint 1 → 0 (index << 1 when 0 → 1); -1 when none. */
  private find(p: DecodedPacket, ifIndex: number, hash: number): number {
    const slots = this.slots;
    const keys = this.keys;
    const mask = this.mask;
    const proto = p.protocol | (p.ipVersion << 8) | (p.tunnelType << 16);
    const sp = p.srcPort;
    const dp = p.dstPort;
    const s = p.srcIp;
    const d = p.dstIp;
    let i = hash & mask;
    for (;;) {
      const v = slots[i];
      if (v === 0) return -1;
      const k = (v - 1) * (F.Row * 2);
      if (keys[k + K.Hash] === hash && keys[k + K.IfIndex] === ifIndex && keys[k + K.Proto] === proto) {
        const ports = keys[k + K.Ports];
        const sameTunnel = this.state[(v - 1) * F.Row + F.TunnelId] === p.tunnelId;
        if (
          sameTunnel &&
          ports === ((sp << 16) | dp) &&
          keys[k + K.Ip0] === s[0] &&
          keys[k + K.Ip1] === d[0] &&
          keys[k + K.Ip0 + 1] === s[1] &&
          keys[k + K.Ip0 + 2] === s[2] &&
          keys[k + K.Ip0 + 3] === s[3] &&
          keys[k + K.Ip1 + 1] === d[1] &&
          keys[k + K.Ip1 + 2] === d[2] &&
          keys[k + K.Ip1 + 3] === d[3]
        ) {
          return (v - 1) << 1;
        }
        if (
          sameTunnel &&
          ports === ((dp << 16) | sp) &&
          keys[k + K.Ip0] === d[0] &&
          keys[k + K.Ip1] === s[0] &&
          keys[k + K.Ip0 + 1] === d[1] &&
          keys[k + K.Ip0 + 2] === d[2] &&
          keys[k + K.Ip0 + 3] === d[3] &&
          keys[k + K.Ip1 + 1] === s[1] &&
          keys[k + K.Ip1 + 2] === s[2] &&
          keys[k + K.Ip1 + 3] === s[3]
        ) {
          return ((v - 1) << 1) | 1;
        }
      }
      i = (i + 1) & mask;
    }
  }

  private create(p: DecodedPacket, ifIndex: number, hash: number): number {
    let flow: number;
    if (this.free.length > 0) {
      flow = this.free.pop()!;
    } else {
      flow = this.used++;
      if ((flow + 1) * F.Row > this.state.length) this.growRows();
    }
    const keys = this.keys;
    const o = flow * F.Row;
    const k = o * 2;
    keys[k + K.Hash] = hash;
    keys[k + K.IfIndex] = ifIndex;
    keys[k + K.Proto] = p.protocol | (p.ipVersion << 8) | (p.tunnelType << 16);
    keys[k + K.Ports] = (p.srcPort << 16) | p.dstPort;
    keys.set(p.srcIp, k + K.Ip0);
    keys.set(p.dstIp, k + K.Ip1);
    keys[k + K.L7Done] = 0;

    const s = this.state;
    const tsUs = p.tsUs;
    const flags = p.tcpFlags & 0x3f;
    const clientIs0 = decideClientIs0(p, flags);
    s[o + F.LastUs] = tsUs;
    s[o + F.StartUs] = tsUs;
    s.fill(0, o + F.PacketsTx, o + F.FlagsRx + 1);
    s[o + F.FinCount] = 0;
    s[o + F.RstCount] = 0;
    s[o + F.SynSeq] = -1;
    s[o + F.SynackSeq] = -1;
    s[o + F.State] = TcpState.Raw;
    s[o + F.ClientIs0] = clientIs0 ? 1 : 0;
    s[o + F.TunnelId] = p.tunnelId;
    s[o + F.FlowId] = this.nextFlowId;
    s[o + F.FirstWasSyn] = p.protocol === IPPROTO_TCP && flags === F_SYN ? 1 : 0;
    s[o + F.Vlan] = p.vlan;
    s[o + F.TunnelIpVersion] = p.tunnelIpVersion;
    // Pooled rows: a non-TCP flow may keep the metrics of an earlier TCP flow (never read for it).
    // All zero is the metrics' initial state; past their counts, sequence ranges are never read.
    if (p.protocol === IPPROTO_TCP) {
      s.fill(0, o + F.Perf, o + F.Perf + Perf.SeqsClient + 1);
      s[o + F.Perf + Perf.SeqsServer] = 0;
    }
    s[o + F.TimeoutUs] = SINGLE_DIRECTION_TIMEOUT_US;
    this.nextFlowId += this.flowIdStride;
    // Outer header as seen on client→server packets (DeepFlow's tunnel tx fields).
    const t = flow * TUN_STRIDE;
    this.tunnels.set(clientIs0 ? p.tunnelSrc : p.tunnelDst, t);
    this.tunnels.set(clientIs0 ? p.tunnelDst : p.tunnelSrc, t + 4);

    keys[k + K.LiveIndex] = this.live.length;
    this.live.push(flow);
    if ((this.live.length << 1) > this.slots.length) this.grow();
    const slots = this.slots;
    const mask = this.mask;
    let i = hash & mask;
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = flow + 1;
    keys[k + K.Slot] = i;
    return flow;
  }

  private update(flow: number, p: DecodedPacket, fromClient: boolean): void {
    const s = this.state;
    const o = flow * F.Row;
    const tsUs = p.tsUs;
    const frameLen = p.frameLen;
    if (tsUs > s[o + F.LastUs]) s[o + F.LastUs] = tsUs;
    const flags = p.tcpFlags;
    if (fromClient) {
      s[o + F.PacketsTx]++;
      s[o + F.BytesTx] += frameLen;
      s[o + F.PayloadTx] += p.payloadLen;
      s[o + F.FlagsTx] = s[o + F.FlagsTx] | flags;
    } else {
      s[o + F.PacketsRx]++;
      s[o + F.BytesRx] += frameLen;
      s[o + F.PayloadRx] += p.payloadLen;
      s[o + F.FlagsRx] = s[o + F.FlagsRx] | flags;
    }
    const oneWay = s[o + F.PacketsTx] === 0 || s[o + F.PacketsRx] === 0;
    if (p.protocol !== IPPROTO_TCP) {
      s[o + F.TimeoutUs] = oneWay ? SINGLE_DIRECTION_TIMEOUT_US : UDP_TIMEOUT_US;
      return;
    }
    if (flags & F_FIN) s[o + F.FinCount]++;
    if (flags & F_RST) s[o + F.RstCount]++;
    if ((flags & 0x3f) === F_SYN && s[o + F.SynSeq] === -1) s[o + F.SynSeq] = p.tcpSeq;
    else if ((flags & 0x3f) === (F_SYN | F_ACK) && !fromClient && s[o + F.SynackSeq] === -1) s[o + F.SynackSeq] = p.tcpSeq;
    const prev: TcpState = s[o + F.State];
    const next = nextState(prev, flags, fromClient);
    s[o + F.State] = next;
    s[o + F.TimeoutUs] = oneWay ? SINGLE_DIRECTION_TIMEOUT_US : stateTimeoutUs(next, prev);
    tcpPerfParse(s, o + F.Perf, p, fromClient);
  }

  /** Emits flows idle past their timeout (packet time). */
  sweep(nowUs: number): void {
    const live = this.live;
    for (let k = live.length - 1; k >= 0; k--) {
      const o = live[k] * F.Row;
      if (nowUs - this.state[o + F.LastUs] > this.state[o + F.TimeoutUs]) this.close(live[k]);
    }
  }

  /** End of input: emits every remaining flow. */
  flushAll(): void {
    const live = this.live;
    for (let k = live.length - 1; k >= 0; k--) this.close(live[k]);
  }

  private close(flow: number): void {
    const rec = this.toRecord(flow);
    // Before remove(): the pooled index (L7's name for the flow) may be reused for a new flow at once.
    if (this.l7 !== null) rec.l7Protocol = this.l7.onFlowEndAt(flow, rec.flowId);
    this.closeTypeCounts.set(rec.closeType, (this.closeTypeCounts.get(rec.closeType) ?? 0) + 1);
    this.flowsEmitted++;
    this.opts.onFlow(rec);
    this.remove(flow);
  }

  private remove(flow: number): void {
    // Backward-shift deletion keeps linear probing correct without tombstones.
    const slots = this.slots;
    const keys = this.keys;
    const mask = this.mask;
    let i = keys[flow * (F.Row * 2) + K.Slot];
    slots[i] = 0;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const s = slots[j];
      if (s === 0) break;
      const g = (s - 1) * (F.Row * 2);
      const home = keys[g + K.Hash] & mask;
      // Move g back to i if its home is not in the cyclic range (i, j].
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!inRange) {
        slots[i] = s;
        keys[g + K.Slot] = i;
        slots[j] = 0;
        i = j;
      }
    }
    // Remove from the live list by swapping in the last element.
    const li = keys[flow * (F.Row * 2) + K.LiveIndex];
    const last = this.live.pop()!;
    if (li < this.live.length) {
      this.live[li] = last;
      keys[last * (F.Row * 2) + K.LiveIndex] = li;
    }
    this.free.push(flow);
  }

  /** Doubles the per-flow rows. */
  private growRows(): void {
    const state = new Float64Array(this.state.length * 2);
    state.set(this.state);
    this.state = state;
    this.keys = new Int32Array(state.buffer);
    const tunnels = new Int32Array(this.tunnels.length * 2);
    tunnels.set(this.tunnels);
    this.tunnels = tunnels;
  }

  /** Doubles the open-addressing table. */
  private grow(): void {
    const old = this.slots;
    const keys = this.keys;
    const cap = old.length * 2;
    const slots = new Int32Array(cap);
    const mask = cap - 1;
    for (let k = 0; k < old.length; k++) {
      const s = old[k];
      if (s === 0) continue;
      const g = (s - 1) * (F.Row * 2);
      let i = keys[g + K.Hash] & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = s;
      keys[g + K.Slot] = i;
    }
    this.slots = slots;
    this.mask = mask;
  }

  private ipText(version: number, src: Int32Array, at: number): string {
    const w = this.ipWords;
    w[0] = src[at];
    w[1] = src[at + 1];
    w[2] = src[at + 2];
    w[3] = src[at + 3];
    return ipToString(version, w);
  }

  private toRecord(flow: number): FlowRecord {
    const s = this.state;
    const o = flow * F.Row;
    const k = o * 2;
    const keys = this.keys;
    const c = s[o + F.ClientIs0] !== 0;
    const protoKey = keys[k + K.Proto];
    const protocol = protoKey & 0xff;
    const ipVersion = (protoKey >> 8) & 0xff;
    const tunnelType = protoKey >> 16;
    const ports = keys[k + K.Ports];
    const port0 = ports >>> 16;
    const port1 = ports & 0xffff;
    const isTcp = protocol === IPPROTO_TCP;
    // Pooled rows: a non-TCP flow may hold the metrics of an earlier TCP flow.
    const m = o + F.Perf;
    const packetsRx = s[o + F.PacketsRx];
    const closeType = isTcp
      ? closeTypeOf(s[o + F.State], s[o + F.FlagsTx], s[o + F.FlagsRx], packetsRx)
      : CloseType.Timeout;
    const tunnelIpVersion = s[o + F.TunnelIpVersion];
    const t = flow * TUN_STRIDE;
    return {
      flowId: s[o + F.FlowId],
      captureId: this.opts.captureId,
      ifIndex: keys[k + K.IfIndex],
      // Decided after import from what the whole capture shows (observation.ts).
      observationPoint: 'rest',
      startTime: s[o + F.StartUs],
      endTime: s[o + F.LastUs],
      ipVersion,
      protocol,
      clientIp: this.ipText(ipVersion, keys, k + (c ? K.Ip0 : K.Ip1)),
      serverIp: this.ipText(ipVersion, keys, k + (c ? K.Ip1 : K.Ip0)),
      clientPort: c ? port0 : port1,
      serverPort: c ? port1 : port0,
      tunnelType: TUNNEL_NAMES[tunnelType] ?? '',
      tunnelId: s[o + F.TunnelId],
      tunnelOuterSrc: tunnelType ? this.ipText(tunnelIpVersion, this.tunnels, t) : '',
      tunnelOuterDst: tunnelType ? this.ipText(tunnelIpVersion, this.tunnels, t + 4) : '',
      vlan: s[o + F.Vlan],
      packetsTx: s[o + F.PacketsTx],
      packetsRx,
      bytesTx: s[o + F.BytesTx],
      bytesRx: s[o + F.BytesRx],
      payloadTx: s[o + F.PayloadTx],
      payloadRx: s[o + F.PayloadRx],
      synCount: isTcp ? s[m + Perf.Syn] : 0,
      synackCount: isTcp ? s[m + Perf.Synack] : 0,
      finCount: s[o + F.FinCount],
      rstCount: s[o + F.RstCount],
      retransTx: isTcp ? s[m + Perf.RetransTx] : 0,
      retransRx: isTcp ? s[m + Perf.RetransRx] : 0,
      zeroWinTx: isTcp ? s[m + Perf.ZeroWinTx] : 0,
      zeroWinRx: isTcp ? s[m + Perf.ZeroWinRx] : 0,
      oooTx: isTcp ? s[m + Perf.OooTx] : 0,
      oooRx: isTcp ? s[m + Perf.OooRx] : 0,
      rtt: isTcp ? s[m + Perf.RttFull] : 0,
      rttClient: isTcp ? s[m + Perf.RttClient + 2] : 0, // (count, sum, max): max
      rttServer: isTcp ? s[m + Perf.RttServer + 2] : 0,
      srtSum: isTcp ? s[m + Perf.SrtServer + 1] : 0,
      srtCount: isTcp ? s[m + Perf.SrtServer] : 0,
      srtMax: isTcp ? s[m + Perf.SrtServer + 2] : 0,
      artSum: isTcp ? s[m + Perf.ArtServer + 1] : 0,
      artCount: isTcp ? s[m + Perf.ArtServer] : 0,
      artMax: isTcp ? s[m + Perf.ArtServer + 2] : 0,
      citSum: isTcp ? s[m + Perf.Cit + 1] : 0,
      citCount: isTcp ? s[m + Perf.Cit] : 0,
      citMax: isTcp ? s[m + Perf.Cit + 2] : 0,
      closeType,
      handshakeSeen: s[o + F.FirstWasSyn] !== 0,
      synSeq: isTcp ? s[o + F.SynSeq] : -1,
      synackSeq: isTcp ? s[o + F.SynackSeq] : -1,
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
