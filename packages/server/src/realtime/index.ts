import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { REALTIME_PATH, REALTIME_PROTOCOL_VERSION, RT_CLOSE, rtError } from '@tokhost/protocol';
import type { ClientRequest, ConnectRequest, RtError, RtIceServer, VerifiedToken } from '@tokhost/protocol';
import { isRs256Jwt } from '../auth/application-jwt.js';
import { ClientTokenError, verifyAnyClientToken, verifyClientToken } from '../auth/client-token.js';
import { createDemo } from '../demo/index.js';
import type { ServerConfig } from '../config.js';
import { ConnectionTally, overSendBuffer } from '../limits.js';
import type { LimitsConfig } from '../limits.js';
import { RoutedSessionMedia } from '../media/routed-session.js';
import type { MediaRouter } from '../media/types.js';
import type { LiveSessions } from '../live/index.js';
import type { SessionRecord, Store } from '../storage/store.js';
import type { OutboundPolicy } from '../net/outbound.js';
import type { WebhookSender } from '../webhooks/index.js';
import { projectCallback } from '../webhooks/project.js';
import { iceServersFor } from './ice.js';
import { NativeFrontEnd } from './native.js';
import { Rooms } from './state/session-state.js';
export type { Connection, Delivery, ForeignJoin, JoinOptions, JoinSnapshot } from './state/session-state.js';
import { createServerParticipants, type ServerParticipants } from './server-participants.js';
import type { ClientSocket, Connection, Delivery, ForeignJoin, JoinOptions } from './state/session-state.js';

/** The settings the realtime layer reads: a slice of the validated server config (defaults there). */
export type RealtimeConfig = Pick<
  ServerConfig,
  'host' | 'publicUrl' | 'iceServers' | 'turnSecret' | 'turnTtlSeconds' | 'demo' | 'demoMaxRooms' | 'authClockSkewSeconds' | 'reconnectGraceMs' | 'pingIntervalMs' | keyof LimitsConfig
>;

/** What the composition root (`createServer`) hands the realtime layer; the caller closes what it passes. */
export interface RealtimeDeps {
  store: Store;
  /**
   * Media router of routed sessions: a router, or a function that starts one on first use (what
   * `createServer` passes). `null` turns routing off: routed sessions are then negotiated peer to peer.
   */
  media: MediaRouter | (() => Promise<MediaRouter>) | null;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void; debug(obj: object, msg?: string): void };
  config: RealtimeConfig;
  /** Sender of the session-monitoring callbacks (the server's, draining the store's outbox). */
  webhooks: WebhookSender;
  /** Which ICE candidates clients may name: the server's allow-list plus `iceAllow` (docs/security.md, Outbound targets). */
  icePolicy: OutboundPolicy;
  /** Called when a client joined a session here (cluster mode records where connections live). */
  onJoin?(sessionId: string, connectionId: string): void;
}

/**
 * What another client protocol's front end (beside the native WebSocket one) drives the live
 * state with: its connections join with a {@link Delivery} and see, and are seen by, native ones.
 */
export interface FrontEnd {
  /**
   * The live state: `handle(conn, request)` (answers come back as `response` messages),
   * `suspend` / `reattach` for a transport drop, `find`, `destroyConnection`, `snapshot`.
   */
  readonly rooms: Rooms;
  /**
   * Check a client token (HS256 JWT, T1, or an application's RS256 JWT) with the options of the
   * native connect; rejects with `ClientTokenError`. Asynchronous because the RSA check is.
   */
  verifyToken(token: string): Promise<VerifiedToken>;
  /** The session's stored record (cached once found), or undefined when there is none. */
  session(sessionId: string): SessionRecord | undefined;
  /**
   * Join `token`'s session (token verified by the caller) with the admission a native connect
   * has: the session must exist in the token's project (`ERR_RT_SESSION_INVALID`), an e2ee
   * session needs `options.e2ee` (`ERR_RT_ENCRYPTION_SECRET`), the connection limits count
   * `rawToken` (`ERR_RT_CONNECTION_LIMIT`); cluster mode records the connection.
   */
  join(token: VerifiedToken, rawToken: string, delivery: Delivery, options?: JoinOptions): ForeignJoin | RtError;
  /** ICE servers for a connection (TURN credentials per connection), before or after it joins. */
  iceServersFor(connectionId: string): RtIceServer[];
  /** Routed sessions go through the media router (a media router was given); otherwise every session is peer to peer. */
  readonly routing: boolean;
}

