// Shared by the l7-*.test.ts files: run captures through decode → a minimal flow keying → L7Engine, the
// way the flow table will drive it. Not a test file itself.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { openCapture } from '../src/engine/capture/open';
import { Decoder } from '../src/engine/decode/decoder';
import { DecodeStatus, DecodedPacket, IPPROTO_TCP, IPPROTO_UDP, ipToString } from '../src/engine/decode/packet';
import { L7Engine, type L7EngineOptions } from '../src/engine/l7/engine';
import { BUILTIN_PROTOCOLS, ProtocolRegistry } from '../src/engine/l7/registry';
import type { L7Protocol } from '../src/engine/l7/types';
import { prng as rng } from './prng';
import type { RequestRecord } from '../src/shared/records';

export const FLOWGEN = '/work/shared/fixtures/deepflow/agent/resources/test/flow_generator';
export const SAMPLES = new URL('../samples/', import.meta.url).pathname;

const LINKTYPE_LINUX_SLL2 = 276;

/** One packet as the tests hand it to the engine: the decoded view and a copy of its frame. */
export interface RawPacket {
  tsUs: number;
  ifIndex: number;
  linkType: number;
  data: Buffer;
}

/** Every packet of a capture, copied (tests edit the list: drop, reorder, split). */
export async function readPackets(path: string): Promise<RawPacket[]> {
  const source = await openCapture(path);
  const out: RawPacket[] = [];
  for await (const b of source.batches()) {
    for (let i = 0; i < b.count; i++) {
      const srcIf = b.ifIndex[i];
      out.push({
        tsUs: b.tsUs[i],
        ifIndex: srcIf,
        linkType: source.interfaces[srcIf].linkType,
        data: Buffer.from(b.buf.subarray(b.offset[i], b.offset[i] + b.caplen[i])),
      });
    }
  }
  return out;
}

interface Flow {
  key: string;
  /** Source "ip:port" of the client as decided on the first packet. */
  client: string;
  /** The engine's flow index: order of first packet. */
  index: number;
}

/** Client = SYN sender, SYN-ACK receiver, else the side with the higher (ephemeral) port. */
function clientOf(p: DecodedPacket, src: string, dst: string): string {
  if (p.protocol === IPPROTO_TCP) {
    const f = p.tcpFlags & 0x12;
    if (f === 0x02) return src;
    if (f === 0x12) return dst;
  }
  if (p.srcPort === 53 || p.srcPort === 80) return dst;
  if (p.dstPort === 53 || p.dstPort === 80) return src;
  return p.srcPort > p.dstPort ? src : dst;
}

export interface RunResult {
  records: RequestRecord[];
  engine: L7Engine;
  /** Flow key → protocol as onFlowEndAt reported it. */
  protocols: Map<string, string>;
}

/**
 * Decodes the packets and drives an L7Engine: flows keyed by (interface, tunnel, 5-tuple), direction by
 * the first SYN or the ports, every flow ended at the end with a flow id in order of first packet.
 */
export interface RunOptions extends Partial<L7EngineOptions> {
  /** Pass flow ids on the first packet (records leave at once) instead of at the flow's end. Default true. */
  flowIdAtStart?: boolean;
  /** Called before packet i is handed to the engine. */
  beforePacket?: (i: number) => void;
}

export function runPackets(packets: RawPacket[], opts: RunOptions = {}): RunResult {
  const records: RequestRecord[] = [];
  const engine = new L7Engine({ captureId: 1, onRecord: (r) => records.push(r), ...opts });
  const decoder = new Decoder();
  const p = new DecodedPacket();
  const flows = new Map<string, Flow>();
  const atStart = opts.flowIdAtStart ?? true;
  for (let i = 0; i < packets.length; i++) {
    const raw = packets[i];
    opts.beforePacket?.(i);
    p.tsUs = raw.tsUs;
    p.frameLen = raw.data.length;
    const st = decoder.decode(raw.data, 0, raw.data.length, raw.data.length, raw.linkType, raw.tsUs, p);
    if (st !== DecodeStatus.Ok || (p.protocol !== IPPROTO_TCP && p.protocol !== IPPROTO_UDP)) continue;
    const ifIndex = raw.linkType === LINKTYPE_LINUX_SLL2 && p.linkIfIndex >= 0 ? p.linkIfIndex : raw.ifIndex;
    const src = `${ipToString(p.ipVersion, p.srcIp)}:${p.srcPort}`;
    const dst = `${ipToString(p.ipVersion, p.dstIp)}:${p.dstPort}`;
    const [a, b] = src < dst ? [src, dst] : [dst, src];
    const key = `${ifIndex}|${p.tunnelType}|${p.tunnelId}|${p.protocol}|${a}|${b}`;
    let f = flows.get(key);
    if (f === undefined) {
      // Flow index = order of first packet; flow id = index + 1. Flows end only at the end of input.
      f = { key, client: clientOf(p, src, dst), index: flows.size };
      flows.set(key, f);
    }
    engine.onFlowPacket(f.index, p, src === f.client, { ifIndex, observationPoint: 'rest', flowId: atStart ? f.index + 1 : undefined });
  }
  const protocols = new Map<string, string>();
  for (const f of flows.values()) protocols.set(f.key, engine.onFlowEndAt(f.index, f.index + 1));
  engine.flush();
  return { records, engine, protocols };
}

