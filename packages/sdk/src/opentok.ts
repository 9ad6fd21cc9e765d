/**
 * The `OpenTok` facade: one object holding the transport and one service per resource, exposing
 * the method names and argument orders of the official SDKs. Every REST method returns a Promise
 * and also accepts a trailing Node-style callback, so it can replace the `opentok` npm package.
 */
import { DTMF_PATTERN } from '@tokhost/protocol';
import type { LayoutType, ScreenshareLayoutType } from '@tokhost/protocol';
import { ArchiveService } from './archives.js';
import type { Archive, ArchiveList, ArchiveOptions } from './archives.js';
import { AudioConnectorService } from './audio-connector.js';
import type { AudioConnection, WebsocketConnectOptions } from './audio-connector.js';
import { ApplicationSigner, credentialKind, TokenSigner } from './auth.js';
import type { Signer } from './auth.js';
import { BroadcastService } from './broadcasts.js';
import type { Broadcast, BroadcastList, BroadcastOptions, ListBroadcastsOptions } from './broadcasts.js';
import { popCallback, settle } from './callback.js';
import type { Callback } from './callback.js';
import { CaptionsService } from './captions.js';
import type { CaptionsOptions } from './captions.js';
import type { ListArchivesOptions, StreamSelectionOptions } from './composition.js';
import {
  ArchiveError,
  ArgumentError,
  AuthError,
  CaptionsError,
  ForceDisconnectError,
  NotFoundError,
  OpenTokError,
  RequestError,
  SignalError,
  SipError,
} from './errors.js';
import { ModerationService } from './moderation.js';
import type { ConnectionList, ForceMuteAllOptions } from './moderation.js';
import { CallbackService } from './registered-callbacks.js';
import type { CallbackOptions, RegisteredCallback } from './registered-callbacks.js';
import { RenderService } from './renders.js';
import type { ListRendersOptions, Render, RenderList, RenderOptions } from './renders.js';
import { SessionService } from './sessions.js';
import type { Session, SessionOptions } from './sessions.js';
import { SignalService } from './signals.js';
import type { SignalPayload } from './signals.js';
import { SipService } from './sip.js';
import type { DialOptions, SipCall } from './sip.js';
import { StreamService } from './streams.js';
import type { Stream, StreamClassList, StreamProperties } from './streams.js';
import { TokenGenerator } from './tokens.js';
import type { TokenOptions } from './tokens.js';
import { Transport } from './transport.js';
import type { FetchLike } from './transport.js';
import type { Layout } from './validate.js';

/** Options of the `OpenTok` constructor. */
export interface OpenTokOptions {
  /**
   * Base URL of the REST API. Default `https://api.opentok.com` (the OpenTok cloud), or
   * `https://video.api.vonage.com` with application credentials; use your Tokhost server's URL,
   * e.g. `http://127.0.0.1:3000`, to talk to it instead.
   */
  apiUrl?: string;
  /** Timeout of each REST request in milliseconds, body included. Default 20000. */
  timeout?: number;
  /** Appended to the `User-Agent` header (`OpenTok-Node-SDK/2.23.1 (compatible; Tokhost-Node-SDK/<version>) <uaAddendum>`). */
  uaAddendum?: string;
  /** A `fetch` implementation to use instead of the global one (tests, proxies). */
  fetch?: FetchLike;
}

/** Callback of the list methods: opentok-node passes the items and the total count separately. */
export type ListCallback<T> = (err: Error | null, items?: T[], totalCount?: number) => void;

const DEFAULT_API_URL = 'https://api.opentok.com';
/** Where opentok-node 2.23 sends the calls of application credentials. */
const VONAGE_API_URL = 'https://video.api.vonage.com';
const DEFAULT_TIMEOUT_MS = 20_000;

function layoutFrom(args: unknown[]): Layout {
  const [first, stylesheet, screenshareType] = args;
  if (first !== null && typeof first === 'object') return first as Layout;
  // opentok-node form: (type, stylesheet?, screenshareType?), falsy stylesheet/screenshareType dropped.
  const layout: Record<string, unknown> = { type: first };
  if (stylesheet) layout['stylesheet'] = stylesheet;
  if (screenshareType) layout['screenshareType'] = screenshareType;
  return layout as unknown as Layout;
}

