// e2e tests (Playwright). Build first: `npm run build:app`.
//   browser:  the renderer in Debian's Chromium (later: against `flowscope serve`).
//   electron: the desktop app through Playwright's _electron; skips where no Electron binary exists.

import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './e2e/chromium';

export default defineConfig({
  testDir: './e2e',
  outputDir: './test-results',
  // Two cores: one app or browser at a time keeps timings sane.
  workers: 1,
  timeout: 60_000,
  globalTimeout: 15 * 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  forbidOnly: !!process.env.CI,
  use: { trace: 'retain-on-failure' },
  projects: [
    {
      name: 'browser',
      testMatch: /browser-.*\.spec\.ts$/,
      use: { browserName: 'chromium', launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS } },
    },
    {
      name: 'electron',
      testMatch: /electron-.*\.spec\.ts$/,
    },
  ],
});
