// Big-endian reads straight from a buffer. Callers check bounds first; these never do (hot path).

export function u16(b: Buffer, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

/** Unsigned 32-bit (0..2^32-1). */
export function u32(b: Buffer, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

/** Signed 32-bit word, the form addresses are stored in (DecodedPacket.srcIp etc.). */
export function i32(b: Buffer, i: number): number {
  return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
}
