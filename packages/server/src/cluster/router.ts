import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { REALTIME_PATH, RT_CLOSE, rtError } from '@tokhost/protocol';
import type { Route } from '../http/router.js';
import type { Realtime } from '../realtime/index.js';
import type { ProjectRecord, Store } from '../storage/store.js';
import { CLUSTER_HOP_HEADER } from './registry.js';
import type { Registry } from './registry.js';

/** WebSocket close code for "the server is going away, come back": clients reconnect. */
export const CLOSE_SERVICE_RESTART = 1012;

export interface ClusterRouterOptions {
  registry: Registry;
  realtime: Realtime;
  store: Store;
  logger: { info(o: object, m?: string): void; warn(o: object, m?: string): void; debug(o: object, m?: string): void };
}

interface ConnectFrame {
  type?: unknown;
  sessionId?: unknown;
  resume?: { connectionId?: unknown };
}

/**
 * Routes clients and REST calls to the node that owns their session.
 *
 * WebSocket: every node accepts the socket and reads the first frame (`connect`, which names the
 * session). When this node owns the session (or is chosen to: the registry places a session
 * without a live owner on the least loaded node), the socket goes to the local realtime layer;
 * otherwise frames are relayed both ways over a WebSocket to the owner, marked with a signed hop
 * header so the owner does not route it again. Media does not take this path: the owner's router
 * answers the SDP with its own ICE addresses, so browsers send media to the owner directly. When
 * the owner dies, the relay closes the client's socket with 1012 and the client reconnects; its
 * resume names a connection that joined on the dead node, so the new owner answers
 * `ERR_RT_SESSION_MOVED` and the client joins again (see @tokhost/client's transport).
 */
