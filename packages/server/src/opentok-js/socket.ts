/**
 * OpenTok.js messaging WebSockets: Rumor frames in and out, Raptor messages translated to the
 * live state's requests and back (docs/opentok-js-protocol.md).
 *
 * One {@link Participant} is one OpenTok.js connection; it outlives its socket for the reconnect
 * grace period. The client's reconnect opens a new socket with the same `socketId` query value
 * (a random ID it made and never shows to other clients) and `reconnect=true`: the participant is
 * re-attached, the messages it has not acknowledged are sent again (same TRANSACTION-IDs, which
 * the client de-duplicates), and its requests continue.
 */
import type { WebSocket } from 'ws';
import type { RtError, ServerMessage } from '@tokhost/protocol';
import type { ClientStatePort } from '../realtime/index.js';
import type { ClientSocket, Connection } from '../realtime/rooms.js';
import { SYMPHONY_ADDRESS } from './http.js';
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
} as const;

/** How long a socket may stay open without joining, ms. */
const JOIN_TIMEOUT_MS = 10_000;
/** A socket silent this long is cut (the client pings after about 2 s idle), ms. */
const IDLE_TIMEOUT_MS = 30_000;
/** Answers kept for requests the client sends again after a reconnect. */
const ANSWERS_KEPT = 256;
/** Sent messages awaiting the client's acknowledgement, at most. */
const UNACKED_KEPT = 10_000;

