// Finds the Electron binary the way node_modules/electron/index.js does, but without its fallback:
// that file *downloads* Electron when the binary is missing, and these tests must never do that.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type ElectronBinary = { path: string; reason: null } | { path: null; reason: string };

export function findElectronBinary(): ElectronBinary {
  let packageDir: string;
  try {
    packageDir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  } catch {
    return { path: null, reason: 'the electron package is not installed' };
  }
  const pathFile = join(packageDir, 'path.txt');
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : null;
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  if (override) {
    const path = join(override, relative || 'electron');
    return existsSync(path) ? { path, reason: null } : { path: null, reason: `ELECTRON_OVERRIDE_DIST_PATH has no binary at ${path}` };
  }
  if (!relative) {
    return { path: null, reason: `the electron package has no binary (no ${pathFile}; its install script did not run)` };
  }
  const path = join(packageDir, 'dist', relative);
  return existsSync(path) ? { path, reason: null } : { path: null, reason: `the Electron binary ${path} is missing` };
}
