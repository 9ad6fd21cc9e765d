import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bestFitStylesheet, computeLayout, PREDEFINED_STYLESHEETS } from './index.js';
import type { Box, Canvas, LayoutStream } from './index.js';

/** s0 carries `cls` (so it ranks first), the rest are plain cameras. */
const streams = (n: number, cls?: string): LayoutStream[] =>
  Array.from({ length: n }, (_, i) => ({
    streamId: `s${i}`,
    connectionId: `c${i}`,
    videoType: 'camera',
    layoutClassList: i === 0 && cls ? [cls] : [],
    order: i,
  }));

const FOUR_THREE: Canvas[] = [
  { width: 640, height: 480 },
  { width: 320, height: 240 },
  { width: 1024, height: 768 },
];
const ALL: Canvas[] = [...FOUR_THREE, { width: 1280, height: 720 }, { width: 1920, height: 1080 }, { width: 480, height: 640 }, { width: 1080, height: 1920 }];

describe('OpenTok-style stylesheets through the custom engine give the native boxes', () => {
  for (const canvas of ALL) {
    const size = `${canvas.width}x${canvas.height}`;
    it.each(Array.from({ length: 16 }, (_, i) => i + 1))(`bestFit as left floats, ${size}, %i streams`, (n) => {
      expect(computeLayout({ type: 'custom', stylesheet: bestFitStylesheet(n) }, streams(n), canvas)).toEqual(computeLayout({ type: 'bestFit' }, streams(n), canvas));
    });
    it.each(Array.from({ length: 8 }, (_, i) => i + 1))(`pip, verticalPresentation, horizontalPresentation, ${size}, %i streams`, (n) => {
      expect(computeLayout({ type: 'custom', stylesheet: PREDEFINED_STYLESHEETS.pip }, streams(n, 'full'), canvas)).toEqual(computeLayout({ type: 'pip' }, streams(n, 'full'), canvas));
      // The presentations' boxes never overlap, so paint order does not matter there.
      const byId = (boxes: Box[]): Box[] => [...boxes].sort((a, b) => a.streamId.localeCompare(b.streamId));
      for (const type of ['verticalPresentation', 'horizontalPresentation'] as const) {
        const css = computeLayout({ type: 'custom', stylesheet: PREDEFINED_STYLESHEETS[type] }, streams(n, 'focus'), canvas);
        expect(byId(css)).toEqual(byId(computeLayout({ type }, streams(n, 'focus'), canvas)));
      }
    });
  }

  it('bestFit written with two-decimal percentages (33.33%, as people write it) rounds to the same pixels at 4:3', () => {
    for (const canvas of FOUR_THREE) {
      expect(computeLayout({ type: 'custom', stylesheet: 'stream { float: left; width: 33.33%; height: 33.33% }' }, streams(9), canvas)).toEqual(
        computeLayout({ type: 'bestFit' }, streams(9), canvas),
      );
    }
  });

  it('property: the float grid equals native bestFit on any canvas', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 1, max: 4096 }), (n, width, height) => {
        const canvas = { width, height };
        const shown = Math.min(n, 16);
        expect(computeLayout({ type: 'custom', stylesheet: bestFitStylesheet(shown) }, streams(n), canvas)).toEqual(computeLayout({ type: 'bestFit' }, streams(n), canvas));
      }),
      { numRuns: 300 },
    );
  });
});
