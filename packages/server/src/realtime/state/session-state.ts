/**
 * The live state of every session, whatever protocol its clients speak: connections, streams,
 * subscriptions, signals, moderation and force-mute, archive notices, session-monitoring
 * webhooks, live events for REST, per-connection limits. Its event language is Tokhost's message
 * vocabulary (`UnsequencedServerMessage`): every change is a message to one, some or all
 * connections of a session.
 *
 * Each connection has one way out, chosen at join:
 * - a native connection (Tokhost's WebSocket protocol: `realtime/native.ts` joins and resumes it,
 *   `realtime/index.ts` runs its socket) reads the session's {@link SessionLog}: a message for
 *   many is serialised once, sequenced, folded, sent as shared frames and kept for replay.
 * - a foreign connection (another client protocol, e.g. OpenTok.js's) has a {@link Delivery}: it
 *   gets every message addressed to it as an object, in order, and translates it itself.
 *
 * Why this file is under realtime/ and not live/: the native path appends to the SessionLog,
 * which is the WebSocket protocol's (realtime/); live/ is imported by realtime/, so the state in
 * live/ would make a folder-level cycle. `realtime/state/` imports only `../session-log.ts` from
 * its parent folder; a foreign front end imports this file.
 */
import { randomUUID } from 'node:crypto';
import { checkSignal, rtError, RT_CLOSE, VIDEO_TYPES } from '@tokhost/protocol';
import type {
  ClientRequest,
  ConnectionJson,
  MediaMode,
  Role,
  RtConnection,
  RtConnectionDestroyedReason,
  RtError,
  RtIceServer,
  RtStream,
  RtStreamDestroyedReason,
  SessionMonitoringEvent,
  StreamJson,
  UnsequencedServerMessage,
  VerifiedToken,
} from '@tokhost/protocol';
import type { RoutedSessionMedia } from '../../media/routed-session.js';
import type { PublisherMediaEvent, SubscriberMediaEvent } from '../../media/types.js';
import type { LiveEvent, LiveSessionInfo, LiveSessions, LiveStreamInfo } from '../../live/index.js';
import { checkSubscribe, LIMIT_DEFAULTS, TokenBucket } from '../../limits.js';
import type { LimitsConfig } from '../../limits.js';
import { candidateAddress, candidateAllowed, filterSdpCandidates } from '../../net/candidates.js';
import { SessionLog } from '../session-log.js';
import type { ClientSocket, Fold, LogReader } from '../session-log.js';
import { LiveError } from '../../live/index.js';
import { TokhostError } from '../../errors.js';

export type { ClientSocket };

/**
 * How the state reaches a foreign connection (one of another client protocol's front end).
 * The front end translates each message into its own protocol.
 *
 * Both methods are called synchronously from inside a state change: they must not call back into
 * the state at once (queue the work: the state is mid-change). A throwing `deliver` is logged and
 * does not stop the change or the other connections' deliveries.
 */
export interface Delivery {
  /** One message addressed to this connection (already filtered: presence off, except, …), in order. */
  deliver(msg: UnsequencedServerMessage): void;
  /** The state ends the connection (forceDisconnect, session closed, limits): close the transport. */
  close(code: number, reason: string): void;
}

/** How a foreign connection joins (the native form takes the same flags as arguments). */
export interface JoinOptions {
  /** The client asked not to get connection events (OpenTok's `connectionEventsSuppressed`). */
  connectionEventsSuppressed?: boolean;
  /** The session is end-to-end encrypted (the client said it has the secret). */
  e2ee?: boolean;
  /**
   * The connection ID the client chose (OpenTok.js proposes its own); the caller checks it with
   * {@link Rooms.idTaken} first. Default: a random UUID.
   */
  connectionId?: string;
  /** Which client this is, for the admin API (`opentok-js`, …). Default `foreign`. */
  clientKind?: string;
}

/** IDs a foreign client chose for what its request creates (see {@link Rooms.handle}). */
export interface GivenIds {
  streamId?: string;
  subscriberId?: string;
}

/**
 * The session as a joining connection sees it, as data: what a foreign front end needs to build
 * its own "session state at join" reply (the native front end sends it as `sessionConnected`).
 */
export interface JoinSnapshot {
  sessionId: string;
  /** How this connection negotiates media: routed only when a media router is wired in. */
  mediaMode: 'relayed' | 'routed';
  /** The joining connection itself. */
  connection: RtConnection;
  role: Role;
  /** The other connections, oldest first (empty with `connectionEventsSuppressed`). */
  connections: RtConnection[];
  /** The streams published now, oldest first. */
  streams: RtStream[];
  /** Archives recording now (each also told as `archiveStarted` to native clients). */
  archives: { id: string; name: string }[];
  /** A session-wide force-mute is on: new publishers start muted. */
  forceMuteActive: boolean;
  /** ICE servers for this connection (TURN credentials are per connection). */
  iceServers: RtIceServer[];
  e2ee: boolean;
  /** How long the connection is kept after its transport drops ({@link Rooms.suspend}), ms. */
  reconnectGraceMs: number;
}

/** What joining with a {@link Delivery} returns. */
export interface ForeignJoin {
  conn: Connection;
  snapshot: JoinSnapshot;
}

