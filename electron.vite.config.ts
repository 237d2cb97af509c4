// Builds the desktop app into out/: main (ESM, plus the engine worker as a second entry), preload
// (CommonJS: a sandboxed preload is not loaded as an ES module) and the React renderer.

import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';

const path = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));

/**
 * The dev server injects inline scripts (React refresh) and inline styles (HMR), which the strict
 * Content-Security-Policy of index.html forbids. Relax it for `electron-vite dev` only; builds keep
 * the strict policy.
 */
function devContentSecurityPolicy(): Plugin {
  return {
    name: 'flowscope:dev-csp',
    apply: 'serve',
    transformIndexHtml(html) {
      return html
        .replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
        .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        .replace("connect-src 'self'", "connect-src 'self' ws: http://localhost:*");
    },
  };
}

export default defineConfig({
  main: {
    build: {
      rolldownOptions: {
        input: {
          index: path('src/main/index.ts'),
          'engine-worker': path('src/main/engine-worker.ts'),
          // Flow shard threads for big imports (src/engine/sharded.ts loads ./flow-worker.js).
          'flow-worker': path('src/engine/shard-worker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      // Sandboxed preloads can require only `electron`: bundle everything else in.
      externalizeDeps: false,
      rolldownOptions: {
        input: { index: path('src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: 'src/renderer',
    plugins: [react(), devContentSecurityPolicy()],
    build: {
      rolldownOptions: {
        input: { index: path('src/renderer/index.html') },
      },
    },
  },
});
