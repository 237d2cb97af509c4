// The packet decoder: link layer → IP (reassembling fragments) → tunnels (at most TUNNEL_TIER_LIMIT
// layers peeled, the outermost one recorded) → TCP / UDP / ICMP. Zero-copy: everything is read
// straight from the caller's buffer into the reused DecodedPacket; nothing is allocated per packet
// except when a fragment completes a datagram. Never throws on bad bytes.

import { FragmentTable } from './fragments';
import { IpInfo, parseIpv4, parseIpv6 } from './ip';
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  LINK_MALFORMED,
  LINK_NOT_IP,
  LINK_UNKNOWN,
  LINKTYPE_RAW,
  parseEthernet,
  parseLink,
} from './link';
import { DecodeStatus, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, TunnelType, type DecodedPacket } from './packet';
import { parseIcmp, parseTcp, parseUdp, setOpaque } from './transport';
import { INNER_ETHERNET, INNER_IPV4, INNER_IPV6, TunnelHit, greTunnel, isTunnelPort, udpTunnel } from './tunnel';

/** DeepFlow's TUNNEL_TIER_LIMIT: layers peeled at most; a deeper tunnel is decoded as plain UDP/GRE. */
export const TUNNEL_TIER_LIMIT = 2;

const IPPROTO_IPIP = 4;
const IPPROTO_IPV6 = 41;
const IPPROTO_GRE = 47;

export interface DecoderOptions {
  /** Datagrams awaiting fragments at once (default 1024). */
  maxPendingFragments?: number;
  /** Fragment timeout in packet time, µs (default 30 s). */
  fragmentTimeoutUs?: number;
  /** Tunnel layers to peel (default TUNNEL_TIER_LIMIT = 2; 0 turns decapsulation off). */
  tunnelTierLimit?: number;
}

export class Decoder {
  readonly fragments: FragmentTable;
  readonly tunnelTierLimit: number;
  private readonly ip = new IpInfo();
  private readonly hit = new TunnelHit();
  /** decode()'s tsUs argument as given (0: use out.tsUs); read on the fragment path only. */
  private tsArg = 0;

  constructor(opts: DecoderOptions = {}) {
    this.fragments = new FragmentTable(opts.maxPendingFragments ?? 1024, opts.fragmentTimeoutUs ?? 30_000_000);
    this.tunnelTierLimit = opts.tunnelTierLimit ?? TUNNEL_TIER_LIMIT;
  }

  /**
   * Decodes the frame at buf[off, off+caplen) of link type `linkType` into `out`. `origLen` is the
   * length on the wire, `tsUs` the capture time in µs (used for fragment timeouts only); pass 0 to
   * use `out.tsUs` instead — a double argument may be boxed (allocated) per call, a field is not.
   */
  decode(
    buf: Buffer,
    off: number,
    caplen: number,
    origLen: number,
    linkType: number,
    tsUs: number,
    out: DecodedPacket,
  ): DecodeStatus {
    // Only the argument is stored, never `tsUs || out.tsUs`: that mix of a small integer and a
    // double is boxed (16 bytes allocated per packet). The fragment path picks the time itself.
    this.tsArg = tsUs;
    return this.frame(buf, off, caplen, origLen, linkType, out);
  }

  private frame(buf: Buffer, off: number, caplen: number, origLen: number, linkType: number, out: DecodedPacket): DecodeStatus {
    out.reset();
    out.buf = buf;
    out.linkType = linkType;
    let capEnd = off + caplen;
    if (capEnd > buf.length) capEnd = buf.length;
    if (!(off >= 0 && caplen >= 0 && off <= capEnd)) return DecodeStatus.Malformed;
    // Lengths on the wire bound what headers may claim; a bogus origLen below caplen is ignored.
    const wireEnd = off + (origLen > caplen ? origLen : caplen);
    const l3 = parseLink(buf, off, capEnd, linkType, out);
    if (l3 < 0) {
      if (l3 === LINK_NOT_IP) return DecodeStatus.NotIp;
      if (l3 === LINK_UNKNOWN) return DecodeStatus.UnknownLinkType;
      return DecodeStatus.Malformed;
    }
    return this.network(buf, l3, capEnd, wireEnd, out);
  }

