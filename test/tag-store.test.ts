// The tag writer's guarantees on a real DuckDB store: a failed write leaves nothing behind (appended rows
// included), writes from several callers at once all land without id clashes, and a metadata load
// running while a capture imports gives the same tables as one after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCaptures } from '../src/engine/import';
import { Store } from '../src/engine/store/store';
import { learnDnsNames } from '../src/engine/tag/dns-names';
import { loadK8sMetadata } from '../src/engine/tag/k8s-metadata';
import { TagSet, replaceTags, withTagTransaction } from '../src/engine/tag/tag-store';
import { BOTH, METADATA, importedStore, ipNames, tagContent, tagSnapshot } from './tag-helpers';

const tmp = mkdtempSync(join(tmpdir(), 'fs-tag-store-'));

test('store: a tag write that fails half-way is rolled back whole', async () => {
  const store = await Store.open(':memory:');
  try {
    await loadK8sMetadata(store, METADATA);
    const before = await tagSnapshot(store);
    const set = new TagSet();
    set.link('10.9.9.9', { kind: 'pod', name: 'ghost', namespace: 'x', labels: { a: 'b' } });
    await assert.rejects(
      withTagTransaction(store, async (conn) => {
        // Replaces every k8s row with one, then fails before the commit.
        assert.equal(await replaceTags(conn, { source: 'k8s', captureId: null }, set), 1);
        const inside = await conn.runAndReadAll(`SELECT count(*)::INTEGER FROM ip_resources`);
        assert.equal(inside.getRows()[0][0], 1);
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await tagSnapshot(store), before);
    // The queue goes on after a failure.
    await loadK8sMetadata(store, METADATA);
    assert.deepEqual(await tagSnapshot(store), before);
  } finally {
    await store.close();
  }
});

test('store: loads and DNS learning started together all land, ids distinct', async () => {
  const { store, captureIds } = await importedStore();
  try {
    const extra = join(tmp, 'extra.json');
    writeFileSync(
      extra,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'lone', namespace: 'other' }, status: { podIP: '10.250.0.1' } }],
      }),
    );
    await Promise.all([loadK8sMetadata(store, METADATA), loadK8sMetadata(store, extra), learnDnsNames(store, captureIds[0])]);
    const ids = await store.query('SELECT count(*)::INTEGER, count(DISTINCT resource_id)::INTEGER FROM resources');
    assert.equal(ids.rows[0][0], ids.rows[0][1]);
    const names = await ipNames(store);
    assert.equal(names.get('10.250.0.1')?.pod, 'lone');
    assert.equal(names.get('10.244.2.10')?.pod, 'api');
    assert.equal(names.get('10.96.0.11')?.dns_name, 'api.default.svc.cluster.local');
  } finally {
    await store.close();
  }
});

test('store: metadata loaded while a capture imports gives the tables a load after the import gives', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-tag-db-'));
  const a = await Store.open(join(dir, 'a.duckdb'));
  const b = await Store.open(join(dir, 'b.duckdb'));
  try {
    // a: both at once (the import holds appenders on the store's own connection meanwhile).
    await Promise.all([importCaptures(a, [BOTH]), loadK8sMetadata(a, METADATA)]);
    // b: one after the other.
    await importCaptures(b, [BOTH]);
    await loadK8sMetadata(b, METADATA);
    // The same rows; ids may differ (the import's DNS names and the metadata race for them).
    assert.deepEqual(await tagContent(a), await tagContent(b));
    const count = 'SELECT count(*)::INTEGER FROM flows';
    assert.deepEqual((await a.query(count)).rows, (await b.query(count)).rows);
    assert.deepEqual(await ipNames(a), await ipNames(b));
  } finally {
    await a.close();
    await b.close();
  }
  // And the tags survive closing and reopening the file.
  const again = await Store.open(join(dir, 'a.duckdb'));
  try {
    assert.equal((await ipNames(again)).get('10.244.1.10')?.service, 'frontend');
  } finally {
    await again.close();
  }
});
