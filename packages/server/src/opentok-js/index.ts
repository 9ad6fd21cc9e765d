/**
 * The OpenTok.js front end: the official `@opentok/client` (and the native SDKs, which speak the
 * same protocol) joins Tokhost sessions with `OT.setProxyUrl(<server>)`. A second protocol on the
 * one live session state (`realtime/`'s {@link FrontEnd}), beside Tokhost's own WebSocket
 * protocol: both kinds of client see each other's connections, streams and signals.
 *
 * Parts: `http.ts` discovery routes, `rumor.ts` the binary framing, `raptor.ts` message
 * translation, `socket.ts` one messaging WebSocket. Protocol notes: docs/opentok-js-protocol.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ClientTokenError } from '../auth/client-token.js';
import type { FrontEnd } from '../realtime/index.js';
import { createDiscovery, isMessagingPath } from './http.js';
import { RUMOR_MAX_FRAME_BYTES } from './rumor.js';
import { MessagingSockets } from './socket.js';

export { isMessagingPath, messagingSessionOf } from './http.js';

export interface OpenTokJsOptions {
  /** The live state (`realtime.frontEnd()`). */
  frontEnd: FrontEnd;
  /** `http(s)://host[:port]` clients reach this server at, for one request (`publicUrl` or the Host). */
  baseUrl(req: IncomingMessage): string;
  /** In a cluster: session-info requests for a session another node owns are answered there (see `http.ts`). */
  forward?(req: IncomingMessage, res: ServerResponse, sessionId: string): Promise<boolean>;
  /** In a cluster: a reconnect of a connection this node never had makes the client migrate here (see `socket.ts`). Default false. */
  rotateStaleReconnects?: boolean;
  /** Most bytes queued for one messaging socket before it is cut (config `sendBufferMaxBytes`, default 4 MiB). */
  sendBufferMaxBytes?: number;
  logger: { debug(obj: object, msg?: string): void; info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

/** The OpenTok.js front end as the HTTP server sees it. */
export interface OpenTokJs {
  /** Discovery and logging routes; true when it answered. */
  handleHttp(req: IncomingMessage, res: ServerResponse): boolean;
  /** The messaging WebSocket; false (socket untouched) for other paths. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Number of open messaging sockets. */
  readonly sockets: number;
  close(): Promise<void>;
}

/**
 * Build the front end on the live state.
 *
 * @example
 * const otjs = createOpenTokJs({ frontEnd: realtime.frontEnd(), baseUrl: (req) => linkBase(req, config), logger });
 * if (otjs.handleHttp(req, res)) return;
 * httpServer.on('upgrade', (req, socket, head) => otjs.handleUpgrade(req, socket, head) || realtime.handleUpgrade(req, socket, head));
 */
export function createOpenTokJs(options: OpenTokJsOptions): OpenTokJs {
  const { frontEnd, logger } = options;
  const verify = (token: string) =>
    frontEnd.verifyToken(token).catch((err: unknown) => {
      if (err instanceof ClientTokenError) return err;
      throw err;
    });
  const discovery = createDiscovery({
    checkToken: async (token, sessionId) => {
      const t = await verify(token);
      if (t instanceof ClientTokenError) return { ok: false, code: t.code, message: t.message };
      if (t.sessionId !== sessionId) return { ok: false, code: 'ERR_RT_TOKEN_SESSION', message: 'the token is for another session' };
      const session = frontEnd.session(sessionId);
      if (!session || session.apiKey !== t.apiKey) return { ok: false, code: 'ERR_RT_SESSION_INVALID', message: `session ${sessionId} does not exist` };
      // OpenTok.js refuses a session info whose partner ID is not the key it was given: a Vonage
      // app gives its application ID (OT.initSession(applicationId, …)) with that application's token.
      return { ok: true, apiKey: t.applicationId ?? t.apiKey, sessionId, p2p: !(frontEnd.routing && session.mediaMode === 'routed'), e2ee: session.e2ee };
    },
    checkProjectToken: async (token, apiKey) => {
      const t = await verify(token);
      // An app on application credentials names its application ID where the API key goes.
      return !(t instanceof ClientTokenError) && (t.apiKey === apiKey || (t.applicationId !== undefined && t.applicationId === apiKey.toLowerCase()));
    },
    iceServersFor: (connectionId) => frontEnd.iceServersFor(connectionId),
    baseUrl: options.baseUrl,
    ...(options.forward ? { forward: options.forward } : {}),
    logger,
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: RUMOR_MAX_FRAME_BYTES, perMessageDeflate: false });
  const sockets = new MessagingSockets({ frontEnd, logger, sendBufferMaxBytes: options.sendBufferMaxBytes ?? 4 * 1024 * 1024, rotateStaleReconnects: options.rotateStaleReconnects ?? false });
  wss.on('connection', (ws, req: IncomingMessage) => sockets.accept(ws, req.url ?? '/'));
  return {
    handleHttp: (req, res) => discovery.handle(req, res),
    handleUpgrade(req, socket, head) {
      if (!isMessagingPath(req.url)) return false;
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      return true;
    },
    get sockets() {
      return wss.clients.size;
    },
    async close() {
      sockets.close();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
