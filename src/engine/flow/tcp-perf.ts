// TCP performance metrics of one flow, with DeepFlow's definitions (SPEC.md "Flows and TCP metrics",
// deepflow-notes.md §2.2), so that DeepFlow's golden vectors come out exactly:
//   rtt_server = SYN-ACK − first SYN        rtt_client = handshake ACK − first SYN-ACK
//   rtt        = handshake ACK − first SYN   srt = data → the peer's pure ACK of it (≤ 10 s)
//   art        = last client packet → first server data continuing its sequence (≤ 30 s)
//   cit        = client idle time before a request
// The state is PERF_SIZE doubles at an offset of a Float64Array: the flow table keeps it inside each
// flow's block of one big array, so a packet touches a few adjacent cache lines instead of a dozen
// objects and boxed doubles. TcpPerf wraps one block for use on its own. Nothing is allocated per packet.

import type { DecodedPacket } from '../decode/packet';
import { SeqVerdict, addSeqRange } from './seq-ranges';

const F_FIN = 0x01;
const F_SYN = 0x02;
const F_RST = 0x04;
const F_PSH = 0x08;
const F_ACK = 0x10;
const F_URG = 0x20;
const MASK = 0x3f;

const RTT_MAX_US = 30e6;
const SRT_MAX_US = 10e6;
const ART_MAX_US = 30e6;
const WSCALE_KNOWN = 0x80;

/** One direction's view (offsets within its peer block): what it last sent and what may be measured next. Booleans are 0/1. */
const enum P {
  Timestamp = 0,
  /** Client: first SYN; server: first SYN-ACK. */
  FirstHandshakeUs = 1,
  /** ISN + 1 of this side (0 = unknown). */
  SeqThreshold = 2,
  Seq = 3,
  PayloadLen = 4,
  WinScale = 5,
  SynSent = 6,
  HandshakeAckSeen = 7,
  SrtCalculable = 8,
  RttCalculable = 9,
  ArtCalculable = 10,
  /** The SYN came before the SYN-ACK, so the full handshake time can be measured. */
  RttFullPrecondition = 11,
  RttFullCalculable = 12,
  Size = 13,
}

/** Offsets within a flow's metrics block. Time stats are (count, sum, max) triples. */
export const enum Perf {
  Handshaking = 0,
  Client = 1,
  Server = Client + P.Size,
  /** rtt_0 in DeepFlow: client handshake ACK − first SYN-ACK. */
  RttClient = Server + P.Size,
  /** rtt_1: SYN-ACK − first SYN. */
  RttServer = RttClient + 3,
  ArtClient = RttServer + 3,
  ArtServer = ArtClient + 3,
  SrtClient = ArtServer + 3,
  SrtServer = SrtClient + 3,
  Cit = SrtServer + 3,
  RttFull = Cit + 3,
  RetransTx,
  RetransRx,
  RetransSynTx,
  RetransSynRx,
  ZeroWinTx,
  ZeroWinRx,
  OooTx,
  OooRx,
  Syn,
  Synack,
  RetransSyn,
  RetransSynack,
  /** Segments that overlapped seen data inconsistently (DeepFlow: invalid packets). */
  Invalid,
  /** Sequence ranges of the client's, then the server's data (seq-ranges.ts). */
  SeqsClient,
  // 33 = SEQ_RANGES_SIZE written out: esbuild folds enum arithmetic on same-file values only.
  SeqsServer = SeqsClient + 33,
  Size = SeqsServer + 33,
}

/** Doubles one flow's metrics take; all zero is the initial state. Typed as a literal so that the
 * compiler checks the copies written out in flow-table.ts. */
export const PERF_SIZE: 128 = Perf.Size;

export interface TimeStat {
  readonly count: number;
  readonly sum: number;
  readonly max: number;
}

function addTime(s: Float64Array, at: number, d: number): void {
  s[at]++;
  s[at + 1] += d;
  if (d > s[at + 2]) s[at + 2] = d;
}

/**
 * Feeds one TCP packet (p.tsUs must be set) to the metrics at s[o, o + PERF_SIZE); fromClient: its
 * direction. Fields are read from the packet object: passing 32-bit sequence numbers and µs
 * timestamps as arguments would box them (they exceed V8's small-integer range) on every packet.
 */