export interface RoomsOptions {
  /** ICE servers for one connection (TURN credentials are per connection). */
  iceServersFor(connectionId: string): RtIceServer[];
  /** How long a connection whose socket dropped is kept for a resume, ms. */
  reconnectGraceMs: number;
  /** Most messages a session keeps for replay to connections whose socket dropped (also: most queued for a suspended foreign connection). */
  replayBufferMax: number;
  /** Most bytes of messages a session keeps for replay (default 32 MiB; also per suspended foreign connection). */
  replayBufferMaxBytes?: number;
  /** Session-monitoring events (delivered asynchronously by the caller). */
  onEvent(apiKey: string, event: SessionMonitoringEvent): void;
  logger: { debug(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /**
   * The media router side of a routed session (opened on first use). Without it, routed
   * sessions are negotiated peer to peer like relayed ones.
   */
  openRoutedMedia?: (sessionId: string) => Promise<RoutedSessionMedia>;
  /** Per-connection limits (signal rate, subscriptions). Default `LIMIT_DEFAULTS`. */
  limits?: LimitsConfig;
  /** A connection left the session for good (the realtime layer's connection counts). */
  onConnectionEnd?(conn: Connection): void;
  /**
   * The outbound rule refusing an ICE candidate address a client names in a routed session, or
   * null to keep it (docs/security.md, Outbound targets). Refused candidates are dropped from the
   * client's SDP and from trickle ICE before the router sees them. Default: keep every candidate.
   */
  refuseCandidate?: (address: string) => string | null;
}

type RtIceCandidateWire = { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null };

/** A realtime request refused with the error the client receives (`rt`). */
class RequestError extends TokhostError<RtError['code']> {
  override readonly name = 'RequestError';
  constructor(readonly rt: RtError) {
    super(rt.code, rt.message);
  }
}
const fail = (code: RtError['code'], message: string): never => {
  throw new RequestError(rtError(code, message));
};

/** One client connection: survives socket (transport) drops for the grace period. */
export class Connection implements LogReader {
  readonly rt: RtConnection;
  /**
   * Foreign connections only: where its messages go, null while suspended ({@link Rooms.suspend}).
   * A native connection reads the session log through `socket` instead (the fields below).
   */
  delivery: Delivery | null = null;
  /** Messages for a suspended foreign connection, handed over by {@link Rooms.reattach}. */
  pending: UnsequencedServerMessage[] | null = null;
  pendingBytes = 0;
  /** The pending queue passed its bound: the connection cannot be caught up (reattach fails). */
  overflowed = false;
  // Native resume (realtime/native.ts). 122 random bits from the CSPRNG; randomUUID draws from a
  // cached pool (randomBytes per join cost more).
  readonly resumeKey = randomUUID().replaceAll('-', '');
  socket: ClientSocket | null = null;
  // Read position in the session's log (see SessionLog); set by `SessionLog.attach` (via `sendFirst` at join).
  cursor = 0;
  joinIndex = 0;
  ackedSeq = 0;
  custom = false;
  /** The client asked not to get connection events (`connectionEventsSuppressed`). */
  presenceOff = false;
  lastRequestId = 0;
  /** Requests of a routed session run one after another (some wait for the media router). */
  chain: Promise<void> = Promise.resolve();
  /** The client accepts array frames (see `ConnectRequest.batch`). */
  batch = false;
  /** Joined an end-to-end encrypted session with the secret (told back in the join snapshot). */
  e2ee = false;
  graceTimer: NodeJS.Timeout | null = null;
  destroyed = false;
  readonly streams = new Set<string>();
  /** Subscriber IDs this connection holds (as the subscribing end). */
  readonly subscriptions = new Set<string>();
  /** The signal rate limit (`signalRatePerConnection`), made at the first signal. */
  signalBucket: TokenBucket | null = null;
  /**
   * Which client holds the connection, as the admin API lists it: `tokhost` (the native
   * WebSocket protocol), `opentok-js`, `sip` (a call the server holds). Set by the front end.
   */
  clientKind = 'tokhost';

  constructor(
    readonly room: Room,
    readonly role: Role,
    readonly token: VerifiedToken,
    /** Joined with a {@link Delivery} (another protocol's front end), not the native WebSocket. */
    readonly foreign = false,
    /** The ID a foreign client chose ({@link JoinOptions.connectionId}); default a random UUID. */
    connectionId: string = randomUUID(),
  ) {
    this.rt = { connectionId, creationTime: Date.now(), data: token.connectionData };
    this.rtJson = JSON.stringify(this.rt);
  }

  /** `rt` serialised once: every later joiner's snapshot holds it (n² bytes in a big session). */
  readonly rtJson: string;

  get id(): string {
    return this.rt.connectionId;
  }

  /** Send a message to this connection only (native: sequenced in the session's log). */
  send(msg: UnsequencedServerMessage): void {
    if (this.foreign) this.room.deliver(this, msg);
    else this.room.log.append(JSON.stringify(msg), this);
  }

  /** Write what is queued for this connection now (native; a foreign one is never behind). */
  flush(): void {
    if (!this.foreign) this.room.log.flushReader(this);
  }

  ack(seq: number): void {
    this.room.log.ack(this, seq);
  }
}

interface StreamState {
  rt: RtStream;
  owner: Connection;
  forceMuted: boolean;
}

interface Subscription {
  id: string;
  streamId: string;
  subscriber: Connection;
  publisher: Connection;
  /** `subscribeToCaptions(true)`: live captions of the stream go to the subscriber. */
  captions?: boolean;
}

/** The live state of one session. */
export class Room {
  readonly connections = new Map<string, Connection>();
  /** The connections that read the log (native), and the ones with a {@link Delivery} (foreign). */
  private readonly native = new Set<Connection>();
  readonly foreign = new Set<Connection>();
  readonly streams = new Map<string, StreamState>();
  readonly subscriptions = new Map<string, Subscription>();
  forceMute: { active: boolean; excluded: Set<string> } = { active: false, excluded: new Set() };
  /** Routed sessions with a media router: the router room, opened on first use. */
  media: Promise<RoutedSessionMedia> | null = null;
  /** Every message of the session, sequenced; each connection reads it through its cursor. */
  readonly log: SessionLog;
  /**
   * The join snapshot's `connections` items as UTF-8 JSON, comma-separated: `snapshot[0, snapshotLen)`,
   * appended to as connections join (capacity doubles), rebuilt after one leaves; null: stale.
   * Kept as bytes so each join copies it once instead of re-encoding n strings.
   */
  private snapshot: Buffer | null = Buffer.alloc(0);
  private snapshotLen = 0;
  constructor(
    readonly sessionId: string,
    readonly apiKey: string,
    readonly mediaMode: MediaMode,
    replay: { maxEntries: number; maxBytes: number },
    private readonly logger: RoomsOptions['logger'],
  ) {
    this.log = new SessionLog({ readers: () => this.native.values(), size: () => this.native.size, ...replay });
    this.pendingMax = replay;
  }
  private readonly pendingMax: { maxEntries: number; maxBytes: number };

  /** Send to every connection (but `except`): serialised once for the native ones, then each foreign one. */
  broadcast(msg: UnsequencedServerMessage, except?: Connection): number {
    const n = this.connections.size - (except && this.connections.has(except.id) ? 1 : 0);
    this.log.append(JSON.stringify(msg), null, except && !except.foreign ? except : null);
    if (this.foreign.size > 0) for (const c of this.foreign) if (c !== except) this.deliver(c, msg);
    return n;
  }

  /** `connectionCreated` / `connectionDestroyed` of `conn` to everyone else: presence, batched and folded. */
  presence(conn: Connection, reason?: RtConnectionDestroyedReason): void {
    const fold: Fold = reason === undefined ? { kind: 'created', item: conn.rtJson } : { kind: 'destroyed', item: `{"connection":${conn.rtJson},"reason":${JSON.stringify(reason)}}` };
    const msg: UnsequencedServerMessage = reason === undefined ? { type: 'connectionCreated', connection: conn.rt } : { type: 'connectionDestroyed', connection: conn.rt, reason };
    this.log.append(JSON.stringify(msg), null, conn.foreign ? null : conn, fold);
    if (this.foreign.size > 0) for (const c of this.foreign) if (c !== conn && !c.presenceOff) this.deliver(c, msg);
  }

  /**
   * One message to a foreign connection: to its delivery, or queued while it is suspended (past
   * the bound the queue is dropped and the connection marked: its reattach then fails).
   */
  deliver(conn: Connection, msg: UnsequencedServerMessage): void {
    if (conn.destroyed) return;
    if (conn.delivery) {
      this.deliverFinal(conn.delivery, conn, msg);
      return;
    }
    if (conn.overflowed) return;
    const pending = (conn.pending ??= []);
    pending.push(msg);
    conn.pendingBytes += JSON.stringify(msg).length;
    if (pending.length > this.pendingMax.maxEntries || conn.pendingBytes > this.pendingMax.maxBytes) {
      conn.overflowed = true;
      conn.pending = null;
      conn.pendingBytes = 0;
    }
  }

  /** The `connections` of a join snapshot: every connection's JSON, comma-separated, as UTF-8. */
  snapshotConnections(): Buffer {
    if (this.snapshot === null) {
      this.snapshot = Buffer.from([...this.connections.values()].map((c) => c.rtJson).join(','));
      this.snapshotLen = this.snapshot.length;
    }
    return this.snapshot.subarray(0, this.snapshotLen);
  }

  /** Hand `msg` to `delivery` now; a throw is logged, never propagated into the state change. */
  deliverFinal(delivery: Delivery, conn: Connection, msg: UnsequencedServerMessage): void {
    try {
      delivery.deliver(msg);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, type: msg.type, connectionId: conn.id }, 'foreign delivery threw');
    }
  }

