/** What went wrong in the layout engine. */
export type LayoutErrorCode =
  /** A custom stylesheet is not CSS, or uses a construct outside OpenTok's subset. */
  | 'ERR_LAYOUT_STYLESHEET'
  /** A layout spec or canvas that cannot be laid out (unknown type, missing stylesheet, bad size). */
  | 'ERR_LAYOUT_INVALID';

/**
 * Every failure of the layout engine. The message names the construct or field, e.g.
 * `unsupported selector '>' in 'stream > x'` or `unsupported property 'color'`.
 */
export class LayoutError extends Error {
  override readonly name = 'LayoutError';
  readonly code: LayoutErrorCode;

  constructor(code: LayoutErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
