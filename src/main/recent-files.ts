// Recently opened captures: newest first, no duplicates, at most RECENT_LIMIT, kept as a small JSON
// file in the app's data directory. A missing or damaged file just means an empty list.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export const RECENT_LIMIT = 10;
export const RECENT_FILE_NAME = 'recent-captures.json';

interface RecentFileV1 {
  version: 1;
  paths: string[];
}

export function addRecent(list: readonly string[], paths: readonly string[], limit = RECENT_LIMIT): string[] {
  const fresh = [...new Set(paths)].reverse();
  return [...fresh, ...list.filter((p) => !fresh.includes(p))].slice(0, limit);
}

export async function loadRecent(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  try {
    const data = JSON.parse(text) as Partial<RecentFileV1>;
    if (data.version !== 1 || !Array.isArray(data.paths)) return [];
    return data.paths.filter((p): p is string => typeof p === 'string').slice(0, RECENT_LIMIT);
  } catch {
    return [];
  }
}

/** Writes through a temporary file and a rename, so a crash never leaves half a list. */
export async function saveRecent(file: string, paths: readonly string[]): Promise<void> {
  const data: RecentFileV1 = { version: 1, paths: [...paths] };
  const tmp = `${file}.${process.pid}.tmp`;
  await mkdir(dirname(file), { recursive: true });
  await writeFile(tmp, JSON.stringify(data, null, 2) + '\n', 'utf8');
  await rename(tmp, file);
}
