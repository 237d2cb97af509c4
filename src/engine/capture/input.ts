// Byte inputs under the capture readers: a plain file read with positioned reads, or a gzip file
// decompressed as a stream. Both hand bytes into buffers the caller owns; neither holds the file.

import { open, type FileHandle } from 'node:fs/promises';
import { createGunzip, type Gunzip } from 'node:zlib';

export interface ByteInput {
  /** Reads up to len bytes into buf at off; fewer only at the end of input. Returns 0 at the end. */
  read(buf: Buffer, off: number, len: number): Promise<number>;
  /** Discards up to n bytes; returns how many were discarded (fewer only at the end of input). */
  skip(n: number): Promise<number>;
  /** Input bytes consumed so far, as stored (compressed bytes for gzip). */
  readonly consumed: number;
  /** A decompression error that ended the input early (seen by read() as the end), else null. */
  readonly error: Error | null;
  close(): Promise<void>;
}

export class FileInput implements ByteInput {
  private pos = 0;
  readonly error = null;

  private constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
  ) {}

  static async open(path: string): Promise<FileInput> {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      return new FileInput(fh, st.size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  get consumed(): number {
    return this.pos;
  }

  async read(buf: Buffer, off: number, len: number): Promise<number> {
    let n = 0;
    while (n < len) {
      const { bytesRead } = await this.fh.read(buf, off + n, len - n, this.pos);
      if (bytesRead === 0) break;
      this.pos += bytesRead;
      n += bytesRead;
    }
    return n;
  }

  async skip(n: number): Promise<number> {
    // Positioned reads make skipping free; the size bounds it so a bogus length cannot skip past the end.
    const k = Math.max(0, Math.min(n, this.size - this.pos));
    this.pos += k;
    return k;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

const GZIP_CHUNK = 1 << 18;

export class GzipInput implements ByteInput {
  private readonly raw: ReturnType<FileHandle['createReadStream']>;
  private readonly gunzip: Gunzip;
  private readonly it: AsyncIterator<Buffer>;
  private cur: Buffer = Buffer.alloc(0);
  private curPos = 0;
  private done = false;
  error: Error | null = null;

  private constructor(private readonly fh: FileHandle) {
    this.raw = fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false, start: 0 });
    this.gunzip = createGunzip({ chunkSize: GZIP_CHUNK });
    this.raw.on('error', (e) => this.gunzip.destroy(e));
    this.raw.pipe(this.gunzip);
    this.it = this.gunzip[Symbol.asyncIterator]();
  }

  static async open(path: string): Promise<GzipInput> {
    return new GzipInput(await open(path, 'r'));
  }

  get consumed(): number {
    return this.gunzip.bytesWritten;
  }

  /** Makes cur hold unread bytes; false at the end of input (or on a decompression error). */
  private async more(): Promise<boolean> {
    while (this.curPos >= this.cur.length) {
      if (this.done) return false;
      try {
        const r = await this.it.next();
        if (r.done) {
          this.done = true;
          return false;
        }
        this.cur = r.value;
        this.curPos = 0;
      } catch (e) {
        this.error = e instanceof Error ? e : new Error(String(e));
        this.done = true;
        return false;
      }
    }
    return true;
  }

  async read(buf: Buffer, off: number, len: number): Promise<number> {
    let n = 0;
    while (n < len && (await this.more())) {
      const k = Math.min(len - n, this.cur.length - this.curPos);
      this.cur.copy(buf, off + n, this.curPos, this.curPos + k);
      this.curPos += k;
      n += k;
    }
    return n;
  }

  async skip(n: number): Promise<number> {
    let k = 0;
    while (k < n && (await this.more())) {
      const m = Math.min(n - k, this.cur.length - this.curPos);
      this.curPos += m;
      k += m;
    }
    return k;
  }

  async close(): Promise<void> {
    this.raw.unpipe(this.gunzip);
    this.gunzip.destroy();
    // Destroying the stream closes the FileHandle itself (after any read in flight); its 'close' event
    // is the moment the descriptor is really gone. fh.close() alone can resolve before that.
    if (!this.raw.closed) {
      const closed = new Promise<void>((res) => this.raw.once('close', () => res()));
      this.raw.destroy();
      await closed;
    }
    await this.fh.close();
  }
}

/** Opens path as a byte input: gzip-decompressing when it starts with the gzip magic. */
export async function openInput(path: string, gzip: boolean): Promise<ByteInput> {
  return gzip ? GzipInput.open(path) : FileInput.open(path);
}
