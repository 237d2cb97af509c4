// source → decode → flow → store for one capture file. The per-packet loop lives here; it reuses
// one DecodedPacket and reads everything from the batch's typed arrays.

import { openCapture } from './capture/open';
import { CaptureError, type PacketSource } from './capture/types';
import { Decoder } from './decode/decoder';
import { DecodeStatus, DecodedPacket } from './decode/packet';
import { FlowTable, flowHash } from './flow/flow-table';
import { interfaceKind } from './flow/observation';
import { L7Engine, type L7Stats } from './l7/engine';
import type { CaptureRecord, FlowRecord, InterfaceRecord, RequestRecord } from '../shared/records';

/** Link type whose header carries the kernel ifindex (tcpdump -i any): flows are keyed by that index. */
const LINKTYPE_LINUX_SLL2 = 276;

export interface ImportProgress {
  file: string;
  bytesRead: number;
  totalBytes: number;
  packets: number;
  flows: number;
}

/** Where flows and capture metadata go. The store implements it; benchmarks may pass none. */
export interface CaptureSink {
  /** Called before the first flow; the capture's own record comes with endCapture. */
  beginCapture(): Promise<{ captureId: number; firstFlowId: number }>;
  addFlow(rec: FlowRecord): void;
  /** Application requests (HTTP, DNS, ...); a sink without it gets flows only (no L7 parsing). */
  addRequest?(rec: RequestRecord): void;
  endCapture(capture: CaptureRecord, interfaces: InterfaceRecord[]): Promise<void>;
}

export interface AnalyzeOptions {
  sink?: CaptureSink | null;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
  /** Benchmarks: stop the per-packet work after this stage. */
  stopAfter?: 'read' | 'decode' | 'flow';
  /** Only packets whose flow hash falls in this shard (worker sharding): [index, count]. */
  shard?: [number, number];
}

export interface CaptureResult {
  capture: CaptureRecord;
  interfaces: InterfaceRecord[];
  flows: number;
  requests: number;
  /** What the L7 stage found (null when it did not run). */
  l7: L7Stats | null;
  /** Close type → flow count. */
  closeTypes: Record<number, number>;
  /** The reader's error, if the file ended badly; everything before it was kept. */
  error: CaptureError | null;
}

export async function analyzeCapture(path: string, opts: AnalyzeOptions = {}): Promise<CaptureResult> {
  const source = await openCapture(path);
  return analyzeSource(source, opts);
}

