import { describe, expect, it } from 'vitest';
import { compileStylesheet, computeLayout, LayoutError } from './index.js';
import type { Box, Canvas, LayoutStream } from './index.js';

const C: Canvas = { width: 640, height: 480 };

/** Streams s0…s(n-1) in arrival order with the given class lists (classed ones rank first!). */
const streams = (...classes: string[][]): LayoutStream[] =>
  classes.map((layoutClassList, i) => ({ streamId: `s${i}`, connectionId: `c${i}`, videoType: 'camera', layoutClassList, order: i }));
const plain = (n: number): LayoutStream[] => streams(...Array.from({ length: n }, () => []));
const custom = (css: string, list: LayoutStream[], canvas = C): Box[] => computeLayout({ type: 'custom', stylesheet: css }, list, canvas);
const rects = (boxes: Box[]): [string, number, number, number, number][] => boxes.map((b) => [b.streamId, b.x, b.y, b.width, b.height]);
const run = (css: string, list: LayoutStream[], canvas = C): [string, number, number, number, number][] => rects(custom(css, list, canvas));

describe('custom layouts: block flow', () => {
  it('blocks stack down the container, auto width fills it', () => {
    expect(run('stream { height: 100px }', plain(3))).toEqual([
      ['s0', 0, 0, 640, 100],
      ['s1', 0, 100, 640, 100],
      ['s2', 0, 200, 640, 100],
    ]);
  });

  it('adjacent vertical margins collapse to the larger one', () => {
    expect(run('stream { height: 100px; margin: 10px 0 20px }', plain(3))).toEqual([
      ['s0', 0, 10, 640, 100],
      ['s1', 0, 130, 640, 100],
      ['s2', 0, 250, 640, 100],
    ]);
  });

  it('negative and positive margins collapse to their sum; empty blocks let margins collapse through', () => {
    expect(run('stream { height: 100px; margin-bottom: 30px } stream + stream { margin-top: -10px }', plain(2))).toEqual([
      ['s0', 0, 0, 640, 100],
      ['s1', 0, 120, 640, 100],
    ]);
    // s1 has no height: its 40px margins and s0's 20px collapse into one 40px gap before s2
    expect(run('stream { height: 50px; margin: 20px 0 } stream:nth-child(2) { height: 0; margin: 40px 0 }', plain(3))).toEqual([
      ['s0', 0, 20, 640, 50],
      ['s2', 0, 110, 640, 50],
    ]);
  });

  it('horizontal auto margins centre a block; one auto margin takes the rest', () => {
    expect(run('stream { width: 200px; height: 50px; margin: 0 auto }', plain(1))).toEqual([['s0', 220, 0, 200, 50]]);
    expect(run('stream { width: 200px; height: 50px; margin-left: auto }', plain(1))).toEqual([['s0', 440, 0, 200, 50]]);
  });

  it('percentages: widths and all margins of the container width, heights of its height', () => {
    expect(run('stream { width: 50%; height: 25%; margin-left: 10%; margin-top: 10% }', plain(1))).toEqual([['s0', 64, 64, 320, 120]]);
    expect(run('stream { width: 50%; height: 25% }', plain(1), { width: 480, height: 640 })).toEqual([['s0', 0, 0, 240, 160]]);
  });

  it('min-/max- width and height clamp, min winning over max', () => {
    expect(run('stream { width: 10%; min-width: 100px; height: 90%; max-height: 300px }', plain(1))).toEqual([['s0', 0, 0, 100, 300]]);
    expect(run('stream { width: 500px; max-width: 200px; min-width: 300px; height: 10px }', plain(1))).toEqual([['s0', 0, 0, 300, 10]]);
    expect(run('stream { max-width: 50%; min-height: 20% }', plain(1))).toEqual([['s0', 0, 0, 320, 96]]);
  });

  it('a stream with no height takes no room and is not shown', () => {
    expect(run('stream { width: 100px }', plain(2))).toEqual([]);
  });

  it('boxes wholly below the canvas are left out; those partly on it are kept', () => {
    expect(run('stream { height: 300px }', plain(3))).toEqual([
      ['s0', 0, 0, 640, 300],
      ['s1', 0, 300, 640, 300],
    ]);
  });
});

