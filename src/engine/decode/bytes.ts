// Big-endian reads straight from a buffer. Callers check bounds first; these never do (hot path).

export function u16(b: Buffer, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

/** Unsigned 32-bit (0..2^32-1). Off the per-packet path only: values ≥ 2^30 come back boxed
 *  when the call is not inlined; hot code reads such fields inline. */
export function u32(b: Buffer, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

/**
 * Stores the big-endian 32-bit word at b[i] into w[k] (addresses are kept as Int32Array words).
 * Writing into the array rather than returning the value matters: an int32 beyond ±2^30 is not a
 * small integer, and returning it from a call V8 did not inline allocates a heap number.
 */
export function putWord(w: Int32Array, k: number, b: Buffer, i: number): void {
  w[k] = (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
}
