// TCP performance metrics of one flow, with DeepFlow's definitions (SPEC.md "Flows and TCP metrics",
// deepflow-notes.md §2.2), so that DeepFlow's golden vectors come out exactly:
//   rtt_server = SYN-ACK − first SYN        rtt_client = handshake ACK − first SYN-ACK
//   rtt        = handshake ACK − first SYN   srt = data → the peer's pure ACK of it (≤ 10 s)
//   art        = last client packet → first server data continuing its sequence (≤ 30 s)
//   cit        = client idle time before a request
// One object per TCP flow (pooled with it); parse() runs per packet and allocates nothing.

import type { DecodedPacket } from '../decode/packet';
import { SeqRanges, SeqVerdict } from './seq-ranges';

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

/** One direction's view: what it last sent and what may be measured next. */
class Peer {
  readonly seqs = new SeqRanges();
  timestamp = 0;
  /** Client: first SYN; server: first SYN-ACK. */
  firstHandshakeUs = 0;
  /** ISN + 1 of this side (0 = unknown). */
  seqThreshold = 0;
  seq = 0;
  payloadLen = 0;
  winScale = 0;
  synSent = false;
  handshakeAckSeen = false;
  srtCalculable = false;
  rttCalculable = false;
  artCalculable = false;
  /** The SYN came before the SYN-ACK, so the full handshake time can be measured. */
  rttFullPrecondition = false;
  rttFullCalculable = false;

  reset(): void {
    this.seqs.reset();
    this.timestamp = 0;
    this.firstHandshakeUs = 0;
    this.seqThreshold = 0;
    this.seq = 0;
    this.payloadLen = 0;
    this.winScale = 0;
    this.synSent = false;
    this.handshakeAckSeen = false;
    this.srtCalculable = false;
    this.rttCalculable = false;
    this.artCalculable = false;
    this.rttFullPrecondition = false;
    this.rttFullCalculable = false;
  }
}

export class TimeStat {
  count = 0;
  sum = 0;
  max = 0;
  add(d: number): void {
    this.count++;
    this.sum += d;
    if (d > this.max) this.max = d;
  }
  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }
}

export class TcpPerf {
  private readonly client = new Peer();
  private readonly server = new Peer();
  private handshaking = false;

  /** rtt_0 in DeepFlow: client handshake ACK − first SYN-ACK. */
  readonly rttClient = new TimeStat();
  /** rtt_1: SYN-ACK − first SYN. */
  readonly rttServer = new TimeStat();
  readonly artClient = new TimeStat();
  readonly artServer = new TimeStat();
  readonly srtClient = new TimeStat();
  readonly srtServer = new TimeStat();
  readonly cit = new TimeStat();
  rttFull = 0;
  retransTx = 0;
  retransRx = 0;
  retransSynTx = 0;
  retransSynRx = 0;
  zeroWinTx = 0;
  zeroWinRx = 0;
  oooTx = 0;
  oooRx = 0;
  syn = 0;
  synack = 0;
  retransSyn = 0;
  retransSynack = 0;
  /** Segments that overlapped seen data inconsistently (DeepFlow: invalid packets). */
  invalid = 0;

  reset(): void {
    this.client.reset();
    this.server.reset();
    this.handshaking = false;
    this.rttClient.reset();
    this.rttServer.reset();
    this.artClient.reset();
    this.artServer.reset();
    this.srtClient.reset();
    this.srtServer.reset();
    this.cit.reset();
    this.rttFull = 0;
    this.retransTx = this.retransRx = this.retransSynTx = this.retransSynRx = 0;
    this.zeroWinTx = this.zeroWinRx = this.oooTx = this.oooRx = 0;
    this.syn = this.synack = this.retransSyn = this.retransSynack = 0;
    this.invalid = 0;
  }

