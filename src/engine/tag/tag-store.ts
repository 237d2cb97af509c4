// Writes auto-tagging results into the dictionary tables (schema.ts `resources`, `ip_resources`).
//
// A tag *origin* is one producer of names: Kubernetes metadata (source 'k8s', capture_id NULL) or the DNS
// answers of one capture (source 'dns', capture_id = that capture). Each write replaces everything its
// origin wrote before, in one transaction, so writing the same thing twice doubles nothing and a newer
// result drops what the older one said. A resource row (kind, name, namespace, source) is stored once and
// keeps its integer id while anything still points at it; rows nothing points at any more are deleted.

import type { DuckDBConnection } from '@duckdb/node-api';
import type { Store } from '../store/store';

export type ResourceKind = 'pod' | 'service' | 'node' | 'namespace' | 'workload' | 'process' | 'dns';
export type TagSource = 'k8s' | 'dns' | 'process';

export interface ResourceSpec {
  kind: ResourceKind;
  name: string;
  namespace: string | null;
  labels: Record<string, string> | null;
}

/** Which writer a set of tags belongs to. */
export interface TagOrigin {
  source: TagSource;
  /** The capture the names were learned from; null for external metadata. */
  captureId: number | null;
}

/** Resources and IP → resource links, each stored once however often they are added. */
export class TagSet {
  readonly resources: ResourceSpec[] = [];
  /** [ip, index into resources] */
  readonly links: Array<[string, number]> = [];
  private readonly index = new Map<string, number>();
  private readonly linkKeys = new Set<string>();

  /** Adds (or finds) a resource; later labels for the same resource replace earlier ones. */
  resource(spec: ResourceSpec): number {
    const key = resourceKey(spec.kind, spec.name, spec.namespace);
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.resources.length;
      this.resources.push(spec);
      this.index.set(key, i);
    } else if (spec.labels !== null) {
      this.resources[i].labels = spec.labels;
    }
    return i;
  }

  link(ip: string, spec: ResourceSpec): void {
    const r = this.resource(spec);
    const key = `${ip}\u0000${r}`;
    if (this.linkKeys.has(key)) return;
    this.linkKeys.add(key);
    this.links.push([ip, r]);
  }

  /** Distinct IPs that got at least one name. */
  ipCount(): number {
    return new Set(this.links.map((l) => l[0])).size;
  }
}

function resourceKey(kind: string, name: string, namespace: string | null): string {
  return `${kind}\u0000${namespace ?? ''}\u0000${name}`;
}

// Writers of one store run one after another: two transactions allocating resource ids at once would
// collide on the primary key.
const queues = new WeakMap<Store, Promise<unknown>>();

/** Runs `work` on its own connection inside one transaction, after earlier tag writes to this store. */
export function withTagTransaction<T>(store: Store, work: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const prev = queues.get(store) ?? Promise.resolve();
  const run = prev
    .catch(() => undefined)
    .then(async () => {
      // Its own connection: the store's `conn` may carry an import's appenders, whose rows must not
      // land in (or be rolled back with) this transaction.
      const conn = await store.connect();
      try {
        await conn.run('BEGIN TRANSACTION');
        try {
          const out = await work(conn);
          await conn.run('COMMIT');
          return out;
        } catch (err) {
          await conn.run('ROLLBACK').catch(() => undefined);
          throw err;
        }
      } finally {
        conn.closeSync();
      }
    });
  queues.set(store, run);
  return run;
}

type Cell = string | number | null;

/**
 * Appends rows inside the connection's open transaction (a rollback drops them too). The appender is
 * the fast way in: statements with thousands of parameters cost seconds for a large cluster's tags.
 */
async function appendRows(conn: DuckDBConnection, table: string, rows: readonly Cell[][]): Promise<void> {
  if (rows.length === 0) return;
  const ap = await conn.createAppender(table);
  try {
    for (const row of rows) {
      for (const v of row) {
        if (v === null) ap.appendNull();
        else if (typeof v === 'number') ap.appendInteger(v);
        else ap.appendVarchar(v);
      }
      ap.endRow();
    }
  } finally {
    ap.closeSync();
  }
}

/**
 * Replaces what `origin` wrote before with `set`, inside the caller's transaction (withTagTransaction).
 * Returns the number of IP → resource rows written.
 */
export async function replaceTags(conn: DuckDBConnection, origin: TagOrigin, set: TagSet): Promise<number> {
  const src = origin.source;
  const cap = origin.captureId;
  await conn.run(
    `DELETE FROM ip_resources WHERE capture_id IS NOT DISTINCT FROM $1::INTEGER
       AND resource_id IN (SELECT resource_id FROM resources WHERE source = $2)`,
    [cap, src] as never,
  );

  // Resource ids: the existing row of the same (kind, name, namespace, source), else a new one.
  const existing = new Map<string, number>();
  const reader = await conn.runAndReadAll(`SELECT resource_id, kind, name, namespace FROM resources WHERE source = $1`, [src]);
  for (const [id, kind, name, ns] of reader.getRows()) {
    existing.set(resourceKey(String(kind), String(name), ns === null ? null : String(ns)), Number(id));
  }
  const maxReader = await conn.runAndReadAll('SELECT coalesce(max(resource_id), 0) FROM resources');
  let nextId = Number(maxReader.getRows()[0][0]) + 1;

  const ids: number[] = [];
  const fresh: Cell[][] = [];
  const relabel: Cell[][] = [];
  for (const r of set.resources) {
    const labels = r.labels === null ? null : JSON.stringify(r.labels);
    const id = existing.get(resourceKey(r.kind, r.name, r.namespace));
    if (id === undefined) {
      ids.push(nextId);
      fresh.push([nextId++, r.kind, r.name, r.namespace, labels, src]);
    } else {
      ids.push(id);
      relabel.push([id, labels]);
    }
  }
  await appendRows(conn, 'resources', fresh);
  // Labels of a resource another origin of the same source also links keep the newest writer's view.
  if (relabel.length > 0) {
    await conn.run('CREATE OR REPLACE TEMP TABLE fs_tag_labels (resource_id INTEGER, labels VARCHAR)');
    await appendRows(conn, 'fs_tag_labels', relabel);
    await conn.run(`UPDATE resources SET labels = t.labels::JSON FROM fs_tag_labels t
                    WHERE resources.resource_id = t.resource_id AND resources.labels IS DISTINCT FROM t.labels::JSON`);
    await conn.run('DROP TABLE fs_tag_labels');
  }

  const links: Cell[][] = set.links.map(([ip, r]) => [ip, ids[r], null, null, cap]);
  await appendRows(conn, 'ip_resources', links);

  // Resources of this source that no IP points at any more (e.g. a pod gone from the newer dump).
  await conn.run(
    `DELETE FROM resources r WHERE r.source = $1
       AND NOT EXISTS (SELECT 1 FROM ip_resources ir WHERE ir.resource_id = r.resource_id)`,
    [src],
  );
  return links.length;
}
