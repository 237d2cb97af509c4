// Shared by views-map/red/logs and cli-requests tests: how a view's row and a truth record (samples/
// k8s.truth.json, see views-helpers.ts) are put side by side. Everything expected comes from the truth;
// this file only says which truth field a view's field stands for. Not a test file itself.
//
// Field correspondences (the truth's protocol names are the engine's l7_protocol values: dns, http,
// redis, postgresql — checked by the tests, not assumed):
// - method: HTTP method / DNS QTYPE / Redis command; for PostgreSQL the truth's request_type ("simple
//   query"; its `method` is the wire message letter Q);
// - code: HTTP status / DNS RCODE; PostgreSQL's SQLSTATE on an error, else its command tag (what the
//   server answered; the engine keeps both in response_result); Redis none;
// - status: the truth's error_class.

import type { RequestRow } from '../src/shared/views';
import { connOf, countBy, ipEdgeKey, requestKey, truth, type Conn, type Req } from './views-helpers';

/** The truth's records with the per-protocol fields views-helpers' types leave out. */
export type TruthReq = Req & { request_type?: string; command_tag?: string | null };
export type TruthConn = Conn & { time_resolution_us?: number };

export const conn = (r: Req): TruthConn => connOf.get(r.connection)! as TruthConn;

const byId = new Map(truth.requests.map((r) => [r.id, r]));

/**
 * Where (µs) all of a request's packets lie, on every hop. The clients took start_us just before
 * writing the request and end_us just after reading the last response byte, on the capture's clock;
 * both clocks are whole µs (samples/README.md "Time stamps are µs"; pcapng if_tsresol 6): 1 µs of
 * rounding either side. The proxy's upstream requests (nginx access logs, time_resolution_us 1000)
 * carry nginx's cached, ms-truncated time of the moment it woke for the request, which says nothing
 * about when the response left (r028: logged 395010000 with request_time 0, response sent until
 * 395011185 — past the logged ms): those lie inside the client request that caused them
 * (parent_request, µs times), and start no earlier than the logged time's resolution allows.
 */
export function span(r: Req): { lo: number; hi: number } {
  const res = conn(r).time_resolution_us;
  if (res === undefined) return { lo: r.start_us - 1, hi: r.end_us + 1 };
  const parent = byId.get((r as { parent_request?: string }).parent_request ?? '');
  if (!parent) throw new Error(`${r.id}: ${res} µs resolution and no parent request to bound it`);
  return { lo: Math.max(parent.start_us, r.start_us - res) - 1, hi: parent.end_us + 1 };
}

export function truthMethod(r: Req): string {
  const t = r as TruthReq;
  return r.protocol === 'postgresql' && t.request_type !== undefined ? t.request_type : r.method;
}

export function truthCode(r: Req): string | number | null {
  const t = r as TruthReq;
  if (r.protocol === 'postgresql') return t.code ?? t.command_tag ?? null;
  return r.code;
}

export function rowCode(row: RequestRow): string | number | null {
  return row.l7Protocol === 'postgresql' ? row.responseResult : row.responseCode;
}

/** A truth request as one line of a request log under grouping 'ip' (server side: the backend). */
export function truthKey(r: Req): string {
  return requestKey(ipEdgeKey(conn(r), r.protocol), truthMethod(r), r.resource, truthCode(r) as number | null, r.error_class);
}

/** A request-log row (grouping 'ip') as the same line. */
export function rowKey(row: RequestRow): string {
  const edge = `${row.clientIp} > ${row.serverIp}:${row.serverPort} ${row.l7Protocol}`;
  return requestKey(edge, row.requestType, row.requestResource, rowCode(row) as number | null, row.responseStatus);
}

/** Multisets as sorted [key, count] lists, for deepEqual with a readable diff. */
export function multiset(keys: string[]): [string, number][] {
  return [...countBy(keys, (k) => k).entries()];
}

/** The truth request a row is a copy of: same client address and port (DNAT leaves them), same resource. */
const byClientAndResource = new Map<string, Req[]>();
for (const r of truth.requests) {
  const c = conn(r);
  const k = `${c.client_ip}:${c.client_port} ${r.resource}`;
  byClientAndResource.set(k, [...(byClientAndResource.get(k) ?? []), r]);
}
export function truthOf(row: { clientIp: string; clientPort: number; requestResource: string | null }): Req {
  const found = byClientAndResource.get(`${row.clientIp}:${row.clientPort} ${row.requestResource}`) ?? [];
  if (found.length !== 1) throw new Error(`${found.length} truth requests for ${row.clientIp}:${row.clientPort} ${row.requestResource}`);
  return found[0];
}

/** The truth connection a flow row belongs to: same client address and port. */
export function truthConnOf(row: { clientIp: string; clientPort: number }): TruthConn {
  const found = truth.connections.filter((c) => c.client_ip === row.clientIp && c.client_port === row.clientPort);
  if (found.length !== 1) throw new Error(`${found.length} truth connections for ${row.clientIp}:${row.clientPort}`);
  return found[0] as TruthConn;
}

/** pcapng interface id of a file → "node/interface", from the truth's files[]. */
export function interfaceNames(file: string): Map<number, string> {
  const f = (truth as unknown as { files: { file: string; interfaces: { id: number; node: string; name: string }[] | string }[] }).files.find(
    (x) => x.file === file,
  );
  if (!f || typeof f.interfaces === 'string') throw new Error(`no interface list for ${file} in the truth`);
  return new Map(f.interfaces.map((i) => [i.id, `${i.node}/${i.name}`]));
}

export const hopName = (h: { node: string; interface: string }): string => `${h.node}/${h.interface}`;

/** Pod name of an IP (pod IPs only), from the truth's topology. */
export const podOfIp = new Map(truth.topology.pods.map((p) => [p.ip, p.name]));
export const ipOfPod = new Map(truth.topology.pods.map((p) => [p.name, p.ip]));
/** Service fronting a pod, from the truth's topology (null when none). */
export function serviceOfPod(pod: string): string | null {
  return truth.topology.services.find((s) => s.pod === pod)?.name ?? null;
}

/** Upper bound of a request's duration as any hop can see it. */
export const durationBound = (r: Req): number => span(r).hi - span(r).lo;

/** The k-th smallest (0-based) of numbers. */
export function kth(values: number[], k: number): number {
  return [...values].sort((a, b) => a - b)[k];
}
