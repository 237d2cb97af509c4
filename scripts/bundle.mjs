// esbuild settings shared by the CLI build and the benchmark: Node ESM bundles, DuckDB's native package external.
import { build } from 'esbuild';

/** @param {Record<string, string>} entryPoints @param {string} outdir */
export async function bundle(entryPoints, outdir) {
  await build({
    entryPoints,
    outdir,
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
}
