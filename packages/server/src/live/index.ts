import type { ConnectionJson, StreamJson } from '@tokhost/protocol';
import type { MediaRoom } from '../media/types.js';
import { TokhostError, type LiveErrorCode } from '../errors.js';

/** What the media pipeline (archives, broadcasts) needs to know of a live stream. */
export interface LiveStreamInfo {
  streamId: string;
  connectionId: string;
  connectionData: string;
  name: string;
  videoType: 'camera' | 'screen' | 'custom' | null;
  hasAudio: boolean;
  hasVideo: boolean;
  layoutClassList: string[];
  creationTime: number;
}

/** One connection of a live session, as the admin API lists it. */
export interface LiveConnectionInfo {
  connectionId: string;
  /** The token's connection data. */
  data: string;
  /** Which client holds it: `tokhost` (native protocol), `opentok-js`, `sip`, or `foreign`. */
  clientKind: string;
  /** When it joined, ms since the epoch. */
  createdAt: number;
}

/** A session with connections on this server now (the admin API's live session list). */
export interface LiveSessionInfo {
  sessionId: string;
  apiKey: string;
  mediaMode: 'relayed' | 'routed';
  /** Oldest first. */
  connections: LiveConnectionInfo[];
  /** Oldest first. */
  streams: LiveStreamInfo[];
}

/**
 * Changes of live state, for the server's own consumers (recordings). `streamChanged` covers
 * hasAudio/hasVideo and layout class list changes; `connections` is the count after the change.
 */
export type LiveEvent =
  | { type: 'streamCreated' | 'streamChanged' | 'streamDestroyed'; sessionId: string; apiKey: string; stream: LiveStreamInfo }
  | { type: 'connectionCreated' | 'connectionDestroyed'; sessionId: string; apiKey: string; connections: number };

/**
 * Live state of sessions (connected clients and their streams), as the REST layer sees it.
 * Implemented by the realtime layer (`src/realtime/`); REST routes for streams, connections,
 * signals and moderation call only this interface, never the WebSocket code directly.
 *
 * Every method throws a `LiveError` (see below) for a missing session/connection/stream rather
 * than returning a fabricated success.
 */
export interface LiveSessions {
  /** The sessions with connections on this server now, of one project (`null`: every project), oldest first. */
  listLiveSessions(apiKey: string | null): LiveSessionInfo[];
  /** Number of clients currently connected to the session (0 when none or unknown). */
  connectionCount(sessionId: string): number;
  /** Connections of a session, oldest first. */
  listConnections(sessionId: string): ConnectionJson[];
  /** Published streams of a session, oldest first. */
  listStreams(sessionId: string): StreamJson[];
  /** One stream, or `undefined` when the session has no such stream. */
  getStream(sessionId: string, streamId: string): StreamJson | undefined;
  /**
   * Replace the layout class lists of streams. All IDs are checked first; when one is unknown,
   * nothing changes and a `LiveError('ERR_LIVE_STREAM_NOT_FOUND')` is thrown.
   */
  setStreamClassLists(sessionId: string, items: { id: string; layoutClassList: string[] }[]): void;
  /**
   * Send a signal from the server. With `connectionId`, to that connection only (throws
   * `ERR_LIVE_CONNECTION_NOT_FOUND` when it is not in the session); otherwise to every connection.
   * Returns the number of connections it was delivered to.
   */
  signal(sessionId: string, connectionId: string | null, signal: { type?: string; data?: string }): number;
  /** The live streams with what the media pipeline needs, oldest first. */
  streamInfos(sessionId: string): LiveStreamInfo[];
  /** Listen to live changes of every session; returns the unsubscribe function. A throwing listener is logged, not propagated. */
  onLiveEvent(listener: (event: LiveEvent) => void): () => void;
  /** The media router room of a routed session that has connections, else null. */
  mediaRoom(sessionId: string): Promise<MediaRoom> | null;
  /**
   * Tell the session's clients that an archive started (`active` true: also told to every
   * client that joins until it is called again with false) or stopped.
   */
  archiveNotice(sessionId: string, archive: { id: string; name: string }, active: boolean): void;
  /** Disconnect a connection with reason `forceDisconnected`. */
  forceDisconnect(sessionId: string, connectionId: string): void;
  /** Force-mute one stream's audio. */
  forceMuteStream(sessionId: string, streamId: string): void;
  /** Force-mute all streams but the excluded ones; while active, new publishers join muted. */
  forceMuteAll(sessionId: string, excludedStreamIds: string[]): void;
  /** End the session-wide force-mute state. */
  disableForceMute(sessionId: string): void;
}

export type { LiveErrorCode };

/** Thrown by `LiveSessions` methods; the REST layer maps it to 404. */
export class LiveError extends TokhostError<LiveErrorCode> {
  override readonly name = 'LiveError';
}
