// Worker thread: runs the pipeline over a whole file but keeps only the flows of its hash shard, and
// posts finished flow records to the parent in batches. Every worker reads and decodes every packet
// (cheap next to the flow work), so no packet bytes cross threads.

import { parentPort, workerData } from 'node:worker_threads';
import { analyzeCapture } from './pipeline';
import type { FlowRecord, RequestRecord } from '../shared/records';

export interface ShardJob {
  path: string;
  shard: [number, number];
  captureId: number;
  /** The capture's first flow id; shard k uses firstFlowId + k + n·i (see FlowTableOptions). */
  firstFlowId: number;
  /** Parse application requests (the caller's sink takes them); flows only otherwise. */
  l7: boolean;
}

export type ShardMessage =
  | { type: 'flows'; flows: FlowRecord[] }
  | { type: 'requests'; requests: RequestRecord[] }
  | { type: 'progress'; bytesRead: number; totalBytes: number; packets: number; flows: number }
  | {
      type: 'done';
      result: Awaited<ReturnType<typeof analyzeCapture>>;
      readerError: { file: string; offset: number; reason: string } | null;
    }
  | { type: 'error'; message: string; name: string; file?: string; offset?: number; reason?: string };

const job = workerData as ShardJob;
const port = parentPort!;
let pending: FlowRecord[] = [];
let pendingRequests: RequestRecord[] = [];
const index = job.shard[0];

analyzeCapture(job.path, {
  shard: job.shard,
  sink: {
    beginCapture: async () => ({ captureId: job.captureId, firstFlowId: job.firstFlowId }),
    addFlow(rec) {
      pending.push(rec);
      if (pending.length >= 4096) {
        port.postMessage({ type: 'flows', flows: pending } satisfies ShardMessage);
        pending = [];
      }
    },
    // The pipeline runs L7 only for a sink that takes requests.
    addRequest: job.l7
      ? (rec) => {
          pendingRequests.push(rec);
          if (pendingRequests.length >= 4096) {
            port.postMessage({ type: 'requests', requests: pendingRequests } satisfies ShardMessage);
            pendingRequests = [];
          }
        }
      : undefined,
    endCapture: async () => {},
  },
  onProgress: index === 0 ? (p) => port.postMessage({ type: 'progress', ...p } satisfies ShardMessage) : undefined,
}).then(
  (result) => {
    if (pending.length) port.postMessage({ type: 'flows', flows: pending } satisfies ShardMessage);
    if (pendingRequests.length) port.postMessage({ type: 'requests', requests: pendingRequests } satisfies ShardMessage);
    // Errors do not keep their fields across threads: send the reader's error as plain data.
    const e = result.error;
    const plain = e ? { file: e.file, offset: e.offset, reason: e.reason } : null;
    port.postMessage({ type: 'done', result: { ...result, error: null }, readerError: plain } satisfies ShardMessage);
  },
  (err: Error & { file?: string; offset?: number; reason?: string }) => {
    port.postMessage({ type: 'error', message: err.message, name: err.name, file: err.file, offset: err.offset, reason: err.reason } satisfies ShardMessage);
  },
);
