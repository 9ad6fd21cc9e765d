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

  /** Feed bytes in any chunking; calls `onFrame` with each complete frame (a private copy). */
  push(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    for (;;) {
      if (!this.header) {
        const buf = this.peek();
        const nl = buf.indexOf(0x0a);
        if (nl < 0) {
          if (buf.length > 4096) throw new Error('y4m: header line too long');
          return;
        }
        this.header = parseHeader(buf.subarray(0, nl).toString('latin1'));
        this.frameSize = (this.header.width * this.header.height * 3) / 2;
        this.consume(nl + 1);
        continue;
      }
      const buf = this.peek();
      const nl = buf.indexOf(0x0a);
      if (nl < 0) return;
      if (buf.length < nl + 1 + this.frameSize) return;
      if (buf.toString('latin1', 0, 5) !== 'FRAME') throw new Error('y4m: frame marker expected');
      const frame = Buffer.from(buf.subarray(nl + 1, nl + 1 + this.frameSize));
      this.consume(nl + 1 + this.frameSize);
      this.onFrame(frame, this.header);
    }
  }

  private peek(): Buffer {
    if (this.pending.length > 1) this.pending = [Buffer.concat(this.pending, this.pendingLen)];
    return this.pending[0] ?? Buffer.alloc(0);
  }

  private consume(n: number): void {
    const buf = this.peek();
    const rest = buf.subarray(n);
    this.pending = rest.length ? [rest] : [];
    this.pendingLen = rest.length;
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