export interface MessagingSocketsOptions {
  clients: ClientStatePort;
  logger: { debug(obj: object, msg?: string): void; info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

const ID = /^[A-Za-z0-9._-]{1,64}$/;

/** One OpenTok.js connection across its sockets. */
class Participant {
  conn: Connection | null = null;
  translator: RaptorTranslator | null = null;
  /** The Rumor CONNECT's `uniqueId`: the connection ID the client chose. */
  uniqueId: string | null = null;
  ws: WebSocket | null = null;
  socket: ClientSocket | null = null;
  joinTx: string | null = null;
  private nextRequestId = 1;
  /** Request ID → the transaction it answers. */
  readonly pending = new Map<number, { tx: string; request: RequestBody }>();
  /** TRANSACTION-ID → the STATUS frame that answered it (resent when the client repeats it). */
  readonly answers = new Map<string, Buffer>();
  /** Requests being handled, by TRANSACTION-ID (a repeat is ignored until it is answered). */
  readonly inFlight = new Set<string>();
  /** TRANSACTION-ID of a sent message → its seq, until the client acknowledges it. */
  readonly unacked = new Map<string, number>();

  constructor(readonly socketId: string | null) {}

  requestId(): number {
    return this.nextRequestId++;
  }

  remember(tx: string, frame: Buffer): void {
    this.inFlight.delete(tx);
    this.answers.set(tx, frame);
    if (this.answers.size > ANSWERS_KEPT) this.answers.delete(this.answers.keys().next().value!);
  }
}

/**
 * Every OpenTok.js messaging socket of the server.
 *
 * @example
 * const sockets = new MessagingSockets({ clients: realtime.clients, logger });
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
      if (!p || !p.conn || p.conn.destroyed) {
        this.options.logger.info({ socketId: validSocketId }, 'opentok-js: reconnect for a connection that is gone');
        ws.close(OTJS_CLOSE.resumeFailed, 'the connection is no longer in the session');
        return;
      }
      this.attach(p, ws, true);
      return;
    }
    const p = new Participant(validSocketId);
    this.attach(p, ws, false);
  }

  /** Forget every participant (server shutdown: the live state closes the connections). */
  close(): void {
    this.bySocketId.clear();
  }

  private prune(): void {
    for (const [id, p] of this.bySocketId) if (p.conn?.destroyed) this.bySocketId.delete(id);
  }

  private attach(p: Participant, ws: WebSocket, resuming: boolean): void {
    const { logger, clients } = this.options;
    const old = p.ws;
    p.ws = ws;
    const socket: ClientSocket = {
      send: (text) => {
        if (p.socket !== socket) return;
        let msg: ServerMessage;
        try {
          msg = JSON.parse(typeof text === 'string' ? text : text.toString('utf8')) as ServerMessage;
        } catch {
          return;
        }
        this.deliver(p, msg);
      },
      close: (code, reason) => {
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason.slice(0, 120));
      },
      get isOpen() {
        return ws.readyState === ws.OPEN;
      },
    };
    p.socket = socket;
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
      p.socket = null;
      if (p.conn && !p.conn.destroyed) clients.socketLost(p.conn, socket);
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
      const replay = clients.resume(p.conn, p.conn.ackedSeq, socket);
      if (!Array.isArray(replay)) {
        logger.info({ connectionId: p.conn.id, reason: replay.message }, 'opentok-js: reconnect refused');
        this.sendMessage(p, { method: 'deleted', uri: `/v2/partner/${p.conn.room.apiKey}/session/${p.conn.room.sessionId}/connection/${p.conn.id}`, content: {}, reason: 'networkDisconnected' }, SYMPHONY_ADDRESS, null);
        ws.close(OTJS_CLOSE.resumeFailed, 'messages since the drop are no longer available');
        return;
      }
      logger.info({ connectionId: p.conn.id, replayed: replay.length }, 'opentok-js: connection reconnected');
      for (const text of replay) socket.send(text);
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
    if (ws && ws.readyState === ws.OPEN) ws.send(frame, { binary: true });
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
        this.options.clients.handle(p.conn, { type: 'disconnect', id: p.requestId() });
        return;
      case RUMOR_TYPE.status: {
        const tx = frame.headers['TRANSACTION-ID'];
        const seq = tx === undefined ? undefined : p.unacked.get(tx);
        if (seq === undefined) return;
        p.unacked.delete(tx!);
        p.conn?.ack(seq);
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
        const id = p.requestId();
        p.pending.set(id, { tx, request: inbound.request });
        p.inFlight.add(tx);
        this.options.clients.handle(p.conn, { ...inbound.request, id } as Parameters<ClientStatePort['handle']>[1], inbound.given);
        return;
      }
    }
  }

  private join(p: Participant, tx: string, token: string, j: { connectionId: string; connectionEventsSuppressed: boolean; encryption: boolean }): void {
    if (p.conn) return this.status(p, tx, 409, 'this connection is already in the session');
    const t = p.translator!;
    p.joinTx = tx;
    const result = this.options.clients.connect(
      { type: 'connect', version: 1, apiKey: t.ids.apiKey, sessionId: t.ids.sessionId, token, connectionEventsSuppressed: j.connectionEventsSuppressed, encryption: j.encryption },
      p.socket!,
      j.connectionId,
    );
    if ('code' in result) {
      p.joinTx = null;
      this.options.logger.info({ connectionId: j.connectionId, code: result.code, reason: result.message }, 'opentok-js: connect refused');
      // The client reads this reason as its connection-limit error (1027).
      return this.status(p, tx, statusOf(result), result.code === 'ERR_RT_CONNECTION_LIMIT' ? 'connectionLimitExceeded' : result.message);
    }
    p.conn = result;
    if (p.socketId !== null) this.bySocketId.set(p.socketId, p);
    this.options.logger.info({ sessionId: t.ids.sessionId, connectionId: result.id }, 'opentok-js: connection joined');
  }

  /** A message of the live state for this participant. */
  private deliver(p: Participant, msg: ServerMessage): void {
    const t = p.translator;
    if (!t) return;
    switch (msg.type) {
      case 'sessionConnected': {
        const tx = p.joinTx;
        p.joinTx = null;
        if (tx) this.status(p, tx, 200, undefined, t.joinState(msg));
        this.sendMessage(p, t.ownConnection(msg.connection, msg.role), SYMPHONY_ADDRESS, msg.seq);
        return;
      }
      case 'response':
        return this.respond(p, msg);
      default:
        t.outbound(msg).forEach((out, i) => this.sendMessage(p, out.message, out.from === '' && out.message.method !== 'signal' ? SYMPHONY_ADDRESS : out.from, 'seq' in msg ? msg.seq : null, i));
    }
  }

  private respond(p: Participant, msg: Extract<ServerMessage, { type: 'response' }>): void {
    const pending = p.pending.get(msg.id);
    if (!pending) return;
    p.pending.delete(msg.id);
    if (!msg.ok) {
      const error = msg.error as RtError;
      return this.status(p, pending.tx, statusOf(error), error.message);
    }
    const t = p.translator!;
    const result = msg.result ?? {};
    const req = pending.request;
    const iceServers = this.options.clients.iceServersFor(p.conn!.id);
    if (req.type === 'publish') {
      const stream = result['stream'] as Parameters<RaptorTranslator['published']>[0];
      t.published(stream);
      this.status(p, pending.tx, 200, undefined, { content: { iceServers } });
      // OpenTok.js completes its publish on its own stream's `created`.
      this.sendMessage(p, t.ownStream(stream), SYMPHONY_ADDRESS, msg.seq, 1);
      return;
    }
    if (req.type === 'subscribe') {
      t.subscribed(String(result['subscriberId']), req.streamId);
      return this.status(p, pending.tx, 200, undefined, { content: { iceServers } });
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

  /**
   * Send one Raptor message. Its TRANSACTION-ID derives from the live state's seq, so a message
   * sent again after a reconnect carries the same one and the client drops the duplicate.
   */
  private sendMessage(p: Participant, message: RaptorMessage, from: string, seq: number | null, part = 0): void {
    const self = p.conn?.id ?? p.uniqueId ?? '';
    const tx = seq === null ? `${self}.x${Date.now()}` : `${self}.${seq}.${part}`;
    if (seq !== null) {
      p.unacked.set(tx, seq);
      if (p.unacked.size > UNACKED_KEPT) p.unacked.delete(p.unacked.keys().next().value!);
    }
    this.write(
      p,
      encodeRumor({
        type: RUMOR_TYPE.message,
        addresses: [self],
        headers: { 'Content-Type': 'application/x-raptor+v2', 'TRANSACTION-ID': tx, 'X-TB-FROM-ADDRESS': from },
        body: JSON.stringify(message),
      }),
    );
  }
}

function toBytes(data: unknown): Uint8Array {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new RumorFrameError('unexpected frame payload');
}
