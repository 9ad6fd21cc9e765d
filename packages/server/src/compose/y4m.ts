/**
 * Streaming parser of YUV4MPEG2 (`ffmpeg -f yuv4mpegpipe`): the decoders' output format, chosen
 * over bare rawvideo because its header carries the frame size that ffmpeg picked after scaling.
 * Only 4:2:0 planar frames (`-pix_fmt yuv420p`) are accepted.
 */
export interface Y4mHeader {
  width: number;
  height: number;
}

export class Y4mParser {
  header: Y4mHeader | null = null;
  private frameSize = 0;
  private pending: Buffer[] = [];
  private pendingLen = 0;

  constructor(private readonly onFrame: (frame: Buffer, header: Y4mHeader) => void) {}

  /**
   * Feed bytes in any chunking; calls `onFrame` with each complete frame (a private copy). The
   * chunks (64 KiB pipe reads) are kept as they come and each frame is copied out of them once
   * it is complete: joining them on every read cost several copies of each frame.
   */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    for (;;) {
      // The header or FRAME line: small, looked for in the first bytes only.
      const nl = this.lineEnd();
      if (nl < 0) {
        if (this.pendingLen > 4096) throw new Error(this.header ? 'y4m: frame marker expected' : 'y4m: header line too long');
        return;
      }
      if (!this.header) {
        this.header = parseHeader(this.take(nl + 1).subarray(0, nl).toString('latin1'));
        this.frameSize = (this.header.width * this.header.height * 3) / 2;
        continue;
      }
      if (this.pendingLen < nl + 1 + this.frameSize) return;
      if (this.take(nl + 1).toString('latin1', 0, 5) !== 'FRAME') throw new Error('y4m: frame marker expected');
      this.onFrame(this.take(this.frameSize, true), this.header);
    }
  }

  /** Index of the first newline within the first 4 KiB of pending bytes, or -1. */
  private lineEnd(): number {
    let base = 0;
    for (const c of this.pending) {
      const limit = Math.min(c.length, 4096 - base);
      const i = c.subarray(0, limit).indexOf(0x0a);
      if (i >= 0) return base + i;
      base += c.length;
      if (base >= 4096) return -1;
    }
    return -1;
  }

  /** The next `n` pending bytes (a copy when `copy` or when they span chunks), consumed. */
  private take(n: number, copy = false): Buffer {
    const first = this.pending[0]!;
    let out: Buffer;
    if (first.length >= n && !copy) out = first.subarray(0, n);
    else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      for (const c of this.pending) {
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (off === n) break;
      }
    }
    let left = n;
    while (left > 0) {
      const c = this.pending[0]!;
      if (c.length <= left) {
        left -= c.length;
        this.pending.shift();
      } else {
        this.pending[0] = c.subarray(left);
        left = 0;
      }
    }
    this.pendingLen -= n;
    return out;
  }
}

function parseHeader(line: string): Y4mHeader {
  const parts = line.split(' ');
  if (parts[0] !== 'YUV4MPEG2') throw new Error(`y4m: not a YUV4MPEG2 stream (${line.slice(0, 20)})`);
  let width = 0;
  let height = 0;
  for (const p of parts.slice(1)) {
    if (p[0] === 'W') width = Number(p.slice(1));
    else if (p[0] === 'H') height = Number(p.slice(1));
    else if (p[0] === 'C' && !p.startsWith('C420')) throw new Error(`y4m: colour space ${p.slice(1)} is not 4:2:0`);
  }
  if (!(width > 0 && height > 0 && width % 2 === 0 && height % 2 === 0)) throw new Error(`y4m: bad frame size ${width}x${height}`);
  return { width, height };
}
