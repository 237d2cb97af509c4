// Kubernetes metadata → IP names (SPEC.md "Auto-tagging"). Input: what
// `kubectl get pods,services,endpoints,nodes -o json` prints (a v1 List; typed lists such as PodList and
// EndpointSlices are read too), one file or several. Everything is checked before anything is written:
// a bad file fails whole, with a message naming the file, the item and what is wrong.
//
// Rules: pod IP → pod (labels), its workload, its service(s), its node; ClusterIP, external and
// load-balancer IPs → service; node address → node. Each loaded file is kept (normalised) in `meta`
// under its source key, and the tags are rebuilt from all kept files on every load, so relations across
// files (pods in one, endpoints in another) hold and reloading a source replaces what it said before.

import { open, readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Store } from '../store/store';
import { normalizeIp } from './ip-text';
import { TagSet, replaceTags, withTagTransaction, type ResourceSpec } from './tag-store';

type Labels = Record<string, string>;

interface Owner {
  kind: string;
  name: string;
}

export interface K8sPod {
  name: string;
  namespace: string;
  labels: Labels;
  ips: string[];
  node: string | null;
  owner: Owner | null;
  phase: string;
  hostNetwork: boolean;
}

export interface K8sService {
  name: string;
  namespace: string;
  labels: Labels;
  /** ClusterIPs, external IPs and load-balancer ingress IPs. */
  ips: string[];
  /** null when the service selects no pods (its endpoints are managed by hand). */
  selector: Labels | null;
}

export interface K8sEndpoint {
  ip: string;
  /** targetRef of kind Pod: the pod behind the address. */
  pod: { name: string; namespace: string } | null;
}

/** A v1 Endpoints object or a discovery.k8s.io EndpointSlice, by the service it belongs to. */
export interface K8sEndpoints {
  service: string;
  namespace: string;
  addresses: K8sEndpoint[];
}

export interface K8sNode {
  name: string;
  labels: Labels;
  ips: string[];
}

/** A controller between a pod and its workload (ReplicaSet, Job) when the dump lists it. */
export interface K8sController {
  kind: string;
  name: string;
  namespace: string;
  owner: Owner | null;
}

/** One metadata file, validated and reduced to what tagging uses. */
export interface K8sDump {
  file: string;
  pods: K8sPod[];
  services: K8sService[];
  endpoints: K8sEndpoints[];
  nodes: K8sNode[];
  controllers: K8sController[];
  /** Items of kinds tagging does not use (Deployments, ConfigMaps, ...), by kind. */
  skipped: Record<string, number>;
}

/** Thrown for a metadata file that cannot be used; nothing of it has been written. */
export class K8sMetadataError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'K8sMetadataError';
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates one item's fields; `fail` throws with the item named. */
class ItemReader {
  constructor(
    private readonly fail: (what: string) => never,
  ) {}

  obj(parent: Obj, key: string, path: string): Obj | null {
    const v = parent[key];
    if (v === undefined || v === null) return null;
    if (!isObj(v)) this.fail(`${path} is not an object`);
    return v;
  }