/** The realtime layer as the server sees it. */
export interface Realtime {
  /** Live state for the REST routes. */
  readonly live: LiveSessions;
  /** The live state for a second client protocol's front end. */
  frontEnd(): FrontEnd;
  /** Connections the server holds itself (SIP calls), without a WebSocket. */
  readonly participants: ServerParticipants;
  /** A live caption of a stream to its subscribers that asked for captions; returns how many got it. */
  deliverCaption(sessionId: string, streamId: string, caption: string, isFinal: boolean): number;
  /** WebSocket upgrade for the client protocol; destroys sockets it does not own. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Live counters for `/metrics`: sessions, connections, streams and subscribers per session. */
  metrics(): RealtimeMetrics;
  /** ICE candidates of clients the outbound policy refused since start. */
  refusedCandidates(): number;
  /**
   * Send a callback (archive, broadcast, SIP …) to the project's webhook URL, signed with its
   * secret, through the same ordered, retried queue as the session-monitoring callbacks.
   */
  webhook(apiKey: string, event: object): void;
  /** Non-REST HTTP paths (browser SDK, demo page). Returns true when it answered. */
  handleHttp(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * Take a WebSocket accepted elsewhere (the cluster router, which read the first frame to find
   * the session's owner) as if it had come through {@link handleUpgrade}; `frames` are the frames
   * it already read, handled first, in order.
   */
  adoptSocket(ws: WebSocket, frames: readonly Buffer[]): void;
  /** Close every client socket with `code` (a drain: 1012 makes clients reconnect elsewhere). */
  closeClients(code: number, reason: string): void;
  close(): Promise<void>;
}

/** What {@link Realtime.metrics} returns. */
export interface RealtimeMetrics {
  connections: number;
  /** Requests and sockets refused or cut by a limit since start (docs/security.md, Limits). */
  limits: { connectionLimit: number; signalRate: number; subscriptions: number; slowConsumerCuts: number };
  sessions: { sessionId: string; mediaMode: 'relayed' | 'routed'; connections: number; streams: number; subscribers: number }[];
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The realtime layer: the client WebSocket protocol (see `@tokhost/protocol` realtime.ts and
 * docs/realtime.md), live session state for REST, session-monitoring webhooks, and the HTTP
 * assets for browsers (`/js/tokhost.js` global build, `/js/tokhost.esm.js`, the demo at `/demo`).
 *
 * @example
 * const rt = createRealtime({ store, logger, config, media: null, webhooks, icePolicy });
 * server.on('upgrade', rt.handleUpgrade);
 * server.on('request', (req, res) => rt.handleHttp(req, res) || restHandler(req, res));
 */
export function createRealtime(deps: RealtimeDeps): Realtime {
  const { store, logger, config, webhooks, icePolicy } = deps;
  const media = deps.media;
  const sendWebhook = projectCallback(store, webhooks, logger);
  const limits: LimitsConfig = config;
  const tally = new ConnectionTally();
  // Which counts a connection takes part in (a SIP call's connection is not a WebSocket: none).
  const counted = new WeakMap<Connection, { apiKey: string; tokenKey: string }>();
  const refusedConnects = { count: 0 };
  let slowConsumerCuts = 0;
  const rooms = new Rooms({
    limits,
    onConnectionEnd: (conn) => {
      const k = counted.get(conn);
      if (!k) return;
      counted.delete(conn);
      tally.remove(k.apiKey, k.tokenKey);
    },
    ...(media !== null ? { openRoutedMedia: async (sessionId: string) => RoutedSessionMedia.open(typeof media === 'function' ? await media() : media, sessionId) } : {}),
    iceServersFor: (connectionId) => iceServersFor(config, connectionId),
    reconnectGraceMs: config.reconnectGraceMs,
    replayBufferMax: 10_000,
    // Per session: a dropped client's missed messages, kept for its resume. 8 MiB is a thousand full
    // 8 kB signals; past it a resume fails and the client joins afresh. Bounded low because a tenant
    // chooses how many sessions it fills (docs/security.md, Limits).
    replayBufferMaxBytes: 8 * 1024 * 1024,
    logger,
    onEvent: sendWebhook,
    refuseCandidate: (address) => icePolicy.checkAddress(address),
  });
  const native = new NativeFrontEnd(rooms);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024, perMessageDeflate: false });
  const pingIntervalMs = config.pingIntervalMs;
  const alive = new WeakMap<WebSocket, boolean>();
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, pingIntervalMs);
  pinger.unref();

