// The real thing in Debian's Chromium: `flowscope serve` on a sample capture, the built UI opened
// with the printed token, the capture listed with the packet count tshark counts in the file, and a
// capture opened while the page is up appearing live (progress over Server-Sent Events).

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { startServe, type Served } from './serve-process';

const ROOT = join(import.meta.dirname, '..');
const NODE1 = join(ROOT, 'samples/k8s-node1.pcapng');
const NODE2 = join(ROOT, 'samples/k8s-node2.pcapng');

/** Packets in a capture file, counted by tshark. */
function tsharkPackets(file: string): number {
  return execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' }).trim().split('\n').length;
}

let served: Served;

test.beforeAll(async () => {
  served = await startServe([NODE1]);
});

test.afterAll(async () => {
  await served?.stop();
});

test('flowscope serve: the page with the token lists the capture with its packet count, live updates arrive', async ({ page }, testInfo) => {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));

  const node1Packets = tsharkPackets(NODE1);
  await page.goto(served.url);
  await expect(page).toHaveTitle('Flowscope');
  await expect(page.getByText('Flowscope engine · store in memory')).toBeVisible();
  await expect(page.getByRole('alert')).toHaveCount(0); // connected: no "Not connected" notice

  const items = page.getByRole('list', { name: 'Captures' }).getByRole('listitem');
  await expect(items).toHaveCount(1);
  const first = items.first();
  await expect(first.locator('.capture__name')).toHaveText('k8s-node1.pcapng');
  await expect(first.locator('.capture__kind')).toHaveText('pcapng');
  await expect(first.getByRole('term').first()).toHaveText('Packets');
  await expect(first.getByRole('definition').first()).toHaveText(node1Packets.toLocaleString('en-US'));
  await page.screenshot({ path: testInfo.outputPath('serve-one-capture.png'), fullPage: true });

  // Opened from outside the page (a browser cannot hand over paths): the page hears of it over the
  // event stream, lists it and summarises it when its import is done.
  const node2Packets = tsharkPackets(NODE2);
  await served.call('openCapture', { paths: [NODE2] });
  await expect(items).toHaveCount(2);
  await expect(page.getByText('2 captures', { exact: true })).toBeVisible();
  const second = items.nth(1);
  await expect(second.locator('.capture__name')).toHaveText('k8s-node2.pcapng');
  await expect(second.getByRole('definition').first()).toHaveText(node2Packets.toLocaleString('en-US'));
  await page.screenshot({ path: testInfo.outputPath('serve-two-captures.png'), fullPage: true });

  expect(problems).toEqual([]);
});

test('without the token the page is served but the API refuses it, and the page says it is not connected', async ({ page }) => {
  await page.goto(served.origin);
  await expect(page.getByRole('alert')).toContainText('Not connected to a Flowscope engine');
  const status = await page.evaluate(async () => (await fetch('/api/listCaptures', { method: 'POST' })).status);
  expect(status).toBe(401);
});
