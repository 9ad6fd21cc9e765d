import { requireSession } from '../../services/sessions.js';
import { TokhostError } from '../../errors.js';
import type { Route } from '../route-table.js';

/** The console's stream thumbnails (docs/console.md): one JPEG from the media router's tap of the stream. */
export const thumbnailRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v2/project/:key/session/:sessionId/stream/:streamId/thumbnail',
    summary: 'A JPEG of the stream now (routed sessions; at most 320 px wide; a new picture each second while asked for)',
    success: 200,
    async handler(ctx) {
      const thumbnails = ctx.deps.thumbnails;
      if (!thumbnails) throw new TokhostError('ERR_NOT_IMPLEMENTED', 'Thumbnails not available', { description: 'This server runs without the thumbnail decoder' });
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      try {
        const jpeg = await thumbnails.grab(session.sessionId, ctx.params.streamId!);
        return { status: 200, bytes: jpeg, contentType: 'image/jpeg' };
      } catch (err) {
        if (err instanceof TokhostError && err.code === 'ERR_RATE_LIMITED') ctx.res.setHeader('retry-after', '1');
        throw err;
      }
    },
  },
];