describe('custom layouts: floats', () => {
  it('left floats fill a row and wrap', () => {
    expect(run('stream { float: left; width: 300px; height: 100px }', plain(3))).toEqual([
      ['s0', 0, 0, 300, 100],
      ['s1', 300, 0, 300, 100],
      ['s2', 0, 100, 300, 100],
    ]);
  });

  it('right floats stack from the right edge', () => {
    expect(run('stream { float: right; width: 300px; height: 100px }', plain(3))).toEqual([
      ['s0', 340, 0, 300, 100],
      ['s1', 40, 0, 300, 100],
      ['s2', 340, 100, 300, 100],
    ]);
  });

  it('a float that does not fit moves down to the first place it fits, beside a taller float', () => {
    expect(run('stream { float: left; width: 300px; height: 100px } stream:first-child { height: 200px }', plain(3))).toEqual([
      ['s0', 0, 0, 300, 200],
      ['s1', 300, 0, 300, 100],
      ['s2', 300, 100, 300, 100],
    ]);
  });

  it('left and right floats share a row only when both fit; a float is never above an earlier one', () => {
    const list = streams(['a'], ['b'], ['c']);
    // c would fit at the top right, but may not be higher than b (CSS 2.1 §9.5.1 rule 5)
    expect(run('.a { float: left; width: 400px; height: 100px } .b { float: right; width: 300px; height: 50px } .c { float: right; width: 200px; height: 50px }', list)).toEqual([
      ['s0', 0, 0, 400, 100],
      ['s1', 340, 100, 300, 50],
      ['s2', 140, 100, 200, 50],
    ]);
    expect(run('.a { float: left; width: 400px; height: 100px } .b { float: right; width: 200px; height: 50px } .c { float: right; width: 40px; height: 50px }', list)).toEqual([
      ['s0', 0, 0, 400, 100],
      ['s1', 440, 0, 200, 50],
      ['s2', 400, 0, 40, 50],
    ]);
  });

  it('clear moves a float below earlier floats of that side', () => {
    expect(run('stream { float: left; width: 100px; height: 100px } stream:nth-child(3) { clear: left }', plain(4))).toEqual([
      ['s0', 0, 0, 100, 100],
      ['s1', 100, 0, 100, 100],
      ['s2', 0, 100, 100, 100],
      ['s3', 100, 100, 100, 100],
    ]);
    const list = streams(['l'], ['r'], ['x']);
    const css = '.l { float: left; width: 100px; height: 50px } .r { float: right; width: 100px; height: 150px } .x { float: left; width: 100px; height: 10px; clear: right }';
    expect(run(css, list)).toEqual([
      ['s0', 0, 0, 100, 50],
      ['s1', 540, 0, 100, 150],
      ['s2', 0, 150, 100, 10],
    ]);
    // clear on a block: below the floats (blocks paint before floats)
    expect(run('stream { float: left; width: 100px; height: 100px } stream:last-child { float: none; clear: both; height: 20px }', plain(3))).toEqual([
      ['s2', 0, 100, 100, 20],
      ['s0', 0, 0, 100, 100],
      ['s1', 100, 0, 100, 100],
    ]);
  });

  it('float margins count in the float’s box', () => {
    expect(run('stream { float: left; width: 100px; height: 100px; margin: 10px 20px }', plain(2))).toEqual([
      ['s0', 20, 10, 100, 100],
      ['s1', 160, 10, 100, 100],
    ]);
  });

  it('a block ignores floats, but an overflow: hidden block sits beside them', () => {
    const list = streams(['f'], ['b']);
    // in-flow blocks paint before floats
    expect(run('.f { float: left; width: 200px; height: 100px } .b { height: 50px }', list)).toEqual([
      ['s1', 0, 0, 640, 50],
      ['s0', 0, 0, 200, 100],
    ]);
    expect(run('.f { float: left; width: 200px; height: 100px } .b { height: 50px; overflow: hidden }', list)).toEqual([
      ['s1', 200, 0, 440, 50],
      ['s0', 0, 0, 200, 100],
    ]);
    // one too wide for the room beside the float goes below it
    expect(run('.f { float: left; width: 200px; height: 100px } .b { height: 50px; width: 500px; overflow: hidden }', list)).toEqual([
      ['s1', 0, 100, 500, 50],
      ['s0', 0, 0, 200, 100],
    ]);
  });

  it('blocks after floats do not move down (floats are out of flow)', () => {
    const list = streams(['f'], ['f'], ['b']);
    expect(run('.f { float: left; width: 50%; height: 50% } .b { height: 10px; position: relative; z-index: 1 }', list)).toEqual([
      ['s0', 0, 0, 320, 240],
      ['s1', 320, 0, 320, 240],
      ['s2', 0, 0, 640, 10],
    ]);
  });
});

