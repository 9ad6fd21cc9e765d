import { DTMF_PATTERN } from '@tokhost/protocol';
import type { DialSipJson } from '@tokhost/protocol';
import { verifyParticipantToken } from './connect.js';
import { checkConcurrent, limitsFrom } from '../../limits.js';
import { SipGatewayError } from '../../sip/gateway.js';
import { headerValueProblem, quotedStringSafeProblem, sipUriProblem, TOKEN_RE, userAtHostProblem } from '../../sip/grammar.js';
import { requireNotE2ee, requireSession } from '../../services/sessions.js';
import { invalid, TokhostError } from '../../errors.js';
import type { Route, RouteContext } from '../route-table.js';
import { object, optBool, optStringArray, reqString } from '../validate.js';

const NO_SIP = (what: string) =>
  new TokhostError('ERR_NOT_IMPLEMENTED', 'SIP interconnect is not available on this server', { description: `${what}: this Tokhost server has no SIP gateway yet (see docs/rest-api.md)` });

/** A string member of the dial's `sip` object; errors name it by its full path (`sip.auth.username`). */
function sipString(obj: Record<string, unknown>, key: string, field: string, max: number, required: boolean): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw invalid(field, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') throw invalid(field, 'must be a string');
  if (v.length > max) throw invalid(field, `must be at most ${max} characters`);
  return v;
}

/** Validate a dial body (reference §3.6). Nothing changes before it passes. */
export function parseDial(value: unknown): { sessionId: string; token: string; sip: DialSipJson } {
  const body = object(value);
  const sessionId = reqString(body, 'sessionId', { max: 255 });
  const token = reqString(body, 'token', { max: 16_384 });
  const sip = object(body.sip, 'sip');
  // Everything below goes onto the SIP wire: each field is checked against its header's grammar
  // (RFC 3261 §25.1, sip/grammar.ts) so that nothing can add or split a line (docs/security.md, SIP).
  const uri = sipString(sip, 'uri', 'sip.uri', 2048, true)!;
  const uriProblem = sipUriProblem(uri);
  if (uriProblem) throw invalid('sip.uri', uriProblem);
  const out: DialSipJson = { uri };
  if (sip.headers !== undefined && sip.headers !== null) {
    const headers = object(sip.headers, 'sip.headers');
    out.headers = {};
    for (const [name, v] of Object.entries(headers)) {
      if (!/^X-/i.test(name) || name.length > 130 || !TOKEN_RE.test(name)) throw invalid('sip.headers', `custom header ${JSON.stringify(name.slice(0, 64))} must start with X- and be a token (letters, digits, -.!%*_+\`'~; at most 130 characters)`);
      const field = `sip.headers.${name}`;
      if (typeof v !== 'string' || v.length > 1024) throw invalid(field, 'must be a single-line string of at most 1024 characters');
      const problem = headerValueProblem(v);
      if (problem) throw invalid(field, problem);
      out.headers[name] = v;
    }
  }
  if (sip.auth !== undefined && sip.auth !== null) {
    const auth = object(sip.auth, 'sip.auth');
    const username = sipString(auth, 'username', 'sip.auth.username', 256, true)!;
    const password = sipString(auth, 'password', 'sip.auth.password', 256, true)!;
    // The username is sent in a quoted-string of the Authorization header; the password only hashed.
    const userProblem = quotedStringSafeProblem(username);
    if (userProblem) throw invalid('sip.auth.username', userProblem);
    const passwordProblem = headerValueProblem(password);
    if (passwordProblem) throw invalid('sip.auth.password', passwordProblem);
    out.auth = { username, password };
  }
  for (const flag of ['secure', 'video', 'observeForceMute'] as const) {
    const v = optBool(sip, flag);
    if (v !== undefined) out[flag] = v;
  }
  const from = sipString(sip, 'from', 'sip.from', 256, false);
  if (from) {
    const problem = userAtHostProblem(from);
    if (problem) throw invalid('sip.from', `${problem} (from must be user@domain)`);
    out.from = from;
  }
  const streams = optStringArray(sip, 'streams', { maxItems: 100, maxLength: 128 });
  if (streams) out.streams = streams;
  return { sessionId, token, sip: out };
}

/**
 * A dial field the gateway refuses answers as the route's own validation does (`Invalid sip.uri:
 * must …`); the gateway's other errors go to the REST edge's table as they are.
 */
function gatewayError(err: unknown): never {
  if (err instanceof SipGatewayError && err.code === 'ERR_SIP_DIAL_INVALID') throw invalid(err.field ?? 'sip', err.message.replace(new RegExp(`^${(err.field ?? '').replace('.', '\\.')} `), ''));
  throw err;
}

function requireConnection(ctx: RouteContext, sessionId: string, connectionId: string): void {
  const connections = ctx.deps.live.listConnections(sessionId);
  if (!connections.some((c) => c.connectionId === connectionId)) throw new TokhostError('ERR_CONNECTION_NOT_FOUND', 'Connection not found', { description: `Connection ${connectionId} is not in the session` });
}

function parseDigits(value: unknown): string {
  const body = object(value);
  const digits = body.digits;
  if (typeof digits !== 'string' || digits.length > 256 || !DTMF_PATTERN.test(digits)) throw new TokhostError('ERR_REQUEST_INVALID', 'Invalid DTMF Digits', { description: 'digits must be 1–256 of 0-9, *, # and p' });
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
      const verified = await verifyParticipantToken(ctx, dial.token, session);
      if (session.mediaMode !== 'routed') throw new TokhostError('ERR_SIP_NOT_ROUTED', 'Only routed sessions can dial SIP endpoints');
      if (!ctx.deps.sip) throw NO_SIP('dial');
      const limits = limitsFrom(ctx.deps.config as unknown as Record<string, unknown>);
      const overCap = checkConcurrent('SIP calls', ctx.deps.sip.callCounts(ctx.project.apiKey, session.sessionId), { perSession: limits.maxSipCallsPerSession, perProject: limits.maxSipCallsPerProject, sessionSetting: 'maxSipCallsPerSession', projectSetting: 'maxSipCallsPerProject' });
      if (overCap) throw new TokhostError('ERR_LIMIT_EXCEEDED', 'Too many SIP calls', { description: `SIP call limit reached: ${overCap}` });
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
      if (!ctx.deps.sip?.isSipConnection(ctx.params.connectionId!)) throw new TokhostError('ERR_REQUEST_INVALID', 'Connection is not a SIP call', { description: `Connection ${ctx.params.connectionId} did not join through SIP` });
      await ctx.deps.sip.playDtmf(session.sessionId, ctx.params.connectionId!, digits).catch(gatewayError);
      return { status: 200, json: {} };
    },
  },
];
