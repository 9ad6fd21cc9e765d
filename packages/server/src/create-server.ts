import { join } from 'node:path';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { resolveOperatorToken } from './auth/operator.js';
import { clustered, CLOSE_SERVICE_RESTART, singleNode } from './cluster/index.js';
import { Compositions } from './compose/compositions.js';
import type { ServerConfig, ServerConfigInput } from './config.js';
import { validateConfig } from './config.js';
import { handleHealth } from './http/health.js';
import { createHlsHandler } from './http/hls.js';
import { handleMetrics, serverMetricsText, servesLoopbackOnly, webhookMetricsText } from './http/metrics.js';
import { createRestHandler } from './http/rest.js';
import { createHomeHandler } from './http/home.js';
import { createConsoleHandler } from './http/console.js';
import { Thumbnailer } from './compose/thumbnail.js';
import { MetricsHistory } from './services/metrics-history.js';
import { closeHttpServer, createHttpServer, listen } from './http/server.js';
import { createLogger } from './logger.js';
import { lazyMediaRouter } from './media/lazy-router.js';
import { createOutboundPolicy } from './net/outbound.js';
import { createRealtime } from './realtime/index.js';
import type { Realtime } from './realtime/index.js';
import { linkBase } from './http/link-base.js';
import { createOpenTokJs } from './opentok-js/index.js';
import type { OpenTokJs } from './opentok-js/index.js';
import { Archiver } from './recording/archiver.js';
import { createArchiveDownloads } from './recording/http.js';
import { createS3ArchiveStorage } from './recording/s3-storage.js';
import { createLocalArchiveStorage } from './recording/storage.js';
import { RenderService } from './render/service.js';
import { BroadcastService } from './services/broadcasts.js';
import { seedProjects } from './services/projects.js';
import { recoverInterrupted } from './services/recovery.js';
import { AudioConnector } from './connector/audio-connector.js';
import { CaptionsService } from './captions/captions.js';
import { createMoonshineRecognizer, moonshineAvailable, type ClosableSpeechRecognizer } from './captions/moonshine.js';
import { createPocketsphinxRecognizer, pocketsphinxAvailable } from './captions/pocketsphinx.js';
import type { SpeechRecognizer } from './captions/recognizer.js';
import { createVoskWebSocketRecognizer } from './captions/vosk-websocket.js';
import { AudioParticipants } from './participant/audio-participant.js';
import { SipGateway } from './sip/gateway.js';
import { sipGatewayConfig } from './sip/gateway-config.js';
import { sipMetricsText } from './sip/metrics.js';
import { createMemoryStore } from './storage/memory.js';
import { createPostgresStore } from './storage/postgres.js';
import { createSqliteStore } from './storage/sqlite.js';
import type { Store } from './storage/store.js';
import type { CreateServerDeps, TokhostServer } from './tokhost-server.js';
import { createWebhookSender } from './webhooks/index.js';

export type { CreateServerDeps, TokhostServer } from './tokhost-server.js';

/**
 * The composition root: validates the configuration once, opens the store, seeds projects,
 * builds the realtime layer, the media router (started on the first routed session: its worker
 * processes cost nothing until then) and the REST handler, and listens. Whether the server runs
 * alone or as a cluster node is one object, its {@link Topology} (cluster/index.ts).
 *
 * HTTP requests go to `/metrics` (Prometheus text; the operator token unless only this machine
 * can reach the server), the REST API, then the realtime layer (browser SDK, demo), then the
 * OpenTok.js front end (its proxy-path discovery and logging), else 404. WebSocket upgrades: the
 * OpenTok.js messaging socket, else the session's owner node (cluster), else the realtime layer.
 *
 * @example
 * const server = await createServer({ port: 0, store: 'memory', apiKey: '123456', apiSecret: 'x'.repeat(40) });
 * const ot = new OpenTok('123456', 'x'.repeat(40), server.url);
 * await server.close();
 */
