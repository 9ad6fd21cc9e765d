/**
 * The HTTP side of OpenTok.js discovery (docs/opentok-js-protocol.md): the config request, the
 * session-info request ("anvil"), and the logging endpoints, answered locally.
 *
 * With `OT.setProxyUrl(<server>)` the client sends every URL as `/<original host><original path>`;
 * with `OTProperties.apiURL = <server>` the session-info request comes without the host segment.
 * Both forms are accepted here. Nothing is forwarded outside Tokhost; in a cluster the
 * session-info request is answered by the session's owner (`forward`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeSessionId } from '@tokhost/protocol';
import type { RtErrorCode, RtIceServer } from '@tokhost/protocol';

/**
 * Path of the messaging WebSocket (after the optional proxy host segment). The session info
 * names `<MESSAGING_PATH>/<sessionId>`, so that in a cluster any node can route the upgrade to
 * the session's owner before the handshake (as `/rtc/v1?session=…` for `@tokhost/client`); the
 * bare path is accepted too.
 */
export const MESSAGING_PATH = '/opentok-js/messaging';
/** Address requests go to and that the client names as its disconnect notifier. */
export const SYMPHONY_ADDRESS = 'symphony.tokhost';
/** Most bytes of a logging request body read (they are discarded). */
export const LOG_BODY_MAX_BYTES = 64 * 1024;

/** What session-info needs to know of a token presented for a session. */
export type TokenCheck =
  | {
      ok: true;
      /** The partner ID the client must have named: the API key, or the application ID of an application's token. */
      apiKey: string;
      sessionId: string;
      p2p: boolean;
      e2ee: boolean;
    }
  | { ok: false; code: RtErrorCode; message: string };

export interface DiscoveryOptions {
  /** Verify `token` (JWT, T1 or an application's RS256 JWT) for `sessionId` with the same rules as every client connect. */
  checkToken(token: string, sessionId: string): Promise<TokenCheck>;
  /** Verify `token` for project `apiKey` (or its application's ID) only (the config request names no session). */
  checkProjectToken(token: string, apiKey: string): Promise<boolean>;
  /** ICE servers for one connection (TURN credentials are per connection). */
  iceServersFor(connectionId: string): RtIceServer[];
  /** `http(s)://host[:port]` clients reach this server at, for this request. */
  baseUrl(req: IncomingMessage): string;
  /**
   * In a cluster: answer a session-info request from the session's owner when that is another
   * node (resolves true once answered there); undefined or false: answered here.
   */
  forward?(req: IncomingMessage, res: ServerResponse, sessionId: string): Promise<boolean>;
  logger: { debug(obj: object, msg?: string): void; info(obj: object, msg?: string): void };
}

/** A session-info error: HTTP 200 with the code the client maps (400/404 → 1005, 403 → 1004). */
const anvilError = (status: 400 | 403 | 404 | 500, message: string) => [{ error: { code: status, errorMessage: { message } } }];

/** The anvil status for a refused token check. */
function anvilStatusOf(code: RtErrorCode): 400 | 403 | 404 {
  return code === 'ERR_RT_SESSION_INVALID' ? 404 : 403;
}

/** Split `/<host>/<path>` (proxy form) or `/<path>`: the host segment is there when it has a dot or a port. */
export function proxiedPath(url: string): { host: string | null; path: string; query: URLSearchParams } {
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const m = /^\/([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d{1,5})?|[A-Za-z0-9.-]+:\d{1,5}|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?)(\/.*)?$/.exec(rawPath);
  if (m) return { host: m[1]!.toLowerCase(), path: m[2] ?? '/', query };
  return { host: null, path: rawPath, query };
}

/** True when an upgrade request is for the OpenTok.js messaging socket. */
export function isMessagingPath(url: string | undefined): boolean {
  const { path } = proxiedPath(url ?? '/');
  return path === MESSAGING_PATH || (path.startsWith(`${MESSAGING_PATH}/`) && !path.slice(MESSAGING_PATH.length + 1).includes('/'));
}

/** The session a messaging socket's URL names (`…/opentok-js/messaging/<sessionId>`), or null. */
export function messagingSessionOf(url: string | undefined): string | null {
  const { path } = proxiedPath(url ?? '/');
  if (!path.startsWith(`${MESSAGING_PATH}/`)) return null;
  try {
    const id = decodeURIComponent(path.slice(MESSAGING_PATH.length + 1));
    return id.length > 0 && !id.includes('/') ? id : null;
  } catch {
    return null;
  }
}

/**
 * The discovery routes. `handle` answers and returns true for the paths it owns, false for the rest.
 *
 * @example
 * const discovery = createDiscovery({ checkToken, checkProjectToken, iceServersFor, baseUrl, logger });
 * if (discovery.handle(req, res)) return;
 */
