import type { VerifiedToken } from '@tokhost/protocol';
import { ClientTokenError, verifyAnyClientToken } from '../../auth/client-token.js';
import { AudioConnectorError, type WebsocketOptions } from '../../connector/audio-connector.js';
import { invalid, TokhostError } from '../../errors.js';
import { MIX_RATES, type MixRate } from '../../participant/audio.js';
import type { SessionRecord } from '../../storage/store.js';
import { requireNotE2ee, requireSession } from '../../services/sessions.js';
import type { Route, RouteContext } from '../route-table.js';
import { object, reqString } from '../validate.js';

/** Header names sent in the first message: JSON member names a server can read as headers. */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;

/** Validate a `/connect` body (reference §3.7). Nothing changes before it passes. */
export function parseConnect(value: unknown): { sessionId: string; token: string; websocket: WebsocketOptions } {
  const body = object(value);
  const sessionId = reqString(body, 'sessionId', { max: 255 });
  const token = reqString(body, 'token', { max: 16_384 });
  const ws = object(body.websocket, 'websocket');
  const uri = ws.uri;
  if (typeof uri !== 'string' || uri === '') throw invalid('websocket.uri', 'is required');
  if (uri.length > 2048) throw invalid('websocket.uri', 'must be at most 2048 characters');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalid('websocket.uri', 'must be a ws:// or wss:// URL');
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw invalid('websocket.uri', 'must be a ws:// or wss:// URL');
  if (url.username || url.password) throw invalid('websocket.uri', 'must not carry credentials (send them in websocket.headers)');
  const out: WebsocketOptions = { uri: url.toString(), audioRate: 16000, bidirectional: false };
  if (ws.streams !== undefined && ws.streams !== null) {
    if (!Array.isArray(ws.streams) || ws.streams.length > 50 || ws.streams.some((s) => typeof s !== 'string' || s === '' || s.length > 128)) throw invalid('websocket.streams', 'must be an array of at most 50 stream IDs');
    out.streams = [...new Set(ws.streams as string[])];
  }
  if (ws.headers !== undefined && ws.headers !== null) {
    const headers = object(ws.headers, 'websocket.headers');
    const entries = Object.entries(headers);
    if (entries.length > 50) throw invalid('websocket.headers', 'must have at most 50 members');
    out.headers = {};
    for (const [name, v] of entries) {
      if (!HEADER_NAME.test(name) || name.toLowerCase() === 'content-type') throw invalid('websocket.headers', `name ${JSON.stringify(name.slice(0, 64))} must be a token of at most 128 characters other than content-type`);
      if (typeof v !== 'string' || v.length > 1024) throw invalid(`websocket.headers.${name}`, 'must be a string of at most 1024 characters');
      out.headers[name] = v;
    }
  }
  const rate = ws.audioRate;
  if (rate !== undefined && rate !== null) {
    if (!(MIX_RATES as readonly unknown[]).includes(rate)) throw invalid('websocket.audioRate', `must be one of ${MIX_RATES.join(', ')}`);
    out.audioRate = rate as MixRate;
  }
  const bi = ws.bidirectional;
  if (bi !== undefined && bi !== null) {
    // The Ruby SDK sends booleans as strings.
    if (bi === true || bi === 'true') out.bidirectional = true;
    else if (bi !== false && bi !== 'false') throw invalid('websocket.bidirectional', 'must be a boolean');
  }
  return { sessionId, token, websocket: out };
}

/**
 * The token a server participant joins with (SIP, Audio Connector, captions): valid, of this
 * project and of this session; a bad one is a 400 naming `token`.
 */
export async function verifyParticipantToken(ctx: RouteContext, token: string, session: SessionRecord): Promise<VerifiedToken> {
  try {
    const verified = await verifyAnyClientToken(token, (k) => ctx.deps.store.getProject(k), { clockSkewSeconds: ctx.deps.config.authClockSkewSeconds, lookupApplication: (id) => ctx.deps.store.getApplication(id) });
    if (verified.apiKey !== ctx.project.apiKey || verified.sessionId !== session.sessionId) throw invalid('token', 'is not a token for this session');
    return verified;
  } catch (err) {
    if (err instanceof ClientTokenError) throw new TokhostError('ERR_REQUEST_INVALID', 'Invalid token', { description: err.message, cause: err });
    throw err;
  }
}

/** A field the connector refuses, or a server it cannot reach, answers as validation does (`Invalid websocket.uri: …`). */
function connectorError(err: unknown): never {
  if (err instanceof AudioConnectorError && err.code !== 'ERR_CONNECT_UNAVAILABLE') {
    const field = err.field ?? 'websocket';
    throw invalid(field, err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message.startsWith(`${field} `) ? err.message.slice(field.length + 1) : err.message);
  }
  throw err;
}

/** Audio Connector (reference §3.7, row 26). */
export const connectRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v2/project/:key/connect',
    summary: 'Stream the audio of a session to a WebSocket server (Audio Connector)',
    success: 200,
    body: { sessionId: 'required', token: 'client token for the connector (required)', websocket: '{uri, streams?, headers?, audioRate? (8000|16000|24000, default 16000), bidirectional?} (required)' },
    async handler(ctx) {
      const req = parseConnect(await ctx.json());
      const session = requireSession(ctx.deps.store, ctx.project.apiKey, req.sessionId);
      requireNotE2ee(session, 'Audio Connector');
      const verified = await verifyParticipantToken(ctx, req.token, session);
      if (session.mediaMode !== 'routed') throw new TokhostError('ERR_SESSION_NOT_ROUTED', 'Only routed sessions are allowed to use the Audio Connector', { description: `Session ${session.sessionId} is relayed: the Audio Connector needs the media router` });
      if (!ctx.deps.connector) throw new TokhostError('ERR_NOT_IMPLEMENTED', 'Audio Connector is not available on this server', { description: 'this server runs without the Audio Connector' });
      const json = await ctx.deps.connector.connect(ctx.project.apiKey, verified, req.websocket).catch(connectorError);
      return { status: 200, json };
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/connect/:connectId/stop',
    summary: 'End an Audio Connector connection (what @vonage/video disconnectWebsocket calls)',
    success: 204,
    async handler(ctx) {
      if (!ctx.deps.connector) throw new TokhostError('ERR_NOT_IMPLEMENTED', 'Audio Connector is not available on this server', { description: 'this server runs without the Audio Connector' });
      if (!ctx.deps.connector.stop(ctx.project.apiKey, ctx.params.connectId!)) throw new TokhostError('ERR_CONNECT_NOT_FOUND', 'Audio Connector connection not found', { description: `no live Audio Connector connection ${ctx.params.connectId} in this project` });
      return { status: 204 };
    },
  },
];
