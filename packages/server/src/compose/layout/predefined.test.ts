import type { LayoutType as WireLayoutType, ScreenshareLayoutType as WireScreenshareType } from '@tokhost/protocol';
import { LAYOUT_TYPES as WIRE_LAYOUT_TYPES, SCREENSHARE_LAYOUT_TYPES as WIRE_SCREENSHARE_TYPES } from '@tokhost/protocol';
import { describe, expect, it } from 'vitest';
import { computeLayout, LAYOUT_TYPES, LayoutError, SCREENSHARE_LAYOUT_TYPES } from './index.js';
import type { Box, Canvas, LayoutSpec, LayoutStream, LayoutType } from './index.js';

// The engine's types are the wire's: a change on either side fails type-checking here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameLayoutType: Same<LayoutType, WireLayoutType> = true;
const sameScreenshareType: Same<NonNullable<LayoutSpec['screenshareType']>, WireScreenshareType> = true;

it('the layout types are the protocol’s (focus is not one)', () => {
  expect([sameLayoutType, sameScreenshareType]).toEqual([true, true]);
  expect(LAYOUT_TYPES).toEqual(WIRE_LAYOUT_TYPES);
  expect(SCREENSHARE_LAYOUT_TYPES).toEqual(WIRE_SCREENSHARE_TYPES);
  expect(LAYOUT_TYPES).not.toContain('focus');
});

const cam = (i: number, extra: Partial<LayoutStream> = {}): LayoutStream => ({
  streamId: `s${i}`,
  connectionId: `c${i}`,
  videoType: 'camera',
  layoutClassList: [],
  order: i,
  ...extra,
});
const streams = (n: number, extra: (i: number) => Partial<LayoutStream> = () => ({})): LayoutStream[] => Array.from({ length: n }, (_, i) => cam(i, extra(i)));
const rect = (b: Box): [string, number, number, number, number] => [b.streamId, b.x, b.y, b.width, b.height];

const CANVASES: Canvas[] = [
  { width: 640, height: 480 },
  { width: 1280, height: 720 },
  { width: 480, height: 640 },
  { width: 720, height: 1280 },
];
const N = Array.from({ length: 16 }, (_, i) => i + 1);
const label = (c: Canvas): string => `${c.width}x${c.height}`;

/** Edge `i` of `parts` equal parts of `size`, rounded: how tiles must meet without gaps. */
const edge = (size: number, parts: number, i: number): number => Math.round((size * i) / parts);
const GRID: Record<number, [number, number]> = { 1: [1, 1], 2: [2, 1], 3: [2, 2], 4: [2, 2] };
const grid = (n: number): [number, number] => GRID[n] ?? (n <= 9 ? [3, 3] : [4, 4]);

const overlaps = (a: Box, b: Box): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

describe('bestFit', () => {
  it('documented examples at 640x480: 1 full, 2 side by side, 4 in 2×2, 5 in 3×3 with a left-aligned short row', () => {
    const c = { width: 640, height: 480 };
    expect(computeLayout({ type: 'bestFit' }, streams(1), c).map(rect)).toEqual([['s0', 0, 0, 640, 480]]);
    expect(computeLayout({ type: 'bestFit' }, streams(2), c).map(rect)).toEqual([
      ['s0', 0, 0, 320, 480],
      ['s1', 320, 0, 320, 480],
    ]);
    expect(computeLayout({ type: 'bestFit' }, streams(4), c).map(rect)).toEqual([
      ['s0', 0, 0, 320, 240],
      ['s1', 320, 0, 320, 240],
      ['s2', 0, 240, 320, 240],
      ['s3', 320, 240, 320, 240],
    ]);
    expect(computeLayout({ type: 'bestFit' }, streams(5), c).map(rect)).toEqual([
      ['s0', 0, 0, 213, 160],
      ['s1', 213, 0, 214, 160],
      ['s2', 427, 0, 213, 160],
      ['s3', 0, 160, 213, 160],
      ['s4', 213, 160, 214, 160],
    ]);
  });

  for (const c of CANVASES) {
    it.each(N)(`${label(c)} with %i streams: grid cells in reading order, contain, inside the canvas, no overlap`, (n) => {
      const boxes = computeLayout({ type: 'bestFit' }, streams(n), c);
      const [cols, rows] = grid(n);
      expect(boxes).toHaveLength(n);
      boxes.forEach((b, i) => {
        const col = i % cols;
        const row = Math.floor(i / cols);
        expect(b).toEqual({
          streamId: `s${i}`,
          x: edge(c.width, cols, col),
          y: edge(c.height, rows, row),
          width: edge(c.width, cols, col + 1) - edge(c.width, cols, col),
          height: edge(c.height, rows, row + 1) - edge(c.height, rows, row),
          zIndex: 0,
          fit: 'contain',
        });
      });
      for (const a of boxes) for (const b of boxes) if (a !== b) expect(overlaps(a, b)).toBe(false);
    });
  }

  it('ignores classes (a focus stream is just the next cell)', () => {
    const c = { width: 640, height: 480 };
    const boxes = computeLayout({ type: 'bestFit' }, streams(3, (i) => (i === 2 ? { layoutClassList: ['focus'] } : {})), c);
    // classed streams rank first, then the cells are filled in that order
    expect(boxes.map(rect)).toEqual([
      ['s2', 0, 0, 320, 240],
      ['s0', 320, 0, 320, 240],
      ['s1', 0, 240, 320, 240],
    ]);
  });

  it('shows at most 16 streams', () => {
    expect(computeLayout({ type: 'bestFit' }, streams(20), { width: 640, height: 480 })).toHaveLength(16);
  });

  it('no streams → no boxes', () => {
    for (const type of ['bestFit', 'pip', 'verticalPresentation', 'horizontalPresentation'] as const) {
      expect(computeLayout({ type }, [], { width: 640, height: 480 })).toEqual([]);
    }
  });
});

