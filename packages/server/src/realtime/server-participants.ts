/**
 * Server-side participants: connections that the server itself holds in a session (a SIP call,
 * an Audio Connector socket; see `src/participant/`),
 * with no WebSocket. The participant gets every message a client would (`sessionConnected`,
 * `streamCreated`, `muteForced`, …) through the {@link ClientSocket} it passes in, and its
 * socket is closed when the connection ends for any reason (forceDisconnect, session end).
 */
import type { RtConnectionDestroyedReason, RtStream, VerifiedToken } from '@tokhost/protocol';
import type { RoutedSessionMedia } from '../media/routed-session.js';
import type { SessionRecord } from '../storage/store.js';
import type { NativeFrontEnd } from './native.js';
import type { ClientSocket, Connection, Rooms } from './state/session-state.js';

export interface ServerParticipant {
  readonly connectionId: string;
  readonly sessionId: string;
  /** Publish the participant's audio; `attach` puts the media into the router under `streamId` first. */
  publishAudio(name: string, attach: (media: RoutedSessionMedia, streamId: string) => Promise<void>): Promise<RtStream>;
  /** The session's media in the router (listen-only participants tap through it); rejects for a relayed session. */
  media(): Promise<RoutedSessionMedia>;
  /** Turn the participant's own audio on or off (as a client's `streamUpdate` would). */
  setAudio(streamId: string, enabled: boolean): void;
  /** Leave the session (its streams end with it). */
  leave(reason: RtConnectionDestroyedReason): void;
  readonly left: boolean;
}

export interface ServerParticipants {
  /** Join `token`'s session (already verified by the caller) with a server-side socket. */
  join(token: VerifiedToken, socket: ClientSocket): ServerParticipant;
}

export function createServerParticipants(rooms: Rooms, native: NativeFrontEnd, sessionRecord: (sessionId: string) => SessionRecord | undefined): ServerParticipants {
  return {
    join(token, socket) {
      const session = sessionRecord(token.sessionId);
      if (!session || session.apiKey !== token.apiKey) throw new Error(`session ${token.sessionId} does not exist`);
      // A server-side reader acknowledges what it was handed at once (a WebSocket client acks
      // as it reads): otherwise it would pin the session log's replay buffer up to its cap.
      let joined: Connection | undefined;
      const acking: ClientSocket = {
        send: (data) => {
          socket.send(data);
          joined?.ack(Number.MAX_SAFE_INTEGER);
        },
        close: (code, reason) => socket.close(code, reason),
        get isOpen() {
          return socket.isOpen;
        },
      };
      const conn: Connection = native.join(token, session.mediaMode, acking);
      joined = conn;
      conn.clientKind = 'sip';
      conn.ack(Number.MAX_SAFE_INTEGER);
      return {
        connectionId: conn.id,
        sessionId: token.sessionId,
        publishAudio: (name, attach) => rooms.publishServerStream(conn, name, attach),
        media: () => conn.room.media ?? Promise.reject(new Error('server participants need a routed session with a media router')),
        setAudio: (streamId, enabled) => rooms.setServerStreamAudio(conn, streamId, enabled),
        leave: (reason) => rooms.destroyConnection(conn, reason),
        get left() {
          return conn.destroyed;
        },
      };
    },
  };
}
