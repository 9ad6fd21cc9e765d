import { createHmac, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createOutboundPolicy, OutboundError } from '../net/outbound.js';
import type { OutboundPolicy } from '../net/outbound.js';
import { redact } from '../net/redact.js';
import { createMemoryStore } from '../storage/memory.js';
import type { OutboxItem, Store } from '../storage/store.js';

/** Header carrying the webhook signature: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<rawBody>")>`. */
export const WEBHOOK_SIGNATURE_HEADER = 'X-Tokhost-Signature';
/** Header naming the outbox item: the same value on a redelivery, so receivers can drop duplicates. */
export const WEBHOOK_DELIVERY_HEADER = 'X-Tokhost-Delivery';

/** Sign a raw body the way the server does (exported for tests and docs). */
export function signWebhookBody(secret: string, rawBody: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${rawBody}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

/**
 * Any callback body: an object serialised with `JSON.stringify` (session monitoring's
 * `SessionMonitoringEvent`, archive, broadcast and SIP callbacks).
 */
export type WebhookEvent = object;

/** The part of the {@link Store} the sender uses. */
export type WebhookOutbox = Pick<Store, 'enqueueOutbox' | 'trimOutbox' | 'claimOutboxUrls' | 'listOutbox' | 'deleteOutbox' | 'releaseOutboxUrls'>;

export interface WebhookSenderOptions {
  logger: { warn(obj: object, msg?: string): void; debug(obj: object, msg?: string): void };
  /** Delays before each retry, ms. Default `[1000, 2000, 4000, 8000, 16000, 32000]` (7 attempts in all). */
  retryDelaysMs?: readonly number[];
  /** Per-attempt timeout (connect, request and answer), ms. Default 5000. */
  timeoutMs?: number;
  /** Attempts in flight at once per URL. Default 4. */
  concurrency?: number;
  /** An event still undelivered this long after it was queued is dropped and counted, ms. Default 600000 (10 min). */
  maxAgeMs?: number;
  /** Most undelivered events per URL; past it the oldest are dropped and counted. Default 1000. */
  maxPerUrl?: number;
  /**
   * Which hosts deliveries may connect to: each attempt resolves the URL's host, checks every
   * address and connects to the checked one. Default the strict policy (no allow-list).
   */
  outbound?: OutboundPolicy;
  /**
   * Where callbacks wait until delivered: the server's store, so a restart (or, in cluster mode,
   * the death of a node) loses none. Default an in-memory outbox of its own (tests of the sender).
   */
  outbox?: WebhookOutbox;
  /** Name this sender holds URL leases under. Default a random UUID (a node ID in cluster mode). */
  owner?: string;
  /**
   * True when this is the only sender draining the outbox (one server on its own store): the
   * leases a previous run held are dropped at start, so what it left is delivered at once.
   * False in cluster mode, where leases of a dead node expire after `leaseMs`. Default true.
   */
  exclusive?: boolean;
  /** How long a URL lease lasts, renewed every `pollMs`. Default 15000. */
  leaseMs?: number;
  /** How often the outbox is checked for items this sender did not add (other nodes, earlier runs), ms. Default 1000. */
  pollMs?: number;
}

/** What a sender did since it started (the `/metrics` counters). */
export interface WebhookStats {
  /** Events delivered (2xx). */
  delivered: number;
  /** Attempts that failed (error, non-2xx answer including 3xx, timeout). */
  failedAttempts: number;
  /** Of those, attempts given up after `timeoutMs`. */
  timedOut: number;
  /** Events dropped: every retry failed, older than `maxAgeMs`, pushed out of a full outbox, or the target is refused by the outbound policy. */
  dropped: { retries: number; age: number; overflow: number; refused: number };
}

/** A SIP call callback (`callCreated`, `callUpdated`, `callDestroyed`; see docs/sip.md). */
export interface SipCallWebhookEvent {
  sessionId: string;
  projectId: string;
  event: 'callCreated' | 'callUpdated' | 'callDestroyed' | 'muteForced';
  timestamp: number;
  call: { id: string; connectionId: string; createdAt: number; state?: string; reason_code?: number; reason_message?: string };
}

/** Delivers webhook callbacks. `send` never blocks on the network and never throws. */
export interface WebhookSender {
  /** Persist the event in the outbox, then deliver it (in order per URL). */
  send(url: string, secret: string, event: WebhookEvent): void;
  /** Resolves when every URL this sender holds has nothing left to deliver (tests). */
  idle(): Promise<void>;
  /** Counters since start (delivered, failed attempts, dropped events by reason). */
  stats(): WebhookStats;
  /** Stops delivery and gives up this sender's leases; undelivered items stay in the outbox. */
  close(): void;
}

/**
 * Delivery from a durable outbox, per URL, with a bounded number of attempts in flight, retry with
 * back-off, a maximum age and a bounded outbox. An event is written to the outbox before anything
 * is sent and removed after a 2xx answer, or when it is dropped (counted in {@link WebhookStats}):
 * every retry failed, it is older than `maxAgeMs`, the URL's outbox passed `maxPerUrl` (the oldest
 * go: the newest events describe the current state), or the outbound policy refuses the target.
 *
 * Order: per session. Up to `concurrency` events are in flight per URL, at most one of each
 * session (the event's `sessionId`; events without one form one sequence), oldest first: the
 * events of one session arrive in the order they happened, a session whose event waits for a
 * retry holds back only its own later events, and events of different sessions may overtake
 * each other.
 *
 * Each URL is leased to one sender at a time (several nodes drain one outbox); a slow or failing
 * endpoint delays only its own URL; the realtime path only enqueues. Delivery is at least once.
 * Redirects are not followed: a 3xx answer is a failed attempt.
 */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const delays = options.retryDelaysMs ?? [1000, 2000, 4000, 8000, 16000, 32000];
  const timeoutMs = options.timeoutMs ?? 5000;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const maxAgeMs = options.maxAgeMs ?? 600_000;
  const maxPerUrl = Math.max(1, options.maxPerUrl ?? 1000);
  const policy = options.outbound ?? createOutboundPolicy();
  const leaseMs = options.leaseMs ?? 15_000;
  const pollMs = options.pollMs ?? 1000;
  const owner = options.owner ?? randomUUID();
  const outbox: WebhookOutbox = options.outbox ?? createMemoryStore();
  const draining = new Set<string>();
  const wakers = new Map<string, () => void>();
  const requests = new Set<ClientRequest>();
  let held = new Set<string>();
  let idleWaiters: (() => void)[] = [];
  let closed = false;
  const log = options.logger;
  const stats: WebhookStats = { delivered: 0, failedAttempts: 0, timedOut: 0, dropped: { retries: 0, age: 0, overflow: 0, refused: 0 } };

  if (options.exclusive !== false) {
    try {
      outbox.releaseOutboxUrls(null);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'webhook outbox: cannot drop old leases');
    }
  }

  const checkIdle = () => {
    if (draining.size === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      w.forEach((f) => f());
    }
  };

  /** One POST to the checked address of the URL's host; never follows a redirect. */
  const attempt = async (item: OutboxItem): Promise<'ok' | 'failed' | 'refused'> => {
    let url: URL;
    try {
      url = new URL(item.url);
    } catch {
      return 'refused';
    }
    let target;
    try {
      target = await policy.resolve(url.hostname);
    } catch (err) {
      if (err instanceof OutboundError && err.code === 'ERR_OUTBOUND_REFUSED') {
        log.warn({ url: redact(item.url), rule: err.rule, address: err.address }, 'webhook target refused by the outbound policy; event dropped');
        return 'refused';
      }
      log.debug({ url: redact(item.url), err: (err as Error).message }, 'webhook attempt failed');
      return 'failed';
    }
    if (closed) return 'failed';
    const t = Math.floor(Date.now() / 1000);
    const secure = url.protocol === 'https:';
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: 'ok' | 'failed', why?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        requests.delete(req);
        if (r === 'failed') {
          stats.failedAttempts++;
          log.debug({ url: redact(item.url), err: why }, 'webhook attempt failed');
        }
        resolve(r);
      };
      const body = Buffer.from(item.body);
      const req = (secure ? httpsRequest : httpRequest)({
        // The checked address: no second lookup between the check and the connection.
        host: target.address,
        family: target.family,
        port: url.port ? Number(url.port) : secure ? 443 : 80,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        agent: false,
        ...(secure && !target.literal ? { servername: target.host } : {}),
        headers: {
          Host: url.host,
          'Content-Type': 'application/json',
          'Content-Length': body.length,
          [WEBHOOK_SIGNATURE_HEADER]: signWebhookBody(item.secret, item.body, t),
          [WEBHOOK_DELIVERY_HEADER]: String(item.id),
          'User-Agent': 'Tokhost-Webhooks/1',
        },
      });
      requests.add(req);
      const timer = setTimeout(() => {
        stats.timedOut++;
        finish('failed', `no answer within ${timeoutMs} ms`);
        req.destroy();
      }, timeoutMs);
      req.on('response', (res) => {
        res.resume();
        const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
        finish(ok ? 'ok' : 'failed', `HTTP ${res.statusCode}`);
        res.on('error', () => undefined);
      });
      req.on('error', (err) => finish('failed', err.message));
      req.end(body);
    });
  };

  const drop = (item: OutboxItem, why: keyof WebhookStats['dropped']) => {
    stats.dropped[why]++;
    try {
      outbox.deleteOutbox(item.id);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'webhook outbox: delete failed');
    }
  };

  /** Deliver one URL's items while this sender holds its lease: up to `concurrency` in flight. */
  const drain = async (url: string) => {
    draining.add(url);
    const retries = new Map<number, { attempts: number; nextAt: number }>();
    const running = new Map<number, Promise<void>>();
    const keys = new Map<number, string>();
    /** The session an event belongs to (its `sessionId`; '' for events without one). */
    const orderKey = (item: OutboxItem): string => {
      let k = keys.get(item.id);
      if (k === undefined) {
        try {
          const sid = (JSON.parse(item.body) as { sessionId?: unknown }).sessionId;
          k = typeof sid === 'string' ? sid : '';
        } catch {
          k = '';
        }
        keys.set(item.id, k);
      }
      return k;
    };
    const deliver = async (item: OutboxItem) => {
      const r = await attempt(item);
      if (closed) return;
      if (r === 'ok') {
        stats.delivered++;
        retries.delete(item.id);
        outbox.deleteOutbox(item.id);
        return;
      }
      if (r === 'refused') {
        retries.delete(item.id);
        return drop(item, 'refused');
      }
      const attempts = (retries.get(item.id)?.attempts ?? 0) + 1;
      if (attempts > delays.length) {
        retries.delete(item.id);
        log.warn({ url: redact(url), attempts }, 'webhook dropped after retries');
        return drop(item, 'retries');
      }
      retries.set(item.id, { attempts, nextAt: Date.now() + delays[attempts - 1]! });
    };
    try {
      while (!closed && held.has(url)) {
        const now = Date.now();
        const items = outbox.listOutbox(url, WINDOW);
        // Retry state of items gone from the outbox (trimmed, dropped elsewhere) is forgotten.
        const first = items[0]?.id ?? Infinity;
        for (const id of retries.keys()) if (id < first && !running.has(id)) retries.delete(id);
        for (const id of keys.keys()) if (id < first && !running.has(id)) keys.delete(id);
        if (items.length === 0 && running.size === 0) break;
        let wakeAt = now + pollMs;
        // One event per session at a time, oldest first: a session's events stay in order.
        const blocked = new Set<string>();
        for (const item of items) {
          const key = orderKey(item);
          if (blocked.has(key)) continue;
          if (running.has(item.id)) {
            blocked.add(key);
            continue;
          }
          if (now - item.createdAt > maxAgeMs) {
            retries.delete(item.id);
            drop(item, 'age');
            continue;
          }
          blocked.add(key);
          const r = retries.get(item.id);
          if (r && r.nextAt > now) {
            wakeAt = Math.min(wakeAt, r.nextAt);
            continue;
          }
          if (running.size >= concurrency) break;
          const p = deliver(item)
            .catch((err: Error) => log.warn({ url: redact(url), err: err.message }, 'webhook delivery failed'))
            .finally(() => {
              running.delete(item.id);
              wakers.get(url)?.();
            });
          running.set(item.id, p);
        }
        // Sleep until a slot frees, a retry is due, a new event arrives (send wakes us) or the poll.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.max(10, wakeAt - Date.now()));
          function done() {
            clearTimeout(timer);
            if (wakers.get(url) === done) wakers.delete(url);
            resolve();
          }
          wakers.set(url, done);
        });
      }
    } catch (err) {
      log.warn({ url: redact(url), err: (err as Error).message }, 'webhook outbox failed; retrying on the next poll');
    } finally {
      await Promise.all(running.values());
      draining.delete(url);
      checkIdle();
    }
  };

  /** Take or renew leases, start a drain for each held URL not drained yet. */
  const poll = () => {
    if (closed) return;
    try {
      const now = Date.now();
      held = new Set(outbox.claimOutboxUrls(owner, now, now + leaseMs));
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'webhook outbox: lease claim failed');
      return;
    }
    for (const url of held) if (!draining.has(url)) void drain(url);
  };
  const poller = setInterval(poll, pollMs);
  poller.unref();
  setImmediate(poll);

  return {
    send(url, secret, event) {
      if (closed) return;
      try {
        outbox.enqueueOutbox({ url, secret, body: JSON.stringify(event), createdAt: Date.now() });
        const trimmed = outbox.trimOutbox(url, maxPerUrl);
        if (trimmed > 0) {
          stats.dropped.overflow += trimmed;
          log.warn({ url: redact(url), dropped: trimmed, max: maxPerUrl }, 'webhook outbox full; oldest events dropped');
        }
      } catch (err) {
        log.warn({ url: redact(url), err: (err as Error).message }, 'webhook could not be queued');
        return;
      }
      if (!draining.has(url)) poll();
      else wakers.get(url)?.();
    },
    idle() {
      if (draining.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    stats() {
      return { ...stats, dropped: { ...stats.dropped } };
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(poller);
      for (const req of requests) req.destroy();
      requests.clear();
      for (const wake of [...wakers.values()]) wake();
      try {
        outbox.releaseOutboxUrls(owner);
      } catch {
        // The store may be closed already: the leases then expire.
      }
      held.clear();
      checkIdle();
    },
  };
}

/** Items of one URL looked at per pass (the oldest first). */
const WINDOW = 100;