  addConnection(conn: Connection): void {
    this.connections.set(conn.id, conn);
    (conn.foreign ? this.foreign : this.native).add(conn);
    if (this.snapshot === null) return;
    const item = (this.snapshotLen > 0 ? ',' : '') + conn.rtJson;
    const need = this.snapshotLen + Buffer.byteLength(item);
    if (need > this.snapshot.length) {
      // A new buffer (never written in place): earlier subarrays may still be queued on sockets.
      const grown = Buffer.allocUnsafe(Math.max(need, this.snapshot.length * 2, 4096));
      this.snapshot.copy(grown, 0, 0, this.snapshotLen);
      this.snapshot = grown;
    }
    this.snapshotLen += this.snapshot.write(item, this.snapshotLen);
  }

  removeConnection(conn: Connection): void {
    (conn.foreign ? this.foreign : this.native).delete(conn);
    if (this.connections.delete(conn.id)) this.snapshot = null;
  }
}

/**
 * Every live session of the server and the rules on them: connection lifecycle, streams,
 * peer-link negotiation relay, signals, moderation. Protocol-agnostic: each front end (the native
 * WebSocket one in `realtime/native.ts` + `index.ts`, or a foreign one with a {@link Delivery})
 * feeds it parsed requests and transport events.
 */
export class Rooms {
  readonly rooms = new Map<string, Room>();
  private readonly liveListeners = new Set<(e: LiveEvent) => void>();
  /** Archives recording per session, told to every client that joins (`archiveStarted`). */
  private readonly archiveNotices = new Map<string, Map<string, { id: string; name: string }>>();
  private readonly limits: LimitsConfig;
  /** Requests refused by a limit since start (for `/metrics`). */
  readonly refused = { signalRate: 0, subscriptions: 0 };
  constructor(private readonly options: RoomsOptions) {
    this.limits = options.limits ?? LIMIT_DEFAULTS;
  }

  /** The connection may send one more signal now (`signalRatePerConnection`, `signalBurstPerConnection`). */
  private takeSignal(conn: Connection): void {
    const now = performance.now();
    conn.signalBucket ??= new TokenBucket(this.limits.signalRatePerConnection, this.limits.signalBurstPerConnection, now);
    if (!conn.signalBucket.take(now)) {
      this.refused.signalRate++;
      fail('ERR_RT_SIGNAL_RATE', `signal rate limit: at most ${this.limits.signalRatePerConnection} signals per second per connection (signalRatePerConnection, burst signalBurstPerConnection ${this.limits.signalBurstPerConnection})`);
    }
  }

  /** The connection may subscribe to `streamId` (one subscription per stream, `maxSubscriptionsPerConnection`). */
  private admitSubscription(conn: Connection, streamId: string): void {
    const held = [...conn.subscriptions].map((id) => conn.room.subscriptions.get(id)?.streamId ?? '');
    const refused = checkSubscribe(this.limits, held, streamId);
    if (refused) this.refused.subscriptions++;
    if (refused) fail(refused.code === 'duplicate' ? 'ERR_RT_ALREADY_SUBSCRIBED' : 'ERR_RT_SUBSCRIBE_LIMIT', refused.message);
  }

