import { createHmac } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { Store } from '../storage/store.js';
import type { LocalWork, RecoverySkip, Topology } from './index.js';
import { clusterMetricsText } from './metrics.js';
import { ClusterRouter } from './owner-forwarding.js';
import { CLUSTER_HOP_HEADER, randomNodeId, Registry } from './registry.js';

/** Options of {@link clustered}: the cluster settings of the server config. */
export interface ClusteredOptions {
  redisUrl: string;
  /** This node's name. Default a random ID per start. */
  nodeId: string | null;
  /** Where other nodes reach this one. Default the URL it listens at. */
  advertiseUrl: string | null;
  /** Secret of the node-to-node calls. Default derived from `masterKey`. */
  clusterSecret: string | null;
  masterKey: string | null;
  store: Store;
  logger: Logger;
}

/** How often the survivors look for a dead node's recordings and broadcasts, ms. */
const SWEEP_MS = 5000;

/**
 * One node of a cluster: a {@link Registry} in Redis (heartbeat, session leases, what runs where)
 * joined at {@link Topology.start}, and a {@link ClusterRouter} that sends clients, REST calls
 * and HLS requests to the node owning their session. Until `start` (the server listens first:
 * the registry announces its real URL) everything is served here, as on a single node.
 */
export function clustered(options: ClusteredOptions): Topology {
  const nodeId = options.nodeId ?? randomNodeId();
  const logger = options.logger.child({ component: 'cluster' });
  let registry: Registry | null = null;
  let router: ClusterRouter | null = null;
  let sweeper: NodeJS.Timeout | null = null;
  let sweeping: Promise<unknown> = Promise.resolve();
  // Not an orphan: just started (its recorder may not have announced it yet), announced by a live
  // node, or being taken care of by another node (a lock in Redis, held `lockMs`).
  const notOrphan =
    (announced: (r: Registry, id: string) => Promise<boolean>, lock: string, lockMs: number): RecoverySkip =>
    async (x) =>
      Date.now() - x.createdAt < 10_000 || (registry !== null && ((await announced(registry, x.id)) || !(await registry.tryLock(`${lock}:${x.id}`, lockMs))));

  return {
    nodeId,
    // Every node drains the shared outbox; a dead node's URL leases expire.
    outboxLease: { owner: nodeId, exclusive: false },
    readiness: { cluster: () => registry?.problem() ?? null },
    forwardRest: (req, res, route, params, project, raw) => (router ? router.forwardRest(req, res, route, params, project, raw) : Promise.resolve(false)),
    forwardOpenTokJs: (req, res, sessionId) => (router ? router.forwardOpenTokJs(req, res, sessionId) : Promise.resolve(false)),
    // A viewer may reach any node: tokens served elsewhere are fetched from there.
    forwardHls: (token, req, res) => (router ? router.forwardHls(req, res, token) : Promise.resolve(false)),
    skipArchive: notOrphan((r, id) => r.isRecording(id), 'finalise', 10 * 60_000),
    skipBroadcast: notOrphan((r, id) => r.isBroadcasting(id), 'end-broadcast', 60_000),
    recordConnection: (sessionId, connectionId) => registry?.recordConnection(sessionId, connectionId),
    restoreForwardedHost(req) {
      // A REST call another node forwarded: the Host its caller used (see ClusterRouter.forwardRest).
      const forwardedHost = req.headers['x-forwarded-host'];
      if (registry && typeof forwardedHost === 'string' && registry.verifyHop(req.headers[CLUSTER_HOP_HEADER])) req.headers.host = forwardedHost;
    },
    routeUpgrade(req, socket, head) {
      if (!router) return false;
      router.handleUpgrade(req, socket, head);
      return true;
    },
    async start(url: string, local: LocalWork) {
      const { realtime, archives, broadcasts, handleUpgrade } = local;
      const localState = () => {
        const m = realtime.metrics();
        const sessions = [...new Set([...m.sessions.map((x) => x.sessionId), ...archives.recordingSessions(), ...broadcasts.runningSessions()])];
        const media = m.sessions.reduce((n, x) => n + (x.mediaMode === 'routed' ? x.streams + x.subscribers : 0), 0);
        return { load: { connections: m.connections, sessions: sessions.length, media }, sessions, archives: archives.recordingIds(), broadcasts: broadcasts.runningIds(), hlsTokens: broadcasts.hlsTokens() };
      };
      const reg = new Registry({
        redisUrl: options.redisUrl,
        nodeId,
        url: options.advertiseUrl ?? url,
        secret: options.clusterSecret ?? createHmac('sha256', options.masterKey ?? '').update('tokhost-cluster-secret').digest('hex'),
        local: localState,
        logger,
      });
      registry = reg;
      await reg.start();
      router = new ClusterRouter({ registry: reg, realtime, store: options.store, logger, ...(handleUpgrade ? { localUpgrade: handleUpgrade } : {}) });
    },
    repeat(sweep) {
      sweeper = setInterval(() => {
        sweeping = sweeping.then(sweep);
      }, SWEEP_MS);
      sweeper.unref();
    },
    metricsText: () => (registry ? clusterMetricsText(registry, router?.socketCounts()) : ''),
    async drain(sessions) {
      if (!registry) return;
      await registry.setDraining(true);
      await registry.releaseLeases(sessions).catch((err: unknown) => logger.warn({ err }, 'cluster: releasing leases failed'));
    },
    async stop() {
      router?.close();
      if (sweeper) clearInterval(sweeper);
      await sweeping;
    },
    async close() {
      await registry?.close();
    },
  };
}
