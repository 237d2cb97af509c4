// Tunnel recognition, after DeepFlow's agent/src/common/decapsulate.rs: VXLAN, VXLAN-GPE/NSH,
// Geneve (UDP), GRE with IP / TEB / ERSPAN I-II-III payloads, Tencent GRE. IPIP needs no parsing.
// Each function checks that the header is valid and fully inside the enclosing payload; if so it
// fills TunnelHit and returns true, otherwise the packet stays what it was (plain UDP / GRE).

import { u16 } from './bytes';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_TEB } from './link';
import { TunnelType } from './packet';

export const UDP_PORT_VXLAN = 4789;
export const UDP_PORT_VXLAN_LINUX = 8472;
export const UDP_PORT_VXLAN_GPE = 4790;
export const UDP_PORT_GENEVE = 6081;

/** What is inside: an Ethernet frame, an IPv4 or IPv6 packet, or something else (counted as not IP). */
export const INNER_OTHER = 0;
export const INNER_ETHERNET = 1;
export const INNER_IPV4 = 4;
export const INNER_IPV6 = 6;

const ETH_HEADER = 14;
const GRE_CSUM = 0x8000;
const GRE_ROUTING = 0x4000;
const GRE_KEY = 0x2000;
const GRE_SEQ = 0x1000;
const GRE_ACK = 0x0080;
const GRE_PROTO_ERSPAN_II = 0x88be;
const GRE_PROTO_ERSPAN_III = 0x22eb;

/** Scratch result, reused for every packet. */
export class TunnelHit {
  type: TunnelType = TunnelType.None;
  /** VNI / GRE key / ERSPAN session id, -1 when the tunnel carries none. */
  id = -1;
  inner = INNER_OTHER;
  /** Where the inner frame/packet starts. */
  offset = 0;
}

export function isTunnelPort(port: number): boolean {
  return port === UDP_PORT_VXLAN || port === UDP_PORT_VXLAN_LINUX || port === UDP_PORT_VXLAN_GPE || port === UDP_PORT_GENEVE;
}

/**
 * UDP payload at p (captured up to capEnd, stated up to end) sent to a tunnel port. Validation:
 * VXLAN needs the I flag and nothing but the I (and GBP G) flag; GPE/NSH and Geneve need version 0
 * and a known next protocol. The inner frame must at least start within the payload.
 */
export function udpTunnel(buf: Buffer, p: number, capEnd: number, end: number, dstPort: number, hit: TunnelHit): boolean {
  if (end - p < 8 || capEnd - p < 8) return false;
  const flags = buf[p];
  if (dstPort === UDP_PORT_GENEVE) return geneve(buf, p, capEnd, end, hit);
  if (dstPort === UDP_PORT_VXLAN_GPE) return vxlanGpe(buf, p, capEnd, end, hit);
  // VXLAN (RFC 7348): flags 0x08 (I); Linux VXLAN-GBP also sets 0x80 (G).
  if ((flags & 0x08) === 0 || (flags & 0x77) !== 0) return false;
  if (end - p < 8 + ETH_HEADER) return false;
  hit.type = TunnelType.Vxlan;
  hit.id = (buf[p + 4] << 16) | (buf[p + 5] << 8) | buf[p + 6];
  hit.inner = INNER_ETHERNET;
  hit.offset = p + 8;
  return true;
}

function geneve(buf: Buffer, p: number, capEnd: number, end: number, hit: TunnelHit): boolean {
  const b0 = buf[p];
  if (b0 >> 6 !== 0) return false;
  const inner = innerFromEtherType(u16(buf, p + 2));
  if (inner === INNER_OTHER) return false;
  const hlen = 8 + ((b0 & 0x3f) << 2);
  if (end - p < hlen || capEnd - p < hlen) return false;
  hit.type = TunnelType.Geneve;
  hit.id = (buf[p + 4] << 16) | (buf[p + 5] << 8) | buf[p + 6];
  hit.inner = inner;
  hit.offset = p + hlen;
  return true;
}

/** VXLAN-GPE (next protocol 1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH); NSH then says what follows it. */
function vxlanGpe(buf: Buffer, p: number, capEnd: number, end: number, hit: TunnelHit): boolean {
  const flags = buf[p];
  if ((flags & 0x30) !== 0) return false; // version 0 only
  // Without the P bit the payload is Ethernet, as in plain VXLAN.
  let next = (flags & 0x04) !== 0 ? buf[p + 3] : 3;
  let q = p + 8;
  if (next === 4) {
    // NSH (RFC 8300): version 0, length in 4-byte words including the 8-byte base + path header.
    if (capEnd - q < 8 || end - q < 8 || buf[q] >> 6 !== 0) return false;
    const words = buf[q + 1] & 0x3f;
    if (words < 2 || end - q < words << 2 || capEnd - q < words << 2) return false;
    next = buf[q + 3];
    q += words << 2;
  }
  const inner = next === 1 ? INNER_IPV4 : next === 2 ? INNER_IPV6 : next === 3 ? INNER_ETHERNET : INNER_OTHER;
  if (inner === INNER_OTHER) return false;
  hit.type = TunnelType.VxlanNsh;
  hit.id = (buf[p + 4] << 16) | (buf[p + 5] << 8) | buf[p + 6];
  hit.inner = inner;
  hit.offset = q;
  return true;
}