export async function analyzeSource(source: PacketSource, opts: AnalyzeOptions = {}): Promise<CaptureResult> {
  const sink = opts.sink ?? null;
  const { captureId, firstFlowId } = sink
    ? await sink.beginCapture()
    : { captureId: 0, firstFlowId: 1 };
  const decoder = new Decoder();
  const pkt = new DecodedPacket();
  const stop = opts.stopAfter ?? null;
  const doDecode = stop !== 'read';
  const doFlow = stop === null || stop === 'flow';
  const [shardIndex, shardCount] = opts.shard ?? [0, 1];
  let requests = 0;
  const l7 =
    sink?.addRequest && doFlow && stop === null
      ? new L7Engine({
          captureId,
          onRecord: (r) => {
            requests++;
            sink.addRequest!(r);
          },
        })
      : null;
  const table = new FlowTable({
    captureId,
    firstFlowId: firstFlowId + shardIndex,
    flowIdStride: shardCount,
    onFlow: sink ? (rec) => sink.addFlow(rec) : () => {},
    l7,
  });

  // Per observation point: packets; names come from the source (pcapng IDB) or the SLL2 ifindex.
  const ifPackets = new Map<number, number>();
  let packets = 0;
  let bytes = 0;
  let firstUs = -1;
  let lastUs = -1;
  let malformed = 0;
  let nonIp = 0;
  let unknownLink = 0;
  let error: CaptureError | null = null;
  let lastProgress = 0;
  const linkTypes = new Int32Array(64);
  const ifCounts = new Float64Array(4096);

  try {
    for await (const batch of source.batches(opts.signal)) {
      const ifaces = source.interfaces;
      for (let k = 0; k < ifaces.length && k < linkTypes.length; k++) linkTypes[k] = ifaces[k].linkType;
      const n = batch.count;
      packets += n;
      if (n > 0) {
        if (firstUs < 0) firstUs = batch.tsUs[0];
        lastUs = batch.tsUs[n - 1];
      }
      if (!doDecode) {
        for (let i = 0; i < n; i++) bytes += batch.origLen[i];
        continue;
      }
      const buf = batch.buf;
      for (let i = 0; i < n; i++) {
        const srcIf = batch.ifIndex[i];
        const origLen = batch.origLen[i];
        bytes += origLen;
        const linkType = srcIf < 64 ? linkTypes[srcIf] : ifaces[srcIf].linkType;
        pkt.tsUs = batch.tsUs[i];
        pkt.frameLen = origLen;
        // tsUs 0: the decoder reads pkt.tsUs (a double argument would be boxed per packet).
        const st = decoder.decode(buf, batch.offset[i], batch.caplen[i], origLen, linkType, 0, pkt);
        const ifIndex = linkType === LINKTYPE_LINUX_SLL2 && pkt.linkIfIndex >= 0 ? pkt.linkIfIndex : srcIf;
        if (ifIndex < ifCounts.length) ifCounts[ifIndex]++;
        else ifPackets.set(ifIndex, (ifPackets.get(ifIndex) ?? 0) + 1);
        if (st !== DecodeStatus.Ok) {
          if (st === DecodeStatus.NotIp) nonIp++;
          else if (st === DecodeStatus.Malformed) malformed++;
          else if (st === DecodeStatus.UnknownLinkType) unknownLink++;
          continue;
        }
        if (!doFlow) continue;
        if (shardCount > 1 && flowHash(pkt, ifIndex) % shardCount !== shardIndex) continue;
        table.add(pkt, ifIndex);
      }
      if (opts.onProgress && (batch.bytesRead - lastProgress > 1 << 20 || batch.bytesRead === source.totalBytes)) {
        lastProgress = batch.bytesRead;
        opts.onProgress({
          file: source.path,
          bytesRead: batch.bytesRead,
          totalBytes: source.totalBytes,
          packets,
          flows: table.flowsEmitted + table.liveFlows,
        });
      }
    }
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e;
    error = e;
  }
  table.flushAll();
  l7?.flush();
  for (let k = 0; k < ifCounts.length; k++) if (ifCounts[k] > 0) ifPackets.set(k, ifCounts[k]);

  const interfaces: InterfaceRecord[] = [];
  const described = new Map(source.interfaces.map((d) => [d.index, d]));
  for (const [ifIndex, count] of [...ifPackets.entries()].sort((a, b) => a[0] - b[0])) {
    const d = described.get(ifIndex);
    const viaSll2 = !d || d.linkType === LINKTYPE_LINUX_SLL2;
    const name = !viaSll2 && d ? d.name : `ifindex ${ifIndex}`;
    interfaces.push({
      captureId,
      ifIndex,
      name,
      description: d && !viaSll2 ? d.description : 'kernel interface index from the Linux SLL2 header',
      linkType: d ? d.linkType : LINKTYPE_LINUX_SLL2,
      // A plain pcap names no interface (its "name" is the file's): nothing to classify.
      kind: source.format.startsWith('pcapng') || viaSll2 ? interfaceKind(name) : 'unknown',
      packets: count,
    });
  }
  if (unknownLink > 0 && !error) {
    const lt = [...new Set(source.interfaces.map((d) => d.linkType))].join(', ');
    error = new CaptureError(source.path, 0, `${unknownLink} packets have a link type Flowscope cannot decode (${lt})`);
  }
  const capture: CaptureRecord = {
    captureId,
    source: source.path,
    kind: source.format,
    startedAt: firstUs >= 0 ? firstUs : null,
    endedAt: lastUs >= 0 ? lastUs : null,
    packets,
    bytes,
    fileBytes: source.totalBytes,
    malformedPackets: malformed + unknownLink,
    nonIpPackets: nonIp,
    error: error ? error.message : null,
  };
  if (sink) await sink.endCapture(capture, interfaces);
  const closeTypes: Record<number, number> = {};
  for (const [k, v] of table.closeTypeCounts) closeTypes[k] = v;
  return { capture, interfaces, flows: table.flowsEmitted, requests, l7: l7?.stats ?? null, closeTypes, error };
}
