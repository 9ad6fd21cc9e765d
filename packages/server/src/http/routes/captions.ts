import { invalid, TokhostError } from '../../errors.js';
import { requireNotE2ee, requireSession } from '../../services/sessions.js';
import type { Route } from '../route-table.js';
import { object, optBool, optString, reqString, requireOutbound } from '../validate.js';
import { verifyParticipantToken } from './connect.js';

/** Validate a captions start body (reference §3.8). Nothing changes before it passes. */
export function parseStartCaptions(value: unknown): { sessionId: string; token: string; languageCode: string; maxDuration: number; partialCaptions: boolean; statusCallbackUrl?: string; callbackHost?: string } {
  const body = object(value);
  const sessionId = reqString(body, 'sessionId', { max: 255 });
  const token = reqString(body, 'token', { max: 16_384 });
  const languageCode = optString(body, 'languageCode', { max: 35, pattern: /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, what: 'must be a language code such as en-US' }) ?? 'en-US';
  let maxDuration = 14_400;
  const md = body.maxDuration;
  if (md !== undefined && md !== null) {
    const n = typeof md === 'string' && /^\d+$/.test(md) ? Number(md) : md;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 300 || n > 14_400) throw invalid('maxDuration', 'must be an integer from 300 to 14400 (seconds)');
    maxDuration = n;
  }
  const partialCaptions = optBool(body, 'partialCaptions') ?? true;
  const cb = optString(body, 'statusCallbackUrl', { max: 2048 });
  let callback: URL | undefined;
  if (cb !== undefined && cb !== '') {
    try {
      callback = new URL(cb);
    } catch {
      throw invalid('statusCallbackUrl', 'must be an http:// or https:// URL');
    }
    if (callback.protocol !== 'http:' && callback.protocol !== 'https:') throw invalid('statusCallbackUrl', 'must be an http:// or https:// URL');
    if (callback.username || callback.password) throw invalid('statusCallbackUrl', 'must not hold credentials');
  }
  return { sessionId, token, languageCode, maxDuration, partialCaptions, ...(cb && callback ? { statusCallbackUrl: cb, callbackHost: callback.hostname.replace(/^\[|\]$/g, '') } : {}) };
}

/** Live captions (reference §3.8, rows 27–28). */
export const captionsRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v2/project/:key/captions',
    summary: 'Start live captions for a session',
    success: 202,
    body: { sessionId: 'required', token: 'client token for the captioner (required)', languageCode: 'default en-US (the installed engine decides which are accepted)', maxDuration: 'seconds, 300–14400, default 14400', partialCaptions: 'default true', statusCallbackUrl: 'http(s) URL that receives the status callbacks (started, stopped, failed)' },
    async handler(ctx) {
      const req = parseStartCaptions(await ctx.json());
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, req.sessionId);
      requireNotE2ee(session, 'Live captions');
      if (req.callbackHost !== undefined) await requireOutbound(ctx.deps.outbound, 'statusCallbackUrl', req.callbackHost);
      const verified = await verifyParticipantToken(ctx, req.token, session);
      if (session.mediaMode !== 'routed') throw new TokhostError('ERR_SESSION_NOT_ROUTED', 'Only routed sessions can have live captions', { description: `Session ${session.sessionId} is relayed: captions need the media router` });
      if (!ctx.deps.captions) throw new TokhostError('ERR_NOT_IMPLEMENTED', 'Live captions are not available on this server', { description: 'this server runs without a caption engine' });
      const json = ctx.deps.captions.start(ctx.project.apiKey, verified, { languageCode: req.languageCode, maxDuration: req.maxDuration, partialCaptions: req.partialCaptions, ...(req.statusCallbackUrl !== undefined ? { statusCallbackUrl: req.statusCallbackUrl } : {}) });
      return { status: 202, json };
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/captions/:captionsId/stop',
    summary: 'Stop live captions',
    success: 202,
    async handler(ctx) {
      if (!ctx.deps.captions?.stop(ctx.project.apiKey, ctx.params.captionsId!)) throw new TokhostError('ERR_NOT_FOUND', 'Not Found', { description: `No live captions ${ctx.params.captionsId} in this project` });
      return { status: 202, json: {} };
    },
  },
];
