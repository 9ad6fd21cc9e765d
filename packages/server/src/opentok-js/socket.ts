/**
 * OpenTok.js messaging WebSockets: Rumor frames in and out, Raptor messages translated to the
 * live state's requests and back (docs/opentok-js-protocol.md).
 *
 * One {@link Participant} is one OpenTok.js connection, joined to the live state through the
 * realtime layer's {@link FrontEnd} with a {@link Delivery}; it outlives its socket for the
 * reconnect grace period. The client's reconnect opens a new socket with the same `socketId`
 * query value (a random ID it made and shows no other client) and `reconnect=true`: the
 * participant is re-attached, the messages the client has not acknowledged are sent again (same
 * TRANSACTION-IDs: the client drops duplicates), then what it missed while away.
 *
 * In a cluster the node that held the connection may have died: its reconnect then reaches the
 * session's new owner, which never knew it. Instead of refusing (the client would end the
 * session), the new owner takes the socket as a stand-in and tells the client the server is
 * rotating (`notification` with reason `serverRotation`): OpenTok.js then migrates on its own,
 * as it does when a Vonage server is retired: it asks for the session info again, opens a new
 * messaging socket, joins with its token and connection ID, and publishes its streams again
 * to the (new) media router; the streams of the others come as new `created` messages.
 */
import type { WebSocket } from 'ws';
import type { RtError, UnsequencedServerMessage, VerifiedToken } from '@tokhost/protocol';
import { ClientTokenError } from '../auth/client-token.js';
import type { FrontEnd } from '../realtime/index.js';
import type { Connection, Delivery, GivenIds } from '../realtime/state/session-state.js';
import { messagingSessionOf, SYMPHONY_ADDRESS } from './http.js';
import { RaptorTranslator, parseRaptorUri, statusOf } from './raptor.js';
import type { RaptorMessage, RequestBody } from './raptor.js';
import { decodeRumor, encodeRumor, RUMOR_TYPE, RumorFrameError } from './rumor.js';
import type { RumorFrame } from './rumor.js';

/** Close codes of the messaging socket (4000–4999 are application codes). */
export const OTJS_CLOSE = {
  /** A frame that is not a Rumor frame, or a Raptor message that is not JSON. */
  protocolError: 4002,
  /** A reconnect for a connection that is gone (grace period over). */
  resumeFailed: 4003,
  /** The same connection reconnected on another socket. */
  replaced: 4005,
  /** The client stopped reading: more than `sendBufferMaxBytes` queued (it may reconnect). */
  slowConsumer: 4007,
} as const;

/** How long a socket may stay open without joining, ms. */
const JOIN_TIMEOUT_MS = 10_000;
/** A socket silent this long is cut (the client pings after about 2 s idle), ms. */
const IDLE_TIMEOUT_MS = 30_000;
/** Answers kept for requests the client sends again after a reconnect. */
const ANSWERS_KEPT = 256;
/** Sent messages kept until the client acknowledges them (resent after a reconnect), at most. */
const UNACKED_MAX = 2000;
const UNACKED_MAX_BYTES = 1024 * 1024;

