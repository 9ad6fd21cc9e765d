import { createHmac, randomUUID } from 'node:crypto';
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
export type WebhookOutbox = Pick<Store, 'enqueueOutbox' | 'claimOutboxUrls' | 'listOutbox' | 'deleteOutbox' | 'releaseOutboxUrls'>;

export interface WebhookSenderOptions {
  logger: { warn(obj: object, msg?: string): void; debug(obj: object, msg?: string): void };
  /** Delays before each retry, ms. Default `[1000, 2000, 4000, 8000, 16000, 32000]` (7 attempts in all). */
  retryDelaysMs?: readonly number[];
  /** Per-attempt timeout, ms. Default 5000. */
  timeoutMs?: number;
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
  /** Stops delivery and gives up this sender's leases; undelivered items stay in the outbox. */
  close(): void;
}

/**
 * Per-URL FIFO delivery from a durable outbox, with retry and exponential back-off. An event is
 * written to the outbox before anything is sent and removed only after a 2xx answer (or once every
 * retry failed: then it is dropped with a warning, as a callback that no endpoint takes cannot
 * wait forever). Each URL is leased to one sender at a time, which keeps events to one URL in
 * order across nodes; a slow or failing endpoint delays only its own queue; the realtime path only
 * enqueues. Delivery is at least once: a node dying between the endpoint's 2xx and the delete
 * sends that one item again from another node, with the same {@link WEBHOOK_DELIVERY_HEADER}.
 */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const delays = options.retryDelaysMs ?? [1000, 2000, 4000, 8000, 16000, 32000];
  const timeoutMs = options.timeoutMs ?? 5000;
  const leaseMs = options.leaseMs ?? 15_000;
  const pollMs = options.pollMs ?? 1000;
  const owner = options.owner ?? randomUUID();
  const outbox: WebhookOutbox = options.outbox ?? createMemoryStore();
  const draining = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const controllers = new Set<AbortController>();
  let held = new Set<string>();
  let idleWaiters: (() => void)[] = [];
  let closed = false;
  const log = options.logger;

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

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const attempt = async (item: OutboxItem): Promise<boolean> => {
    const t = Math.floor(Date.now() / 1000);
    const ac = new AbortController();
    controllers.add(ac);
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      const res = await fetch(item.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          [WEBHOOK_SIGNATURE_HEADER]: signWebhookBody(item.secret, item.body, t),
          [WEBHOOK_DELIVERY_HEADER]: String(item.id),
          'User-Agent': 'Tokhost-Webhooks/1',
        },
        body: item.body,
        signal: ac.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300;
    } catch (err) {
      log.debug({ url: item.url, err: (err as Error).message }, 'webhook attempt failed');
      return false;
    } finally {
      clearTimeout(timer);
      controllers.delete(ac);
    }
  };

  /** Deliver one URL's items in order while this sender holds its lease. */
  const drain = async (url: string) => {
    draining.add(url);
    try {
      while (!closed && held.has(url)) {
        const items = outbox.listOutbox(url, 50);
        if (items.length === 0) break;
        for (const item of items) {
          let delivered = false;
          for (let i = 0; i <= delays.length && !closed && held.has(url); i++) {
            if (i > 0) await sleep(delays[i - 1]!);
            if (closed || !held.has(url)) break;
            delivered = await attempt(item);
            if (delivered) break;
          }
          if (closed || (!delivered && !held.has(url))) return;
          if (!delivered) log.warn({ url, attempts: delays.length + 1 }, 'webhook dropped after retries');
          outbox.deleteOutbox(item.id);
        }
      }
    } catch (err) {
      log.warn({ url, err: (err as Error).message }, 'webhook outbox failed; retrying on the next poll');
    } finally {
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
      } catch (err) {
        log.warn({ url, err: (err as Error).message }, 'webhook could not be queued');
        return;
      }
      if (!draining.has(url)) poll();
    },
    idle() {
      if (draining.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(poller);
      timers.forEach(clearTimeout);
      timers.clear();
      controllers.forEach((c) => c.abort());
      try {
        outbox.releaseOutboxUrls(owner);
      } catch {
        // The store may be closed already: the leases then expire.
      }
      held.clear();
      draining.clear();
      checkIdle();
    },
  };
}
