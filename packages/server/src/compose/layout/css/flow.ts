import type { Canvas, FracBox } from '../types.js';
import type { Len, LenAuto, LenNone, Style } from './values.js';

/**
 * A small CSS 2.1 visual formatting engine for one container (`<archive>`, the canvas, a block
 * formatting context since it is `overflow: hidden`) whose children are empty `<stream>` boxes:
 * block flow with margin collapsing, floats (with clearance), line boxes for inline-level
 * streams, relative offsets and absolute positioning against the container, and the CSS painting
 * order. All in fractional pixels; rounding happens once at the end.
 *
 * Choices where a browser would need content: a stream has no content, so `height: auto` is 0
 * and an `auto` width shrinks to 0 except for an in-flow block (which fills the line); `inline`
 * streams behave like `inline-block` ones (a video is a replaced element, it keeps its size);
 * line boxes have no text strut (as with `font-size: 0`), so inline-level streams sit on one
 * baseline at their bottom margin edges.
 */

const EPS = 1e-6;

interface FloatBox {
  side: 'left' | 'right';
  /** margin box */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

interface Placed {
  index: number;
  x: number;
  y: number;
  width: number;
  height: number;
  /** painting layer (CSS 2.1 Appendix E, simplified to one stacking context) */
  layer: number;
  z: number;
  zIndex: number;
}

interface LineItem {
  index: number;
  width: number;
  height: number;
  ml: number;
  mr: number;
  mt: number;
  mb: number;
}

interface Line {
  top: number;
  items: LineItem[];
  used: number;
  height: number;
  /** boxes met on this line but placed below it when it closes: block-level absolutes, floats that did not fit */
  afterLine: ((staticY: number) => void)[];
  /** a float of this line went below it, so later ones do too */
  deferred: boolean;
}

/** Collapsed margins: the largest positive plus the most negative (CSS 2.1 §8.3.1). */
class Margins {
  pos = 0;
  neg = 0;
  add(m: number): this {
    if (m > 0) this.pos = Math.max(this.pos, m);
    else this.neg = Math.min(this.neg, m);
    return this;
  }
  get value(): number {
    return this.pos + this.neg;
  }
}

const LAYER = { negative: 0, block: 1, float: 2, inline: 3, positioned: 4, positive: 5 } as const;

/** Lays out styled streams (document order) on the canvas; boxes in paint order. */
export function flow(styles: readonly Style[], streamIds: readonly string[], canvas: Canvas): FracBox[] {
  const W = canvas.width;
  const H = canvas.height;
  const horiz = (l: Len): number => ('px' in l ? l.px : (l.pct / 100) * W);
  const vert = (l: Len): number => ('px' in l ? l.px : (l.pct / 100) * H);
  const auto = (l: LenAuto, of: (l: Len) => number): number | undefined => (l === 'auto' ? undefined : of(l));
  const none = (l: LenNone, of: (l: Len) => number): number => (l === 'none' ? Infinity : of(l));
  const clampW = (s: Style, w: number): number => Math.max(horiz(s.minWidth), Math.min(none(s.maxWidth, horiz), w));
  const clampH = (s: Style, h: number): number => Math.max(vert(s.minHeight), Math.min(none(s.maxHeight, vert), h));
  // CSS: percentages of all four margins refer to the containing block's width.
  const margin = (l: LenAuto): number => (l === 'auto' ? 0 : horiz(l));

  const floats: FloatBox[] = [];
  const placed: Placed[] = [];
  let cursorY = 0;
  let pending = new Margins();
  let line: Line | undefined;
  let floatTop = 0;

  /** The free span [left, right] beside the floats overlapping the band [y, y+h). */
  const span = (y: number, h: number): { left: number; right: number; next: number | undefined } => {
    let left = 0;
    let right = W;
    let next: number | undefined;
    for (const f of floats) {
      const overlaps = h > 0 ? f.y0 < y + h - EPS && f.y1 > y + EPS : f.y0 <= y + EPS && f.y1 > y + EPS;
      if (!overlaps) continue;
      if (f.side === 'left') left = Math.max(left, f.x1);
      else right = Math.min(right, f.x0);
      if (next === undefined || f.y1 < next) next = f.y1;
    }
    return { left, right, next };
  };

  const clearance = (clear: Style['clear']): number => {
    let y = -Infinity;
    for (const f of floats) if (clear === 'both' || clear === f.side) y = Math.max(y, f.y1);
    return y;
  };

  const layerOf = (s: Style, flowLayer: number): { layer: number; z: number; zIndex: number } => {
    if (s.position === 'static') return { layer: flowLayer, z: 0, zIndex: 0 };
    const z = s.zIndex === 'auto' ? 0 : s.zIndex;
    return { layer: z < 0 ? LAYER.negative : z > 0 ? LAYER.positive : LAYER.positioned, z, zIndex: z };
  };

  const relative = (s: Style): { dx: number; dy: number } => {
    if (s.position !== 'relative') return { dx: 0, dy: 0 };
    const l = auto(s.left, horiz);
    const r = auto(s.right, horiz);
    const t = auto(s.top, vert);
    const b = auto(s.bottom, vert);
    return { dx: l ?? (r === undefined ? 0 : -r), dy: t ?? (b === undefined ? 0 : -b) };
  };

  const closeLine = (): void => {
    if (!line) return;
    const { left } = span(line.top, line.height);
    let x = left;
    for (const it of line.items) {
      const s = styles[it.index]!;
      const { dx, dy } = relative(s);
      const y = line.top + line.height - (it.mt + it.height + it.mb) + it.mt;
      placed.push({ index: it.index, x: x + it.ml + dx, y: y + dy, width: it.width, height: it.height, ...layerOf(s, LAYER.inline) });
      x += it.ml + it.width + it.mr;
    }
    cursorY = line.top + line.height;
    const after = line.afterLine;
    line = undefined;
    for (const place of after) place(cursorY);
  };

  const placeFloat = (s: Style, index: number, w: number, h: number, ml: number, mr: number, mt: number, mb: number): void => {
    // Negative margins may make the margin box narrower than nothing: it is placed as it is.
    const outerW = ml + w + mr;
    const outerH = Math.max(0, mt + h + mb);
    const commit = (x0: number, y0: number): void => {
      floats.push({ side: s.float === 'left' ? 'left' : 'right', x0: Math.min(x0, x0 + outerW), y0, x1: Math.max(x0, x0 + outerW), y1: y0 + outerH });
      floatTop = y0;
      const { dx, dy } = relative(s);
      placed.push({ index, x: x0 + ml + dx, y: y0 + mt + dy, width: w, height: h, ...layerOf(s, LAYER.float) });
    };
    if (line) {
      // A float met inside a line goes on that line when it fits beside the line's content;
      // otherwise it (and every later float of the line) is placed once the line is complete,
      // below it, and does not move the line's content.
      const open = line;
      const sp = span(open.top, Math.max(open.height, outerH));
      const cleared = s.clear === 'none' || clearance(s.clear) <= open.top + EPS;
      if (!open.deferred && cleared && open.top >= floatTop - EPS && sp.right - sp.left - open.used >= outerW - EPS) {
        return commit(s.float === 'left' ? sp.left : sp.right - outerW, open.top);
      }
      open.deferred = true;
      open.afterLine.push(() => placeFloat(s, index, w, h, ml, mr, mt, mb));
      return;
    }
    let y = Math.max(floatTop, cursorY + pending.value);
    if (s.clear !== 'none') y = Math.max(y, clearance(s.clear));
    for (;;) {
      const sp = span(y, outerH);
      if (sp.right - sp.left >= outerW - EPS || sp.next === undefined) return commit(s.float === 'left' ? sp.left : sp.right - outerW, y);
      y = sp.next;
    }
  };

  /** CSS 2.1 §10.3.7 / §10.6.4 for one axis of an absolutely positioned box. */
  const solveAxis = (
    cb: number,
    start: number | undefined,
    end: number | undefined,
    size: number | undefined,
    ms: number | undefined,
    me: number | undefined,
    staticPos: number,
    clamp: (v: number) => number,
  ): { pos: number; size: number; ms: number } => {
    const solve = (sz: number | undefined): { pos: number; size: number; ms: number } => {
      if (start !== undefined && end !== undefined && sz !== undefined) {
        let a = ms;
        let b = me;
        const free = cb - start - end - sz;
        if (a === undefined && b === undefined) {
          a = Math.max(0, free / 2);
          b = free - a;
        } else if (a === undefined) a = free - (b ?? 0);
        // over-constrained: `end` (right/bottom) is ignored
        return { pos: start, size: sz, ms: a };
      }
      const a = ms ?? 0;
      const b = me ?? 0;
      if (start === undefined && end === undefined) return { pos: staticPos, size: sz ?? 0, ms: a };
      if (sz === undefined) {
        if (start !== undefined && end !== undefined) return { pos: start, size: Math.max(0, cb - start - end - a - b), ms: a };
        // shrink-to-fit of an empty box is 0
        if (start !== undefined) return { pos: start, size: 0, ms: a };
        return { pos: cb - end! - 0 - a - b, size: 0, ms: a };
      }
      if (start !== undefined) return { pos: start, size: sz, ms: a };
      return { pos: cb - end! - sz - a - b, size: sz, ms: a };
    };
    const first = solve(size);
    const clamped = clamp(first.size);
    return clamped === first.size ? first : solve(clamped);
  };

  styles.forEach((s, index) => {
    if (s.display === 'none') return;
    const absolute = s.position === 'absolute';
    const floated = !absolute && s.float !== 'none';
    const inlineLevel = !absolute && !floated && (s.display === 'inline' || s.display === 'inline-block');

    if (absolute) {
      // The static position of an inline-level box is on the line (beside the floats), of a block at the left edge.
      const inlineBefore = s.display === 'inline' || s.display === 'inline-block';
      const staticX = !inlineBefore ? 0 : line ? span(line.top, line.height).left + line.used : span(cursorY + pending.value, 0).left;
      const hx = solveAxis(
        W,
        auto(s.left, horiz),
        auto(s.right, horiz),
        auto(s.width, horiz),
        s.marginLeft === 'auto' ? undefined : horiz(s.marginLeft),
        s.marginRight === 'auto' ? undefined : horiz(s.marginRight),
        staticX,
        (v) => clampW(s, v),
      );
      const place = (staticY: number): void => {
        const vy = solveAxis(
          H,
          auto(s.top, vert),
          auto(s.bottom, vert),
          auto(s.height, vert),
          s.marginTop === 'auto' ? undefined : horiz(s.marginTop),
          s.marginBottom === 'auto' ? undefined : horiz(s.marginBottom),
          staticY,
          (v) => clampH(s, v),
        );
        placed.push({ index, x: hx.pos + hx.ms, y: vy.pos + vy.ms, width: hx.size, height: vy.size, ...layerOf(s, LAYER.block) });
      };
      // A block-level box met inside a line would have started below that line: its static
      // position is known only once the line is complete.
      if (line && s.display === 'block') line.afterLine.push(place);
      else place(line ? line.top : cursorY + pending.value);
      return;
    }

    const h = clampH(s, auto(s.height, vert) ?? 0);
    const mt = margin(s.marginTop);
    const mb = margin(s.marginBottom);

    if (floated) {
      placeFloat(s, index, clampW(s, auto(s.width, horiz) ?? 0), h, margin(s.marginLeft), margin(s.marginRight), mt, mb);
      return;
    }

    if (inlineLevel) {
      const w = clampW(s, auto(s.width, horiz) ?? 0);
      const it: LineItem = { index, width: w, height: h, ml: margin(s.marginLeft), mr: margin(s.marginRight), mt, mb };
      const outerW = it.ml + w + it.mr;
      const outerH = Math.max(0, mt + h + mb);
      for (;;) {
        if (!line) {
          line = { top: cursorY + pending.value, items: [], used: 0, height: 0, afterLine: [], deferred: false };
          pending = new Margins();
        }
        const sp = span(line.top, Math.max(line.height, outerH));
        if (line.used + outerW <= sp.right - sp.left + EPS) break;
        if (line.items.length > 0) {
          closeLine();
          continue;
        }
        if (sp.next === undefined) break;
        line.top = sp.next;
      }
      line.items.push(it);
      line.used += outerW;
      line.height = Math.max(line.height, outerH);
      return;
    }

    // an in-flow block
    closeLine();
    const collapsed = new Margins();
    collapsed.pos = pending.pos;
    collapsed.neg = pending.neg;
    collapsed.add(mt);
    let top = cursorY + collapsed.value;
    if (s.clear !== 'none') top = Math.max(top, clearance(s.clear));
    const mlRaw = s.marginLeft === 'auto' ? undefined : horiz(s.marginLeft);
    const mrRaw = s.marginRight === 'auto' ? undefined : horiz(s.marginRight);
    // CSS 2.1 §10.3.3: an auto width fills the line; once min-/max-width change it, or when the
    // width is set, auto margins share what is left (none when nothing is left).
    const widthOf = (avail: number): { w: number; ml: number } => {
      const specified = auto(s.width, horiz);
      let w: number;
      if (specified === undefined) {
        const fill = avail - (mlRaw ?? 0) - (mrRaw ?? 0);
        w = clampW(s, fill);
        if (w === fill) return { w, ml: mlRaw ?? 0 };
      } else w = clampW(s, specified);
      const free = avail - w - (mlRaw ?? 0) - (mrRaw ?? 0);
      if (free < 0) return { w, ml: mlRaw ?? 0 };
      if (mlRaw === undefined && mrRaw === undefined) return { w, ml: free / 2 };
      if (mlRaw === undefined) return { w, ml: free };
      return { w, ml: mlRaw };
    };
    let x: number;
    let w: number;
    if (s.overflow === 'hidden') {
      // A block that makes its own formatting context does not overlap floats (CSS 2.1 §9.5).
      for (;;) {
        const sp = span(top, h);
        const fit = widthOf(sp.right - sp.left);
        if (sp.next === undefined || fit.w + (mlRaw ?? 0) + (mrRaw ?? 0) <= sp.right - sp.left + EPS) {
          x = sp.left + fit.ml;
          w = fit.w;
          break;
        }
        top = sp.next;
      }
    } else {
      const fit = widthOf(W);
      x = fit.ml;
      w = fit.w;
    }
    const { dx, dy } = relative(s);
    placed.push({ index, x: x + dx, y: top + dy, width: w, height: h, ...layerOf(s, LAYER.block) });
    if (h === 0 && s.overflow !== 'hidden') {
      // An empty block's own margins collapse through it with its neighbours' (not when it makes
      // its own formatting context, CSS 2.1 §8.3.1).
      pending = collapsed.add(mb);
    } else {
      cursorY = top + h;
      pending = new Margins().add(mb);
    }
  });
  closeLine();

  placed.sort((a, b) => a.layer - b.layer || a.z - b.z || a.index - b.index);
  return placed.map((p) => ({
    streamId: streamIds[p.index]!,
    x: p.x,
    y: p.y,
    width: p.width,
    height: p.height,
    zIndex: p.zIndex,
    fit: styles[p.index]!.objectFit,
  }));
}
