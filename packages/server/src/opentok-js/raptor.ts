/**
 * Raptor: the JSON messages OpenTok.js exchanges inside Rumor frames, `{ method, uri, content }`,
 * translated to and from Tokhost's realtime vocabulary (`@tokhost/protocol` realtime.ts).
 * docs/opentok-js-protocol.md lists each message and its answer.
 *
 * No I/O: {@link RaptorTranslator} keeps what one connection's translation needs to remember
 * (who publishes which stream, which subscriber belongs to which stream) and returns messages.
 */
import { VIDEO_TYPES } from '@tokhost/protocol';
import type { ClientRequest, Role, RtConnection, RtError, RtStream, RtSubscriberQualityEvent, UnsequencedServerMessage, VideoType } from '@tokhost/protocol';
import type { GivenIds, JoinSnapshot } from '../realtime/state/session-state.js';

/** One Raptor message. */
export interface RaptorMessage {
  method: string;
  uri: string;
  content?: unknown;
  reason?: string;
}

/** The parts of a Raptor URI: `/v2/partner/<k>/session/<s>[/stream/<st>[/subscriber/<sub>]][/channel/<c>] …`. */
export interface RaptorUri {
  partner: string;
  session: string;
  connection?: string;
  stream?: string;
  subscriber?: string;
  channel?: string;
  signal?: string;
  /** The last named part: `session`, `connection`, `stream`, `subscriber`, `stream_channel`, `subscriber_channel`, `signal`, … */
  resource: string;
}

const URI_KEYS = new Set(['partner', 'session', 'connection', 'stream', 'subscriber', 'channel', 'signal', 'archive', 'data']);

/** Parse a Raptor URI; null when it is not one (wrong version, unknown or missing parts). */
export function parseRaptorUri(uri: unknown): RaptorUri | null {
  if (typeof uri !== 'string' || uri.length > 1000) return null;
  const bits = uri.split('/');
  if (bits[0] !== '' || bits[1] !== 'v2') return null;
  const parts = bits.slice(2);
  if (parts.length < 4 || parts[0] !== 'partner' || parts[2] !== 'session') return null;
  const out: Record<string, string> = {};
  let resource = '';
  for (let i = 0; i < parts.length; i += 2) {
    const key = parts[i]!;
    const value = parts[i + 1];
    if (!URI_KEYS.has(key) || key in out) return null;
    resource = key === 'channel' && resource !== '' ? `${resource}_channel` : key;
    if (value === undefined) break;
    if (!/^[A-Za-z0-9._~:-]{1,200}$/.test(value)) return null;
    out[key] = value;
  }
  if (!out['partner'] || !out['session']) return null;
  return { ...(out as { partner: string; session: string }), resource };
}

/** A client request without its `id` (the socket numbers requests). */
export type RequestBody = ClientRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** What one Raptor request from the client means. */
export type Inbound =
  /** Join the session (`create` on the client's own connection). */
  | { kind: 'join'; connectionId: string; connectionEventsSuppressed: boolean; encryption: boolean }
  | { kind: 'request'; request: RequestBody; given?: GivenIds }
  /** Answered 200 and otherwise ignored (features Tokhost has no counterpart for yet). */
  | { kind: 'accept'; why: string }
  /** Answered with this status; nothing changes. */
  | { kind: 'refuse'; status: number; reason: string };

/** An outgoing Raptor message and its `X-TB-FROM-ADDRESS` (`''`: the server). */
export interface Outbound {
  from: string;
  message: RaptorMessage;
}