describe('pip', () => {
  for (const c of CANVASES) {
    it.each(N)(`${label(c)} with %i streams: the first fills, the next sits at right 10%, top 10%, 20%×20% above it`, (n) => {
      const boxes = computeLayout({ type: 'pip' }, streams(n), c);
      expect(boxes).toHaveLength(Math.min(n, 2));
      expect(boxes[0]).toEqual({ streamId: 's0', x: 0, y: 0, width: c.width, height: c.height, zIndex: 0, fit: 'contain' });
      if (n >= 2) {
        expect(boxes[1]).toEqual({
          streamId: 's1',
          x: Math.round(c.width * 0.7),
          y: Math.round(c.height * 0.1),
          width: Math.round(c.width * 0.9) - Math.round(c.width * 0.7),
          height: Math.round(c.height * 0.3) - Math.round(c.height * 0.1),
          zIndex: 1,
          fit: 'contain',
        });
      }
    });
  }

  it('the stream with class full fills the frame; the first stream without it takes the corner', () => {
    const c = { width: 640, height: 480 };
    // s2 has `full` (ranked first as a classed stream); s1 also has a class but not `full`
    const list = streams(4, (i) => (i === 2 ? { layoutClassList: ['full'] } : i === 3 ? { layoutClassList: ['other'] } : {}));
    expect(computeLayout({ type: 'pip' }, list, c).map(rect)).toEqual([
      ['s2', 0, 0, 640, 480],
      ['s3', 448, 48, 128, 96],
    ]);
  });

  it('a second stream with class full is not put in the corner', () => {
    const c = { width: 640, height: 480 };
    const list = streams(3, (i) => (i < 2 ? { layoutClassList: ['full'] } : {}));
    expect(computeLayout({ type: 'pip' }, list, c).map(rect)).toEqual([
      ['s0', 0, 0, 640, 480],
      ['s2', 448, 48, 128, 96],
    ]);
  });
});

describe('verticalPresentation and horizontalPresentation', () => {
  for (const c of CANVASES) {
    it.each(N)(`vertical ${label(c)} with %i streams: focus at left 20%, 80% wide, full height; five others down the left edge`, (n) => {
      const list = streams(n, (i) => (i === n - 1 ? { layoutClassList: ['focus'] } : {}));
      const boxes = computeLayout({ type: 'verticalPresentation' }, list, c);
      const focus = boxes.find((b) => b.streamId === `s${n - 1}`)!;
      const x0 = Math.round(c.width * 0.2);
      expect(rect(focus)).toEqual([`s${n - 1}`, x0, 0, c.width - x0, c.height]);
      const others = boxes.filter((b) => b !== focus);
      expect(others.map((b) => b.streamId)).toEqual(Array.from({ length: Math.min(n - 1, 5) }, (_, i) => `s${i}`));
      others.forEach((b, i) => expect(rect(b)).toEqual([`s${i}`, 0, edge(c.height, 5, i), x0, edge(c.height, 5, i + 1) - edge(c.height, 5, i)]));
      for (const a of boxes) for (const b of boxes) if (a !== b) expect(overlaps(a, b)).toBe(false);
    });

    it.each(N)(`horizontal ${label(c)} with %i streams: focus on top, full width, 80% high; five others along the bottom`, (n) => {
      const list = streams(n, (i) => (i === 1 ? { layoutClassList: ['focus'] } : {}));
      const boxes = computeLayout({ type: 'horizontalPresentation' }, list, c);
      const focusId = n >= 2 ? 's1' : 's0';
      const focus = boxes.find((b) => b.streamId === focusId)!;
      const y0 = Math.round(c.height * 0.8);
      expect(rect(focus)).toEqual([focusId, 0, 0, c.width, y0]);
      const others = boxes.filter((b) => b !== focus);
      const expectedIds = Array.from({ length: n }, (_, i) => `s${i}`)
        .filter((id) => id !== focusId)
        .slice(0, 5);
      expect(others.map((b) => b.streamId)).toEqual(expectedIds);
      others.forEach((b, i) => expect(rect(b)).toEqual([expectedIds[i], edge(c.width, 5, i), y0, edge(c.width, 5, i + 1) - edge(c.width, 5, i), c.height - y0]));
      for (const a of boxes) for (const b of boxes) if (a !== b) expect(overlaps(a, b)).toBe(false);
    });
  }

  it('without a focus class the first stream takes the focus place', () => {
    const c = { width: 1280, height: 720 };
    expect(computeLayout({ type: 'verticalPresentation' }, streams(2), c).map(rect)).toEqual([
      ['s1', 0, 0, 256, 144],
      ['s0', 256, 0, 1024, 720],
    ]);
    expect(computeLayout({ type: 'horizontalPresentation' }, streams(2), c).map(rect)).toEqual([
      ['s1', 0, 576, 256, 144],
      ['s0', 0, 0, 1280, 576],
    ]);
  });
});