describe('custom layouts: inline-level streams', () => {
  it('inline-block streams fill lines left to right and wrap', () => {
    expect(run('stream { display: inline-block; width: 300px; height: 100px }', plain(3))).toEqual([
      ['s0', 0, 0, 300, 100],
      ['s1', 300, 0, 300, 100],
      ['s2', 0, 100, 300, 100],
    ]);
  });

  it('streams on one line share its baseline (their bottom margin edges)', () => {
    expect(run('stream { display: inline; width: 100px; height: 100px } stream:nth-child(2) { height: 50px; margin-bottom: 10px }', plain(3))).toEqual([
      ['s0', 0, 0, 100, 100],
      ['s1', 100, 40, 100, 50],
      ['s2', 200, 0, 100, 100],
    ]);
  });

  it('lines are shortened by floats', () => {
    const list = streams(['f'], [], []);
    expect(run('.f { float: left; width: 340px; height: 150px } stream { display: inline-block; width: 200px; height: 100px }', list)).toEqual([
      ['s0', 0, 0, 340, 150],
      ['s1', 340, 0, 200, 100],
      ['s2', 340, 100, 200, 100],
    ]);
  });
});

describe('custom layouts: positioning', () => {
  it('absolute boxes are placed against the container by left/top or right/bottom', () => {
    expect(run('stream { position: absolute; left: 10px; top: 20px; width: 100px; height: 50px }', plain(1))).toEqual([['s0', 10, 20, 100, 50]]);
    expect(run('stream { position: absolute; right: 10%; bottom: 10%; width: 20%; height: 20% }', plain(1))).toEqual([['s0', 448, 336, 128, 96]]);
  });

  it('absolute with left and right (top and bottom) and an auto size stretches between them', () => {
    expect(run('stream { position: absolute; left: 10px; right: 30px; top: 0; bottom: 0 }', plain(1))).toEqual([['s0', 10, 0, 600, 480]]);
  });

  it('absolute with auto margins centres between the offsets', () => {
    expect(run('stream { position: absolute; left: 0; right: 0; top: 0; bottom: 0; width: 200px; height: 100px; margin: auto }', plain(1))).toEqual([['s0', 220, 190, 200, 100]]);
  });

  it('absolute boxes without offsets stay at their static position and leave the flow', () => {
    const list = streams([], ['a'], []).map((s, i) => ({ ...s, order: i }));
    // classed s1 ranks first in document order: a, s0, s2
    expect(run('stream { height: 100px } .a { position: absolute; width: 50px; height: 50px }', list)).toEqual([
      ['s0', 0, 0, 640, 100],
      ['s2', 0, 100, 640, 100],
      ['s1', 0, 0, 50, 50],
    ]);
  });

  it('over-constrained: right is ignored when left, width and right are all set', () => {
    expect(run('stream { position: absolute; left: 10px; right: 10px; width: 100px; top: 0; height: 10px }', plain(1))).toEqual([['s0', 10, 0, 100, 10]]);
  });

  it('min/max apply to absolutely positioned boxes', () => {
    expect(run('stream { position: absolute; left: 0; right: 0; top: 0; height: 10px; max-width: 100px }', plain(1))).toEqual([['s0', 0, 0, 100, 10]]);
  });

  it('relative offsets move a box without moving the others, and may take it past the canvas', () => {
    expect(run('stream { height: 100px } stream:first-child { position: relative; top: 10px; left: -20px }', plain(2))).toEqual([
      ['s1', 0, 100, 640, 100],
      ['s0', -20, 10, 640, 100],
    ]);
    expect(run('stream { height: 100px; position: relative; bottom: 10px; right: 10px }', plain(1))).toEqual([['s0', -10, -10, 640, 100]]);
  });
});