/**
 * Client of the OpenTok server REST API, for Tokhost servers and the OpenTok cloud alike.
 *
 * Two kinds of credentials, told apart like opentok-node 2.23 does: a project's API key and secret
 * (HS256 JWTs, `X-OPENTOK-AUTH`), or an application ID (a UUID) and its RSA private key in PEM
 * (RS256 JWTs, `Authorization: Bearer`, client tokens signed with the key), as Vonage accounts have.
 *
 * @example
 * import OpenTok from '@tokhost/sdk';
 * const ot = new OpenTok(apiKey, apiSecret, { apiUrl: 'http://127.0.0.1:3000' });
 * const session = await ot.createSession({ mediaMode: 'routed' });
 * const token = ot.generateToken(session.sessionId, { role: 'moderator' });
 *
 * @example
 * // application credentials (opentok-node's Vonage mode)
 * const app = new OpenTok('0c5a3b6e-…', fs.readFileSync('private.key', 'utf8'), { apiUrl: 'http://127.0.0.1:3000' });
 */
export class OpenTok {
  static OpenTokError = OpenTokError;
  static ArgumentError = ArgumentError;
  static AuthError = AuthError;
  static NotFoundError = NotFoundError;
  static ArchiveError = ArchiveError;
  static SignalError = SignalError;
  static ForceDisconnectError = ForceDisconnectError;
  static SipError = SipError;
  static RequestError = RequestError;
  static CaptionsError = CaptionsError;

  /** The API key (project ID) as a string, or the application ID. */
  readonly apiKey: string;
  /** The API secret, or the application's private key (PEM). */
  readonly apiSecret: string;
  /** Base URL of the REST API, without a trailing slash. */
  readonly apiUrl: string;

  /** Session creation. */
  readonly sessions: SessionService;
  /** Archive operations. */
  readonly archives: ArchiveService;
  /** Broadcast operations. */
  readonly broadcasts: BroadcastService;
  /** Stream queries and layout classes. */
  readonly streams: StreamService;
  /** Disconnect, force-mute, list connections. */
  readonly moderation: ModerationService;
  /** Signals. */
  readonly signals: SignalService;
  /** SIP dial-out and DTMF. */
  readonly sip: SipService;
  /** Audio Connector (WebSocket). */
  readonly audioConnector: AudioConnectorService;
  /** Live captions. */
  readonly captions: CaptionsService;
  /** Experience Composer renders. */
  readonly renders: RenderService;
  /** Legacy REST callback registration. */
  readonly callbacks: CallbackService;
  /**
   * The settings in effect, read-only, where opentok-node keeps them (`client.c`): code written
   * for it may read `client.c.apiUrl` or `client.c.request.timeout` (ms). Not a way to change them.
   */
  readonly client: { readonly c: { readonly apiKey: string; readonly apiUrl: string; readonly request: { readonly timeout: number } } };
  readonly #tokens: TokenGenerator;
  readonly #signer: Signer;

  /**
   * @param apiKey Project API key (a number is converted to a string), or an application ID (UUID).
   * @param apiSecret Project API secret, or the application's RSA private key (PEM, PKCS#8 or PKCS#1).
   * @param options Options, or (opentok-node style) the API URL as a string.
   * @throws {ArgumentError} for a missing key/secret, an unreadable private key or an invalid option.
   */
  constructor(apiKey: string | number, apiSecret: string, options?: OpenTokOptions | string) {
    if (typeof apiKey === 'number' && Number.isFinite(apiKey)) apiKey = String(apiKey);
    if (typeof apiKey !== 'string' || apiKey.length === 0) throw new ArgumentError('apiKey must be a non-empty string or a number');
    if (typeof apiSecret !== 'string' || apiSecret.length === 0) throw new ArgumentError('apiSecret must be a non-empty string');
    const o: OpenTokOptions = typeof options === 'string' ? { apiUrl: options } : (options ?? {});
    if (typeof o !== 'object') throw new ArgumentError('options must be an object or an API URL string');
    const application = credentialKind(apiKey, apiSecret) === 'application';
    const apiUrl = o.apiUrl ?? (application ? VONAGE_API_URL : DEFAULT_API_URL);
    if (typeof apiUrl !== 'string' || !/^https?:\/\/[^/]/i.test(apiUrl)) throw new ArgumentError('apiUrl must be an http(s) URL');
    const timeout = o.timeout ?? DEFAULT_TIMEOUT_MS;
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) throw new ArgumentError('timeout must be a positive number of milliseconds');
    if (o.uaAddendum !== undefined && typeof o.uaAddendum !== 'string') throw new ArgumentError('uaAddendum must be a string');
    const fetchImpl = o.fetch ?? (globalThis.fetch as unknown as FetchLike | undefined);
    if (typeof fetchImpl !== 'function') throw new ArgumentError('fetch must be a function (no global fetch is available)');