export function tcpPerfParse(s: Float64Array, o: number, p: DecodedPacket, fromClient: boolean): void {
  const tsUs = p.tsUs;
  const flags = p.tcpFlags & MASK;
  const seq = p.tcpSeq;
  const ack = p.tcpAck;
  const payloadLen = p.payloadLen;
  const client = o + Perf.Client;
  const server = o + Perf.Server;
  const same = fromClient ? client : server;
  const oppo = fromClient ? server : client;
  if (!isInteresting(flags)) {
    s[same + P.SrtCalculable] = s[same + P.ArtCalculable] = s[same + P.RttFullPrecondition] = s[same + P.RttFullCalculable] = 0;
    s[oppo + P.SrtCalculable] = s[oppo + P.ArtCalculable] = s[oppo + P.RttFullPrecondition] = s[oppo + P.RttFullCalculable] = 0;
    return;
  }
  // Out-of-time-order packets are not measured (they would produce negative intervals).
  if (tsUs < s[client + P.Timestamp] || tsUs < s[server + P.Timestamp]) return;

  const isSyn = flags === F_SYN;
  const isSynAck = flags === (F_SYN | F_ACK) && payloadLen === 0;
  const isAck = flags === F_ACK && payloadLen === 0;
  const isPshAck = flags === (F_PSH | F_ACK) && payloadLen > 1;

  // Retransmission / validity (DeepFlow: is_invalid_retrans_packet).
  let invalid = false;
  if (isSyn) {
    if (s[same + P.SeqThreshold] === 0) {
      s[same + P.SeqThreshold] = (seq + 1) >>> 0;
      s[same + P.FirstHandshakeUs] = tsUs;
      s[o + Perf.Handshaking] = 1;
    } else if (s[same + P.SynSent] !== 0) {
      countRetrans(s, o, fromClient, true);
      s[o + Perf.RetransSyn]++;
    }
    s[same + P.SynSent] = 1;
  } else if (isSynAck) {
    if (s[same + P.SeqThreshold] === 0) {
      s[same + P.FirstHandshakeUs] = tsUs;
      s[same + P.SeqThreshold] = (seq + 1) >>> 0;
      if (s[oppo + P.SeqThreshold] === 0) s[oppo + P.SeqThreshold] = ack;
      else s[oppo + P.RttFullPrecondition] = 1;
    } else {
      countRetrans(s, o, fromClient, true);
      s[o + Perf.RetransSynack]++;
    }
  } else if (isAck) {
    // A pure ACK cannot be told from a keep-alive, so it is never a retransmission.
    // During the handshake a client ACK keeps it open and a server ACK closes it; a later ACK
    // never reopens it (DeepFlow's rtt-rtt-2 / syn-ack-ack-retrans dumps pin this down).
    if (s[o + Perf.Handshaking] !== 0) s[o + Perf.Handshaking] = fromClient ? 1 : 0;
  } else if (payloadLen > 1) {
    const v = addSeqRange(s, o + (fromClient ? Perf.SeqsClient : Perf.SeqsServer), p);
    if (v === SeqVerdict.Retrans) countRetrans(s, o, fromClient, false);
    else if (v === SeqVerdict.Error) invalid = true;
    else if (v === SeqVerdict.OutOfOrder) s[o + (fromClient ? Perf.OooTx : Perf.OooRx)]++;
  }

  if (invalid) {
    s[o + Perf.Invalid]++;
    s[client + P.SrtCalculable] = s[client + P.ArtCalculable] = 0;
    s[server + P.SrtCalculable] = s[server + P.ArtCalculable] = 0;
  } else {
    if (s[o + Perf.Handshaking] !== 0) {
      s[o + Perf.Handshaking] = opening(s, o, same, oppo, fromClient, p, isSyn, isSynAck, isAck) ? 1 : 0;
    }
    if (s[o + Perf.Handshaking] === 0) established(s, o, same, oppo, fromClient, p, isAck, isPshAck);
    if (isSyn) s[o + Perf.Syn]++;
    if (isSynAck) s[o + Perf.Synack]++;
  }

  s[same + P.Timestamp] = tsUs;
  s[same + P.PayloadLen] = flags & F_SYN ? 1 : payloadLen;
  s[same + P.Seq] = seq;
}

