import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { Redis } from 'ioredis';

/** Header on node-to-node requests (WebSocket hops, forwarded REST calls): `<unix ms>.<hex HMAC>`. */
export const CLUSTER_HOP_HEADER = 'x-tokhost-cluster-hop';

/** What a node reports in its heartbeat. */
export interface NodeLoad {
  connections: number;
  /** Sessions with a room on this node. */
  sessions: number;
  /** Routed media streams and subscribers (the media router's work). */
  media: number;
}

/** A live node as the registry lists it. */
export interface NodeInfo extends NodeLoad {
  id: string;
  /** Where other nodes reach it (`advertiseUrl`). */
  url: string;
  draining: boolean;
  /** Last heartbeat, ms since the epoch. */
  seenAt: number;
}

export interface RegistryOptions {
  redisUrl: string;
  nodeId: string;
  url: string;
  secret: string;
  /** This node's load and the sessions it has rooms for, read at every heartbeat. */
  local(): { load: NodeLoad; sessions: readonly string[]; archives?: readonly string[]; broadcasts?: readonly string[]; hlsTokens?: readonly string[] };
  logger: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
  /** Heartbeat period, ms. Default 1000. */
  heartbeatMs?: number;
  /** How long a node or a session lease lives without a heartbeat, ms. Default 3000. */
  ttlMs?: number;
}

const K = {
  node: (id: string) => `tokhost:node:${id}`,
  nodes: 'tokhost:nodes',
  lease: (sessionId: string) => `tokhost:lease:${sessionId}`,
  conns: (sessionId: string) => `tokhost:conns:${sessionId}`,
  recording: (archiveId: string) => `tokhost:recording:${archiveId}`,
  broadcasting: (broadcastId: string) => `tokhost:broadcasting:${broadcastId}`,
  hls: (token: string) => `tokhost:hls:${token}`,
};

// Compare-and-set of a lease: replace it only while it still holds what the caller saw.
const CAS_LEASE = `
local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return ARGV[2]
end
return cur`;
// Renew every lease this node holds; re-take the ones that lapsed (the room is still here).
const RENEW_LEASES = `
local n = 0
for i, key in ipairs(KEYS) do
  local cur = redis.call('GET', key)
  if cur == ARGV[1] or cur == false then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    n = n + 1
  end
end
return n`;

/**
 * The cluster's live routing in Redis: a node registry (a hash per node with its URL and load,
 * expiring unless the heartbeat renews it) and one lease per live session naming its owner
 * node, renewed by the owner's heartbeat. A dead node's entries expire after `ttlMs`; a lease
 * whose owner is no longer registered counts as free at once, so failover does not even wait for
 * the lease to expire.
 */
export class Registry {
  readonly nodeId: string;
  private readonly redis: Redis;
  private timer: NodeJS.Timeout | null = null;
  private draining = false;
  private lastNodes: NodeInfo[] = [];
  private leasesHeld = 0;
  private healthy = false;
  private closed = false;
  private readonly heartbeatMs: number;
  private readonly ttlMs: number;

