// Opens a capture file by what its first bytes say: gzip (streamed through zlib), then pcap or pcapng.
// The sniffing handle is closed again; each batches() pass opens the file afresh.

import { open } from 'node:fs/promises';
import { GzipInput } from './input';
import { parsePcapHeader, pcapMagic, PcapSource, PCAP_HEADER_LEN } from './pcap';
import { PcapngSource } from './pcapng';
import type { ReaderOptions } from './stream-source';
import { CaptureError, type PacketSource } from './types';

export type { ReaderOptions } from './stream-source';

const SNIFF = 32;

export async function openCapture(path: string, opts: ReaderOptions = {}): Promise<PacketSource> {
  const fh = await open(path, 'r');
  let size: number;
  let head: Buffer;
  try {
    size = (await fh.stat()).size;
    const b = Buffer.alloc(SNIFF);
    const { bytesRead } = await fh.read(b, 0, SNIFF, 0);
    head = b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (head.length === 0) throw new CaptureError(path, 0, 'the file is empty (0 bytes): not a capture');

  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (gzip) head = await gunzipHead(path);

  const where = gzip ? ' inside gzip' : '';
  if (pcapMagic(head)) {
    const h = parsePcapHeader(path, head.subarray(0, PCAP_HEADER_LEN));
    return new PcapSource(path, size, gzip, h, opts);
  }
  if (head.length >= 4 && head.readUInt32BE(0) === 0x0a0d0d0a) return new PcapngSource(path, size, gzip, opts);
  throw new CaptureError(path, 0, `not a pcap or pcapng file${where} (magic 0x${head.subarray(0, 4).toString('hex')})`);
}

/** The first decompressed bytes of a gzip file. */
async function gunzipHead(path: string): Promise<Buffer> {
  const input = await GzipInput.open(path);
  try {
    const b = Buffer.alloc(SNIFF);
    const n = await input.read(b, 0, SNIFF);
    if (n === 0) {
      const why = input.error ? `its gzip data is corrupt (${input.error.message})` : 'it decompresses to nothing (empty)';
      throw new CaptureError(path, 0, `gzip file, but ${why}: not a capture`);
    }
    return b.subarray(0, n);
  } finally {
    await input.close();
  }
}