export class ClusterRouter {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024, perMessageDeflate: false });
  private readonly relays = new Set<WebSocket>();

  constructor(private readonly o: ClusterRouterOptions) {}

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== REALTIME_PATH || this.o.registry.verifyHop(req.headers[CLUSTER_HOP_HEADER])) {
      this.o.realtime.handleUpgrade(req, socket, head);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onClient(ws, req));
  }

  private onClient(client: WebSocket, req: IncomingMessage): void {
    const frames: Buffer[] = [];
    let decided = false;
    const onMessage = (raw: Buffer, isBinary: boolean) => {
      if (isBinary) {
        client.close(RT_CLOSE.protocolError, 'binary frame');
        return;
      }
      frames.push(Buffer.from(raw));
      if (frames.length > 64) client.close(RT_CLOSE.protocolError, 'too many frames before connect');
      if (!decided) {
        decided = true;
        void this.route(client, req, frames, onMessage);
      }
    };
    client.on('message', onMessage);
    client.on('error', () => undefined);
    const timer = setTimeout(() => {
      if (!decided) client.close(RT_CLOSE.protocolError, 'no connect message');
    }, 10_000);
    client.once('close', () => clearTimeout(timer));
  }

  private async route(client: WebSocket, req: IncomingMessage, frames: Buffer[], onMessage: (raw: Buffer, isBinary: boolean) => void): Promise<void> {
    let first: ConnectFrame;
    try {
      first = JSON.parse(frames[0]!.toString()) as ConnectFrame;
    } catch {
      first = {};
    }
    const sessionId = typeof first.sessionId === 'string' && first.type === 'connect' ? first.sessionId : null;
    const local = () => {
      client.off('message', onMessage);
      if (client.readyState === client.OPEN) this.o.realtime.adoptSocket(client, frames.splice(0));
    };
    if (sessionId === null) return local(); // the realtime layer refuses it with the right error
    let owner;
    try {
      owner = await this.o.registry.ownerOf(sessionId, true);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'cluster: owner lookup failed; serving locally');
      return local();
    }
    const resumeOf = typeof first.resume?.connectionId === 'string' ? first.resume.connectionId : null;
    if (resumeOf !== null && owner) {
      const origin = await this.o.registry.connectionOrigin(sessionId, resumeOf).catch(() => null);
      if (origin !== null && origin !== owner.id) {
        if (client.readyState === client.OPEN) {
          client.send(JSON.stringify({ type: 'error', error: rtError('ERR_RT_SESSION_MOVED', `the session moved from node ${origin} to ${owner.id}: join again`) }));
          client.close(RT_CLOSE.resumeFailed, 'ERR_RT_SESSION_MOVED');
        }
        return;
      }
    }
    if (!owner || owner.id === this.o.registry.nodeId) return local();
    this.relay(client, req, frames, onMessage, owner.url, owner.id);
  }

  private relay(client: WebSocket, req: IncomingMessage, frames: Buffer[], onMessage: (raw: Buffer, isBinary: boolean) => void, ownerUrl: string, ownerId: string): void {
    const target = ownerUrl.replace(/^http/, 'ws') + REALTIME_PATH;
    const upstream = new WebSocket(target, {
      headers: { [CLUSTER_HOP_HEADER]: this.o.registry.hopToken(), 'x-forwarded-for': req.socket.remoteAddress ?? '' },
      perMessageDeflate: false,
      handshakeTimeout: 5000,
    });
    this.relays.add(upstream);
    client.off('message', onMessage);
    client.on('message', (raw: Buffer) => {
      if (upstream.readyState === upstream.OPEN) upstream.send(raw, { binary: false });
      else frames.push(Buffer.from(raw));
    });
    upstream.on('open', () => {
      for (const f of frames.splice(0)) upstream.send(f, { binary: false });
    });
    upstream.on('message', (raw: Buffer) => {
      if (client.readyState === client.OPEN) client.send(raw, { binary: false });
    });
    upstream.on('error', (err) => {
      this.o.logger.debug({ err: err.message, target }, 'cluster: relay to the owner failed');
      // A refused connection means the owner's process is gone: place its sessions again now.
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') void this.o.registry.evict(ownerId).catch(() => undefined);
    });
    upstream.on('close', (code, reason) => {
      this.relays.delete(upstream);
      if (client.readyState !== client.OPEN) return;
      // The owner's own close codes pass through; a lost owner becomes "reconnect" (1012).
      if (code === 1000 || (code >= 4000 && code < 5000)) client.close(code, reason.toString());
      else client.close(CLOSE_SERVICE_RESTART, 'session owner unreachable');
    });
    client.on('close', () => {
      if (upstream.readyState === upstream.OPEN || upstream.readyState === upstream.CONNECTING) upstream.close(1000);
    });
  }

  /**
   * REST calls that touch live state run on the session's owner: returns true when this request
   * was forwarded (and answered), false when it is to be handled here (no live owner, this node
   * owns it, or the call is itself a forwarded one).
   */
  async forwardRest(req: IncomingMessage, res: ServerResponse, route: Route, params: Readonly<Record<string, string>>, project: ProjectRecord, raw: () => Promise<Buffer>): Promise<boolean> {
    if (this.o.registry.verifyHop(req.headers[CLUSTER_HOP_HEADER])) return false;
    const sessionId = await this.liveSessionOf(route, params, project, raw);
    if (sessionId === null) return false;
    const owner = await this.o.registry.ownerOf(sessionId, false);
    if (!owner || owner.id === this.o.registry.nodeId) return false;
    const body = route.method === 'GET' || route.method === 'DELETE' ? undefined : await raw();
    const headers: Record<string, string> = { [CLUSTER_HOP_HEADER]: this.o.registry.hopToken() };
    for (const h of ['x-opentok-auth', 'x-tb-partner-auth', 'content-type', 'accept', 'user-agent']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    let answer: Response;
    try {
      answer = await fetch(owner.url + (req.url ?? '/'), { method: route.method, headers, ...(body && body.length > 0 ? { body: new Uint8Array(body) } : {}), signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      // The owner's process is gone (its port refuses): evict it and answer from here, where the
      // session has no live state until its clients come back.
      if ((err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') {
        await this.o.registry.evict(owner.id).catch(() => undefined);
        return false;
      }
      throw err;
    }
    const payload = Buffer.from(await answer.arrayBuffer());
    const out: Record<string, string | number> = { 'content-length': payload.length, 'cache-control': 'no-store' };
    const type = answer.headers.get('content-type');
    if (type) out['content-type'] = type;
    const allow = answer.headers.get('allow');
    if (allow) out['allow'] = allow;
    res.writeHead(answer.status, out);
    res.end(payload);
    return true;
  }

  /** The session whose live state a route touches, or null for routes that only use the store. */
  private async liveSessionOf(route: Route, params: Readonly<Record<string, string>>, project: ProjectRecord, raw: () => Promise<Buffer>): Promise<string | null> {
    if (params['sessionId'] !== undefined) return params['sessionId'];
    const p = route.path;
    if (route.method === 'POST' && (p === '/v2/project/:key/archive' || p === '/v2/project/:key/broadcast' || p === '/v2/project/:key/dial')) {
      try {
        const json = JSON.parse((await raw()).toString('utf8')) as { sessionId?: unknown };
        return typeof json.sessionId === 'string' ? json.sessionId : null;
      } catch {
        return null;
      }
    }
    if (params['archiveId'] !== undefined && /\/(stop|layout|streams)$/.test(p)) return this.o.store.getArchive(project.apiKey, params['archiveId'])?.archive.sessionId ?? null;
    if (params['broadcastId'] !== undefined && /\/(stop|layout|streams)$/.test(p)) return this.o.store.getBroadcast(project.apiKey, params['broadcastId'])?.broadcast.sessionId ?? null;
    return null;
  }

  close(): void {
    for (const r of this.relays) r.terminate();
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
  }
}
