// requests.endpoint for URL paths: the query is dropped and path segments that are ids are folded to
// `{id}`, so that /users/123 and /users/456 count as one endpoint in RED (SPEC.md "Requests").
// An id is a decimal number, a UUID, or a hex string of 16+ digits that contains a decimal digit
// (object ids, hashes); words stay as they are.

const MAX_ENDPOINT = 512;
/** Longest path looked at (the rest is cut before folding). */
const MAX_PATH = MAX_ENDPOINT * 4;

/** Folds the path of an HTTP request target (origin form or absolute form). */
export function foldPath(target: string): string {
  let path = target;
  // Absolute form (proxies): http://host:port/path → /path
  if (!path.startsWith('/')) {
    const scheme = path.indexOf('://');
    if (scheme > 0) {
      const slash = path.indexOf('/', scheme + 3);
      path = slash < 0 ? '/' : path.slice(slash);
    } else {
      // '*' (OPTIONS) or authority form (CONNECT host:port) is its own endpoint.
      return path.length > MAX_ENDPOINT ? path.slice(0, MAX_ENDPOINT) : path;
    }
  }
  // One pass (this runs once per HTTP request): where the path ends (query, fragment; cut at 2048),
  // whether it holds a digit at all (paths without one are never folded), and which segments are ids,
  // from per-segment counts of digits and hex letters.
  const n = path.length;
  const limit = n < MAX_PATH ? n : MAX_PATH;
  let end = n;
  let digit = false;
  let ids = 0;
  let seg = 0;
  let digits = 0;
  let hex = 0;
  for (let i = 0; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 || c === 35) {
      end = i;
      break;
    }
    const isDigit = c >= 48 && c <= 57;
    if (isDigit) digit = true;
    if (i >= limit) continue; // past the cut: only the end and digits still matter
    if (c === 47) {
      if (isId(path, seg, i, digits, hex)) {
        ID_RANGES[ids++] = seg;
        ID_RANGES[ids++] = i;
      }
      seg = i + 1;
      digits = hex = 0;
    } else if (isDigit) digits++;
    else if ((c >= 97 && c <= 102) || (c >= 65 && c <= 70)) hex++;
  }
  const stop = end < limit ? end : limit;
  if (isId(path, seg, stop, digits, hex)) {
    ID_RANGES[ids++] = seg;
    ID_RANGES[ids++] = stop;
  }
  if (stop < n) path = path.slice(0, stop);
  if (!digit || ids === 0) return path.length > MAX_ENDPOINT ? path.slice(0, MAX_ENDPOINT) : path;
  // Only the pieces between folded ids are copied.
  let out = '';
  let kept = 0;
  for (let k = 0; k < ids; k += 2) {
    out += path.slice(kept, ID_RANGES[k]) + '{id}';
    kept = ID_RANGES[k + 1];
  }
  out += path.slice(kept);
  return out.length > MAX_ENDPOINT ? out.slice(0, MAX_ENDPOINT) : out;
}

/** Segment starts and ends of the ids found by foldPath (at most one per two characters of the path). */
const ID_RANGES = new Int32Array(MAX_PATH + 2);

/** Whether s[from, to), a path segment holding `digits` decimal digits and `hex` letters a-f, is an id. */
function isId(s: string, from: number, to: number, digits: number, hex: number): boolean {
  const n = to - from;
  if (n <= 0) return false;
  if (digits === n) return true;
  if (n === 36 && isUuid(s, from)) return true;
  return n >= 16 && digits > 0 && digits + hex === n;
}

/** s[at, at + 36) is 8-4-4-4-12 hex digits (either case) joined by '-'. */
function isUuid(s: string, at: number): boolean {
  for (let k = 0; k < 36; k++) {
    const c = s.charCodeAt(at + k);
    if (k === 8 || k === 13 || k === 18 || k === 23) {
      if (c !== 45) return false;
    } else if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) {
      return false;
    }
  }
  return true;
}
