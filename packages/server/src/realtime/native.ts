/**
 * The native front end's side of joining and leaving: Tokhost's own WebSocket protocol on the
 * session state. A native connection reads its session's log (sequenced, folded, shared frames,
 * replay); its hello (`sessionConnected`) is written straight from the log's snapshot bytes, and
 * a dropped socket is resumed with the connection's resume key and the log's replay.
 */
import { timingSafeEqual } from 'node:crypto';
import { rtError, RT_CLOSE } from '@tokhost/protocol';
import type { MediaMode, RtError, UnsequencedServerMessage, VerifiedToken } from '@tokhost/protocol';
import type { ClientSocket } from './session-log.js';
import type { Connection, Rooms } from './state/session-state.js';

/** Flags a native client sets in its `connect` message. */
export interface NativeJoinOptions {
  /** The client accepts array frames (`ConnectRequest.batch`). */
  batch?: boolean;
  connectionEventsSuppressed?: boolean;
  /** The session is end-to-end encrypted (told back in the hello). */
  e2ee?: boolean;
}

/** Joins, resumes and socket drops of native connections. */
export class NativeFrontEnd {
  constructor(private readonly rooms: Rooms) {}

  /**
   * Add a new native connection with its token (already verified and matched to the session;
   * connection limits are the caller's): it is sent the hello and the archives recording now.
   */
  join(token: VerifiedToken, mediaMode: MediaMode, socket: ClientSocket, options: NativeJoinOptions = {}): Connection {
    const conn = this.rooms.open(token, mediaMode);
    const room = conn.room;
    conn.socket = socket;
    conn.batch = options.batch === true;
    conn.presenceOff = options.connectionEventsSuppressed === true;
    conn.e2ee = options.e2ee === true;
    const s = this.rooms.snapshot(conn, false);
    const hello: Omit<UnsequencedServerMessage & { type: 'sessionConnected' }, 'connections'> = {
      type: 'sessionConnected',
      version: 1,
      sessionId: s.sessionId,
      mediaMode: s.mediaMode,
      connection: s.connection,
      role: s.role,
      resumeKey: conn.resumeKey,
      reconnectGraceMs: s.reconnectGraceMs,
      streams: s.streams,
      iceServers: s.iceServers,
      forceMuteActive: s.forceMuteActive,
      ...(s.e2ee ? { e2ee: true } : {}),
    };
    const head = JSON.stringify(hello);
    // The others are the room's snapshot bytes, copied once (no list is built per join). With
    // connection events suppressed (large sessions) the client gets no list of the others.
    room.log.sendFirst(conn, `${head.slice(0, -1)},"connections":[`, conn.presenceOff ? null : room.snapshotConnections(), ']}');
    for (const a of s.archives) conn.send({ type: 'archiveStarted', id: a.id, name: a.name });
    this.rooms.announce(conn);
    return conn;
  }

  /**
   * Re-attach a native connection to a new socket. Returns the messages to replay, or an error when the
   * connection is gone, the key is wrong or the replay buffer no longer covers `lastSeq`.
   */
  resume(sessionId: string, connectionId: string, resumeKey: string, lastSeq: number, socket: ClientSocket, batch = false): { conn: Connection; replay: string[] } | RtError {
    const conn = this.rooms.find(sessionId, connectionId);
    if (!conn || conn.foreign || !sameSecret(conn.resumeKey, resumeKey)) return rtError('ERR_RT_RESUME_FAILED', 'the connection is no longer in the session');
    const replay = conn.room.log.replay(conn, lastSeq);
    if (!replay) return rtError('ERR_RT_RESUME_FAILED', 'messages since the last one received are no longer available');
    this.rooms.stopGrace(conn);
    const old = conn.socket;
    conn.socket = socket;
    conn.batch = batch;
    if (old && old !== socket) old.close(RT_CLOSE.replaced, 'resumed on another socket');
    return { conn, replay };
  }

  /** The connection's socket closed without a `disconnect`: keep it for the grace period. */
  socketLost(conn: Connection, socket: ClientSocket): void {
    if (conn.destroyed || conn.socket !== socket) return;
    conn.socket = null;
    this.rooms.startGrace(conn);
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