export interface MessagingSocketsOptions {
  frontEnd: FrontEnd;
  /** Most bytes queued for one socket before it is cut (config `sendBufferMaxBytes`). */
  sendBufferMaxBytes: number;
  /**
   * In a cluster: a reconnect for a connection this node never had is answered with a server
   * rotation (the client migrates and joins again here) instead of being refused. Default false.
   */
  rotateStaleReconnects?: boolean;
  logger: { debug(obj: object, msg?: string): void; info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

const ID = /^[A-Za-z0-9._-]{1,64}$/;
/** Messages a client may send while its join's token is being verified, at most. */
const HELD_MAX = 64;
/** Routed sessions: how long a stream create waits for the publisher's offer, ms. */
const OFFER_TIMEOUT_MS = 15_000;
/** Routed sessions: stream creates of one connection waiting for their offer, at most. */
const AWAITING_OFFER_MAX = 4;
/** Routed sessions: candidates held for a stream whose offer has not come yet, at most. */
const EARLY_CANDIDATES_MAX = 50;
/** A stand-in socket of a stale reconnect is closed after this long (the client drops it after its 20 s migration), ms. */
const STAND_IN_MS = 30_000;

/** One OpenTok.js connection across its sockets. */
class Participant {
  conn: Connection | null = null;
  translator: RaptorTranslator | null = null;
  /** The Rumor CONNECT's `uniqueId`: the connection ID the client chose. */
  uniqueId: string | null = null;
  ws: WebSocket | null = null;
  delivery: Delivery | null = null;
  private nextRequestId = 1;
  private nextTx = 1;
  /** Request ID → the transaction it answers (a routed publish: also the offer's transaction). */
  readonly pending = new Map<number, { tx: string; request: RequestBody; offerTx?: string }>();
  /**
   * Routed sessions: streams created but not yet offered, by stream ID. OpenTok.js creates its
   * stream first and offers only when asked (`generateoffer`); the live state's routed publish
   * needs the offer, so the create waits here for it.
   */
  readonly awaitingOffer = new Map<string, { tx: string; request: Extract<RequestBody, { type: 'publish' }>; early: { tx: string; request: RequestBody }[] }>();
  /** TRANSACTION-ID → the STATUS frame that answered it (resent when the client repeats it). */
  readonly answers = new Map<string, Buffer>();
  /** Requests being handled, by TRANSACTION-ID (a repeat is ignored until it is answered). */
  readonly inFlight = new Set<string>();
  /** Sent messages the client has not acknowledged yet, by TRANSACTION-ID, in order. */
  readonly unacked = new Map<string, Buffer>();
  unackedBytes = 0;
  iceServers: unknown[] = [];
  /** While the join's token is verified (asynchronous): the MESSAGE frames that came meanwhile, replayed in order after it. */
  held: RumorFrame[] | null = null;

  constructor(readonly socketId: string | null) {}

  requestId(): number {
    return this.nextRequestId++;
  }

  txId(): string {
    return `${this.conn?.id ?? this.uniqueId ?? ''}.${this.nextTx++}`;
  }

  remember(tx: string, frame: Buffer): void {
    this.inFlight.delete(tx);
    this.answers.set(tx, frame);
    if (this.answers.size > ANSWERS_KEPT) this.answers.delete(this.answers.keys().next().value!);
  }

  keep(tx: string, frame: Buffer): void {
    this.unacked.set(tx, frame);
    this.unackedBytes += frame.length;
    while (this.unacked.size > UNACKED_MAX || this.unackedBytes > UNACKED_MAX_BYTES) this.acked(this.unacked.keys().next().value!);
  }

  acked(tx: string): void {
    const frame = this.unacked.get(tx);
    if (!frame) return;
    this.unacked.delete(tx);
    this.unackedBytes -= frame.length;
  }
}

/**
 * Every OpenTok.js messaging socket of the server.
 *
 * @example
 * const sockets = new MessagingSockets({ frontEnd: realtime.frontEnd(), logger });
 * wss.on('connection', (ws, req) => sockets.accept(ws, req.url ?? '/'));
 */
export class MessagingSockets {
  /** Participants that may reconnect, by the client's `socketId`. */
  private readonly bySocketId = new Map<string, Participant>();

  constructor(private readonly options: MessagingSocketsOptions) {}

  /** Take a new messaging socket (`url`: its request URL, with the client's query). */
  accept(ws: WebSocket, url: string): void {
    const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
    const socketId = query.get('socketId');
    const validSocketId = socketId !== null && ID.test(socketId) ? socketId : null;
    this.prune();
    if (query.get('reconnect') === 'true' && validSocketId !== null) {
      const p = this.bySocketId.get(validSocketId);
      if (!p && this.options.rotateStaleReconnects) {
        const sessionId = messagingSessionOf(url);
        const apiKey = sessionId === null ? undefined : this.options.frontEnd.session(sessionId)?.apiKey;
        if (sessionId !== null && apiKey !== undefined) return this.standIn(ws, apiKey, sessionId);
      }
      if (!p || !p.conn || p.conn.destroyed) {
        this.options.logger.info({ socketId: validSocketId }, 'opentok-js: reconnect for a connection that is gone');
        ws.close(OTJS_CLOSE.resumeFailed, 'the connection is no longer in the session');
        return;
      }
      this.attach(p, ws, true);
      return;
    }
    this.attach(new Participant(validSocketId), ws, false);
  }

  /**
   * A reconnect this node cannot resume (the connection lived on a node that died): answer it as
   * a reconnect, then ask the client to migrate (`serverRotation`), which makes it join again.
   * Nothing reaches the live state through this socket.
   */
  private standIn(ws: WebSocket, apiKey: string, sessionId: string): void {
    const { logger } = this.options;
    let address = '';
    const frame = (f: Parameters<typeof encodeRumor>[0]) => ws.readyState === ws.OPEN && ws.send(encodeRumor(f), { binary: true });
    const timer = setTimeout(() => ws.close(OTJS_CLOSE.resumeFailed, 'server rotation: the client has moved to another socket'), STAND_IN_MS);
    timer.unref();
    ws.on('error', () => undefined);
    ws.on('close', () => clearTimeout(timer));
    ws.on('message', (data, isBinary) => {
      let f: RumorFrame;
      try {
        if (!isBinary) throw new RumorFrameError('text frame');
        f = decodeRumor(toBytes(data));
      } catch (err) {
        ws.close(OTJS_CLOSE.protocolError, (err as Error).message.slice(0, 120));
        return;
      }
      if (f.type === RUMOR_TYPE.ping) return frame({ type: RUMOR_TYPE.pong });
      if (f.type === RUMOR_TYPE.connect) {
        const id = f.headers['uniqueId'];
        if (id !== undefined && ID.test(id)) address = id;
        return;
      }
      // Requests the client repeats from before the drop: their state died with the old node.
      const requestTx = f.type === RUMOR_TYPE.message ? f.headers['TRANSACTION-ID'] : undefined;
      if (requestTx !== undefined) frame({ type: RUMOR_TYPE.status, addresses: [address], headers: { STATUS: '404', 'TRANSACTION-ID': requestTx, 'X-TB-FROM-ADDRESS': SYMPHONY_ADDRESS }, body: JSON.stringify({ reason: 'the session moved to another node' }) });
    });
    // Any frame tells the client its messaging is back (sessionReconnected); a resuming client
    // sends no CONNECT, so the rotation follows at once.
    logger.info({ sessionId }, 'opentok-js: reconnect for a connection of another node; asking the client to migrate (serverRotation)');
    frame({ type: RUMOR_TYPE.pong });
    const message: RaptorMessage = { method: 'notification', uri: `/v2/partner/${apiKey}/session/${sessionId}/notification`, content: { reason: 'serverRotation' } };
    frame({
      type: RUMOR_TYPE.message,
      addresses: [address],
      headers: { 'Content-Type': 'application/x-raptor+v2', 'TRANSACTION-ID': `rotate.${Date.now().toString(36)}`, 'X-TB-FROM-ADDRESS': SYMPHONY_ADDRESS },
      body: JSON.stringify(message),
    });
  }

  /** Forget every participant (server shutdown: the live state closes the connections). */
  close(): void {
    this.bySocketId.clear();
  }

  private prune(): void {
    for (const [id, p] of this.bySocketId) if (p.conn?.destroyed) this.bySocketId.delete(id);
  }

  private attach(p: Participant, ws: WebSocket, resuming: boolean): void {
    const { logger, frontEnd } = this.options;
    const old = p.ws;
    p.ws = ws;
    const delivery: Delivery = {
      deliver: (msg) => {
        if (p.delivery === delivery) this.deliver(p, msg);
      },
      close: (code, reason) => {
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason.slice(0, 120));
      },
    };
    p.delivery = delivery;
    if (old && old !== ws) old.close(OTJS_CLOSE.replaced, 'reconnected on another socket');

    let idle: NodeJS.Timeout | null = null;
    const touch = () => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => ws.terminate(), IDLE_TIMEOUT_MS);
      idle.unref();
    };
    touch();
    const joinTimer = resuming
      ? null
      : setTimeout(() => {
          if (!p.conn) this.fail(ws, p, 'no connection create within 10 s');
        }, JOIN_TIMEOUT_MS);
    joinTimer?.unref();

