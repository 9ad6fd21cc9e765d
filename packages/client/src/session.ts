import type { RtConnection, RtConnectionDestroyedReason, RtIceServer, RtSessionDescription, ServerMessage, SessionConnectedMessage } from '@tokhost/protocol';
import { deriveBaseKey, E2eeContext, hasEndToEndEncryptionSupport, invalidSecret, isValidEncryptionSecret } from './e2ee/context.js';
import { publishers, subscribers } from './collections.js';
import { ERRORS, OTError } from './errors.js';
import { EventEmitter } from './events.js';
import { raiseException } from './global-events.js';
import { Connection, Stream } from './models.js';
import { Publisher } from './publisher.js';
import type { PublisherProperties } from './publisher.js';
import { Subscriber } from './subscriber.js';
import type { SubscriberProperties } from './subscriber.js';
import { realtimeUrl, Transport } from './transport.js';
import type { OutgoingRequest } from './transport.js';

export interface SessionOptions {
  /** Tokhost server base URL, e.g. `https://video.example.com`. Default: where the SDK was loaded from. */
  serverUrl?: string;
  /**
   * OpenTok.js's option for large sessions: no `connectionCreated` / `connectionDestroyed`
   * events for other clients (the server then does not send them at all). Default false.
   */
  connectionEventsSuppressed?: boolean;
  /**
   * End-to-end encrypted sessions (`e2ee`): the shared secret, 8 to 256 characters, that every
   * client in the session uses to encrypt its media and decrypt the others'. Connecting to an
   * `e2ee` session without a valid one fails with `OT_INVALID_ENCRYPTION_SECRET`; in other
   * sessions it is ignored.
   */
  encryptionSecret?: string;
  /** OpenTok.js: your own TURN servers, as `session.setIceConfig(iceConfig)`. */
  iceConfig?: Parameters<Session['setIceConfig']>[0];
}

type Callback = (err?: OTError) => void;

/**
 * A session (OpenTok.js `Session`). Events: `sessionConnected`, `sessionDisconnected`,
 * `sessionReconnecting`, `sessionReconnected`, `connectionCreated`, `connectionDestroyed`,
 * `streamCreated`, `streamDestroyed`, `streamPropertyChanged`, `signal`, `signal:<type>`,
 * `muteForced`, `archiveStarted`, `archiveStopped` (`{id, name}`), `exception`.
 */
export class Session extends EventEmitter {
  readonly id: string;
  readonly sessionId: string;
  readonly apiKey: string;
  connection: Connection | undefined;
  readonly connections = new Map<string, Connection>();
  readonly streams = new Map<string, Stream>();
  capabilities = { publish: 0, subscribe: 0, forceDisconnect: 0, forceUnpublish: 0, forceMute: 0, supportsWebRTC: 1 };
  private transport: Transport | null = null;
  private ice: RtIceServer[] = [];
  private readonly publishers = new Map<string, Publisher>();
  private readonly subscribers = new Map<string, Subscriber>();
  /** How media is negotiated (from `sessionConnected`). */
  private mediaMode: 'routed' | 'relayed' = 'relayed';
  /** Router SDP/ICE for a subscriber whose ID we have not registered yet (same frame as the answer). */
  private readonly orphans = new Map<string, ServerMessage[]>();
  /** The encryption secret (OpenTok.js keeps it from `initSession` or `setEncryptionSecret`). */
  private secret: string | undefined;
  /** Set while connected to an `e2ee` session. */
  private e2ee: E2eeContext | undefined;