  // The demo hands out tokens: only when the operator asks for it (docs/security.md).
  const demo =
    config.demo
      ? createDemo({
          store,
          logger,
          listenHost: config.host,
          publicUrl: config.publicUrl,
          maxRooms: config.demoMaxRooms,
        })
      : null;
  if (demo) logger.info({ path: '/demo' }, 'demo page on: open /demo in two browser tabs to video-chat');
  const assets = createAssets(logger);

  const refuse = (ws: WebSocket, error: RtError, closeCode: number) => {
    if (ws.readyState === ws.OPEN) {
      ws.send(JSON.stringify({ type: 'error', error }));
      ws.close(closeCode, error.code);
    }
  };

  const onSocket = (ws: WebSocket, req?: IncomingMessage) => {
    alive.set(ws, true);
    // The session the socket's URL names (the cluster routes on it): the join must be for that one.
    const named = req ? namedSession(req.url) : null;
    ws.on('pong', () => alive.set(ws, true));
    const rawSocket = () => (ws as unknown as { _socket?: Duplex })._socket;
    // Back-pressure, checked after every write to this client (the only place frames go out): a
    // client that stops reading makes the server queue what it is sent; past `sendBufferMaxBytes`
    // the socket is cut so memory stays bounded. The connection stays for the grace period.
    let cut = false;
    // The join snapshot or a resume's replay is written at once and may be large: what of it is
    // still queued after the connect does not count until the socket first drains.
    let allowance = 0;
    rawSocket()?.on('drain', () => (allowance = 0));
    const queuedBytes = () => Math.max(ws.bufferedAmount, rawSocket()?.writableLength ?? 0);
    const checkBackPressure = () => {
      if (cut) return;
      const queued = queuedBytes() - allowance;
      if (!overSendBuffer(limits, queued)) return;
      cut = true;
      slowConsumerCuts++;
      logger.warn({ queuedBytes: queued, sendBufferMaxBytes: limits.sendBufferMaxBytes, sessionId: conn?.room.sessionId, connectionId: conn?.id }, 'realtime: client stopped reading; socket cut (sendBufferMaxBytes)');
      ws.close(RT_CLOSE.slowConsumer, `send buffer over ${limits.sendBufferMaxBytes} bytes`);
      // The close frame sits behind what the client does not read: free the socket soon anyway.
      setTimeout(() => ws.terminate(), 1000).unref();
    };
    const socket: ClientSocket = {
      send: (data) => {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(data, { binary: false });
        checkBackPressure();
      },
      // A broadcast frame is built once and written to each TCP socket as is: per socket this
      // skips ws's framing (safe: no per-message deflate, so ws never holds frames back).
      sendFrame: (frame) => {
        const raw = rawSocket();
        if (ws.readyState !== ws.OPEN || !raw || raw.destroyed) return;
        if (!Array.isArray(frame)) raw.write(frame);
        else {
          raw.cork();
          for (const piece of frame) raw.write(piece);
          raw.uncork();
        }
        checkBackPressure();
      },
      close: (code, reason) => ws.close(code, reason.slice(0, 120)),
      get isOpen() {
        return ws.readyState === ws.OPEN;
      },
    };
    let conn: Connection | null = null;
    const timer = setTimeout(() => refuse(ws, rtError('ERR_RT_PROTOCOL', 'no connect message received'), RT_CLOSE.protocolError), CONNECT_TIMEOUT_MS);
    ws.on('error', (err) => logger.debug({ err: err.message }, 'realtime socket error'));
    ws.on('close', () => {
      clearTimeout(timer);
      if (conn) native.socketLost(conn, socket);
    });
    // Frames that arrive while an application token is being verified (replayed after the join).
    let verifying: Record<string, unknown>[] | null = null;
    ws.on('message', (raw, isBinary) => {
      let msg: Record<string, unknown>;
      try {
        if (isBinary) throw new Error('binary');
        msg = JSON.parse(raw.toString()) as Record<string, unknown>;
        if (!msg || typeof msg !== 'object' || typeof msg['type'] !== 'string') throw new Error('not an object');
      } catch {
        refuse(ws, rtError('ERR_RT_PROTOCOL', 'every frame must be a JSON object with a "type"'), RT_CLOSE.protocolError);
        return;
      }
      // While an application token is verified (asynchronously), later frames wait their turn.
      if (verifying) {
        verifying.push(msg);
        return;
      }
      if (conn) {
        if (msg['type'] === 'ack') {
          if (typeof msg['seq'] === 'number') conn.ack(msg['seq']);
          return;
        }
        if (msg['type'] === 'connect') return;
        rooms.handle(conn, msg as unknown as ClientRequest);
        return;
      }
      if (msg['type'] !== 'connect') {
        refuse(ws, rtError('ERR_RT_PROTOCOL', 'the first message must be "connect"'), RT_CLOSE.protocolError);
        return;
      }
      clearTimeout(timer);
      if (named !== null && named !== msg['sessionId']) {
        refuse(ws, rtError('ERR_RT_SESSION_INVALID', 'the connect message names another session than the socket URL (?session=)'), RT_CLOSE.authFailed);
        return;
      }
      const request = msg as unknown as ConnectRequest;
      if (typeof request.token === 'string' && isRs256Jwt(request.token)) {
        // An application's RS256 token (docs/applications.md): jose checks it asynchronously.
        const held: Record<string, unknown>[] = [];
        verifying = held;
        verifyAnyClientToken(request.token, (key) => store.getProject(key), tokenOptions).then(
          (token) => finishConnect(request, token),
          (err: unknown) => finishConnect(request, err),
        ).finally(() => {
          verifying = null;
          if (ws.readyState !== ws.OPEN) return;
          for (const m of held) ws.emit('message', Buffer.from(JSON.stringify(m)), false);
        });
        return;
      }
      finishConnect(request, undefined);
    });
    /** Join with the token checked already (an application's, or its failure) or checked here. */
    const finishConnect = (request: ConnectRequest, checked: VerifiedToken | unknown) => {
      if (ws.readyState !== ws.OPEN) return;
      let result: Connection | RtError;
      allowance = Infinity;
      try {
        if (checked instanceof Error) throw checked;
        result = connect(request, socket, checked as VerifiedToken | undefined);
      } catch (err) {
        if (err instanceof ClientTokenError) result = rtError(err.code, err.message);
        else {
          // A store failure must not take the process down with it: refuse this client only.
          logger.error({ err: (err as Error).message }, 'realtime connect failed');
          result = rtError('ERR_RT_INTERNAL', 'the server could not check the token');
        }
      } finally {
        allowance = queuedBytes();
      }
      if ('code' in result) {
        logger.info({ code: result.code, reason: result.message }, 'realtime connect refused');
        refuse(ws, result, closeCodeOf(result));
        return;
      }
      conn = result;
      deps.onJoin?.(result.room.sessionId, result.id);
    };
  };