export function createDiscovery(options: DiscoveryOptions): { handle(req: IncomingMessage, res: ServerResponse): boolean } {
  const { logger } = options;
  /** The session-info answer (the session ID is well-formed). */
  const info = (req: IncomingMessage, res: ServerResponse, sessionId: string, json: (status: number, body: unknown) => void): void => {
    const token = header(req, 'x-opentok-auth');
    if (token === null) return json(200, anvilError(403, 'X-OPENTOK-AUTH header is missing'));
    const answer = (checked: TokenCheck) => {
      if (!checked.ok) {
        logger.info({ sessionId, code: checked.code, reason: checked.message }, 'opentok-js: session info refused');
        return json(200, anvilError(anvilStatusOf(checked.code), checked.message));
      }
      const connectionId = header(req, 'x-tb-connectionid') ?? '';
      const base = options.baseUrl(req);
      const wsBase = base.replace(/^http/, 'ws');
      const hostName = new URL(base).host;
      json(200, [
        {
          session_id: checked.sessionId,
          partner_id: checked.apiKey,
          messaging_url: `${wsBase}${MESSAGING_PATH}/${encodeURIComponent(checked.sessionId)}`,
          messaging_server_url: hostName,
          media_server_hostname: hostName,
          symphony_address: SYMPHONY_ADDRESS,
          ice_servers: options.iceServersFor(connectionId).map(iceServerJson),
          properties: {
            p2p: { preference: { value: checked.p2p ? 'enabled' : 'disabled' } },
            // Tokhost keeps a dropped connection for its grace period: the client may resume it.
            reconnection: true,
            renegotiation: false,
            simulcast: false,
            e2ee: checked.e2ee,
          },
        },
      ]);
    };
    // The check is asynchronous (an application's RS256 token); a store failure refuses this client only.
    options.checkToken(token, sessionId).then(answer).catch((err: unknown) => {
      logger.info({ sessionId, err: (err as Error).message }, 'opentok-js: session info failed');
      if (!res.headersSent) json(200, anvilError(500, 'the server could not check the token'));
    });
  };
  return {
    handle(req, res) {
      const { host, path } = proxiedPath(req.url ?? '/');
      const config = /^\/project\/([^/]+)\/config\.json$/.exec(path);
      const session = /^\/session\/([^/]+)$/.exec(path);
      const logging = /\/logging\/Client(?:Event|Qos)$/.test(path);
      // Without the proxy host segment only the apiURL form (`/session/<id>`) and logging are ours.
      if (!(config && host) && !session && !logging) return false;
      const cors = corsHeaders(req);
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { ...cors, 'Access-Control-Allow-Methods': 'GET, POST, OPTIONS', 'Access-Control-Max-Age': '600' }).end();
        return true;
      }
      const json = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { ...cors, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' }).end(text);
      };
      if (logging) {
        if (req.method !== 'POST') return json(405, { code: 405, message: 'logging endpoints take POST' }), true;
        readBounded(req, LOG_BODY_MAX_BYTES, (ok) => (ok ? json(200, {}) : json(413, { code: 413, message: `logging body is larger than ${LOG_BODY_MAX_BYTES} bytes` })));
        return true;
      }
      if (req.method !== 'GET') return json(405, { code: 405, message: 'only GET is answered here' }), true;
      if (config) {
        // The client falls back to its built-in config when this fails; `{}` keeps it (and so
        // keeps every later URL going through the proxy).
        const token = header(req, 'x-tb-token-auth');
        const refused = () => json(403, { code: 403, message: 'X-TB-TOKEN-AUTH is missing or not a valid token of this project' });
        if (token === null) return refused(), true;
        let apiKey: string;
        try {
          apiKey = decodeURIComponent(config[1]!);
        } catch {
          return refused(), true;
        }
        options.checkProjectToken(token, apiKey).then(
          (ok) => (ok ? json(200, {}) : refused()),
          (err: unknown) => {
            logger.info({ err: (err as Error).message }, 'opentok-js: config token check failed');
            if (!res.headersSent) json(500, { code: 500, message: 'the server could not check the token' });
          },
        );
        return true;
      }
      let sessionId: string;
      try {
        sessionId = decodeURIComponent(session![1]!);
      } catch {
        sessionId = '';
      }
      if (decodeSessionId(sessionId) === null) return json(200, anvilError(400, 'the session ID in the path is not a valid session ID')), true;
      if (options.forward) {
        options.forward(req, res, sessionId).then(
          (forwarded) => forwarded || info(req, res, sessionId, json),
          (err: Error) => {
            logger.info({ sessionId, err: err.message }, 'opentok-js: session info from the owner failed');
            if (!res.headersSent) json(200, anvilError(500, 'the node serving this session could not be reached'));
          },
        );
        return true;
      }
      info(req, res, sessionId, json);
      return true;
    },
  };
}

/** CORS for any origin (the app's origin is not this server's), preflights included. */
function corsHeaders(req: IncomingMessage): Record<string, string> {
  const requested = header(req, 'access-control-request-headers');
  return {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Headers': requested && /^[A-Za-z0-9-, ]{1,1000}$/.test(requested) ? requested : 'Content-Type, X-OPENTOK-AUTH, X-TB-TOKEN-AUTH, X-TB-VERSION, X-TB-CLIENT-VERSION, X-TB-CONNECTIONID',
    'Cross-Origin-Resource-Policy': 'cross-origin',
  };
}

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/** Read and discard a body of at most `max` bytes; `done(false)` when it is larger. */
function readBounded(req: IncomingMessage, max: number, done: (ok: boolean) => void): void {
  let size = 0;
  let over = false;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > max && !over) {
      over = true;
      done(false);
      req.resume();
    }
  });
  req.on('end', () => {
    if (!over) done(true);
  });
  req.on('error', () => undefined);
}

/** One ICE server as the client reads it: `urls` and the older single `url`. */
function iceServerJson(s: RtIceServer): Record<string, unknown> {
  const urls = Array.isArray(s.urls) ? s.urls : [s.urls];
  return { url: urls[0], urls, ...(s.username !== undefined ? { username: s.username } : {}), ...(s.credential !== undefined ? { credential: s.credential } : {}) };
}