describe('custom layouts: paint order and z-index', () => {
  it('positioned boxes paint by z-index, negative first, and report it', () => {
    const list = streams(['a'], ['b'], ['c']);
    const boxes = custom(
      '.a { position: absolute; width: 100%; height: 100%; z-index: 2 } .b { position: absolute; width: 50%; height: 50%; z-index: 1 } .c { position: absolute; width: 10px; height: 10px; z-index: -1 }',
      list,
    );
    expect(boxes.map((b) => [b.streamId, b.zIndex])).toEqual([
      ['s2', -1],
      ['s1', 1],
      ['s0', 2],
    ]);
  });

  it('in-flow blocks, then floats, then inline-level, then positioned boxes in document order', () => {
    const list = streams(['p'], ['i'], ['f'], ['b']);
    const css = '.p { position: relative; height: 10px } .i { display: inline-block; width: 10px; height: 10px } .f { float: left; width: 10px; height: 10px } .b { height: 10px }';
    expect(custom(css, list).map((b) => b.streamId)).toEqual(['s3', 's2', 's1', 's0']);
  });

  it('z-index on a non-positioned box has no effect', () => {
    const boxes = custom('stream { height: 10px; z-index: 5 } stream:first-child { position: relative; z-index: 0 }', plain(2));
    expect(boxes.map((b) => [b.streamId, b.zIndex])).toEqual([
      ['s1', 0],
      ['s0', 0],
    ]);
  });

  it('object-fit: contain by default, cover when asked', () => {
    const boxes = custom('stream { height: 10px } stream:last-child { object-fit: cover }', plain(2));
    expect(boxes.map((b) => b.fit)).toEqual(['contain', 'cover']);
  });
});