  private liveEmit(e: LiveEvent): void {
    for (const l of this.liveListeners) {
      try {
        l(e);
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message, type: e.type }, 'live event listener threw');
      }
    }
  }

  private streamEvent(type: 'streamCreated' | 'streamChanged' | 'streamDestroyed', room: Room, s: StreamState): void {
    if (this.liveListeners.size) this.liveEmit({ type, sessionId: room.sessionId, apiKey: room.apiKey, stream: streamInfo(s) });
  }

  private room(sessionId: string): Room | undefined {
    return this.rooms.get(sessionId);
  }

  /** The session's room, made (with its router side, for routed sessions) when it has none. */
  private openRoom(token: VerifiedToken, mediaMode: MediaMode): Room {
    let room = this.rooms.get(token.sessionId);
    if (!room) {
      room = new Room(token.sessionId, token.apiKey, mediaMode, { maxEntries: this.options.replayBufferMax, maxBytes: this.options.replayBufferMaxBytes ?? 32 * 1024 * 1024 }, this.options.logger);
      if (mediaMode === 'routed' && this.options.openRoutedMedia) {
        room.media = this.options.openRoutedMedia(room.sessionId);
        room.media.catch((err: Error) => this.options.logger.warn({ err: err.message, sessionId: room!.sessionId }, 'media router room failed'));
      }
      this.rooms.set(token.sessionId, room);
      this.emit(room, { event: 'sessionCreated' });
    }
    return room;
  }

  /** The new connection is in: everyone else is told, webhooks and live listeners too. */
  announce(conn: Connection): void {
    const room = conn.room;
    room.presence(conn);
    room.addConnection(conn);
    this.emit(room, { event: 'connectionCreated', connection: webhookConnection(conn) });
    if (this.liveListeners.size) this.liveEmit({ type: 'connectionCreated', sessionId: room.sessionId, apiKey: room.apiKey, connections: room.connections.size });
  }

  /**
   * A new connection of `token`'s session (made with its room when it is the first), not yet
   * announced: the front end sets up its way out, sends its hello, then calls {@link announce}.
   * Native front end only (`realtime/native.ts`); a foreign one uses {@link join}.
   */
  open(token: VerifiedToken, mediaMode: MediaMode): Connection {
    return new Connection(this.openRoom(token, mediaMode), token.role, token);
  }

  /** The archives recording in `sessionId` now (told to every client that joins). */
  archivesRecording(sessionId: string): { id: string; name: string }[] {
    return [...(this.archiveNotices.get(sessionId)?.values() ?? [])].map((a) => ({ id: a.id, name: a.name }));
  }

  /**
   * Add a new foreign connection with its token (already verified and matched to the session;
   * connection limits are the caller's: see `FrontEnd.join` in realtime/index.ts). Its messages
   * go to `delivery`; it is returned with the {@link JoinSnapshot} its front end builds its own
   * join reply from (no message is delivered for the join itself). Its requests go through
   * {@link handle} as a native client's do; answers and refusals come back through `delivery` as
   * `response` messages.
   */
  join(token: VerifiedToken, mediaMode: MediaMode, delivery: Delivery, options: JoinOptions = {}): ForeignJoin {
    const room = this.openRoom(token, mediaMode);
    const conn = new Connection(room, token.role, token, true, options.connectionId);
    conn.presenceOff = options.connectionEventsSuppressed === true;
    conn.e2ee = options.e2ee === true;
    conn.delivery = delivery;
    conn.clientKind = options.clientKind ?? 'foreign';
    const snapshot = this.snapshot(conn);
    this.announce(conn);
    return { conn, snapshot };
  }

  /**
   * The session as `conn` sees it now (what a joining or re-attaching foreign connection's front
   * end builds its reply from). Fresh ICE servers each time (TURN credentials expire).
   */
  snapshot(conn: Connection, withConnections = true): JoinSnapshot {
    const room = conn.room;
    const others: RtConnection[] = [];
    if (withConnections && !conn.presenceOff) for (const c of room.connections.values()) if (c !== conn) others.push(c.rt);
    return {
      sessionId: room.sessionId,
      mediaMode: room.media ? 'routed' : 'relayed',
      connection: conn.rt,
      role: conn.role,
      connections: others,
      streams: [...room.streams.values()].map((s) => s.rt),
      archives: this.archivesRecording(room.sessionId),
      forceMuteActive: room.forceMute.active,
      iceServers: this.options.iceServersFor(conn.id),
      e2ee: conn.e2ee,
      reconnectGraceMs: this.options.reconnectGraceMs,
    };
  }

  /** A connection of a live session by its ID (a foreign front end finds a reconnecting client's with it). */
  find(sessionId: string, connectionId: string): Connection | undefined {
    const conn = this.room(sessionId)?.connections.get(connectionId);
    return conn && !conn.destroyed ? conn : undefined;
  }

  /**
   * A foreign connection's transport dropped without the client leaving: keep the connection for
   * the grace period (`reconnectGraceMs`), queueing its messages (at most `replayBufferMax`
   * messages and `replayBufferMaxBytes` of JSON; past that its {@link reattach} fails), then
   * destroy it (`networkDisconnected`). `delivery`: the one that dropped (default the current
   * one); a late drop of a delivery already replaced is ignored.
   */
  suspend(conn: Connection, delivery: Delivery | null = conn.delivery): void {
    if (conn.destroyed || !conn.foreign || !delivery || conn.delivery !== delivery) return;
    conn.delivery = null;
    conn.pending = [];
    conn.pendingBytes = 0;
    conn.overflowed = false;
    this.startGrace(conn);
  }

  /**
   * Give a suspended (or live: its old delivery is closed) foreign connection a new delivery.
   * Returns the session now and the messages it missed meanwhile, in order: the front end sends
   * its own reconnect reply, then these, before anything later reaches `delivery`. An error when
   * the connection is gone or missed more than the queue kept. The caller checks that the client
   * may take this connection back (its token).
   */
  reattach(conn: Connection, delivery: Delivery): { snapshot: JoinSnapshot; missed: UnsequencedServerMessage[] } | RtError {
    if (conn.destroyed || !conn.foreign) return rtError('ERR_RT_RESUME_FAILED', 'the connection is no longer in the session');
    if (conn.overflowed) return rtError('ERR_RT_RESUME_FAILED', 'messages since the connection dropped are no longer available');
    this.stopGrace(conn);
    const old = conn.delivery;
    const missed = conn.pending ?? [];
    conn.pending = null;
    conn.pendingBytes = 0;
    conn.delivery = delivery;
    if (old && old !== delivery) old.close(RT_CLOSE.replaced, 'resumed on another transport');
    return { snapshot: this.snapshot(conn), missed };
  }

  /** Keep the connection for `reconnectGraceMs` without a way out, then end it (`networkDisconnected`). */
  startGrace(conn: Connection): void {
    if (conn.graceTimer) clearTimeout(conn.graceTimer);
    conn.graceTimer = setTimeout(() => this.destroyConnection(conn, 'networkDisconnected'), this.options.reconnectGraceMs);
    conn.graceTimer.unref?.();
  }

  /** The connection has a way out again. */
  stopGrace(conn: Connection): void {
    if (conn.graceTimer) clearTimeout(conn.graceTimer);
    conn.graceTimer = null;
  }

  /** Remove a connection with everything it published and subscribed. */
  destroyConnection(conn: Connection, reason: RtConnectionDestroyedReason): void {
    if (conn.destroyed) return;
    const room = conn.room;
    for (const streamId of [...conn.streams]) this.removeStream(room, streamId, reason, conn);
    for (const subId of [...conn.subscriptions]) this.removeSubscription(room, subId);
    conn.destroyed = true;
    this.stopGrace(conn);
    room.removeConnection(conn);
    this.options.onConnectionEnd?.(conn);
    room.presence(conn, reason);
    this.emit(room, { event: 'connectionDestroyed', connection: webhookConnection(conn), reason });
    if (this.liveListeners.size) this.liveEmit({ type: 'connectionDestroyed', sessionId: room.sessionId, apiKey: room.apiKey, connections: room.connections.size });
    if (conn.socket) {
      if (reason !== 'networkDisconnected') conn.send({ type: 'disconnected', reason });
      conn.flush();
      conn.socket.close(RT_CLOSE.ended, reason);
      conn.socket = null;
    }
    const delivery = conn.delivery;
    conn.delivery = null;
    conn.pending = null;
    if (delivery) {
      if (reason !== 'networkDisconnected') room.deliverFinal(delivery, conn, { type: 'disconnected', reason });
      delivery.close(RT_CLOSE.ended, reason);
    }
    if (room.connections.size === 0) {
      room.log.close();
      this.rooms.delete(room.sessionId);
      this.emit(room, { event: 'sessionDestroyed' });
      this.routed(room, (m) => m.close());
    }
  }

  private removeSubscription(room: Room, subId: string): void {
    const sub = room.subscriptions.get(subId);
    if (!sub) return;
    room.subscriptions.delete(subId);
    sub.subscriber.subscriptions.delete(subId);
    this.routed(room, (m) => m.unsubscribe(subId));
    if (!sub.publisher.destroyed) sub.publisher.send({ type: 'peerClosed', peerId: subId });
    if (!sub.subscriber.destroyed) sub.subscriber.send({ type: 'peerClosed', peerId: subId });
  }

  private removeStream(room: Room, streamId: string, reason: RtStreamDestroyedReason, initiator: Connection | null): void {
    const s = room.streams.get(streamId);
    if (!s) return;
    for (const sub of [...room.subscriptions.values()]) if (sub.streamId === streamId) this.removeSubscription(room, sub.id);
    room.streams.delete(streamId);
    s.owner.streams.delete(streamId);
    this.routed(room, (m) => m.unpublish(streamId));
    // The publisher learns of its own stream's end only when someone else ended it.
    room.broadcast({ type: 'streamDestroyed', stream: s.rt, reason }, initiator === s.owner ? s.owner : undefined);
    this.emit(room, { event: 'streamDestroyed', stream: webhookStream(s), reason });
    this.streamEvent('streamDestroyed', room, s);
  }

  /**
   * Handle one client request, native or foreign: the answer goes to the connection as a
   * `response` message with the request's `id` (`ok: true` and a `result`, or `ok: false` and the
   * `RtError` refusing it, the same rules, limits and codes for every front end). Ids must
   * increase per connection: one not above the last is ignored (a resumed client re-sends those).
   */
  handle(conn: Connection, req: ClientRequest, given?: GivenIds): void {
    if (conn.destroyed) return;
    if (typeof req.id !== 'number' || !Number.isSafeInteger(req.id)) {
      conn.send({ type: 'response', id: -1, ok: false, error: rtError('ERR_RT_BAD_REQUEST', 'request id must be an integer') });
      return;
    }
    // A resumed client re-sends requests it got no answer for; their answers are in the replay.
    if (req.id <= conn.lastRequestId) return;
    conn.lastRequestId = req.id;
    if (conn.room.media) {
      conn.chain = conn.chain.then(() => this.handleRouted(conn, req, given));
      return;
    }
    let result: Record<string, unknown> | undefined;
    try {
      result = this.dispatch(conn, req, false, given) ?? {};
    } catch (err) {
      const error = err instanceof RequestError ? err.rt : rtError('ERR_RT_INTERNAL', 'internal error');
      if (!(err instanceof RequestError)) this.options.logger.warn({ err: (err as Error).message, type: req.type }, 'realtime request failed');
      if (!conn.destroyed) conn.send({ type: 'response', id: req.id, ok: false, error });
      return;
    }
    if (!conn.destroyed) conn.send({ type: 'response', id: req.id, ok: true, result });
    if (req.type === 'disconnect') this.destroyConnection(conn, 'clientDisconnected');
  }

  /** Run `fn` on the room's router side, if any, logging failures (cleanup paths). */
  private routed(room: Room, fn: (m: RoutedSessionMedia) => Promise<unknown>): void {
    if (!room.media) return;
    room.media.then(fn).catch((err: Error) => this.options.logger.debug({ err: err.message, sessionId: room.sessionId }, 'media router cleanup failed'));
  }

  /** Candidates dropped by the outbound policy (metrics). */
  refusedCandidates = 0;

  /** The description without the candidates the outbound policy refuses. */
  private checkedDescription<T>(conn: Connection, description: T): T {
    const refuse = this.options.refuseCandidate;
    const d = description as { sdp?: unknown } | null;
    if (!refuse || !d || typeof d.sdp !== 'string') return description;
    const { sdp, dropped } = filterSdpCandidates(d.sdp, refuse);
    if (dropped === 0) return description;
    this.refusedCandidates += dropped;
    this.options.logger.debug({ connectionId: conn.rt.connectionId, dropped }, 'ICE candidates refused by the outbound policy');
    return { ...d, sdp } as T;
  }

  /** True when a trickled candidate names an address the outbound policy refuses (then it is dropped). */
  private candidateRefused(conn: Connection, candidate: unknown): boolean {
    const refuse = this.options.refuseCandidate;
    const c = candidate as { candidate?: unknown } | null;
    if (!refuse || !c || typeof c.candidate !== 'string' || candidateAllowed(c.candidate, refuse)) return false;
    this.refusedCandidates++;
    this.options.logger.debug({ connectionId: conn.rt.connectionId, address: candidateAddress(c.candidate) }, 'ICE candidate refused by the outbound policy');
    return true;
  }

  /** Requests of a routed session: media requests go to the router, the rest as usual. */
  private async handleRouted(conn: Connection, req: ClientRequest, given?: GivenIds): Promise<void> {
    if (conn.destroyed) return;
    const room = conn.room;
    let result: Record<string, unknown> | void = undefined;
    let after: (() => void) | undefined;
    try {
      // Only media requests wait for the router: signals, moderation etc. never depend on it.
      const router = () => room.media!;
      switch (req.type) {
        case 'publish': {
          if (!req.offer || req.offer.type !== 'offer' || typeof req.offer.sdp !== 'string') fail('ERR_RT_BAD_REQUEST', 'in a routed session publish must carry the offer');
          // Router candidates may come before the answer is out; hold them until it is.
          const early: RtIceCandidateWire[] = [];
          let answered = false;
          let streamId = '';
          const sink = {
            sdp: () => undefined,
            ice: (peerId: string, candidate: RtIceCandidateWire) => (answered ? conn.send({ type: 'ice', peerId, end: 'server', candidate }) : early.push(candidate)),
          };
          const checked = this.checkPublish(conn, req);
          if (given?.streamId !== undefined && this.idTaken(room.sessionId, given.streamId)) fail('ERR_RT_BAD_REQUEST', `ID ${given.streamId.slice(0, 64)} is malformed or already in use in the session`);
          streamId = given?.streamId ?? randomUUID();
          const media = await router();
          // The router closes a publisher whose media died (ICE failure): the stream leaves the
          // session as in OpenTok, for every subscriber and for recordings.
          const onPublisherEvent = (e: PublisherMediaEvent) => {
            if (e.type === 'connected' || !room.streams.has(streamId)) return;
            // The publisher audio fallback's decisions go to the publishing client only.
            if (e.type !== 'closed') {
              if (!conn.destroyed) conn.send({ type: 'publisherQuality', streamId, event: e.type });
              return;
            }
            this.options.logger.warn({ sessionId: room.sessionId, streamId, reason: e.reason }, 'publisher media closed by the router');
            this.removeStream(room, streamId, 'networkDisconnected', null);
          };
          if (req.audioFallback !== undefined && typeof req.audioFallback !== 'boolean') fail('ERR_RT_BAD_REQUEST', 'audioFallback must be a boolean');
          const answer = await media.publish(streamId, this.checkedDescription(conn, req.offer!), sink, onPublisherEvent, req.audioFallback === true);
          if (conn.destroyed) {
            await media.unpublish(streamId);
            return;
          }
          result = this.publish(conn, req, streamId, checked);
          if (result['forceMuted'] === true) await media.muteStream(streamId, true);
          result = { ...result, answer };
          after = () => {
            answered = true;
            for (const candidate of early.splice(0)) conn.send({ type: 'ice', peerId: streamId, end: 'server', candidate });
          };
          break;
        }
        case 'subscribe': {
          const media = await router();
          result = this.dispatch(conn, { ...req }, true, given);
          const subscriberId = String(result?.['subscriberId']);
          const streamId = String(req.streamId);
          after = () => {
            const sink = {
              sdp: (peerId: string, description: { type: 'offer' | 'answer'; sdp: string }) => conn.send({ type: 'sdp', peerId, end: 'server', description }),
              ice: (peerId: string, candidate: RtIceCandidateWire) => conn.send({ type: 'ice', peerId, end: 'server', candidate }),
            };
            // The audio fallback's quality events go to the subscribing client only.
            const onEvent = (e: SubscriberMediaEvent) => {
              if (e.type === 'connected' || conn.destroyed || !room.subscriptions.has(subscriberId)) return;
              // A leg the router closed (failed, RTCP timeout) is gone: tell both ends (peerClosed).
              if (e.type === 'closed') {
                if (e.reason !== 'unpublished') this.removeSubscription(room, subscriberId);
                return;
              }
              conn.send({ type: 'subscriberQuality', subscriberId, event: e.type });
            };
            media.subscribe(subscriberId, streamId, { audio: req.audio !== false, video: req.video !== false }, sink, onEvent).catch((err: Error) => {
              this.options.logger.warn({ err: err.message }, 'router subscribe failed');
              if (room.subscriptions.has(subscriberId)) this.removeSubscription(room, subscriberId);
            });
          };
          break;
        }
        case 'sdp':
        case 'ice': {
          const owns = req.end === 'publisher' ? room.streams.get(String(req.peerId))?.owner === conn : room.subscriptions.get(String(req.peerId))?.subscriber === conn;
          if (!owns) fail('ERR_RT_BAD_REQUEST', 'not an end of this peer link');
          const media = await router();
          if (req.type === 'sdp') await media.sdp(String(req.peerId), req.end, this.checkedDescription(conn, req.description));
          else if (this.candidateRefused(conn, req.candidate)) break;
          else await media.ice(String(req.peerId), req.end, req.candidate);
          break;
        }
        case 'subscriberMedia': {
          result = this.dispatch(conn, req);
          // `subscribeToCaptions` alone is the captions' business, not the router's.
          if (req.audio === undefined && req.video === undefined) break;
          await (await router()).subscriberMedia(String(req.subscriberId), { ...(req.audio !== undefined ? { audio: req.audio } : {}), ...(req.video !== undefined ? { video: req.video } : {}) });
          break;
        }
        default:
          result = this.dispatch(conn, req);
      }
    } catch (err) {
      const error = err instanceof RequestError ? err.rt : rtError('ERR_RT_MEDIA', `media router: ${(err as Error).message}`);
      if (!(err instanceof RequestError)) this.options.logger.warn({ err: (err as Error).message, type: req.type }, 'routed request failed');
      if (!conn.destroyed) conn.send({ type: 'response', id: req.id, ok: false, error });
      return;
    }
    if (!conn.destroyed) conn.send({ type: 'response', id: req.id, ok: true, result: result ?? {} });
    after?.();
    if (req.type === 'disconnect') this.destroyConnection(conn, 'clientDisconnected');
  }

  /**
   * Whether `id` is unusable as a client-chosen ID in the session: not 1-64 letters, digits,
   * `-`, `_` or `.`, or already a connection, stream or subscriber of it.
   */
  idTaken(sessionId: string, id: string): boolean {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) return true;
    const room = this.rooms.get(sessionId);
    return room !== undefined && (room.connections.has(id) || room.streams.has(id) || room.subscriptions.has(id));
  }

  private dispatch(conn: Connection, req: ClientRequest, routed = false, given?: GivenIds): Record<string, unknown> | void {
    const room = conn.room;
    // IDs a foreign client chose (relayed sessions): refused when malformed or in use.
    const givenId = (id: string | undefined): string | undefined => {
      if (id !== undefined && this.idTaken(room.sessionId, id)) fail('ERR_RT_BAD_REQUEST', `ID ${id.slice(0, 64)} is malformed or already in use in the session`);
      return id;
    };
    switch (req.type) {
      case 'publish':
        return this.publish(conn, req, givenId(given?.streamId));
      case 'unpublish': {
        const s = this.ownStream(conn, req.streamId);
        this.removeStream(room, s.rt.streamId, 'clientDisconnected', conn);
        return;
      }
      case 'streamUpdate':
        return this.streamUpdate(conn, req);
      case 'subscribe': {
        if (conn.role === 'publisheronly') fail('ERR_RT_SUBSCRIBE_DENIED', 'a publisheronly token cannot subscribe');
        const s = room.streams.get(String(req.streamId));
        if (!s) return fail('ERR_RT_STREAM_NOT_FOUND', `stream ${String(req.streamId)} is not in the session`);
        this.admitSubscription(conn, s.rt.streamId);
        const id = givenId(given?.subscriberId) ?? randomUUID();
        room.subscriptions.set(id, { id, streamId: s.rt.streamId, subscriber: conn, publisher: s.owner });
        conn.subscriptions.add(id);
        // Relayed: the publishing browser makes the peer link; routed: the router does (caller).
        if (!routed) s.owner.send({ type: 'subscriberJoined', subscriberId: id, streamId: s.rt.streamId, connection: conn.rt, iceServers: this.options.iceServersFor(s.owner.id) });
        return { subscriberId: id };
      }
      case 'unsubscribe': {
        const sub = room.subscriptions.get(String(req.subscriberId));
        if (!sub || sub.subscriber !== conn) return fail('ERR_RT_STREAM_NOT_FOUND', 'no such subscriber');
        this.removeSubscription(room, sub.id);
        return;
      }
      case 'subscriberMedia': {
        const sub = room.subscriptions.get(String(req.subscriberId));
        if (!sub || sub.subscriber !== conn) return fail('ERR_RT_STREAM_NOT_FOUND', 'no such subscriber');
        if (req.captions !== undefined) {
          if (typeof req.captions !== 'boolean') fail('ERR_RT_BAD_REQUEST', 'captions must be a boolean');
          sub.captions = req.captions;
        }
        // Relayed: the subscribing browser disables the received track itself; nothing to forward.
        return;
      }
      case 'sdp':
      case 'ice': {
        const sub = room.subscriptions.get(String(req.peerId));
        if (!sub) return fail('ERR_RT_STREAM_NOT_FOUND', 'no such peer link');
        const fromPublisher = req.end === 'publisher';
        if ((fromPublisher ? sub.publisher : sub.subscriber) !== conn) return fail('ERR_RT_BAD_REQUEST', 'not an end of this peer link');
        const to = fromPublisher ? sub.subscriber : sub.publisher;
        if (req.type === 'sdp') {
          const d = req.description;
          if (!d || (d.type !== 'offer' && d.type !== 'answer') || typeof d.sdp !== 'string' || d.sdp.length > 100_000) fail('ERR_RT_BAD_REQUEST', 'description must be {type: offer|answer, sdp}');
          to.send({ type: 'sdp', peerId: sub.id, end: req.end, description: { type: d.type, sdp: d.sdp } });
        } else {
          const c = req.candidate;
          if (c !== null && (typeof c !== 'object' || typeof c.candidate !== 'string' || c.candidate.length > 2000)) fail('ERR_RT_BAD_REQUEST', 'candidate must be {candidate, sdpMid?, sdpMLineIndex?} or null');
          to.send({ type: 'ice', peerId: sub.id, end: req.end, candidate: c === null ? null : { candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null } });
        }
        return;
      }
      case 'signal': {
        this.takeSignal(conn);
        const err = checkSignal(req.signalType, req.data);
        if (err) throw new RequestError(err);
        const msg = { type: 'signal', from: conn.rt, signalType: req.signalType ?? '', data: req.data ?? '' } as const;
        if (req.to !== undefined && req.to !== null) {
          const target = room.connections.get(String(req.to));
          if (!target) return fail('ERR_RT_CONNECTION_NOT_FOUND', `connection ${String(req.to)} is not in the session`);
          target.send(msg);
          return { delivered: 1 };
        }
        return { delivered: room.broadcast(msg) };
      }
      case 'forceDisconnect': {
        if (conn.role !== 'moderator') fail('ERR_RT_FORCE_DISCONNECT_DENIED', 'only a moderator can force-disconnect');
        const target = room.connections.get(String(req.connectionId));
        if (!target) return fail('ERR_RT_CONNECTION_NOT_FOUND', `connection ${String(req.connectionId)} is not in the session`);
        // Answer first: the moderator may be disconnecting itself.
        queueMicrotask(() => this.destroyConnection(target, 'forceDisconnected'));
        return;
      }
      case 'forceUnpublish': {
        if (conn.role !== 'moderator') fail('ERR_RT_FORCE_UNPUBLISH_DENIED', 'only a moderator can force-unpublish');
        if (!room.streams.has(String(req.streamId))) return fail('ERR_RT_STREAM_NOT_FOUND', `stream ${String(req.streamId)} is not in the session`);
        this.removeStream(room, String(req.streamId), 'forceUnpublished', conn);
        return;
      }
      case 'forceMuteStream': {
        if (conn.role !== 'moderator') fail('ERR_RT_FORCE_MUTE_DENIED', 'only a moderator can force-mute');
        if (!room.streams.has(String(req.streamId))) return fail('ERR_RT_STREAM_NOT_FOUND', `stream ${String(req.streamId)} is not in the session`);
        this.muteStream(room, String(req.streamId));
        return;
      }
      case 'forceMuteAll': {
        if (conn.role !== 'moderator') fail('ERR_RT_FORCE_MUTE_DENIED', 'only a moderator can force-mute');
        const excluded = Array.isArray(req.excludedStreamIds) ? req.excludedStreamIds.map(String) : [];
        this.muteAll(room, excluded);
        return;
      }
      case 'disableForceMute': {
        if (conn.role !== 'moderator') fail('ERR_RT_FORCE_MUTE_DENIED', 'only a moderator can change force-mute');
        this.unmuteAll(room);
        return;
      }
      case 'disconnect':
        return;
      default:
        return fail('ERR_RT_BAD_REQUEST', `unknown request type "${String((req as { type: unknown }).type)}"`);
    }
  }

  /**
   * A live caption of `streamId` (captions/): to every subscriber of the stream that asked for
   * captions. Returns how many got it.
   */
  deliverCaption(sessionId: string, streamId: string, caption: string, isFinal: boolean): number {
    const room = this.rooms.get(sessionId);
    if (!room) return 0;
    let n = 0;
    for (const sub of room.subscriptions.values()) {
      if (sub.streamId !== streamId || !sub.captions || sub.subscriber.destroyed) continue;
      sub.subscriber.send({ type: 'captionReceived', subscriberId: sub.id, streamId, caption, isFinal });
      n++;
    }
    return n;
  }

  /**
   * Publish an audio stream for a server-side participant (a SIP call, see `src/sip/`): `attach`
   * puts its media into the router under `streamId` (e.g. `room.publishRtp`); the stream is then
   * announced as a client's would be. Throws when the token's role cannot publish.
   */
  async publishServerStream(conn: Connection, name: string, attach: (media: RoutedSessionMedia, streamId: string) => Promise<void>): Promise<RtStream> {
    if (!conn.room.media) throw new Error('server-side streams need a routed session with a media router');
    // A server participant (a phone call, an Audio Connector socket) has no client to ask for
    // captions: its stream publishes them, so a session's captions include what callers say.
    const req = { type: 'publish', id: 0, name, hasAudio: true, hasVideo: false, videoType: null, videoDimensions: null, frameRate: null, hasCaptions: true } as unknown as Extract<ClientRequest, { type: 'publish' }>;
    let checked: { width: number; height: number } | null;
    try {
      checked = this.checkPublish(conn, req);
    } catch (err) {
      throw err instanceof RequestError ? new Error(err.rt.message) : err;
    }
    const streamId = randomUUID();
    const media = await conn.room.media;
    await attach(media, streamId);
    if (conn.destroyed) {
      await media.unpublish(streamId);
      throw new Error('the connection left before its stream was published');
    }
    const r = this.publish(conn, req, streamId, checked);
    if (r['forceMuted'] === true) await media.muteStream(streamId, true);
    return r['stream'] as RtStream;
  }

  /** A server-side participant turns its own audio on or off (the phone's `*6`): as a client's `streamUpdate`. */
  setServerStreamAudio(conn: Connection, streamId: string, enabled: boolean): void {
    const s = this.ownStream(conn, streamId);
    this.routed(conn.room, (m) => m.muteStream(streamId, !enabled));
    this.setProperty(s, 'hasAudio', enabled);
  }

  private ownStream(conn: Connection, streamId: unknown): StreamState {
    const s = conn.room.streams.get(String(streamId));
    if (!s || s.owner !== conn) return fail('ERR_RT_STREAM_NOT_FOUND', `stream ${String(streamId)} is not published by this connection`);
    return s;
  }

  /** Validate a publish request; returns the checked video dimensions. */
  private checkPublish(conn: Connection, req: Extract<ClientRequest, { type: 'publish' }>): { width: number; height: number } | null {
    if (conn.role === 'subscriber') fail('ERR_RT_PERMISSION_DENIED', 'a subscriber token cannot publish');
    if (typeof req.name !== 'string' || req.name.length > 1000) fail('ERR_RT_BAD_REQUEST', 'name must be a string of at most 1000 characters');
    if (typeof req.hasAudio !== 'boolean' || typeof req.hasVideo !== 'boolean') fail('ERR_RT_BAD_REQUEST', 'hasAudio and hasVideo must be booleans');
    if (req.hasCaptions !== undefined && typeof req.hasCaptions !== 'boolean') fail('ERR_RT_BAD_REQUEST', 'hasCaptions must be a boolean');
    if (req.videoType !== null && !(VIDEO_TYPES as readonly unknown[]).includes(req.videoType)) fail('ERR_RT_BAD_REQUEST', `videoType must be one of ${VIDEO_TYPES.join(', ')} or null`);
    const dims = checkDimensions(req.videoDimensions, 'videoDimensions', true);
    if (conn.streams.size >= 10) fail('ERR_RT_PERMISSION_DENIED', 'a connection may publish at most 10 streams');
    return dims;
  }

  private publish(conn: Connection, req: Extract<ClientRequest, { type: 'publish' }>, givenId?: string, checked?: { width: number; height: number } | null): Record<string, unknown> {
    const room = conn.room;
    const dims = checked !== undefined ? checked : this.checkPublish(conn, req);
    const streamId = givenId ?? randomUUID();
    const forceMuted = room.forceMute.active;
    const rt: RtStream = {
      streamId,
      connection: conn.rt,
      creationTime: Date.now(),
      name: req.name,
      hasAudio: req.hasAudio && !forceMuted,
      hasVideo: req.hasVideo,
      videoType: req.hasVideo ? (req.videoType ?? 'camera') : req.videoType,
      videoDimensions: dims,
      frameRate: typeof req.frameRate === 'number' ? req.frameRate : null,
      layoutClassList: [...conn.token.initialLayoutClassList],
      // Absent unless on (the protocol's default), so streams without captions look as before.
      ...(req.hasCaptions === true ? { hasCaptions: true } : {}),
    };
    const state: StreamState = { rt, owner: conn, forceMuted };
    room.streams.set(streamId, state);
    conn.streams.add(streamId);
    room.broadcast({ type: 'streamCreated', stream: rt }, conn);
    this.emit(room, { event: 'streamCreated', stream: webhookStream(state) });
    this.streamEvent('streamCreated', room, state);
    return { streamId, stream: rt, forceMuted };
  }

  private streamUpdate(conn: Connection, req: Extract<ClientRequest, { type: 'streamUpdate' }>): void {
    const s = this.ownStream(conn, req.streamId);
    const changes: ['hasAudio' | 'hasVideo' | 'videoDimensions' | 'hasCaptions', unknown][] = [];
    if (req.hasAudio !== undefined) {
      if (typeof req.hasAudio !== 'boolean') fail('ERR_RT_BAD_REQUEST', 'hasAudio must be a boolean');
      changes.push(['hasAudio', req.hasAudio]);
    }
    if (req.hasVideo !== undefined) {
      if (typeof req.hasVideo !== 'boolean') fail('ERR_RT_BAD_REQUEST', 'hasVideo must be a boolean');
      changes.push(['hasVideo', req.hasVideo]);
    }
    if (req.hasCaptions !== undefined) {
      if (typeof req.hasCaptions !== 'boolean') fail('ERR_RT_BAD_REQUEST', 'hasCaptions must be a boolean');
      changes.push(['hasCaptions', req.hasCaptions]);
    }
    if (req.videoDimensions !== undefined) changes.push(['videoDimensions', checkDimensions(req.videoDimensions, 'videoDimensions', false)]);
    for (const [prop, value] of changes) this.setProperty(s, prop, value);
  }

  private setProperty(s: StreamState, prop: 'hasAudio' | 'hasVideo' | 'videoDimensions' | 'hasCaptions', value: unknown): void {
    const old = prop === 'hasCaptions' ? s.rt.hasCaptions === true : s.rt[prop];
    if (JSON.stringify(old) === JSON.stringify(value)) return;
    s.rt = { ...s.rt, [prop]: value };
    if (prop === 'hasAudio' && value === true && s.forceMuted) {
      // The publisher unmuted itself after a force mute (OpenTok allows it): the router forwards its audio again.
      s.forceMuted = false;
      this.routed(s.owner.room, (m) => m.muteStream(s.rt.streamId, false));
    }
    s.owner.room.broadcast({ type: 'streamPropertyChanged', streamId: s.rt.streamId, changedProperty: prop, oldValue: old, newValue: value, stream: s.rt }, s.owner);
    this.streamEvent('streamChanged', s.owner.room, s);
  }

  private muteStream(room: Room, streamId: string): void {
    const s = room.streams.get(streamId);
    if (!s) return;
    s.forceMuted = true;
    // Routed: the router stops forwarding the audio too, whatever the publishing client does.
    this.routed(room, (m) => m.muteStream(streamId, true));
    s.owner.send({ type: 'muteForced', streamId, active: true });
    this.setProperty(s, 'hasAudio', false);
  }

  private muteAll(room: Room, excluded: string[]): void {
    room.forceMute = { active: true, excluded: new Set(excluded) };
    for (const id of [...room.streams.keys()]) if (!room.forceMute.excluded.has(id)) this.muteStream(room, id);
    room.broadcast({ type: 'forceMuteState', active: true });
  }

  private unmuteAll(room: Room): void {
    room.forceMute = { active: false, excluded: new Set() };
    room.broadcast({ type: 'forceMuteState', active: false });
  }

  private emit(room: Room, e: Omit<SessionMonitoringEvent, 'sessionId' | 'projectId' | 'timestamp'>): void {
    this.options.onEvent(room.apiKey, { sessionId: room.sessionId, projectId: room.apiKey, timestamp: Date.now(), ...e } as SessionMonitoringEvent);
  }

  /** The `LiveSessions` view for the REST routes. */
  live(): LiveSessions {
    const requireRoom = (sessionId: string, what: string): Room => {
      const r = this.room(sessionId);
      if (!r) throw new LiveError(what === 'stream' ? 'ERR_LIVE_STREAM_NOT_FOUND' : 'ERR_LIVE_CONNECTION_NOT_FOUND', `No ${what} of session ${sessionId} is live`);
      return r;
    };
    const streamJson = (s: StreamState): StreamJson => ({ id: s.rt.streamId, ...(s.rt.videoType ? { videoType: s.rt.videoType } : {}), name: s.rt.name, layoutClassList: [...s.rt.layoutClassList] });
    const connectionJson = (c: Connection): ConnectionJson => ({ connectionId: c.id, connectionState: 'Connected', createdAt: c.rt.creationTime });
    const liveSession = (room: Room): LiveSessionInfo => ({
      sessionId: room.sessionId,
      apiKey: room.apiKey,
      mediaMode: room.mediaMode,
      connections: [...room.connections.values()].map((c) => ({ connectionId: c.id, data: c.rt.data, clientKind: c.clientKind, createdAt: c.rt.creationTime })),
      streams: [...room.streams.values()].map(streamInfo),
    });
    return {
      listLiveSessions: (apiKey) => {
        const out: LiveSessionInfo[] = [];
        for (const room of this.rooms.values()) if (apiKey === null || room.apiKey === apiKey) out.push(liveSession(room));
        return out;
      },
      connectionCount: (sessionId) => this.room(sessionId)?.connections.size ?? 0,
      listConnections: (sessionId) => [...(this.room(sessionId)?.connections.values() ?? [])].map(connectionJson),
      listStreams: (sessionId) => [...(this.room(sessionId)?.streams.values() ?? [])].map(streamJson),
      getStream: (sessionId, streamId) => {
        const s = this.room(sessionId)?.streams.get(streamId);
        return s ? streamJson(s) : undefined;
      },
      setStreamClassLists: (sessionId, items) => {
        const room = requireRoom(sessionId, 'stream');
        const found = items.map((i) => {
          const s = room.streams.get(i.id);
          if (!s) throw new LiveError('ERR_LIVE_STREAM_NOT_FOUND', `Stream ${i.id} is not in the session`);
          return s;
        });
        found.forEach((s, idx) => {
          s.rt = { ...s.rt, layoutClassList: [...items[idx]!.layoutClassList] };
          room.broadcast({ type: 'streamClassListChanged', stream: s.rt });
          this.streamEvent('streamChanged', room, s);
        });
      },
      streamInfos: (sessionId) => [...(this.room(sessionId)?.streams.values() ?? [])].map(streamInfo),
      onLiveEvent: (listener) => {
        this.liveListeners.add(listener);
        return () => void this.liveListeners.delete(listener);
      },
      mediaRoom: (sessionId) => this.room(sessionId)?.media?.then((m) => m.room) ?? null,
      archiveNotice: (sessionId, archive, active) => {
        let notices = this.archiveNotices.get(sessionId);
        if (active) {
          if (!notices) this.archiveNotices.set(sessionId, (notices = new Map()));
          notices.set(archive.id, archive);
        } else if (notices?.delete(archive.id) && notices.size === 0) this.archiveNotices.delete(sessionId);
        this.room(sessionId)?.broadcast({ type: active ? 'archiveStarted' : 'archiveStopped', id: archive.id, name: archive.name });
      },
      signal: (sessionId, connectionId, signal) => {
        const msg = { type: 'signal', from: null, signalType: signal.type ?? '', data: signal.data ?? '' } as const;
        if (connectionId !== null) {
          const room = requireRoom(sessionId, 'connection');
          const c = room.connections.get(connectionId);
          if (!c) throw new LiveError('ERR_LIVE_CONNECTION_NOT_FOUND', `Connection ${connectionId} is not connected to the session`);
          c.send(msg);
          return 1;
        }
        return this.room(sessionId)?.broadcast(msg) ?? 0;
      },
      forceDisconnect: (sessionId, connectionId) => {
        const c = requireRoom(sessionId, 'connection').connections.get(connectionId);
        if (!c) throw new LiveError('ERR_LIVE_CONNECTION_NOT_FOUND', `Connection ${connectionId} is not connected to the session`);
        this.destroyConnection(c, 'forceDisconnected');
      },
      forceMuteStream: (sessionId, streamId) => {
        const room = requireRoom(sessionId, 'stream');
        if (!room.streams.has(streamId)) throw new LiveError('ERR_LIVE_STREAM_NOT_FOUND', `Stream ${streamId} is not in the session`);
        this.muteStream(room, streamId);
      },
      forceMuteAll: (sessionId, excluded) => {
        const room = this.room(sessionId);
        if (room) this.muteAll(room, excluded);
      },
      disableForceMute: (sessionId) => {
        const room = this.room(sessionId);
        if (room) this.unmuteAll(room);
      },
    };
  }

  /**
   * Close the transport of every foreign connection (a drain: the native sockets are closed by
   * their front end). The connections stay for the grace period, as after any transport drop.
   */
  closeForeignTransports(code: number, reason: string): void {
    for (const room of this.rooms.values()) for (const c of room.foreign) c.delivery?.close(code, reason);
  }

  /** Close every connection (server shutdown). */
  closeAll(): void {
    for (const room of [...this.rooms.values()]) {
      for (const c of [...room.connections.values()]) {
        if (c.graceTimer) clearTimeout(c.graceTimer);
        c.destroyed = true;
        this.options.onConnectionEnd?.(c);
        c.socket?.close(1001, 'server shutting down');
        c.delivery?.close(1001, 'server shutting down');
        c.delivery = null;
      }
      room.log.close();
    }
    this.rooms.clear();
  }
}

