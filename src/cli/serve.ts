// flowscope serve [--port N] [--host ADDR] [--db PATH] [--k8s FILE]... [capture...]
//
// The engine's API over HTTP + Server-Sent Events and the built UI (out/renderer) for a browser, on
// 127.0.0.1 with a random token in the printed URL. Captures named on the command line are imported
// at start, after the Kubernetes metadata of --k8s (or a kubectl JSON dump among them) is loaded, so the
// map names pods and services from the first view. Runs until interrupted (Ctrl+C / SIGTERM), then
// closes the store cleanly.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, UsageError } from './args';
import { createEngineService } from '../engine/service';
import { isMetadataPath } from '../engine/tag/k8s-metadata';
import { createEventHub } from '../engine/rpc/event-hub';
import { startHttpServer } from '../engine/rpc/http-server';
import type { ImportProgress } from '../shared/api';
import { describeMetadata, takeK8sFiles } from './k8s';

/** The checkout or package this runs from (src/cli/ from source, dist/ when bundled). */
function packageRoot(): string | null {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'flowscope') return dir;
      } catch {
        // Not ours; keep looking.
      }
    }
    if (dirname(dir) === dir) return null;
  }
}

function version(root: string | null): string {
  if (!root) return '0.0.0';
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
}

/** Resolves when the process is asked to stop. */
function interrupted(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function describeEnd(p: ImportProgress): string {
  const name = p.path;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (p.phase === 'done') return `imported ${name}: ${plural(p.packets, 'packet')}, ${plural(p.flows, 'flow')}`;
  if (p.phase === 'cancelled') return `import of ${name} cancelled`;
  return `flowscope: ${p.error ?? `${name}: import failed`} (everything before it was kept)`;
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { rest, k8s: k8sGiven } = takeK8sFiles(argv);
  const args = parseArgs(rest, ['port', 'host', 'db'], []);
  const port = args.options.has('port') ? Number(args.options.get('port')) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port takes a port number (0: any free port)');
  const host = (args.options.get('host') as string | undefined) ?? '127.0.0.1';
  const dbPath = (args.options.get('db') as string | undefined) ?? ':memory:';
  const files = args.positionals.map((f) => resolve(f));
  for (const [i, f] of files.entries()) {
    if (!existsSync(f)) throw new UsageError(`${args.positionals[i]}: no such file`);
    if (!statSync(f).isFile()) throw new UsageError(`${args.positionals[i]}: not a file`);
  }
  const k8s = k8sGiven.map((f) => resolve(f));
  for (const [i, f] of k8s.entries()) {
    // The service loads a path as metadata by its name (.json) or its first bytes: anything else would be
    // taken for a capture.
    if (!(await isMetadataPath(f))) {
      throw new UsageError(`${k8sGiven[i]}: not Kubernetes metadata (expected the JSON of kubectl get pods,services,endpoints,nodes -A -o json)`);
    }
  }

  const root = packageRoot();
  const ui = root ? join(root, 'out', 'renderer') : null;
  const staticDir = ui && existsSync(join(ui, 'index.html')) ? ui : null;

  const hub = createEventHub();
  const service = createEngineService({
    dbPath,
    emit: hub.emit,
    appInfo: { name: 'Flowscope', version: version(root), platform: process.platform, arch: process.arch, versions: { node: process.versions.node } },
  });
  try {
    await service.ready;
  } catch (err) {
    process.stderr.write(`flowscope: ${(err as Error).message}\n`);
    return 1;
  }

  const stop = interrupted();
  const server = await startHttpServer({ service, subscribe: hub.subscribe, host, port, staticDir });
  const out = (line: string) => process.stdout.write(line + '\n');
  out(`Flowscope is serving ${server.url}`);
  out(`  workspace: ${dbPath === ':memory:' ? 'in memory (not kept; --db PATH keeps it)' : resolve(dbPath)}`);
  if (!staticDir) out(`  the UI is not built (npm run build:app): serving the API only`);
  if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') out(`  listening on ${host}: anyone who can reach it and has the token can use it`);
  out('  Ctrl+C stops it.');

  hub.subscribe((event) => {
    if (event.name === 'metadataChanged') {
      const { change, metadata } = event.payload;
      out(`${change === 'loaded' ? 'loaded' : 'removed'} Kubernetes metadata ${describeMetadata(metadata)}`);
    } else if (event.name === 'importProgress' && event.payload.phase !== 'reading') {
      const line = describeEnd(event.payload);
      if (event.payload.phase === 'failed') process.stderr.write(line + '\n');
      else out(line);
    }
  });
  if (k8s.length + files.length > 0) {
    const opened = await service.openCapture({ paths: [...k8s, ...files] });
    for (const r of opened.rejected) process.stderr.write(`flowscope: ${r.reason}\n`);
  }

  const signal = await stop;
  out(`${signal}: stopping`);
  await server.close();
  await service.close();
  return 0;
}
