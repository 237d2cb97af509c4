// `npm start`: builds what is missing, then opens Flowscope on the bundled sample capture and its
// Kubernetes metadata (so the service map names pods and services from the start) — the desktop app
// where an Electron binary exists, otherwise the same UI in browser mode (`flowscope serve`).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sample = join(root, 'samples', 'k8s-both.pcapng');
const metadata = join(root, 'samples', 'k8s.metadata.json');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** The Electron binary, found without node_modules/electron/index.js (which would try to download one). */
function electronBinary() {
  try {
    const dir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
    const rel = existsSync(join(dir, 'path.txt')) ? readFileSync(join(dir, 'path.txt'), 'utf8').trim() : '';
    const bin = rel ? join(dir, 'dist', rel) : '';
    return bin && existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}

if (!existsSync(join(root, 'dist', 'cli.mjs')) || !existsSync(join(root, 'out', 'renderer', 'index.html'))) {
  run('npm', ['run', 'build']);
}

const electron = electronBinary();
if (electron) {
  // The app opens a JSON operand as Kubernetes metadata, like a file dropped on it.
  spawn(electron, [root, metadata, sample], { cwd: root, stdio: 'inherit' }).on('exit', (code) => process.exit(code ?? 0));
} else {
  const cli = join(root, 'bin', 'flowscope.mjs');
  const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' }).stdout;
  // A CLI built before --k8s existed still starts, just without the names.
  const k8s = help.includes('--k8s') ? ['--k8s', metadata] : [];
  if (help.includes('flowscope serve')) {
    console.log('No Electron runtime on this machine: serving the same UI in browser mode instead.');
    spawn(process.execPath, [cli, 'serve', ...k8s, sample], { cwd: root, stdio: 'inherit' }).on('exit', (code) => process.exit(code ?? 0));
  } else {
    console.log('No Electron runtime on this machine: printing the analysis of the bundled sample instead.');
    run(process.execPath, [cli, 'analyze', ...k8s, sample]);
  }
}
