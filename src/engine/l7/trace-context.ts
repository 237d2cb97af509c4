// Trace context carried in headers (SPEC.md "Requests"): W3C traceparent, SkyWalking sw8, B3 single
// and multi header, Jaeger uber-trace-id. When several are present the first of that order wins
// (DeepFlow's default order is traceparent, sw8). Malformed values are ignored, never thrown on.

export interface TraceIds {
  traceId: string | null;
  spanId: string | null;
  parentSpanId: string | null;
}

/** Raw values of the trace headers of one message (null = absent). */
export class TraceHeaders {
  traceparent: string | null = null;
  sw8: string | null = null;
  b3: string | null = null;
  xB3TraceId: string | null = null;
  xB3SpanId: string | null = null;
  xB3ParentSpanId: string | null = null;
  uberTraceId: string | null = null;

  reset(): void {
    this.traceparent = null;
    this.sw8 = null;
    this.b3 = null;
    this.xB3TraceId = null;
    this.xB3SpanId = null;
    this.xB3ParentSpanId = null;
    this.uberTraceId = null;
  }

  get any(): boolean {
    return (
      this.traceparent !== null ||
      this.sw8 !== null ||
      this.b3 !== null ||
      this.xB3TraceId !== null ||
      this.uberTraceId !== null
    );
  }
}

const HEX = /^[0-9a-f]+$/i;
const ZEROS = /^0+$/;

/** Resolves the ids; returns null when no header yields a valid trace id. */
export function resolveTrace(h: TraceHeaders): TraceIds | null {
  return (
    (h.traceparent !== null ? fromTraceparent(h.traceparent) : null) ??
    (h.sw8 !== null ? fromSw8(h.sw8) : null) ??
    (h.b3 !== null ? fromB3Single(h.b3) : null) ??
    (h.xB3TraceId !== null ? fromB3Multi(h.xB3TraceId, h.xB3SpanId, h.xB3ParentSpanId) : null) ??
    (h.uberTraceId !== null ? fromUber(h.uberTraceId) : null)
  );
}

/**
 * `version-traceid-parentid-flags`; the parent id is the span of the caller that sent the request.
 * Checked by hand rather than by a regular expression (it runs for every traced HTTP request), the
 * same rule as /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/i.
 */
export function fromTraceparent(v: string): TraceIds | null {
  const t = v.trim();
  if (t.length < 55 || t.charCodeAt(2) !== 45 || t.charCodeAt(35) !== 45 || t.charCodeAt(52) !== 45) return null;
  if (!hexRun(t, 0, 2) || !hexRun(t, 3, 35) || !hexRun(t, 36, 52) || !hexRun(t, 53, 55)) return null;
  if ((t.charCodeAt(0) | 0x20) === 0x66 && (t.charCodeAt(1) | 0x20) === 0x66) return null; // version ff
  if (zeroRun(t, 3, 35) || zeroRun(t, 36, 52)) return null;
  return { traceId: t.slice(3, 35).toLowerCase(), spanId: t.slice(36, 52).toLowerCase(), parentSpanId: null };
}

/** s[from, to) is hex digits (either case). */
function hexRun(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}

/** s[from, to) is all '0'. */
function zeroRun(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) !== 48) return false;
  return true;
}

/** `{traceid}-{spanid}[-{sampled}[-{parentspanid}]]`; a lone sampling flag carries no ids. */
export function fromB3Single(v: string): TraceIds | null {
  const p = v.trim().split('-');
  if (p.length < 2 || !isHexId(p[0], 16, 32) || !isHexId(p[1], 16, 16)) return null;
  const parent = p.length >= 4 && isHexId(p[3], 16, 16) ? p[3].toLowerCase() : null;
  return { traceId: p[0].toLowerCase(), spanId: p[1].toLowerCase(), parentSpanId: parent };
}

export function fromB3Multi(trace: string, span: string | null, parent: string | null): TraceIds | null {
  const t = trace.trim();
  if (!isHexId(t, 16, 32)) return null;
  const s = span !== null && isHexId(span.trim(), 16, 16) ? span.trim().toLowerCase() : null;
  const ps = parent !== null && isHexId(parent.trim(), 16, 16) ? parent.trim().toLowerCase() : null;
  return { traceId: t.toLowerCase(), spanId: s, parentSpanId: ps };
}

/** `{trace-id}:{span-id}:{parent-span-id}:{flags}` (parent 0 = root); may arrive URL-encoded. */
export function fromUber(v: string): TraceIds | null {
  let s = v.trim();
  if (s.includes('%')) s = s.replace(/%3a/gi, ':');
  const p = s.split(':');
  if (p.length !== 4 || !isHexId(p[0], 1, 32) || !isHexId(p[1], 1, 16)) return null;
  if (ZEROS.test(p[0])) return null;
  const parent = isHexId(p[2], 1, 16) && !ZEROS.test(p[2]) ? p[2].toLowerCase() : null;
  return { traceId: p[0].toLowerCase(), spanId: p[1].toLowerCase(), parentSpanId: parent };
}

/**
 * SkyWalking v8: `sample-traceId-segmentId-spanId-service-instance-endpoint-target`, ids base64. As
 * DeepFlow does, span_id is `{segmentId}-{spanId}` of the calling span.
 */
export function fromSw8(v: string): TraceIds | null {
  const p = v.trim().split('-');
  if (p.length < 4 || (p[0] !== '0' && p[0] !== '1')) return null;
  const trace = base64Text(p[1]);
  const segment = base64Text(p[2]);
  if (!trace || !segment || !/^\d+$/.test(p[3])) return null;
  return { traceId: trace, spanId: `${segment}-${p[3]}`, parentSpanId: null };
}

function isHexId(s: string, min: number, max: number): boolean {
  return s.length >= min && s.length <= max && HEX.test(s);
}

/** Base64 text that decodes to printable ASCII, else null. */
function base64Text(s: string): string | null {
  if (s.length === 0 || s.length > 512 || !/^[A-Za-z0-9+/=_-]+$/.test(s)) return null;
  const t = Buffer.from(s, 'base64').toString('latin1');
  if (t.length === 0 || !/^[\x20-\x7e]+$/.test(t)) return null;
  return t;
}