  arr(parent: Obj, key: string, path: string): unknown[] {
    const v = parent[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(`${path} is not an array`);
    return v;
  }

  str(parent: Obj, key: string, path: string): string | null {
    const v = parent[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') this.fail(`${path} is not a string`);
    return v;
  }

  labels(parent: Obj | null, key: string, path: string): Labels {
    if (parent === null) return {};
    const o = this.obj(parent, key, path);
    if (o === null) return {};
    const out: Labels = {};
    for (const [k, v] of Object.entries(o)) {
      if (typeof v !== 'string') this.fail(`${path}.${k} is not a string`);
      out[k] = v;
    }
    return out;
  }

  /** An IP field: normalised text, null when empty or absent, an error when it is not an address. */
  ip(parent: Obj, key: string, path: string): string | null {
    const s = this.str(parent, key, path);
    if (s === null || s === '' || s === 'None') return null;
    const ip = normalizeIp(s);
    if (ip === null) this.fail(`${path} ${JSON.stringify(s)} is not an IP address`);
    return ip;
  }

  /** The controller among ownerReferences (else the first one). */
  owner(meta: Obj): Owner | null {
    const refs = this.arr(meta, 'ownerReferences', 'metadata.ownerReferences');
    let pick: Owner | null = null;
    refs.forEach((r, k) => {
      const path = `metadata.ownerReferences[${k}]`;
      if (!isObj(r)) this.fail(`${path} is not an object`);
      const kind = this.str(r, 'kind', `${path}.kind`);
      const name = this.str(r, 'name', `${path}.name`);
      if (!kind || !name) this.fail(`${path} lacks kind or name`);
      if (pick === null || r.controller === true) pick = { kind, name };
    });
    return pick;
  }
}

function pushUnique(list: string[], ip: string | null): void {
  if (ip !== null && !list.includes(ip)) list.push(ip);
}

/** Parses and validates the text of one metadata file (`file` only names it in errors). */
export function parseK8sMetadata(text: string, file: string): K8sDump {
  let doc: unknown;
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    throw new K8sMetadataError(file, `not JSON: ${jsonErrorAt(body, (err as Error).message)}`);
  }
  if (!isObj(doc)) throw new K8sMetadataError(file, 'not a Kubernetes List: the top level is not a JSON object');
  const kind = doc.kind;
  if (typeof kind !== 'string' || !kind.endsWith('List') || !Array.isArray(doc.items)) {
    const what = typeof kind === 'string' ? `kind ${JSON.stringify(kind)}` : 'no kind';
    throw new K8sMetadataError(
      file,
      `not a Kubernetes List (${what}${Array.isArray(doc.items) ? '' : ', no items array'}); ` +
        'expected the output of `kubectl get pods,services,endpoints,nodes -o json`',
    );
  }
  // Typed lists (PodList from the API server) may leave the kind off their items.
  const listKind = kind === 'List' ? null : kind.slice(0, -'List'.length);

  const dump: K8sDump = { file, pods: [], services: [], endpoints: [], nodes: [], controllers: [], skipped: {} };
  doc.items.forEach((item: unknown, index: number) => {
    let label = '';
    const fail = (what: string): never => {
      throw new K8sMetadataError(file, `item ${index}${label}: ${what}`);
    };
    if (!isObj(item)) fail('not an object');
    const it = item as Obj;
    const r = new ItemReader(fail);
    const itemKind = r.str(it, 'kind', 'kind') ?? listKind;
    if (!itemKind) fail('kind is missing');
    label = ` (${itemKind})`;
    const meta = r.obj(it, 'metadata', 'metadata');
    if (meta === null) fail('metadata is missing');
    const name = r.str(meta!, 'name', 'metadata.name');
    if (!name) fail('metadata.name is missing');
    const ns = r.str(meta!, 'namespace', 'metadata.namespace') || 'default';
    label = ` (${itemKind} ${itemKind === 'Node' ? '' : `${ns}/`}${name})`;
    const spec = r.obj(it, 'spec', 'spec');
    const status = r.obj(it, 'status', 'status');
    const labels = r.labels(meta, 'labels', 'metadata.labels');

    switch (itemKind) {
      case 'Pod': {
        const ips: string[] = [];
        if (status !== null) {
          r.arr(status, 'podIPs', 'status.podIPs').forEach((p, k) => {
            if (!isObj(p)) fail(`status.podIPs[${k}] is not an object`);
            pushUnique(ips, r.ip(p as Obj, 'ip', `status.podIPs[${k}].ip`));
          });
          pushUnique(ips, r.ip(status, 'podIP', 'status.podIP'));
        }
        dump.pods.push({
          name: name!,
          namespace: ns,
          labels,
          ips,
          node: spec === null ? null : r.str(spec, 'nodeName', 'spec.nodeName') || null,
          owner: r.owner(meta!),
          phase: (status === null ? null : r.str(status, 'phase', 'status.phase')) ?? '',
          hostNetwork: spec !== null && spec.hostNetwork === true,
        });
        break;
      }
      case 'Service': {
        const ips: string[] = [];
        let selector: Labels | null = null;
        if (spec !== null) {
          r.arr(spec, 'clusterIPs', 'spec.clusterIPs').forEach((v, k) => {
            if (typeof v !== 'string') fail(`spec.clusterIPs[${k}] is not a string`);
            pushUnique(ips, r.ip({ v }, 'v', `spec.clusterIPs[${k}]`));
          });
          pushUnique(ips, r.ip(spec, 'clusterIP', 'spec.clusterIP'));
          r.arr(spec, 'externalIPs', 'spec.externalIPs').forEach((v, k) => {
            pushUnique(ips, r.ip({ v }, 'v', `spec.externalIPs[${k}]`));
          });
          const sel = r.labels(spec, 'selector', 'spec.selector');
          if (Object.keys(sel).length > 0) selector = sel;
        }
        const lb = status === null ? null : r.obj(status, 'loadBalancer', 'status.loadBalancer');
        if (lb !== null) {
          r.arr(lb, 'ingress', 'status.loadBalancer.ingress').forEach((g, k) => {
            if (!isObj(g)) fail(`status.loadBalancer.ingress[${k}] is not an object`);
            pushUnique(ips, r.ip(g as Obj, 'ip', `status.loadBalancer.ingress[${k}].ip`));
          });
        }
        dump.services.push({ name: name!, namespace: ns, labels, ips, selector });
        break;
      }
      case 'Endpoints': {
        const addresses: K8sEndpoint[] = [];
        r.arr(it, 'subsets', 'subsets').forEach((s, k) => {
          if (!isObj(s)) fail(`subsets[${k}] is not an object`);
          for (const key of ['addresses', 'notReadyAddresses']) {
            r.arr(s as Obj, key, `subsets[${k}].${key}`).forEach((a, j) => {
              const path = `subsets[${k}].${key}[${j}]`;
              if (!isObj(a)) fail(`${path} is not an object`);
              const ip = r.ip(a as Obj, 'ip', `${path}.ip`);
              if (ip === null) fail(`${path}.ip is missing`);
              addresses.push({ ip: ip!, pod: podRef(r, a as Obj, path, ns) });
            });
          }
        });
        dump.endpoints.push({ service: name!, namespace: ns, addresses });
        break;
      }
      case 'EndpointSlice': {
        const service = labels['kubernetes.io/service-name'];
        const addresses: K8sEndpoint[] = [];
        r.arr(it, 'endpoints', 'endpoints').forEach((e, k) => {
          const path = `endpoints[${k}]`;
          if (!isObj(e)) fail(`${path} is not an object`);
          const pod = podRef(r, e as Obj, path, ns);
          r.arr(e as Obj, 'addresses', `${path}.addresses`).forEach((v, j) => {
            const ip = r.ip({ v }, 'v', `${path}.addresses[${j}]`);
            if (ip !== null) addresses.push({ ip, pod });
          });
        });
        if (service) dump.endpoints.push({ service, namespace: ns, addresses });
        break;
      }
      case 'Node': {
        const ips: string[] = [];
        if (status !== null) {
          r.arr(status, 'addresses', 'status.addresses').forEach((a, k) => {
            const path = `status.addresses[${k}]`;
            if (!isObj(a)) fail(`${path} is not an object`);
            const type = r.str(a as Obj, 'type', `${path}.type`);
            // Hostname and DNS entries hold names, not addresses.
            if (type === 'InternalIP' || type === 'ExternalIP') pushUnique(ips, r.ip(a as Obj, 'address', `${path}.address`));
          });
        }
        dump.nodes.push({ name: name!, labels, ips });
        break;
      }
      case 'ReplicaSet':
      case 'Job':
        dump.controllers.push({ kind: itemKind, name: name!, namespace: ns, owner: r.owner(meta!) });
        break;
      default:
        dump.skipped[itemKind!] = (dump.skipped[itemKind!] ?? 0) + 1;
    }
  });
  return dump;
}

/**
 * Offset (in characters, as JSON.parse counts) of the first one that makes `text` invalid JSON, text.length
 * when it ends too early, -1 when it is valid: V8's messages name a position only for some errors, and a
 * user fixing a file needs the place.
 */
export function jsonErrorOffset(text: string): number {
  let p = 0;
  const ws = () => {
    while (p < text.length && ' \t\n\r'.includes(text[p])) p++;
  };
  const fail = (): never => {
    throw p;
  };
  const lit = (word: string) => {
    for (const ch of word) {
      if (text[p] !== ch) fail();
      p++;
    }
  };
  const str = () => {
    p++; // opening quote
    while (true) {
      if (p >= text.length) fail();
      const c = text.charCodeAt(p);
      if (c === 0x22) break;
      if (c < 0x20) fail();
      if (c === 0x5c) {
        p++;
        if (text[p] === 'u') {
          for (let k = 0; k < 4; k++) {
            p++;
            if (!/[0-9a-fA-F]/.test(text[p] ?? '')) fail();
          }
        } else if (p >= text.length || !'"\\/bfnrt'.includes(text[p])) {
          fail();
        }
      }
      p++;
    }
    p++;
  };
  const digits = () => {
    if (!/[0-9]/.test(text[p] ?? '')) fail();
    while (/[0-9]/.test(text[p] ?? '')) p++;
  };
  const num = () => {
    if (text[p] === '-') p++;
    if (text[p] === '0') p++;
    else digits();
    if (text[p] === '.') {
      p++;
      digits();
    }
    if (text[p] === 'e' || text[p] === 'E') {
      p++;
      if (text[p] === '+' || text[p] === '-') p++;
      digits();
    }
  };
  const value = (): void => {
    ws();
    const c = text[p];
    if (c === '{') {
      p++;
      ws();
      if (text[p] === '}') return void p++;
      while (true) {
        ws();
        if (text[p] !== '"') fail();
        str();
        ws();
        if (text[p] !== ':') fail();
        p++;
        value();
        ws();
        if (text[p] === ',') p++;
        else if (text[p] === '}') return void p++;
        else fail();
      }
    } else if (c === '[') {
      p++;
      ws();
      if (text[p] === ']') return void p++;
      while (true) {
        value();
        ws();
        if (text[p] === ',') p++;
        else if (text[p] === ']') return void p++;
        else fail();
      }
    } else if (c === '"') str();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else num();
  };
  try {
    value();
    ws();
    if (p < text.length) fail();
  } catch (at) {
    if (typeof at !== 'number') throw at;
    return Math.min(at, text.length);
  }
  return -1;
}

/** Where and why JSON.parse gave up, as line, column and offset. */
function jsonErrorAt(text: string, message: string): string {
  const reason = message.replace(/ in JSON at position \d+.*$/s, '');
  const pos = jsonErrorOffset(text);
  if (pos < 0) return reason;
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `line ${line} column ${column} (offset ${pos}): ${reason}`;
}

function podRef(r: ItemReader, parent: Obj, path: string, ns: string): K8sEndpoint['pod'] {
  const ref = r.obj(parent, 'targetRef', `${path}.targetRef`);
  if (ref === null || r.str(ref, 'kind', `${path}.targetRef.kind`) !== 'Pod') return null;
  const name = r.str(ref, 'name', `${path}.targetRef.name`);
  if (!name) return null;
  return { name, namespace: r.str(ref, 'namespace', `${path}.targetRef.namespace`) || ns };
}

// The hash the Deployment controller appends to a ReplicaSet's name (rand.SafeEncodeString's alphabet).
const TEMPLATE_HASH = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{5,10}$/;

/** The workload a pod belongs to: Deployment for ReplicaSet-owned pods, CronJob for Job-owned ones when known. */
function workloadOf(pod: K8sPod, controllers: Map<string, K8sController>): string | null {
  const o = pod.owner;
  if (o === null || o.kind === 'Node') return null; // static (mirror) pods belong to the node, not a workload
  const ctl = controllers.get(`${o.kind}\u0000${pod.namespace}\u0000${o.name}`);
  if (ctl?.owner) return ctl.owner.name;
  if (o.kind === 'ReplicaSet') {
    // As kubectl users read it: the ReplicaSet's name without the pod-template-hash suffix.
    const hash = pod.labels['pod-template-hash'];
    if (hash && o.name.endsWith(`-${hash}`)) return o.name.slice(0, -hash.length - 1);
    if (ctl === undefined) {
      const m = TEMPLATE_HASH.exec(o.name);
      if (m) return m[1];
    }
  }
  return o.name;
}

function matches(selector: Labels, labels: Labels): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

/** The tags all given dumps say together (later dumps win where they disagree about one object). */
export function k8sTags(dumps: readonly K8sDump[]): TagSet {
  const pods = new Map<string, K8sPod>();
  const services = new Map<string, K8sService>();
  const endpoints = new Map<string, K8sEndpoints[]>();
  const nodes = new Map<string, K8sNode>();
  const controllers = new Map<string, K8sController>();
  for (const d of dumps) {
    for (const p of d.pods) pods.set(`${p.namespace}/${p.name}`, p);
    for (const s of d.services) services.set(`${s.namespace}/${s.name}`, s);
    for (const e of d.endpoints) {
      const key = `${e.namespace}/${e.service}`;
      endpoints.set(key, [...(endpoints.get(key) ?? []), e]);
    }
    for (const n of d.nodes) nodes.set(n.name, n);
    for (const c of d.controllers) controllers.set(`${c.kind}\u0000${c.namespace}\u0000${c.name}`, c);
  }

  const set = new TagSet();
  const nodeIps = new Set<string>();
  for (const n of nodes.values()) {
    const res: ResourceSpec = { kind: 'node', name: n.name, namespace: null, labels: n.labels };
    for (const ip of n.ips) {
      set.link(ip, res);
      nodeIps.add(ip);
    }
  }

  // Pods whose IP is their own: not host-network pods (they share the node's address), and a finished
  // pod only while no live pod has taken its IP over.
  const podIps = new Map<string, string[]>();
  const owners = new Map<string, K8sPod>();
  const finished = (p: K8sPod) => p.phase === 'Succeeded' || p.phase === 'Failed';
  for (const p of pods.values()) {
    if (p.hostNetwork) continue;
    const mine: string[] = [];
    for (const ip of p.ips) {
      if (nodeIps.has(ip)) continue;
      const other = owners.get(ip);
      if (other !== undefined && !finished(other)) continue;
      if (other !== undefined && finished(p)) continue;
      owners.set(ip, p);
      mine.push(ip);
    }
    podIps.set(`${p.namespace}/${p.name}`, mine);
  }
  const ownIps = (p: K8sPod) => (podIps.get(`${p.namespace}/${p.name}`) ?? []).filter((ip) => owners.get(ip) === p);

  for (const p of pods.values()) {
    const ips = ownIps(p);
    if (ips.length === 0) continue;
    const workload = workloadOf(p, controllers);
    for (const ip of ips) {
      set.link(ip, { kind: 'pod', name: p.name, namespace: p.namespace, labels: p.labels });
      if (workload !== null) set.link(ip, { kind: 'workload', name: workload, namespace: p.namespace, labels: null });
      if (p.node !== null) set.link(ip, { kind: 'node', name: p.node, namespace: null, labels: nodes.get(p.node)?.labels ?? null });
    }
  }

  const byLabel = new Map<string, K8sPod[]>();
  for (const p of pods.values()) {
    if (finished(p)) continue;
    for (const [k, v] of Object.entries(p.labels)) {
      const key = `${p.namespace}\u0000${k}=${v}`;
      const list = byLabel.get(key);
      if (list === undefined) byLabel.set(key, [p]);
      else list.push(p);
    }
  }

  for (const [key, s] of services) {
    const res: ResourceSpec = { kind: 'service', name: s.name, namespace: s.namespace, labels: s.labels };
    for (const ip of s.ips) set.link(ip, res);
    const eps = endpoints.get(key);
    if (eps !== undefined) {
      // Endpoints say which pods back the service; an address without a pod (a hand-made endpoint)
      // names its IP unless that is a node's address, which carries much more than this service.
      for (const e of eps) {
        for (const a of e.addresses) {
          const pod = a.pod === null ? undefined : pods.get(`${a.pod.namespace}/${a.pod.name}`);
          if (pod !== undefined) for (const ip of ownIps(pod)) set.link(ip, res);
          if (!nodeIps.has(a.ip) && (pod === undefined || owners.get(a.ip) === pod)) set.link(a.ip, res);
        }
      }
    } else if (s.selector !== null) {
      // Candidates share the selector's first label: services × pods would be 10^8 checks in a big cluster.
      const [k, v] = Object.entries(s.selector)[0];
      for (const p of byLabel.get(`${s.namespace}\u0000${k}=${v}`) ?? []) {
        if (matches(s.selector, p.labels)) for (const ip of ownIps(p)) set.link(ip, res);
      }
    }
  }
  return set;
}

const META_PREFIX = 'k8s_metadata:';

async function storedDumps(conn: DuckDBConnection): Promise<Map<string, K8sDump>> {
  const reader = await conn.runAndReadAll(`SELECT key, value FROM meta WHERE starts_with(key, '${META_PREFIX}') ORDER BY key`);
  const out = new Map<string, K8sDump>();
  for (const [key, value] of reader.getRows()) out.set(String(key).slice(META_PREFIX.length), JSON.parse(String(value)) as K8sDump);
  return out;
}

export interface K8sLoadResult {
  /** The key this file's tags are kept under (its absolute path unless `source` was given). */
  source: string;
  /** Pods, services, endpoints, nodes read from this file. */
  pods: number;
  services: number;
  nodes: number;
  /** Resource rows and distinct IPs the k8s tags of all loaded sources now name. */
  resources: number;
  ips: number;
}

/**
 * Reads a metadata file and (re)builds the Kubernetes tags from it and every file loaded before.
 * Loading the same source again replaces what it said; `source` (default: the file's absolute path)
 * lets a newer dump at another path replace an older one. Throws K8sMetadataError, having written
 * nothing, when the file is not a usable dump.
 */
export async function loadK8sMetadata(store: Store, path: string, opts: { source?: string } = {}): Promise<K8sLoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new K8sMetadataError(path, `cannot read: ${(err as Error).message}`);
  }
  const dump = parseK8sMetadata(text, path);
  const source = opts.source ?? resolve(path);
  return withTagTransaction(store, async (conn) => {
    await conn.run('INSERT OR REPLACE INTO meta VALUES ($1, $2)', [META_PREFIX + source, JSON.stringify(dump)]);
    const counts = await rebuild(conn);
    return { source, pods: dump.pods.length, services: dump.services.length, nodes: dump.nodes.length, ...counts };
  });
}