    this.apiKey = apiKey;
    this.apiSecret = apiSecret;
    const signer = application ? new ApplicationSigner(apiKey, apiSecret) : new TokenSigner(apiKey, apiSecret);
    this.#signer = signer;
    const transport = new Transport({ apiUrl, timeout, uaAddendum: o.uaAddendum, fetch: fetchImpl, signer });
    this.apiUrl = transport.apiUrl;
    this.client = Object.freeze({ c: Object.freeze({ apiKey, apiUrl: transport.apiUrl, request: Object.freeze({ timeout }) }) });
    this.#tokens = new TokenGenerator(apiKey, signer);
    this.sessions = new SessionService(transport, (sid, opts) => this.#tokens.generate(sid, opts));
    this.archives = new ArchiveService(transport, apiKey);
    this.broadcasts = new BroadcastService(transport, apiKey);
    this.streams = new StreamService(transport, apiKey);
    this.moderation = new ModerationService(transport, apiKey);
    this.signals = new SignalService(transport, apiKey);
    this.sip = new SipService(transport, apiKey);
    this.audioConnector = new AudioConnectorService(transport, apiKey);
    this.captions = new CaptionsService(transport, apiKey);
    this.renders = new RenderService(transport, apiKey);
    this.callbacks = new CallbackService(transport, apiKey);
  }

  // ── sessions and tokens ────────────────────────────────────────────────────────────────────

  /**
   * Create a session (`POST /session/create`).
   * @example const { sessionId } = await ot.createSession({ mediaMode: 'routed', archiveMode: 'always' });
   */
  createSession(options?: SessionOptions): Promise<Session>;
  createSession(callback: Callback<Session>): void;
  createSession(options: SessionOptions | undefined, callback: Callback<Session>): void;
  createSession(...args: unknown[]): Promise<Session> | void {
    const cb = popCallback(args);
    return settle(this.sessions.create(args[0] as SessionOptions | undefined), cb);
  }

  /**
   * Generate a client token locally (no request). JWT by default; a legacy `T1==` token with
   * `{ format: 't1' }` or, as in opentok-node, `true` as the third argument.
   * @throws {ArgumentError} when the session is not this key's or an option is invalid.
   * @example const token = ot.generateToken(sessionId, { role: 'subscriber', data: 'name=Ann' });
   */
  generateToken(sessionId: string, options?: TokenOptions, legacyT1?: boolean): string {
    return this.#tokens.generate(sessionId, options, legacyT1 === true);
  }

  /**
   * A fresh REST JWT, the one the SDK sends with each request: HS256 with claims `iss`, `ist`,
   * `iat`, `exp` (5 minutes), `jti` for key/secret credentials; RS256 with `application_id` added
   * for application credentials (send it as `Authorization: Bearer <jwt>` then). For calling REST
   * endpoints the SDK has no method for.
   * @example await fetch(`${ot.apiUrl}/v2/project/${ot.apiKey}/…`, { headers: { 'X-OPENTOK-AUTH': ot.generateJwt() } });
   */
  generateJwt(): string {
    return this.#signer.projectJwt();
  }

  // ── archives ───────────────────────────────────────────────────────────────────────────────

  /** Start recording a routed session. */
  startArchive(sessionId: string, options?: ArchiveOptions): Promise<Archive>;
  startArchive(sessionId: string, callback: Callback<Archive>): void;
  startArchive(sessionId: string, options: ArchiveOptions | undefined, callback: Callback<Archive>): void;
  startArchive(sessionId: string, ...args: unknown[]): Promise<Archive> | void {
    const cb = popCallback(args);
    return settle(this.archives.start(sessionId, args[0] as ArchiveOptions | undefined), cb);
  }

