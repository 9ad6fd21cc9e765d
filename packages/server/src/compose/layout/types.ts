/** The layout types OpenTok accepts (`focus` and `full` are stream *classes*, not types). */
export type LayoutType = 'bestFit' | 'pip' | 'verticalPresentation' | 'horizontalPresentation' | 'custom';

/** The layout types allowed as `screenshareType` (every type but `custom`). */
export type ScreenshareLayoutType = Exclude<LayoutType, 'custom'>;

/** A layout as the REST API carries it: `stylesheet` only with `custom`, `screenshareType` only with `bestFit`. */
export interface LayoutSpec {
  type: LayoutType;
  stylesheet?: string;
  screenshareType?: 'bestFit' | 'pip' | 'verticalPresentation' | 'horizontalPresentation';
}

/** One stream of the session as the layout sees it. */
export interface LayoutStream {
  streamId: string;
  connectionId: string;
  videoType: 'camera' | 'screen' | 'custom';
  layoutClassList: readonly string[];
  /** arrival order (smaller = earlier) */
  order: number;
}

/** The output frame in pixels. */
export interface Canvas {
  width: number;
  height: number;
}

/** Integer pixel rectangle of one shown stream; returned in paint order (lowest z first). */
export interface Box {
  streamId: string;
  x: number;
  y: number;
  width: number;
  height: number;
  /** The CSS `z-index` the box paints with (0 for non-positioned boxes and `auto`). */
  zIndex: number;
  /** How the video fills the box: `contain` letterboxes (the default), `cover` crops. */
  fit: 'contain' | 'cover';
}

/** A box before its edges are rounded to whole pixels: the fields of {@link Box}, in fractions. */
export type FracBox = Box;