  /** From an IP header (version announced in out.ipVersion) to the innermost transport header. */
  private network(buf: Buffer, l3: number, capEnd: number, wireEnd: number, out: DecodedPacket): DecodeStatus {
    const h = this.ip;
    let reassembledId = -1;
    for (;;) {
      const st = out.ipVersion === 4 ? parseIpv4(buf, l3, capEnd, wireEnd, out, h) : parseIpv6(buf, l3, capEnd, wireEnd, out, h);
      if (st !== DecodeStatus.Ok) return st;
      // A reassembled IPv6 datagram has no fragment header left: keep its identification anyway.
      if (reassembledId >= 0) {
        out.ipId = reassembledId;
        reassembledId = -1;
      }

      if (h.isFragment) {
        const fs = this.fragments.add(
          buf,
          l3,
          out.ipVersion,
          h.fragDataOffset,
          h.statedEnd,
          capEnd,
          h.fragOffset,
          h.moreFragments,
          out.ipId,
          out.protocol,
          out.srcIp,
          out.dstIp,
          this.tsArg !== 0 ? this.tsArg : out.tsUs,
        );
        if (fs !== DecodeStatus.Ok) return fs;
        reassembledId = out.ipId;
        // Decode the whole datagram again from its own buffer; the link layer is gone.
        buf = this.fragments.datagram;
        l3 = 0;
        capEnd = buf.length;
        wireEnd = this.fragments.datagramLen;
        out.buf = buf;
        out.linkType = LINKTYPE_RAW;
        out.l2Offset = -1;
        continue;
      }

      const l4 = out.l4Offset;
      const end = h.statedEnd;
      const cap = capEnd < end ? capEnd : end; // Ethernet padding is not payload
      const proto = out.protocol;
      const canPeel = out.tunnelTier < this.tunnelTierLimit;

      if (proto === IPPROTO_TCP) return parseTcp(buf, l4, cap, end, out);

      if (proto === IPPROTO_UDP) {
        const us = parseUdp(buf, l4, cap, end, out);
        if (us !== DecodeStatus.Ok || !canPeel || !isTunnelPort(out.dstPort)) return us;
        const uEnd = out.payloadOffset + out.payloadLen;
        if (!udpTunnel(buf, out.payloadOffset, cap, uEnd, out.dstPort, this.hit)) return us;
        const next = this.enter(buf, cap, out);
        if (next < 0) return -next;
        l3 = next;
        wireEnd = uEnd;
        continue;
      }

      if (proto === IPPROTO_GRE && canPeel && greTunnel(buf, l4, cap, end, this.hit)) {
        const next = this.enter(buf, cap, out);
        if (next < 0) return -next;
        l3 = next;
        wireEnd = end;
        continue;
      }

      if ((proto === IPPROTO_IPIP || proto === IPPROTO_IPV6) && canPeel) {
        const hit = this.hit;
        hit.type = TunnelType.Ipip;
        hit.id = -1;
        hit.inner = proto === IPPROTO_IPIP ? INNER_IPV4 : INNER_IPV6;
        hit.offset = l4;
        const next = this.enter(buf, cap, out);
        if (next < 0) return -next;
        l3 = next;
        wireEnd = end;
        continue;
      }

      if (proto === IPPROTO_ICMP) return out.ipVersion === 4 ? parseIcmp(buf, l4, cap, end, false, out) : setOpaque(l4, cap, end, out);
      if (proto === IPPROTO_ICMPV6) return out.ipVersion === 6 ? parseIcmp(buf, l4, cap, end, true, out) : setOpaque(l4, cap, end, out);
      return setOpaque(l4, cap, end, out);
    }
  }

  /**
   * Records the tunnel in this.hit (if outermost), counts the tier and finds the inner IP header.
   * Returns its offset (out.ipVersion set), or the negated DecodeStatus to return (NotIp, Malformed).
   */
  private enter(buf: Buffer, capEnd: number, out: DecodedPacket): number {
    const hit = this.hit;
    if (out.tunnelTier === 0) {
      out.tunnelType = hit.type;
      out.tunnelId = hit.id;
      out.tunnelIpVersion = out.ipVersion;
      const s = out.srcIp;
      const d = out.dstIp;
      const ts = out.tunnelSrc;
      const td = out.tunnelDst;
      ts[0] = s[0];
      ts[1] = s[1];
      ts[2] = s[2];
      ts[3] = s[3];
      td[0] = d[0];
      td[1] = d[1];
      td[2] = d[2];
      td[3] = d[3];
    }
    out.tunnelTier++;
    // The inner packet is not yet known: ports/payload of the carrier must not leak into it.
    out.srcPort = 0;
    out.dstPort = 0;
    out.payloadOffset = 0;
    out.payloadLen = 0;
    out.capturedPayloadLen = 0;
    if (hit.inner === INNER_ETHERNET) {
      out.ipVersion = 0;
      const l3 = parseEthernet(buf, hit.offset, capEnd, out);
      if (l3 >= 0) return l3;
      return l3 === LINK_MALFORMED ? -DecodeStatus.Malformed : -DecodeStatus.NotIp;
    }
    if (hit.inner === INNER_IPV4 || hit.inner === INNER_IPV6) {
      out.ipVersion = hit.inner;
      out.etherType = hit.inner === INNER_IPV4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
      return hit.offset;
    }
    out.ipVersion = 0;
    out.etherType = 0;
    return -DecodeStatus.NotIp;
  }
}
