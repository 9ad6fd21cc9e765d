import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ConnectionJson, StreamJson } from '@tokhost/protocol';
import type { LiveSessions } from '../services/live.js';
import { LiveError } from '../services/live.js';
import type { Store } from '../storage/store.js';

/**
 * What the composition root (`createServer`) hands the realtime layer.
 * `logger` is pino-compatible; `config` is the frozen server config (typed loosely here so the
 * realtime layer does not depend on every config field).
 */
export interface RealtimeDeps {
  store: Store;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void; debug(obj: object, msg?: string): void };
  config: Readonly<Record<string, unknown>>;
}

/** The realtime layer as the server sees it. */
export interface Realtime {
  /** Live state for the REST routes. */
  readonly live: LiveSessions;
  /** WebSocket upgrade for the client protocol; destroys sockets it does not own. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Non-REST HTTP paths (browser SDK, demo page). Returns true when it answered. */
  handleHttp(req: IncomingMessage, res: ServerResponse): boolean;
  close(): Promise<void>;
}

interface LiveConnection {
  json: ConnectionJson;
}
interface LiveStream {
  json: StreamJson;
  connectionId: string;
}
interface LiveSession {
  connections: Map<string, LiveConnection>;
  streams: Map<string, LiveStream>;
}

/**
 * In-process session state. The WebSocket transport (to be built on this module) adds and
 * removes connections and streams; until a client connects, every session is empty.
 */
export function createRealtime(_deps: RealtimeDeps): Realtime {
  const sessions = new Map<string, LiveSession>();
  const session = (sessionId: string) => sessions.get(sessionId);
  const requireConnection = (sessionId: string, connectionId: string) => {
    const c = session(sessionId)?.connections.get(connectionId);
    if (!c) throw new LiveError('connection-not-found', `Connection ${connectionId} is not connected to the session`);
    return c;
  };
  const requireStream = (sessionId: string, streamId: string) => {
    const s = session(sessionId)?.streams.get(streamId);
    if (!s) throw new LiveError('stream-not-found', `Stream ${streamId} is not in the session`);
    return s;
  };
  const live: LiveSessions = {
    connectionCount: (sessionId) => session(sessionId)?.connections.size ?? 0,
    listConnections: (sessionId) => [...(session(sessionId)?.connections.values() ?? [])].map((c) => c.json),
    listStreams: (sessionId) => [...(session(sessionId)?.streams.values() ?? [])].map((s) => s.json),
    getStream: (sessionId, streamId) => session(sessionId)?.streams.get(streamId)?.json,
    setStreamClassLists(sessionId, items) {
      const found = items.map((i) => requireStream(sessionId, i.id));
      found.forEach((s, idx) => (s.json = { ...s.json, layoutClassList: [...items[idx]!.layoutClassList] }));
    },
    signal(sessionId, connectionId) {
      if (connectionId !== null) requireConnection(sessionId, connectionId);
      return 0;
    },
    forceDisconnect(sessionId, connectionId) {
      requireConnection(sessionId, connectionId);
    },
    forceMuteStream(sessionId, streamId) {
      requireStream(sessionId, streamId);
    },
    forceMuteAll() {},
    disableForceMute() {},
  };
  return {
    live,
    handleUpgrade(_req, socket) {
      socket.destroy();
    },
    handleHttp() {
      return false;
    },
    async close() {
      sessions.clear();
    },
  };
}
