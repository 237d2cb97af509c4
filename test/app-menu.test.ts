// The File menu and the recent-captures list behind it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MenuItemConstructorOptions } from 'electron';
import { buildMenuTemplate, CAPTURE_FILE_FILTERS } from '../src/main/menu';
import { addRecent, loadRecent, RECENT_LIMIT, saveRecent } from '../src/main/recent-files';

function submenu(item: MenuItemConstructorOptions | undefined): MenuItemConstructorOptions[] {
  assert.ok(item && Array.isArray(item.submenu), `${item?.label ?? item?.role} has a submenu`);
  return item.submenu as MenuItemConstructorOptions[];
}

test('File menu: Open Capture…, Open Recent with one item per recent path, Quit', () => {
  const calls: string[] = [];
  const actions = {
    openCapture: () => calls.push('open'),
    openRecent: (path: string) => calls.push(`recent ${path}`),
    clearRecent: () => calls.push('clear'),
  };
  const template = buildMenuTemplate(['/c/new.pcapng', '/c/old.pcap'], actions, 'linux');
  assert.deepEqual(template.map((m) => m.label ?? m.role), ['File', 'editMenu', 'viewMenu', 'windowMenu']);

  const file = submenu(template[0]);
  assert.equal(file[0].label, 'Open Capture…');
  assert.equal(file[0].accelerator, 'CmdOrCtrl+O');
  const recent = submenu(file[1]);
  assert.deepEqual(recent.map((i) => i.label ?? i.type), ['/c/new.pcapng', '/c/old.pcap', 'separator', 'Clear Recent']);
  assert.equal(file.at(-1)?.role, 'quit');

  const click = (item: MenuItemConstructorOptions) => (item.click as () => void)();
  click(file[0]);
  click(recent[1]);
  click(recent[3]);
  assert.deepEqual(calls, ['open', 'recent /c/old.pcap', 'clear']);

  const empty = submenu(submenu(buildMenuTemplate([], actions, 'linux')[0])[1]);
  assert.deepEqual(empty.map((i) => [i.label ?? i.type, i.enabled ?? true]), [
    ['No recent captures', false],
    ['separator', true],
    ['Clear Recent', false],
  ]);

  // macOS: the app menu comes first and holds Quit; File ends with Close.
  const mac = buildMenuTemplate([], actions, 'darwin');
  assert.deepEqual(mac.map((m) => m.label ?? m.role), ['appMenu', 'File', 'editMenu', 'viewMenu', 'windowMenu']);
  assert.equal(submenu(mac[1]).at(-1)?.role, 'close');
});

test('the Open dialog offers pcap, pcapng and gz files first, with Kubernetes metadata (json) beside them', () => {
  assert.deepEqual(CAPTURE_FILE_FILTERS[0].extensions, ['pcap', 'pcapng', 'cap', 'gz', 'json']);
  assert.deepEqual(CAPTURE_FILE_FILTERS[1].extensions, ['pcap', 'pcapng', 'cap', 'gz']);
  assert.ok(CAPTURE_FILE_FILTERS.some((f) => /Kubernetes/.test(f.name) && f.extensions.join() === 'json'));
  assert.deepEqual(CAPTURE_FILE_FILTERS.at(-1)?.extensions, ['*']);
});

test('recent list: newest first, no duplicates, capped', () => {
  assert.deepEqual(addRecent(['/a', '/b', '/c'], ['/b']), ['/b', '/a', '/c']);
  assert.deepEqual(addRecent(['/a'], ['/x', '/y']), ['/y', '/x', '/a']);
  const many = Array.from({ length: 15 }, (_, i) => `/f${i}`);
  const list = many.reduce<string[]>((acc, path) => addRecent(acc, [path]), []);
  assert.equal(list.length, RECENT_LIMIT);
  assert.equal(list[0], '/f14');
  assert.equal(list.at(-1), '/f5');
});

test('recent list survives a restart and a damaged file reads as empty', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowscope-recent-'));
  try {
    // The data directory may not exist yet on a first run.
    const file = join(dir, 'first-run', 'recent-captures.json');
    assert.deepEqual(await loadRecent(file), []);
    await saveRecent(file, ['/data/a.pcap', '/data/b.pcapng']);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { version: 1, paths: ['/data/a.pcap', '/data/b.pcapng'] });
    assert.deepEqual(await loadRecent(file), ['/data/a.pcap', '/data/b.pcapng']);
    await writeFile(file, '{"version":1,"paths":["/data/a.pc');
    assert.deepEqual(await loadRecent(file), []);
    await writeFile(file, '{"version":2,"paths":["/x"]}');
    assert.deepEqual(await loadRecent(file), []);
    await writeFile(file, '{"version":1,"paths":["/x", 7, null]}');
    assert.deepEqual(await loadRecent(file), ['/x']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