describe('screenshareType (with bestFit)', () => {
  const c = { width: 640, height: 480 };
  const withScreen = (n: number): LayoutStream[] => [...streams(n), cam(n, { videoType: 'screen', connectionId: 'c0' })];

  it('without a screen share, bestFit applies', () => {
    for (const screenshareType of ['pip', 'verticalPresentation', 'horizontalPresentation', 'bestFit'] as const) {
      expect(computeLayout({ type: 'bestFit', screenshareType }, streams(3), c)).toEqual(computeLayout({ type: 'bestFit' }, streams(3), c));
    }
  });

  it('verticalPresentation: the screen share takes the focus place even without a class (and over a focus class)', () => {
    const list = withScreen(3);
    list[1] = { ...list[1]!, layoutClassList: ['focus'] };
    expect(computeLayout({ type: 'bestFit', screenshareType: 'verticalPresentation' }, list, c).map(rect)).toEqual([
      ['s1', 0, 0, 128, 96],
      ['s0', 0, 96, 128, 96],
      ['s2', 0, 192, 128, 96],
      ['s3', 128, 0, 512, 480],
    ]);
  });

  it('horizontalPresentation and pip put the screen share in the focus / full place', () => {
    const list = withScreen(2);
    expect(computeLayout({ type: 'bestFit', screenshareType: 'horizontalPresentation' }, list, c).map(rect)).toEqual([
      ['s0', 0, 384, 128, 96],
      ['s1', 128, 384, 128, 96],
      ['s2', 0, 0, 640, 384],
    ]);
    expect(computeLayout({ type: 'bestFit', screenshareType: 'pip' }, list, c).map(rect)).toEqual([
      ['s2', 0, 0, 640, 480],
      ['s0', 448, 48, 128, 96],
    ]);
  });

  it('bestFit as screenshareType shows only the screen shares', () => {
    const list = [...withScreen(3), cam(9, { videoType: 'screen' })];
    expect(computeLayout({ type: 'bestFit', screenshareType: 'bestFit' }, list, c).map(rect)).toEqual([
      ['s3', 0, 0, 320, 480],
      ['s9', 320, 0, 320, 480],
    ]);
  });

  it('the screen share shows even when 16 classed streams outrank it', () => {
    const list = [...streams(17, () => ({ layoutClassList: ['x'] })), cam(40, { videoType: 'screen' })];
    const boxes = computeLayout({ type: 'bestFit', screenshareType: 'verticalPresentation' }, list, c);
    expect(boxes.at(-1)).toMatchObject({ streamId: 's40', x: 128, width: 512 });
  });
});

describe('invalid specs', () => {
  const c = { width: 640, height: 480 };
  it.each([
    [{ type: 'focus' }, /unknown layout type 'focus'/],
    [{ type: 'custom' }, /stylesheet is required/],
    [{ type: 'pip', screenshareType: 'pip' }, /screenshareType is only allowed when type is bestFit/],
    [{ type: 'pip', stylesheet: 'stream {}' }, /stylesheet is only allowed when type is custom/],
    [{ type: 'bestFit', screenshareType: 'custom' }, /unknown screenshareType 'custom'/],
  ])('%j → ERR_LAYOUT_INVALID', (spec, message) => {
    const run = (): unknown => computeLayout(spec as never, streams(2), c);
    expect(run).toThrow(LayoutError);
    expect(run).toThrow(message);
    try {
      run();
    } catch (e) {
      expect((e as LayoutError).code).toBe('ERR_LAYOUT_INVALID');
    }
  });

  it.each([
    { width: 0, height: 480 },
    { width: 640.5, height: 480 },
    { width: 640, height: -1 },
    { width: Number.NaN, height: 480 },
  ])('canvas %j → ERR_LAYOUT_INVALID', (canvas) => {
    expect(() => computeLayout({ type: 'bestFit' }, streams(1), canvas)).toThrow(/canvas must have integer width and height/);
  });
});