  /** Stop a recording archive. */
  stopArchive(archiveId: string): Promise<Archive>;
  stopArchive(archiveId: string, callback: Callback<Archive>): void;
  stopArchive(archiveId: string, callback?: Callback<Archive>): Promise<Archive> | void {
    return settle(this.archives.stop(archiveId), callback);
  }

  /** Get one archive. */
  getArchive(archiveId: string): Promise<Archive>;
  getArchive(archiveId: string, callback: Callback<Archive>): void;
  getArchive(archiveId: string, callback?: Callback<Archive>): Promise<Archive> | void {
    return settle(this.archives.get(archiveId), callback);
  }

  /** Delete an archive (status `available`, `uploaded` or `deleted`). */
  deleteArchive(archiveId: string): Promise<void>;
  deleteArchive(archiveId: string, callback: Callback<void>): void;
  deleteArchive(archiveId: string, callback?: Callback<void>): Promise<void> | void {
    return settle(this.archives.delete(archiveId), callback);
  }

  /**
   * List archives, newest first. Resolves `{ items, totalCount }`; a callback gets
   * `(err, items, totalCount)` as in opentok-node. Also accepts `(offset, count, sessionId)`.
   */
  listArchives(options?: ListArchivesOptions): Promise<ArchiveList>;
  listArchives(offset: number, count?: number, sessionId?: string): Promise<ArchiveList>;
  listArchives(callback: ListCallback<Archive>): void;
  listArchives(options: ListArchivesOptions | undefined, callback: ListCallback<Archive>): void;
  listArchives(...args: unknown[]): Promise<ArchiveList> | void {
    const cb = popCallback(args);
    return settle(this.archives.list(listOptionsFrom(args)), cb, (r) => [r.items, r.totalCount]);
  }

  /** Add a stream to a manual-mode archive. */
  addArchiveStream(archiveId: string, streamId: string, options?: StreamSelectionOptions): Promise<void>;
  addArchiveStream(archiveId: string, streamId: string, callback: Callback<void>): void;
  addArchiveStream(archiveId: string, streamId: string, options: StreamSelectionOptions | undefined, callback: Callback<void>): void;
  addArchiveStream(archiveId: string, streamId: string, ...args: unknown[]): Promise<void> | void {
    const cb = popCallback(args);
    return settle(this.archives.addStream(archiveId, streamId, args[0] as StreamSelectionOptions | undefined), cb);
  }

  /** Remove a stream from a manual-mode archive. */
  removeArchiveStream(archiveId: string, streamId: string): Promise<void>;
  removeArchiveStream(archiveId: string, streamId: string, callback: Callback<void>): void;
  removeArchiveStream(archiveId: string, streamId: string, callback?: Callback<void>): Promise<void> | void {
    return settle(this.archives.removeStream(archiveId, streamId), callback);
  }

  /** Change a composed archive's layout: `(id, {type, stylesheet, screenshareType})` or opentok-node's `(id, type, stylesheet?, screenshareType?)`. */
  setArchiveLayout(archiveId: string, layout: Layout): Promise<void>;
  setArchiveLayout(archiveId: string, type: LayoutType, stylesheet?: string | null, screenshareType?: ScreenshareLayoutType | null): Promise<void>;
  setArchiveLayout(archiveId: string, layout: Layout, callback: Callback<void>): void;
  setArchiveLayout(archiveId: string, type: LayoutType, callback: Callback<void>): void;
  setArchiveLayout(archiveId: string, type: LayoutType, stylesheet: string | null | undefined, callback: Callback<void>): void;
  setArchiveLayout(
    archiveId: string,
    type: LayoutType,
    stylesheet: string | null | undefined,
    screenshareType: ScreenshareLayoutType | null | undefined,
    callback: Callback<void>,
  ): void;
  setArchiveLayout(archiveId: string, ...args: unknown[]): Promise<void> | void {
    const cb = popCallback(args);
    return settle(this.archives.setLayout(archiveId, layoutFrom(args)), cb);
  }

  // ── broadcasts ─────────────────────────────────────────────────────────────────────────────

  /** Start a live-streaming broadcast (HLS and/or RTMP). */
  startBroadcast(sessionId: string, options: BroadcastOptions): Promise<Broadcast>;
  startBroadcast(sessionId: string, options: BroadcastOptions, callback: Callback<Broadcast>): void;
  startBroadcast(sessionId: string, options: BroadcastOptions, callback?: Callback<Broadcast>): Promise<Broadcast> | void {
    return settle(this.broadcasts.start(sessionId, options), callback);
  }

