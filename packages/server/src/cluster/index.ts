/**
 * How this server stands among others: alone ({@link singleNode}) or one node of a cluster that
 * shares PostgreSQL and routes live sessions through Redis ({@link clustered}). The composition
 * root builds one and calls it the same way in both modes; everything that differs between them
 * is behind {@link Topology}.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HlsRemote } from '../http/hls.js';
import type { ReadinessCheck } from '../http/health.js';
import type { RestDeps } from '../http/route-table.js';
import type { Realtime } from '../realtime/index.js';
import type { WebhookSenderOptions } from '../webhooks/index.js';

export { clustered } from './clustered.js';
export type { ClusteredOptions } from './clustered.js';
export { CLOSE_SERVICE_RESTART } from './owner-forwarding.js';

/** What this node runs, as its heartbeat announces it (a session recording or broadcasting here stays leased here). */
export interface LocalWork {
  realtime: Realtime;
  archives: { recordingIds(): string[]; recordingSessions(): string[] };
  broadcasts: { runningIds(): string[]; runningSessions(): string[]; hlsTokens(): string[] };
  /** This node's handler of the upgrades it serves itself (OpenTok.js messaging, then realtime); default `realtime.handleUpgrade`. */
  handleUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** Which interrupted records recovery leaves alone: true for one another node runs or finalises. */
export type RecoverySkip = (record: { id: string; createdAt: number }) => Promise<boolean>;

/** The cluster wiring of a server; see {@link singleNode} and {@link clustered}. */
export interface Topology {
  /** This node's ID in the registry and in logs; null on a single server. */
  readonly nodeId: string | null;
  /** How the webhook sender holds the store's outbox: alone (`{}`), or beside the other nodes' senders. */
  readonly outboxLease: Pick<WebhookSenderOptions, 'owner' | 'exclusive'>;
  /** Checks `/readyz` adds (the registry's health). */
  readonly readiness: Readonly<Record<string, ReadinessCheck>>;
  /** REST calls for a session another node owns are run there; undefined: every call is answered here. */
  readonly forwardRest: RestDeps['forward'];
  /** OpenTok.js session-info requests for a session another node owns are answered there; undefined: all here. */
  readonly forwardOpenTokJs: ((req: IncomingMessage, res: ServerResponse, sessionId: string) => Promise<boolean>) | undefined;
  /** HLS tokens another node serves are fetched from there; undefined: only this node's are served. */
  readonly forwardHls: HlsRemote | undefined;
  /** Which interrupted archives and broadcasts recovery leaves alone; undefined: all of them are this node's. */
  readonly skipArchive: RecoverySkip | undefined;
  readonly skipBroadcast: RecoverySkip | undefined;
  /** A client joined a session here. */
  recordConnection(sessionId: string, connectionId: string): void;
  /** Before any handler: a request another node forwarded gets back the `Host` its caller used. */
  restoreForwardedHost(req: IncomingMessage): void;
  /** A WebSocket upgrade (`/rtc/v1`, OpenTok.js messaging): true when the topology took it (to the session's owner, or to the local handler); false: the caller serves it here. */
  routeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Joins the cluster once the server listens at `url` (its own URL unless `advertiseUrl` is set). */
  start(url: string, local: LocalWork): Promise<void>;
  /** Runs `sweep` every few seconds until {@link stop}: in a cluster a dead node's work is found by the survivors, not at their start. */
  repeat(sweep: () => Promise<unknown>): void;
  /** Prometheus text of the cluster (`''` on a single server). */
  metricsText(): string;
  /** A drain: no new session is placed here and this node's sessions are handed over. */
  drain(sessions: readonly string[]): Promise<void>;
  /** First step of closing: stop routing to other nodes and the sweeps (waits for the one running). */
  stop(): Promise<void>;
  /** Leave the registry: after the recordings closed, so no node takes them for orphans meanwhile. */
  close(): Promise<void>;
}

/** A server on its own: every session, call and token is served here; nothing to join or leave. */
export function singleNode(): Topology {
  return {
    nodeId: null,
    outboxLease: {},
    readiness: {},
    forwardRest: undefined,
    forwardOpenTokJs: undefined,
    forwardHls: undefined,
    skipArchive: undefined,
    skipBroadcast: undefined,
    recordConnection() {},
    restoreForwardedHost() {},
    routeUpgrade: () => false,
    start: () => Promise.resolve(),
    repeat() {},
    metricsText: () => '',
    drain: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}
