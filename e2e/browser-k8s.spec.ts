// Kubernetes metadata in the browser UI, against the real `flowscope serve`: with the k8s sample open,
// metadata opened while the page is up (a browser cannot hand over paths, so through the API as
// another client would) shows a notice with its counts and is listed on the Captures tab, and the
// service map the page draws is redrawn with the truth's service names; removing it there (the
// list's Remove button) brings the IPs back.

import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { loadTruth } from '../samples/truth';
import { startServe, type Served } from './serve-process';

const ROOT = join(import.meta.dirname, '..');
const BOTH = join(ROOT, 'samples/k8s-both.pcapng');
const METADATA = join(ROOT, 'samples/k8s.metadata.json');
const truth = loadTruth();

let served: Served;

test.beforeAll(async () => {
  served = await startServe([BOTH]);
});

test.afterAll(async () => {
  await served?.stop();
});

/** The node ids the page's map drew, sorted. */
async function drawnNodes(page: Page): Promise<string[]> {
  return page.evaluate(() => (window.flowscopeMap?.nodes().map((n) => n.id()) ?? []).sort());
}

test('metadata opened while the page is up: a notice with its counts, listed, the map redrawn with service names, and removed from the list', async ({ page }, testInfo) => {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  await page.goto(served.url);
  const capture = page.getByRole('list', { name: 'Captures' }).getByRole('listitem');
  await expect(capture.getByRole('term').first()).toHaveText('Packets'); // imported
  await page.getByRole('tab', { name: 'Service map' }).click();

  // Before: the pods no DNS answer named are bare IPs.
  const dnsPod = truth.topology.pods.find((p) => p.name === 'dns')!;
  await expect.poll(() => drawnNodes(page)).toContain(dnsPod.ip);

  await served.call('openCapture', { paths: [METADATA] });
  await expect(page.getByRole('status')).toContainText('Loaded Kubernetes metadata: 6 pods, 6 services (k8s.metadata.json)');
  const named = (await served.call('serviceMap', {})) as { nodes: { id: string; kind: string }[] };
  expect(named.nodes.filter((n) => n.kind === 'ip')).toEqual([]);
  await expect.poll(() => drawnNodes(page)).toEqual(named.nodes.map((n) => n.id).sort());
  for (const svc of truth.topology.services) expect(await drawnNodes(page)).toContain(svc.name);
  await page.screenshot({ path: testInfo.outputPath('k8s-named-map.png'), fullPage: true });

  await page.getByRole('tab', { name: 'Captures' }).click();
  const listed = page.getByRole('region', { name: 'Kubernetes metadata' }).getByRole('listitem');
  await expect(listed).toHaveCount(1);
  await expect(listed).toContainText('k8s.metadata.json');
  await expect(listed).toContainText('6 pods · 6 services');
  await page.screenshot({ path: testInfo.outputPath('k8s-metadata-listed.png'), fullPage: true });
  await listed.getByRole('button', { name: 'Remove k8s.metadata.json' }).click();
  await expect(page.getByRole('status')).toContainText('Removed Kubernetes metadata');
  await expect(listed).toHaveCount(0);
  expect(await served.call('listMetadata', undefined)).toEqual([]);
  await page.getByRole('tab', { name: 'Service map' }).click();
  await expect.poll(() => drawnNodes(page)).toContain(dnsPod.ip);
  expect(problems).toEqual([]);
});
