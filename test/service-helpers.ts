// Shared by the service-*.test.ts and serve-*.test.ts files: an engine service with its events
// recorded, and `flowscope analyze --json` as the reference. Not a test file itself.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { ImportProgress, MetadataChanged } from '../src/shared/api';
import type { CaptureRecord } from '../src/shared/records';
import type { CaptureSummary } from '../src/shared/summary';
import { createEngineService, type EngineService, type EngineServiceOptions } from '../src/engine/service';

export const FG = '/work/shared/fixtures/deepflow/agent/resources/test/flow_generator';
/** The CLI from source (bin/flowscope.mjs would prefer a dist/ bundle, which may be older). */
export const CLI = join(import.meta.dirname, '../src/cli/main.ts');

export const APP_INFO = { name: 'Flowscope', version: '0.1.0-test', platform: process.platform, arch: process.arch, versions: { node: process.versions.node } };

/** Records importProgress events; `ended(id)` resolves with an import's final event. */
export class ProgressLog {
  readonly events: ImportProgress[] = [];
  private waiters: { test: (e: ImportProgress) => boolean; resolve: (e: ImportProgress) => void }[] = [];
  /** Called synchronously as the engine emits, i.e. while the import that reported waits for it. */
  onEvent: ((event: ImportProgress) => void) | null = null;

  push = (event: ImportProgress): void => {
    this.events.push(event);
    this.onEvent?.(event);
    this.waiters = this.waiters.filter((w) => {
      if (!w.test(event)) return true;
      w.resolve(event);
      return false;
    });
  };

  of(importId: string): ImportProgress[] {
    return this.events.filter((e) => e.importId === importId);
  }

  /** The first event (past or future) that passes `test`. */
  when(test: (e: ImportProgress) => boolean): Promise<ImportProgress> {
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  ended(importId: string): Promise<ImportProgress> {
    return this.when((e) => e.importId === importId && e.phase !== 'reading');
  }
}

export function startService(
  dbPath: string,
  extra: Partial<EngineServiceOptions> = {},
): { service: EngineService; log: ProgressLog; metadataEvents: MetadataChanged[] } {
  const log = new ProgressLog();
  const metadataEvents: MetadataChanged[] = [];
  const service = createEngineService({
    dbPath,
    appInfo: APP_INFO,
    emit: (name, payload) => {
      if (name === 'importProgress') log.push(payload as ImportProgress);
      else metadataEvents.push(payload as MetadataChanged);
    },
    ...extra,
  });
  return { service, log, metadataEvents };
}

export interface AnalyzeJson {
  captures: CaptureRecord[];
  summary: CaptureSummary;
  errors: string[];
}

/** `flowscope analyze <files> --json` in its own process, with an in-memory store. */
export function analyzeJson(files: string[]): AnalyzeJson {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'analyze', ...files, '--json'], { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`flowscope analyze exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as AnalyzeJson;
}

/** Byte offset of the record that crosses `cut` in a classic pcap (24-byte header, 16-byte record headers). */
export function pcapRecordOffsetAt(file: Buffer, cut: number): number {
  const littleEndian = file.readUInt32LE(0) === 0xa1b2c3d4 || file.readUInt32LE(0) === 0xa1b23c4d;
  let off = 24;
  while (off < file.length) {
    const caplen = littleEndian ? file.readUInt32LE(off + 8) : file.readUInt32BE(off + 8);
    if (off + 16 + caplen > cut) return off;
    off += 16 + caplen;
  }
  throw new Error(`no record crosses offset ${cut}`);
}
