// What the preload puts on the page. In the browser build (`flowscope serve`) an HTTP client with the
// same type takes its place; with neither, the UI says it is not connected.

import type { FlowscopeBridge } from '../shared/api';

declare global {
  interface Window {
    flowscope?: FlowscopeBridge;
  }
}

export {};