describe('custom layouts: selectors and the cascade', () => {
  const heights = (css: string, list: LayoutStream[]): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const b of custom(css, list)) out[b.streamId] = b.height;
    return out;
  };

  it(':first-child, :last-child', () => {
    expect(heights('stream { height: 10px } stream:first-child { height: 20px } stream:last-child { height: 30px }', plain(3))).toEqual({ s0: 20, s1: 10, s2: 30 });
  });

  it(':nth-child with numbers, an+b, odd, even, -n+b', () => {
    expect(heights('stream { height: 1px } stream:nth-child(2) { height: 2px }', plain(3))).toEqual({ s0: 1, s1: 2, s2: 1 });
    expect(heights('stream:nth-child(odd) { height: 1px } stream:nth-child(even) { height: 2px }', plain(4))).toEqual({ s0: 1, s1: 2, s2: 1, s3: 2 });
    expect(heights('stream { height: 1px } stream:nth-child(3n+2) { height: 5px }', plain(6))).toEqual({ s0: 1, s1: 5, s2: 1, s3: 1, s4: 5, s5: 1 });
    expect(heights('stream { height: 1px } stream:nth-child(-n+2) { height: 7px }', plain(4))).toEqual({ s0: 7, s1: 7, s2: 1, s3: 1 });
    expect(heights('stream { height: 1px } stream:nth-child( 2n + 1 ) { height: 3px }', plain(3))).toEqual({ s0: 3, s1: 1, s2: 3 });
  });

  it(':nth-last-child', () => {
    expect(heights('stream { height: 1px } stream:nth-last-child(1) { height: 2px } stream:nth-last-child(3) { height: 3px }', plain(4))).toEqual({ s0: 1, s1: 3, s2: 1, s3: 2 });
  });

  it('+ (next sibling) and ~ (later siblings)', () => {
    const list = streams(['focus'], [], [], []);
    expect(heights('stream { height: 1px } .focus + stream { height: 2px }', list)).toEqual({ s0: 1, s1: 2, s2: 1, s3: 1 });
    expect(heights('stream { height: 1px } .focus ~ stream { height: 2px }', list)).toEqual({ s0: 1, s1: 2, s2: 2, s3: 2 });
    expect(heights('stream { height: 1px } stream + stream + stream { height: 3px }', list)).toEqual({ s0: 1, s1: 1, s2: 3, s3: 3 });
    expect(heights('stream { height: 1px } .focus ~ stream:last-child { height: 4px }', list)).toEqual({ s0: 1, s1: 1, s2: 1, s3: 4 });
  });

  it('long chains of combinators match only where the whole chain fits', () => {
    const chain = (n: number, comb: string): string => Array.from({ length: n }, () => 'stream').join(` ${comb} `);
    const h = heights(`stream { height: 1px } ${chain(16, '~')} { height: 2px } ${chain(15, '+')} + .x { height: 3px }`, plain(16));
    expect(Object.entries(h).filter(([, v]) => v !== 1)).toEqual([['s15', 2]]);
  });

  it('classes, compound with several classes, selector lists', () => {
    const list = streams(['a', 'b'], ['a'], ['b']);
    expect(heights('stream { height: 1px } .a.b { height: 9px }', list)).toEqual({ s0: 9, s1: 1, s2: 1 });
    expect(heights('stream { height: 1px } stream.a, .b { height: 2px }', list)).toEqual({ s0: 2, s1: 2, s2: 2 });
  });

  it('a more specific rule wins over a later one; equal specificity goes by source order; !important over both', () => {
    const list = streams(['big'], []);
    expect(heights('stream.big { height: 200px } stream { height: 100px }', list)).toEqual({ s0: 200, s1: 100 });
    expect(heights('stream { height: 100px } stream { height: 50px }', list)).toEqual({ s0: 50, s1: 50 });
    expect(heights('stream:first-child { height: 30px } .big { height: 40px }', list)).toEqual({ s0: 30 });
    expect(heights(':first-child { height: 30px } .big { height: 40px }', list)).toEqual({ s0: 40 });
    expect(heights('stream { height: 10px !important } stream.big { height: 300px }', list)).toEqual({ s0: 10, s1: 10 });
  });

  it('the most specific selector of a list counts', () => {
    const list = streams(['x'], []);
    expect(heights('stream.x, stream { height: 5px } .x { height: 6px }', list)).toEqual({ s0: 5, s1: 5 });
  });

  it('rules for the container (archive, broadcast, .container) do not move the canvas', () => {
    const list = streams(['container'], []);
    expect(heights('archive { width: 10px; height: 10px } broadcast { margin: 50px } stream { height: 5px } .container { height: 7px }', list)).toEqual({ s0: 7, s1: 5 });
    expect(run('archive { position: relative; margin: 0; overflow: hidden } stream { display: block; margin: 0; height: 10px }', plain(1))).toEqual([['s0', 0, 0, 640, 10]]);
  });

  it('display: none hides a stream and takes no room', () => {
    expect(run('stream { height: 100px } stream:nth-child(2) { display: none }', plain(3))).toEqual([
      ['s0', 0, 0, 640, 100],
      ['s2', 0, 100, 640, 100],
    ]);
  });

  it('comments and upper-case keywords are fine', () => {
    expect(run('/* grid */ STREAM { FLOAT: LEFT; Width: 50%; height: 50% /* half */ }', plain(2))).toEqual([
      ['s0', 0, 0, 320, 240],
      ['s1', 320, 0, 320, 240],
    ]);
  });
});

