import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { Readable, type Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { decodeSessionId, REALTIME_PATH, RT_CLOSE, rtError } from '@tokhost/protocol';
import type { Route } from '../http/route-table.js';
import { isMessagingPath, messagingSessionOf } from '../opentok-js/index.js';
import type { Realtime } from '../realtime/index.js';
import type { ProjectRecord, Store } from '../storage/store.js';
import { CLUSTER_HOP_HEADER } from './registry.js';
import type { NodeInfo, Registry } from './registry.js';

/** WebSocket close code for "the server is going away, come back": clients reconnect. */
export const CLOSE_SERVICE_RESTART = 1012;

export interface ClusterRouterOptions {
  registry: Registry;
  realtime: Realtime;
  store: Store;
  /** This node's own handler of every WebSocket upgrade it serves (OpenTok.js messaging, then the realtime layer); default the realtime layer's. */
  localUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
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
 * WebSocket: @tokhost/client names the session in the socket's URL (`/rtc/v1?session=…`, plus
 * `&resume=<connectionId>` when it resumes); OpenTok.js in its messaging socket's path
 * (`/opentok-js/messaging/<sessionId>`, the URL the session info gave it). Such an upgrade is routed before any WebSocket
 * handshake: to the local realtime layer when this node owns the session (or is chosen to: the
 * registry places a session without a live owner on the least loaded node), otherwise the HTTP
 * upgrade request is forwarded to the owner, marked with a signed hop header, and the two TCP
 * sockets are piped together. This node then never parses a frame of that client: a burst of
 * broadcast frames from the owner crosses it in a few large reads and writes (bench:cluster).
 * A client that does not name the session in the URL (an older client, a bare protocol client)
 * is accepted here, its first frame (`connect`) read for the session, and its frames relayed to
 * the owner one by one over a WebSocket of this node's own.
 *
 * Media does not take either path: the owner's router answers the SDP with its own ICE
 * addresses, so browsers send media to the owner directly. When the owner dies, the client's
 * socket closes (1006 through a pipe, 1012 from a relay) and the client reconnects; its resume
 * names a connection that joined on the dead node, so this node answers `ERR_RT_SESSION_MOVED`
 * and the client joins again (see @tokhost/client's transport).
 */
export class ClusterRouter {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024, perMessageDeflate: false });
  private readonly relays = new Set<WebSocket>();
  /** Client sockets piped to an owner, each with its upstream socket. */
  private readonly pipes = new Map<Duplex, Socket>();

  constructor(private readonly o: ClusterRouterOptions) {}

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://upgrade.invalid');
    } catch {
      socket.destroy();
      return;
    }
    const openTokJs = isMessagingPath(req.url);
    if ((url.pathname !== REALTIME_PATH && !openTokJs) || this.o.registry.verifyHop(req.headers[CLUSTER_HOP_HEADER])) {
      this.local(req, socket, head);
      return;
    }
    const sessionId = openTokJs ? messagingSessionOf(req.url) : url.searchParams.get('session');
    if (sessionId === null || sessionId === '') {
      // An OpenTok.js socket on the bare path (session info from an older server): served here.
      if (openTokJs) this.local(req, socket, head);
      else this.wss.handleUpgrade(req, socket, head, (ws) => this.onClient(ws, req));
      return;
    }
    socket.on('error', () => undefined);
    // OpenTok.js resumes by a socket ID only its owner knows: a stale resume is the owner's to refuse.
    const resumeOf = openTokJs ? null : url.searchParams.get('resume');
    this.routeUpgrade(req, socket, head, sessionId, resumeOf, true).catch((err: Error) => {
      this.o.logger.warn({ err: err.message }, 'cluster: routing a socket failed');
      socket.destroy();
    });
  }

  /** Route an upgrade that names its session: serve it here, refuse a stale resume, or pipe it to the owner. */
  private async routeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, sessionId: string, resumeOf: string | null, mayRetry: boolean): Promise<void> {
    const local = () => {
      if (!socket.destroyed) this.local(req, socket, head);
    };
    const where = await this.decide(sessionId, resumeOf);
    if (where.kind === 'local') return local();
    if (where.kind === 'moved') {
      if (socket.destroyed) return;
      // Answered as the owner would: to the client's `connect` frame.
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => undefined);
        const timer = setTimeout(() => ws.terminate(), 10_000);
        ws.once('message', () => {
          clearTimeout(timer);
          this.refuseMoved(ws, where.origin, where.ownerId);
        });
      });
      return;
    }
    const { owner } = where;
    const target = new URL(owner.url);
    const upstream = tcpConnect({ host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port || (target.protocol === 'https:' ? 443 : 80)) });
    upstream.setNoDelay(true);
    let answered = false;
    const timer = setTimeout(() => {
      if (!answered) upstream.destroy(new Error('the owner did not answer the upgrade in 5 s'));
    }, 5000);
    upstream.once('connect', () => {
      if (socket.destroyed) {
        upstream.destroy();
        return;
      }
      this.pipes.set(socket, upstream);
      upstream.write(this.upgradeRequest(req));
      if (head.length > 0) upstream.write(head);
      upstream.once('data', () => {
        answered = true;
        clearTimeout(timer);
      });
      (socket as Socket).setNoDelay?.(true);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    upstream.on('error', (err) => {
      clearTimeout(timer);
      this.o.logger.debug({ err: err.message, target: owner.url }, 'cluster: pipe to the owner failed');
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
        // The owner's process is gone: place its sessions again now, and this client with them.
        void this.o.registry.evict(owner.id).then(
          () => {
            if (mayRetry && !socket.destroyed) this.routeUpgrade(req, socket, head, sessionId, resumeOf, false).catch(() => socket.destroy());
            else socket.destroy();
          },
          () => void socket.destroy(),
        );
        return;
      }
      socket.destroy();
    });
    upstream.on('close', () => {
      clearTimeout(timer);
      if (this.pipes.get(socket) === upstream) {
        this.pipes.delete(socket);
        socket.destroy();
      }
    });
    socket.on('close', () => {
      if (this.pipes.get(socket) === upstream) this.pipes.delete(socket);
      upstream.destroy();
    });
  }

  /**
   * Where a client of `sessionId` goes: here (this node owns it, is chosen to, or the registry
   * cannot be asked), to a remote owner, or nowhere because its resume names a connection that
   * joined on another node than the owner (`ERR_RT_SESSION_MOVED`: join again).
   */
  private async decide(sessionId: string, resumeOf: string | null): Promise<{ kind: 'local' } | { kind: 'moved'; origin: string; ownerId: string } | { kind: 'remote'; owner: NodeInfo }> {
    // Not a session ID at all: nothing to place; the realtime layer refuses it with the right error.
    if (decodeSessionId(sessionId) === null) return { kind: 'local' };
    let owner: NodeInfo | null;
    try {
      owner = await this.o.registry.ownerOf(sessionId, true);
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'cluster: owner lookup failed; serving locally');
      return { kind: 'local' };
    }
    if (resumeOf !== null && resumeOf !== '' && owner) {
      const origin = await this.o.registry.connectionOrigin(sessionId, resumeOf).catch(() => null);
      if (origin !== null && origin !== owner.id) return { kind: 'moved', origin, ownerId: owner.id };
    }
    if (!owner || owner.id === this.o.registry.nodeId) return { kind: 'local' };
    return { kind: 'remote', owner };
  }

  private local(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.o.localUpgrade) this.o.localUpgrade(req, socket, head);
    else this.o.realtime.handleUpgrade(req, socket, head);
  }

  /** The client's upgrade request as the owner is to receive it: with the hop mark and the client's address. */
  private upgradeRequest(req: IncomingMessage): string {
    const drop = new Set([CLUSTER_HOP_HEADER, 'x-forwarded-for']);
    const lines = [`GET ${req.url ?? REALTIME_PATH} HTTP/1.1`];
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (!drop.has(raw[i]!.toLowerCase())) lines.push(`${raw[i]}: ${raw[i + 1]}`);
    }
    const forwarded = req.headers['x-forwarded-for'];
    const chain = [typeof forwarded === 'string' ? forwarded : undefined, req.socket.remoteAddress].filter((x) => x);
    lines.push(`${CLUSTER_HOP_HEADER}: ${this.o.registry.hopToken()}`, `x-forwarded-for: ${chain.join(', ')}`);
    return lines.join('\r\n') + '\r\n\r\n';
  }

  private refuseMoved(ws: WebSocket, origin: string, ownerId: string): void {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(JSON.stringify({ type: 'error', error: rtError('ERR_RT_SESSION_MOVED', `the session moved from node ${origin} to ${ownerId}: join again`) }));
    ws.close(RT_CLOSE.resumeFailed, 'ERR_RT_SESSION_MOVED');
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
        this.route(client, req, frames, onMessage).catch((err: Error) => {
          this.o.logger.warn({ err: err.message }, 'cluster: routing a socket failed');
          client.terminate();
        });
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
    const where = await this.decide(sessionId, typeof first.resume?.connectionId === 'string' ? first.resume.connectionId : null);
    if (where.kind === 'local') return local();
    if (where.kind === 'moved') return this.refuseMoved(client, where.origin, where.ownerId);
    const { owner } = where;
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
    for (const h of ['x-opentok-auth', 'x-tb-partner-auth', 'authorization', 'content-type', 'accept', 'user-agent']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    // The Host the caller used (links the owner hands out, such as a broadcast's HLS URL, name it
    // when no publicUrl is set); fetch may not set Host itself, the owner takes this one on a hop.
    if (typeof req.headers.host === 'string') headers['x-forwarded-host'] = req.headers.host;
    const answer = await this.fetchOwner(owner, req.url ?? '/', { method: route.method, headers, ...(body && body.length > 0 ? { body: new Uint8Array(body) } : {}) });
    // The owner's process is gone (its port refuses; now evicted): answer from here, where the
    // session has no live state until its clients come back.
    if (answer === null) return false;
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

  /**
   * A request to `owner` (a REST call, an OpenTok.js session-info request); null when the owner's
   * process is gone (its port refuses), which evicts it from the registry.
   */
  private async fetchOwner(owner: NodeInfo, path: string, init: RequestInit): Promise<Response | null> {
    const send = () => fetch(owner.url + path, { ...init, signal: AbortSignal.timeout(10_000) });
    const code = (err: unknown) => (err as { cause?: { code?: string } }).cause?.code;
    try {
      try {
        return await send();
      } catch (err) {
        // A kept-alive connection to a node that just died fails on reuse (reset, "other side
        // closed"); a second attempt opens a new one, which tells a dead process (refused) from
        // a slow one (a call that died with the connection may, rarely, have run: it runs twice).
        if (code(err) === 'ECONNREFUSED' || (err as Error).name === 'TimeoutError') throw err;
        return await send();
      }
    } catch (err) {
      if (code(err) === 'ECONNREFUSED') {
        await this.o.registry.evict(owner.id).catch(() => undefined);
        return null;
      }
      throw err;
    }
  }

  /**
   * OpenTok.js's session-info request (`/<host>/session/<sessionId>`) is answered by the session's
   * owner (placing the session when it has none, as its messaging socket will be): resolves true
   * once answered from there, false when this node answers it (it owns the session, the request
   * is itself forwarded, or the owner just died).
   */
  async forwardOpenTokJs(req: IncomingMessage, res: ServerResponse, sessionId: string): Promise<boolean> {
    if (this.o.registry.verifyHop(req.headers[CLUSTER_HOP_HEADER])) return false;
    const owner = await this.o.registry.ownerOf(sessionId, true);
    if (!owner || owner.id === this.o.registry.nodeId) return false;
    const headers: Record<string, string> = { [CLUSTER_HOP_HEADER]: this.o.registry.hopToken() };
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && (/^x-(opentok|tb)-/.test(name) || name === 'user-agent' || name === 'origin')) headers[name] = value;
    }
    // The messaging URL the owner hands out names the host the client used (see restoreForwardedHost).
    if (typeof req.headers.host === 'string') headers['x-forwarded-host'] = req.headers.host;
    const answer = await this.fetchOwner(owner, req.url ?? '/', { method: 'GET', headers });
    if (answer === null) return false;
    const payload = Buffer.from(await answer.arrayBuffer());
    const out: Record<string, string | number> = { 'content-length': payload.length };
    answer.headers.forEach((value, name) => {
      if (name === 'content-type' || name === 'cache-control' || name === 'cross-origin-resource-policy' || name.startsWith('access-control-')) out[name] = value;
    });
    res.writeHead(answer.status, out);
    res.end(payload);
    return true;
  }

  /**
   * A viewer's HLS request for a broadcast this node does not run: fetched from the node that
   * serves its files (announced in its heartbeat) and streamed back as is. Resolves false (the
   * HLS handler answers 404) when no other live node serves it or that node cannot be reached.
   * HLS players behind a load balancer reach any node.
   */
  async forwardHls(req: IncomingMessage, res: ServerResponse, token: string): Promise<boolean> {
    const node = req.headers[CLUSTER_HOP_HEADER] === undefined ? await this.o.registry.hlsNode(token).catch(() => null) : null;
    if (!node || node.id === this.o.registry.nodeId) return false;
    const headers: Record<string, string> = { [CLUSTER_HOP_HEADER]: this.o.registry.hopToken() };
    if (typeof req.headers.range === 'string') headers['range'] = req.headers.range;
    let answer: Response;
    try {
      answer = await fetch(node.url + (req.url ?? '/'), { method: req.method === 'HEAD' ? 'HEAD' : 'GET', headers, signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      this.o.logger.debug({ err: (err as Error).message, node: node.id }, 'cluster: HLS request to the serving node failed');
      return false;
    }
    const out: Record<string, string> = {};
    for (const h of ['content-type', 'content-length', 'content-range', 'accept-ranges', 'cache-control', 'access-control-allow-origin']) {
      const v = answer.headers.get(h);
      if (v !== null) out[h] = v;
    }
    res.writeHead(answer.status, out);
    if (!answer.body || req.method === 'HEAD') {
      res.end();
      return true;
    }
    const body = Readable.fromWeb(answer.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('error', () => res.destroy());
    res.on('close', () => body.destroy());
    body.pipe(res);
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

  /** Client sockets this node passes to other owners now: piped at the TCP level, relayed frame by frame. */
  socketCounts(): { piped: number; relayed: number } {
    return { piped: this.pipes.size, relayed: this.relays.size };
  }

  close(): void {
    for (const [client, upstream] of this.pipes) {
      upstream.destroy();
      client.destroy();
    }
    this.pipes.clear();
    for (const r of this.relays) r.terminate();
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
  }
}