  constructor(
    apiKey: string,
    sessionId: string,
    private readonly options: SessionOptions & { serverUrl: string },
  ) {
    super();
    this.apiKey = String(apiKey);
    this.sessionId = sessionId;
    this.id = sessionId;
    this.secret = options.encryptionSecret;
    if (options.iceConfig) {
      void this.setIceConfig(options.iceConfig).catch((err: OTError) => {
        throw err;
      });
    }
    // OpenTok.js's `.promise` forms of the callback methods (`session.connect.promise(token)`).
    const connect = this.connect.bind(this);
    this.connect = Object.assign(connect, { promise: (token: string) => new Promise<Session>((resolve, reject) => void connect(token, (err) => (err ? reject(err) : resolve(this)))) });
    const publish = this.publish.bind(this);
    this.publish = Object.assign(publish, {
      promise: (publisherOrTarget?: Publisher | HTMLElement | string | null, properties?: PublisherProperties) =>
        new Promise<Publisher>((resolve, reject) => {
          const p: Publisher = properties ? publish(publisherOrTarget, properties, (err) => (err ? reject(err) : resolve(p))) : publish(publisherOrTarget, (err?: OTError) => (err ? reject(err) : resolve(p)));
        }),
    });
    const subscribe = this.subscribe.bind(this);
    this.subscribe = Object.assign(subscribe, {
      promise: (stream: Stream, target?: HTMLElement | string | null, properties?: SubscriberProperties) =>
        new Promise<Subscriber>((resolve, reject) => {
          const sub: Subscriber = subscribe(stream, target, properties ?? {}, (err) => (err ? reject(err) : resolve(sub)));
        }),
    });
  }

  /**
   * Change the end-to-end encryption secret (OpenTok.js `setEncryptionSecret`). Media is
   * re-keyed at once without renegotiation; frames under the previous secret still decrypt for
   * 10 s so everyone can switch. Rejects with `OT_INVALID_ENCRYPTION_SECRET` for a secret that
   * is not 8 to 256 characters. Before `connect()` (or in a session without `e2ee`) the secret
   * is only stored.
   *
   * @example
   * await session.setEncryptionSecret('the new shared secret');
   */
  setEncryptionSecret(secret: string): Promise<void> {
    if (!isValidEncryptionSecret(secret)) return Promise.reject(invalidSecret(typeof (secret as unknown) === 'string' ? `has ${(secret as string).length} characters` : 'is not a string'));
    this.secret = secret;
    return this.e2ee ? this.e2ee.setSecret(secret) : Promise.resolve();
  }

  private iceConfig: { includeServers: 'all' | 'custom'; customServers: RtIceServer[] } | undefined;

  /**
   * Add TURN servers of your own (OpenTok.js `setIceConfig`): `includeServers: 'all'` uses them
   * with Tokhost's, `'custom'` only them. Applies to peer connections created afterwards.
   * `transportPolicy: 'relay'` is not applied (see docs/client.md).
   */
  setIceConfig(iceConfig: { includeServers?: 'all' | 'custom'; transportPolicy?: 'all' | 'relay'; customServers?: { urls: string | string[]; username?: string; credential?: string }[] }): Promise<void> {
    if (typeof iceConfig !== 'object' || iceConfig === null) return Promise.reject(ERRORS.invalidParameter('setIceConfig: iceConfig must be an object'));
    const include = iceConfig.includeServers ?? 'all';
    if (include !== 'all' && include !== 'custom') return Promise.reject(ERRORS.invalidParameter("setIceConfig: includeServers must be 'all' or 'custom'"));
    const servers = iceConfig.customServers ?? [];
    if (!Array.isArray(servers) || servers.some((x) => !x || (typeof x.urls !== 'string' && !Array.isArray(x.urls)))) return Promise.reject(ERRORS.invalidParameter('setIceConfig: customServers must be a list of { urls, username?, credential? }'));
    this.iceConfig = { includeServers: include, customServers: servers.map((x) => ({ urls: x.urls, ...(x.username !== undefined ? { username: x.username } : {}), ...(x.credential !== undefined ? { credential: x.credential } : {}) }) as RtIceServer) };
    return Promise.resolve();
  }

  /** The ICE servers for a new peer connection: the server's, with `setIceConfig`'s. */
  private iceFor(base: RtIceServer[]): RtIceServer[] {
    const c = this.iceConfig;
    if (!c) return base;
    return c.includeServers === 'custom' ? c.customServers : [...base, ...c.customServers];
  }

