// The decoded view of one packet: filled in place by decode(), reused for every packet.

export const enum DecodeStatus {
  Ok = 0,
  /** Decoded, but not IP (ARP, LLDP, ...): counted, not flowed. */
  NotIp = 1,
  /** An IPv4/IPv6 fragment held for reassembly; the packet is delivered when complete. */
  FragmentHeld = 2,
  /** Shorter than its headers claim, or inconsistent: counted as malformed. */
  Malformed = 3,
  /** Link type this decoder does not know. */
  UnknownLinkType = 4,
}

/** Tunnel kinds; stored as text (TUNNEL_NAMES). Numbering follows DeepFlow where it has one. */
export const enum TunnelType {
  None = 0,
  Vxlan = 1,
  Ipip = 2,
  Gre = 3,
  Geneve = 4,
  VxlanNsh = 5,
  Erspan = 6,
  Teb = 7,
  TencentGre = 8,
}
export const TUNNEL_NAMES = ['', 'vxlan', 'ipip', 'gre', 'geneve', 'vxlan-nsh', 'erspan', 'teb', 'tencent-gre'];

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export class DecodedPacket {
  /** Capture time, µs since epoch, and length on the wire: set by the caller before decode (read
   * from here rather than passed as arguments, which would box doubles on every packet). */
  tsUs = 0;
  frameLen = 0;
  /** Buffer the offsets below refer to: the batch buffer, or a reassembly buffer for fragments. */
  buf: Buffer = Buffer.alloc(0);
  linkType = 0;
  /** Outermost 802.1Q VLAN id, -1 if none. */
  vlan = -1;
  /** Interface index from a Linux SLL2 header, -1 for other link types. */
  linkIfIndex = -1;
  /** Linux SLL/SLL2 packet type (0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing), -1 otherwise. */
  linkPacketType = -1;
  /** Offset in buf of the innermost Ethernet header (MACs live there), -1 when the packet has none. */
  l2Offset = -1;
  /** EtherType of the (inner) network layer, 0 for raw IP link types. */
  etherType = 0;

  /** 4 or 6 for IP packets (inner packet when tunnelled), 0 otherwise. */
  ipVersion = 0;
  /** Addresses as 32-bit words, network order: IPv4 uses word 0 only, words 1..3 are 0. */
  readonly srcIp = new Int32Array(4);
  readonly dstIp = new Int32Array(4);
  ttl = 0;
  /** IPv4 identification (for hop matching / fragment key); for IPv6 the fragment header's
   *  identification (also on a reassembled datagram), 0 without one. */
  ipId = 0;
  l3Offset = 0;
  /** IP payload length as the IP header states (not limited by caplen). */
  l3PayloadLen = 0;
  protocol = 0;
  l4Offset = 0;

  srcPort = 0;
  dstPort = 0;

  /** TCP fields, valid when protocol === 6. seq/ack are unsigned (0..2^32-1). */
  tcpSeq = 0;
  tcpAck = 0;
  tcpFlags = 0;
  /** Raw (unscaled) window field. */
  tcpWindow = 0;
  /** Window scale option shift (SYN/SYN-ACK only), -1 when absent. */
  tcpWscale = -1;
  /** MSS option, -1 when absent. */
  tcpMss = -1;

  /** ICMP/ICMPv6 type and code, -1 when not ICMP. Echo id is in srcPort/dstPort (both = id). */
  icmpType = -1;
  icmpCode = -1;

  /** L4 payload: offset into buf, length per the headers, and how much of it was captured. */
  payloadOffset = 0;
  payloadLen = 0;
  capturedPayloadLen = 0;

  /** Outermost tunnel (as DeepFlow records it); tunnelTier counts the layers peeled (0 = none). */
  tunnelType: TunnelType = TunnelType.None;
  tunnelTier = 0;
  /** VNI / GRE key / ERSPAN session id; -1 when the tunnel carries none. */
  tunnelId = -1;
  tunnelIpVersion = 0;
  readonly tunnelSrc = new Int32Array(4);
  readonly tunnelDst = new Int32Array(4);

  /** Clears per-packet fields (cheap; called by decode at the start of each packet). */
  reset(): void {
    this.vlan = -1;
    this.linkIfIndex = -1;
    this.linkPacketType = -1;
    this.l2Offset = -1;
    this.etherType = 0;
    this.ipVersion = 0;
    clear4(this.srcIp);
    clear4(this.dstIp);
    this.ttl = 0;
    this.ipId = 0;
    this.l3Offset = 0;
    this.l3PayloadLen = 0;
    this.protocol = 0;
    this.l4Offset = 0;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpSeq = 0;
    this.tcpAck = 0;
    this.tcpFlags = 0;
    this.tcpWindow = 0;
    this.tcpWscale = -1;
    this.tcpMss = -1;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.payloadOffset = 0;
    this.payloadLen = 0;
    this.capturedPayloadLen = 0;
    this.tunnelType = TunnelType.None;
    this.tunnelTier = 0;
    this.tunnelId = -1;
    this.tunnelIpVersion = 0;
    clear4(this.tunnelSrc);
    clear4(this.tunnelDst);
  }
}

// Four stores beat TypedArray.fill() on this hot path (reset runs once per packet).
function clear4(w: Int32Array): void {
  w[0] = 0;
  w[1] = 0;
  w[2] = 0;
  w[3] = 0;
}

/** Text form of an address held as words (IPv4 dotted quad, IPv6 RFC 5952 compressed). */
export function ipToString(version: number, w: Int32Array): string {
  if (version === 4) {
    const a = w[0];
    return `${(a >>> 24) & 255}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  }
  if (version !== 6) return '';
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push((w[i] >>> 16) & 0xffff, w[i] & 0xffff);
  // Longest run of zero groups (length >= 2) becomes '::'.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  // IPv4-mapped (::ffff:a.b.c.d) keeps the dotted tail as tools print it.
  if (bestStart === 0 && bestLen === 5 && g[5] === 0xffff) {
    return `::ffff:${g[6] >>> 8}.${g[6] & 255}.${g[7] >>> 8}.${g[7] & 255}`;
  }
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}
