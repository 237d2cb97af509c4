// Launches the built desktop app (npm run build:app first) and checks what a person sees first.
// Skips, saying why, where there is no Electron binary (as on the build machine).

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { _electron as electron, expect, test, type ElectronApplication } from '@playwright/test';
import { API_METHOD_NAMES } from '../src/shared/api';
import { findElectronBinary } from './electron-binary';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = '/work/shared/fixtures/deepflow/server/libs/datatype/ipip.pcap';
const EMPTY_TEXT = 'Open a capture: File → Open, or drop a pcap/pcapng file here';

const binary = findElectronBinary();
if (!binary.path) console.log(`[electron] skipping the Electron tests: ${binary.reason}`);
test.skip(!binary.path, `no Electron binary: ${binary.reason}`);

test.beforeAll(() => {
  if (!existsSync(join(ROOT, 'out/main/index.js'))) throw new Error('out/main/index.js is missing: run `npm run build:app` first');
});

/** Starts the app with its own data directory, as a first run would. */
async function launch(extraArgs: string[] = []): Promise<{ app: ElectronApplication; userData: string }> {
  const userData = mkdtempSync(join(tmpdir(), 'flowscope-e2e-'));
  const app = await electron.launch({
    executablePath: binary.path!,
    // On Linux Playwright adds --no-sandbox itself; the windows' own sandbox: true stays in force.
    args: [ROOT, ...extraArgs],
    env: { ...process.env, FLOWSCOPE_USER_DATA: userData },
  });
  return { app, userData };
}

test('the app opens one hardened window with the empty state', async ({}, testInfo) => {
  const { app, userData } = await launch();
  try {
    const page = await app.firstWindow();
    await expect(page).toHaveTitle('Flowscope');
    await expect(page.getByText(EMPTY_TEXT)).toBeVisible();
    await expect(page.getByText('No captures open')).toBeVisible();

    const prefs = await app.evaluate(({ BrowserWindow }) => {
      // Documented Electron API missing from electron@45's type declarations.
      type Prefs = { contextIsolation?: boolean; sandbox?: boolean; nodeIntegration?: boolean; webSecurity?: boolean } | null;
      const wc = BrowserWindow.getAllWindows()[0].webContents as unknown as { getLastWebPreferences(): Prefs };
      const p = wc.getLastWebPreferences();
      return { contextIsolation: p?.contextIsolation, sandbox: p?.sandbox, nodeIntegration: p?.nodeIntegration, webSecurity: p?.webSecurity };
    });
    expect(prefs).toEqual({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true });

    // The page reaches exactly the API, and no Node.
    const exposed = await page.evaluate(() => ({
      keys: Object.keys(window.flowscope ?? {}).sort(),
      require: typeof (window as unknown as { require?: unknown }).require,
      process: typeof (window as unknown as { process?: unknown }).process,
    }));
    expect(exposed).toEqual({ keys: [...API_METHOD_NAMES, 'on', 'pathForFile'].sort(), require: 'undefined', process: 'undefined' });
    const info = await page.evaluate(() => window.flowscope!.appInfo());
    expect(info).toMatchObject({ ok: true, value: { name: 'Flowscope', version: '0.1.0' } });

    await page.screenshot({ path: testInfo.outputPath('empty-state.png') });
  } finally {
    await app.close();
    rmSync(userData, { recursive: true, force: true });
  }
});

test('a capture named on the command line is opened, listed and remembered', async ({}, testInfo) => {
  test.skip(!existsSync(FIXTURE), `fixture ${FIXTURE} is not on this machine`);
  const { app, userData } = await launch([FIXTURE]);
  try {
    const page = await app.firstWindow();
    const item = page.getByRole('list', { name: 'Captures' }).getByRole('listitem');
    await expect(item).toHaveCount(1);
    await expect(item.locator('.capture__name')).toHaveText('ipip.pcap');
    await expect(item.locator('.capture__kind')).toHaveText('pcap');
    await expect(page.getByText('1 capture', { exact: true })).toBeVisible();
    // Remembered in this run's own data directory, for File → Open Recent.
    const recentFile = join(userData, 'recent-captures.json');
    await expect
      .poll(() => (existsSync(recentFile) ? JSON.parse(readFileSync(recentFile, 'utf8')) : null))
      .toEqual({ version: 1, paths: [FIXTURE] });
    await page.screenshot({ path: testInfo.outputPath('one-capture.png') });
  } finally {
    await app.close();
    rmSync(userData, { recursive: true, force: true });
  }
});
