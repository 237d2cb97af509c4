// Shared by the tag-*.test.ts files: the samples' truth, a store with a real import of a sample capture,
// and snapshots of the tag tables. Not a test file itself.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { importCaptures } from '../src/engine/import';
import { Store } from '../src/engine/store/store';

export const SAMPLES = new URL('../samples/', import.meta.url).pathname;
export const METADATA = `${SAMPLES}k8s.metadata.json`;
export const BOTH = `${SAMPLES}k8s-both.pcapng`;

export interface TruthPod {
  name: string;
  namespace: string;
  node: string;
  ip: string;
}
export interface TruthService {
  name: string;
  namespace: string;
  type: 'ClusterIP' | 'Headless';
  ip: string;
  pod: string;
}
export interface TruthNode {
  name: string;
  underlay_ip: string;
}
export interface TruthDnsQuery {
  qname: string;
  qtype: string;
  rcode: number;
  answers: string[];
}
export interface Truth {
  topology: { nodes: TruthNode[]; pods: TruthPod[]; services: TruthService[] };
  dns_queries: TruthDnsQuery[];
  connections: Array<{ client_ip: string; client_port: number; server_ip: string; server_port: number; client_pod: string; server_pod: string | null }>;
}

export const truth = JSON.parse(readFileSync(`${SAMPLES}k8s.truth.json`, 'utf8')) as Truth;

/** A fresh in-memory store with `paths` imported the real way; returns the store and the capture ids. */
export async function importedStore(paths: string[] = [BOTH]): Promise<{ store: Store; captureIds: number[] }> {
  const store = await Store.open(':memory:');
  const results = await importCaptures(store, paths);
  for (const r of results) assert.equal(r.error, null);
  return { store, captureIds: results.map((r) => r.capture.captureId) };
}

export interface IpName {
  service: string | null;
  pod: string | null;
  workload: string | null;
  node: string | null;
  dns_name: string | null;
  process: string | null;
  namespace: string | null;
}

/** The ip_names view as ip → its names. */
export async function ipNames(store: Store): Promise<Map<string, IpName>> {
  const r = await store.query('SELECT ip, service, pod, workload, node, dns_name, process, namespace FROM ip_names');
  const out = new Map<string, IpName>();
  for (const [ip, service, pod, workload, node, dns_name, process, namespace] of r.rows) {
    out.set(String(ip), { service, pod, workload, node, dns_name, process, namespace } as IpName);
  }
  return out;
}

/** Every row of the tag tables (and the kept metadata), in a stable order, as text. */
export async function tagSnapshot(store: Store): Promise<{ resources: string[]; links: string[]; meta: string[] }> {
  const res = await store.query('SELECT resource_id, kind, name, namespace, labels::VARCHAR, source FROM resources ORDER BY ALL');
  const links = await store.query('SELECT ip, resource_id, valid_from, valid_to, capture_id FROM ip_resources ORDER BY ALL');
  const meta = await store.query(`SELECT key, value FROM meta WHERE starts_with(key, 'k8s_metadata:') ORDER BY ALL`);
  const text = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  return { resources: text(res.rows), links: text(links.rows), meta: text(meta.rows) };
}

/** The tag tables by content (resources named instead of numbered): equal whatever order ids were given in. */
export async function tagContent(store: Store): Promise<{ resources: string[]; links: string[]; meta: string[] }> {
  const res = await store.query('SELECT kind, name, namespace, labels::VARCHAR, source FROM resources ORDER BY ALL');
  const links = await store.query(
    `SELECT l.ip, r.kind, r.name, r.namespace, r.source, l.valid_from, l.valid_to, l.capture_id
     FROM ip_resources l JOIN resources r USING (resource_id) ORDER BY ALL`,
  );
  const { meta } = await tagSnapshot(store);
  const text = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  return { resources: text(res.rows), links: text(links.rows), meta };
}

/** Whether an IPv4 text address lies in a CIDR. */
export function inCidr(ip: string, cidr: string): boolean {
  const toInt = (s: string) => s.split('.').reduce((a, b) => a * 256 + Number(b), 0);
  const [net, bits] = cidr.split('/');
  if (ip.includes(':')) return false;
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(ip) / size) === Math.floor(toInt(net) / size);
}
