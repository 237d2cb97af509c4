// Link layers: find where the network layer starts and which IP version it is.
// Results are written into the DecodedPacket; the return value is the L3 offset or a negative code.

import { u16, u32 } from './bytes';
import type { DecodedPacket } from './packet';

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_QINQ_OLD = 0x9100;
export const ETHERTYPE_TEB = 0x6558;

/** Negative results of the link parsers. */
export const LINK_NOT_IP = -1;
export const LINK_MALFORMED = -2;
export const LINK_UNKNOWN = -3;

/** VLAN tags peeled per Ethernet header before giving up (real stacks use 1 or 2). */
const MAX_VLAN_TAGS = 8;

/** BSD address families seen in NULL/LOOP headers (values differ per OS for IPv6). */
const AF_INET = 2;
function isAfInet6(af: number): boolean {
  return af === 24 || af === 28 || af === 30;
}

/**
 * Parses the link header of a captured frame starting at `off`. Sets etherType, vlan, l2Offset,
 * linkIfIndex, linkPacketType and, for IP, out.ipVersion (the version the link layer announces).
 */
export function parseLink(buf: Buffer, off: number, end: number, linkType: number, out: DecodedPacket): number {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      return parseEthernet(buf, off, end, out);
    case LINKTYPE_RAW:
      return rawIp(buf, off, end, out, 0);
    case LINKTYPE_IPV4:
      return rawIp(buf, off, end, out, 4);
    case LINKTYPE_IPV6:
      return rawIp(buf, off, end, out, 6);
    case LINKTYPE_NULL: {
      if (end - off < 4) return LINK_MALFORMED;
      // Host byte order of the capturing machine: a value with its high half set was written the
      // other way round (the same test Wireshark uses).
      let af = u32(buf, off);
      if ((af & 0xffff0000) !== 0) af = buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24);
      return nullFamily(af, off + 4, out);
    }
    case LINKTYPE_LOOP:
      if (end - off < 4) return LINK_MALFORMED;
      return nullFamily(u32(buf, off), off + 4, out);
    case LINKTYPE_LINUX_SLL: {
      if (end - off < 16) return LINK_MALFORMED;
      out.linkPacketType = u16(buf, off);
      return etherTypeAt(buf, u16(buf, off + 14), off + 16, end, out);
    }
    case LINKTYPE_LINUX_SLL2: {
      if (end - off < 20) return LINK_MALFORMED;
      out.linkIfIndex = u32(buf, off + 4) | 0;
      out.linkPacketType = buf[off + 10];
      return etherTypeAt(buf, u16(buf, off), off + 20, end, out);
    }
    default:
      return LINK_UNKNOWN;
  }
}

/** Ethernet II with any number of 802.1Q / 802.1ad tags; also used for frames inside tunnels. */
export function parseEthernet(buf: Buffer, off: number, end: number, out: DecodedPacket): number {
  if (end - off < 14) return LINK_MALFORMED;
  out.l2Offset = off;
  return etherTypeAt(buf, u16(buf, off + 12), off + 14, end, out);
}

/** Continues after an EtherType field whose value is `t`, peeling VLAN tags first. */
function etherTypeAt(buf: Buffer, t: number, p: number, end: number, out: DecodedPacket): number {
  for (let n = 0; t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ || t === ETHERTYPE_QINQ_OLD; n++) {
    if (n === MAX_VLAN_TAGS || end - p < 4) return LINK_MALFORMED;
    // The outermost tag wins: inner tags (QinQ, or a tunnel's inner frame) never overwrite it.
    if (out.vlan < 0) out.vlan = u16(buf, p) & 0x0fff;
    t = u16(buf, p + 2);
    p += 4;
  }
  out.etherType = t;
  if (t === ETHERTYPE_IPV4) out.ipVersion = 4;
  else if (t === ETHERTYPE_IPV6) out.ipVersion = 6;
  else return LINK_NOT_IP;
  return p;
}

function rawIp(buf: Buffer, off: number, end: number, out: DecodedPacket, want: number): number {
  if (end - off < 1) return LINK_MALFORMED;
  const v = buf[off] >> 4;
  if (v !== 4 && v !== 6) return want === 0 ? LINK_NOT_IP : LINK_MALFORMED;
  if (want !== 0 && v !== want) return LINK_MALFORMED;
  out.ipVersion = v;
  return off;
}

function nullFamily(af: number, p: number, out: DecodedPacket): number {
  if (af === AF_INET) out.ipVersion = 4;
  else if (isAfInet6(af)) out.ipVersion = 6;
  else return LINK_NOT_IP;
  return p;
}