/** The Rumor STATUS that answers a refused request: HTTP-like status codes the client maps. */
export function statusOf(error: Pick<RtError, 'code'>): number {
  switch (error.code) {
    case 'ERR_RT_STREAM_NOT_FOUND':
    case 'ERR_RT_CONNECTION_NOT_FOUND':
      return 404;
    case 'ERR_RT_SIGNAL_TOO_LARGE':
      return 413;
    case 'ERR_RT_SIGNAL_RATE':
      return 429;
    case 'ERR_RT_PERMISSION_DENIED':
    case 'ERR_RT_SUBSCRIBE_DENIED':
    case 'ERR_RT_FORCE_DISCONNECT_DENIED':
    case 'ERR_RT_FORCE_UNPUBLISH_DENIED':
    case 'ERR_RT_FORCE_MUTE_DENIED':
    case 'ERR_RT_CONNECTION_LIMIT':
    case 'ERR_RT_SUBSCRIBE_LIMIT':
      return 403;
    case 'ERR_RT_INTERNAL':
    case 'ERR_RT_MEDIA':
      return 500;
    default:
      return 400;
  }
}

const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

interface Channel {
  id?: unknown;
  type?: unknown;
  active?: unknown;
  width?: unknown;
  height?: unknown;
  frameRate?: unknown;
  source?: unknown;
}

interface Link {
  streamId: string;
  publisher: string;
  subscriber: string;
}

/**
 * One connection's translation between Raptor and Tokhost's realtime messages.
 *
 * @example
 * const t = new RaptorTranslator({ apiKey, sessionId, connectionId });
 * const inbound = t.inbound(JSON.parse(frame.body));
 * for (const out of t.outbound(serverMessage)) send(out);
 */
export class RaptorTranslator {
  private readonly base: string;
  /** Stream ID → the connection that publishes it. */
  private readonly streamOwners = new Map<string, string>();
  /** Subscriber ID → its peer link. */
  private readonly links = new Map<string, Link>();
  /**
   * Routed sessions: stream ID → the peer ID of its publisher's leg to the router, new at each
   * `generateoffer`. OpenTok.js keys its peer connections by it: a client migrating to a new
   * server (cluster failover) makes a new peer connection only for a peer ID it has not seen.
   */
  private readonly publisherPeers = new Map<string, string>();
  private publisherPeerCount = 0;
  /** The session routes media through Tokhost's media router (learnt from the join). */
  routed = false;
  /** Subscribers whose stream carries the audio fallback's `disableWarning` (routed sessions). */
  private readonly warned = new Set<string>();

  constructor(readonly ids: { apiKey: string; sessionId: string; connectionId: string }) {
    this.base = `/v2/partner/${ids.apiKey}/session/${ids.sessionId}`;
  }

