// A one-line progress bar on stderr for terminals; silent otherwise.

import type { ImportProgress } from '../engine/pipeline';
import { formatBytes, formatCount } from './format';

export class ProgressBar {
  private lastDraw = 0;
  private drawn = false;
  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  get enabled(): boolean {
    return Boolean(this.out.isTTY);
  }

  update(p: ImportProgress): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && p.bytesRead < p.totalBytes) return;
    this.lastDraw = now;
    const frac = p.totalBytes > 0 ? Math.min(1, p.bytesRead / p.totalBytes) : 0;
    const width = 24;
    const fill = Math.round(frac * width);
    const name = p.file.length > 30 ? `…${p.file.slice(-29)}` : p.file;
    const line =
      `${name} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ` +
      `${formatBytes(p.bytesRead)}/${formatBytes(p.totalBytes)}  ${formatCount(p.packets)} packets  ${formatCount(p.flows)} flows`;
    this.out.write(`\r${line.slice(0, (this.out.columns || 120) - 1)}\x1b[K`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
