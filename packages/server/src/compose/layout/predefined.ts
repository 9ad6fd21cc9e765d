import type { Canvas, FracBox, LayoutStream, ScreenshareLayoutType } from './types.js';

/**
 * The predefined layouts, computed natively (not by running CSS: OpenTok's published
 * stylesheets only fit at 4:3, its layouts are defined at every resolution). Input streams are
 * already in priority order and capped; boxes are fractional and come in paint order.
 */

const box = (s: LayoutStream, x: number, y: number, width: number, height: number, zIndex = 0): FracBox => ({
  streamId: s.streamId,
  x,
  y,
  width,
  height,
  zIndex,
  fit: 'contain',
});

/** Columns × rows of the bestFit grid for `n` streams: 1, 2×1, 2×2, 3×3, 4×4. */
export function bestFitGrid(n: number): { cols: number; rows: number } {
  if (n <= 1) return { cols: 1, rows: 1 };
  if (n === 2) return { cols: 2, rows: 1 };
  if (n <= 4) return { cols: 2, rows: 2 };
  if (n <= 9) return { cols: 3, rows: 3 };
  return { cols: 4, rows: 4 };
}

/** Tiles in reading order; a short last row stays left-aligned. Classes are ignored. */
export function bestFit(streams: readonly LayoutStream[], canvas: Canvas): FracBox[] {
  const { cols, rows } = bestFitGrid(streams.length);
  const w = canvas.width / cols;
  const h = canvas.height / rows;
  return streams.slice(0, cols * rows).map((s, i) => box(s, (i % cols) * w, Math.floor(i / cols) * h, w, h));
}

const hasClass = (s: LayoutStream, c: string): boolean => s.layoutClassList.includes(c);

/**
 * The stream with class `full` (else the first) fills the frame; the first other stream without
 * `full` sits at right 10%, top 10%, 20%×20%, above it. Only these two show.
 */
export function pip(streams: readonly LayoutStream[], canvas: Canvas, main?: LayoutStream): FracBox[] {
  const full = main ?? streams.find((s) => hasClass(s, 'full')) ?? streams[0];
  if (!full) return [];
  const corner = streams.find((s) => s !== full && (main !== undefined || !hasClass(s, 'full')));
  const { width: W, height: H } = canvas;
  const out = [box(full, 0, 0, W, H, 0)];
  if (corner) out.push(box(corner, W - 0.1 * W - 0.2 * W, 0.1 * H, 0.2 * W, 0.2 * H, 1));
  return out;
}

/** How many 20% thumbnails fit along an edge: five. Later ones would start outside the frame. */
const THUMBS = 5;

/**
 * The `focus` stream (else the first) at left 20%, 80% wide, full height; the others 20%×20%
 * stacked down the left edge in priority order (five fit).
 */
export function verticalPresentation(streams: readonly LayoutStream[], canvas: Canvas, main?: LayoutStream): FracBox[] {
  const focus = main ?? streams.find((s) => hasClass(s, 'focus')) ?? streams[0];
  if (!focus) return [];
  const { width: W, height: H } = canvas;
  const others = streams.filter((s) => s !== focus).slice(0, THUMBS);
  return [...others.map((s, i) => box(s, 0, i * 0.2 * H, 0.2 * W, 0.2 * H)), box(focus, 0.2 * W, 0, 0.8 * W, H)];
}

/**
 * The `focus` stream (else the first) on top, full width, 80% high; the others 20%×20% in a row
 * along the bottom in priority order (five fit).
 */
export function horizontalPresentation(streams: readonly LayoutStream[], canvas: Canvas, main?: LayoutStream): FracBox[] {
  const focus = main ?? streams.find((s) => hasClass(s, 'focus')) ?? streams[0];
  if (!focus) return [];
  const { width: W, height: H } = canvas;
  const others = streams.filter((s) => s !== focus).slice(0, THUMBS);
  return [...others.map((s, i) => box(s, i * 0.2 * W, 0.8 * H, 0.2 * W, 0.2 * H)), box(focus, 0, 0, W, 0.8 * H)];
}

/**
 * `screenshareType` with bestFit, while a screen share is present: that type with the first
 * screen share in the focus/full place. `bestFit` as screenshareType shows the screen shares only.
 */
export function screenshare(type: ScreenshareLayoutType, streams: readonly LayoutStream[], canvas: Canvas, screen: LayoutStream): FracBox[] {
  switch (type) {
    case 'bestFit':
      return bestFit(
        streams.filter((s) => s.videoType === 'screen'),
        canvas,
      );
    case 'pip':
      return pip(streams, canvas, screen);
    case 'verticalPresentation':
      return verticalPresentation(streams, canvas, screen);
    case 'horizontalPresentation':
      return horizontalPresentation(streams, canvas, screen);
  }
}