  isConnected(): boolean {
    return this.transport?.state === 'connected' || this.transport?.state === 'reconnecting';
  }

  /**
   * Connect with a token. Emits `sessionConnected`, then `connectionCreated` for each client
   * already there and `streamCreated` for each stream already published.
   */
  connect(token: string, callback?: Callback): this {
    if (typeof token !== 'string' || token === '') {
      const e = new OTError('OT_AUTHENTICATION_ERROR', 1004, 'token must be a non-empty string');
      setTimeout(() => callback?.(e));
      return this;
    }
    if (this.transport && this.transport.state !== 'closed') {
      setTimeout(() => callback?.(ERRORS.connectFailed('the session is already connected or connecting')));
      return this;
    }
    // The key derivation (PBKDF2) runs while the socket connects; it is used if the session is e2ee.
    const encryption = isValidEncryptionSecret(this.secret) && hasEndToEndEncryptionSupport();
    const secretAtConnect = this.secret;
    let derived: Promise<ArrayBuffer> | undefined;
    if (encryption) {
      derived = deriveBaseKey(this.secret!, this.sessionId);
      derived.catch(() => undefined);
    }
    const transport = new Transport(
      realtimeUrl(this.options.serverUrl),
      { apiKey: this.apiKey, sessionId: this.sessionId, token, sdk: 'tokhost-client/0.1.0', ...(this.options.connectionEventsSuppressed === true ? { connectionEventsSuppressed: true } : {}), ...(encryption ? { encryption: true } : {}) },
      {
        message: (msg) => {
          // Messages in the same frame as `sessionConnected` wait until it has been handled.
          if (early) early.push(msg);
          else this.onMessage(msg);
        },
        reconnecting: () => this.emit('sessionReconnecting'),
        reconnected: () => this.emit('sessionReconnected'),
        rejoined: (msg) => this.rejoined(msg),
        lost: (reason) => this.teardown(reason),
      },
    );
    this.transport = transport;
    let early: ServerMessage[] | null = [];
    const unsupported = (err: unknown) => new OTError('OT_UNSUPPORTED_BROWSER', 1013, `end-to-end encryption could not start its worker: ${(err as Error).message}`, { cause: err });
    transport.connect().then(
      async (msg) => {
        this.connection = new Connection(msg.connection);
        this.ice = msg.iceServers;
        this.mediaMode = msg.mediaMode;
        if (msg.e2ee === true && !this.e2ee) {
          // The server admitted us with a valid secret and a capable browser (connect's `encryption`).
          // Messages after sessionConnected stay queued in `early` while the worker starts.
          try {
            this.e2ee = new E2eeContext(this.sessionId);
            await this.e2ee.started;
          } catch (err) {
            // E.g. a Content-Security-Policy without `worker-src blob:`: leave rather than send media in clear.
            const e = err instanceof OTError ? err : unsupported(err);
            this.e2ee?.close();
            this.e2ee = undefined;
            early = null;
            this.transport = null;
            void transport.disconnect();
            callback?.(e);
            raiseException(this, e);
            return;
          }
          if (this.transport !== transport) return;
          // Frames wait in the worker until this key is there (no gating of publish/subscribe).
          void this.e2ee.setSecret(this.secret!, this.secret === secretAtConnect ? derived : undefined).catch((err: Error) => raiseException(this, new OTError('OT_INVALID_ENCRYPTION_SECRET', 1011, `end-to-end encryption could not derive its key: ${err.message}`, { cause: err })));
        }
        const r = msg.role;
        const can = (ok: boolean) => (ok ? 1 : 0);
        this.capabilities = { publish: can(r !== 'subscriber'), subscribe: can(r !== 'publisheronly'), forceDisconnect: can(r === 'moderator'), forceUnpublish: can(r === 'moderator'), forceMute: can(r === 'moderator'), supportsWebRTC: 1 };
        this.connections.set(this.connection.connectionId, this.connection);
        const initial = msg.connections.map((c) => new Connection(c));
        for (const c of initial) this.connections.set(c.connectionId, c);
        const streams = msg.streams.map((s) => new Stream(s, this.connections.get(s.connection.connectionId) ?? new Connection(s.connection)));
        for (const s of streams) this.streams.set(s.streamId, s);
        callback?.();
        this.emit('sessionConnected', { connections: initial, streams });
        for (const c of initial) this.emit('connectionCreated', { connection: c });
        for (const s of streams) this.emit('streamCreated', { stream: s });
        const queued = early ?? [];
        early = null;
        for (const m of queued) this.onMessage(m);
      },
      (err: OTError) => {
        early = null;
        this.transport = null;
        callback?.(err);
        raiseException(this, err);
      },
    );
    return this;
  }

