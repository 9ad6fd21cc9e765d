import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileStylesheet, computeLayout, LayoutError } from './index.js';
import type { Box, Canvas, LayoutSpec, LayoutStream } from './index.js';

const overlaps = (a: Box, b: Box): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const inside = (b: Box, c: Canvas): boolean => b.x >= 0 && b.y >= 0 && b.x + b.width <= c.width && b.y + b.height <= c.height;

/** Real canvases are OpenTok's six resolutions; any size from 16 px (a 4×4 grid of 4 px cells) up. */
const canvasArb = fc.oneof(
  fc.constantFrom<Canvas>({ width: 640, height: 480 }, { width: 480, height: 640 }, { width: 1280, height: 720 }, { width: 720, height: 1280 }, { width: 1920, height: 1080 }, { width: 1080, height: 1920 }),
  fc.record({ width: fc.integer({ min: 16, max: 4096 }), height: fc.integer({ min: 16, max: 4096 }) }),
);
const anyCanvasArb = fc.record({ width: fc.integer({ min: 1, max: 4096 }), height: fc.integer({ min: 1, max: 4096 }) });
const streamsArb = fc
  .array(
    fc.record({
      classes: fc.subarray(['focus', 'full', 'a', 'b']),
      screen: fc.boolean(),
      conn: fc.integer({ min: 0, max: 5 }),
    }),
    { maxLength: 24 },
  )
  .map((specs): LayoutStream[] =>
    specs.map((x, i) => ({ streamId: `s${i}`, connectionId: `c${x.conn}`, videoType: x.screen ? 'screen' : 'camera', layoutClassList: x.classes, order: i })),
  );

const wellFormed = (boxes: Box[], streams: LayoutStream[], canvas: Canvas): void => {
  const ids = new Set(streams.map((s) => s.streamId));
  expect(new Set(boxes.map((b) => b.streamId)).size).toBe(boxes.length);
  expect(boxes.length).toBeLessThanOrEqual(16);
  for (const b of boxes) {
    expect(ids.has(b.streamId)).toBe(true);
    for (const v of [b.x, b.y, b.width, b.height, b.zIndex]) expect(Number.isInteger(v)).toBe(true);
    expect(b.width).toBeGreaterThan(0);
    expect(b.height).toBeGreaterThan(0);
    // at least partly on the canvas
    expect(b.x < canvas.width && b.y < canvas.height && b.x + b.width > 0 && b.y + b.height > 0).toBe(true);
  }
  for (let i = 1; i < boxes.length; i++) expect(boxes[i]!.zIndex).toBeGreaterThanOrEqual(boxes[i - 1]!.zIndex);
};