/**
 * GRE header at g (RFC 2784/2890, and version 1 "enhanced" GRE). Protocols: IPv4/IPv6 (plain GRE,
 * or Tencent GRE when version 1 with a key), 0x6558 TEB, 0x88BE ERSPAN type I (no sequence bit,
 * no ERSPAN header) or II, 0x22EB ERSPAN type III with its optional platform subheader.
 */
export function greTunnel(buf: Buffer, g: number, capEnd: number, end: number, hit: TunnelHit): boolean {
  if (end - g < 4 || capEnd - g < 4) return false;
  const flags = u16(buf, g);
  const ver = flags & 7;
  // Source routing (deprecated) has a variable-length list; versions above 1 do not exist.
  if ((flags & GRE_ROUTING) !== 0 || ver > 1) return false;
  const proto = u16(buf, g + 2);
  let p = g + 4;
  if ((flags & GRE_CSUM) !== 0) p += 4;
  let key = -1;
  const keyAt = p;
  if ((flags & GRE_KEY) !== 0) p += 4;
  if ((flags & GRE_SEQ) !== 0) p += 4;
  if (ver === 1 && (flags & GRE_ACK) !== 0) p += 4;
  if (end - p < 0 || capEnd - p < 0) return false;
  // Inline rather than u32(): a key ≥ 2^30 returned from a non-inlined call would be boxed.
  if ((flags & GRE_KEY) !== 0) key = ((buf[keyAt] << 24) | (buf[keyAt + 1] << 16) | (buf[keyAt + 2] << 8) | buf[keyAt + 3]) >>> 0;

  if (proto === ETHERTYPE_IPV4 || proto === ETHERTYPE_IPV6) {
    // Tencent's GRE is version 1 with a key carrying the VPC id; real PPTP (v1) carries PPP, not IP.
    if (ver === 1 && key < 0) return false;
    hit.type = ver === 1 ? TunnelType.TencentGre : TunnelType.Gre;
    hit.id = key;
    hit.inner = proto === ETHERTYPE_IPV4 ? INNER_IPV4 : INNER_IPV6;
    hit.offset = p;
    return true;
  }
  if (ver !== 0) return false;
  if (proto === ETHERTYPE_TEB) {
    hit.type = TunnelType.Teb;
    hit.id = key;
    hit.inner = INNER_ETHERNET;
    hit.offset = p;
    return true;
  }
  if (proto === GRE_PROTO_ERSPAN_II) {
    hit.type = TunnelType.Erspan;
    hit.inner = INNER_ETHERNET;
    if ((flags & GRE_SEQ) === 0) {
      // Type I: the mirrored frame follows the bare GRE header.
      hit.id = -1;
      hit.offset = p;
      return true;
    }
    if (end - p < 8 || capEnd - p < 8) return false;
    hit.id = u16(buf, p + 2) & 0x3ff;
    hit.offset = p + 8;
    return true;
  }
  if (proto === GRE_PROTO_ERSPAN_III) {
    if (end - p < 12 || capEnd - p < 12) return false;
    let hlen = 12;
    if ((buf[p + 11] & 1) !== 0) hlen += 8; // O flag: platform-specific subheader follows
    if (end - p < hlen || capEnd - p < hlen) return false;
    // Frame type 0 = Ethernet, 2 = IP packet.
    const ft = (buf[p + 10] >> 2) & 0x1f;
    hit.type = TunnelType.Erspan;
    hit.id = u16(buf, p + 2) & 0x3ff;
    hit.inner = ft === 0 ? INNER_ETHERNET : ft === 2 ? ipVersionAt(buf, p + hlen, capEnd) : INNER_OTHER;
    hit.offset = p + hlen;
    return true;
  }
  return false;
}

function innerFromEtherType(t: number): number {
  return t === ETHERTYPE_TEB ? INNER_ETHERNET : t === ETHERTYPE_IPV4 ? INNER_IPV4 : t === ETHERTYPE_IPV6 ? INNER_IPV6 : INNER_OTHER;
}

function ipVersionAt(buf: Buffer, p: number, capEnd: number): number {
  if (p >= capEnd) return INNER_OTHER;
  const v = buf[p] >> 4;
  return v === 4 ? INNER_IPV4 : v === 6 ? INNER_IPV6 : INNER_OTHER;
}
