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
  const parts = path.split('/');
  for (let i = 0; i < parts.length; i++) if (isId(parts[i])) parts[i] = '{id}';
  const out = parts.join('/');
  return out.length > MAX_ENDPOINT ? out.slice(0, MAX_ENDPOINT) : out;
}

function isId(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  let digits = 0;
  let hex = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if ((c >= 97 && c <= 102) || (c >= 65 && c <= 70)) hex++;
  }
  if (digits === n) return true;
  if (n === 36 && UUID.test(s)) return true;
  return n >= 16 && digits > 0 && digits + hex === n;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