    ws.on('error', (err) => logger.debug({ err: err.message }, 'opentok-js socket error'));
    ws.on('close', () => {
      if (idle) clearTimeout(idle);
      if (joinTimer) clearTimeout(joinTimer);
      if (p.ws !== ws) return;
      p.ws = null;
      if (p.conn && !p.conn.destroyed) frontEnd.rooms.suspend(p.conn, delivery);
      p.delivery = null;
    });
    ws.on('message', (data, isBinary) => {
      touch();
      if (p.ws !== ws) return;
      let frame: RumorFrame;
      try {
        if (!isBinary) throw new RumorFrameError('text frame: the messaging socket carries binary Rumor frames only');
        frame = decodeRumor(toBytes(data));
      } catch (err) {
        this.fail(ws, p, (err as Error).message);
        return;
      }
      this.onFrame(p, ws, frame);
    });

    if (resuming && p.conn) {
      const back = frontEnd.rooms.reattach(p.conn, delivery);
      if ('code' in back) {
        logger.info({ connectionId: p.conn.id, reason: back.message }, 'opentok-js: reconnect refused');
        const t = p.translator!;
        this.sendMessage(p, { method: 'deleted', uri: `/v2/partner/${t.ids.apiKey}/session/${t.ids.sessionId}/connection/${p.conn.id}`, content: {}, reason: 'networkDisconnected' }, SYMPHONY_ADDRESS);
        ws.close(OTJS_CLOSE.resumeFailed, 'messages since the drop are no longer available');
        return;
      }
      p.iceServers = back.snapshot.iceServers;
      logger.info({ connectionId: p.conn.id, resent: p.unacked.size, missed: back.missed.length }, 'opentok-js: connection reconnected');
      for (const frame of p.unacked.values()) this.write(p, frame);
      for (const msg of back.missed) this.deliver(p, msg);
      // Any frame tells the client its messaging is back (sessionReconnected).
      this.write(p, encodeRumor({ type: RUMOR_TYPE.pong }));
    }
  }

  /** Close the socket for a protocol violation; the connection (if any) stays for its grace period. */
  private fail(ws: WebSocket, p: Participant, reason: string): void {
    this.options.logger.warn({ connectionId: p.conn?.id ?? p.uniqueId, reason }, 'opentok-js: malformed input, socket closed');
    ws.close(OTJS_CLOSE.protocolError, reason.slice(0, 120));
  }

  private write(p: Participant, frame: Buffer): void {
    const ws = p.ws;
    if (!ws || ws.readyState !== ws.OPEN) return;
    ws.send(frame, { binary: true });
    // A client that stops reading would make the server queue without bound: cut its socket
    // (the connection stays for its grace period; its unacknowledged messages are resent).
    if (ws.bufferedAmount > this.options.sendBufferMaxBytes) {
      this.options.logger.warn({ connectionId: p.conn?.id, queuedBytes: ws.bufferedAmount, sendBufferMaxBytes: this.options.sendBufferMaxBytes }, 'opentok-js: client stopped reading; socket cut (sendBufferMaxBytes)');
      ws.close(OTJS_CLOSE.slowConsumer, 'send buffer full');
      setTimeout(() => ws.terminate(), 1000).unref();
    }
  }

  private onFrame(p: Participant, ws: WebSocket, frame: RumorFrame): void {
    switch (frame.type) {
      case RUMOR_TYPE.ping:
        this.write(p, encodeRumor({ type: RUMOR_TYPE.pong }));
        return;
      case RUMOR_TYPE.pong:
      case RUMOR_TYPE.subscribe:
      case RUMOR_TYPE.unsubscribe:
        return;
      case RUMOR_TYPE.connect: {
        const id = frame.headers['uniqueId'];
        if (id === undefined || !ID.test(id)) return this.fail(ws, p, 'CONNECT needs a uniqueId of 1-64 letters, digits, ".", "_" or "-"');
        if (p.uniqueId !== null && p.uniqueId !== id) return this.fail(ws, p, 'CONNECT names another connection than before');
        p.uniqueId = id;
        return;
      }
      case RUMOR_TYPE.disconnect:
        // `reconnect: 1`: the client is about to reconnect, not leaving.
        if (frame.headers['reconnect'] === '1' || !p.conn || p.conn.destroyed) return;
        this.options.frontEnd.rooms.handle(p.conn, { type: 'disconnect', id: p.requestId() });
        return;
      case RUMOR_TYPE.status: {
        const tx = frame.headers['TRANSACTION-ID'];
        if (tx !== undefined) p.acked(tx);
        return;
      }
      case RUMOR_TYPE.message:
        return this.onMessage(p, ws, frame);
    }
  }

  private onMessage(p: Participant, ws: WebSocket, frame: RumorFrame): void {
    const tx = frame.headers['TRANSACTION-ID'];
    if (tx === undefined || tx.length === 0 || tx.length > 100) return this.fail(ws, p, 'a MESSAGE needs a TRANSACTION-ID of 1-100 characters');
    // A request sent again after a reconnect: answer as before (or wait for the answer under way).
    const answered = p.answers.get(tx);
    if (answered) return this.write(p, answered);
    if (p.inFlight.has(tx)) return;
    if (p.held) {
      if (p.held.length >= HELD_MAX) return this.fail(ws, p, `more than ${HELD_MAX} messages before the connection was created`);
      p.held.push(frame);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(frame.body);
    } catch {
      return this.fail(ws, p, 'the MESSAGE body is not JSON');
    }
    if (!p.translator) {
      const uri = parseRaptorUri((body as { uri?: unknown } | null)?.uri);
      if (!uri || uri.resource !== 'connection' || uri.connection === undefined) return this.status(p, tx, 403, 'connect first: create this connection');
      if (p.uniqueId !== null && uri.connection !== p.uniqueId) return this.status(p, tx, 400, 'the connection created is not the one the Rumor CONNECT named');
      if (!ID.test(uri.connection)) return this.status(p, tx, 400, 'connection IDs are 1-64 letters, digits, ".", "_" or "-"');
      p.translator = new RaptorTranslator({ apiKey: uri.partner, sessionId: uri.session, connectionId: uri.connection });
    }
    const inbound = p.translator.inbound(body);
    this.options.logger.debug({ connectionId: p.conn?.id ?? p.uniqueId, method: (body as RaptorMessage).method, uri: (body as RaptorMessage).uri, kind: inbound.kind }, 'opentok-js: message');
    switch (inbound.kind) {
      case 'refuse':
        return this.status(p, tx, inbound.status, inbound.reason);
      case 'accept':
        this.options.logger.debug({ connectionId: p.conn?.id, why: inbound.why }, 'opentok-js: message accepted without effect');
        return this.status(p, tx, 200);
      case 'join':
        return this.join(p, tx, frame.headers['X-TB-TOKEN-AUTH'] ?? '', inbound);
      case 'request': {
        if (!p.conn || p.conn.destroyed) return this.status(p, tx, 403, 'connect first: create this connection');
        const request = inbound.request;
        if (p.translator.routed && request.type === 'publish') return this.awaitOffer(p, tx, request, inbound.given?.streamId ?? '');
        const waiting = (request.type === 'sdp' || request.type === 'ice') && request.end === 'publisher' ? p.awaitingOffer.get(request.peerId) : undefined;
        if (waiting && request.type === 'ice' && waiting.early.length < EARLY_CANDIDATES_MAX) {
          // A candidate before its offer: it follows the publish (the live state runs them in order).
          waiting.early.push({ tx, request });
          p.inFlight.add(tx);
          return;
        }
        if (waiting && request.type === 'sdp') {
          // The offer a routed create waited for: publish with it; both transactions are answered then.
          p.awaitingOffer.delete(request.peerId);
          const id = p.requestId();
          p.pending.set(id, { tx: waiting.tx, request: waiting.request, offerTx: tx });
          p.inFlight.add(tx);
          this.options.frontEnd.rooms.handle(p.conn, { ...waiting.request, offer: request.description, id }, { streamId: request.peerId });
          for (const early of waiting.early) this.handleRequest(p, early.tx, early.request);
          return;
        }
        this.handleRequest(p, tx, request, inbound.given);
        return;
      }
    }
  }

  /** Send one translated request to the live state; its response answers `tx`. */
  private handleRequest(p: Participant, tx: string, request: RequestBody, given?: GivenIds): void {
    if (!p.conn || p.conn.destroyed) return this.status(p, tx, 403, 'connect first: create this connection');
    const id = p.requestId();
    p.pending.set(id, { tx, request });
    p.inFlight.add(tx);
    this.options.frontEnd.rooms.handle(p.conn, { ...request, id } as Parameters<FrontEnd['rooms']['handle']>[1], given);
  }

  /** Routed sessions: hold a stream create and ask the publisher for its offer to the router. */
  private awaitOffer(p: Participant, tx: string, request: Extract<RequestBody, { type: 'publish' }>, streamId: string): void {
    if (p.awaitingOffer.has(streamId)) return this.status(p, tx, 409, `stream ${streamId} is already being created`);
    if (p.awaitingOffer.size >= AWAITING_OFFER_MAX) return this.status(p, tx, 429, 'too many streams waiting for their offer');
    p.awaitingOffer.set(streamId, { tx, request, early: [] });
    p.inFlight.add(tx);
    this.sendMessage(p, p.translator!.generateOffer(streamId), SYMPHONY_ADDRESS);
    // A client that never offers leaves nothing behind: the create fails after a while.
    setTimeout(() => {
      const waiting = p.awaitingOffer.get(streamId);
      if (waiting?.tx !== tx) return;
      p.awaitingOffer.delete(streamId);
      this.status(p, tx, 408, 'no offer for the stream within 15 s');
      for (const early of waiting.early) this.status(p, early.tx, 408, 'no offer for the stream within 15 s');
    }, OFFER_TIMEOUT_MS).unref();
  }

  private join(p: Participant, tx: string, rawToken: string, j: { connectionId: string; connectionEventsSuppressed: boolean; encryption: boolean }): void {
    if (p.conn) return this.status(p, tx, 409, 'this connection is already in the session');
    const { frontEnd, logger } = this.options;
    const t = p.translator!;
    const refuse = (error: Pick<RtError, 'code' | 'message'>) => {
      logger.info({ connectionId: j.connectionId, code: error.code, reason: error.message }, 'opentok-js: connect refused');
      // The client reads this reason as its connection-limit error (1027).
      this.status(p, tx, statusOf(error), error.code === 'ERR_RT_CONNECTION_LIMIT' ? 'connectionLimitExceeded' : error.message);
    };
    // The token check is asynchronous (an application's RS256 token): the client's next
    // messages wait for it, then run in order.
    p.held = [];
    p.inFlight.add(tx);
    void frontEnd.verifyToken(rawToken).then(
      (token) => ({ token }),
      (err: unknown) => ({ err }),
    ).then((checked) => {
      try {
        if ('token' in checked) this.joinVerified(p, tx, rawToken, j, checked.token, refuse);
        else if (checked.err instanceof ClientTokenError) refuse(checked.err);
        else throw checked.err;
      } catch (err) {
        // A store failure must not take the process down with it: refuse this client only.
        logger.warn({ connectionId: j.connectionId, err: (err as Error).message }, 'opentok-js: connect failed');
        if (p.inFlight.has(tx)) refuse({ code: 'ERR_RT_INTERNAL', message: 'the server could not check the token' });
      } finally {
        const held = p.held ?? [];
        p.held = null;
        for (const frame of held) if (p.ws) this.onMessage(p, p.ws, frame);
      }
    });
  }

  private joinVerified(p: Participant, tx: string, rawToken: string, j: { connectionId: string; connectionEventsSuppressed: boolean; encryption: boolean }, token: VerifiedToken, refuse: (error: Pick<RtError, 'code' | 'message'>) => void): void {
    const { frontEnd, logger } = this.options;
    const t = p.translator!;
    // An app on application credentials names its application ID where the API key goes.
    const named = t.ids.apiKey === token.apiKey || (token.applicationId !== undefined && t.ids.apiKey.toLowerCase() === token.applicationId);
    if (!named || token.sessionId !== t.ids.sessionId) return refuse({ code: 'ERR_RT_TOKEN_SESSION', message: 'the token is for another session' });
    if (frontEnd.rooms.idTaken(t.ids.sessionId, j.connectionId)) return refuse({ code: 'ERR_RT_BAD_REQUEST', message: `connection ID ${j.connectionId} is already in the session` });
    if (!p.delivery) return;
    const joined = frontEnd.join(token, rawToken, p.delivery, { connectionEventsSuppressed: j.connectionEventsSuppressed, e2ee: j.encryption, connectionId: j.connectionId, clientKind: 'opentok-js' });
    if ('code' in joined) return refuse(joined);
    p.conn = joined.conn;
    p.iceServers = joined.snapshot.iceServers;
    if (p.socketId !== null) this.bySocketId.set(p.socketId, p);
    this.status(p, tx, 200, undefined, t.joinState(joined.snapshot));
    this.sendMessage(p, t.ownConnection(joined.snapshot.connection, joined.snapshot.role), SYMPHONY_ADDRESS);
    logger.info({ sessionId: t.ids.sessionId, connectionId: joined.conn.id }, 'opentok-js: connection joined');
  }

  /** A message of the live state for this participant. */
  private deliver(p: Participant, msg: UnsequencedServerMessage): void {
    const t = p.translator;
    if (!t) return;
    if (msg.type === 'response') return this.respond(p, msg);
    for (const out of t.outbound(msg)) this.sendMessage(p, out.message, out.from === '' && out.message.method !== 'signal' ? SYMPHONY_ADDRESS : out.from);
  }

  private respond(p: Participant, msg: Extract<UnsequencedServerMessage, { type: 'response' }>): void {
    const pending = p.pending.get(msg.id);
    if (!pending) return;
    p.pending.delete(msg.id);
    if (!msg.ok) {
      const error = msg.error as RtError;
      if (pending.offerTx !== undefined) this.status(p, pending.offerTx, statusOf(error), error.message);
      return this.status(p, pending.tx, statusOf(error), error.message);
    }
    const t = p.translator!;
    const result = msg.result ?? {};
    const req = pending.request;
    if (req.type === 'publish') {
      const stream = result['stream'] as Parameters<RaptorTranslator['published']>[0];
      t.published(stream);
      this.status(p, pending.tx, 200, undefined, { content: { iceServers: p.iceServers } });
      if (pending.offerTx !== undefined) {
        this.status(p, pending.offerTx, 200);
        const answer = result['answer'] as { sdp?: unknown } | undefined;
        if (typeof answer?.sdp === 'string') this.sendMessage(p, t.routerAnswer(stream.streamId, answer.sdp), SYMPHONY_ADDRESS);
      }
      // OpenTok.js completes its publish on its own stream's `created`.
      this.sendMessage(p, t.ownStream(stream), SYMPHONY_ADDRESS);
      return;
    }
    if (req.type === 'subscribe') {
      t.subscribed(String(result['subscriberId']), req.streamId);
      return this.status(p, pending.tx, 200, undefined, { content: { iceServers: p.iceServers } });
    }
    this.status(p, pending.tx, 200);
  }

  /** Answer a request: a STATUS frame with its TRANSACTION-ID. */
  private status(p: Participant, tx: string, status: number, reason?: string, body?: unknown): void {
    const frame = encodeRumor({
      type: RUMOR_TYPE.status,
      addresses: [p.conn?.id ?? p.uniqueId ?? ''],
      headers: { STATUS: String(status), 'TRANSACTION-ID': tx, 'X-TB-FROM-ADDRESS': SYMPHONY_ADDRESS },
      body: body !== undefined ? JSON.stringify(body) : reason !== undefined ? JSON.stringify({ reason }) : '',
    });
    p.remember(tx, frame);
    this.write(p, frame);
  }

  /** Send one Raptor message, kept until the client acknowledges its TRANSACTION-ID. */
  private sendMessage(p: Participant, message: RaptorMessage, from: string): void {
    const tx = p.txId();
    const frame = encodeRumor({
      type: RUMOR_TYPE.message,
      addresses: [p.conn?.id ?? p.uniqueId ?? ''],
      headers: { 'Content-Type': 'application/x-raptor+v2', 'TRANSACTION-ID': tx, 'X-TB-FROM-ADDRESS': from },
      body: JSON.stringify(message),
    });
    p.keep(tx, frame);
    this.write(p, frame);
  }
}

function toBytes(data: unknown): Uint8Array {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new RumorFrameError('unexpected frame payload');
}