  // Session records never change once created: known ones are kept (bounded) so a join wave
  // does not query the store per connect. Unknown IDs are not cached (the CLI may create them).
  const knownSessions = new Map<string, SessionRecord>();
  const sessionRecord = (sessionId: string): SessionRecord | undefined => {
    const hit = knownSessions.get(sessionId);
    if (hit) return hit;
    const found = store.getSession(sessionId);
    if (found) {
      if (knownSessions.size >= 10_000) knownSessions.delete(knownSessions.keys().next().value!);
      knownSessions.set(sessionId, found);
    }
    return found;
  };

  const tokenOptions = { clockSkewSeconds: config.authClockSkewSeconds, lookupApplication: (id: string) => store.getApplication(id) };
  /** `preverified`: an application's RS256 token, checked asynchronously by the caller. */
  const connect = (req: ConnectRequest, socket: ClientSocket, preverified?: VerifiedToken): Connection | RtError => {
    if (req.version !== REALTIME_PROTOCOL_VERSION) return rtError('ERR_RT_VERSION', `protocol version ${String(req.version)} is not supported (server speaks ${REALTIME_PROTOCOL_VERSION})`);
    if (typeof req.sessionId !== 'string' || req.sessionId === '') return rtError('ERR_RT_SESSION_INVALID', 'sessionId is missing');
    let token: VerifiedToken;
    try {
      token = preverified ?? verifyClientToken(req.token, (key) => store.getProject(key), tokenOptions);
    } catch (err) {
      if (err instanceof ClientTokenError) return rtError(err.code, err.message);
      throw err;
    }
    // The client may name the project by its API key or, with an application's token, by the application ID.
    const named = req.apiKey === undefined ? undefined : String(req.apiKey);
    if (named !== undefined && named !== token.apiKey && named.toLowerCase() !== token.applicationId) {
      return rtError('ERR_RT_TOKEN_PROJECT', `the token is for API key ${token.apiKey}, not ${named}`);
    }
    if (token.sessionId !== req.sessionId) return rtError('ERR_RT_TOKEN_SESSION', 'the token is for another session');
    const session = sessionRecord(req.sessionId);
    if (!session || session.apiKey !== token.apiKey) return rtError('ERR_RT_SESSION_INVALID', `session ${req.sessionId} does not exist`);
    if (session.e2ee && req.encryption !== true) return rtError('ERR_RT_ENCRYPTION_SECRET', 'the session is end-to-end encrypted: connect with an encryptionSecret of 8 to 256 characters');
    if (req.resume) {
      const r = req.resume;
      const resumed = native.resume(req.sessionId, String(r.connectionId), String(r.resumeKey), Number(r.lastSeq), socket, req.batch === true);
      if ('code' in resumed) return resumed;
      socket.send(JSON.stringify({ type: 'sessionResumed', seq: 0, connectionId: resumed.conn.id, iceServers: iceServersFor(config, resumed.conn.id) }));
      for (const text of resumed.replay) socket.send(text);
      return resumed.conn;
    }
    // Only new connections count against the limits: a resume reuses its connection.
    return admit(token, String(req.token), () => native.join(token, session.mediaMode, socket, { batch: req.batch === true, connectionEventsSuppressed: req.connectionEventsSuppressed === true, e2ee: session.e2ee }));
  };

