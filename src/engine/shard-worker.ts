// Worker thread: runs the pipeline over a whole file and keeps the flows of its hash shard (all of them
// when it is the only worker). Finished flows and requests are staged into DuckDB chunks here
// (store/chunk.ts) and their buffers transferred to the parent, whose writers copy them into the
// database: the packet work and the staging run on this thread, only DuckDB's own work on the parent's.
// Every worker reads and decodes every packet, so no packet bytes cross threads.

import { parentPort, workerData } from 'node:worker_threads';
import { analyzeCapture, type CaptureSink } from './pipeline';
import { FLOW_ACCESSORS, REQUEST_ACCESSORS } from './store/accessors';
import { ChunkBuilder, chunkTransferList, type ColumnSpec, type StagedChunk } from './store/chunk';
import type { FlowRecord, RequestRecord } from '../shared/records';

/** What a worker stages for the parent's store: the tables' columns, and where its request ids start. */
export interface WorkerTables {
  flows: readonly ColumnSpec[];
  /** null: flows only (L7 does not run). */
  requests: readonly ColumnSpec[] | null;
  /** Shard k of n numbers its requests firstRequestId + k + n·i (as the flow table does flows). */
  firstRequestId: number;
}

export interface ShardJob {
  path: string;
  shard: [number, number];
  captureId: number;
  /** The capture's first flow id; shard k uses firstFlowId + k + n·i (see FlowTableOptions). */
  firstFlowId: number;
  /** Stage flows and requests (L7 runs) for the parent's store; null: flows are only counted. */
  tables: WorkerTables | null;
  /** Int32 [0]: chunks the parent has appended so far; the worker waits when too many are in flight. */
  appended: SharedArrayBuffer;
}

export type ShardMessage =
  | { type: 'chunk'; table: 'flows' | 'requests'; chunk: StagedChunk }
  | { type: 'progress'; bytesRead: number; totalBytes: number; packets: number; flows: number }
  | {
      type: 'done';
      result: Awaited<ReturnType<typeof analyzeCapture>>;
      readerError: { file: string; offset: number; reason: string } | null;
      /** Largest flow and request ids used (first id − 1 when none). */
      lastFlowId: number;
      lastRequestId: number;
    }
  | { type: 'error'; message: string; name: string; file?: string; offset?: number; reason?: string };

/**
 * Chunks posted but not yet appended by the parent, at most (~0.7 KB a row: 1.5 MB a requests chunk).
 * A parent slower than the parsing (a store on a slow disk) holds the worker back instead of letting
 * chunks pile up in memory.
 */
const MAX_IN_FLIGHT = 8;

const job = workerData as ShardJob;
const port = parentPort!;
const appended = new Int32Array(job.appended);
const [index, count] = job.shard;
let posted = 0;
let lastFlowId = job.firstFlowId - 1;
let requests = 0;

function post(table: 'flows' | 'requests', chunk: StagedChunk | null): void {
  if (chunk === null) return;
  for (;;) {
    const done = Atomics.load(appended, 0);
    if (posted - done < MAX_IN_FLIGHT) break;
    Atomics.wait(appended, 0, done, 1000);
  }
  posted++;
  port.postMessage({ type: 'chunk', table, chunk } satisfies ShardMessage, chunkTransferList(chunk));
}

function storeSink(tables: WorkerTables): { sink: CaptureSink; finish: () => void } {
  const flows = new ChunkBuilder<FlowRecord>('flows', tables.flows, FLOW_ACCESSORS);
  const reqs = tables.requests ? new ChunkBuilder<RequestRecord>('requests', tables.requests, REQUEST_ACCESSORS) : null;
  const sink: CaptureSink = {
    beginCapture: async () => ({ captureId: job.captureId, firstFlowId: job.firstFlowId }),
    addFlow(rec) {
      if (rec.flowId > lastFlowId) lastFlowId = rec.flowId;
      if (flows.add(rec)) post('flows', flows.take());
    },
    // The pipeline runs L7 only for a sink that takes requests.
    addRequest: reqs
      ? (rec) => {
          rec.requestId = tables.firstRequestId + index + count * requests++;
          if (reqs.add(rec)) post('requests', reqs.take());
        }
      : undefined,
    endCapture: async () => {},
  };
  const finish = () => {
    post('flows', flows.take());
    if (reqs) post('requests', reqs.take());
  };
  return { sink, finish };
}

const stored = job.tables ? storeSink(job.tables) : null;
analyzeCapture(job.path, {
  shard: job.shard,
  // Without tables: the flow table still runs (and counts), nothing is kept.
  sink: stored?.sink ?? { beginCapture: async () => ({ captureId: job.captureId, firstFlowId: job.firstFlowId }), addFlow() {}, endCapture: async () => {} },
  onProgress: index === 0 ? (p) => port.postMessage({ type: 'progress', ...p } satisfies ShardMessage) : undefined,
}).then(
  (result) => {
    stored?.finish();
    // Errors do not keep their fields across threads: send the reader's error as plain data.
    const e = result.error;
    const plain = e ? { file: e.file, offset: e.offset, reason: e.reason } : null;
    const firstRequestId = job.tables?.firstRequestId ?? 1;
    const lastRequestId = requests === 0 ? firstRequestId - 1 : firstRequestId + index + count * (requests - 1);
    port.postMessage({ type: 'done', result: { ...result, error: null }, readerError: plain, lastFlowId, lastRequestId } satisfies ShardMessage);
  },
  (err: Error & { file?: string; offset?: number; reason?: string }) => {
    port.postMessage({ type: 'error', message: err.message, name: err.name, file: err.file, offset: err.offset, reason: err.reason } satisfies ShardMessage);
  },
);
