/**
 * Limits per project and per connection: the config slice they read, and small pure checks the
 * realtime layer, the REST routes and the services call at the one place each limit applies.
 * Every limit is a setting (see `config.ts` and docs/security.md, Limits); a check answers
 * `null` when the request may go on, else the message naming the limit and its setting.
 *
 * Counts are per server process: in cluster mode each node applies them to what it holds.
 */

/**
 * The settings the limits read: part of `ServerConfig` (which extends this), declared here once;
 * defaults in {@link LIMIT_DEFAULTS}, flags and env in config.ts's table.
 */
export interface LimitsConfig {
  /** WebSocket connections at once that joined with the same client token. */
  readonly maxConnectionsPerToken: number;
  /** WebSocket connections at once of one project (all its sessions). */
  readonly maxConnectionsPerProject: number;
  /** Signals a connection may send per second, on average. */
  readonly signalRatePerConnection: number;
  /** Signals a connection may send at once before the rate applies. */
  readonly signalBurstPerConnection: number;
  /** REST signals (`POST …/signal`) a project may send per second, on average (burst: 5 × this). */
  readonly restSignalRatePerProject: number;
  /** Subscriptions one connection may hold at once. */
  readonly maxSubscriptionsPerConnection: number;
  /** Archives recording at once in one session (with distinct `multiArchiveTag`s). */
  readonly maxArchivesPerSession: number;
  /** Archives recording at once in one project. */
  readonly maxArchivesPerProject: number;
  /** Broadcasts running at once in one session (with distinct `multiBroadcastTag`s). */
  readonly maxBroadcastsPerSession: number;
  /** Broadcasts running at once in one project. */
  readonly maxBroadcastsPerProject: number;
  /** SIP calls at once in one session. */
  readonly maxSipCallsPerSession: number;
  /** SIP calls at once in one project. */
  readonly maxSipCallsPerProject: number;
  /** Bytes queued for a client socket that does not read before the server cuts it. */
  readonly sendBufferMaxBytes: number;
}

/** The defaults: far above what a real application does, well below what hurts the server. */
export const LIMIT_DEFAULTS: LimitsConfig = Object.freeze({
  maxConnectionsPerToken: 32,
  maxConnectionsPerProject: 20_000,
  signalRatePerConnection: 50,
  signalBurstPerConnection: 200,
  restSignalRatePerProject: 200,
  maxSubscriptionsPerConnection: 500,
  maxArchivesPerSession: 5,
  maxArchivesPerProject: 50,
  maxBroadcastsPerSession: 5,
  maxBroadcastsPerProject: 50,
  maxSipCallsPerSession: 50,
  maxSipCallsPerProject: 200,
  sendBufferMaxBytes: 4 * 1024 * 1024,
});

/**
 * The limits in a loosely typed config (the realtime layer gets `Record<string, unknown>`):
 * each setting that is a positive number, else its default.
 */
export function limitsFrom(config: Readonly<Record<string, unknown>>): LimitsConfig {
  const out: Record<string, number> = {};
  for (const [k, d] of Object.entries(LIMIT_DEFAULTS) as [keyof LimitsConfig, number][]) {
    const v = config[k];
    out[k] = typeof v === 'number' && v > 0 ? v : d;
  }
  return Object.freeze(out) as unknown as LimitsConfig;
}

/**
 * A token bucket: `rate` tokens per second up to `burst`; each event takes one. Time comes in
 * from the caller (milliseconds, monotonic), so the bucket is a pure value easy to test.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Take one token; false when there is none (the event is refused and takes nothing). */
  take(now: number): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Full again (nothing taken for long enough): the bucket can be forgotten. */
  idle(now: number): boolean {
    return this.tokens + ((now - this.last) * this.rate) / 1000 >= this.burst;
  }
}

/** One token bucket per key (a project's REST signals); full buckets are dropped now and then. */
export class KeyedRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private lastSweep = 0;
  constructor(
    readonly rate: number,
    readonly burst: number,
  ) {}

  take(key: string, now: number): boolean {
    if (now - this.lastSweep > 60_000) {
      this.lastSweep = now;
      for (const [k, b] of this.buckets) if (b.idle(now)) this.buckets.delete(k);
    }
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = new TokenBucket(this.rate, this.burst, now)));
    return b.take(now);
  }
}

/** Live WebSocket connections counted per project and per client token. */
export class ConnectionTally {
  private readonly perProject = new Map<string, number>();
  private readonly perToken = new Map<string, number>();

  /** Why one more connection of `apiKey` with `tokenKey` is refused, or null when it may join. */
  check(limits: Pick<LimitsConfig, 'maxConnectionsPerProject' | 'maxConnectionsPerToken'>, apiKey: string, tokenKey: string): string | null {
    if ((this.perToken.get(tokenKey) ?? 0) >= limits.maxConnectionsPerToken) {
      return `too many connections with this token (maxConnectionsPerToken ${limits.maxConnectionsPerToken})`;
    }
    if ((this.perProject.get(apiKey) ?? 0) >= limits.maxConnectionsPerProject) {
      return `too many connections in this project (maxConnectionsPerProject ${limits.maxConnectionsPerProject})`;
    }
    return null;
  }

  add(apiKey: string, tokenKey: string): void {
    this.perProject.set(apiKey, (this.perProject.get(apiKey) ?? 0) + 1);
    this.perToken.set(tokenKey, (this.perToken.get(tokenKey) ?? 0) + 1);
  }

  remove(apiKey: string, tokenKey: string): void {
    decrement(this.perProject, apiKey);
    decrement(this.perToken, tokenKey);
  }

  /** Connections of a project now. */
  project(apiKey: string): number {
    return this.perProject.get(apiKey) ?? 0;
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

/**
 * Why a connection may not subscribe to `streamId`, or null: one subscription per stream, and at
 * most `maxSubscriptionsPerConnection` in all. `held` are the stream IDs it subscribes to now.
 */
export function checkSubscribe(limits: Pick<LimitsConfig, 'maxSubscriptionsPerConnection'>, held: Iterable<string>, streamId: string): { code: 'duplicate' | 'limit'; message: string } | null {
  let n = 0;
  for (const s of held) {
    if (s === streamId) return { code: 'duplicate', message: `this connection already subscribes to stream ${streamId} (one subscription per stream)` };
    n++;
  }
  if (n >= limits.maxSubscriptionsPerConnection) return { code: 'limit', message: `a connection may hold at most ${limits.maxSubscriptionsPerConnection} subscriptions (maxSubscriptionsPerConnection)` };
  return null;
}

/**
 * Why one more concurrent archive, broadcast or SIP call is refused, or null. `inSession` and
 * `inProject` are the ones running now (the session's count is also part of the project's).
 */
export function checkConcurrent(what: 'archives' | 'broadcasts' | 'SIP calls', running: { inSession: number; inProject: number }, max: { perSession: number; perProject: number; sessionSetting: keyof LimitsConfig; projectSetting: keyof LimitsConfig }): string | null {
  if (running.inSession >= max.perSession) return `at most ${max.perSession} ${what} at once per session (${max.sessionSetting})`;
  if (running.inProject >= max.perProject) return `at most ${max.perProject} ${what} at once per project (${max.projectSetting})`;
  return null;
}

/** True when a socket's queued bytes passed the bound (`sendBufferMaxBytes`). */
export function overSendBuffer(limits: Pick<LimitsConfig, 'sendBufferMaxBytes'>, queuedBytes: number): boolean {
  return queuedBytes > limits.sendBufferMaxBytes;
}