function checkDimensions(value: unknown, name: string, nullable: boolean): { width: number; height: number } | null {
  if (value === null || value === undefined) {
    if (nullable) return null;
    return fail('ERR_RT_BAD_REQUEST', `${name} must be {width, height}`);
  }
  const v = value as { width?: unknown; height?: unknown };
  if (typeof v !== 'object' || !Number.isInteger(v.width) || !Number.isInteger(v.height) || (v.width as number) < 0 || (v.height as number) < 0 || (v.width as number) > 10000 || (v.height as number) > 10000) {
    return fail('ERR_RT_BAD_REQUEST', `${name} must be {width, height} with integers from 0 to 10000`);
  }
  return { width: v.width as number, height: v.height as number };
}

function streamInfo(s: StreamState): LiveStreamInfo {
  const rt = s.rt;
  return {
    streamId: rt.streamId,
    connectionId: s.owner.id,
    connectionData: s.owner.rt.data,
    name: rt.name,
    videoType: rt.videoType,
    hasAudio: rt.hasAudio,
    hasVideo: rt.hasVideo,
    layoutClassList: [...rt.layoutClassList],
    creationTime: rt.creationTime,
  };
}

function webhookConnection(c: Connection): { id: string; createdAt: number; data: string } {
  return { id: c.id, createdAt: c.rt.creationTime, data: c.rt.data };
}

function webhookStream(s: StreamState): NonNullable<SessionMonitoringEvent['stream']> {
  return {
    id: s.rt.streamId,
    connection: webhookConnection(s.owner),
    createdAt: s.rt.creationTime,
    name: s.rt.name,
    ...(s.rt.videoType && s.rt.hasVideo ? { videoType: s.rt.videoType } : {}),
  };
}