export async function createServer(input: ServerConfigInput = {}, deps: CreateServerDeps = {}): Promise<TokhostServer> {
  const config = validateConfig(input);
  const logger = deps.logger ?? createLogger(config.logLevel, deps.logStream);
  const store = deps.store ?? openStore(config);
  const topology =
    config.redisUrl !== null
      ? clustered({ redisUrl: config.redisUrl, nodeId: config.nodeId, advertiseUrl: config.advertiseUrl, clusterSecret: config.clusterSecret, masterKey: config.masterKey, store, logger })
      : singleNode();
  const media = lazyMediaRouter(config, logger.child({ component: 'media' }));
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
    deliveries: store,
    deliveriesKept: config.webhookDeliveriesKept,
    ...topology.outboxLease,
    ...(config.webhookRetryDelaysMs !== null ? { retryDelaysMs: config.webhookRetryDelaysMs } : {}),
  });
  let realtime: Realtime | undefined;
  let openTokJs: OpenTokJs | undefined;
  let compositions: Compositions | undefined;
  let archiver: Archiver | undefined;
  let broadcasts: BroadcastService | undefined;
  let sip: SipGateway | undefined;
  let thumbnails: Thumbnailer | undefined;
  let history: MetricsHistory | undefined;
  let participants: AudioParticipants | undefined;
  let connector: AudioConnector | undefined;
  let renders: RenderService | undefined;
  let captions: CaptionsService | undefined;
  let moonshine: ClosableSpeechRecognizer | undefined;
  let httpServer: Server | undefined;
  let recovery: Promise<unknown> | undefined;
  let state: 'running' | 'draining' | 'closing' = 'running';

  // The shutdown order, for close() and for a start that failed half-way alike: stop taking work
  // from other nodes, end the calls, finish the recordings and broadcasts (files, callbacks into
  // the outbox), only then leave the cluster (so that no node takes them for orphans meanwhile),
  // then the client sockets, the media workers, the HTTP server, and the store everything wrote to.
  const closers: readonly [string, () => unknown][] = [
    ['cluster routing', () => topology.stop()],
    ['sip gateway', () => sip?.close()],
    ['audio connector', () => connector?.close()],
    ['captions', () => captions?.close()],
    ['captions engine', () => moonshine?.close()],
    ['server participants', () => participants?.close()],
    ['renders', () => renders?.close()],
    ['recovery', () => recovery],
    ['archiver', () => archiver?.close()],
    ['broadcasts', () => broadcasts?.close()],
    ['thumbnails', () => thumbnails?.close()],
    ['metrics history', () => history?.close()],
    ['compositions', () => compositions?.close()],
    ['webhooks', () => webhooks.close()],
    ['cluster registry', () => topology.close()],
    ['opentok-js', () => openTokJs?.close()],
    ['realtime', () => realtime?.close()],
    ['media router', () => media.close()],
    ['http server', () => httpServer && closeHttpServer(httpServer)],
    ['store', () => store.close()],
  ];
  const closeAll = async () => {
    for (const [part, close] of closers) await Promise.resolve(close()).catch((err: unknown) => logger.error({ err }, `${part} close failed`));
  };

  try {
    const defaultProject = seedProjects(store, config);
    const operator = resolveOperatorToken(store, config.operatorToken);
    const rt = (realtime = createRealtime({
      store,
      logger,
      media: media.get,
      config,
      webhooks,
      // ICE candidates clients name: the server's allow-list plus the ICE-only one.
      icePolicy: createOutboundPolicy({ allow: [...config.outboundAllow, ...config.iceAllow] }),
      onJoin: (sessionId, connectionId) => topology.recordConnection(sessionId, connectionId),
    }));
    // The official OpenTok.js client, on the same live state (docs/opentok-js-protocol.md).
    const otjs = (openTokJs = createOpenTokJs({
      frontEnd: rt.frontEnd(),
      baseUrl: (req) => linkBase(req, config),
      sendBufferMaxBytes: config.sendBufferMaxBytes,
      ...(topology.forwardOpenTokJs ? { forward: topology.forwardOpenTokJs } : {}),
      // A cluster: a client whose node died comes back on the new owner by migrating there.
      rotateStaleReconnects: topology.nodeId !== null,
      logger: logger.child({ component: 'opentok-js' }),
    }));
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
    const archives = (archiver = new Archiver({
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
    }));
    // Broadcast status callbacks (reference §6) go to the project's webhook URL, through the
    // durable outbox like every other callback.
    const bc = (broadcasts = new BroadcastService({
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
    }));
    // The project callback every other event takes: a call's callbacks stay in order with its connection's.
    // Server participants with audio (SIP calls, Audio Connector sockets): one implementation.
    const audioParticipants = (participants = new AudioParticipants({ participants: rt.participants, logger: logger.child({ component: 'participant' }) }));
    connector = new AudioConnector({ participants: audioParticipants, outbound, logger: logger.child({ component: 'audio-connector' }) });
    // The built-in engines answer 501 (no recogniser) when their model is not installed here.
    const captionsRecognizer = (): SpeechRecognizer | null => {
      switch (config.captionsEngine) {
        case 'moonshine':
          if (!moonshineAvailable()) {
            logger.warn('captions: the Moonshine model (@moonshine-ai/moonshine-js) is not installed; live captions are off');
            return null;
          }
          return (moonshine = createMoonshineRecognizer());
        case 'vosk':
          return createVoskWebSocketRecognizer({ url: config.captionsVoskUrl!, languages: config.captionsVoskLanguages });
        case 'pocketsphinx':
          return pocketsphinxAvailable() ? createPocketsphinxRecognizer() : null;
        case 'none':
          return null;
      }
    };
    captions = new CaptionsService({
      participants: audioParticipants,
      recognizer: captionsRecognizer(),
      logger: logger.child({ component: 'captions' }),
      onCaption: (e) => {
        rt.deliverCaption(e.sessionId, e.streamId, e.text, e.isFinal);
        deps.onCaption?.(e);
      },
      // Status callbacks go where renders' go: the durable outbox, signed with the project's
      // secret, each attempt checked by the outbound policy.
      onStatus: (url, apiKey, event) => {
        const secret = store.getProject(apiKey)?.apiSecret;
        if (secret !== undefined) webhooks.send(url, secret, event);
      },
    });
    const gateway = (sip = config.sip
      ? new SipGateway({ participants: audioParticipants, compositions, outbound, logger: logger.child({ component: 'sip' }), webhook: rt.webhook, config: sipGatewayConfig(config) })
      : undefined);

    // Experience Composer (docs/render.md): headless browsers that publish a page into a session.
    // Browsers a crashed run left are killed before anything else starts one.
    let listenUrl = '';
    const rs = (renders = new RenderService({
      store,
      webhooks,
      outbound,
      settings: config,
      logger: logger.child({ component: 'render' }),
      serverUrl: () => listenUrl,
      ownsStore: config.redisUrl === null,
    }));
    rs.recover();

    // The token, or a server only this machine can reach (docs/security.md).
    const metricsGuard = (req: Parameters<typeof servesLoopbackOnly>[2]) => config.metricsPublic || operator.verify(req.headers) || servesLoopbackOnly(config.host, config.publicUrl, req);
    const metrics = () =>
      serverMetricsText(rt.metrics(), media.running(), { sessionLabels: config.metricsSessionLabels }) +
      webhookMetricsText(webhooks.stats(), rt.refusedCandidates()) +
      (gateway ? sipMetricsText(gateway.metrics()) : '') +
      topology.metricsText();
    const readiness = { server: () => (state === 'closing' ? 'shutting down' : state === 'draining' ? 'draining' : null), ...topology.readiness };
    // The console's parts (docs/console.md): thumbnails from the router's taps, the metrics history.
    thumbnails = new Thumbnailer({ live: rt.live, dir: join(config.dataDir, 'thumbnails'), maxConcurrent: config.thumbnailMaxConcurrent });
    const samples = (history = new MetricsHistory(
      { realtime: () => rt.metrics(), router: () => media.running(), recordings: () => archives.recordingIds().length, broadcasts: () => bc.runningCount },
      { intervalMs: config.metricsHistoryIntervalSeconds * 1000 },
    ));
    const rest = createRestHandler({ store, live: rt.live, archiver: archives, config, logger, broadcasts: bc, outbound, operator, webhooks, thumbnails, metricsHistory: samples, renders: rs, ...(gateway ? { sip: gateway } : {}), connector, captions, ...(topology.forwardRest ? { forward: topology.forwardRest } : {}) });
    const server = (httpServer = createHttpServer(
      [
        (req) => {
          topology.restoreForwardedHost(req);
          return false;
        },
        (req, res) => handleHealth(req, res, readiness),
        createHomeHandler({ demo: config.demo, console: config.console }),
        (req, res) => handleMetrics(req, res, metricsGuard, metrics),
        ...(config.console ? [createConsoleHandler({ logger })] : []),
        rest,
        createHlsHandler((token) => bc.hlsDirectory(token), topology.forwardHls),
        createArchiveDownloads({ store, storage, logger }),
        (req, res) => rt.handleHttp(req, res),
        (req, res) => otjs.handleHttp(req, res),
      ],
      logger,
    ));
    // Each upgrade is the cluster's to route first (both protocols name their session in the URL).
    const localUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => otjs.handleUpgrade(req, socket, head) || rt.handleUpgrade(req, socket, head);
    server.on('upgrade', (req, socket, head) => topology.routeUpgrade(req, socket, head) || localUpgrade(req, socket, head));
    const { url, port } = await listen(server, config.port, config.host);
    // The render's publisher reaches the server on the address it listens on (loopback for a wildcard one).
    listenUrl = url.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:');
    logger.info({ url, store: store.kind, dataDir: store.kind === 'sqlite' ? config.dataDir : undefined, nodeId: topology.nodeId }, 'listening');
    await topology.start(url, { realtime: rt, archives, broadcasts: bc, handleUpgrade: localUpgrade });
    // A cluster node stands by for any session: its media workers start now, not when a dead
    // owner's clients arrive (starting them then took about 4 s of a failover under load).
    if (topology.nodeId !== null) media.get().catch((err: unknown) => logger.warn({ err }, 'media router did not start at start-up'));

    // Recordings and broadcasts a crash interrupted, in the background (the files may be large); in
    // a cluster again every few seconds, since a node's death is noticed by the survivors.
    const interrupted = { archives, broadcasts: bc, skipArchive: topology.skipArchive, skipBroadcast: topology.skipBroadcast, logger };
    recovery = recoverInterrupted(interrupted);
    topology.repeat(() => recoverInterrupted(interrupted, true));

    let closing: Promise<void> | undefined;
    return Object.freeze({
      url,
      port,
      host: config.host,
      config,
      store,
      logger,
      httpServer: server,
      defaultProject,
      operator,
      mediaRouterForTesting: () => media.starting(),
      sipGatewayForTesting: () => gateway ?? null,
      webhooks,
      nodeId: topology.nodeId,
      async drain(timeoutMs = 10_000) {
        state = 'draining';
        const sessions = rt.metrics().sessions.map((x) => x.sessionId);
        await topology.drain(sessions);
        logger.info({ sessions: sessions.length, connections: rt.metrics().connections }, 'draining: clients are moved away');
        rt.closeClients(CLOSE_SERVICE_RESTART, 'server draining');
        const end = Date.now() + timeoutMs;
        while (rt.metrics().connections > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      },
      close: () =>
        (closing ??= (async () => {
          state = 'closing';
          await closeAll();
        })()),
    });
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The store the config names: PostgreSQL (`databaseUrl`), in memory, or SQLite in `dataDir`. */
function openStore(config: ServerConfig): Store {
  if (config.databaseUrl !== null) return createPostgresStore({ url: config.databaseUrl, masterKey: config.masterKey! });
  return config.store === 'memory' ? createMemoryStore() : createSqliteStore({ dataDir: config.dataDir });
}
