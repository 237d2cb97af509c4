// Recognises a capture file by its first bytes, so a wrong file is refused at once with a reason
// instead of failing deep in an import. Accepts every pcap magic (µs/ns, both byte orders, and the
// "modified" a1b2cd34 variant), pcapng, and gzip holding either.

import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

export type CaptureKind = 'pcap' | 'pcapng' | 'pcap+gzip' | 'pcapng+gzip';

export type SniffResult = { ok: true; kind: CaptureKind; fileBytes: number } | { ok: false; reason: string };

const PCAP_MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0xa1b2cd34, 0x34cdb2a1]);
const PCAPNG_MAGIC = 0x0a0d0d0a;

function kindOf(head: Buffer): 'pcap' | 'pcapng' | null {
  if (head.length < 4) return null;
  const magic = head.readUInt32BE(0);
  if (PCAP_MAGICS.has(magic)) return 'pcap';
  if (magic === PCAPNG_MAGIC) return 'pcapng';
  return null;
}

function hex(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** The first `n` bytes after gunzip, or the zlib error. Stops reading as soon as it has them. */
function gunzipHead(path: string, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const source = createReadStream(path);
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let have = 0;
    const finish = (err: Error | null) => {
      source.destroy();
      gunzip.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).subarray(0, n));
    };
    gunzip.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      have += chunk.length;
      if (have >= n) finish(null);
    });
    gunzip.on('end', () => finish(null));
    gunzip.on('error', finish);
    source.on('error', finish);
    source.pipe(gunzip);
  });
}

export async function sniffCapture(path: string): Promise<SniffResult> {
  let head: Buffer;
  let fileBytes: number;
  try {
    const file = await open(path, 'r');
    try {
      const stat = await file.stat();
      if (!stat.isFile()) return { ok: false, reason: `${path}: not a regular file` };
      fileBytes = stat.size;
      head = Buffer.alloc(4);
      const { bytesRead } = await file.read(head, 0, 4, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  } catch (err) {
    return { ok: false, reason: `${path}: cannot read: ${(err as Error).message}` };
  }

  if (head.length < 4) return { ok: false, reason: `${path}: offset 0: file too short (${head.length} bytes) for a capture` };
  const kind = kindOf(head);
  if (kind) return { ok: true, kind, fileBytes };

  if (head[0] === 0x1f && head[1] === 0x8b) {
    let inner: Buffer;
    try {
      inner = await gunzipHead(path, 4);
    } catch (err) {
      return { ok: false, reason: `${path}: gzip data is corrupt: ${(err as Error).message}` };
    }
    const innerKind = kindOf(inner);
    if (innerKind) return { ok: true, kind: `${innerKind}+gzip`, fileBytes };
    return {
      ok: false,
      reason: `${path}: gzip-compressed, but the content is not pcap or pcapng (decompressed offset 0: ${hex(inner)})`,
    };
  }

  return { ok: false, reason: `${path}: offset 0: not a pcap or pcapng file (magic ${hex(head)})` };
}
