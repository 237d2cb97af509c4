// requests.endpoint for URL paths: the query is dropped and path segments that are ids are folded to
// `{id}`, so that /users/123 and /users/456 count as one endpoint in RED (SPEC.md "Requests").
// An id is a decimal number, a UUID, or a hex string of 16+ digits that contains a decimal digit
// (object ids, hashes); words stay as they are.

const MAX_ENDPOINT = 512;

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
  // One pass: where the path ends (query, fragment) and whether it holds a digit at all (most
  // paths without one need no folding and no splitting).
  let end = path.length;
  let digit = false;
  for (let i = 0; i < end; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 || c === 35) end = i;
    else if (c >= 48 && c <= 57) digit = true;
  }
  if (end > MAX_ENDPOINT * 4) end = MAX_ENDPOINT * 4;
  if (end < path.length) path = path.slice(0, end);
  if (!digit) return path.length > MAX_ENDPOINT ? path.slice(0, MAX_ENDPOINT) : path;
  // Segment by segment without split/join (this runs once per HTTP request): only the pieces between
  // folded ids are copied.
  let out = '';
  let kept = 0; // path[kept, seg) is still to be copied
  let seg = 0;
  const n = path.length;
  for (let i = 0; i <= n; i++) {
    if (i < n && path.charCodeAt(i) !== 47) continue;
    if (i > seg && isId(path, seg, i)) {
      out += path.slice(kept, seg) + '{id}';
      kept = i;
    }
    seg = i + 1;
  }
  if (kept === 0) return path.length > MAX_ENDPOINT ? path.slice(0, MAX_ENDPOINT) : path;
  out += path.slice(kept);
  return out.length > MAX_ENDPOINT ? out.slice(0, MAX_ENDPOINT) : out;
}

/** Whether s[from, to) (one path segment, not empty) is an id. */
function isId(s: string, from: number, to: number): boolean {
  const n = to - from;
  let digits = 0;
  let hex = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if ((c >= 97 && c <= 102) || (c >= 65 && c <= 70)) hex++;
  }
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