export async function runCapture(path: string, opts: RunOptions = {}): Promise<RunResult> {
  return runPackets(await readPackets(path), opts);
}

/** tshark -T fields over a file; one string[] per packet. */
export function tsharkFields(path: string, fields: string[], extra: string[] = []): string[][] {
  const out = execFileSync(
    'tshark',
    ['-n', '-r', path, ...extra, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'));
}

/** Deterministic PRNG for fuzzing and shuffles (the tests' one mulberry32). */
export { rng };

// ---- The same rows when every segment is cut into tiny pieces, in order and shuffled ----
/**
 * Each IPv4 TCP packet with payload that `match` picks replaced by pieces of 1..maxPiece bytes (sequence
 * numbers, lengths, checksum and FIN adjusted), optionally shuffled after the first piece (it starts the
 * message and carries its time). `match` sees the decoded packet and a copy of its payload.
 */
export function cutSegments(
  packets: RawPacket[],
  match: (p: DecodedPacket, payload: Buffer, raw: RawPacket) => boolean,
  seed: number,
  maxPiece: number,
  shuffle: boolean,
): RawPacket[] {
  const rand = rng(seed);
  const d = new Decoder();
  const p = new DecodedPacket();
  const out: RawPacket[] = [];
  for (const raw of packets) {
    if (d.decode(raw.data, 0, raw.data.length, raw.data.length, raw.linkType, raw.tsUs, p) !== DecodeStatus.Ok || p.protocol !== 6 || p.ipVersion !== 4 || p.tunnelType !== 0 || p.capturedPayloadLen !== p.payloadLen || p.capturedPayloadLen === 0) {
      out.push(raw);
      continue;
    }
    const { l3Offset: l3, l4Offset: l4, payloadOffset: pay, tcpSeq: seq } = p;
    const payload = Buffer.from(raw.data.subarray(pay, pay + p.capturedPayloadLen));
    if (!match(p, payload, raw)) {
      out.push(raw);
      continue;
    }
    const pieces: RawPacket[] = [];
    for (let at = 0; at < payload.length; ) {
      const n = Math.min(payload.length - at, 1 + Math.floor(rand() * maxPiece));
      const head = Buffer.from(raw.data.subarray(0, pay));
      head.writeUInt16BE(pay - l3 + n, l3 + 2); // IPv4 total length
      head.writeUInt32BE((seq + at) >>> 0, l4 + 4); // TCP sequence number
      if (at + n < payload.length) head[l4 + 13] &= ~0x01; // FIN on the last piece only
      head.writeUInt16BE(0, l3 + 10);
      let sum = 0;
      for (let k = l3; k < l3 + 20; k += 2) sum += head.readUInt16BE(k);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      head.writeUInt16BE(~sum & 0xffff, l3 + 10);
      pieces.push({ ...raw, data: Buffer.concat([head, payload.subarray(at, at + n)]) });
      at += n;
    }
    if (shuffle) {
      for (let k = pieces.length - 1; k > 1; k--) {
        const j = 1 + Math.floor(rand() * k);
        [pieces[k], pieces[j]] = [pieces[j], pieces[k]];
      }
    }
    out.push(...pieces);
  }
  return out;
}

/**
 * Every TCP payload packet cut (cutSegments) — except a flow's first payload packet: protocol inference
 * looks at one segment at a time (engine README) — and one-byte payloads.
 */
export function tinySegments(packets: RawPacket[], seed: number, maxPiece: number, shuffle: boolean): RawPacket[] {
  const flows = new Set<string>();
  return cutSegments(
    packets,
    (p, payload, raw) => {
      if (payload.length < 2) return false;
      const flow = `${raw.ifIndex}|${Math.min(p.srcPort, p.dstPort)}|${Math.max(p.srcPort, p.dstPort)}`;
      if (flows.has(flow)) return true;
      flows.add(flow);
      return false;
    },
    seed,
    maxPiece,
    shuffle,
  );
}

export async function sameRowsWhenCut(proto: L7Protocol, pcaps: string[]): Promise<number> {
  let n = 0;
  for (const pcap of pcaps) {
    const packets = await readPackets(pcap);
    const reg = (): ProtocolRegistry => new ProtocolRegistry([...BUILTIN_PROTOCOLS, proto]);
    const strip = (rs: RequestRecord[]): unknown[] => rs.map(({ requestId: _id, endTime: _e, ...rest }) => rest);
    const base = runPackets(packets, { registry: reg() });
    const whole = base.records;
    assert.ok(whole.length > 0, pcap);
    assert.equal(base.engine.stats.gaps, 0, `${pcap}: a capture without loss`);
    for (const [seed, shuffle] of [[1, false], [2, true]] as const) {
      const cut = runPackets(tinySegments(packets, seed, 7, shuffle), { registry: reg() });
      assert.equal(cut.engine.stats.gaps, 0, pcap);
      // End times may move to a later piece of the last packet's payload only when shuffled: compared apart.
      assert.deepEqual(strip(cut.records), strip(whole), `${pcap} cut in 1..7-byte pieces${shuffle ? ', shuffled' : ''}`);
      if (!shuffle) assert.deepEqual(cut.records.map((r) => r.endTime), whole.map((r) => r.endTime));
    }
    n += whole.length;
  }
  return n;
}

