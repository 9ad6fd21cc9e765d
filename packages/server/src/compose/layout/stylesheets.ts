import { bestFitGrid } from './predefined.js';
import type { ScreenshareLayoutType } from './types.js';

/**
 * Stylesheets in OpenTok's CSS subset that describe the predefined layouts, written after the ones
 * OpenTok publishes in its layout guide. At 4:3 (and for pip and the presentations at any
 * size) they give the same boxes as the native layouts when the `full`/`focus` stream ranks
 * first; the tests hold the engine to that. The native layouts remain the reference: bestFit's
 * grid depends on the number of streams and "the `focus` stream, else the first" has no CSS
 * selector in the subset (there is no `:not`).
 */
export const PREDEFINED_STYLESHEETS: Readonly<Record<Exclude<ScreenshareLayoutType, 'bestFit'>, string>> = Object.freeze({
  pip: [
    'stream { position: absolute; right: 10%; top: 10%; width: 20%; height: 20%; z-index: 1; }',
    'stream.full { right: auto; left: 0; top: 0; width: 100%; height: 100%; z-index: 0; }',
    'stream ~ stream ~ stream { display: none; }',
  ].join('\n'),
  verticalPresentation: [
    'stream { float: left; clear: left; width: 20%; height: 20%; }',
    'stream.focus { position: absolute; top: 0; left: 20%; width: 80%; height: 100%; }',
  ].join('\n'),
  horizontalPresentation: [
    'stream { float: left; width: 20%; height: 20%; position: relative; top: 80%; }',
    'stream.focus { position: absolute; top: 0; left: 0; width: 100%; height: 80%; }',
  ].join('\n'),
});

/** The bestFit grid for `n` streams as a stylesheet of left floats (OpenTok's is dynamic too). */
export function bestFitStylesheet(n: number): string {
  const { cols, rows } = bestFitGrid(n);
  return `stream { float: left; width: ${100 / cols}%; height: ${100 / rows}%; }`;
}
