// A window over the input in large reusable buffers. Parsers walk [pos, end) of `buf` directly; when
// a record runs past `end`, the unread tail moves to the front of the spare buffer and the next chunk
// is read behind it. Two buffers let that read run while the consumer still holds a batch that points
// into the current one (PacketBatch.buf stays valid until the next batch is asked for).

import type { ByteInput } from './input';

export const DEFAULT_CHUNK = 4 << 20;

export class Chunks {
  /** Current buffer; parsers read [pos, end). */
  buf: Buffer;
  /** DataView over buf: getUint32 is the fastest integer read V8 offers (faster than buf.readUInt32LE). */
  view: DataView;
  pos = 0;
  end = 0;
  /** Offset in the (decompressed) input of buf[0]. */
  base = 0;
  /** No more input after end. */
  eof = false;

  private spare: Buffer;
  private spareView: DataView;
  private pending: Promise<void> | null = null;
  private pendingTail = 0;
  private pendingBase = 0;
  private pendingRead = 0;
  private ioError: unknown = null;

  constructor(
    readonly input: ByteInput,
    readonly chunkSize = DEFAULT_CHUNK,
    /** First buffer size: smaller than a chunk for small files of known size. */
    initialSize = chunkSize,
  ) {
    this.buf = Buffer.allocUnsafe(initialSize);
    this.view = viewOf(this.buf);
    this.spare = Buffer.allocUnsafe(initialSize);
    this.spareView = viewOf(this.spare);
  }

  /** Absolute offset (decompressed input) of the end of the bytes available. */
  get absEnd(): number {
    return this.base + this.end;
  }

  /** First fill. */
  async start(): Promise<void> {
    const n = await this.input.read(this.buf, 0, this.buf.length);
    this.pos = 0;
    this.end = n;
    this.base = 0;
    if (n < this.buf.length) this.eof = true;
  }

  /**
   * Starts loading what follows [pos, end) into the spare buffer (pos > end means: skip pos - end
   * input bytes first). The current buffer is untouched, so a batch pointing into it stays valid.
   */
  beginRefill(): void {
    let tail = this.end - this.pos;
    let skip = 0;
    if (tail < 0) {
      skip = -tail;
      tail = 0;
    }
    if (tail > this.spare.length) {
      this.spare = Buffer.allocUnsafe(this.buf.length);
      this.spareView = viewOf(this.spare);
    }
    if (tail > 0) this.buf.copy(this.spare, 0, this.pos, this.end);
    this.pendingTail = tail;
    this.pendingBase = this.base + Math.min(this.pos, this.end);
    this.pendingRead = 0;
    const target = this.spare;
    this.pending = (async () => {
      if (skip > 0) {
        const k = await this.input.skip(skip);
        this.pendingBase += k;
        if (k < skip) {
          this.eof = true;
          return;
        }
      }
      const want = target.length - tail;
      if (want > 0) {
        const n = await this.input.read(target, tail, want);
        this.pendingRead = n;
        if (n < want) this.eof = true;
      }
    })().catch((e: unknown) => {
      this.ioError = e;
    });
  }

  /**
   * Finishes the refill begun by beginRefill and makes the spare buffer current; then keeps reading
   * (growing the buffer if a record is larger than a chunk) until `need` bytes follow pos or input ends.
   * Call only once no batch points into either buffer any more.
   */
  async completeRefill(need: number): Promise<void> {
    if (this.pending) await this.pending;
    this.pending = null;
    if (this.ioError) throw this.ioError;
    const old = this.buf;
    const oldView = this.view;
    this.buf = this.spare;
    this.view = this.spareView;
    this.spare = old;
    this.spareView = oldView;
    this.base = this.pendingBase;
    this.pos = 0;
    this.end = this.pendingTail + this.pendingRead;
    while (this.end < need && !this.eof) {
      if (this.end === this.buf.length) {
        // A record larger than a chunk (bounded by the parsers' limits). Grow by doubling as bytes
        // arrive, so a bogus length in a short (compressed) input never allocates its claim.
        const size = Math.min(Math.ceil(need / this.chunkSize) * this.chunkSize, this.buf.length * 2);
        const bigger = Buffer.allocUnsafe(size);
        this.buf.copy(bigger, 0, 0, this.end);
        this.buf = bigger;
        this.view = viewOf(bigger);
      }
      const want = this.buf.length - this.end;
      const n = await this.input.read(this.buf, this.end, want);
      this.end += n;
      if (n < want) this.eof = true;
    }
  }

  /** Waits for any read in flight (so the input can be closed safely), then closes the input. */
  async close(): Promise<void> {
    if (this.pending) await this.pending;
    this.pending = null;
    await this.input.close();
  }
}

function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.length);
}
