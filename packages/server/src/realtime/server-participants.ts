/**
 * Server-side participants: connections that the server itself holds in a session (a SIP call),
 * with no WebSocket. The participant gets every message a client would (`sessionConnected`,
 * `streamCreated`, `muteForced`, …) through the {@link ClientSocket} it passes in, and its
 * socket is closed when the connection ends for any reason (forceDisconnect, session end).
 */
import type { RtConnectionDestroyedReason, RtStream, VerifiedToken } from '@tokhost/protocol';
import type { RoutedSessionMedia } from '../media/routed-session.js';
import type { SessionRecord } from '../storage/store.js';
import type { ClientSocket, Connection, Rooms } from './rooms.js';

export interface ServerParticipant {
  readonly connectionId: string;
  readonly sessionId: string;
  /** Publish the participant's audio; `attach` puts the media into the router under `streamId` first. */
  publishAudio(name: string, attach: (media: RoutedSessionMedia, streamId: string) => Promise<void>): Promise<RtStream>;
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

export function createServerParticipants(rooms: Rooms, sessionRecord: (sessionId: string) => SessionRecord | undefined): ServerParticipants {
  return {
    join(token, socket) {
      const session = sessionRecord(token.sessionId);
      if (!session || session.apiKey !== token.apiKey) throw new Error(`session ${token.sessionId} does not exist`);
      const conn: Connection = rooms.join(token, session.mediaMode, socket);
      return {
        connectionId: conn.id,
        sessionId: token.sessionId,
        publishAudio: (name, attach) => rooms.publishServerStream(conn, name, attach),
        setAudio: (streamId, enabled) => rooms.setServerStreamAudio(conn, streamId, enabled),
        leave: (reason) => rooms.destroyConnection(conn, reason),
        get left() {
          return conn.destroyed;
        },
      };
    },
  };
}
