// Bad input as a person meets it in the browser UI: a capture cut short in the middle of a packet is
// listed with a message naming the file, the byte offset and the reason, and keeps (and summarises)
// every packet before the cut — as many as tshark reads from the same file; its requests are in the
// views. Files that are no capture at all, or empty, are refused with the file and the reason and
// never listed, while the good capture opened with them imports.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { startServe, type Served } from './serve-process';

const ROOT = join(import.meta.dirname, '..');
const SAMPLE = join(ROOT, 'samples/k8s-node1.any.pcap');
const GOOD = join(ROOT, 'samples/k8s-node2.pcapng');

let served: Served;
let dir: string;
let cut: string;

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowscope-bad-'));
  cut = join(dir, 'cut-short.pcap');
  writeFileSync(cut, readFileSync(SAMPLE).subarray(0, 100_000)); // ends inside a packet record
  served = await startServe([cut]);
});

test.afterAll(async () => {
  await served?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Packets tshark reads from a file (it stops at the cut too, and says so on stderr). */
function tsharkPackets(file: string): number {
  const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
  return r.stdout.trim().split('\n').length;
}

test('a capture cut short is listed with file, offset and reason and keeps what came before; non-captures are refused by name', async ({ page }, testInfo) => {
  await page.goto(served.url);
  const items = page.getByRole('list', { name: 'Captures' }).getByRole('listitem');
  await expect(items).toHaveCount(1);
  const row = items.first();
  await expect(row.locator('.capture__name')).toHaveText('cut-short.pcap');
  const status = row.locator('.capture__status');
  await expect(status).toContainText(cut);
  await expect(status).toContainText(/at byte offset \d+/);
  await expect(status).toContainText(/truncated|cut short|past the end/i);
  // The packets before the cut are kept and summarised.
  await expect(row.getByRole('term').first()).toHaveText('Packets');
  await expect(row.getByRole('definition').first()).toHaveText(tsharkPackets(cut).toLocaleString('en-US'));
  await page.screenshot({ path: testInfo.outputPath('bad-input-truncated.png'), fullPage: true });

  // Not a capture, and an empty file: refused at once, by name and reason; the good file beside them imports.
  const text = join(dir, 'notes.pcap');
  writeFileSync(text, 'these are my notes, not packets\n'.repeat(10));
  const empty = join(dir, 'empty.pcapng');
  writeFileSync(empty, '');
  const opened = (await served.call('openCapture', { paths: [text, empty, GOOD] })) as { captureIds: number[]; rejected: { path: string; reason: string }[] };
  expect(opened.captureIds).toHaveLength(1);
  expect(opened.rejected.map((r) => r.path)).toEqual([text, empty]);
  for (const r of opened.rejected) expect(r.reason).toContain(r.path);
  await expect(items).toHaveCount(2);
  await expect(items.nth(1).locator('.capture__name')).toHaveText('k8s-node2.pcapng');
  await expect(items.nth(1).getByRole('definition').first()).toHaveText(tsharkPackets(GOOD).toLocaleString('en-US'));

  // What the cut capture held before the cut is in the views too.
  await page.getByRole('tab', { name: 'Requests' }).click();
  await expect(page.getByTestId('requests-total')).toHaveText(/^[1-9][\d,]* requests?$/);
  await page.screenshot({ path: testInfo.outputPath('bad-input-requests.png'), fullPage: true });
});
