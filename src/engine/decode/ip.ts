// IPv4 and IPv6 headers (with IPv6 extension headers). Fills addresses and lengths into the
// DecodedPacket and what the decoder needs next (L4 start, stated end, fragment facts) into IpInfo.

import { putWord, u16, u32 } from './bytes';
import { DecodeStatus, type DecodedPacket } from './packet';

/** Per-header scratch the decoder reuses for every packet (no allocation). */
export class IpInfo {
  /** Offset just past the IP datagram as its header states, bounded by the wire / enclosing payload
   *  (Ethernet padding lies beyond). */
  statedEnd = 0;
  /** Fragment offset in bytes, and the more-fragments flag. */
  fragOffset = 0;
  moreFragments = false;
  /** IPv6: offset of the fragment header, -1 if none. */
  fragHeader = -1;
  /** Header bytes that precede the fragmentable part (IPv4: IHL; IPv6: up to and incl. the fragment header). */
  fragDataOffset = 0;

  get isFragment(): boolean {
    return this.moreFragments || this.fragOffset !== 0;
  }
}

const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_AH = 51;
const IPV6_DEST_OPTS = 60;
/** Extension headers walked before giving up (a legitimate chain is short). */
const MAX_EXT_HEADERS = 16;

/**
 * IPv4 at l3. `capEnd` bounds what was captured, `wireEnd` what was on the wire (or the enclosing
 * layer's stated end).
 */
export function parseIpv4(buf: Buffer, l3: number, capEnd: number, wireEnd: number, out: DecodedPacket, h: IpInfo): DecodeStatus {
  if (capEnd - l3 < 20) return DecodeStatus.Malformed;
  const b0 = buf[l3];
  if (b0 >> 4 !== 4) return DecodeStatus.Malformed;
  const ihl = (b0 & 0x0f) << 2;
  if (ihl < 20 || l3 + ihl > capEnd) return DecodeStatus.Malformed;
  let total = u16(buf, l3 + 2);
  // Total length 0 is what TSO/GSO captures show for oversized segments: the wire length counts.
  if (total === 0) total = wireEnd - l3;
  if (total < ihl) return DecodeStatus.Malformed;

  out.ipVersion = 4;
  out.l3Offset = l3;
  out.ipId = u16(buf, l3 + 4);
  out.ttl = buf[l3 + 8];
  out.protocol = buf[l3 + 9];
  const s = out.srcIp;
  const d = out.dstIp;
  putWord(s, 0, buf, l3 + 12);
  s[1] = 0;
  s[2] = 0;
  s[3] = 0;
  putWord(d, 0, buf, l3 + 16);
  d[1] = 0;
  d[2] = 0;
  d[3] = 0;
  out.l3PayloadLen = total - ihl;
  out.l4Offset = l3 + ihl;

  const fo = u16(buf, l3 + 6);
  // A datagram claiming more than the wire (or the enclosing tunnel payload) carried ends there, as
  // tshark bounds it; l3PayloadLen above keeps what the header says.
  h.statedEnd = l3 + total < wireEnd ? l3 + total : wireEnd;
  if (h.statedEnd < l3 + ihl) return DecodeStatus.Malformed;
  h.fragOffset = (fo & 0x1fff) << 3;
  h.moreFragments = (fo & 0x2000) !== 0;
  h.fragHeader = -1;
  h.fragDataOffset = ihl;
  return DecodeStatus.Ok;
}

/** IPv6 at l3, walking hop-by-hop, routing, fragment, destination options and AH headers. */
export function parseIpv6(buf: Buffer, l3: number, capEnd: number, wireEnd: number, out: DecodedPacket, h: IpInfo): DecodeStatus {
  if (capEnd - l3 < 40) return DecodeStatus.Malformed;
  if (buf[l3] >> 4 !== 6) return DecodeStatus.Malformed;
  let plen = u16(buf, l3 + 4);
  // Payload length 0: a jumbogram or a GSO capture; the wire length counts.
  if (plen === 0) plen = wireEnd - l3 - 40;
  let statedEnd = l3 + 40 + plen;
  if (statedEnd > wireEnd) statedEnd = wireEnd; // bounded like IPv4 above
  if (statedEnd < l3 + 40) return DecodeStatus.Malformed;

  out.ipVersion = 6;
  out.l3Offset = l3;
  out.ipId = 0;
  out.ttl = buf[l3 + 7];
  const s = out.srcIp;
  const d = out.dstIp;
  putWord(s, 0, buf, l3 + 8);
  putWord(s, 1, buf, l3 + 12);
  putWord(s, 2, buf, l3 + 16);
  putWord(s, 3, buf, l3 + 20);
  putWord(d, 0, buf, l3 + 24);
  putWord(d, 1, buf, l3 + 28);
  putWord(d, 2, buf, l3 + 32);
  putWord(d, 3, buf, l3 + 36);
  out.l3PayloadLen = plen;
  h.statedEnd = statedEnd;
  h.fragOffset = 0;
  h.moreFragments = false;
  h.fragHeader = -1;

  let nh = buf[l3 + 6];
  let p = l3 + 40;
  // Headers must be captured and lie within the stated payload.
  const lim = capEnd < statedEnd ? capEnd : statedEnd;
  for (let n = 0; ; n++) {
    if (nh === IPV6_HOP_BY_HOP || nh === IPV6_ROUTING || nh === IPV6_DEST_OPTS || nh === IPV6_AH) {
      if (n === MAX_EXT_HEADERS || lim - p < 8) return DecodeStatus.Malformed;
      const len = nh === IPV6_AH ? (buf[p + 1] + 2) << 2 : (buf[p + 1] + 1) << 3;
      nh = buf[p];
      p += len;
      if (p > lim) return DecodeStatus.Malformed;
    } else if (nh === IPV6_FRAGMENT) {
      if (n === MAX_EXT_HEADERS || lim - p < 8) return DecodeStatus.Malformed;
      const fo = u16(buf, p + 2);
      h.fragHeader = p;
      h.fragOffset = fo & 0xfff8;
      h.moreFragments = (fo & 1) !== 0;
      out.ipId = u32(buf, p + 4); // fragments only: the rare path
      nh = buf[p];
      p += 8;
      h.fragDataOffset = p - l3;
      // Past a fragment header the bytes are fragment data, unless this is an atomic fragment.
      if (h.fragOffset !== 0 || h.moreFragments) break;
    } else {
      break;
    }
  }
  out.protocol = nh;
  out.l4Offset = p;
  return DecodeStatus.Ok;
}