  /** Stop a broadcast. */
  stopBroadcast(broadcastId: string): Promise<Broadcast>;
  stopBroadcast(broadcastId: string, callback: Callback<Broadcast>): void;
  stopBroadcast(broadcastId: string, callback?: Callback<Broadcast>): Promise<Broadcast> | void {
    return settle(this.broadcasts.stop(broadcastId), callback);
  }

  /** Get one broadcast. */
  getBroadcast(broadcastId: string): Promise<Broadcast>;
  getBroadcast(broadcastId: string, callback: Callback<Broadcast>): void;
  getBroadcast(broadcastId: string, callback?: Callback<Broadcast>): Promise<Broadcast> | void {
    return settle(this.broadcasts.get(broadcastId), callback);
  }

  /** List broadcasts. Resolves `{ items, totalCount }`; a callback gets `(err, items, totalCount)`. */
  listBroadcasts(options?: ListBroadcastsOptions): Promise<BroadcastList>;
  listBroadcasts(offset: number, count?: number, sessionId?: string): Promise<BroadcastList>;
  listBroadcasts(callback: ListCallback<Broadcast>): void;
  listBroadcasts(options: ListBroadcastsOptions | undefined, callback: ListCallback<Broadcast>): void;
  listBroadcasts(...args: unknown[]): Promise<BroadcastList> | void {
    const cb = popCallback(args);
    return settle(this.broadcasts.list(listOptionsFrom(args)), cb, (r) => [r.items, r.totalCount]);
  }

  /** Change a broadcast's layout: `(id, layout)` or `(id, type, stylesheet?, screenshareType?)`. */
  updateBroadcastLayout(broadcastId: string, layout: Layout): Promise<void>;
  updateBroadcastLayout(broadcastId: string, type: LayoutType, stylesheet?: string | null, screenshareType?: ScreenshareLayoutType | null): Promise<void>;
  updateBroadcastLayout(broadcastId: string, layout: Layout, callback: Callback<void>): void;
  updateBroadcastLayout(broadcastId: string, type: LayoutType, callback: Callback<void>): void;
  updateBroadcastLayout(broadcastId: string, type: LayoutType, stylesheet: string | null | undefined, callback: Callback<void>): void;
  updateBroadcastLayout(
    broadcastId: string,
    type: LayoutType,
    stylesheet: string | null | undefined,
    screenshareType: ScreenshareLayoutType | null | undefined,
    callback: Callback<void>,
  ): void;
  updateBroadcastLayout(broadcastId: string, ...args: unknown[]): Promise<void> | void {
    const cb = popCallback(args);
    return settle(this.broadcasts.setLayout(broadcastId, layoutFrom(args)), cb);
  }

  /** opentok-node's name for {@link OpenTok.updateBroadcastLayout}. */
  setBroadcastLayout(broadcastId: string, layout: Layout): Promise<void>;
  setBroadcastLayout(broadcastId: string, type: LayoutType, stylesheet?: string | null, screenshareType?: ScreenshareLayoutType | null): Promise<void>;
  setBroadcastLayout(broadcastId: string, layout: Layout, callback: Callback<void>): void;
  setBroadcastLayout(broadcastId: string, type: LayoutType, callback: Callback<void>): void;
  setBroadcastLayout(broadcastId: string, type: LayoutType, stylesheet: string | null | undefined, callback: Callback<void>): void;
  setBroadcastLayout(
    broadcastId: string,
    type: LayoutType,
    stylesheet: string | null | undefined,
    screenshareType: ScreenshareLayoutType | null | undefined,
    callback: Callback<void>,
  ): void;
  setBroadcastLayout(broadcastId: string, ...args: unknown[]): Promise<void> | void {
    const cb = popCallback(args);
    return settle(this.broadcasts.setLayout(broadcastId, layoutFrom(args)), cb);
  }

