// The built renderer in Debian's Chromium, with no engine behind it (until `flowscope serve` serves
// it with the API). Checks the shell, the theme, and that the strict CSP holds for the real bundle.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { serveDirectory } from './static-server';

const RENDERER = join(import.meta.dirname, '..', 'out/renderer');
const EMPTY_TEXT = 'Open a capture: File → Open, or drop a pcap/pcapng file here';
const LIGHT_BG = 'rgb(255, 255, 255)';
const DARK_BG = 'rgb(21, 23, 28)';

let server: { url: string; close: () => Promise<void> };

test.beforeAll(async () => {
  if (!existsSync(join(RENDERER, 'index.html'))) throw new Error(`${RENDERER}/index.html is missing: run \`npm run build:app\` first`);
  server = await serveDirectory(RENDERER);
});

test.afterAll(async () => {
  await server?.close();
});

test('the shell renders its empty state, says it is not connected, and breaks no CSP rule', async ({ page }, testInfo) => {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));

  await page.goto(server.url);
  await expect(page).toHaveTitle('Flowscope');
  await expect(page.getByText(EMPTY_TEXT)).toBeVisible();
  await expect(page.getByRole('alert')).toContainText('Not connected to a Flowscope engine');
  await page.screenshot({ path: testInfo.outputPath('browser-empty-state.png') });
  expect(problems).toEqual([]);
});

test('theme follows the system until chosen, and the choice survives a reload', async ({ page }) => {
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const toggle = page.getByRole('button', { name: /^Theme: / });

  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(server.url);
  await expect(toggle).toHaveText('Theme: system');
  expect(await background()).toBe(DARK_BG);
  await page.emulateMedia({ colorScheme: 'light' });
  expect(await background()).toBe(LIGHT_BG);

  await toggle.click();
  await expect(toggle).toHaveText('Theme: light');
  await page.emulateMedia({ colorScheme: 'dark' });
  expect(await background()).toBe(LIGHT_BG);

  await toggle.click();
  await expect(toggle).toHaveText('Theme: dark');
  await page.emulateMedia({ colorScheme: 'light' });
  expect(await background()).toBe(DARK_BG);

  await page.reload();
  await expect(toggle).toHaveText('Theme: dark');
  expect(await background()).toBe(DARK_BG);

  await toggle.click();
  await expect(toggle).toHaveText('Theme: system');
  expect(await background()).toBe(LIGHT_BG);
});

/**
 * A scripted stand-in for the engine's wire, installed before the page loads. The real transports
 * (Electron IPC, `flowscope serve`) cannot run on this machine yet; this drives the real renderer
 * bundle through a whole drop → import → list → summary cycle with fixed, known answers.
 */
function scriptedWire(): void {
  type Listener = (payload: unknown) => void;
  const listeners = new Set<Listener>();
  const records: Record<string, unknown>[] = [];
  const calls: unknown[] = [];
  (window as unknown as { wireCalls: unknown[] }).wireCalls = calls;
  const ok = (value: unknown) => Promise.resolve({ ok: true, value });
  const emit = (payload: unknown) => setTimeout(() => listeners.forEach((l) => l(payload)), 0);
  (window as unknown as { flowscope: unknown }).flowscope = {
    appInfo: () => ok({ name: 'Flowscope', version: 'e2e', platform: 'linux', arch: 'x64', versions: {}, engine: 'scripted wire' }),
    openCapture: (request: { paths: string[] }) => {
      calls.push(['openCapture', request]);
      const path = request.paths[0];
      records.push({ captureId: 1, source: path, kind: 'pcapng', startedAt: null, endedAt: null, packets: 0, bytes: 0, fileBytes: 2048, malformedPackets: 0, nonIpPackets: 0, error: null });
      const base = { importId: 'import-1', captureId: 1, path, totalBytes: 2048 };
      emit({ ...base, phase: 'reading', bytesRead: 512 });
      // Finishes when the test says so, so the progress bar can be seen first.
      (window as unknown as { finishImport: () => void }).finishImport = () => emit({ ...base, phase: 'done', bytesRead: 2048 });
      return ok({ captureIds: [1], importIds: ['import-1'], rejected: request.paths.slice(1).map((p) => ({ path: p, reason: `${p}: offset 0: not a pcap or pcapng file (magic 89 50 4e 47)` })) });
    },
    listCaptures: () => ok(records),
    captureSummary: (request: unknown) => {
      calls.push(['captureSummary', request]);
      // The headline fields of a CaptureSummary (src/shared/summary.ts) the list shows.
      return ok({ captureIds: [1], packets: 1234567, bytes: 987654321, connections: 42, flowRows: 84, durationUs: 61_000_000, malformedPackets: 0, tcp: { retransRatio: 0.005 } });
    },
    query: () => Promise.resolve({ ok: false, error: { code: 'unavailable', message: 'no store' } }),
    cancelImport: () => ok({ cancelled: false }),
    on: (_name: string, listener: Listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    pathForFile: (file: File) => `/captures/${file.name}`,
  };
}

test('a dropped file goes through the API: progress, then the capture with its summary numbers', async ({ page }, testInfo) => {
  await page.addInitScript(scriptedWire);
  await page.goto(server.url);
  await expect(page.getByText('scripted wire')).toBeVisible();
  await expect(page.getByText(EMPTY_TEXT)).toBeVisible();

  const dataTransfer = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['x'], 'web.pcapng'));
    dt.items.add(new File(['x'], 'cat.png'));
    return dt;
  });
  await page.dispatchEvent('[data-testid="drop-zone"]', 'drop', { dataTransfer });

  const item = page.getByRole('list', { name: 'Captures' }).getByRole('listitem');
  await expect(item).toHaveCount(1);
  await expect(item).toContainText('web.pcapng');
  await expect(item).toContainText('2.0 KiB');
  await expect(item.getByRole('progressbar')).toHaveAttribute('value', '25');
  await expect(page.getByText('/captures/cat.png: offset 0: not a pcap or pcapng file (magic 89 50 4e 47)')).toBeVisible();

  await page.evaluate(() => (window as unknown as { finishImport: () => void }).finishImport());
  await expect(item.getByRole('progressbar')).toHaveCount(0);
  await expect(item.getByRole('term')).toHaveText(['Packets', 'Bytes', 'Connections', 'Flow rows', 'Duration', 'TCP retransmissions']);
  await expect(item.getByRole('definition')).toHaveText(['1,234,567', '942 MiB', '42', '84', '1 min 1 s', '0.50 %']);
  await page.screenshot({ path: testInfo.outputPath('browser-one-capture.png') });

  expect(await page.evaluate(() => (window as unknown as { wireCalls: unknown[] }).wireCalls)).toEqual([
    ['openCapture', { paths: ['/captures/web.pcapng', '/captures/cat.png'] }],
    ['captureSummary', { captureIds: [1] }],
  ]);
});
