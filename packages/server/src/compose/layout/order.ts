import type { LayoutStream } from './types.js';

/** OpenTok shows at most this many videos in a composed layout (all audio is still mixed). */
export const MAX_SHOWN_STREAMS = 16;

/**
 * Every stream in OpenTok's priority order, uncapped: streams with layout classes first (screen
 * shares, then cameras of clients that also share a screen, then by arrival), then the unclassed
 * ones by arrival. Ties in `order` keep the input order (the sort is stable).
 */
export function prioritize(streams: readonly LayoutStream[]): LayoutStream[] {
  const sharing = new Set(streams.filter((s) => s.videoType === 'screen').map((s) => s.connectionId));
  const rank = (s: LayoutStream): number => {
    if (s.layoutClassList.length === 0) return 3;
    if (s.videoType === 'screen') return 0;
    return sharing.has(s.connectionId) ? 1 : 2;
  };
  return streams
    .map((s) => ({ s, rank: rank(s) }))
    .sort((a, b) => a.rank - b.rank || a.s.order - b.s.order)
    .map(({ s }) => s);
}

/**
 * OpenTok's ordering (classed streams first: screen shares, then cameras of clients that also
 * share a screen, then arrival; then the unclassed by arrival), capped at 16 shown.
 *
 * @example
 * orderStreams([{ streamId: 'a', order: 1, layoutClassList: [] , …}, { streamId: 'b', order: 2, layoutClassList: ['focus'], …}])
 * // → [b, a]
 */
export function orderStreams(streams: readonly LayoutStream[]): LayoutStream[] {
  return prioritize(streams).slice(0, MAX_SHOWN_STREAMS);
}
