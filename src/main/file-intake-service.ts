// The FlowscopeService the engine worker hosts until the engine's own service is connected there
// (see engine-worker.ts). It does the file side of an import for real: recognises the format,
// registers the capture, streams the file with progress (bytes read / file size) and cancellation.
// It does not decode, so summaries and queries answer 'unavailable' with a message saying so.

import { createReadStream } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { CaptureRecord } from '../shared/records';
import {
  ApiError,
  type AppInfo,
  type EmitEvent,
  type ImportProgress,
  type OpenCaptureResponse,
} from '../shared/api';
import type { HostedService } from './engine-protocol';
import { sniffCapture } from './capture-sniff';

export interface FileIntakeOptions {
  emit: EmitEvent;
  appInfo: Omit<AppInfo, 'engine'>;
  /** Read size; progress is reported at most once per 1 % of the file (and at the end). */
  chunkBytes?: number;
}

export const FILE_INTAKE_ENGINE = 'file intake (captures are read, not decoded yet)';

export function createFileIntakeService(options: FileIntakeOptions): HostedService {
  const { emit } = options;
  const chunkBytes = options.chunkBytes ?? 1 << 20;
  const captures: CaptureRecord[] = [];
  const running = new Map<string, AbortController>();
  const finished = new Set<Promise<void>>();
  let nextCaptureId = 1;
  let nextImportId = 1;

  async function runImport(importId: string, record: CaptureRecord, abort: AbortController): Promise<void> {
    const base = { importId, captureId: record.captureId, path: record.source, totalBytes: record.fileBytes };
    const progress = (phase: ImportProgress['phase'], bytesRead: number, error?: string) =>
      emit('importProgress', error === undefined ? { ...base, phase, bytesRead } : { ...base, phase, bytesRead, error });
    const step = Math.max(1, Math.floor(record.fileBytes / 100));
    let bytesRead = 0;
    let reported = 0;
    progress('reading', 0);
    try {
      const stream = createReadStream(record.source, { highWaterMark: chunkBytes, signal: abort.signal });
      for await (const chunk of stream) {
        bytesRead += (chunk as Buffer).length;
        if (bytesRead - reported >= step && bytesRead < record.fileBytes) {
          reported = bytesRead;
          progress('reading', bytesRead);
        }
      }
      progress('done', bytesRead);
    } catch (err) {
      if (abort.signal.aborted) {
        record.error = `${record.source}: import cancelled at offset ${bytesRead}`;
        progress('cancelled', bytesRead);
      } else {
        record.error = `${record.source}: read failed at offset ${bytesRead}: ${(err as Error).message}`;
        progress('failed', bytesRead, record.error);
      }
    } finally {
      running.delete(importId);
    }
  }

  function unavailable(what: string): never {
    throw new ApiError('unavailable', `${what} are not available yet: this build reads capture files but does not decode them.`);
  }

  return {
    async appInfo() {
      return { ...options.appInfo, engine: FILE_INTAKE_ENGINE };
    },

    async openCapture({ paths }) {
      const response: OpenCaptureResponse = { captureIds: [], importIds: [], rejected: [] };
      for (const path of paths) {
        if (!isAbsolute(path)) {
          response.rejected.push({ path, reason: `${path}: not an absolute path` });
          continue;
        }
        const sniff = await sniffCapture(path);
        if (!sniff.ok) {
          response.rejected.push({ path, reason: sniff.reason });
          continue;
        }
        const record: CaptureRecord = {
          captureId: nextCaptureId++,
          source: path,
          kind: sniff.kind,
          startedAt: null,
          endedAt: null,
          packets: 0,
          bytes: 0,
          fileBytes: sniff.fileBytes,
          malformedPackets: 0,
          nonIpPackets: 0,
          error: null,
        };
        captures.push(record);
        const importId = `import-${nextImportId++}`;
        const abort = new AbortController();
        running.set(importId, abort);
        const job = runImport(importId, record, abort);
        finished.add(job);
        void job.finally(() => finished.delete(job));
        response.captureIds.push(record.captureId);
        response.importIds.push(importId);
      }
      return response;
    },

    async listCaptures() {
      return captures.map((record) => ({ ...record }));
    },

    async captureSummary({ captureIds }) {
      for (const id of captureIds ?? []) {
        if (!captures.some((c) => c.captureId === id)) throw new ApiError('not_found', `no capture with id ${id}`);
      }
      return unavailable('Capture summaries');
    },

    async query() {
      return unavailable('Queries');
    },

    async cancelImport({ importId }) {
      const abort = running.get(importId);
      if (!abort) return { cancelled: false };
      abort.abort();
      return { cancelled: true };
    },

    async close() {
      for (const abort of running.values()) abort.abort();
      await Promise.allSettled([...finished]);
    },
  };
}