  /** Add a stream to a manual-mode broadcast (`hasAudio`/`hasVideo` default `true`; `false` is honoured). */
  addBroadcastStream(broadcastId: string, streamId: string, options?: StreamSelectionOptions): Promise<void>;
  addBroadcastStream(broadcastId: string, streamId: string, callback: Callback<void>): void;
  addBroadcastStream(broadcastId: string, streamId: string, options: StreamSelectionOptions | undefined, callback: Callback<void>): void;
  addBroadcastStream(broadcastId: string, streamId: string, ...args: unknown[]): Promise<void> | void {
    const cb = popCallback(args);
    return settle(this.broadcasts.addStream(broadcastId, streamId, args[0] as StreamSelectionOptions | undefined), cb);
  }

  /** Remove a stream from a manual-mode broadcast. */
  removeBroadcastStream(broadcastId: string, streamId: string): Promise<void>;
  removeBroadcastStream(broadcastId: string, streamId: string, callback: Callback<void>): void;
  removeBroadcastStream(broadcastId: string, streamId: string, callback?: Callback<void>): Promise<void> | void {
    return settle(this.broadcasts.removeStream(broadcastId, streamId), callback);
  }

  // ── streams ────────────────────────────────────────────────────────────────────────────────

  /** Set one stream's layout classes. */
  updateStream(sessionId: string, streamId: string, properties: StreamProperties): Promise<void>;
  updateStream(sessionId: string, streamId: string, properties: StreamProperties, callback: Callback<void>): void;
  updateStream(sessionId: string, streamId: string, properties: StreamProperties, callback?: Callback<void>): Promise<void> | void {
    return settle(this.streams.update(sessionId, streamId, properties), callback);
  }

  /** Set the layout classes of several streams at once. */
  setStreamClassLists(sessionId: string, classLists: StreamClassList[]): Promise<void>;
  setStreamClassLists(sessionId: string, classLists: StreamClassList[], callback: Callback<void>): void;
  setStreamClassLists(sessionId: string, classLists: StreamClassList[], callback?: Callback<void>): Promise<void> | void {
    return settle(this.streams.setClassLists(sessionId, classLists), callback);
  }

  /** Get one stream of a session. */
  getStream(sessionId: string, streamId: string): Promise<Stream>;
  getStream(sessionId: string, streamId: string, callback: Callback<Stream>): void;
  getStream(sessionId: string, streamId: string, callback?: Callback<Stream>): Promise<Stream> | void {
    return settle(this.streams.get(sessionId, streamId), callback);
  }

  /** List the streams of a session. */
  listStreams(sessionId: string): Promise<Stream[]>;
  listStreams(sessionId: string, callback: Callback<Stream[]>): void;
  listStreams(sessionId: string, callback?: Callback<Stream[]>): Promise<Stream[]> | void {
    return settle(this.streams.list(sessionId), callback);
  }

  // ── moderation ─────────────────────────────────────────────────────────────────────────────

  /** List the connections of a session. */
  listConnections(sessionId: string): Promise<ConnectionList>;
  listConnections(sessionId: string, callback: Callback<ConnectionList>): void;
  listConnections(sessionId: string, callback?: Callback<ConnectionList>): Promise<ConnectionList> | void {
    return settle(this.moderation.listConnections(sessionId), callback);
  }

  /** Disconnect a client from a session. */
  forceDisconnect(sessionId: string, connectionId: string): Promise<void>;
  forceDisconnect(sessionId: string, connectionId: string, callback: Callback<void>): void;
  forceDisconnect(sessionId: string, connectionId: string, callback?: Callback<void>): Promise<void> | void {
    return settle(this.moderation.forceDisconnect(sessionId, connectionId), callback);
  }

  /** Mute one stream's audio. */
  forceMuteStream(sessionId: string, streamId: string): Promise<void>;
  forceMuteStream(sessionId: string, streamId: string, callback: Callback<void>): void;
  forceMuteStream(sessionId: string, streamId: string, callback?: Callback<void>): Promise<void> | void {
    return settle(this.moderation.forceMuteStream(sessionId, streamId), callback);
  }

  /** Mute every stream (except `excludedStreamIds`), also streams published later, until disableForceMute. */
  forceMuteAll(sessionId: string, options?: ForceMuteAllOptions): Promise<void>;
  forceMuteAll(sessionId: string, callback: Callback<void>): void;
  forceMuteAll(sessionId: string, options: ForceMuteAllOptions | undefined, callback: Callback<void>): void;
  forceMuteAll(sessionId: string, ...args: unknown[]): Promise<void> | void {
    const cb = popCallback(args);
    return settle(this.moderation.forceMuteAll(sessionId, args[0] as ForceMuteAllOptions | undefined), cb);
  }