  /**
   * Feeds one TCP packet (p.tsUs must be set); fromClient: its direction.
   */
  parse(p: DecodedPacket, fromClient: boolean): void {
    // Fields are read from the packet object: passing 32-bit sequence numbers and µs timestamps as
    // arguments would box them (they exceed V8's small-integer range) on every packet.
    const tsUs = p.tsUs;
    const flags = p.tcpFlags & MASK;
    const seq = p.tcpSeq;
    const ack = p.tcpAck;
    const payloadLen = p.payloadLen;
    const same = fromClient ? this.client : this.server;
    const oppo = fromClient ? this.server : this.client;
    if (!isInteresting(flags)) {
      same.srtCalculable = same.artCalculable = same.rttFullPrecondition = same.rttFullCalculable = false;
      oppo.srtCalculable = oppo.artCalculable = oppo.rttFullPrecondition = oppo.rttFullCalculable = false;
      return;
    }
    // Out-of-time-order packets are not measured (they would produce negative intervals).
    if (tsUs < this.client.timestamp || tsUs < this.server.timestamp) return;

    const isSyn = flags === F_SYN;
    const isSynAck = flags === (F_SYN | F_ACK) && payloadLen === 0;
    const isAck = flags === F_ACK && payloadLen === 0;
    const isPshAck = flags === (F_PSH | F_ACK) && payloadLen > 1;

    // Retransmission / validity (DeepFlow: is_invalid_retrans_packet).
    let invalid = false;
    if (isSyn) {
      if (same.seqThreshold === 0) {
        same.seqThreshold = (seq + 1) >>> 0;
        same.firstHandshakeUs = tsUs;
        this.handshaking = true;
      } else if (same.synSent) {
        this.countRetrans(fromClient, true);
        this.retransSyn++;
      }
      same.synSent = true;
    } else if (isSynAck) {
      if (same.seqThreshold === 0) {
        same.firstHandshakeUs = tsUs;
        same.seqThreshold = (seq + 1) >>> 0;
        if (oppo.seqThreshold === 0) oppo.seqThreshold = ack;
        else oppo.rttFullPrecondition = true;
      } else {
        this.countRetrans(fromClient, true);
        this.retransSynack++;
      }
    } else if (isAck) {
      // A pure ACK cannot be told from a keep-alive, so it is never a retransmission.
      // During the handshake a client ACK keeps it open and a server ACK closes it; a later ACK
      // never reopens it (DeepFlow's rtt-rtt-2 / syn-ack-ack-retrans dumps pin this down).
      if (this.handshaking) this.handshaking = fromClient;
    } else if (payloadLen > 1) {
      const v = same.seqs.addSegment(p);
      if (v === SeqVerdict.Retrans) this.countRetrans(fromClient, false);
      else if (v === SeqVerdict.Error) invalid = true;
      else if (v === SeqVerdict.OutOfOrder) {
        if (fromClient) this.oooTx++;
        else this.oooRx++;
      }
    }

    if (invalid) {
      this.invalid++;
      this.client.srtCalculable = this.client.artCalculable = false;
      this.server.srtCalculable = this.server.artCalculable = false;
    } else {
      if (this.handshaking) this.handshaking = this.opening(same, oppo, fromClient, p, isSyn, isSynAck, isAck);
      if (!this.handshaking) this.established(same, oppo, fromClient, p, isAck, isPshAck);
      if (isSyn) this.syn++;
      if (isSynAck) this.synack++;
    }

    same.timestamp = tsUs;
    same.payloadLen = flags & F_SYN ? 1 : payloadLen;
    same.seq = seq;
  }

  private countRetrans(fromClient: boolean, syn: boolean): void {
    if (fromClient) {
      this.retransTx++;
      if (syn) this.retransSynTx++;
    } else {
      this.retransRx++;
      if (syn) this.retransSynRx++;
    }
  }

