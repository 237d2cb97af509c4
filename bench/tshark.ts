// tshark as the baseline: how long and how much memory it takes to summarise a capture.
//
// Peak RSS comes from GNU time (`/usr/bin/time -v`, "Maximum resident set size") when installed
// (Debian package `time`); otherwise from polling VmHWM in /proc/<pid>/status every 20 ms, which is
// the kernel's own high-water mark, so a late poll still sees the peak unless the process has exited.

import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const GNU_TIME = '/usr/bin/time';

export type TsharkMode = 'conv' | 'http';

export interface TsharkResult {
  mode: TsharkMode;
  /** Wall time of the tshark run. */
  seconds: number;
  /** Peak resident set size of tshark, MiB. */
  maxRssMB: number;
  rssSource: 'gnu-time' | 'proc-vmhwm';
  /** Packets in the file (given, or counted by capinfos). */
  packets: number;
  packetsPerSec: number;
  /** tshark's statistics text. */
  output: string;
  /** mode 'conv': TCP conversations listed, and the frames they cover. */
  conversations?: number;
  conversationFrames?: number;
  /** mode 'http': the http,tree request and response packet counts. */
  httpRequests?: number;
  httpResponses?: number;
}

/**
 * Run `tshark -q -r path -z conv,tcp` (or `-z http,tree`) with default preferences and measure it.
 * `packets` avoids a capinfos pass when the caller (the generator) knows the count.
 */
export async function runTsharkBaseline(path: string, mode: TsharkMode, opts: { packets?: number; tsharkArgs?: string[] } = {}): Promise<TsharkResult> {
  if (!existsSync(path)) throw new Error(`${path}: no such capture file`);
  const packets = opts.packets ?? (await countPackets(path));
  const args = ['-q', '-r', path, '-z', mode === 'conv' ? 'conv,tcp' : 'http,tree', ...(opts.tsharkArgs ?? [])];
  const useTime = existsSync(GNU_TIME);
  const t0 = process.hrtime.bigint();
  const run = await runMeasured(useTime ? GNU_TIME : 'tshark', useTime ? ['-v', 'tshark', ...args] : args, !useTime);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (run.code !== 0) throw new Error(`tshark ${args.join(' ')} exited with ${run.code}: ${run.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  let maxRssKB = run.vmHwmKB;
  if (useTime) {
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(run.stderr);
    if (!m) throw new Error(`no "Maximum resident set size" in ${GNU_TIME} -v output`);
    maxRssKB = Number(m[1]);
  }
  const res: TsharkResult = {
    mode,
    seconds,
    maxRssMB: maxRssKB / 1024,
    rssSource: useTime ? 'gnu-time' : 'proc-vmhwm',
    packets,
    packetsPerSec: packets / seconds,
    output: run.stdout,
  };
  if (mode === 'conv') {
    const c = parseConvTcp(run.stdout);
    res.conversations = c.conversations;
    res.conversationFrames = c.frames;
  } else {
    const h = parseHttpTree(run.stdout);
    res.httpRequests = h.requests;
    res.httpResponses = h.responses;
  }
  return res;
}

/** Packet count of a capture, by `capinfos -M -c` (exact numbers, no "20 k"). */
export async function countPackets(path: string): Promise<number> {
  const { stdout } = await execFileP('capinfos', ['-M', '-c', path]);
  const m = /Number of packets:\s+(\d+)/.exec(stdout);
  if (!m) throw new Error(`capinfos gave no packet count for ${path}: ${stdout.trim()}`);
  return Number(m[1]);
}

/**
 * `-z conv,tcp` table: one line per conversation ("a:p <-> b:p  frames bytes unit  frames bytes
 * unit  frames bytes unit  start  duration"). Returns the line count and the summed Total frames.
 */
export function parseConvTcp(output: string): { conversations: number; frames: number } {
  let conversations = 0;
  let frames = 0;
  for (const line of output.split('\n')) {
    const i = line.indexOf('<->');
    if (i < 0) continue;
    const counts = [...line.slice(i).matchAll(/\s(\d+)\s+\d+(?:\.\d+)?\s+(?:bytes|kB|MB|GB|TB)\b/g)];
    if (counts.length !== 3) throw new Error(`unexpected conv,tcp line: ${line}`);
    conversations++;
    frames += Number(counts[2][1]);
  }
  return { conversations, frames };
}

/** `-z http,tree`: the "HTTP Request Packets" and "HTTP Response Packets" counts. */
export function parseHttpTree(output: string): { requests: number; responses: number } {
  const req = /HTTP Request Packets\s+(\d+)/.exec(output);
  const resp = /HTTP Response Packets\s+(\d+)/.exec(output);
  if (!req || !resp) throw new Error(`no HTTP packet counter in tshark output: ${output.slice(0, 200)}`);
  return { requests: Number(req[1]), responses: Number(resp[1]) };
}

interface Measured {
  code: number | null;
  stdout: string;
  stderr: string;
  vmHwmKB: number;
}

function runMeasured(cmd: string, args: string[], pollProc: boolean): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let hwm = 0;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = pollProc
      ? setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'latin1'));
            if (m) hwm = Math.max(hwm, Number(m[1]));
          } catch {
            // the process is gone; the last poll stands
          }
        }, 20)
      : undefined;
    child.on('error', (e) => {
      if (timer) clearInterval(timer);
      reject(e);
    });
    child.on('close', (code) => {
      if (timer) clearInterval(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), vmHwmKB: hwm });
    });
  });
}

/** Run tshark with `args`; its stdout, or an error carrying its stderr when it fails. */
export async function runTshark(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP('tshark', args, { maxBuffer: 1 << 28 });
    return stdout;
  } catch (e) {
    const err = e as { code?: number; stderr?: string };
    throw new Error(`tshark ${args.join(' ')} failed (${err.code}): ${(err.stderr ?? '').trim()}`);
  }
}

/**
 * Frames matching each display filter, in one pass (`-z io,stat,0,f1,f2,...`; filters may not
 * contain commas). `prefs` are extra tshark arguments such as `-o tcp.analyze_sequence_numbers:FALSE`.
 */
export async function tsharkCounts(path: string, filters: string[], prefs: string[] = []): Promise<number[]> {
  for (const f of filters) if (f.includes(',')) throw new Error(`io,stat filter may not contain a comma: ${f}`);
  const out = await runTshark(['-q', '-r', path, ...prefs, '-z', `io,stat,0,${filters.join(',')}`]);
  const row = out.split('\n').find((l) => l.includes('<>'));
  if (!row) throw new Error(`no io,stat interval row in: ${out}`);
  const cells = row.split('|').map((s) => s.trim()).filter((s) => s.length > 0);
  // cells: "0.000 <> 1.225", then frames and bytes per filter
  if (cells.length !== 1 + 2 * filters.length) throw new Error(`unexpected io,stat row: ${row}`);
  return filters.map((_, i) => Number(cells[1 + 2 * i]));
}