  /** A new connection of any front end, within the connection limits (`join` makes it). */
  const admit = <T extends Connection | ForeignJoin>(token: VerifiedToken, rawToken: string, join: () => T): T | RtError => {
    const tokenKey = createHash('sha256').update(rawToken).digest('base64url');
    const refused = tally.check(limits, token.apiKey, tokenKey);
    if (refused) {
      refusedConnects.count++;
      return rtError('ERR_RT_CONNECTION_LIMIT', refused);
    }
    const joined = join();
    tally.add(token.apiKey, tokenKey);
    counted.set('conn' in joined ? joined.conn : joined, { apiKey: token.apiKey, tokenKey });
    return joined;
  };

  const frontEnd: FrontEnd = {
    rooms,
    // The same check as the native connect: HS256/T1 tokens may name an application ID, and an
    // application's RS256 tokens are verified with its public key.
    verifyToken: (token) => verifyAnyClientToken(token, (key) => store.getProject(key), tokenOptions),
    session: sessionRecord,
    iceServersFor: (connectionId) => iceServersFor(config, connectionId),
    routing: media !== null,
    join(token, rawToken, delivery, options = {}) {
      const session = sessionRecord(token.sessionId);
      if (!session || session.apiKey !== token.apiKey) return rtError('ERR_RT_SESSION_INVALID', `session ${token.sessionId} does not exist`);
      if (session.e2ee && options.e2ee !== true) return rtError('ERR_RT_ENCRYPTION_SECRET', 'the session is end-to-end encrypted: connect with an encryptionSecret of 8 to 256 characters');
      const joined = admit(token, rawToken, () => rooms.join(token, session.mediaMode, delivery, { ...options, e2ee: session.e2ee }));
      if (!('code' in joined)) deps.onJoin?.(token.sessionId, joined.conn.id);
      return joined;
    },
  };

  wss.on('connection', onSocket);

