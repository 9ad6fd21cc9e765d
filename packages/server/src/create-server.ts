import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { Compositions, type CompositionSource } from './compose/compositions.js';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ServerConfig, ServerConfigInput } from './config.js';
import { validateConfig } from './config.js';
import { handleHealth } from './http/health.js';
import type { ReadinessCheck } from './http/health.js';
import { handleMetrics, serverMetricsText, servesLoopbackOnly, webhookMetricsText } from './http/metrics.js';
import { resolveOperatorToken } from './auth/operator.js';
import type { OperatorAuth } from './auth/operator.js';
import { createHlsHandler } from './http/hls.js';
import { lingerOnClose } from './http/linger.js';
import { createRestHandler } from './http/rest.js';
import { createLogger } from './logger.js';
import type { Logger } from './logger.js';
import type { MediaRouter } from './media/types.js';
import { createRealtime, isLoopbackHost } from './realtime/index.js';
import { createOpenTokJs } from './opentok-js/index.js';
import { linkBase } from './http/link-base.js';
import type { Realtime } from './realtime/index.js';
import type { OpenTokJs } from './opentok-js/index.js';
import { BroadcastService } from './services/broadcasts.js';
import type { BroadcastServiceOptions } from './services/broadcasts.js';
import { Archiver } from './recording/archiver.js';
import { createArchiveDownloads } from './recording/http.js';
import { createLocalArchiveStorage } from './recording/storage.js';
import { seedProjects } from './services/projects.js';
import type { SeedResult } from './services/projects.js';
import { createMemoryStore } from './storage/memory.js';
import { createPostgresStore } from './storage/postgres.js';
import { createS3ArchiveStorage } from './recording/s3-storage.js';
import { clusterMetricsText } from './cluster/metrics.js';
import { CLUSTER_HOP_HEADER, randomNodeId, Registry } from './cluster/registry.js';
import { CLOSE_SERVICE_RESTART, ClusterRouter } from './cluster/owner-forwarding.js';
import { createWebhookSender } from './webhooks/index.js';
import { createOutboundPolicy } from './net/outbound.js';
import type { OutboundPolicy } from './net/outbound.js';
import type { WebhookSender } from './webhooks/index.js';
import { createSqliteStore } from './storage/sqlite.js';
import { SipGateway } from './sip/gateway.js';
import { sipMetricsText } from './sip/metrics.js';
import type { Store } from './storage/store.js';

/** A running Tokhost server. */
export interface TokhostServer {
  /** Base URL, e.g. `http://127.0.0.1:3000` (the real port when `port` was 0): pass it as opentok-node's `apiUrl`. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** The validated, frozen configuration. */
  readonly config: ServerConfig;
  readonly store: Store;
  readonly logger: Logger;
  readonly httpServer: Server;
  /** What start-up did about projects: the seeded or newly created default project, if any. */
  readonly defaultProject: SeedResult;
  /**
   * The operator credential (`/metrics`, the console): `operator.generated` holds the clear token
   * when this start generated it — show it once, as `tokhost serve` does; `operator.verify(headers)`
   * checks an `Authorization: Bearer` header.
   */
  readonly operator: OperatorAuth;
  /**
   * Test and diagnostics hook, not an API for apps: the media router of routed sessions, or null
   * while none has been started (it starts with the first routed session). Tests use it for the
   * router's loss hook (`(await router.room(sessionId)).setSubscriberLoss(subscriberId, 0.3)`).
   */
  mediaRouterForTesting(): Promise<MediaRouter> | null;
  /** Test and diagnostics hook: the SIP gateway (its `stats()`), or null when config `sip` is false. */
  sipGatewayForTesting(): SipGateway | null;
  /** Webhook sender draining the store's outbox (archive, broadcast and SIP callbacks use it too). */
  readonly webhooks: WebhookSender;
  /** Cluster mode: this node's ID; null on a single server. */
  readonly nodeId: string | null;
  /**
   * Graceful drain (SIGTERM): /readyz answers 503, no new session is placed here, this node's
   * session leases are released and its clients are told to reconnect (WebSocket close 1012), which
   * moves them to other nodes in cluster mode; resolves once the clients are gone or after
   * `timeoutMs` (default 10000). Call {@link close} after it.
   */
  drain(timeoutMs?: number): Promise<void>;
  /** Closes the realtime layer, the media router, the HTTP server (and its connections), then the store. Idempotent. */
  close(): Promise<void>;
}

