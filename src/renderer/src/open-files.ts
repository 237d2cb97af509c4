// Turns dropped File objects into an openCapture call. Paths come from the desktop bridge
// (webUtils.getPathForFile); a browser has no paths, so there the user is told how to open files.

import type { AppApi } from './api';
import type { Notice } from './captures-state';

export type NewNotice = Pick<Notice, 'tone' | 'text'>;

export async function openDroppedFiles(api: AppApi | null, files: readonly File[]): Promise<NewNotice[]> {
  if (!api) return [{ tone: 'error', text: 'Not connected to a Flowscope engine, so files cannot be opened.' }];
  if (!api.pathForFile) {
    return [{ tone: 'error', text: 'Dropped files can only be opened in the desktop app, which reads them by path.' }];
  }
  const notices: NewNotice[] = [];
  const paths: string[] = [];
  for (const file of files) {
    const path = api.pathForFile(file);
    if (path) paths.push(path);
    else notices.push({ tone: 'error', text: `${file.name}: not a file on disk, cannot open it.` });
  }
  if (paths.length === 0) return notices;
  try {
    const response = await api.openCapture({ paths });
    for (const rejected of response.rejected) notices.push({ tone: 'error', text: rejected.reason });
  } catch (err) {
    notices.push({ tone: 'error', text: `Could not open: ${err instanceof Error ? err.message : String(err)}` });
  }
  return notices;
}
