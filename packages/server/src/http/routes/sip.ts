import { DTMF_PATTERN } from '@tokhost/protocol';
import type { VerifiedToken } from '@tokhost/protocol';
import { ClientTokenError, verifyClientToken } from '../../auth/client-token.js';
import { SipGatewayError, type DialSipOptions } from '../../sip/gateway.js';
import { requireNotE2ee, requireSession } from '../../services/sessions.js';
import { HttpError, invalid } from '../errors.js';
import { viaLive } from '../live-errors.js';
import type { Route, RouteContext } from '../route-table.js';
import { object, optBool, optString, optStringArray, reqString } from '../validate.js';

const NO_SIP = (what: string) =>
  new HttpError('ERR_NOT_IMPLEMENTED', 'SIP interconnect is not available on this server', `${what}: this Tokhost server has no SIP gateway yet (see docs/rest-api.md)`);

/** Validate a dial body (reference §3.6). Nothing changes before it passes. */
export function parseDial(value: unknown): { sessionId: string; token: string; sip: DialSipOptions } {
  const body = object(value);
  const sessionId = reqString(body, 'sessionId', { max: 255 });
  const token = reqString(body, 'token', { max: 16_384 });
  const sip = object(body.sip, 'sip');
  const uri = reqString(sip, 'uri', { max: 2048, pattern: /^sips?:\S+@\S+$/i, what: 'must be a SIP URI (sip:user@domain or sips:user@domain)' });
  const out: DialSipOptions = { uri };
  if (sip.headers !== undefined && sip.headers !== null) {
    const headers = object(sip.headers, 'sip.headers');
    out.headers = {};
    for (const [name, v] of Object.entries(headers)) {
      if (!/^X-[A-Za-z0-9-]{1,128}$/i.test(name)) throw invalid('sip.headers', `custom header ${JSON.stringify(name.slice(0, 64))} must start with X-`);
      if (typeof v !== 'string' || v.length > 1024 || /[\r\n\0]/.test(v)) throw invalid(`sip.headers.${name}`, 'must be a single-line string of at most 1024 characters');
      out.headers[name] = v;
    }
  }
  if (sip.auth !== undefined && sip.auth !== null) {
    const auth = object(sip.auth, 'sip.auth');
    out.auth = { username: reqString(auth, 'username', { max: 256 }), password: reqString(auth, 'password', { max: 256 }) };
  }
  for (const flag of ['secure', 'video', 'observeForceMute'] as const) {
    const v = optBool(sip, flag);
    if (v !== undefined) out[flag] = v;
  }
  const from = optString(sip, 'from', { max: 256 });
  if (from) out.from = from;
  const streams = optStringArray(sip, 'streams', { maxItems: 100, maxLength: 128 });
  if (streams) out.streams = streams;
  return { sessionId, token, sip: out };
}

function gatewayError(err: unknown): never {
  if (err instanceof SipGatewayError) {
    if (err.kind === 'invalid') throw invalid(err.field ?? 'sip', err.message.replace(new RegExp(`^${(err.field ?? '').replace('.', '\\.')} `), ''));
    if (err.kind === 'unsupported') throw new HttpError('ERR_NOT_IMPLEMENTED', 'Not supported', err.message, { cause: err });
    throw new HttpError('ERR_INTERNAL', 'SIP gateway unavailable', err.message, { cause: err });
  }
  throw err;
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
      let verified: VerifiedToken;
      try {
        verified = verifyClientToken(dial.token, (k) => ctx.deps.store.getProject(k));
        if (verified.apiKey !== ctx.project.apiKey || verified.sessionId !== session.sessionId) throw invalid('token', 'is not a token for this session');
      } catch (err) {
        if (err instanceof ClientTokenError) throw new HttpError('ERR_REQUEST_INVALID', 'Invalid token', err.message, { cause: err });
        throw err;
      }
      if (session.mediaMode !== 'routed') throw new HttpError('ERR_SIP_NOT_ROUTED', 'Only routed sessions can dial SIP endpoints');
      if (!ctx.deps.sip) throw NO_SIP('dial');
      const call = await ctx.deps.sip.dial(ctx.project.apiKey, verified, dial.sip).catch(gatewayError);
      return { status: 200, json: call };
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/session/:sessionId/play-dtmf',
    summary: 'Play DTMF tones to every SIP participant of a session',
    success: 200,
    body: { digits: '0-9, *, # and p (500 ms pause)' },
    async handler(ctx) {
      const digits = parseDigits(await ctx.json());
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      if (!ctx.deps.sip) throw NO_SIP('play DTMF');
      await ctx.deps.sip.playDtmf(session.sessionId, null, digits).catch(gatewayError);
      return { status: 200, json: {} };
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/session/:sessionId/connection/:connectionId/play-dtmf',
    summary: 'Play DTMF tones to one SIP participant',
    success: 200,
    body: { digits: '0-9, *, # and p' },
    async handler(ctx) {
      const digits = parseDigits(await ctx.json());
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, ctx.params.sessionId);
      requireConnection(ctx, session.sessionId, ctx.params.connectionId!);
      if (!ctx.deps.sip?.isSipConnection(ctx.params.connectionId!)) throw new HttpError('ERR_REQUEST_INVALID', 'Connection is not a SIP call', `Connection ${ctx.params.connectionId} did not join through SIP`);
      await ctx.deps.sip.playDtmf(session.sessionId, ctx.params.connectionId!, digits).catch(gatewayError);
      return { status: 200, json: {} };
    },
  },
];