  /** Handshake phase: RTTs. Returns whether the flow is still opening. */
  private opening(
    same: Peer,
    oppo: Peer,
    fromClient: boolean,
    p: DecodedPacket,
    isSyn: boolean,
    isSynAck: boolean,
    isAck: boolean,
  ): boolean {
    const tsUs = p.tsUs;
    const ack = p.tcpAck;
    const wscale = p.tcpWscale;
    const isHandshakeAck = isAck && oppo.seqThreshold === ack;
    if (same.rttCalculable && ack === ((oppo.seq + oppo.payloadLen) >>> 0)) {
      if ((isHandshakeAck || isSynAck) && oppo.firstHandshakeUs !== 0) {
        const rtt = clamp(tsUs - oppo.firstHandshakeUs, RTT_MAX_US);
        if (rtt !== 0) (fromClient ? this.rttClient : this.rttServer).add(rtt);
        // Measured once per SYN / SYN-ACK: a repeated ACK (keep-alive) must not measure again.
        same.rttCalculable = false;
      }
    }
    if (same.rttFullCalculable && isHandshakeAck) {
      const rtt = clamp(tsUs - same.firstHandshakeUs, RTT_MAX_US);
      if (rtt !== 0) this.rttFull = rtt;
      same.rttFullCalculable = false;
    }
    let isOpening: boolean;
    if (isSyn || isSynAck) {
      if (wscale > 0) same.winScale = WSCALE_KNOWN | Math.min(wscale, 14);
      same.rttCalculable = true;
      same.srtCalculable = same.artCalculable = false;
      oppo.rttCalculable = true;
      oppo.srtCalculable = oppo.artCalculable = false;
      if (isSynAck && oppo.rttFullPrecondition) oppo.rttFullCalculable = true;
      isOpening = true;
    } else {
      if (!isAck) {
        same.rttCalculable = oppo.rttCalculable = false;
        same.rttFullCalculable = false;
      }
      isOpening = isAck;
    }
    if (isHandshakeAck) same.handshakeAckSeen = true;
    return isOpening;
  }

  /** Established phase: SRT, ART, zero window, CIT. */
  private established(
    same: Peer,
    oppo: Peer,
    fromClient: boolean,
    p: DecodedPacket,
    isAck: boolean,
    isPshAck: boolean,
  ): void {
    const tsUs = p.tsUs;
    const seq = p.tcpSeq;
    const ack = p.tcpAck;
    const payloadLen = p.payloadLen;
    if (same.srtCalculable && isAck && ack === ((oppo.seq + oppo.payloadLen) >>> 0)) {
      const srt = clamp(tsUs - oppo.timestamp, SRT_MAX_US);
      if (srt !== 0) (fromClient ? this.srtClient : this.srtServer).add(srt);
    }
    if (same.artCalculable && payloadLen > 1 && seq === ((same.seq + same.payloadLen) >>> 0)) {
      const art = clamp(tsUs - oppo.timestamp, ART_MAX_US);
      if (art !== 0) (fromClient ? this.artClient : this.artServer).add(art);
    }
    if (isAck) {
      same.srtCalculable = false;
      oppo.srtCalculable = oppo.artCalculable = false;
    } else if (isPshAck) {
      same.srtCalculable = same.artCalculable = false;
      oppo.srtCalculable = oppo.artCalculable = true;
    } else {
      same.srtCalculable = same.artCalculable = false;
      oppo.srtCalculable = oppo.artCalculable = false;
    }
    let win = p.tcpWindow;
    if (same.winScale & oppo.winScale & WSCALE_KNOWN) win = win * (1 << (same.winScale & 0x0f));
    if (win === 0) {
      if (fromClient) this.zeroWinTx++;
      else this.zeroWinRx++;
    }
    // Client idle time before a request (payload > 1: a 1-byte payload may be a keep-alive).
    if (fromClient && isPshAck) {
      if (same.handshakeAckSeen) {
        same.handshakeAckSeen = false;
        this.cit.add(tsUs - Math.max(same.timestamp, oppo.timestamp));
      } else if (oppo.payloadLen > 1 && (same.payloadLen <= 1 || oppo.timestamp > same.timestamp)) {
        this.cit.add(tsUs - oppo.timestamp);
      }
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
