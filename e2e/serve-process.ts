// Starts the real `flowscope serve` (from source, through tsx) for the browser e2e tests and reads
// the URL with its token from its first line of output.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(import.meta.dirname, '..');

export interface Served {
  /** The page URL as printed: http://127.0.0.1:PORT/?token=… */
  url: string;
  origin: string;
  token: string;
  /** Every line printed so far. */
  output: string[];
  /** Calls an API method over HTTP the way the page does. */
  call(method: string, request?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startServe(args: string[]): Promise<Served> {
  // serve answers without a UI when none is built; the page tests need one.
  if (!existsSync(join(ROOT, 'out/renderer/index.html'))) throw new Error('out/renderer/index.html is missing: run `npm run build:app` first');
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--port', '0', ...args], { cwd: ROOT });
  const output: string[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      const m = /^Flowscope is serving (\S+)$/.exec(line);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`flowscope serve exited with ${code}: ${stderr}`)));
  });
  const origin = new URL('/', url).href;
  const token = new URL(url).searchParams.get('token') ?? '';
  return {
    url,
    origin,
    token,
    output,
    async call(method, request) {
      const res = await fetch(new URL(`api/${method}`, origin), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(request ?? null),
      });
      const body = (await res.json()) as { ok: boolean; value?: unknown; error?: { message: string } };
      if (!body.ok) throw new Error(`${method}: ${body.error?.message}`);
      return body.value;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}