  return {
    live: rooms.live(),
    frontEnd: () => frontEnd,
    webhook: sendWebhook,
    participants: createServerParticipants(rooms, native, sessionRecord),
    deliverCaption: (sessionId, streamId, caption, isFinal) => rooms.deliverCaption(sessionId, streamId, caption, isFinal),
    refusedCandidates() {
      return rooms.refusedCandidates;
    },
    metrics() {
      const sessions: RealtimeMetrics['sessions'] = [];
      let connections = 0;
      for (const room of rooms.rooms.values()) {
        connections += room.connections.size;
        sessions.push({ sessionId: room.sessionId, mediaMode: room.mediaMode, connections: room.connections.size, streams: room.streams.size, subscribers: room.subscriptions.size });
      }
      return { connections, sessions, limits: { connectionLimit: refusedConnects.count, signalRate: rooms.refused.signalRate, subscriptions: rooms.refused.subscriptions, slowConsumerCuts } };
    },
    handleUpgrade(req, socket, head) {
      const path = (req.url ?? '').split('?')[0];
      if (path !== REALTIME_PATH) {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    adoptSocket(ws, frames) {
      onSocket(ws);
      for (const f of frames) ws.emit('message', f, false);
    },
    closeClients(code, reason) {
      for (const ws of wss.clients) ws.close(code, reason);
      rooms.closeForeignTransports(code, reason);
    },
    handleHttp(req, res) {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (path.startsWith('/js/')) return assets.handle(path, req, res);
      if (demo && (path === '/demo' || path.startsWith('/demo/'))) return demo.handle(path, req, res);
      return false;
    },
    async close() {
      clearInterval(pinger);
      rooms.closeAll();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** The WebSocket close code that goes with a refused connect. */
function closeCodeOf(error: RtError): number {
  switch (error.code) {
    case 'ERR_RT_RESUME_FAILED':
      return RT_CLOSE.resumeFailed;
    case 'ERR_RT_VERSION':
    case 'ERR_RT_PROTOCOL':
      return RT_CLOSE.protocolError;
    case 'ERR_RT_CONNECTION_LIMIT':
      return RT_CLOSE.limitExceeded;
    default:
      return RT_CLOSE.authFailed;
  }
}

/** The session a socket's URL names (`?session=`), or null (none, or a URL that does not parse). */
function namedSession(url: string | undefined): string | null {
  try {
    return new URL(url ?? '/', 'http://upgrade.invalid').searchParams.get('session');
  } catch {
    return null;
  }
}

/**
 * The video filters' segmentation model, copied by the client build into `dist/segmentation/<version>/`
 * and loaded by the browser SDK on the first `applyVideoFilter`: `/js/segmentation/<version>/<file>`
 * maps to that file (a plain name: no other path under the build can be named).
 */
function segmentationFile(path: string): string | null {
  const m = /^\/js\/segmentation\/([0-9][0-9.]*)\/([a-z0-9_]+\.(?:js|wasm|data|tflite|binarypb))$/.exec(path);
  return m ? `segmentation/${m[1]}/${m[2]}` : null;
}

/** The Content-Type of a served build file (`application/wasm` lets browsers compile while downloading). */
function assetType(name: string): string {
  if (name.endsWith('.js')) return 'text/javascript; charset=utf-8';
  if (name.endsWith('.wasm')) return 'application/wasm';
  return 'application/octet-stream';
}

/** Serves the browser SDK builds from the `@tokhost/client` package, with CORS for other origins. */
function createAssets(logger: RealtimeDeps['logger']) {
  const require = createRequire(import.meta.url);
  const files: Record<string, string> = { '/js/tokhost.js': 'tokhost.js', '/js/tokhost.esm.js': 'tokhost.esm.js' };
  const cache = new Map<string, Buffer>();
  const load = async (name: string): Promise<Buffer | null> => {
    const hit = cache.get(name);
    if (hit) return hit;
    try {
      const dir = require.resolve('@tokhost/client/tokhost.js').replace(/tokhost\.js$/, '');
      const buf = await readFile(dir + name);
      cache.set(name, buf);
      return buf;
    } catch (err) {
      // An unknown segmentation file is the asker's mistake (a 404), not a missing build.
      if (!name.startsWith('segmentation/')) logger.warn({ err: (err as Error).message }, 'browser SDK build not found (run npm run build)');
      return null;
    }
  };
  return {
    handle(path: string, req: IncomingMessage, res: ServerResponse): boolean {
      const name = files[path] ?? segmentationFile(path);
      if (!name) return false;
      const cors = { 'Access-Control-Allow-Origin': '*', 'Cross-Origin-Resource-Policy': 'cross-origin' };
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { ...cors, 'Access-Control-Allow-Methods': 'GET', 'Access-Control-Max-Age': '86400' }).end();
        return true;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...cors, Allow: 'GET, HEAD' }).end();
        return true;
      }
      void load(name).then((buf) => {
        if (!buf && name.startsWith('segmentation/')) {
          res.writeHead(404, { ...cors, 'Content-Type': 'text/plain' }).end(`no segmentation file ${path}\n`);
          return;
        }
        if (!buf) {
          res.writeHead(503, { ...cors, 'Content-Type': 'text/plain' }).end('browser SDK not built; run npm run build\n');
          return;
        }
        res.writeHead(200, { ...cors, 'Content-Type': assetType(name), 'Content-Length': buf.length, 'Cache-Control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : buf);
      });
      return true;
    },
  };
}