  /** Leave the session; emits `sessionDisconnected` with reason `clientDisconnected`. Resolves once left. */
  disconnect(): Promise<void> {
    const t = this.transport;
    if (!t) return Promise.resolve();
    return t.disconnect().then(() => this.teardown('clientDisconnected'));
  }

  /**
   * Publish a publisher (or create one from `target`/`properties`). Returns the publisher.
   */
  publish(publisherOrTarget?: Publisher | HTMLElement | string | null, propertiesOrCallback?: PublisherProperties | Callback, callback?: Callback): Publisher {
    let publisher: Publisher;
    let cb: Callback | undefined;
    if (publisherOrTarget instanceof Publisher) {
      publisher = publisherOrTarget;
      cb = typeof propertiesOrCallback === 'function' ? propertiesOrCallback : callback;
    } else {
      const props = typeof propertiesOrCallback === 'object' ? propertiesOrCallback : {};
      cb = typeof propertiesOrCallback === 'function' ? propertiesOrCallback : callback;
      publisher = new Publisher(publisherOrTarget, props);
      publishers.add(publisher);
    }
    const fail = (err: OTError) => {
      cb?.(err);
      raiseException(publisher, err);
    };
    if (!this.isConnected()) {
      setTimeout(() => fail(ERRORS.notConnected('publish')));
      return publisher;
    }
    void this.startPublishing(publisher, cb, fail);
    return publisher;
  }

