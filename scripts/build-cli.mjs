// Bundles the CLI (and the engine it runs) into dist/ with esbuild; DuckDB's native package stays external.
import { build } from 'esbuild';

await build({
  entryPoints: { cli: 'src/cli/main.ts', 'flow-worker': 'src/engine/shard-worker.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  external: ['@duckdb/node-api', '@duckdb/node-bindings'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
