// --k8s FILE (repeatable) on analyze, requests and serve: Kubernetes metadata (the output of
// `kubectl get pods,services,endpoints,nodes -A -o json`) loaded into the store as names for IPs
// (engine/tag, SPEC.md "Auto-tagging"), so the views name services and pods instead of IPs.

import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { takeRepeated, UsageError } from './args';
import { alignRows } from './format';
import type { Store } from '../engine/store/store';
import { isMetadataPath, loadK8sMetadata } from '../engine/tag/k8s-metadata';

export interface LoadedMetadata {
  path: string;
  pods: number;
  services: number;
  nodes: number;
}

/** Takes the --k8s files out of argv and checks that they exist. */
export function takeK8sFiles(argv: string[]): { rest: string[]; k8s: string[] } {
  const { rest, values } = takeRepeated(argv, 'k8s', 'a Kubernetes metadata file (kubectl get pods,services,endpoints,nodes -A -o json)');
  for (const f of values) {
    if (!existsSync(f)) throw new UsageError(`${f}: no such file`);
    if (!statSync(f).isFile()) throw new UsageError(`${f}: not a file`);
  }
  return { rest, k8s: values };
}

/**
 * Positional files that are Kubernetes metadata (named *.json, or JSON by their first bytes — the rule
 * the app uses for opened files) rather than captures: `flowscope analyze cap.pcapng cluster.json` works
 * like `--k8s cluster.json`.
 */
export async function splitMetadataFiles(files: readonly string[]): Promise<{ captures: string[]; metadata: string[] }> {
  const captures: string[] = [];
  const metadata: string[] = [];
  for (const f of files) ((await isMetadataPath(resolve(f))) ? metadata : captures).push(f);
  return { captures, metadata };
}

/** Loads each file into the store's tags; throws K8sMetadataError (file and reason) for a bad one. */
export async function loadK8sFiles(store: Store, files: readonly string[]): Promise<LoadedMetadata[]> {
  const out: LoadedMetadata[] = [];
  for (const path of files) {
    const r = await loadK8sMetadata(store, path);
    out.push({ path, pods: r.pods, services: r.services, nodes: r.nodes });
  }
  return out;
}

export function describeMetadata(m: { path: string; pods: number; services: number; nodes: number }): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${m.path}: ${plural(m.pods, 'pod')}, ${plural(m.services, 'service')}, ${plural(m.nodes, 'node')}`;
}

/** An IP of the captures with the names tags give it (ip_names). */
export interface IpNames {
  ip: string;
  pod: string | null;
  service: string | null;
  workload: string | null;
  namespace: string | null;
  node: string | null;
  dnsName: string | null;
}

/** The IPs seen in the captures' flows that tags name, in IP order. */
export async function namedIps(store: Store, captureIds: readonly number[]): Promise<IpNames[]> {
  if (captureIds.length === 0) return [];
  const ids = captureIds.map((id) => String(Math.trunc(id))).join(', ');
  const r = await store.query(
    `SELECT n.ip, n.pod, n.service, n.workload, n.namespace, n.node, n.dns_name FROM ip_names n
     WHERE n.ip IN (SELECT client_ip FROM flows WHERE capture_id IN (${ids}) UNION SELECT server_ip FROM flows WHERE capture_id IN (${ids}))
     ORDER BY n.ip`,
  );
  const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return r.rows.map(([ip, pod, service, workload, namespace, node, dnsName]) => ({
    ip: String(ip),
    pod: s(pod),
    service: s(service),
    workload: s(workload),
    namespace: s(namespace),
    node: s(node),
    dnsName: s(dnsName),
  }));
}

/** The named IPs as an aligned table for the terminal. */
export function formatNamedIps(names: readonly IpNames[]): string {
  if (names.length === 0) return '  none (give Kubernetes metadata with --k8s FILE)';
  const head = ['  ip', 'pod', 'service', 'workload', 'namespace', 'node', 'dns name'];
  const rows = names.map((n) => [`  ${n.ip}`, ...[n.pod, n.service, n.workload, n.namespace, n.node, n.dnsName].map((v) => v ?? '-')]);
  return alignRows([head, ...rows], head.map(() => false), '  ').join('\n');
}
