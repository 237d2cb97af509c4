// Shared by the views-*.test.ts and cli-requests tests: the samples' ground truth (samples/k8s.truth.json,
// written by the generator from the clients' side) turned into what the views must show, and a store
// with the samples imported by the real import path. Not a test file itself.

import { join } from 'node:path';
import { importCaptures } from '../src/engine/import';
import { Store } from '../src/engine/store/store';
import { loadTruth, type TruthConnection, type TruthEdge, type TruthRequest } from '../samples/truth';

export const SAMPLES = new URL('../samples/', import.meta.url).pathname;

export type Conn = TruthConnection;
export type Req = TruthRequest;
export type Edge = TruthEdge;
export type { Truth } from '../samples/truth';

export const truth = loadTruth();
export const connOf = new Map(truth.connections.map((c) => [c.id, c]));

/** Imports the files (real import path) into a fresh store at `dbPath`; returns the capture ids. */
export async function importSamples(dbPath: string, files: string[]): Promise<{ store: Store; ids: number[] }> {
  const store = await Store.open(dbPath);
  const results = await importCaptures(store, files.map((f) => join(SAMPLES, f)));
  for (const r of results) if (r.error) throw new Error(r.error.message);
  return { store, ids: results.map((r) => r.capture.captureId) };
}

/** L7 protocols the engine parsed in this store (the truth also has ones not parsed yet). */
export async function parsedProtocols(store: Store): Promise<Set<string>> {
  const q = await store.query('SELECT DISTINCT l7_protocol FROM requests');
  return new Set(q.rows.map((r) => String(r[0])));
}

/** The truth's requests of the given protocols. */
export function truthRequests(protocols: Set<string>): Req[] {
  return truth.requests.filter((r) => protocols.has(r.protocol));
}

/** An edge as grouping 'ip' names it: the client as the server sees it → the backend (pod) IP and port. */
export function ipEdgeKey(c: Conn, protocol: string): string {
  return `${c.client_ip} > ${c.backend_ip}:${c.backend_port} ${protocol}`;
}

/** What one request looks like in a log, for comparing multisets. */
export function requestKey(edge: string, method: string | null, resource: string | null, code: number | null, status: string): string {
  return `${edge} | ${method} ${resource} | ${code} ${status}`;
}

export function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return new Map([...m.entries()].sort((a, b) => a[0].localeCompare(b[0])));
}

/** tshark's HTTP request packets and DNS queries over the whole file (every hop copy counted). */
export function tsharkCounts(out: string): { httpRequests: number; dnsQueries: number } {
  let httpRequests = -1;
  let dnsQueries = -1;
  let section = '';
  for (const line of out.split('\n')) {
    const m = /^( *)(.+?)\s{2,}(\d+)\s/.exec(line);
    if (!m) continue;
    const [, indent, item, n] = m;
    if (item === 'HTTP Request Packets') httpRequests = Number(n);
    if (indent.length === 1) section = item;
    if (indent.length === 2 && section === 'Query/Response' && item === 'Query') dnsQueries = Number(n);
  }
  return { httpRequests, dnsQueries };
}