/** Parts a caller may inject instead of the ones the config selects (tests). */
export interface CreateServerDeps {
  /** Use this store instead of opening the configured one; `close()` then closes it too. */
  store?: Store;
  /** Use this logger. */
  logger?: Logger;
  /** Write logs here instead of stdout (ignored when `logger` is given). */
  logStream?: NodeJS.WritableStream;
  /** The compose manager broadcasts draw their composition from (tests inject a test source). */
  compositions?: CompositionSource;
  /** Broadcast timing and RTMP retry tuning (tests shorten maxDuration's second and the back-off). */
  broadcastTuning?: Pick<BroadcastServiceOptions, 'secondMs' | 'idleStopSeconds' | 'rtmp'>;
}

/**
 * The composition root: validates the configuration once, opens the store, seeds projects,
 * builds the realtime layer, the media router (started on the first routed session: its worker
 * processes cost nothing until then) and the REST handler, and listens.
 *
 * HTTP requests go to `/metrics` (Prometheus text; the operator token unless only this machine
 * can reach the server), the REST API, then the realtime layer
 * (browser SDK, demo), else 404; WebSocket upgrades go to the realtime layer.
 *
 * @example
 * const server = await createServer({ port: 0, store: 'memory', apiKey: '123456', apiSecret: 'x'.repeat(40) });
 * const ot = new OpenTok('123456', 'x'.repeat(40), server.url);
 * await server.close();
 */
