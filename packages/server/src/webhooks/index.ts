import { createHmac, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createOutboundPolicy, OutboundError } from '../net/outbound.js';
import type { OutboundPolicy } from '../net/outbound.js';
import { redact } from '../net/redact.js';
import { createMemoryStore } from '../storage/memory.js';
import type { OutboxItem, Store, WebhookDeliveryRecord, WebhookDeliveryUpdate } from '../storage/store.js';

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

/** The part of the {@link Store} that keeps what became of each project callback (the admin API's deliveries). */
export type WebhookDeliveryLog = Pick<Store, 'recordWebhookDelivery' | 'updateWebhookDelivery' | 'requeueWebhookDelivery'>;

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
  /**
   * Where the outcome of each project callback is recorded (`send` with an API key): the
   * server's store. Default none (nothing recorded).
   */
  deliveries?: WebhookDeliveryLog;
  /** Delivery records kept per project (the oldest go). Default 1000. */
  deliveriesKept?: number;
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
  /**
   * Persist the event in the outbox, then deliver it (in order per URL). With `apiKey`, its
   * delivery is recorded for that project (see {@link WebhookSenderOptions.deliveries}).
   */
  send(url: string, secret: string, event: WebhookEvent, apiKey?: string): void;
  /**
   * Queue a recorded delivery again (its body, to its URL, signed with `secret`, the project's
   * secret now); it is `pending` until the new attempts end. Throws when the outbox cannot take it.
   */
  retry(delivery: WebhookDeliveryRecord, secret: string): void;
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
  const attempt = async (item: OutboxItem): Promise<Attempt> => {
    let url: URL;
    try {
      url = new URL(item.url);
    } catch {
      return { result: 'refused', httpStatus: null, error: 'the URL does not parse' };
    }
    let target;
    try {
      target = await policy.resolve(url.hostname);
    } catch (err) {
      if (err instanceof OutboundError && err.code === 'ERR_OUTBOUND_REFUSED') {
        log.warn({ url: redact(item.url), rule: err.rule, address: err.address }, 'webhook target refused by the outbound policy; event dropped');
        return { result: 'refused', httpStatus: null, error: `refused by the outbound policy (${err.rule})` };
      }
      log.debug({ url: redact(item.url), err: (err as Error).message }, 'webhook attempt failed');
      return { result: 'failed', httpStatus: null, error: (err as Error).message };
    }
    if (closed) return { result: 'failed', httpStatus: null, error: 'server closing' };
    const t = Math.floor(Date.now() / 1000);
    const secure = url.protocol === 'https:';
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: 'ok' | 'failed', why: string | null, httpStatus: number | null = null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        requests.delete(req);
        if (r === 'failed') {
          stats.failedAttempts++;
          log.debug({ url: redact(item.url), err: why }, 'webhook attempt failed');
        }
        resolve({ result: r, httpStatus, error: why });
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
        finish(ok ? 'ok' : 'failed', ok ? null : `HTTP ${res.statusCode}`, res.statusCode ?? null);
        res.on('error', () => undefined);
      });
      req.on('error', (err) => finish('failed', err.message));
      req.end(body);
    });
  };

  const deliveryLog = options.deliveries;
  const deliveriesKept = Math.max(1, options.deliveriesKept ?? 1000);
  /** Record an outcome; the delivery log is a view for operators, so its failure is only logged. */
  const note = (outboxId: number, update: Omit<WebhookDeliveryUpdate, 'at'>) => {
    if (!deliveryLog) return;
    try {
      deliveryLog.updateWebhookDelivery(outboxId, { ...update, at: Date.now() });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'webhook delivery log: update failed');
    }
  };

  const drop = (item: OutboxItem, why: keyof WebhookStats['dropped']) => {
    stats.dropped[why]++;
    if (why === 'age') note(item.id, { status: 'failed', attempted: false, httpStatus: null, error: `undelivered ${Math.round(maxAgeMs / 1000)} s after it was queued` });
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
      const a = await attempt(item);
      if (closed) return;
      const r = a.result;
      if (r === 'ok') {
        stats.delivered++;
        retries.delete(item.id);
        outbox.deleteOutbox(item.id);
        note(item.id, { status: 'delivered', attempted: true, httpStatus: a.httpStatus, error: null });
        return;
      }
      if (r === 'refused') {
        retries.delete(item.id);
        note(item.id, { status: 'failed', attempted: false, httpStatus: null, error: a.error });
        return drop(item, 'refused');
      }
      const attempts = (retries.get(item.id)?.attempts ?? 0) + 1;
      if (attempts > delays.length) {
        retries.delete(item.id);
        log.warn({ url: redact(url), attempts }, 'webhook dropped after retries');
        note(item.id, { status: 'failed', attempted: true, httpStatus: a.httpStatus, error: a.error });
        return drop(item, 'retries');
      }
      note(item.id, { status: 'pending', attempted: true, httpStatus: a.httpStatus, error: a.error });
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
    send(url, secret, event, apiKey) {
      if (closed) return;
      try {
        const body = JSON.stringify(event);
        const createdAt = Date.now();
        const outboxId = outbox.enqueueOutbox({ url, secret, body, createdAt });
        if (apiKey !== undefined && deliveryLog) {
          try {
            deliveryLog.recordWebhookDelivery({ apiKey, outboxId, url, event: eventName(event), body, createdAt }, deliveriesKept);
          } catch (err) {
            log.warn({ err: (err as Error).message }, 'webhook delivery log: record failed');
          }
        }
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
    retry(delivery, secret) {
      if (closed) throw new Error('the webhook sender is closed');
      const at = Date.now();
      const outboxId = outbox.enqueueOutbox({ url: delivery.url, secret, body: delivery.body, createdAt: at });
      deliveryLog?.requeueWebhookDelivery(delivery.apiKey, delivery.id, outboxId, at);
      if (!draining.has(delivery.url)) poll();
      else wakers.get(delivery.url)?.();
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

/** What one delivery attempt came to. */
interface Attempt {
  result: 'ok' | 'failed' | 'refused';
  /** The answer's status code; null without an answer. */
  httpStatus: number | null;
  /** Why it failed; null when it did not. */
  error: string | null;
}

/**
 * The name a delivery is listed under: a session-monitoring or SIP event's `event`; an archive
 * or broadcast callback (no `event`, a `status`) as `archive:<status>` / `broadcast:<status>`.
 */
export function eventName(event: WebhookEvent): string {
  const e = event as Record<string, unknown>;
  if (typeof e['event'] === 'string') return e['event'];
  if (typeof e['status'] === 'string') return `${'broadcastUrls' in e ? 'broadcast' : 'archive'}:${e['status']}`;
  return 'callback';
}

/** Items of one URL looked at per pass (the oldest first). */
const WINDOW = 100;
