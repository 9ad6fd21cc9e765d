import { DTMF_PATTERN } from '@tokhost/protocol';
import { ClientTokenError, verifyClientToken } from '../../auth/client-token.js';
import { requireNotE2ee, requireSession } from '../../services/sessions.js';
import { HttpError, invalid } from '../errors.js';
import { viaLive } from '../live-errors.js';
import type { Route, RouteContext } from '../router.js';
import { object, optBool, optString, optStringArray, reqString } from '../validate.js';

const NO_SIP = (what: string) =>
  new HttpError('ERR_NOT_IMPLEMENTED', 'SIP interconnect is not available on this server', `${what}: this Tokhost server has no SIP gateway yet (see docs/rest-api.md)`);

/** Validate a dial body (reference §3.6). */
export function parseDial(value: unknown) {
  const body = object(value);
  const sessionId = reqString(body, 'sessionId', { max: 255 });
  const token = reqString(body, 'token', { max: 16_384 });
  const sip = object(body.sip, 'sip');
  reqString(sip, 'uri', { max: 2048, pattern: /^sips?:\S+@\S+$/i, what: 'must be a SIP URI (sip:user@domain)' });
  if (sip.headers !== undefined && sip.headers !== null) {
    const headers = object(sip.headers, 'sip.headers');
    for (const [name, v] of Object.entries(headers)) {
      if (!/^X-[A-Za-z0-9-]{1,128}$/i.test(name)) throw invalid('sip.headers', `custom header ${JSON.stringify(name.slice(0, 64))} must start with X-`);
      if (typeof v !== 'string' || v.length > 1024) throw invalid(`sip.headers.${name}`, 'must be a string of at most 1024 characters');
    }
  }
  if (sip.auth !== undefined && sip.auth !== null) {
    const auth = object(sip.auth, 'sip.auth');
    reqString(auth, 'username', { max: 256 });
    reqString(auth, 'password', { max: 256 });
  }
  for (const flag of ['secure', 'video', 'observeForceMute']) optBool(sip, flag);
  optString(sip, 'from', { max: 256 });
  optStringArray(sip, 'streams', { maxItems: 100, maxLength: 128 });
  return { sessionId, token };
}

function requireConnection(ctx: RouteContext, sessionId: string, connectionId: string): void {
  const connections = viaLive(() => ctx.deps.live.listConnections(sessionId));
  if (!connections.some((c) => c.connectionId === connectionId)) throw new HttpError('ERR_CONNECTION_NOT_FOUND', 'Connection not found', `Connection ${connectionId} is not in the session`);
}

function parseDigits(value: unknown): string {
  const body = object(value);
  const digits = body.digits;
  if (typeof digits !== 'string' || digits.length > 256 || !DTMF_PATTERN.test(digits)) throw new HttpError('ERR_REQUEST_INVALID', 'Invalid DTMF Digits', 'digits must be 1–256 of 0-9, *, # and p');
  return digits;
}

/** SIP routes (reference §3.6, rows 23–25). */
export const sipRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v2/project/:key/dial',
    summary: 'Dial a SIP endpoint into a session',
    success: 200,
    body: { sessionId: 'required', token: 'client token for the SIP participant (required)', sip: '{uri, headers?, auth?, secure?, from?, video?, observeForceMute?, streams?} (required)' },
    async handler(ctx) {
      const dial = parseDial(await ctx.json());
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, dial.sessionId);
      requireNotE2ee(session, 'SIP dial');
      try {
        const verified = verifyClientToken(dial.token, (k) => ctx.deps.store.getProject(k));
        if (verified.apiKey !== ctx.project.apiKey || verified.sessionId !== session.sessionId) throw invalid('token', 'is not a token for this session');
      } catch (err) {
        if (err instanceof ClientTokenError) throw new HttpError('ERR_REQUEST_INVALID', 'Invalid token', err.message, { cause: err });
        throw err;
      }
      if (session.mediaMode !== 'routed') throw new HttpError('ERR_SIP_NOT_ROUTED', 'Only routed sessions can dial SIP endpoints');
      throw NO_SIP('dial');
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/session/:sessionId/play-dtmf',
    summary: 'Play DTMF tones to every SIP participant of a session',
    success: 200,
    body: { digits: '0-9, *, # and p (500 ms pause)' },
    async handler(ctx) {
      parseDigits(await ctx.json());
      requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      throw NO_SIP('play DTMF');
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/session/:sessionId/connection/:connectionId/play-dtmf',
    summary: 'Play DTMF tones to one SIP participant',
    success: 200,
    body: { digits: '0-9, *, # and p' },
    async handler(ctx) {
      parseDigits(await ctx.json());
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      requireConnection(ctx, session.sessionId, ctx.params.connectionId!);
      throw new HttpError('ERR_REQUEST_INVALID', 'Connection is not a SIP call', `Connection ${ctx.params.connectionId} did not join through SIP (this server has no SIP gateway)`);
    },
  },
];