  /** Translate one request of the client. */
  inbound(msg: unknown): Inbound {
    const m = obj(msg);
    const method = m['method'];
    const uri = parseRaptorUri(m['uri']);
    if (typeof method !== 'string' || !uri) return { kind: 'refuse', status: 400, reason: 'a Raptor message needs a method and a /v2/partner/<apiKey>/session/<sessionId>… uri' };
    if (uri.partner !== this.ids.apiKey || uri.session !== this.ids.sessionId) return { kind: 'refuse', status: 403, reason: 'the uri names another project or session than this connection' };
    const content = obj(m['content']);
    const self = this.ids.connectionId;
    switch (`${uri.resource}#${method}`) {
      case 'connection#create':
        if (uri.connection !== self) return { kind: 'refuse', status: 400, reason: 'a connection can only create itself' };
        return {
          kind: 'join',
          connectionId: self,
          connectionEventsSuppressed: content['connectionEventsSuppressed'] === true,
          encryption: Array.isArray(content['capabilities']) && content['capabilities'].includes('e2ee'),
        };
      case 'connection#delete':
        return { kind: 'request', request: { type: 'forceDisconnect', connectionId: uri.connection! } };
      case 'stream#create':
        return this.publish(uri.stream!, content);
      case 'stream#delete':
        return this.streamOwners.get(uri.stream!) === self
          ? { kind: 'request', request: { type: 'unpublish', streamId: uri.stream! } }
          : { kind: 'request', request: { type: 'forceUnpublish', streamId: uri.stream! } };
      case 'stream_channel#update':
        return this.channelUpdate(uri.stream!, uri.channel!, content);
      case 'data#data':
        // Captions come from the server's captioner, not from clients; sender stats are not kept.
        return { kind: 'accept', why: 'stream data sent by clients (sender stats) is not relayed' };
      case 'subscriber#create': {
        const channels = Array.isArray(content['channel']) ? (content['channel'] as Channel[]) : null;
        const wants = (type: string) => !channels || channels.some((c) => obj(c)['type'] === type && obj(c)['active'] !== false);
        return { kind: 'request', request: { type: 'subscribe', streamId: uri.stream!, audio: wants('audio'), video: wants('video') }, given: { subscriberId: uri.subscriber! } };
      }
      case 'subscriber#delete':
        return { kind: 'request', request: { type: 'unsubscribe', subscriberId: uri.subscriber! } };
      case 'subscriber#update':
        return { kind: 'accept', why: 'subscriber preferences (preferred resolution, frame rate) need a media router' };
      case 'subscriber_channel#update': {
        const active = content['active'];
        // `subscribeToCaptions(value)` is `{active}` on the subscriber's caption1 channel;
        // `setCaptionsTranslationLanguage` is `{category}` on it (no translation: accepted).
        if (uri.channel === 'caption1') {
          if (typeof active !== 'boolean') return { kind: 'accept', why: 'caption translation is not supported' };
          return { kind: 'request', request: { type: 'subscriberMedia', subscriberId: uri.subscriber!, captions: active } };
        }
        if (typeof active !== 'boolean') return { kind: 'accept', why: 'subscriber channel attributes other than active are not used' };
        // The client's echo of the router's audio fallback (it turns its video off or on with
        // reason `auto`): the router decided it and keeps probing the path, so nothing changes.
        if (content['activeReason'] === 'auto') return { kind: 'accept', why: 'audio fallback: the media router turns this video off and on itself' };
        const kind = /^audio/.test(uri.channel!) ? 'audio' : /^video/.test(uri.channel!) ? 'video' : null;
        if (!kind) return { kind: 'accept', why: `channel ${uri.channel} is not audio or video` };
        return { kind: 'request', request: { type: 'subscriberMedia', subscriberId: uri.subscriber!, [kind]: active } };
      }
      case 'subscriber#offer':
      case 'subscriber#answer':
      case 'subscriber#candidate':
      case 'stream#offer':
      case 'stream#answer':
      case 'stream#candidate':
        return this.jsep(method, uri, content);
      case 'signal#signal':
        return {
          kind: 'request',
          request: {
            type: 'signal',
            ...(uri.connection !== undefined ? { to: uri.connection } : {}),
            ...(content['type'] !== undefined ? { signalType: content['type'] as string } : {}),
            ...(content['data'] !== undefined ? { data: content['data'] as string } : {}),
          },
        };
      case 'session#update':
      case 'stream#update':
        return this.forceMute(uri, content);
      case 'session#migrate':
        return { kind: 'accept', why: 'one server: nothing to migrate to' };
      default:
        return { kind: 'refuse', status: 400, reason: `${method} on ${uri.resource} is not supported` };
    }
  }

