import { TokhostError, type LayoutErrorCode } from '../../errors.js';

export type { LayoutErrorCode };

/**
 * Every failure of the layout engine. The message names the construct or field, e.g.
 * `unsupported selector '>' in 'stream > x'` or `unsupported property 'color'`.
 */
export class LayoutError extends TokhostError<LayoutErrorCode> {
  override readonly name = 'LayoutError';
}
