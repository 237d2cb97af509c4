// Electron main process: one hardened window, the File menu, recent captures, and the API handlers
// that forward every call to the engine (see engine-host.ts for the seam).

import { app, BrowserWindow, dialog, ipcMain, Menu, nativeTheme, session } from 'electron';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  eventChannel,
  type MethodName,
  type OpenCaptureRequest,
  type OpenCaptureResponse,
  type RequestOf,
  type ResponseOf,
} from '../shared/api';
import { startWorkerEngine, type EngineHost } from './engine-host';
import { WORKSPACE_DB_NAME } from './engine-protocol';
import type { EngineWorkerData } from './engine-worker';
import { isTrustedRendererUrl, registerApiHandlers } from './ipc-handlers';
import { buildMenuTemplate, CAPTURE_FILE_FILTERS } from './menu';
import { addRecent, loadRecent, RECENT_FILE_NAME, saveRecent } from './recent-files';

const here = import.meta.dirname;
const preloadFile = join(here, '../preload/index.cjs');
const workerFile = join(here, 'engine-worker.js');
// electron-vite sets ELECTRON_RENDERER_URL only for `electron-vite dev` (the Vite dev server).
const devServerUrl = process.env.ELECTRON_RENDERER_URL;
const rendererUrl = devServerUrl ?? pathToFileURL(join(here, '../renderer/index.html')).href;

// A separate data directory per run (e2e tests give each test its own); must precede `ready`.
if (process.env.FLOWSCOPE_USER_DATA) app.setPath('userData', resolve(process.env.FLOWSCOPE_USER_DATA));

let engine: EngineHost | null = null;
let engineClosed = false;
let mainWindow: BrowserWindow | null = null;
let recent: string[] = [];
// Paths asked for before the app was ready (command line, macOS open-file).
const pendingPaths: string[] = [];

const recentFile = () => join(app.getPath('userData'), RECENT_FILE_NAME);

function capturePathsFromArgv(argv: readonly string[]): string[] {
  // Packaged: [exe, ...args]; unpackaged: [electron, ...switches, appPath, ...args]. Switches may
  // come anywhere (Playwright puts its own first), so skip them, and the app path when unpackaged.
  const operands = argv.slice(1).filter((arg) => !arg.startsWith('-'));
  return (app.isPackaged ? operands : operands.slice(1))
    .map((arg) => resolve(arg))
    .filter((path) => {
      try {
        return statSync(path).isFile();
      } catch {
        return false;
      }
    });
}

function rebuildMenu(): void {
  const template = buildMenuTemplate(recent, {
    openCapture: () => void chooseAndOpen(),
    openRecent: (path) => void openCaptures([path]),
    clearRecent: () => void updateRecent([], true),
  });
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

async function updateRecent(paths: string[], replace = false): Promise<void> {
  recent = replace ? [] : addRecent(recent, paths);
  if (replace) app.clearRecentDocuments();
  for (const path of paths) app.addRecentDocument(path);
  rebuildMenu();
  try {
    await saveRecent(recentFile(), recent);
  } catch (err) {
    console.error(`could not save the recent captures list: ${(err as Error).message}`);
  }
}

function rememberOpened(request: OpenCaptureRequest, response: OpenCaptureResponse): void {
  const rejected = new Set(response.rejected.map((r) => r.path));
  const opened = request.paths.filter((path) => !rejected.has(path));
  if (opened.length > 0) void updateRecent(opened);
}

/** Every call from any window goes through here, so opening from the UI also updates recents. */
async function callEngine<K extends MethodName>(method: K, request: RequestOf<K>): Promise<ResponseOf<K>> {
  if (!engine) throw new Error('engine not started');
  const response = await engine.call(method, request);
  if (method === 'openCapture') rememberOpened(request as OpenCaptureRequest, response as OpenCaptureResponse);
  return response;
}

async function openCaptures(paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  if (!engine) {
    pendingPaths.push(...paths);
    return;
  }
  const window = mainWindow ?? createWindow();
  if (window.isMinimized()) window.restore();
  window.focus();
  try {
    const response = await callEngine('openCapture', { paths });
    if (response.rejected.length > 0) {
      await dialog.showMessageBox(window, {
        type: 'warning',
        message: response.rejected.length === 1 ? 'A file could not be opened' : 'Some files could not be opened',
        detail: response.rejected.map((r) => r.reason).join('\n'),
      });
    }
  } catch (err) {
    dialog.showErrorBox('Could not open the capture', (err as Error).message);
  }
}

async function chooseAndOpen(): Promise<void> {
  const options: Electron.OpenDialogOptions = {
    title: 'Open capture',
    properties: ['openFile', 'multiSelections'],
    filters: CAPTURE_FILE_FILTERS,
  };
  const result = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options);
  if (!result.canceled) await openCaptures(result.filePaths);
}

function createWindow(): BrowserWindow {
  const window = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 720,
    minHeight: 480,
    title: 'Flowscope',
    show: false,
    // Matches the page background, so there is no white flash in dark mode.
    backgroundColor: nativeTheme.shouldUseDarkColors ? '#15171c' : '#ffffff',
    webPreferences: {
      preload: preloadFile,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  window.once('ready-to-show', () => window.show());
  window.on('closed', () => {
    if (mainWindow === window) mainWindow = null;
  });
  void window.loadURL(rendererUrl);
  mainWindow = window;
  return window;
}

function harden(): void {
  // The UI needs no camera, notifications, geolocation…: refuse every permission.
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    // A file dropped outside the drop handler would navigate the window to it; so would any link.
    contents.on('will-navigate', (event, url) => {
      if (!isTrustedRendererUrl(url, rendererUrl)) event.preventDefault();
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });
}

function startEngine(): EngineHost {
  const workerData: EngineWorkerData = {
    // One workspace per data directory (FLOWSCOPE_USER_DATA moves it, see above).
    dbPath: join(app.getPath('userData'), WORKSPACE_DB_NAME),
    appInfo: {
      name: 'Flowscope',
      version: app.getVersion(),
      platform: process.platform,
      arch: process.arch,
      versions: {
        node: process.versions.node,
        electron: process.versions.electron,
        chrome: process.versions.chrome,
      },
    },
  };
  const host = startWorkerEngine(workerFile, workerData);
  host.onEvent((event) => {
    for (const window of BrowserWindow.getAllWindows()) {
      if (!window.isDestroyed()) window.webContents.send(eventChannel(event.name), event.payload);
    }
  });
  return host;
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  pendingPaths.push(...capturePathsFromArgv(process.argv));

  app.on('second-instance', (_event, argv) => {
    void openCaptures(capturePathsFromArgv(argv));
    if (mainWindow) mainWindow.focus();
  });

  // macOS: Finder "Open With" and the Dock's recent documents.
  app.on('open-file', (event, path) => {
    event.preventDefault();
    void openCaptures([path]);
  });

  app.whenReady().then(async () => {
    harden();
    engine = startEngine();
    registerApiHandlers(ipcMain, callEngine, (url) => isTrustedRendererUrl(url, rendererUrl));
    recent = await loadRecent(recentFile());
    rebuildMenu();
    createWindow();
    await openCaptures(pendingPaths.splice(0));

    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createWindow();
    });
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  // Let the engine close its store before the process ends.
  app.on('will-quit', (event) => {
    if (!engine || engineClosed) return;
    event.preventDefault();
    void engine.close().finally(() => {
      engineClosed = true;
      app.quit();
    });
  });
}
