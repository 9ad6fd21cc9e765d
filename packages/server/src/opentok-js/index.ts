/**
 * The OpenTok.js front end: the official `@opentok/client` (and the native SDKs, which speak the
 * same protocol) joins Tokhost sessions with `OT.setProxyUrl(<server>)`. A second protocol on the
 * one live session state (`realtime/`'s {@link ClientStatePort}), beside Tokhost's own WebSocket
 * protocol: both kinds of client see each other's connections, streams and signals.
 *
 * Parts: `http.ts` discovery routes, `rumor.ts` the binary framing, `raptor.ts` message
 * translation, `socket.ts` one messaging WebSocket. Protocol notes: docs/opentok-js-protocol.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ClientTokenError, verifyClientToken } from '../auth/client-token.js';
import type { ClientStatePort } from '../realtime/index.js';
import type { Store } from '../storage/store.js';
import { createDiscovery, isMessagingPath } from './http.js';
import { RUMOR_MAX_FRAME_BYTES } from './rumor.js';
import { MessagingSockets } from './socket.js';

export interface OpenTokJsOptions {
  clients: ClientStatePort;
  store: Pick<Store, 'getProject'>;
  /** `http(s)://host[:port]` clients reach this server at, for one request (`publicUrl` or the Host). */
  baseUrl(req: IncomingMessage): string;
  /** How far a token's creation may lie in the future, seconds (config `authClockSkewSeconds`). */
  clockSkewSeconds: number;
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
 * const otjs = createOpenTokJs({ clients: realtime.clients, store, baseUrl: (req) => linkBase(req, config), clockSkewSeconds: 30, logger });
 * if (otjs.handleHttp(req, res)) return;
 * httpServer.on('upgrade', (req, socket, head) => otjs.handleUpgrade(req, socket, head) || realtime.handleUpgrade(req, socket, head));
 */
export function createOpenTokJs(options: OpenTokJsOptions): OpenTokJs {
  const { clients, store, logger } = options;
  const discovery = createDiscovery({
    checkToken: (token, sessionId) => {
      const checked = clients.checkToken(token, sessionId);
      if ('code' in checked) return { ok: false, code: checked.code, message: checked.message };
      return { ok: true, apiKey: checked.token.apiKey, sessionId: checked.token.sessionId, p2p: checked.p2p, e2ee: checked.e2ee };
    },
    checkProjectToken: (token, apiKey) => {
      try {
        return verifyClientToken(token, (key) => store.getProject(key), { clockSkewSeconds: options.clockSkewSeconds }).apiKey === apiKey;
      } catch (err) {
        if (err instanceof ClientTokenError) return false;
        throw err;
      }
    },
    iceServersFor: (connectionId) => clients.iceServersFor(connectionId),
    baseUrl: options.baseUrl,
    logger,
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: RUMOR_MAX_FRAME_BYTES, perMessageDeflate: false });
  const sockets = new MessagingSockets({ clients, logger });
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