  constructor(private readonly options: RegistryOptions) {
    this.nodeId = options.nodeId;
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.ttlMs = options.ttlMs ?? 3000;
    this.redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true, connectTimeout: 3000 });
    this.redis.on('error', (err: Error) => {
      if (this.healthy) options.logger.warn({ err: err.message }, 'cluster: redis error');
      this.healthy = false;
    });
  }

  async start(): Promise<void> {
    await this.redis.connect();
    this.redis.defineCommand('casLease', { numberOfKeys: 1, lua: CAS_LEASE });
    await this.heartbeat();
    this.timer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    this.timer.unref();
    this.options.logger.info({ nodeId: this.nodeId, url: this.options.url }, 'cluster: node registered');
  }

  /** One heartbeat: publish load, renew leases, refresh the cached node list. */
  async heartbeat(): Promise<void> {
    if (this.closed) return;
    const { load, sessions, archives = [], broadcasts = [], hlsTokens = [] } = this.options.local();
    const now = Date.now();
    try {
      const m = this.redis.multi();
      m.hset(K.node(this.nodeId), { url: this.options.url, connections: load.connections, sessions: load.sessions, media: load.media, draining: this.draining ? 1 : 0, seenAt: now });
      m.pexpire(K.node(this.nodeId), this.ttlMs);
      m.zadd(K.nodes, now, this.nodeId);
      m.zremrangebyscore(K.nodes, 0, now - 60_000);
      // Archives recording here, so that no other node takes them for orphans.
      for (const id of archives) m.set(K.recording(id), this.nodeId, 'PX', this.ttlMs);
      // Broadcasts running here (not orphans), and the HLS files served here (other nodes
      // forward a viewer's request for them).
      for (const id of broadcasts) m.set(K.broadcasting(id), this.nodeId, 'PX', this.ttlMs);
      for (const token of hlsTokens) m.set(K.hls(token), this.nodeId, 'PX', this.ttlMs);
      if (sessions.length > 0) m.eval(RENEW_LEASES, sessions.length, ...sessions.map(K.lease), this.nodeId, this.ttlMs);
      const res = await m.exec();
      this.leasesHeld = sessions.length > 0 ? Number(res?.[4 + archives.length + broadcasts.length + hlsTokens.length]?.[1] ?? 0) : 0;
      this.lastNodes = await this.listNodes();
      this.healthy = true;
    } catch (err) {
      this.healthy = false;
      this.options.logger.warn({ err: (err as Error).message }, 'cluster: heartbeat failed');
    }
  }

  /** Every registered node (heartbeat within `ttlMs`). */
  async listNodes(): Promise<NodeInfo[]> {
    const ids = await this.redis.zrangebyscore(K.nodes, Date.now() - this.ttlMs, '+inf');
    if (ids.length === 0) return [];
    const p = this.redis.pipeline();
    for (const id of ids) p.hgetall(K.node(id));
    const rows = (await p.exec()) ?? [];
    const out: NodeInfo[] = [];
    ids.forEach((id, i) => {
      const h = rows[i]?.[1] as Record<string, string> | undefined;
      if (!h || !h['url']) return;
      out.push({ id, url: h['url'], connections: Number(h['connections']), sessions: Number(h['sessions']), media: Number(h['media']), draining: h['draining'] === '1', seenAt: Number(h['seenAt']) });
    });
    return out;
  }

  /** The node list of the last heartbeat (for metrics; no round trip). */
  cachedNodes(): readonly NodeInfo[] {
    return this.lastNodes;
  }

  /** Leases renewed by the last heartbeat. */
  leaseCount(): number {
    return this.leasesHeld;
  }

  /**
   * The live owner of a session. With `place`, a session without one (never placed, or its owner
   * died or is draining) is placed on the least loaded live node — this one on a tie — and that
   * node is returned. Without `place`, `null` when no live node owns it.
   */
  async ownerOf(sessionId: string, place: boolean): Promise<NodeInfo | null> {
    const key = K.lease(sessionId);
    const current = await this.redis.get(key);
    const nodes = await this.listNodes();
    const byId = new Map(nodes.map((n) => [n.id, n]));
    if (current !== null) {
      const owner = byId.get(current);
      if (owner && !(owner.draining && place && owner.id !== this.nodeId)) return owner;
      if (current === this.nodeId) return owner ?? this.selfInfo();
    }
    if (!place) return null;
    const candidates = nodes.filter((n) => !n.draining);
    if (!this.draining && !byId.has(this.nodeId)) candidates.push(this.selfInfo());
    if (candidates.length === 0) return null;
    const score = (n: NodeInfo) => n.connections + n.media;
    candidates.sort((a, b) => score(a) - score(b) || (a.id === this.nodeId ? -1 : b.id === this.nodeId ? 1 : a.id.localeCompare(b.id)));
    const target = candidates[0]!;
    const won = (await (this.redis as unknown as { casLease(k: string, expect: string, next: string, ttl: number): Promise<string | null> }).casLease(key, current ?? '', target.id, this.ttlMs)) as string | null;
    if (won === target.id) {
      this.options.logger.info({ sessionId, node: target.id, previous: current }, 'cluster: session placed');
      return target;
    }
    // Another node placed it first.
    return (won && byId.get(won)) || (won === this.nodeId ? this.selfInfo() : null);
  }

  /**
   * Drop a node from the registry at once (another node found its port closed: the process is
   * gone), so its sessions are placed again without waiting for its entry to expire.
   */
  async evict(nodeId: string): Promise<void> {
    if (nodeId === this.nodeId) return;
    await this.redis.multi().del(K.node(nodeId)).zrem(K.nodes, nodeId).exec();
    this.options.logger.warn({ node: nodeId }, 'cluster: node unreachable (connection refused), evicted from the registry');
  }

  /** True while a live node announces that it records this archive. */
  async isRecording(archiveId: string): Promise<boolean> {
    return (await this.redis.exists(K.recording(archiveId))) === 1;
  }

  /** True while a live node announces that it runs this broadcast. */
  async isBroadcasting(broadcastId: string): Promise<boolean> {
    return (await this.redis.exists(K.broadcasting(broadcastId))) === 1;
  }

  /** The live node that serves the HLS files of a broadcast's URL token, or null. */
  async hlsNode(token: string): Promise<NodeInfo | null> {
    const id = await this.redis.get(K.hls(token));
    if (id === null) return null;
    return (await this.listNodes()).find((n) => n.id === id) ?? null;
  }

  /** Take a named lock for `ms` unless another node holds it (SET NX PX); true when taken. */
  async tryLock(name: string, ms: number): Promise<boolean> {
    return (await this.redis.set(`tokhost:lock:${name}`, this.nodeId, 'PX', ms, 'NX')) === 'OK';
  }

  /** Remember which owner a connection joined, so a resume after a failover is recognised. */
  recordConnection(sessionId: string, connectionId: string): void {
    const key = K.conns(sessionId);
    this.redis
      .multi()
      .hset(key, connectionId, this.nodeId)
      .pexpire(key, 24 * 3600 * 1000)
      .exec()
      .catch((err: Error) => this.options.logger.warn({ err: err.message }, 'cluster: recording a connection failed'));
  }

  /** The node a connection joined on, or null when unknown. */
  connectionOrigin(sessionId: string, connectionId: string): Promise<string | null> {
    return this.redis.hget(K.conns(sessionId), connectionId);
  }

  /** Give up this node's leases (drain): the next client of each session places it elsewhere. */
  async releaseLeases(sessions: readonly string[]): Promise<void> {
    for (const s of sessions) await this.redis.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1, K.lease(s), this.nodeId);
  }

  setDraining(on: boolean): Promise<void> {
    this.draining = on;
    return this.heartbeat();
  }

  isDraining(): boolean {
    return this.draining;
  }

  /** Readiness: null when Redis answered the last heartbeat. */
  problem(): string | null {
    if (this.draining) return 'draining';
    return this.healthy ? null : 'redis unreachable';
  }

  private selfInfo(): NodeInfo {
    const { load } = this.options.local();
    return { id: this.nodeId, url: this.options.url, ...load, draining: this.draining, seenAt: Date.now() };
  }

  /** Sign a node-to-node request. */
  hopToken(): string {
    return signHop(this.options.secret, Date.now());
  }

  /** Check a node-to-node request's header (fresh within 60 s and signed with the secret). */
  verifyHop(header: string | string[] | undefined): boolean {
    return verifyHop(this.options.secret, header);
  }

  async close(unregister = true): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    try {
      if (unregister) await this.redis.multi().del(K.node(this.nodeId)).zrem(K.nodes, this.nodeId).exec();
    } catch {
      // Redis gone: the entry expires.
    }
    this.redis.disconnect();
  }
}

export function signHop(secret: string, nowMs: number): string {
  return `${nowMs}.${createHmac('sha256', secret).update(`tokhost-hop.${nowMs}`).digest('hex')}`;
}

export function verifyHop(secret: string, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const m = /^(\d{10,16})\.([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(Date.now() - t) > 60_000) return false;
  const expected = Buffer.from(signHop(secret, t).split('.')[1]!, 'hex');
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}

/** A random node ID when none is configured. */
export const randomNodeId = () => `node-${randomUUID().slice(0, 8)}`;
