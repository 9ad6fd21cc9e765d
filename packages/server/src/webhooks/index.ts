import { createHmac } from 'node:crypto';
import type { SessionMonitoringEvent } from '@tokhost/protocol';

/** Header carrying the webhook signature: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<rawBody>")>`. */
export const WEBHOOK_SIGNATURE_HEADER = 'X-Tokhost-Signature';

/** Sign a raw body the way the server does (exported for tests and docs). */
export function signWebhookBody(secret: string, rawBody: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${rawBody}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

export interface WebhookSenderOptions {
  logger: { warn(obj: object, msg?: string): void; debug(obj: object, msg?: string): void };
  /** Delays before each retry, ms. Default `[1000, 2000, 4000, 8000, 16000, 32000]` (7 attempts in all). */
  retryDelaysMs?: readonly number[];
  /** Per-attempt timeout, ms. Default 5000. */
  timeoutMs?: number;
  /** Most events queued per URL; older ones are dropped (with a warning) beyond it. Default 10000. */
  maxQueuePerUrl?: number;
}

/** A SIP call callback (`callCreated`, `callUpdated`, `callDestroyed`; see docs/sip.md). */
export interface SipCallWebhookEvent {
  sessionId: string;
  projectId: string;
  event: 'callCreated' | 'callUpdated' | 'callDestroyed' | 'muteForced';
  timestamp: number;
  call: { id: string; connectionId: string; createdAt: number; state?: string; reason_code?: number; reason_message?: string };
}

/** Delivers session-monitoring (and SIP call) callbacks. `send` never blocks and never throws. */
export interface WebhookSender {
  send(url: string, secret: string, event: SessionMonitoringEvent | SipCallWebhookEvent): void;
  /** Resolves when every queue is empty (tests). */
  idle(): Promise<void>;
  /** Stops delivery; queued events are dropped. */
  close(): void;
}

interface Job {
  secret: string;
  body: string;
}

/**
 * Per-URL FIFO queues with retry and exponential back-off: events to one URL arrive in order,
 * a slow or failing endpoint delays only its own queue, and the realtime path only enqueues.
 * A 2xx answer is success; anything else (or a network error/timeout) is retried.
 */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const delays = options.retryDelaysMs ?? [1000, 2000, 4000, 8000, 16000, 32000];
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxQueue = options.maxQueuePerUrl ?? 10_000;
  const queues = new Map<string, Job[]>();
  const timers = new Set<NodeJS.Timeout>();
  const controllers = new Set<AbortController>();
  let idleWaiters: (() => void)[] = [];
  let closed = false;

  const checkIdle = () => {
    if (queues.size === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      w.forEach((f) => f());
    }
  };

  const attempt = async (url: string, job: Job): Promise<boolean> => {
    const t = Math.floor(Date.now() / 1000);
    const ac = new AbortController();
    controllers.add(ac);
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', [WEBHOOK_SIGNATURE_HEADER]: signWebhookBody(job.secret, job.body, t), 'User-Agent': 'Tokhost-Webhooks/1' },
        body: job.body,
        signal: ac.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300;
    } catch (err) {
      options.logger.debug({ url, err: (err as Error).message }, 'webhook attempt failed');
      return false;
    } finally {
      clearTimeout(timer);
      controllers.delete(ac);
    }
  };

  const drain = async (url: string) => {
    const queue = queues.get(url)!;
    while (queue.length > 0 && !closed) {
      const job = queue[0]!;
      let delivered = false;
      for (let i = 0; i <= delays.length && !closed; i++) {
        if (i > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              timers.delete(timer);
              resolve();
            }, delays[i - 1]);
            timers.add(timer);
          });
          if (closed) break;
        }
        delivered = await attempt(url, job);
        if (delivered) break;
      }
      if (!delivered && !closed) options.logger.warn({ url, attempts: delays.length + 1 }, 'webhook dropped after retries');
      queue.shift();
    }
    queues.delete(url);
    checkIdle();
  };

  return {
    send(url, secret, event) {
      if (closed) return;
      const job = { secret, body: JSON.stringify(event) };
      const queue = queues.get(url);
      if (queue) {
        if (queue.length >= maxQueue) {
          queue.splice(1, 1);
          options.logger.warn({ url }, 'webhook queue full; oldest pending event dropped');
        }
        queue.push(job);
        return;
      }
      queues.set(url, [job]);
      void drain(url);
    },
    idle() {
      if (queues.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    close() {
      closed = true;
      timers.forEach(clearTimeout);
      timers.clear();
      controllers.forEach((c) => c.abort());
      queues.clear();
      checkIdle();
    },
  };
}
