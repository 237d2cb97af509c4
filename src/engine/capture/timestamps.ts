// pcapng timestamps: a 64-bit count of units (if_tsresol: 10^-n or 2^-n s) plus if_tsoffset seconds,
// turned into integer microseconds and the nanoseconds within the microsecond. Exact integer maths in
// doubles for the usual resolutions (no BigInt per packet); BigInt only for exotic ones.

const TWO32 = 4294967296;

const MODE_MICRO = 0; // 10^-6: units are microseconds
const MODE_MUL = 1; // 10^-n, n < 6: multiply up
const MODE_DIV = 2; // 10^-n, 6 < n <= 12: divide by 10^(n-6), remainder gives ns
const MODE_BIN = 3; // 2^-n, n <= 32
const MODE_BIG = 4; // anything else

export class TsConv {
  readonly mode: number;
  /** MODE_MUL: factor; MODE_DIV: units per µs; MODE_BIN: units per second (2^n). */
  readonly factor: number;
  private readonly bigUnitsPerSec: bigint;

  /**
   * @param tsresol if_tsresol byte (default 6)
   * @param offsetSec if_tsoffset (seconds added to every timestamp)
   */
  constructor(
    readonly tsresol = 6,
    readonly offsetSec = 0,
  ) {
    const exp = tsresol & 0x7f;
    this.bigUnitsPerSec = tsresol & 0x80 ? 1n << BigInt(exp) : 10n ** BigInt(exp);
    if (tsresol & 0x80) {
      this.mode = exp <= 32 ? MODE_BIN : MODE_BIG;
      this.factor = 2 ** exp;
    } else if (exp === 6) {
      this.mode = MODE_MICRO;
      this.factor = 1;
    } else if (exp < 6) {
      this.mode = MODE_MUL;
      this.factor = 10 ** (6 - exp);
    } else if (exp <= 12) {
      this.mode = MODE_DIV;
      this.factor = 10 ** (exp - 6);
    } else {
      this.mode = MODE_BIG;
      this.factor = 0;
    }
  }

  /** Human description, e.g. "10^-9 s" or "2^-20 s". */
  get resolution(): string {
    return `${this.tsresol & 0x80 ? 2 : 10}^-${this.tsresol & 0x7f} s`;
  }

  // Results of convert(); read right after the call (no object per packet).
  us = 0;
  ns = 0;

  /** Converts the 64-bit unit count hi:lo (both unsigned 32-bit) into this.us / this.ns. */
  convert(hi: number, lo: number): void {
    const f = this.factor;
    let us: number;
    let ns = 0;
    switch (this.mode) {
      case MODE_MICRO:
        us = hi * TWO32 + lo;
        break;
      case MODE_MUL:
        us = (hi * TWO32 + lo) * f;
        break;
      case MODE_DIV: {
        // (hi*2^32 + lo) / f without exceeding 2^53: divide hi first, carry its remainder.
        const hq = Math.floor(hi / f);
        const x = (hi - hq * f) * TWO32 + lo;
        let q = Math.floor(x / f);
        let r = x - q * f;
        if (r < 0) {
          q--;
          r += f;
        } else if (r >= f) {
          q++;
          r -= f;
        }
        us = hq * TWO32 + q;
        ns = Math.floor((r * 1000) / f);
        break;
      }
      case MODE_BIN: {
        const sec = hi * (TWO32 / f) + Math.floor(lo / f);
        const frac = lo - Math.floor(lo / f) * f;
        const f6 = frac * 1e6; // < 2^52: exact
        const usPart = Math.floor(f6 / f);
        us = sec * 1e6 + usPart;
        ns = Math.floor(((f6 - usPart * f) * 1000) / f);
        break;
      }
      default: {
        const units = (BigInt(hi) << 32n) | BigInt(lo);
        const nsTotal = (units * 1_000_000_000n) / this.bigUnitsPerSec;
        us = Number(nsTotal / 1000n);
        ns = Number(nsTotal % 1000n);
      }
    }
    this.us = us + this.offsetSec * 1e6;
    this.ns = ns;
  }
}
