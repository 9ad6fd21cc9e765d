/**
 * Audio Connector (`POST /connect`): a session's audio streamed to a WebSocket server chosen by
 * the API caller, and with `bidirectional` the server's audio back into the session.
 *
 * Each connection is an {@link AudioParticipant}: a connection of the session (the token's data
 * and role), which hears the session through the shared mixer at `audioRate` (all streams but
 * its own, or only `streams`) and, when bidirectional, publishes what the socket sends as an
 * audio stream. On the socket: first one JSON text message, `{"content-type":
 * "audio/l16;rate=<audioRate>", ...headers}`, then one binary message per 20 ms of 16-bit
 * little-endian mono PCM. The socket's end ends the connection; the connection's end
 * (forceDisconnect, the session's end, server shutdown) closes the socket.
 */
import { randomUUID } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import type { VerifiedToken } from '@tokhost/protocol';
import { WebSocket } from 'ws';
import { TokhostError } from '../errors.js';
import type { OutboundPolicy } from '../net/outbound.js';
import { OutboundError } from '../net/outbound.js';
import { fromPcm16le, toPcm16le, type MixRate } from '../participant/audio.js';
import type { AudioParticipant, AudioParticipants, PcmPublication } from '../participant/audio-participant.js';
import type { ParticipantLogger } from '../participant/session-audio.js';