describe('layout properties', () => {
  it('bestFit: min(n, 16) boxes, inside the canvas, never overlapping, sizes within a pixel of each other', () => {
    fc.assert(
      fc.property(streamsArb, canvasArb, (streams, canvas) => {
        const boxes = computeLayout({ type: 'bestFit' }, streams, canvas);
        wellFormed(boxes, streams, canvas);
        expect(boxes.length).toBe(Math.min(streams.length, 16));
        for (const b of boxes) expect(inside(b, canvas)).toBe(true);
        for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) expect(overlaps(boxes[i]!, boxes[j]!)).toBe(false);
        if (boxes.length > 0) {
          const ws = boxes.map((b) => b.width);
          const hs = boxes.map((b) => b.height);
          expect(Math.max(...ws) - Math.min(...ws)).toBeLessThanOrEqual(1);
          expect(Math.max(...hs) - Math.min(...hs)).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('presentations: inside the canvas, no overlap, at most six boxes, the focus box the largest', () => {
    fc.assert(
      fc.property(streamsArb, canvasArb, fc.constantFrom('verticalPresentation' as const, 'horizontalPresentation' as const), (streams, canvas, type) => {
        const boxes = computeLayout({ type }, streams, canvas);
        wellFormed(boxes, streams, canvas);
        expect(boxes.length).toBeLessThanOrEqual(6);
        for (const b of boxes) expect(inside(b, canvas)).toBe(true);
        for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) expect(overlaps(boxes[i]!, boxes[j]!)).toBe(false);
        const area = (b: Box): number => b.width * b.height;
        if (boxes.length > 0) expect(area(boxes.at(-1)!)).toBe(Math.max(...boxes.map(area)));
      }),
      { numRuns: 300 },
    );
  });

  it('pip: the full box is the canvas and the corner box lies inside it, painted above', () => {
    fc.assert(
      fc.property(streamsArb, canvasArb, (streams, canvas) => {
        const boxes = computeLayout({ type: 'pip' }, streams, canvas);
        wellFormed(boxes, streams, canvas);
        expect(boxes.length).toBeLessThanOrEqual(2);
        if (boxes[0]) expect(boxes[0]).toMatchObject({ x: 0, y: 0, width: canvas.width, height: canvas.height, zIndex: 0 });
        if (boxes[1]) {
          expect(inside(boxes[1], canvas)).toBe(true);
          expect(boxes[1].zIndex).toBe(1);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('screenshareType: while a screen share exists it is shown in the largest box', () => {
    fc.assert(
      fc.property(streamsArb, canvasArb, fc.constantFrom('pip' as const, 'verticalPresentation' as const, 'horizontalPresentation' as const), (streams, canvas, screenshareType) => {
        const boxes = computeLayout({ type: 'bestFit', screenshareType }, streams, canvas);
        wellFormed(boxes, streams, canvas);
        const screens = streams.filter((s) => s.videoType === 'screen');
        if (screens.length === 0) {
          expect(boxes).toEqual(computeLayout({ type: 'bestFit' }, streams, canvas));
          return;
        }
        const main = screenshareType === 'pip' ? boxes[0]! : boxes.at(-1)!;
        expect(streams.find((s) => s.streamId === main.streamId)?.videoType).toBe('screen');
      }),
      { numRuns: 300 },
    );
  });

  const len = fc.oneof(
    fc.integer({ min: 0, max: 2000 }).map((n) => `${n}px`),
    fc.integer({ min: 0, max: 150 }).map((n) => `${n}%`),
    fc.constant('0'),
  );
  const signed = fc.oneof(len, fc.integer({ min: -500, max: 500 }).map((n) => `${n}px`), fc.integer({ min: -50, max: 50 }).map((n) => `${n}%`), fc.constant('auto'));
  const decl = fc.oneof(
    fc.tuple(fc.constantFrom('width', 'height'), fc.oneof(len, fc.constant('auto'))),
    fc.tuple(fc.constantFrom('min-width', 'min-height'), len),
    fc.tuple(fc.constantFrom('max-width', 'max-height'), fc.oneof(len, fc.constant('none'))),
    fc.tuple(fc.constantFrom('top', 'left', 'right', 'bottom', 'margin-top', 'margin-left', 'margin-right', 'margin-bottom', 'margin'), signed),
    fc.tuple(fc.constant('position'), fc.constantFrom('static', 'relative', 'absolute')),
    fc.tuple(fc.constant('display'), fc.constantFrom('block', 'inline', 'inline-block', 'none')),
    fc.tuple(fc.constant('float'), fc.constantFrom('none', 'left', 'right')),
    fc.tuple(fc.constant('clear'), fc.constantFrom('none', 'left', 'right', 'both')),
    fc.tuple(fc.constant('z-index'), fc.oneof(fc.constant('auto'), fc.integer({ min: -5, max: 5 }).map(String))),
    fc.tuple(fc.constant('overflow'), fc.constantFrom('hidden', 'visible')),
    fc.tuple(fc.constant('object-fit'), fc.constantFrom('contain', 'cover')),
  );
  const selector = fc.constantFrom(
    'stream',
    '.focus',
    '.full',
    'stream.a',
    'stream:first-child',
    'stream:last-child',
    'stream:nth-child(2n+1)',
    'stream:nth-last-child(2)',
    '.a + stream',
    '.b ~ stream',
    'stream + stream',
    'stream:nth-child(-n+3)',
  );
  const rule = fc.tuple(fc.array(selector, { minLength: 1, maxLength: 2 }), fc.array(decl, { minLength: 1, maxLength: 6 })).map(([sels, decls]) => `${sels.join(', ')} { ${decls.map(([p, v]) => `${p}: ${v}`).join('; ')} }`);

  it('custom: any stylesheet of the subset lays out without throwing, into well-formed boxes in paint order', () => {
    fc.assert(
      fc.property(fc.array(rule, { minLength: 1, maxLength: 8 }), streamsArb, anyCanvasArb, (rules, streams, canvas) => {
        const spec: LayoutSpec = { type: 'custom', stylesheet: rules.join('\n') };
        wellFormed(computeLayout(spec, streams, canvas), streams, canvas);
      }),
      { numRuns: 400 },
    );
  });

  it('compileStylesheet: any text either compiles or is refused with a LayoutError', () => {
    const cssish = fc.stringMatching(/^[a-z.:#>+~*(){};\s0-9%-]{0,60}$/);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), cssish), (text) => {
        try {
          compileStylesheet(text);
        } catch (e) {
          expect(e).toBeInstanceOf(LayoutError);
          expect((e as LayoutError).code).toBe('ERR_LAYOUT_STYLESHEET');
        }
      }),
      { numRuns: 1000 },
    );
  });
});
