// Sandboxed preload (CommonJS, only `electron` may be required): exposes the typed API as
// `window.flowscope` and nothing else. The renderer never sees ipcRenderer itself.

import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { createBridge } from './bridge';

contextBridge.exposeInMainWorld('flowscope', createBridge(ipcRenderer, (file) => webUtils.getPathForFile(file)));
