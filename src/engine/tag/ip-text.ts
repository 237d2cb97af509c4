// IP text from metadata and DNS answers, normalised to the form flows store (ipToString: dotted quad,
// IPv6 RFC 5952 compressed) so tags join flows on plain string equality.
import { ipToString } from '../decode/packet';

const words = new Int32Array(4);

function parseV4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    // No leading zeros: "010" is octal to some parsers, decimal to others; refuse rather than guess.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v | 0;
}

function parseV6(s: string): boolean {
  const groups: number[] = [];
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const read = (part: string, out: number[], last: boolean): boolean => {
    if (part === '') return true;
    const fields = part.split(':');
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      if (last && i === fields.length - 1 && f.includes('.')) {
        const v4 = parseV4(f);
        if (v4 === null) return false;
        out.push((v4 >>> 16) & 0xffff, v4 & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(f)) {
        out.push(parseInt(f, 16));
      } else {
        return false;
      }
    }
    return true;
  };
  const head: number[] = [];
  const tail: number[] = [];
  if (!read(halves[0], head, halves.length === 1)) return false;
  if (halves.length === 2 && !read(halves[1], tail, true)) return false;
  if (halves.length === 1) {
    if (head.length !== 8) return false;
    groups.push(...head);
  } else {
    const zeros = 8 - head.length - tail.length;
    if (zeros < 1) return false;
    groups.push(...head, ...new Array<number>(zeros).fill(0), ...tail);
  }
  for (let k = 0; k < 4; k++) words[k] = ((groups[2 * k] << 16) | groups[2 * k + 1]) | 0;
  return true;
}

/** The stored text form of an IPv4 or IPv6 address, or null if `text` is not one (zones and prefixes refused). */
export function normalizeIp(text: string): string | null {
  if (text.includes(':')) return parseV6(text) ? ipToString(6, words) : null;
  const v4 = parseV4(text);
  if (v4 === null) return null;
  words[0] = v4;
  return ipToString(4, words);
}
