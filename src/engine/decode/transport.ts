// Transport headers: TCP (with MSS / window-scale options), UDP, ICMP/ICMPv6, and the opaque rest.
// `capEnd` is already limited to the IP datagram (no Ethernet padding); `statedEnd` is where the
// IP header says the datagram ends.

import { u16 } from './bytes';
import { DecodeStatus, TCP_SYN, type DecodedPacket } from './packet';

const TCPOPT_EOL = 0;
const TCPOPT_NOP = 1;
const TCPOPT_MSS = 2;
const TCPOPT_WSCALE = 3;

export function parseTcp(buf: Buffer, l4: number, capEnd: number, statedEnd: number, out: DecodedPacket): DecodeStatus {
  if (capEnd - l4 < 20) return DecodeStatus.Malformed;
  const doff = (buf[l4 + 12] >> 4) << 2;
  // Options cut by the snap length (tcpdump -s 64 of timestamped segments) are fine: the fixed
  // header is all a flow needs. A header longer than the datagram is not.
  if (doff < 20 || l4 + doff > statedEnd) return DecodeStatus.Malformed;
  out.srcPort = u16(buf, l4);
  out.dstPort = u16(buf, l4 + 2);
  // Inline (not u32()): a non-inlined call would box these non-Smi values on every packet.
  out.tcpSeq = ((buf[l4 + 4] << 24) | (buf[l4 + 5] << 16) | (buf[l4 + 6] << 8) | buf[l4 + 7]) >>> 0;
  out.tcpAck = ((buf[l4 + 8] << 24) | (buf[l4 + 9] << 16) | (buf[l4 + 10] << 8) | buf[l4 + 11]) >>> 0;
  // 12 bits: the 8 classic flags plus AE (ex-NS) and the reserved bits, as tshark's tcp.flags.
  const flags = ((buf[l4 + 12] & 0x0f) << 8) | buf[l4 + 13];
  out.tcpFlags = flags;
  out.tcpWindow = u16(buf, l4 + 14);
  // MSS and window scale only mean something on SYN segments; skipping the rest keeps the hot path short.
  if ((flags & TCP_SYN) !== 0 && doff > 20) tcpOptions(buf, l4 + 20, l4 + doff < capEnd ? l4 + doff : capEnd, out);
  setPayload(l4 + doff, capEnd, statedEnd, out);
  return DecodeStatus.Ok;
}

function tcpOptions(buf: Buffer, p: number, end: number, out: DecodedPacket): void {
  while (p < end) {
    const kind = buf[p];
    if (kind === TCPOPT_EOL) return;
    if (kind === TCPOPT_NOP) {
      p++;
      continue;
    }
    if (end - p < 2) return;
    const len = buf[p + 1];
    // A bad length ends option parsing; the segment itself is still good.
    if (len < 2 || end - p < len) return;
    if (kind === TCPOPT_MSS && len === 4) out.tcpMss = u16(buf, p + 2);
    else if (kind === TCPOPT_WSCALE && len === 3) out.tcpWscale = buf[p + 2];
    p += len;
  }
}

export function parseUdp(buf: Buffer, l4: number, capEnd: number, statedEnd: number, out: DecodedPacket): DecodeStatus {
  if (capEnd - l4 < 8) return DecodeStatus.Malformed;
  const ipPayload = statedEnd - l4;
  let ulen = u16(buf, l4 + 4);
  // Length 0: jumbogram / UDP GSO; the IP length counts.
  if (ulen === 0) ulen = ipPayload;
  else if (ulen < 8 || ulen > ipPayload) return DecodeStatus.Malformed;
  out.srcPort = u16(buf, l4);
  out.dstPort = u16(buf, l4 + 2);
  const end = l4 + ulen;
  setPayload(l4 + 8, capEnd < end ? capEnd : end, end, out);
  return DecodeStatus.Ok;
}

/** ICMP (v6 = false) or ICMPv6. Echo request/reply put the identifier in both ports: one ping, one flow. */
export function parseIcmp(buf: Buffer, l4: number, capEnd: number, statedEnd: number, v6: boolean, out: DecodedPacket): DecodeStatus {
  if (capEnd - l4 < 8 || statedEnd - l4 < 8) return DecodeStatus.Malformed;
  const type = buf[l4];
  out.icmpType = type;
  out.icmpCode = buf[l4 + 1];
  const echo = v6 ? type === 128 || type === 129 : type === 8 || type === 0;
  const id = echo ? u16(buf, l4 + 4) : 0;
  out.srcPort = id;
  out.dstPort = id;
  setPayload(l4 + 8, capEnd, statedEnd, out);
  return DecodeStatus.Ok;
}

/** Any other protocol (or a tunnel left unpeeled): no ports, the IP payload is the payload. */
export function setOpaque(l4: number, capEnd: number, statedEnd: number, out: DecodedPacket): DecodeStatus {
  out.srcPort = 0;
  out.dstPort = 0;
  setPayload(l4, capEnd, statedEnd, out);
  return DecodeStatus.Ok;
}

function setPayload(p: number, capEnd: number, statedEnd: number, out: DecodedPacket): void {
  out.payloadOffset = p;
  const stated = statedEnd - p;
  const captured = capEnd - p;
  out.payloadLen = stated > 0 ? stated : 0;
  out.capturedPayloadLen = captured <= 0 ? 0 : captured < stated ? captured : out.payloadLen;
}
