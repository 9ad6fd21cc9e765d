import type { CaptionEvent } from './captions/captions.js';
import type { Server } from 'node:http';
import type { OperatorAuth } from './auth/operator.js';
import type { CompositionSource } from './compose/compositions.js';
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import type { MediaRouter } from './media/types.js';
import type { BroadcastServiceOptions } from './services/broadcasts.js';
import type { SeedResult } from './services/projects.js';
import type { SipGateway } from './sip/gateway.js';
import type { Store } from './storage/store.js';
import type { WebhookSender } from './webhooks/index.js';

/*
 * What `createServer` (create-server.ts, the composition root) takes and returns.
 */

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
  /** Closes every part in the one shutdown order (see createServer's `closers`), the store last. Idempotent. */
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
  /** Every live caption the recogniser produces (tests, integrations); see docs/captions.md. */
  onCaption?(event: CaptionEvent): void;
}
