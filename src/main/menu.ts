// The application menu as plain data, so it can be checked without Electron (the type import is
// erased at build time).

import type { MenuItemConstructorOptions } from 'electron';

/**
 * Filters of the Open dialog: captures first; gzip because .pcap.gz / .pcapng.gz open directly; JSON
 * because Kubernetes metadata (`kubectl get pods,services,endpoints,nodes -A -o json`) opens the same
 * way and names the captures' IPs. The first filter is the one shown, so it offers both.
 */
export const CAPTURE_FILE_FILTERS = [
  { name: 'Captures and Kubernetes metadata (pcap, pcapng, gz, json)', extensions: ['pcap', 'pcapng', 'cap', 'gz', 'json'] },
  { name: 'Packet captures (pcap, pcapng, gz)', extensions: ['pcap', 'pcapng', 'cap', 'gz'] },
  { name: 'Kubernetes metadata (kubectl … -o json)', extensions: ['json'] },
  { name: 'All files', extensions: ['*'] },
];

export interface MenuActions {
  openCapture(): void;
  openRecent(path: string): void;
  clearRecent(): void;
}

export function buildMenuTemplate(
  recent: readonly string[],
  actions: MenuActions,
  platform: NodeJS.Platform = process.platform,
): MenuItemConstructorOptions[] {
  const isMac = platform === 'darwin';
  const recentItems: MenuItemConstructorOptions[] =
    recent.length === 0
      ? [{ label: 'No recent captures', enabled: false }]
      : recent.map((path) => ({ label: path, click: () => actions.openRecent(path) }));

  const file: MenuItemConstructorOptions = {
    label: 'File',
    submenu: [
      { label: 'Open Capture…', accelerator: 'CmdOrCtrl+O', click: () => actions.openCapture() },
      {
        label: 'Open Recent',
        submenu: [
          ...recentItems,
          { type: 'separator' },
          { label: 'Clear Recent', enabled: recent.length > 0, click: () => actions.clearRecent() },
        ],
      },
      { type: 'separator' },
      isMac ? { role: 'close' } : { role: 'quit', label: 'Quit' },
    ],
  };

  return [
    ...(isMac ? [{ role: 'appMenu' } as MenuItemConstructorOptions] : []),
    file,
    { role: 'editMenu' },
    { role: 'viewMenu' },
    { role: 'windowMenu' },
  ];
}