export async function createServer(input: ServerConfigInput = {}, deps: CreateServerDeps = {}): Promise<TokhostServer> {
  const config = validateConfig(input);
  const logger = deps.logger ?? createLogger(config.logLevel, deps.logStream);
  const store =
    deps.store ??
    (config.databaseUrl !== null
      ? createPostgresStore({ url: config.databaseUrl, masterKey: config.masterKey! })
      : config.store === 'memory'
        ? createMemoryStore()
        : createSqliteStore({ dataDir: config.dataDir }));
  let realtime: Realtime | undefined;
  let openTokJs: OpenTokJs | undefined;
  let broadcasts: BroadcastService | undefined;
  let compositions: Compositions | undefined;
  let archiver: Archiver | undefined;
  let sip: ReturnType<typeof createSipGateway> | null = null;
  let router: Promise<MediaRouter> | null = null;
  let routerReady: MediaRouter | null = null;
  const closeRouter = async () => {
    const r = router;
    router = null;
    if (r) await (await r.catch(() => null))?.close();
  };
  const mediaRouter = (): Promise<MediaRouter> =>
    (router ??= import('./media/index.js').then(async ({ createMediaRouter }) => {
      const r = await createMediaRouter({
        ...(isLoopbackHost(config.host) ? { bindAddress: '127.0.0.1' } : {}),
        ...(config.publicIp !== null ? { publicIp: config.publicIp } : {}),
        ...(config.rtcMinPort !== null && config.rtcMaxPort !== null ? { rtcMinPort: config.rtcMinPort, rtcMaxPort: config.rtcMaxPort } : {}),
        ...(config.mediaWorkers !== null ? { workers: config.mediaWorkers } : {}),
        logger: logger.child({ component: 'media' }),
      });
      routerReady = r;
      logger.info({ workers: r.workerPids.length }, 'media router started');
      return r;
    }));
  let closingNow = false;
  let draining = false;
  // What /readyz checks; cluster mode adds its own (Redis, draining).
  const readiness: Record<string, ReadinessCheck> = { server: () => (closingNow ? 'shutting down' : draining ? 'draining' : null) };
  const clustered = config.redisUrl !== null;
  const nodeId = clustered ? (config.nodeId ?? randomNodeId()) : null;
  // Which hosts API callers may make the server connect to (docs/security.md, Outbound targets).
  const outbound = createOutboundPolicy({ allow: config.outboundAllow });
  const webhooks = createWebhookSender({
    logger: logger.child({ component: 'webhooks' }),
    outbox: store,
    outbound,
    timeoutMs: config.webhookTimeoutMs,
    concurrency: config.webhookConcurrency,
    maxAgeMs: config.webhookMaxAgeSeconds * 1000,
    maxPerUrl: config.webhookOutboxMax,
    ...(nodeId !== null ? { owner: nodeId, exclusive: false } : {}),
    ...(config.webhookRetryDelaysMs !== null ? { retryDelaysMs: config.webhookRetryDelaysMs } : {}),
  });
  let registry: Registry | null = null;
  let cluster: ClusterRouter | null = null;
  try {
    const defaultProject = seedProjects(store, config);
    const operator = resolveOperatorToken(store, config.operatorToken);
    // The token, or a server only this machine can reach (docs/security.md).
    const metricsGuard = (req: Parameters<typeof servesLoopbackOnly>[2]) => operator.verify(req.headers) || servesLoopbackOnly(config.host, config.publicUrl, req);
    const metricsOptions = { sessionLabels: config.metricsSessionLabels };
    realtime = createRealtime({
      store,
      logger,
      media: mediaRouter,
      config: config as unknown as Readonly<Record<string, unknown>>,
      webhooks,
      onJoin: (sessionId, connectionId) => registry?.recordConnection(sessionId, connectionId),
    });
    const rt = realtime;
    // The official OpenTok.js client, on the same live state (docs/opentok-js-protocol.md).
    const otjs = createOpenTokJs({ frontEnd: rt.frontEnd(), baseUrl: (req) => linkBase(req, config), sendBufferMaxBytes: config.sendBufferMaxBytes, logger: logger.child({ component: 'opentok-js' }) });
    openTokJs = otjs;
    compositions = new Compositions({ live: rt.live, logger: logger.child({ component: 'compose' }) });
    // Finished archives: a directory (shared by the nodes of a cluster), or an S3 bucket.
    const storage =
      config.archiveS3Bucket !== null
        ? createS3ArchiveStorage({
            bucket: config.archiveS3Bucket,
            region: config.archiveS3Region,
            prefix: config.archiveS3Prefix,
            ...(config.archiveS3Endpoint !== null ? { endpoint: config.archiveS3Endpoint } : {}),
          })
        : createLocalArchiveStorage(config.archivesDir ?? join(config.dataDir, 'archives'));
    const archives = new Archiver({
      store,
      live: rt.live,
      compositions,
      storage,
      recordingsDir: join(config.dataDir, 'recordings'),
      tools: { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' },
      maxDurationSeconds: config.archiveMaxDurationSeconds,
      idleStopSeconds: config.archiveIdleStopSeconds,
      callback: (apiKey, archive) => rt.webhook(apiKey, archive),
      logger: logger.child({ component: 'archives' }),
    });
    archiver = archives;
    const downloads = createArchiveDownloads({ store, storage, logger });
    // Broadcast status callbacks (reference §6) go to the project's webhook URL, through the
    // durable outbox like every other callback.
    broadcasts = new BroadcastService({
      store,
      live: rt.live,
      compositions: deps.compositions ?? compositions,
      hlsDir: join(config.dataDir, 'hls'),
      hlsRetentionSeconds: config.hlsRetentionSeconds,
      limits: config,
      outbound,
      ...deps.broadcastTuning,
      logger: logger.child({ component: 'broadcast' }),
      notify: rt.webhook,
    });
    const bc = broadcasts;
    sip = config.sip ? createSipGateway(config, rt, logger, compositions, outbound) : null;
    const rest = createRestHandler({
      store,
      live: rt.live,
      archiver: archives,
      config,
      logger,
      broadcasts: bc,
      outbound,
      ...(sip ? { sip: sip.gateway } : {}),
      ...(clustered ? { forward: (req, res, route, params, project, raw) => (cluster ? cluster.forwardRest(req, res, route, params, project, raw) : Promise.resolve(false)) } : {}),
    });
    // In cluster mode a viewer may reach any node: tokens served elsewhere are fetched from there.
    const hls = createHlsHandler(
      (token) => bc.hlsDirectory(token),
      clustered ? (token, req, res) => (cluster ? cluster.forwardHls(req, res, token) : Promise.resolve(false)) : undefined,
    );

    const httpServer = createHttpServer({ keepAliveTimeout: 65_000, headersTimeout: 30_000, requestTimeout: 60_000 }, (req, res) => {
      lingerOnClose(req);
      try {
        // A REST call another node forwarded: the Host its caller used (see ClusterRouter.forwardRest).
        const forwardedHost = req.headers['x-forwarded-host'];
        if (registry && typeof forwardedHost === 'string' && registry.verifyHop(req.headers[CLUSTER_HOP_HEADER])) req.headers.host = forwardedHost;
        if (handleHealth(req, res, readiness)) return;
        if (handleMetrics(req, res, metricsGuard, () => serverMetricsText(rt.metrics(), routerReady, metricsOptions) + webhookMetricsText(webhooks.stats(), rt.refusedCandidates()) + (sip ? sipMetricsText(sip.gateway.metrics()) : '') + (registry ? clusterMetricsText(registry, cluster?.socketCounts()) : ''))) return;
        if (rest(req, res)) return;
        if (hls(req, res)) return;
        if (downloads(req, res)) return;
        if (rt.handleHttp(req, res)) return;
        if (otjs.handleHttp(req, res)) return;
      } catch (err) {
        logger.error({ err, method: req.method }, 'request handler threw');
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
          res.end(JSON.stringify({ code: 500, message: 'Internal server error', description: 'The server failed to handle the request' }));
        } else res.destroy();
        return;
      }
      const body = JSON.stringify({ code: 404, message: 'Not Found', description: 'No resource at this path' });
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    httpServer.on('upgrade', (req, socket, head) => otjs.handleUpgrade(req, socket, head) || (cluster ? cluster.handleUpgrade(req, socket, head) : rt.handleUpgrade(req, socket, head)));
    httpServer.on('clientError', (err, socket) => {
      if (socket.writable && !(err as NodeJS.ErrnoException).code?.startsWith('ECONN')) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
    });

    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
    const address = httpServer.address() as AddressInfo;
    const hostInUrl = address.family === 'IPv6' || config.host.includes(':') ? `[${config.host.replace(/^\[|\]$/g, '')}]` : config.host;
    const url = `http://${hostInUrl}:${address.port}`;
    logger.info({ url, store: store.kind, dataDir: store.kind === 'sqlite' ? config.dataDir : undefined, nodeId }, 'listening');
    if (clustered) {
      const localState = () => {
        const m = rt.metrics();
        // A session recording or broadcasting here stays leased here even when its last client has left.
        const sessions = [...new Set([...m.sessions.map((x) => x.sessionId), ...archives.recordingSessions(), ...bc.runningSessions()])];
        const media = m.sessions.reduce((n, x) => n + (x.mediaMode === 'routed' ? x.streams + x.subscribers : 0), 0);
        return { load: { connections: m.connections, sessions: sessions.length, media }, sessions, archives: archives.recordingIds(), broadcasts: bc.runningIds(), hlsTokens: bc.hlsTokens() };
      };
      registry = new Registry({
        redisUrl: config.redisUrl!,
        nodeId: nodeId!,
        url: config.advertiseUrl ?? url,
        secret: config.clusterSecret ?? createHmac('sha256', config.masterKey ?? '').update('tokhost-cluster-secret').digest('hex'),
        local: localState,
        logger: logger.child({ component: 'cluster' }),
      });
      await registry.start();
      const reg = registry;
      readiness['cluster'] = () => reg.problem();
      cluster = new ClusterRouter({ registry: reg, realtime: rt, store, logger: logger.child({ component: 'cluster' }) });
    }
    // Recordings a crash interrupted: finalised in the background (the files may be large). In
    // cluster mode only those no live node records any more (each node announces its recordings
    // in its heartbeat), each by one node (a lock in Redis), and again every few seconds: a
    // node's death is noticed by the survivors, not at their start.
    // Just started (its recorder may not have announced it yet), announced by a live node, or
    // being taken care of by another node (the lock): not an orphan. Broadcasts likewise: one left
    // `started` by a crash (or a dead node) is marked stopped.
    const reg = registry;
    const notOrphan = (announced: (r: Registry, id: string) => Promise<boolean>, lock: string, lockMs: number) =>
      reg ? async (x: { id: string; createdAt: number }) => Date.now() - x.createdAt < 10_000 || (await announced(reg, x.id)) || !(await reg.tryLock(`${lock}:${x.id}`, lockMs)) : undefined;
    const orphaned = notOrphan((r, id) => r.isRecording(id), 'finalise', 10 * 60_000);
    const orphanedBroadcast = notOrphan((r, id) => r.isBroadcasting(id), 'end-broadcast', 60_000);
    const recoverBroadcasts = () =>
      bc.recover(orphanedBroadcast).then(
        (n) => n > 0 && logger.info({ broadcasts: n }, 'broadcasts of a stopped server marked stopped'),
        (err: Error) => logger.warn({ err: err.message }, 'broadcast recovery failed'),
      );
    let sweeping: Promise<unknown> = Promise.resolve();
    const sweeper = registry
      ? setInterval(() => {
          sweeping = sweeping
            .then(() => archives.recover(orphaned))
            .then(
              (r) => r.recovered + r.failed > 0 && logger.info(r, 'cluster: archives of a dead node finalised'),
              (err: Error) => logger.warn({ err: err.message }, 'cluster: archive sweep failed'),
            )
            .then(recoverBroadcasts);
        }, 5000)
      : null;
    sweeper?.unref();
    const recovery = Promise.all([
      archives.recover(orphaned).then(
        (r) => r.recovered + r.failed > 0 && logger.info(r, 'archives recovered after a restart'),
        (err: Error) => logger.error({ err: err.message }, 'archive recovery failed'),
      ),
      recoverBroadcasts(),
    ]);

    let closing: Promise<void> | undefined;
    return Object.freeze({
      url,
      port: address.port,
      host: config.host,
      config,
      store,
      logger,
      httpServer,
      defaultProject,
      operator,
      mediaRouterForTesting: () => router,
      sipGatewayForTesting: () => sip?.gateway ?? null,
      webhooks,
      nodeId,
      async drain(timeoutMs = 10_000) {
        draining = true;
        const sessions = rt.metrics().sessions.map((x) => x.sessionId);
        if (registry) {
          await registry.setDraining(true);
          await registry.releaseLeases(sessions).catch((err: unknown) => logger.warn({ err }, 'cluster: releasing leases failed'));
        }
        logger.info({ sessions: sessions.length, connections: rt.metrics().connections }, 'draining: clients are moved away');
        rt.closeClients(CLOSE_SERVICE_RESTART, 'server draining');
        const end = Date.now() + timeoutMs;
        while (rt.metrics().connections > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      },
      close: () =>
        (closing ??= (async () => {
          closingNow = true;
          cluster?.close();
          await sip?.close().catch((err: unknown) => logger.error({ err }, 'sip gateway close failed'));
          if (sweeper) clearInterval(sweeper);
          await recovery;
          await sweeping;
          await archives.close().catch((err: unknown) => logger.error({ err }, 'archiver close failed'));
          await bc.close().catch((err: unknown) => logger.error({ err }, 'broadcasts close failed'));
          await compositions?.close().catch((err: unknown) => logger.error({ err }, 'compositions close failed'));
          webhooks.close();
          await registry?.close();
          await otjs.close();
          await rt.close().catch((err: unknown) => logger.error({ err }, 'realtime close failed'));
          await closeRouter().catch((err: unknown) => logger.error({ err }, 'media router close failed'));
          await new Promise<void>((resolve) => {
            httpServer.close(() => resolve());
            httpServer.closeAllConnections();
          });
          store.close();
        })()),
    });
  } catch (err) {
    await sip?.close().catch(() => undefined);
    await archiver?.close().catch(() => undefined);
    await broadcasts?.close().catch(() => undefined);
    await compositions?.close().catch(() => undefined);
    webhooks.close();
    cluster?.close();
    await registry?.close().catch(() => undefined);
    await openTokJs?.close();
    await realtime?.close().catch(() => undefined);
    await closeRouter().catch(() => undefined);
    store.close();
    throw err;
  }
}

/** The SIP gateway, configured from the server config (docs/sip.md); its callbacks go through the server's one webhook sender. */
function createSipGateway(config: ServerConfig, rt: Realtime, logger: Logger, compositions: Compositions, outbound: OutboundPolicy): { gateway: SipGateway; close(): Promise<void> } {
  const bind = config.sipBindAddress ?? (isIP(config.host) && config.host !== '0.0.0.0' && config.host !== '::' ? config.host : '0.0.0.0');
  const firstExternal = () => Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  const advertised = config.sipPublicAddress ?? config.publicIp ?? (bind === '0.0.0.0' ? (firstExternal() ?? '127.0.0.1') : bind);
  const read = (path: string | null, what: string): string | undefined => {
    if (path === null) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`${what} ${path} cannot be read: ${(err as Error).message}`);
    }
  };
  const tlsCert = read(config.sipTlsCert, 'sipTlsCert');
  const tlsKey = read(config.sipTlsKey, 'sipTlsKey');
  const tlsCa = read(config.sipTlsCa, 'sipTlsCa');
  const gateway = new SipGateway({
    participants: rt.participants,
    compositions,
    outbound,
    logger: logger.child({ component: 'sip' }),
    // The project callback every other event takes: a call's callbacks stay in order with its connection's.
    webhook: rt.webhook,
    config: {
      bindAddress: bind,
      publicAddress: advertised,
      port: config.sipPort,
      tlsPort: config.sipTlsPort,
      ...(tlsCert && tlsKey ? { tlsCert, tlsKey } : {}),
      ...(tlsCa ? { tlsCa } : {}),
      tlsVerify: config.sipTlsVerify,
      rtpMinPort: config.sipRtpMinPort ?? 0,
      rtpMaxPort: config.sipRtpMaxPort ?? 0,
      rtpLatching: config.sipRtpLatching,
      ringTimeoutMs: config.sipRingTimeoutSeconds * 1000,
      mediaTimeoutMs: config.sipMediaTimeoutSeconds * 1000,
      maxDurationMs: config.sipMaxDurationSeconds * 1000,
    },
  });
  return {
    gateway,
    async close() {
      await gateway.close();
    },
  };
}
