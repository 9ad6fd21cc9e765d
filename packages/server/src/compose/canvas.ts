/**
 * The compositor's picture: one 4:2:0 planar (I420) frame and the blit that puts a decoded
 * stream into its layout box. Scaling is nearest-neighbour with per-size index tables: the
 * decoders already scale each stream close to its box, so what is left is small and this keeps
 * the cost per output pixel to one table lookup (see docs/archiving.md for the figures).
 */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Black in limited-range BT.601 (what x264 encodes by default). */
const BLACK_Y = 16;
const BLACK_C = 128;

export class I420Canvas {
  readonly data: Buffer;
  private readonly ySize: number;
  private readonly cSize: number;
  private readonly maps = new Map<string, Int32Array>();

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    if (width % 2 || height % 2) throw new Error(`canvas size must be even, got ${width}x${height}`);
    this.ySize = width * height;
    this.cSize = (width / 2) * (height / 2);
    this.data = Buffer.alloc(this.ySize + 2 * this.cSize);
    this.clear();
  }

  clear(): void {
    this.data.fill(BLACK_Y, 0, this.ySize);
    this.data.fill(BLACK_C, this.ySize);
  }

  /**
   * Draw an I420 frame of `sw`×`sh` into `box`, letterboxed (`contain`: the whole picture, bars
   * around it; the box itself is not painted) or cropped (`cover`: the box filled, the overflow
   * cut), clipped to the canvas.
   */
  blit(src: Buffer, sw: number, sh: number, box: Rect, fit: 'contain' | 'cover'): void {
    if (box.width <= 0 || box.height <= 0 || sw <= 0 || sh <= 0) return;
    // Source region (sx, sy, sRw, sRh) mapped onto destination region (dx, dy, dw, dh).
    let dx = box.x;
    let dy = box.y;
    let dw = box.width;
    let dh = box.height;
    let sx = 0;
    let sy = 0;
    let sRw = sw;
    let sRh = sh;
    const scale = fit === 'contain' ? Math.min(box.width / sw, box.height / sh) : Math.max(box.width / sw, box.height / sh);
    if (fit === 'contain') {
      dw = Math.max(2, Math.round(sw * scale));
      dh = Math.max(2, Math.round(sh * scale));
      dx = box.x + Math.floor((box.width - dw) / 2);
      dy = box.y + Math.floor((box.height - dh) / 2);
    } else {
      sRw = Math.min(sw, Math.round(box.width / scale));
      sRh = Math.min(sh, Math.round(box.height / scale));
      sx = Math.floor((sw - sRw) / 2);
      sy = Math.floor((sh - sRh) / 2);
    }
    // Even destination origin and size keep luma and chroma aligned.
    dx &= ~1;
    dy &= ~1;
    dw &= ~1;
    dh &= ~1;
    if (dw <= 0 || dh <= 0) return;
    const xmap = this.map(sx, sRw, dw, sw);
    const ymap = this.map(sy, sRh, dh, sh);
    const xmapC = this.map(sx >> 1, sRw >> 1, dw >> 1, sw >> 1);
    const ymapC = this.map(sy >> 1, sRh >> 1, dh >> 1, sh >> 1);
    // Clip to the canvas.
    const x0 = Math.max(0, -dx);
    const y0 = Math.max(0, -dy);
    const x1 = Math.min(dw, this.width - dx);
    const y1 = Math.min(dh, this.height - dy);
    if (x1 <= x0 || y1 <= y0) return;
    const d = this.data;
    const W = this.width;
    const oneToOne = sRw === dw && sRh === dh;
    for (let y = y0; y < y1; y++) {
      const srow = ymap[y]! * sw;
      const drow = (dy + y) * W + dx;
      if (oneToOne) src.copy(d, drow + x0, srow + sx + x0, srow + sx + x1);
      else for (let x = x0; x < x1; x++) d[drow + x] = src[srow + xmap[x]!]!;
    }
    const cw = W >> 1;
    const scw = sw >> 1;
    const sU = sw * sh;
    const sV = sU + scw * (sh >> 1);
    const cx0 = x0 >> 1;
    const cx1 = x1 >> 1;
    const cdx = dx >> 1;
    for (let y = y0 >> 1; y < y1 >> 1; y++) {
      const srow = ymapC[y]! * scw;
      const drow = ((dy >> 1) + y) * cw + cdx;
      for (let x = cx0; x < cx1; x++) {
        const s = srow + xmapC[x]!;
        d[this.ySize + drow + x] = src[sU + s]!;
        d[this.ySize + this.cSize + drow + x] = src[sV + s]!;
      }
    }
  }

  /** Nearest-neighbour index table: destination i (0..dn) → source start+floor((i+0.5)*sn/dn), clamped. */
  private map(start: number, sn: number, dn: number, limit: number): Int32Array {
    const key = `${start},${sn},${dn},${limit}`;
    let m = this.maps.get(key);
    if (!m) {
      m = new Int32Array(dn);
      for (let i = 0; i < dn; i++) m[i] = Math.min(limit - 1, start + Math.floor(((i + 0.5) * sn) / dn));
      if (this.maps.size > 256) this.maps.clear();
      this.maps.set(key, m);
    }
    return m;
  }
}