  /** End a forceMuteAll. */
  disableForceMute(sessionId: string): Promise<void>;
  disableForceMute(sessionId: string, callback: Callback<void>): void;
  disableForceMute(sessionId: string, callback?: Callback<void>): Promise<void> | void {
    return settle(this.moderation.disableForceMute(sessionId), callback);
  }

  // ── signals ────────────────────────────────────────────────────────────────────────────────

  /**
   * Send a signal to every client, or to one connection. Both argument orders work:
   * `(sessionId, payload, connectionId?)` and opentok-node's `(sessionId, connectionId | null, payload, cb)`.
   */
  signal(sessionId: string, payload: SignalPayload, connectionId?: string | null): Promise<void>;
  signal(sessionId: string, payload: SignalPayload, connectionId: string | null | undefined, callback: Callback<void>): void;
  signal(sessionId: string, connectionId: string | null | undefined, payload: SignalPayload): Promise<void>;
  signal(sessionId: string, connectionId: string | null | undefined, payload: SignalPayload, callback: Callback<void>): void;
  signal(sessionId: string, ...args: unknown[]): Promise<void> | void {
    const cb = popCallback(args);
    const [a, b] = args;
    const nodeOrder = !(a !== null && typeof a === 'object');
    const payload = (nodeOrder ? b : a) as SignalPayload;
    const connectionId = (nodeOrder ? a : b) as string | null | undefined;
    return settle(this.signals.signal(sessionId, payload, connectionId), cb);
  }

  // ── SIP ────────────────────────────────────────────────────────────────────────────────────

  /** Dial a SIP endpoint into a routed session. */
  dial(sessionId: string, token: string, sipUri: string, options?: DialOptions): Promise<SipCall>;
  dial(sessionId: string, token: string, sipUri: string, callback: Callback<SipCall>): void;
  dial(sessionId: string, token: string, sipUri: string, options: DialOptions | undefined, callback: Callback<SipCall>): void;
  dial(sessionId: string, token: string, sipUri: string, ...args: unknown[]): Promise<SipCall> | void {
    const cb = popCallback(args);
    return settle(this.sip.dial(sessionId, token, sipUri, args[0] as DialOptions | undefined), cb);
  }

  /**
   * Play DTMF digits (`0-9 * # p`) into the session or to one connection. Both argument orders
   * work: `(sessionId, digits, connectionId?)` and opentok-node's `(sessionId, connectionId, digits, cb)`.
   */
  playDTMF(sessionId: string, digits: string, connectionId?: string | null): Promise<void>;
  playDTMF(sessionId: string, digits: string, connectionId: string | null | undefined, callback: Callback<void>): void;
  playDTMF(sessionId: string, connectionId: string | null | undefined, digits: string, callback: Callback<void>): void;
  playDTMF(sessionId: string, ...args: unknown[]): Promise<void> | void {
    const cb = popCallback(args);
    const [a, b] = args;
    const isDigits = (v: unknown): boolean => typeof v === 'string' && DTMF_PATTERN.test(v);
    // Connection IDs contain `-`, so they never look like digits; with no second value the first is the digits.
    const nodeOrder = b !== undefined && (a === null || a === undefined || a === '' || (isDigits(b) && !isDigits(a)));
    const digits = (nodeOrder ? b : a) as string;
    const connectionId = (nodeOrder ? a : b) as string | null | undefined;
    return settle(this.sip.playDTMF(sessionId, digits, connectionId), cb);
  }

  // ── Audio Connector, captions, Experience Composer, callback registration ──────────────────

  /** Connect a WebSocket server to the session's audio (Audio Connector). */
  websocketConnect(sessionId: string, token: string, websocketUri: string, options?: WebsocketConnectOptions): Promise<AudioConnection>;
  websocketConnect(sessionId: string, token: string, websocketUri: string, callback: Callback<AudioConnection>): void;
  websocketConnect(
    sessionId: string,
    token: string,
    websocketUri: string,
    options: WebsocketConnectOptions | undefined,
    callback: Callback<AudioConnection>,
  ): void;
  websocketConnect(sessionId: string, token: string, websocketUri: string, ...args: unknown[]): Promise<AudioConnection> | void {
    const cb = popCallback(args);
    return settle(this.audioConnector.connect(sessionId, token, websocketUri, args[0] as WebsocketConnectOptions | undefined), cb);
  }

