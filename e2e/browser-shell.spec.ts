// The built renderer in Debian's Chromium, served as plain files with no engine behind it: the shell,
// the theme, and that the strict CSP holds for the real bundle. With the engine behind it
// (`flowscope serve`): browser-serve.spec.ts.

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