describe('custom layouts: stylesheets published in OpenTok support articles', () => {
  it('"hear both, see one": the first stream 1×1 px, the last full size (both in flow)', () => {
    const css = 'stream:first-child{ display: block; margin: 0; top: 0; left: 0; width: 1px; height: 1px; }stream:last-child{ display: block; margin: 0; top: 0; left: 0; width: 100%; height: 100%; }';
    expect(run(css, plain(2))).toEqual([
      ['s0', 0, 0, 1, 1],
      ['s1', 0, 1, 640, 480],
    ]);
  });

  it('four actors in a 2×2 grid and a hidden director', () => {
    const css = 'stream.actor { float: left; width: 50%; height: 50%; } stream.director { position: absolute; width: 1px; height: 1px; bottom: 0px; right: 0px; }';
    expect(run(css, streams(['actor'], ['actor'], ['director'], ['actor'], ['actor']))).toEqual([
      ['s0', 0, 0, 320, 240],
      ['s1', 320, 0, 320, 240],
      ['s3', 0, 240, 320, 240],
      ['s4', 320, 240, 320, 240],
      ['s2', 639, 479, 1, 1],
    ]);
  });
});

describe('compileStylesheet refuses what is outside the subset, naming it', () => {
  const refused: [string, string][] = [
    ['stream > x { width: 1px }', "unsupported selector '>' in 'stream > x'"],
    ['archive stream { width: 1px }', "unsupported selector 'descendant combinator' in 'archive stream'"],
    ['* { width: 1px }', "unsupported selector '*' in '*'"],
    ['#s1 { width: 1px }', "unsupported selector '#s1' in '#s1'"],
    ['stream[class] { width: 1px }', "unsupported selector '[class]' in 'stream[class]'"],
    ['stream:hover { width: 1px }', "unsupported selector ':hover' in 'stream:hover'"],
    ['stream:not(.a) { width: 1px }', "unsupported selector ':not' in 'stream:not(.a)'"],
    ['stream::before { width: 1px }', "unsupported selector '::before' in 'stream::before'"],
    ['stream:nth-child(foo) { width: 1px }', "unsupported selector ':nth-child(foo)' in 'stream:nth-child(foo)'"],
    ['div { width: 1px }', "unsupported selector 'div' in 'div'"],
    ['stream { color: red }', "unsupported property 'color'"],
    ['stream { padding: 1px }', "unsupported property 'padding'"],
    ['stream { border: 1px solid red }', "unsupported property 'border'"],
    ['stream { width: 10em }', "unsupported value '10em' for 'width'"],
    ['stream { width: -10px }', "unsupported value '-10px' for 'width'"],
    ['stream { width: 10 }', "unsupported value '10' for 'width'"],
    ['stream { width: calc(1px + 2px) }', "unsupported value 'calc(1px + 2px)' for 'width'"],
    ['stream { position: fixed }', "unsupported value 'fixed' for 'position'"],
    ['stream { display: flex }', "unsupported value 'flex' for 'display'"],
    ['stream { object-fit: fill }', "unsupported value 'fill' for 'object-fit'"],
    ['stream { overflow: scroll }', "unsupported value 'scroll' for 'overflow'"],
    ['stream { z-index: 1.5 }', "unsupported value '1.5' for 'z-index'"],
    ['stream { margin: 1px 2px 3px 4px 5px }', "unsupported value '1px 2px 3px 4px 5px' for 'margin'"],
    ['stream { width: inherit }', "unsupported value 'inherit' for 'width'"],
    ['@media (min-width: 1px) { stream { width: 1px } }', "unsupported at-rule '@media'"],
    ['@import "x.css";', "unsupported at-rule '@import'"],
    ['stream { .a { width: 1px } }', "unsupported nested rule in 'stream'"],
    ['stream { width: 1px', 'invalid stylesheet: Unclosed block at line 1, column 1'],
    ['width: 1px;', "declaration 'width' outside a rule"],
  ];
  it.each(refused)('%s', (css, message) => {
    let error: unknown;
    try {
      compileStylesheet(css);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LayoutError);
    expect((error as LayoutError).code).toBe('ERR_LAYOUT_STYLESHEET');
    expect((error as LayoutError).message).toBe(message);
  });

  it('computeLayout refuses the same way', () => {
    expect(() => custom('stream { color: red }', plain(1))).toThrow("unsupported property 'color'");
  });

  it('accepts every property of the subset', () => {
    const sheet = compileStylesheet(`
      stream.a:first-child + stream:last-child ~ stream:nth-child(2n+1):nth-last-child(odd), stream.b {
        width: 10px; height: 10%; min-width: 0; min-height: 1px; max-width: none; max-height: 50%;
        top: -1px; left: 2%; right: auto; bottom: 0;
        margin: 1px auto; margin-top: 1px; margin-right: 2px; margin-bottom: 3px; margin-left: -4px;
        position: absolute; position: relative; position: static;
        display: inline; display: block; display: inline-block; display: none;
        float: none; float: left; float: right; clear: none; clear: left; clear: right; clear: both;
        z-index: auto; z-index: -3; overflow: hidden; overflow: visible; object-fit: contain; object-fit: cover;
      }`);
    expect(sheet.rules).toHaveLength(1);
  });
});

