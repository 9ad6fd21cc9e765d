/**
 * The layout engine of composed archives and broadcasts: from a layout, the session's streams and
 * the canvas to integer pixel boxes in paint order. Pure: no media, no clock, no I/O.
 */
import { compileStylesheet, computeStyles } from './css/compile.js';
import type { CompiledStylesheet } from './css/compile.js';
import { flow } from './css/flow.js';
import { LayoutError } from './errors.js';
import { orderStreams, prioritize } from './order.js';
import { bestFit, horizontalPresentation, pip, screenshare, verticalPresentation } from './predefined.js';
import type { Box, Canvas, FracBox, LayoutSpec, LayoutStream, LayoutType } from './types.js';

export type { Box, Canvas, FracBox, LayoutSpec, LayoutStream, LayoutType, ScreenshareLayoutType } from './types.js';
export type { CompiledStylesheet } from './css/compile.js';
export { compileStylesheet, MAX_STYLESHEET_LENGTH } from './css/compile.js';
export { SUPPORTED_PROPERTIES } from './css/values.js';
export { LayoutError } from './errors.js';
export type { LayoutErrorCode } from './errors.js';
export { MAX_SHOWN_STREAMS, orderStreams } from './order.js';
export { bestFitGrid } from './predefined.js';
export { bestFitStylesheet, PREDEFINED_STYLESHEETS } from './stylesheets.js';

/** Every layout type, in OpenTok's documented order. */
export const LAYOUT_TYPES: readonly LayoutType[] = Object.freeze(['bestFit', 'pip', 'verticalPresentation', 'horizontalPresentation', 'custom']);

/** The types allowed as `screenshareType` (only together with `bestFit`). */
export const SCREENSHARE_LAYOUT_TYPES: readonly Exclude<LayoutType, 'custom'>[] = Object.freeze(['bestFit', 'pip', 'verticalPresentation', 'horizontalPresentation']);

/** Compiled stylesheets by source, so a compositor calling on every change does not re-parse. */
const compiled = new Map<string, CompiledStylesheet>();
const COMPILED_CACHE_SIZE = 32;

function compiledFor(css: string): CompiledStylesheet {
  const hit = compiled.get(css);
  if (hit) {
    compiled.delete(css);
    compiled.set(css, hit);
    return hit;
  }
  const sheet = compileStylesheet(css);
  compiled.set(css, sheet);
  if (compiled.size > COMPILED_CACHE_SIZE) compiled.delete(compiled.keys().next().value!);
  return sheet;
}

function checkCanvas(canvas: Canvas): void {
  const ok = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 16384;
  if (!canvas || !ok(canvas.width) || !ok(canvas.height)) {
    throw new LayoutError('ERR_LAYOUT_INVALID', `canvas must have integer width and height from 1 to 16384 (got ${canvas?.width}x${canvas?.height})`);
  }
}

/** Rounds to whole pixels by edges, so tiles that touch stay touching; drops boxes not on the canvas. */
export function toPixels(boxes: readonly FracBox[], canvas: Canvas): Box[] {
  // Snap away float noise first: 3 × (640/3) must give the same edge as 640.
  const px = (v: number): number => Math.round(Math.round(v * 1e6) / 1e6);
  const out: Box[] = [];
  for (const b of boxes) {
    const x = px(b.x);
    const y = px(b.y);
    const width = px(b.x + b.width) - x;
    const height = px(b.y + b.height) - y;
    if (width <= 0 || height <= 0) continue;
    if (x >= canvas.width || y >= canvas.height || x + width <= 0 || y + height <= 0) continue;
    out.push({ streamId: b.streamId, x, y, width, height, zIndex: b.zIndex, fit: b.fit });
  }
  return out;
}

/**
 * Lays out already-ordered streams (document order of the `<stream>` elements) with a compiled
 * custom stylesheet. {@link computeLayout} orders and caps them first.
 */
export function layoutWithStylesheet(sheet: CompiledStylesheet, ordered: readonly LayoutStream[], canvas: Canvas): Box[] {
  checkCanvas(canvas);
  const styles = computeStyles(
    sheet,
    ordered.map((s) => s.layoutClassList),
  );
  return toPixels(
    flow(
      styles,
      ordered.map((s) => s.streamId),
      canvas,
    ),
    canvas,
  );
}

/**
 * The boxes for a layout on a canvas. Boxes may extend past the canvas (the compositor clips).
 * Streams are first put in OpenTok's order and capped at 16 ({@link orderStreams}); boxes with no
 * area or wholly off the canvas are left out; the rest come in paint order.
 *
 * @example
 * computeLayout({ type: 'bestFit' }, streams, { width: 640, height: 480 });
 * // two streams → [{ x: 0, y: 0, width: 320, height: 480, … }, { x: 320, y: 0, width: 320, height: 480, … }]
 */
export function computeLayout(spec: LayoutSpec, streams: readonly LayoutStream[], canvas: Canvas): Box[] {
  checkCanvas(canvas);
  if (spec.screenshareType !== undefined && spec.type !== 'bestFit') {
    throw new LayoutError('ERR_LAYOUT_INVALID', `screenshareType is only allowed when type is bestFit (type is ${spec.type})`);
  }
  if (spec.stylesheet !== undefined && spec.type !== 'custom') {
    throw new LayoutError('ERR_LAYOUT_INVALID', `stylesheet is only allowed when type is custom (type is ${spec.type})`);
  }
  const ordered = orderStreams(streams);
  switch (spec.type) {
    case 'bestFit': {
      if (spec.screenshareType !== undefined) {
        if (!(SCREENSHARE_LAYOUT_TYPES as readonly string[]).includes(spec.screenshareType)) {
          throw new LayoutError('ERR_LAYOUT_INVALID', `unknown screenshareType '${String(spec.screenshareType)}'`);
        }
        const screen = prioritize(streams).find((s) => s.videoType === 'screen');
        if (screen) {
          // The screen share always shows, even when more than 16 streams rank before it.
          const shown = ordered.includes(screen) ? ordered : [screen, ...ordered.slice(0, ordered.length - 1)];
          return toPixels(screenshare(spec.screenshareType, shown, canvas, screen), canvas);
        }
      }
      return toPixels(bestFit(ordered, canvas), canvas);
    }
    case 'pip':
      return toPixels(pip(ordered, canvas), canvas);
    case 'verticalPresentation':
      return toPixels(verticalPresentation(ordered, canvas), canvas);
    case 'horizontalPresentation':
      return toPixels(horizontalPresentation(ordered, canvas), canvas);
    case 'custom': {
      if (typeof spec.stylesheet !== 'string' || spec.stylesheet.trim() === '') {
        throw new LayoutError('ERR_LAYOUT_INVALID', 'stylesheet is required when type is custom');
      }
      return layoutWithStylesheet(compiledFor(spec.stylesheet), ordered, canvas);
    }
    default:
      throw new LayoutError('ERR_LAYOUT_INVALID', `unknown layout type '${String((spec as { type: unknown }).type)}'`);
  }
}