  /** Offer (routed) and publish; shared by `publish()` and the republish after a failover. */
  private async startPublishing(publisher: Publisher, cb: Callback | undefined, fail: (err: OTError) => void): Promise<void> {
    if (!(await this.publishStream(publisher, fail))) return;
    // Outside the try: an error thrown by the app's callback is the app's (reported as uncaught,
    // as OpenTok.js does), not a failed publish.
    if (cb) {
      try {
        cb();
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  /** Offer (routed) and publish; false (after `fail`) when it did not work. */
  private async publishStream(publisher: Publisher, fail: (err: OTError) => void): Promise<boolean> {
    try {
      await publisher.ready;
      const d = publisher.describe();
      const host = { session: this, request: (b: OutgoingRequest) => this.request(b), connection: this.connection, e2ee: this.e2ee, propertyChanged: (stream: Stream, changedProperty: string, oldValue: unknown, newValue: unknown) => this.emit('streamPropertyChanged', { stream, changedProperty, oldValue, newValue }) };
      // Routed: the publisher offers to the server in the publish request itself.
      const offer = this.mediaMode === 'routed' ? await publisher.prepareRouted(this.iceFor(this.ice), host) : undefined;
      const fallback = offer && publisher.properties.audioFallback?.publisher === true;
      const r = await this.request({ type: 'publish', name: publisher.properties.name ?? '', ...d, ...(offer ? { offer } : {}), ...(fallback ? { audioFallback: true } : {}) });
      const rt = r['stream'] as Parameters<Publisher['attach']>[1];
      this.publishers.set(rt.streamId, publisher);
      publisher.unpublishHook = (p) => this.unpublish(p);
      publisher.attach(host, rt, r['forceMuted'] === true);
      const early = this.orphans.get(rt.streamId) ?? [];
      this.orphans.delete(rt.streamId);
      // A subscriber may join between the server's answer and this code running (same frame).
      for (const m of early) if (m.type === 'subscriberJoined') void publisher.addSubscriber(m.subscriberId, m.connection.connectionId, this.iceFor(m.iceServers)).catch((err: Error) => raiseException(publisher, ERRORS.unableToPublish(err.message, err)));
      if (offer) {
        for (const m of early) if (m.type === 'ice') void publisher.onRoutedIce(m.candidate).catch(() => undefined);
        await publisher.completeRouted(rt.streamId, r['answer'] as RtSessionDescription, host);
      }
      return true;
    } catch (err) {
      fail(err instanceof OTError ? err : ERRORS.unableToPublish((err as Error).message, err));
      return false;
    }
  }

  /**
   * Cluster failover (see Transport.rejoin): the node that held the session died and this client
   * joined the session again on its new node as a new connection. What the old node knew is gone:
   * the other clients' streams and connections end (`networkDisconnected`; they come back as they
   * rejoin), this client's publishers publish again (a new `streamCreated` on each), and
   * `sessionReconnected` fires, so an app that subscribes on `streamCreated` gets video back
   * without noticing more than a reconnection.
   */
  private rejoined(msg: SessionConnectedMessage): void {
    for (const s of [...this.streams.values()]) {
      if (this.publishers.has(s.streamId)) continue;
      this.streams.delete(s.streamId);
      const ev = this.emit('streamDestroyed', { stream: s, reason: 'networkDisconnected' }, true);
      for (const sub of this.getSubscribersForStream(s)) {
        if (sub.subscriberId) this.subscribers.delete(sub.subscriberId);
        if (!ev.isDefaultPrevented()) sub.close('networkDisconnected');
      }
    }
    for (const sub of this.subscribers.values()) sub.close('networkDisconnected');
    this.subscribers.clear();
    this.orphans.clear();
    for (const c of [...this.connections.values()]) {
      if (c === this.connection) continue;
      this.connections.delete(c.connectionId);
      this.emit('connectionDestroyed', { connection: c, reason: 'networkDisconnected' });
    }
    this.connections.clear();
    this.streams.clear();
    this.connection = new Connection(msg.connection);
    this.ice = msg.iceServers;
    this.mediaMode = msg.mediaMode;
    this.connections.set(this.connection.connectionId, this.connection);
    const publishers = [...this.publishers.values()];
    this.publishers.clear();
    this.emit('sessionReconnected');
    for (const rt of msg.connections) {
      const c = new Connection(rt);
      this.connections.set(c.connectionId, c);
      this.emit('connectionCreated', { connection: c });
    }
    for (const rt of msg.streams) {
      const s = new Stream(rt, this.connections.get(rt.connection.connectionId) ?? new Connection(rt.connection));
      this.streams.set(s.streamId, s);
      this.emit('streamCreated', { stream: s });
    }
    for (const p of publishers) {
      p.unpublishHook = undefined;
      p.resetForRepublish();
      void this.startPublishing(p, undefined, (err) => raiseException(p, err));
    }
  }

  /** Stop publishing; the publisher's `streamDestroyed` fires with reason `unpublished`. */
  unpublish(publisher: Publisher): void {
    const streamId = publisher.stream?.streamId;
    if (!streamId) return;
    this.publishers.delete(streamId);
    publisher.unpublishHook = undefined;
    void this.request({ type: 'unpublish', streamId }).catch(() => undefined);
    publisher.detach('unpublished');
  }

  /** Subscribe to a stream; `callback` runs once media flows (or with the error). */
  subscribe(stream: Stream, target?: HTMLElement | string | null, properties?: SubscriberProperties | Callback, callback?: Callback): Subscriber {
    const props = typeof properties === 'object' && properties !== null ? properties : {};
    const cb = typeof properties === 'function' ? properties : callback;
    if (!(stream instanceof Stream)) throw ERRORS.invalidParameter('stream must be a Stream from a streamCreated event');
    const sub = new Subscriber(stream, { request: (b) => this.request(b), iceServers: () => this.iceFor(this.ice), e2ee: () => this.e2ee }, target, props, cb);
    subscribers.add(sub);
    if (!this.isConnected()) {
      setTimeout(() => cb?.(ERRORS.notConnected('subscribe')));
      return sub;
    }
    void sub.start().then(() => {
      if (!sub.subscriberId) return;
      this.subscribers.set(sub.subscriberId, sub);
      const early = this.orphans.get(sub.subscriberId) ?? [];
      this.orphans.delete(sub.subscriberId);
      for (const m of early) this.onMessage(m);
    });
    return sub;
  }

  unsubscribe(subscriber: Subscriber): void {
    if (subscriber.subscriberId) {
      this.subscribers.delete(subscriber.subscriberId);
      void this.request({ type: 'unsubscribe', subscriberId: subscriber.subscriberId }).catch(() => undefined);
    }
    subscriber.close('unsubscribed');
  }

  getPublisherForStream(stream: Stream): Publisher | undefined {
    return this.publishers.get(stream.streamId);
  }

  getSubscribersForStream(stream: Stream): Subscriber[] {
    return [...this.subscribers.values()].filter((s) => s.stream.streamId === stream.streamId);
  }

  /**
   * Send a signal to the session or, with `to` (a Connection), to one client. `type` ≤ 128
   * characters, `data` ≤ 8 kB; larger ones fail with code 413.
   */
  signal(signal: { type?: string; data?: string; to?: Connection | { connectionId: string } }, callback?: Callback): Promise<void> {
    const req: OutgoingRequest = { type: 'signal', ...(signal.type !== undefined ? { signalType: signal.type } : {}), ...(signal.data !== undefined ? { data: signal.data } : {}), ...(signal.to ? { to: signal.to.connectionId } : {}) };
    return this.settle(this.request(req), callback);
  }

  /** Moderators: disconnect a client (`connectionDestroyed` reason `forceDisconnected`). */
  forceDisconnect(connection: Connection | string, callback?: Callback): Promise<void> {
    const connectionId = typeof connection === 'string' ? connection : connection.connectionId;
    return this.settle(this.request({ type: 'forceDisconnect', connectionId }), callback);
  }

  /** Moderators: stop a stream (`streamDestroyed` reason `forceUnpublished`). */
  forceUnpublish(stream: Stream | string, callback?: Callback): Promise<void> {
    const streamId = typeof stream === 'string' ? stream : stream.streamId;
    return this.settle(this.request({ type: 'forceUnpublish', streamId }), callback);
  }

  /** Moderators: mute one stream's audio. Returns a promise, like OpenTok.js. */
  forceMuteStream(stream: Stream | string): Promise<void> {
    const streamId = typeof stream === 'string' ? stream : stream.streamId;
    return this.request({ type: 'forceMuteStream', streamId }).then(() => undefined);
  }

  /** Moderators: mute every stream but the excluded ones; later publishers join muted. */
  forceMuteAll(excludedStreams: (Stream | string)[] = []): Promise<void> {
    return this.request({ type: 'forceMuteAll', excludedStreamIds: excludedStreams.map((s) => (typeof s === 'string' ? s : s.streamId)) }).then(() => undefined);
  }

  disableForceMute(): Promise<void> {
    return this.request({ type: 'disableForceMute' }).then(() => undefined);
  }

  /** OpenTok.js's dual style: the callback gets `(err)`, the returned Promise settles alike. */
  private settle(p: Promise<unknown>, cb?: Callback): Promise<void> {
    const done = p.then(() => undefined);
    done.then(
      () => cb?.(),
      (err: OTError) => cb?.(err),
    );
    return done;
  }

  private request(body: OutgoingRequest): Promise<Record<string, unknown>> {
    if (!this.transport) return Promise.reject(ERRORS.notConnected(body.type));
    return this.transport.request(body);
  }

  /** @internal Test hook: drop the WebSocket as a network failure would (the session resumes). */
  dropSocketForTesting(): void {
    this.transport?.dropSocketForTesting();
  }

  private connectionDestroyed(rt: RtConnection, reason: RtConnectionDestroyedReason): void {
    const c = this.connections.get(rt.connectionId) ?? new Connection(rt);
    this.connections.delete(c.connectionId);
    this.emit('connectionDestroyed', { connection: c, reason });
  }

  private onMessage(msg: ServerMessage): void {
    switch (msg.type) {
      case 'connectionCreated': {
        const c = new Connection(msg.connection);
        this.connections.set(c.connectionId, c);
        this.emit('connectionCreated', { connection: c });
        return;
      }
      case 'connectionsCreated': {
        for (const rt of msg.connections) {
          const c = new Connection(rt);
          this.connections.set(c.connectionId, c);
          this.emit('connectionCreated', { connection: c });
        }
        return;
      }
      case 'connectionDestroyed':
        this.connectionDestroyed(msg.connection, msg.reason);
        return;
      case 'connectionsDestroyed':
        for (const d of msg.destroyed) this.connectionDestroyed(d.connection, d.reason);
        return;
      case 'streamCreated': {
        const s = new Stream(msg.stream, this.connections.get(msg.stream.connection.connectionId) ?? new Connection(msg.stream.connection));
        this.streams.set(s.streamId, s);
        this.emit('streamCreated', { stream: s });
        return;
      }
      case 'streamDestroyed': {
        const id = msg.stream.streamId;
        const own = this.publishers.get(id);
        if (own) {
          this.publishers.delete(id);
          own.unpublishHook = undefined;
          own.detach(msg.reason);
          return;
        }
        const s = this.streams.get(id) ?? new Stream(msg.stream, new Connection(msg.stream.connection));
        this.streams.delete(id);
        const ev = this.emit('streamDestroyed', { stream: s, reason: msg.reason }, true);
        for (const sub of this.getSubscribersForStream(s)) {
          if (sub.subscriberId) this.subscribers.delete(sub.subscriberId);
          if (!ev.isDefaultPrevented()) sub.close(msg.reason);
        }
        return;
      }
      case 'streamPropertyChanged': {
        const s = this.streams.get(msg.streamId);
        if (!s) return;
        s.update(msg.stream);
        this.emit('streamPropertyChanged', { stream: s, changedProperty: msg.changedProperty, oldValue: msg.oldValue, newValue: msg.newValue });
        if (msg.changedProperty === 'hasVideo') {
          for (const sub of this.getSubscribersForStream(s)) sub.emit(msg.newValue ? 'videoEnabled' : 'videoDisabled', { reason: 'publishVideo' });
        }
        return;
      }
      case 'streamClassListChanged': {
        this.streams.get(msg.stream.streamId)?.update(msg.stream);
        return;
      }
      case 'signal': {
        const from = msg.from ? (this.connections.get(msg.from.connectionId) ?? new Connection(msg.from)) : null;
        // Like OpenTok.js, `event.type` is `signal:<type>` for typed signals (on both listeners).
        const props = { type: msg.signalType ? `signal:${msg.signalType}` : 'signal', data: msg.data, from };
        if (msg.signalType) this.emit(`signal:${msg.signalType}`, props);
        this.emit('signal', props);
        return;
      }
      case 'subscriberJoined': {
        const p = this.publishers.get(msg.streamId);
        if (p) void p.addSubscriber(msg.subscriberId, msg.connection.connectionId, this.iceFor(msg.iceServers)).catch((err: Error) => raiseException(p, ERRORS.unableToPublish(err.message, err)));
        // Our publish answer may still be on its way to `startPublishing`: keep it briefly.
        else if (this.orphans.size < 64) this.orphans.set(msg.streamId, [...(this.orphans.get(msg.streamId) ?? []), msg].slice(-200));
        return;
      }
      case 'sdp':
      case 'ice': {
        // `end` is the sender's end: a publisher's message goes to our subscriber, and vice versa.
        if (msg.end === 'subscriber') {
          const p = [...this.publishers.values()].find((x) => x.hasPeer(msg.peerId));
          if (!p) return;
          void (msg.type === 'sdp' ? p.onSdp(msg.peerId, msg.description) : p.onIce(msg.peerId, msg.candidate)).catch(() => undefined);
        } else {
          const own = msg.end === 'server' ? [...this.publishers.values()].find((x) => x.stream?.streamId === msg.peerId) : undefined;
          if (own) {
            if (msg.type === 'ice') void own.onRoutedIce(msg.candidate).catch(() => undefined);
            return;
          }
          const sub = this.subscribers.get(msg.peerId);
          if (!sub) {
            // The subscribe answer and the router's offer can share a frame: keep it briefly.
            if (this.orphans.size < 64) this.orphans.set(msg.peerId, [...(this.orphans.get(msg.peerId) ?? []), msg].slice(-200));
            return;
          }
          void (msg.type === 'sdp' ? sub.onSdp(msg.description) : sub.onIce(msg.candidate)).catch(() => undefined);
        }
        return;
      }
      case 'peerClosed': {
        for (const p of this.publishers.values()) if (p.hasPeer(msg.peerId)) p.removeSubscriber(msg.peerId);
        return;
      }
      case 'muteForced': {
        if (msg.active && msg.streamId) {
          const p = this.publishers.get(msg.streamId);
          p?.publishAudio(false);
          // OpenTok.js: the muted publisher and its session both dispatch muteForced.
          p?.emit('muteForced');
          this.emit('muteForced', { stream: p?.stream, active: true });
        }
        return;
      }
      case 'archiveStarted':
      case 'archiveStopped': {
        // OpenTok.js: ArchiveEvent with `id` and `name` on the session.
        this.emit(msg.type, { id: msg.id, name: msg.name });
        return;
      }
      case 'forceMuteState': {
        // OpenTok.js has one event for both: `active` false once `disableForceMute()` ended it.
        this.emit('muteForced', { active: msg.active });
        return;
      }
      case 'captionReceived': {
        // Live captions of the stream (`subscribeToCaptions(true)`), as OpenTok.js raises them.
        const sub = this.subscribers.get(msg.subscriberId);
        sub?.emit('captionReceived', { streamId: msg.streamId, caption: msg.caption, isFinal: msg.isFinal });
        return;
      }
      case 'subscriberQuality': {
        // Routed sessions: the router's audio fallback (OpenTok.js raises these on the Subscriber).
        const sub = this.subscribers.get(msg.subscriberId);
        if (!sub) return;
        if (msg.event === 'videoDisabled' || msg.event === 'videoEnabled') sub.emit(msg.event, { reason: 'quality' });
        else if (msg.event === 'videoDisableWarning' || msg.event === 'videoDisableWarningLifted') sub.emit(msg.event);
        return;
      }
      case 'publisherQuality': {
        // Routed sessions: the router's publisher audio fallback (OpenTok.js raises these on the Publisher).
        void this.publishers.get(msg.streamId)?.onQuality(msg.event);
        return;
      }
      case 'disconnected':
        // The socket closes right after; `lost` reports it.
        return;
      default:
        return;
    }
  }

  private teardown(reason: 'networkDisconnected' | 'forceDisconnected' | 'clientDisconnected'): void {
    if (!this.transport) return;
    this.transport = null;
    this.e2ee?.close();
    this.e2ee = undefined;
    for (const p of [...this.publishers.values()]) {
      p.unpublishHook = undefined;
      p.detach(reason);
    }
    this.publishers.clear();
    for (const s of this.subscribers.values()) s.close(reason);
    this.subscribers.clear();
    this.streams.clear();
    this.connections.clear();
    this.emit('sessionDisconnected', { reason }, true);
  }
}
