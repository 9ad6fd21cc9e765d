import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SHOWN_STREAMS, orderStreams } from './index.js';
import type { LayoutStream } from './index.js';

const s = (id: string, order: number, extra: Partial<LayoutStream> = {}): LayoutStream => ({
  streamId: id,
  connectionId: `c-${id}`,
  videoType: 'camera',
  layoutClassList: [],
  order,
  ...extra,
});
const ids = (list: readonly LayoutStream[]): string[] => list.map((x) => x.streamId);

describe('orderStreams (OpenTok stream prioritization)', () => {
  it('keeps arrival order when nobody has a class', () => {
    expect(ids(orderStreams([s('c', 3), s('a', 1), s('b', 2)]))).toEqual(['a', 'b', 'c']);
  });

  it('puts classed streams first, each group by arrival', () => {
    const list = [s('a', 1), s('b', 2, { layoutClassList: ['focus'] }), s('c', 3), s('d', 4, { layoutClassList: ['x'] })];
    expect(ids(orderStreams(list))).toEqual(['b', 'd', 'a', 'c']);
  });

  it('among classed streams: screen shares, then cameras of clients that share a screen, then arrival', () => {
    const list = [
      s('cam1', 1, { layoutClassList: ['x'] }),
      s('cam2', 2, { connectionId: 'presenter', layoutClassList: ['x'] }),
      s('screen', 3, { connectionId: 'presenter', videoType: 'screen', layoutClassList: ['focus'] }),
      s('plain', 0),
      s('cam3', 4, { layoutClassList: ['y'] }),
    ];
    expect(ids(orderStreams(list))).toEqual(['screen', 'cam2', 'cam1', 'cam3', 'plain']);
  });

  it('an unclassed screen share stays with the unclassed streams, by arrival', () => {
    const list = [s('a', 1), s('screen', 2, { videoType: 'screen' }), s('b', 3, { layoutClassList: ['focus'] })];
    expect(ids(orderStreams(list))).toEqual(['b', 'a', 'screen']);
  });

  it('caps at 16 shown, dropping the lowest priority', () => {
    const list = Array.from({ length: 20 }, (_, i) => s(`s${i}`, i, i === 19 ? { layoutClassList: ['focus'] } : {}));
    const out = orderStreams(list);
    expect(out).toHaveLength(MAX_SHOWN_STREAMS);
    expect(ids(out)).toEqual(['s19', ...Array.from({ length: 15 }, (_, i) => `s${i}`)]);
  });

  it('does not mutate its input', () => {
    const list = [s('b', 2), s('a', 1)];
    orderStreams(list);
    expect(ids(list)).toEqual(['b', 'a']);
  });

  it('property: a subset of the input, classed before unclassed, each group by arrival, independent of input order', () => {
    const stream = fc.record({
      classed: fc.boolean(),
      screen: fc.boolean(),
      conn: fc.integer({ min: 0, max: 4 }),
    });
    fc.assert(
      fc.property(fc.array(stream, { maxLength: 30 }), fc.integer(), (specs, seed) => {
        const list = specs.map((x, i) =>
          s(`s${i}`, i, { connectionId: `c${x.conn}`, videoType: x.screen ? 'screen' : 'camera', layoutClassList: x.classed ? ['k'] : [] }),
        );
        const shuffled = [...list].sort((a, b) => ((a.order * 7919 + seed) % 31) - ((b.order * 7919 + seed) % 31));
        const out = orderStreams(shuffled);
        expect(ids(out)).toEqual(ids(orderStreams(list)));
        expect(out.length).toBe(Math.min(list.length, 16));
        const firstUnclassed = out.findIndex((x) => x.layoutClassList.length === 0);
        if (firstUnclassed >= 0) expect(out.slice(firstUnclassed).every((x) => x.layoutClassList.length === 0)).toBe(true);
        const unclassed = out.filter((x) => x.layoutClassList.length === 0).map((x) => x.order);
        expect(unclassed).toEqual([...unclassed].sort((a, b) => a - b));
      }),
    );
  });
});