  /** Start live captions; resolves the captions ID. */
  startCaptions(sessionId: string, token: string, options?: CaptionsOptions): Promise<string>;
  startCaptions(sessionId: string, token: string, callback: Callback<string>): void;
  startCaptions(sessionId: string, token: string, options: CaptionsOptions | undefined, callback: Callback<string>): void;
  startCaptions(sessionId: string, token: string, ...args: unknown[]): Promise<string> | void {
    const cb = popCallback(args);
    return settle(this.captions.start(sessionId, token, args[0] as CaptionsOptions | undefined), cb);
  }

  /** Stop live captions; resolves `true` (as opentok-node's callback receives). */
  stopCaptions(captionsId: string): Promise<true>;
  stopCaptions(captionsId: string, callback: Callback<true>): void;
  stopCaptions(captionsId: string, callback?: Callback<true>): Promise<true> | void {
    return settle(this.captions.stop(captionsId), callback);
  }

  /** Start an Experience Composer render of a web page into the session. */
  startRender(options: RenderOptions): Promise<Render>;
  startRender(options: RenderOptions, callback: Callback<Render>): void;
  startRender(options: RenderOptions, callback?: Callback<Render>): Promise<Render> | void {
    return settle(this.renders.start(options), callback);
  }

  /** Get one render. */
  getRender(renderId: string): Promise<Render>;
  getRender(renderId: string, callback: Callback<Render>): void;
  getRender(renderId: string, callback?: Callback<Render>): Promise<Render> | void {
    return settle(this.renders.get(renderId), callback);
  }

  /** Stop a render. */
  stopRender(renderId: string): Promise<void>;
  stopRender(renderId: string, callback: Callback<void>): void;
  stopRender(renderId: string, callback?: Callback<void>): Promise<void> | void {
    return settle(this.renders.stop(renderId), callback);
  }

  /** List renders. The result also has opentok-node's raw `{ count, items }` shape. */
  listRenders(options?: ListRendersOptions): Promise<RenderList>;
  listRenders(callback: Callback<RenderList>): void;
  listRenders(options: ListRendersOptions | undefined, callback: Callback<RenderList>): void;
  listRenders(...args: unknown[]): Promise<RenderList> | void {
    const cb = popCallback(args);
    return settle(this.renders.list(args[0] as ListRendersOptions | undefined), cb);
  }

  /** Register a callback URL for a group/event (legacy REST registration). */
  registerCallback(options: CallbackOptions): Promise<RegisteredCallback>;
  registerCallback(options: CallbackOptions, callback: Callback<RegisteredCallback>): void;
  registerCallback(options: CallbackOptions, callback?: Callback<RegisteredCallback>): Promise<RegisteredCallback> | void {
    return settle(this.callbacks.register(options), callback);
  }

  /** Remove a registered callback. */
  unregisterCallback(callbackId: string): Promise<void>;
  unregisterCallback(callbackId: string, callback: Callback<void>): void;
  unregisterCallback(callbackId: string, callback?: Callback<void>): Promise<void> | void {
    return settle(this.callbacks.unregister(callbackId), callback);
  }

  /** List the registered callbacks. */
  listCallbacks(): Promise<RegisteredCallback[]>;
  listCallbacks(callback: Callback<RegisteredCallback[]>): void;
  listCallbacks(options: Record<string, never> | undefined, callback: Callback<RegisteredCallback[]>): void;
  listCallbacks(...args: unknown[]): Promise<RegisteredCallback[]> | void {
    const cb = popCallback(args);
    return settle(this.callbacks.list(), cb);
  }
}

/** `listArchives(options)` or the seed's positional `(offset, count, sessionId)`. */
function listOptionsFrom(args: unknown[]): ListArchivesOptions | undefined {
  const [first, count, sessionId] = args;
  if (typeof first === 'number') {
    const o: ListArchivesOptions = { offset: first };
    if (count !== undefined && count !== null) o.count = count as number;
    if (sessionId !== undefined && sessionId !== null) o.sessionId = sessionId as string;
    return o;
  }
  return first as ListArchivesOptions | undefined;
}