/** A `/connect` request the connector refuses; `field` names the request field at fault. */
export class AudioConnectorError extends TokhostError<'ERR_CONNECT_INVALID' | 'ERR_CONNECT_FAILED' | 'ERR_CONNECT_UNAVAILABLE'> {
  override readonly name = 'AudioConnectorError';
  constructor(
    code: 'ERR_CONNECT_INVALID' | 'ERR_CONNECT_FAILED' | 'ERR_CONNECT_UNAVAILABLE',
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The `websocket` member of a `/connect` body, validated. */
export interface WebsocketOptions {
  uri: string;
  /** Only these streams are heard (mixed); default every stream but the connector's own. */
  streams?: string[];
  /** Sent as members of the first (JSON) message. */
  headers?: Record<string, string>;
  /** Sampling rate of the PCM both ways. Default 16000. */
  audioRate: MixRate;
  /** Audio the socket sends is published into the session. */
  bidirectional: boolean;
}

export interface AudioConnectorDeps {
  participants: AudioParticipants;
  /** Which hosts `websocket.uri` may name (docs/security.md, Outbound targets). Default: any. */
  outbound?: OutboundPolicy;
  logger: ParticipantLogger;
  /** How long the socket may take to open. Default 6000 ms (as OpenTok). */
  connectTimeoutMs?: number;
  /** Bytes waiting in a socket's send buffer above which frames are dropped (a slow server). Default 1 MiB. */
  maxBufferedBytes?: number;
}

/** The `/connect` answer (reference §4.5). */
export interface AudioConnectionJson {
  id: string;
  connectionId: string;
}

class Connection {
  readonly id = randomUUID();
  participant!: AudioParticipant;
  publication: PcmPublication | undefined;
  framesSent = 0;
  framesDropped = 0;
  bytesReceived = 0;
  ended = false;

  constructor(
    readonly apiKey: string,
    readonly sessionId: string,
    readonly ws: WebSocket,
  ) {}
}

/** The Audio Connector of a server: every socket it holds. */
export class AudioConnector {
  private readonly connections = new Map<string, Connection>();
  private closed = false;

  constructor(private readonly deps: AudioConnectorDeps) {}

  /** Connections not yet ended of a project and of one of its sessions. */
  counts(apiKey: string, sessionId: string): { inSession: number; inProject: number } {
    let inSession = 0;
    let inProject = 0;
    for (const c of this.connections.values()) {
      if (c.apiKey !== apiKey) continue;
      inProject++;
      if (c.sessionId === sessionId) inSession++;
    }
    return { inSession, inProject };
  }

  /**
   * Opens the socket (within `connectTimeoutMs`), then joins the session. Resolves once the
   * connection is in the session and the first message is sent.
   */
  async connect(apiKey: string, token: VerifiedToken, ws: WebsocketOptions): Promise<AudioConnectionJson> {
    if (this.closed) throw new AudioConnectorError('ERR_CONNECT_UNAVAILABLE', 'the Audio Connector is shut down');
    const url = new URL(ws.uri);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    let lookup: LookupFunction | undefined;
    if (this.deps.outbound) {
      try {
        const target = await this.deps.outbound.resolve(host);
        // Connect to the checked address, never to the name again (a changed DNS answer cannot move it).
        if (!target.literal) lookup = (_name, options, cb) => (options.all ? (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]) : cb(null, target.address, target.family));
      } catch (err) {
        if (err instanceof OutboundError && err.code === 'ERR_OUTBOUND_REFUSED') {
          throw new AudioConnectorError('ERR_CONNECT_INVALID', `websocket.uri names a ${err.rule} address${err.address !== err.host ? ` (${err.host} resolves to ${err.address})` : ''}, which the server's outbound policy refuses (rule: ${err.rule})`, 'websocket.uri');
        }
        throw new AudioConnectorError('ERR_CONNECT_FAILED', `websocket.uri: ${host} does not resolve`, 'websocket.uri', { cause: err });
      }
    }
    const timeoutMs = this.deps.connectTimeoutMs ?? 6000;
    const socket = new WebSocket(ws.uri, { handshakeTimeout: timeoutMs, followRedirects: false, perMessageDeflate: false, ...(lookup ? { lookup } : {}) });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.removeAllListeners('open');
        socket.on('error', () => undefined);
        socket.terminate();
        reject(new AudioConnectorError('ERR_CONNECT_FAILED', `websocket.uri: could not connect to the WebSocket server: ${err.message}`, 'websocket.uri', { cause: err }));
      };
      socket.once('error', fail);
      socket.once('unexpected-response', (_req, res) => fail(new Error(`the server answered the upgrade with HTTP ${res.statusCode}`)));
      socket.once('open', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve();
      });
    });
    socket.on('error', (err) => this.deps.logger.debug({ err: err.message }, 'audio connector: socket error'));
    const c = new Connection(apiKey, token.sessionId, socket);
    try {
      c.participant = this.deps.participants.join(token, { onEnd: () => this.end(c, 'connection ended') });
    } catch (err) {
      socket.close(1011, 'could not join the session');
      throw new AudioConnectorError('ERR_CONNECT_INVALID', `token: ${(err as Error).message}`, 'token', { cause: err });
    }
    this.connections.set(c.id, c);
    socket.send(JSON.stringify({ 'content-type': `audio/l16;rate=${ws.audioRate}`, ...(ws.headers ?? {}) }));
    const max = this.deps.maxBufferedBytes ?? 1 << 20;
    try {
      if (ws.bidirectional) c.publication = await c.participant.publishPcm('Audio Connector', ws.audioRate);
      c.participant.listen({
        rate: ws.audioRate,
        ...(ws.streams ? { streams: ws.streams } : {}),
        onFrame: (frame) => {
          if (socket.readyState !== WebSocket.OPEN) return;
          if (socket.bufferedAmount > max) {
            c.framesDropped++;
            return;
          }
          c.framesSent++;
          socket.send(toPcm16le(frame), { binary: true });
        },
      });
    } catch (err) {
      this.end(c, 'could not publish');
      throw new AudioConnectorError('ERR_CONNECT_INVALID', `token: the connector could not publish: ${(err as Error).message}`, 'token', { cause: err });
    }
    socket.on('message', (data, isBinary) => {
      if (!isBinary || !c.publication) return;
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      c.bytesReceived += buf.length;
      c.publication.write(fromPcm16le(buf));
    });
    socket.on('close', () => this.end(c, 'socket closed'));
    this.deps.logger.info({ id: c.id, sessionId: c.sessionId, connectionId: c.participant.connectionId, rate: ws.audioRate, bidirectional: ws.bidirectional, streams: ws.streams?.length }, 'audio connector connected');
    return { id: c.id, connectionId: c.participant.connectionId };
  }

  /**
   * Ends one connection of a project (`POST …/connect/{id}/stop`, what `@vonage/video`'s
   * `disconnectWebsocket` calls): its socket closes and its connection leaves the session.
   * False when the project has no such live connection.
   */
  stop(apiKey: string, id: string): boolean {
    const c = this.connections.get(id);
    if (!c || c.apiKey !== apiKey) return false;
    this.end(c, 'Stop Requested');
    return true;
  }

  /** One connection's counters (tests, diagnostics); undefined once it has ended. */
  stats(id: string): { framesSent: number; framesDropped: number; bytesReceived: number; framesPublished: number } | undefined {
    const c = this.connections.get(id);
    return c && { framesSent: c.framesSent, framesDropped: c.framesDropped, bytesReceived: c.bytesReceived, framesPublished: c.publication?.frames ?? 0 };
  }

  private end(c: Connection, why: string): void {
    if (c.ended) return;
    c.ended = true;
    this.connections.delete(c.id);
    c.participant?.leave('clientDisconnected');
    if (c.ws.readyState === WebSocket.OPEN || c.ws.readyState === WebSocket.CONNECTING) c.ws.close(1000, 'Audio Connector connection ended');
    this.deps.logger.info({ id: c.id, sessionId: c.sessionId, why, framesSent: c.framesSent, framesDropped: c.framesDropped }, 'audio connector ended');
  }

  /** Ends every connection (their sockets close). */
  close(): void {
    this.closed = true;
    for (const c of [...this.connections.values()]) this.end(c, 'server shutting down');
  }
}