  private publish(streamId: string, content: Record<string, unknown>): Inbound {
    const channels = Array.isArray(content['channel']) ? (content['channel'] as Channel[]).map(obj) : [];
    const audio = channels.find((c) => c['type'] === 'audio');
    const video = channels.find((c) => c['type'] === 'video');
    // `initPublisher({publishCaptions})`: the stream's caption1 data channel (present with audio).
    const captions = channels.find((c) => c['id'] === 'caption1');
    const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : null);
    const width = int(video?.['width']);
    const height = int(video?.['height']);
    const source = video?.['source'];
    const videoType: VideoType | null = video ? ((VIDEO_TYPES as readonly unknown[]).includes(source) ? (source as VideoType) : 'camera') : null;
    const name = content['name'];
    return {
      kind: 'request',
      request: {
        type: 'publish',
        name: name === undefined || name === null ? '' : (name as string),
        hasAudio: audio !== undefined && audio['active'] !== false,
        hasVideo: video !== undefined && video['active'] !== false,
        videoType,
        videoDimensions: width !== null && height !== null ? { width, height } : null,
        frameRate: typeof video?.['frameRate'] === 'number' ? (video['frameRate'] as number) : null,
        ...(captions?.['active'] === true ? { hasCaptions: true } : {}),
      },
      given: { streamId },
    };
  }

  private channelUpdate(streamId: string, channel: string, content: Record<string, unknown>): Inbound {
    const update: { type: 'streamUpdate'; streamId: string; hasAudio?: boolean; hasVideo?: boolean; hasCaptions?: boolean; videoDimensions?: { width: number; height: number } } = { type: 'streamUpdate', streamId };
    const isAudio = /^audio/.test(channel);
    const isVideo = /^video/.test(channel);
    if (typeof content['active'] === 'boolean') {
      if (isAudio) update.hasAudio = content['active'];
      if (isVideo) update.hasVideo = content['active'];
      // `publisher.publishCaptions(value)`.
      if (channel === 'caption1') update.hasCaptions = content['active'];
    }
    if (isVideo && typeof content['width'] === 'number' && typeof content['height'] === 'number') update.videoDimensions = { width: content['width'], height: content['height'] };
    if (Object.keys(update).length === 2) return { kind: 'accept', why: `channel ${channel}: no attribute Tokhost tracks changed` };
    return { kind: 'request', request: update };
  }

  private jsep(method: string, uri: RaptorUri, content: Record<string, unknown>): Inbound {
    if (this.routed) return this.routedJsep(method, uri, content);
    const subscriberId = uri.subscriber;
    if (subscriberId === undefined) return { kind: 'refuse', status: 400, reason: `${method} needs a …/stream/<id>/subscriber/<id> uri in a relayed session` };
    const link = this.links.get(subscriberId);
    if (!link) return { kind: 'refuse', status: 404, reason: `no peer link ${subscriberId}` };
    const self = this.ids.connectionId;
    // Which end speaks: the publisher offers, the subscriber answers; candidates by role (a
    // connection subscribed to its own stream is both ends: its candidates go to the other side
    // of the method that is still open, which relayed P2P never needs, so it picks the publisher).
    const end = method === 'offer' ? 'publisher' : method === 'answer' ? 'subscriber' : link.publisher === self ? 'publisher' : 'subscriber';
    if (method === 'candidate') {
      const candidate = content['candidate'];
      if (typeof candidate !== 'string') return { kind: 'refuse', status: 400, reason: 'candidate must be a string' };
      const mid = content['sdpMid'];
      const index = content['sdpMLineIndex'];
      return {
        kind: 'request',
        request: { type: 'ice', peerId: subscriberId, end, candidate: { candidate, sdpMid: typeof mid === 'string' ? mid : null, sdpMLineIndex: typeof index === 'number' ? index : null } },
      };
    }
    const sdp = content['sdp'];
    if (typeof sdp !== 'string') return { kind: 'refuse', status: 400, reason: `${method} needs an sdp string` };
    return { kind: 'request', request: { type: 'sdp', peerId: subscriberId, end, description: { type: method as 'offer' | 'answer', sdp } } };
  }

  /**
   * Routed sessions: the media router is the other end of every peer connection. On
   * `…/stream/<ST>` the publisher offers (or trickles) to the router; on
   * `…/stream/<ST>/subscriber/<SUB>` the subscriber answers the router's offer (or trickles).
   */
  private routedJsep(method: string, uri: RaptorUri, content: Record<string, unknown>): Inbound {
    const end = uri.subscriber === undefined ? 'publisher' : 'subscriber';
    const peerId = uri.subscriber ?? uri.stream!;
    if (end === 'publisher' ? method === 'answer' : method === 'offer') {
      return { kind: 'refuse', status: 400, reason: `in a routed session the ${end} cannot send ${method === 'answer' ? 'an answer' : 'an offer'} on this uri` };
    }
    if (method === 'candidate') {
      const candidate = content['candidate'];
      if (typeof candidate !== 'string') return { kind: 'refuse', status: 400, reason: 'candidate must be a string' };
      const mid = content['sdpMid'];
      const index = content['sdpMLineIndex'];
      return { kind: 'request', request: { type: 'ice', peerId, end, candidate: { candidate, sdpMid: typeof mid === 'string' ? mid : null, sdpMLineIndex: typeof index === 'number' ? index : null } } };
    }
    const sdp = content['sdp'];
    if (typeof sdp !== 'string') return { kind: 'refuse', status: 400, reason: `${method} needs an sdp string` };
    return { kind: 'request', request: { type: 'sdp', peerId, end, description: { type: method as 'offer' | 'answer', sdp } } };
  }

  /** Routed sessions: the router's request that the publisher of `streamId` offer to it. */
  generateOffer(streamId: string): RaptorMessage {
    const peerId = `${streamId}~${Date.now().toString(36)}.${++this.publisherPeerCount}`;
    this.publisherPeers.set(streamId, peerId);
    return { method: 'generateoffer', uri: `${this.base}/stream/${streamId}`, content: { peerId, sourceStreamId: 'MANTIS', simulcastEnabled: false } };
  }

  /** Routed sessions: the router's answer to the publisher of `streamId`. */
  routerAnswer(streamId: string, sdp: string): RaptorMessage {
    return { method: 'answer', uri: `${this.base}/stream/${streamId}`, content: { peerId: this.publisherPeers.get(streamId) ?? streamId, sourceStreamId: 'MANTIS', sdp } };
  }

  private forceMute(uri: RaptorUri, content: Record<string, unknown>): Inbound {
    if (content['reason'] !== 'mute') return { kind: 'refuse', status: 400, reason: 'only updates with reason "mute" are supported' };
    if (uri.stream !== undefined) {
      if (content['active'] !== true) return { kind: 'accept', why: 'a stream cannot be force-unmuted (OpenTok neither)' };
      return { kind: 'request', request: { type: 'forceMuteStream', streamId: uri.stream } };
    }
    if (content['active'] === false) return { kind: 'request', request: { type: 'disableForceMute' } };
    const exclusion = Array.isArray(content['exclusion']) ? content['exclusion'].filter((x): x is string => typeof x === 'string') : [];
    return { kind: 'request', request: { type: 'forceMuteAll', excludedStreamIds: exclusion } };
  }

  /** A subscription of this connection was accepted (its response came back). */
  subscribed(subscriberId: string, streamId: string): void {
    this.links.set(subscriberId, { streamId, publisher: this.streamOwners.get(streamId) ?? '', subscriber: this.ids.connectionId });
  }

  /** This connection's stream was accepted (its response came back). */
  published(stream: RtStream): void {
    this.streamOwners.set(stream.streamId, this.ids.connectionId);
  }

  /** The answer to the join: the session state the client reads. */
  joinState(snapshot: JoinSnapshot): Record<string, unknown> {
    this.routed = snapshot.mediaMode === 'routed';
    for (const s of snapshot.streams) this.streamOwners.set(s.streamId, s.connection.connectionId);
    const others = snapshot.connections.filter((c) => c.connectionId !== this.ids.connectionId);
    // OpenTok.js builds each stream of the join answer from the session's connection list, so a
    // client with connectionEventsSuppressed (whose snapshot lists no one) still gets the
    // publishers' connections here; it gets no connectionCreated events for them.
    const listed = new Set(others.map((c) => c.connectionId));
    for (const s of snapshot.streams) {
      if (s.connection.connectionId !== this.ids.connectionId && !listed.has(s.connection.connectionId)) {
        listed.add(s.connection.connectionId);
        others.push(s.connection);
      }
    }
    const connections = others.map(connectionJson);
    return {
      connection: [{ ...connectionJson(snapshot.connection), permissions: permissionsOf(snapshot.role) }, ...connections],
      stream: snapshot.streams.map(streamJson),
      archive: snapshot.archives.map((a) => ({ id: a.id, name: a.name, status: 'started' })),
      ...(snapshot.forceMuteActive ? { mute: { active: true } } : {}),
    };
  }

  /** The client's own `connection created`, which it waits for after the join answer. */
  ownConnection(connection: RtConnection, role: Role): RaptorMessage {
    return { method: 'created', uri: `${this.base}/connection/${connection.connectionId}`, content: { ...connectionJson(connection), permissions: permissionsOf(role) } };
  }

  /** The stream `created` a publisher needs for its own stream (Tokhost tells only the others). */
  ownStream(stream: RtStream): RaptorMessage {
    return { method: 'created', uri: `${this.base}/stream/${stream.streamId}`, content: streamJson(stream) };
  }

  /**
   * The media router's SDP or ICE for this client (routed sessions): on the subscriber's URI for
   * a subscriber leg (the router offers), on the stream's URI for this client's own publisher leg.
   */
  private fromRouter(msg: Extract<UnsequencedServerMessage, { type: 'sdp' | 'ice' }>): Outbound[] {
    const link = this.links.get(msg.peerId);
    const own = this.streamOwners.get(msg.peerId) === this.ids.connectionId;
    if (!link && !own) return [];
    const uri = link ? `${this.base}/stream/${link.streamId}/subscriber/${msg.peerId}` : `${this.base}/stream/${msg.peerId}`;
    const meta = { peerId: link ? msg.peerId : (this.publisherPeers.get(msg.peerId) ?? msg.peerId), sourceStreamId: 'MANTIS' };
    if (msg.type === 'sdp') return [{ from: '', message: { method: msg.description.type, uri, content: { ...meta, sdp: msg.description.sdp } } }];
    if (!msg.candidate) return [];
    return [{ from: '', message: { method: 'candidate', uri, content: { ...meta, ...candidateJson(msg.candidate) } } }];
  }

  /**
   * The router's audio fallback on one of this client's subscribers, as OpenTok.js's media server
   * says it on the subscriber's video channel: `updated { disableWarning }` raises
   * `videoDisableWarning` / `videoDisableWarningLifted` (through the stream's channel), and
   * `update { active }` makes the Subscriber turn its video off or on with reason `quality`
   * (`videoDisabled` / `videoEnabled`). The warning stays on the stream while video is off, so
   * it is lifted just before video returns (a later warning must change it again to be seen).
   */
  private quality(subscriberId: string, event: RtSubscriberQualityEvent): Outbound[] {
    const link = this.links.get(subscriberId);
    if (!link) return [];
    const uri = `${this.base}/stream/${link.streamId}/subscriber/${subscriberId}/channel/video1`;
    const warning = (on: boolean): Outbound => {
      if (on) this.warned.add(subscriberId);
      else this.warned.delete(subscriberId);
      return { from: '', message: { method: 'updated', uri, content: { disableWarning: on } } };
    };
    const active = (on: boolean): Outbound => ({ from: '', message: { method: 'update', uri, content: { active: on } } });
    switch (event) {
      case 'videoDisableWarning':
        return [warning(true)];
      case 'videoDisableWarningLifted':
        return this.warned.has(subscriberId) ? [warning(false)] : [];
      case 'videoDisabled':
        return [active(false)];
      case 'videoEnabled':
        return this.warned.has(subscriberId) ? [warning(false), active(true)] : [active(true)];
    }
  }

  /** Translate one message of the live state for this client (responses are the socket's). */
  outbound(msg: UnsequencedServerMessage): Outbound[] {
    const b = this.base;
    switch (msg.type) {
      case 'connectionCreated':
        return [{ from: '', message: { method: 'created', uri: `${b}/connection/${msg.connection.connectionId}`, content: connectionJson(msg.connection) } }];
      case 'connectionsCreated':
        return msg.connections.map((c) => ({ from: '', message: { method: 'created', uri: `${b}/connection/${c.connectionId}`, content: connectionJson(c) } }));
      case 'connectionDestroyed':
        return [{ from: '', message: { method: 'deleted', uri: `${b}/connection/${msg.connection.connectionId}`, content: {}, reason: msg.reason } }];
      case 'connectionsDestroyed':
        return msg.destroyed.map((d) => ({ from: '', message: { method: 'deleted', uri: `${b}/connection/${d.connection.connectionId}`, content: {}, reason: d.reason } }));
      case 'streamCreated':
        this.streamOwners.set(msg.stream.streamId, msg.stream.connection.connectionId);
        return [{ from: '', message: { method: 'created', uri: `${b}/stream/${msg.stream.streamId}`, content: streamJson(msg.stream) } }];
      case 'streamDestroyed':
        this.streamOwners.delete(msg.stream.streamId);
        this.publisherPeers.delete(msg.stream.streamId);
        for (const [id, l] of this.links) if (l.streamId === msg.stream.streamId) { this.links.delete(id); this.warned.delete(id); }
        return [{ from: '', message: { method: 'deleted', uri: `${b}/stream/${msg.stream.streamId}`, content: {}, reason: msg.reason } }];
      case 'streamPropertyChanged': {
        const s = msg.stream;
        const uri = (ch: string) => `${b}/stream/${s.streamId}/channel/${ch}`;
        if (msg.changedProperty === 'hasAudio') return [{ from: '', message: { method: 'updated', uri: uri('audio1'), content: { active: s.hasAudio } } }];
        if (msg.changedProperty === 'hasVideo') return [{ from: '', message: { method: 'updated', uri: uri('video1'), content: { active: s.hasVideo } } }];
        if (msg.changedProperty === 'hasCaptions') return [{ from: '', message: { method: 'updated', uri: uri('caption1'), content: { active: s.hasCaptions === true } } }];
        const d = s.videoDimensions;
        return d ? [{ from: '', message: { method: 'updated', uri: uri('video1'), content: { width: d.width, height: d.height } } }] : [];
      }
      case 'signal':
        return [
          {
            from: msg.from?.connectionId ?? '',
            message: { method: 'signal', uri: `${b}/signal/${signalId()}`, content: { type: msg.signalType, data: msg.data, ...(msg.from ? { fromConnection: connectionJson(msg.from) } : {}) } },
          },
        ];
      case 'subscriberJoined': {
        // Relayed: this connection publishes `streamId`; the subscriber's browser waits for its offer.
        this.links.set(msg.subscriberId, { streamId: msg.streamId, publisher: this.ids.connectionId, subscriber: msg.connection.connectionId });
        return [{ from: msg.connection.connectionId, message: { method: 'generateoffer', uri: `${b}/stream/${msg.streamId}/subscriber/${msg.subscriberId}`, content: { peerId: msg.subscriberId, sourceStreamId: 'P2P', iceServers: msg.iceServers } } }];
      }
      case 'peerClosed': {
        const link = this.links.get(msg.peerId);
        if (!link) return [];
        this.links.delete(msg.peerId);
        this.warned.delete(msg.peerId);
        // Only the publisher needs telling: the subscriber's own unsubscribe or the stream's end closed it.
        if (link.publisher !== this.ids.connectionId) return [];
        return [{ from: link.subscriber, message: { method: 'deleted', uri: `${b}/stream/${link.streamId}/subscriber/${msg.peerId}`, content: {} } }];
      }
      case 'sdp':
      case 'ice': {
        if (msg.end === 'server') return this.fromRouter(msg);
        const link = this.links.get(msg.peerId);
        if (!link) return [];
        const from = msg.end === 'publisher' ? link.publisher : link.subscriber;
        const uri = `${b}/stream/${link.streamId}/subscriber/${msg.peerId}`;
        const meta = { peerId: msg.peerId, sourceStreamId: 'P2P' };
        if (msg.type === 'sdp') return [{ from, message: { method: msg.description.type, uri, content: { ...meta, sdp: msg.description.sdp } } }];
        if (!msg.candidate) return [];
        return [{ from, message: { method: 'candidate', uri, content: { ...meta, candidate: msg.candidate.candidate, sdpMid: msg.candidate.sdpMid ?? '', sdpMLineIndex: msg.candidate.sdpMLineIndex ?? 0 } } }];
      }
      case 'muteForced':
        if (msg.streamId === null) return [];
        return [{ from: '', message: { method: 'update', uri: `${b}/stream/${msg.streamId}`, content: { reason: 'mute', active: msg.active, channels: ['audio'] } } }];
      case 'forceMuteState':
        return [{ from: '', message: { method: 'update', uri: b, content: { reason: 'mute', active: msg.active, channels: ['audio'] } } }];
      case 'archiveStarted':
        return [{ from: '', message: { method: 'created', uri: `${b}/archive/${msg.id}`, content: { id: msg.id, name: msg.name, status: 'started' } } }];
      case 'archiveStopped':
        return [{ from: '', message: { method: 'updated', uri: `${b}/archive/${msg.id}`, content: { id: msg.id, name: msg.name, status: 'stopped' } } }];
      case 'subscriberQuality':
        return this.quality(msg.subscriberId, msg.event);
      case 'captionReceived':
        return [{ from: '', message: captionMessage(b, msg.streamId, msg.caption, msg.isFinal) }];
      case 'disconnected':
        return [{ from: '', message: { method: 'deleted', uri: `${b}/connection/${this.ids.connectionId}`, content: {}, reason: msg.reason } }];
      default:
        // response: the socket's. streamClassListChanged: OpenTok.js's Stream has no class list
        // (it drops stream properties other than name and archiving); class lists shape the
        // archive and broadcast layouts only, as in OpenTok.
        return [];
    }
  }
}