function countRetrans(s: Float64Array, o: number, fromClient: boolean, syn: boolean): void {
  if (fromClient) {
    s[o + Perf.RetransTx]++;
    if (syn) s[o + Perf.RetransSynTx]++;
  } else {
    s[o + Perf.RetransRx]++;
    if (syn) s[o + Perf.RetransSynRx]++;
  }
}

/** Handshake phase: RTTs. Returns whether the flow is still opening. */
function opening(
  s: Float64Array,
  o: number,
  same: number,
  oppo: number,
  fromClient: boolean,
  p: DecodedPacket,
  isSyn: boolean,
  isSynAck: boolean,
  isAck: boolean,
): boolean {
  const tsUs = p.tsUs;
  const ack = p.tcpAck;
  const wscale = p.tcpWscale;
  const isHandshakeAck = isAck && s[oppo + P.SeqThreshold] === ack;
  if (s[same + P.RttCalculable] !== 0 && ack === ((s[oppo + P.Seq] + s[oppo + P.PayloadLen]) >>> 0)) {
    if ((isHandshakeAck || isSynAck) && s[oppo + P.FirstHandshakeUs] !== 0) {
      const rtt = clamp(tsUs - s[oppo + P.FirstHandshakeUs], RTT_MAX_US);
      if (rtt !== 0) addTime(s, o + (fromClient ? Perf.RttClient : Perf.RttServer), rtt);
      // Measured once per SYN / SYN-ACK: a repeated ACK (keep-alive) must not measure again.
      s[same + P.RttCalculable] = 0;
    }
  }
  if (s[same + P.RttFullCalculable] !== 0 && isHandshakeAck) {
    const rtt = clamp(tsUs - s[same + P.FirstHandshakeUs], RTT_MAX_US);
    if (rtt !== 0) s[o + Perf.RttFull] = rtt;
    s[same + P.RttFullCalculable] = 0;
  }
  let isOpening: boolean;
  if (isSyn || isSynAck) {
    if (wscale > 0) s[same + P.WinScale] = WSCALE_KNOWN | Math.min(wscale, 14);
    s[same + P.RttCalculable] = 1;
    s[same + P.SrtCalculable] = s[same + P.ArtCalculable] = 0;
    s[oppo + P.RttCalculable] = 1;
    s[oppo + P.SrtCalculable] = s[oppo + P.ArtCalculable] = 0;
    if (isSynAck && s[oppo + P.RttFullPrecondition] !== 0) s[oppo + P.RttFullCalculable] = 1;
    isOpening = true;
  } else {
    if (!isAck) {
      s[same + P.RttCalculable] = s[oppo + P.RttCalculable] = 0;
      s[same + P.RttFullCalculable] = 0;
    }
    isOpening = isAck;
  }
  if (isHandshakeAck) s[same + P.HandshakeAckSeen] = 1;
  return isOpening;
}