describe('custom layouts: corner cases, with the boxes Chromium gives', () => {
  const cases: [string, string, string[][], [string, number, number, number, number][]][] = [
    ['an overflow: hidden block does not let margins collapse through it', 'stream { height: 0; margin: 15px 0 128px; overflow: hidden; width: 10px }', [[], [], []], []],
    [
      'an auto width cut by max-width leaves room for an auto margin',
      'stream { height: 10px } stream + stream { max-width: 80%; margin-left: auto }',
      [[], [], []],
      [
        ['s0', 0, 0, 640, 10],
        ['s1', 128, 10, 512, 10],
        ['s2', 128, 20, 512, 10],
      ],
    ],
    [
      'a float after an empty block with negative margins starts where they collapse to',
      '.e { margin: -60px } .f { float: left; width: 100px; height: 100px }',
      [['e'], ['f']],
      [['s1', 0, -60, 100, 100]],
    ],
    [
      'a float that misses the line goes below it and does not move it; the next line goes below the float',
      '.i { display: inline-block; width: 400px; height: 50px } .f { float: left; width: 300px; height: 100px }',
      [['i'], ['f'], ['i']],
      [
        ['s1', 0, 50, 300, 100],
        ['s0', 0, 0, 400, 50],
        ['s2', 0, 150, 400, 50],
      ],
    ],
    [
      'an inline-level absolute box without offsets stays beside the floats',
      '.f { float: left; width: 200px; height: 100px } .p { display: inline-block; position: absolute; width: 10px; height: 10px }',
      [['f'], ['p']],
      [
        ['s0', 0, 0, 200, 100],
        ['s1', 200, 0, 10, 10],
      ],
    ],
    [
      'a block-level absolute box met inside a line starts below the line',
      '.i { display: inline-block; width: 300px; height: 100px } .a { position: absolute; width: 50px; height: 50px }',
      [['i'], ['a'], ['i']],
      [
        ['s0', 0, 0, 300, 100],
        ['s2', 300, 0, 300, 100],
        ['s1', 0, 100, 50, 50],
      ],
    ],
    [
      'clearance sits above the collapsed margins of an empty block',
      '.f { float: right; width: 100px; height: 150px; margin-top: 53px } .c { clear: right; margin-top: 53px } .d { height: 10px; margin-top: 53px }',
      [['f'], ['c'], ['d']],
      [
        ['s2', 0, 203, 640, 10],
        ['s0', 540, 53, 100, 150],
      ],
    ],
    [
      'a float with no width excludes nothing',
      '.z { float: right; width: 0; height: 300px } .g { float: right; width: 640px; height: 10px }',
      [['z'], ['g']],
      [['s1', 0, 0, 640, 10]],
    ],
    [
      'auto margins of an overflow: hidden block share the room beside a float',
      '.f { float: left; width: 200px; height: 100px } .b { overflow: hidden; width: 100px; height: 20px; margin-left: auto } .c { overflow: hidden; width: 100px; height: 20px; margin: 0 auto }',
      [['f'], ['b'], ['c']],
      [
        ['s1', 540, 0, 100, 20],
        ['s2', 370, 20, 100, 20],
        ['s0', 0, 0, 200, 100],
      ],
    ],
  ];
  it.each(cases)('%s', (_, css, classes, expected) => {
    expect(run(css, streams(...classes))).toEqual(expected);
  });
});