/**
 * A live caption as OpenTok.js reads it: a `data` message on the stream's `caption1` channel
 * (its dispatcher routes every `…/channel/caption1/data/<id>` URI to the session, which raises
 * `captionReceived` on each Subscriber of `streamId`); `content.data` is a JSON string
 * `{streamId, caption: {text}, isFinal}`.
 */
export function captionMessage(base: string, streamId: string, caption: string, isFinal: boolean): RaptorMessage {
  return { method: 'data', uri: `${base}/stream/${streamId}/channel/caption1/data/${signalId()}`, content: { type: 'data', data: JSON.stringify({ streamId, caption: { text: caption }, isFinal }) } };
}

/** A candidate as OpenTok.js reads it. */
function candidateJson(c: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }): Record<string, unknown> {
  return { candidate: c.candidate, sdpMid: c.sdpMid ?? '', sdpMLineIndex: c.sdpMLineIndex ?? 0 };
}

/** What a token's role lets its connection do, as OpenTok.js reads it (it checks before asking). */
export function permissionsOf(role: Role): string[] {
  switch (role) {
    case 'moderator':
      return ['publish', 'subscribe', 'forceunpublish', 'forcedisconnect', 'forcemute'];
    case 'publisher':
      return ['publish', 'subscribe'];
    case 'publisheronly':
      return ['publish'];
    case 'subscriber':
      return ['subscribe'];
  }
}