/** Established phase: SRT, ART, zero window, CIT. */
function established(
  s: Float64Array,
  o: number,
  same: number,
  oppo: number,
  fromClient: boolean,
  p: DecodedPacket,
  isAck: boolean,
  isPshAck: boolean,
): void {
  const tsUs = p.tsUs;
  const seq = p.tcpSeq;
  const ack = p.tcpAck;
  const payloadLen = p.payloadLen;
  if (s[same + P.SrtCalculable] !== 0 && isAck && ack === ((s[oppo + P.Seq] + s[oppo + P.PayloadLen]) >>> 0)) {
    const srt = clamp(tsUs - s[oppo + P.Timestamp], SRT_MAX_US);
    if (srt !== 0) addTime(s, o + (fromClient ? Perf.SrtClient : Perf.SrtServer), srt);
  }
  if (s[same + P.ArtCalculable] !== 0 && payloadLen > 1 && seq === ((s[same + P.Seq] + s[same + P.PayloadLen]) >>> 0)) {
    const art = clamp(tsUs - s[oppo + P.Timestamp], ART_MAX_US);
    if (art !== 0) addTime(s, o + (fromClient ? Perf.ArtClient : Perf.ArtServer), art);
  }
  if (isAck) {
    s[same + P.SrtCalculable] = 0;
    s[oppo + P.SrtCalculable] = s[oppo + P.ArtCalculable] = 0;
  } else if (isPshAck) {
    s[same + P.SrtCalculable] = s[same + P.ArtCalculable] = 0;
    s[oppo + P.SrtCalculable] = s[oppo + P.ArtCalculable] = 1;
  } else {
    s[same + P.SrtCalculable] = s[same + P.ArtCalculable] = 0;
    s[oppo + P.SrtCalculable] = s[oppo + P.ArtCalculable] = 0;
  }
  let win = p.tcpWindow;
  const sameScale = s[same + P.WinScale];
  if (sameScale & s[oppo + P.WinScale] & WSCALE_KNOWN) win = win * (1 << (sameScale & 0x0f));
  if (win === 0) s[o + (fromClient ? Perf.ZeroWinTx : Perf.ZeroWinRx)]++;
  // Client idle time before a request (payload > 1: a 1-byte payload may be a keep-alive).
  if (fromClient && isPshAck) {
    if (s[same + P.HandshakeAckSeen] !== 0) {
      s[same + P.HandshakeAckSeen] = 0;
      addTime(s, o + Perf.Cit, tsUs - Math.max(s[same + P.Timestamp], s[oppo + P.Timestamp]));
    } else if (s[oppo + P.PayloadLen] > 1 && (s[same + P.PayloadLen] <= 1 || s[oppo + P.Timestamp] > s[same + P.Timestamp])) {
      addTime(s, o + Perf.Cit, tsUs - s[oppo + P.Timestamp]);
    }
  }
}

function clamp(d: number, max: number): number {
  return d > max ? 0 : d;
}

/** DeepFlow ignores packets with impossible flag sets and FIN/RST packets for performance metrics. */
function isInteresting(flags: number): boolean {
  if (flags & F_SYN) {
    if (flags & (F_FIN | F_RST)) return false;
  } else if (!(flags & (F_ACK | F_RST))) {
    return false;
  }
  if (!(flags & F_ACK) && flags & (F_PSH | F_FIN | F_URG)) return false;
  return (flags & (F_FIN | F_RST)) === 0;
}

function timeStat(s: Float64Array, at: number): TimeStat {
  return { count: s[at], sum: s[at + 1], max: s[at + 2] };
}

/** One flow's metrics in a block of their own (tests, tools); the flow table calls tcpPerfParse in place. */
export class TcpPerf {
  readonly s = new Float64Array(PERF_SIZE);

  reset(): void {
    this.s.fill(0);
  }

  /** Feeds one TCP packet (p.tsUs must be set); fromClient: its direction. */
  parse(p: DecodedPacket, fromClient: boolean): void {
    tcpPerfParse(this.s, 0, p, fromClient);
  }

  get rttClient(): TimeStat {
    return timeStat(this.s, Perf.RttClient);
  }
  get rttServer(): TimeStat {
    return timeStat(this.s, Perf.RttServer);
  }
  get artClient(): TimeStat {
    return timeStat(this.s, Perf.ArtClient);
  }
  get artServer(): TimeStat {
    return timeStat(this.s, Perf.ArtServer);
  }
  get srtClient(): TimeStat {
    return timeStat(this.s, Perf.SrtClient);
  }
  get srtServer(): TimeStat {
    return timeStat(this.s, Perf.SrtServer);
  }
  get cit(): TimeStat {
    return timeStat(this.s, Perf.Cit);
  }
  get rttFull(): number {
    return this.s[Perf.RttFull];
  }
  get retransTx(): number {
    return this.s[Perf.RetransTx];
  }
  get retransRx(): number {
    return this.s[Perf.RetransRx];
  }
  get zeroWinTx(): number {
    return this.s[Perf.ZeroWinTx];
  }
  get zeroWinRx(): number {
    return this.s[Perf.ZeroWinRx];
  }
  get oooTx(): number {
    return this.s[Perf.OooTx];
  }
  get oooRx(): number {
    return this.s[Perf.OooRx];
  }
  get syn(): number {
    return this.s[Perf.Syn];
  }
  get synack(): number {
    return this.s[Perf.Synack];
  }
  get retransSyn(): number {
    return this.s[Perf.RetransSyn];
  }
  get retransSynack(): number {
    return this.s[Perf.RetransSynack];
  }
  get invalid(): number {
    return this.s[Perf.Invalid];
  }
}