/** Forgets a loaded source (see loadK8sMetadata) and rebuilds the tags from the rest. False if it was not loaded. */
export async function removeK8sMetadata(store: Store, source: string): Promise<boolean> {
  return withTagTransaction(store, async (conn) => {
    const before = await storedDumps(conn);
    if (!before.has(source)) return false;
    await conn.run('DELETE FROM meta WHERE key = $1', [META_PREFIX + source]);
    await rebuild(conn);
    return true;
  });
}

/** The sources loaded into this store, with the file each was read from. */
export async function listK8sMetadata(store: Store): Promise<Array<{ source: string; file: string }>> {
  return (await describeK8sMetadata(store)).map(({ source, file }) => ({ source, file }));
}

/** listK8sMetadata with the pods, services and nodes each source holds. */
export async function describeK8sMetadata(
  store: Store,
): Promise<Array<{ source: string; file: string; pods: number; services: number; nodes: number }>> {
  const conn = await store.connect();
  try {
    return [...(await storedDumps(conn))].map(([source, d]) => ({
      source,
      file: d.file,
      pods: d.pods.length,
      services: d.services.length,
      nodes: d.nodes.length,
    }));
  } finally {
    conn.closeSync();
  }
}

async function rebuild(conn: DuckDBConnection): Promise<{ resources: number; ips: number }> {
  const set = k8sTags([...(await storedDumps(conn)).values()]);
  await replaceTags(conn, { source: 'k8s', captureId: null }, set);
  return { resources: set.resources.length, ips: set.ipCount() };
}

/**
 * True for a path the app and the CLI load as Kubernetes metadata rather than import as a capture: a
 * kubectl JSON dump, or named `.json` (so a broken one is told as broken JSON, not as "not a pcap").
 */
export async function isMetadataPath(path: string): Promise<boolean> {
  return isAbsolute(path) && (/\.json$/i.test(path) || (await isK8sMetadataFile(path)));
}

/**
 * A cheap look at the start of a file: true when it looks like a kubectl JSON dump (a JSON object with
 * apiVersion and items or kind near the top), so an import can route it here instead of to the capture
 * readers. It does not validate; loadK8sMetadata does.
 */
export async function isK8sMetadataFile(path: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(4096);
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(buf, 0, buf.length, 0));
    } catch {
      return false; // a directory, a device that cannot be read: not metadata (the capture check says why)
    }
    const head = buf.toString('utf8', 0, bytesRead).replace(/^\uFEFF/, '').trimStart();
    return head.startsWith('{') && /"apiVersion"\s*:\s*"/.test(head) && /"(items|kind)"\s*:/.test(head);
  } finally {
    await fh.close();
  }
}