/** A connection as OpenTok.js reads it. */
export function connectionJson(c: RtConnection): Record<string, unknown> {
  return { id: c.connectionId, creationTime: c.creationTime, data: c.data };
}

/**
 * A stream as OpenTok.js reads it: its audio and video channels carry `hasAudio`, `hasVideo`, the
 * dimensions; its `caption1` data channel `hasCaptions` (and a Subscriber's default `subscribeToCaptions`).
 */
export function streamJson(s: RtStream): Record<string, unknown> {
  const channel: Record<string, unknown>[] = [{ id: 'audio1', type: 'audio', active: s.hasAudio }];
  if (s.videoType !== null || s.hasVideo) {
    channel.push({
      id: 'video1',
      type: 'video',
      active: s.hasVideo,
      source: s.videoType ?? 'camera',
      ...(s.videoDimensions ? { width: s.videoDimensions.width, height: s.videoDimensions.height } : {}),
      ...(s.frameRate !== null ? { frameRate: s.frameRate } : {}),
      fitMode: 'cover',
    });
  }
  channel.push({ id: 'caption1', type: 'data', active: s.hasCaptions === true });
  return { id: s.streamId, name: s.name, creationTime: s.creationTime, connection: connectionJson(s.connection), channel };
}

let signalCounter = 0;
/** A unique path part for a signal's URI (the client does not read it). */
function signalId(): string {
  signalCounter = (signalCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `s${Date.now().toString(36)}${signalCounter.toString(36)}`;
}
