/**
 * The admin API routes the OpenTok SDK does not cover (`GET /v2/project/{key}/session`, webhook
 * deliveries; docs/rest-api.md, Admin API), called the way the SDK calls the others: an HS256
 * project JWT in `X-OPENTOK-AUTH`, errors as the server's `{code, message, description}`.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { ListJson, LiveSessionJson, WebhookDeliveryJson } from '@tokhost/protocol';
import type { RemoteTarget } from './remote.js';

/** The server refused an admin call: its status and message. */
export class AdminApiError extends Error {
  override readonly name = 'AdminApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A project JWT as opentok-node signs it (HS256, `ist: project`, 3 minutes). */
function projectJwt(apiKey: string, apiSecret: string): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ iss: apiKey, ist: 'project', iat: now, exp: now + 180, jti: randomUUID() })}`;
  return `${input}.${createHmac('sha256', apiSecret).update(input).digest('base64url')}`;
}

/** Client of the admin API of one project. */
export class AdminApi {
  constructor(private readonly target: RemoteTarget) {}

  private async call<T>(method: 'GET' | 'POST', path: string): Promise<T> {
    const res = await fetch(`${this.target.url}/v2/project/${encodeURIComponent(this.target.apiKey)}${path}`, {
      method,
      headers: { accept: 'application/json', 'x-opentok-auth': projectJwt(this.target.apiKey, this.target.apiSecret) },
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const b = body as { message?: string; description?: string } | undefined;
      throw new AdminApiError(res.status, `${method} ${path}: HTTP ${res.status} ${b?.message ?? ''}${b?.description ? ` (${b.description})` : ''}`.trim());
    }
    return body as T;
  }

  /** The sessions live now, with connections and streams. */
  liveSessions(): Promise<ListJson<LiveSessionJson>> {
    return this.call('GET', '/session');
  }

  /** Recent webhook deliveries, newest first. */
  webhookDeliveries(options: { offset?: number; count?: number } = {}): Promise<ListJson<WebhookDeliveryJson>> {
    const q = new URLSearchParams();
    if (options.offset !== undefined) q.set('offset', String(options.offset));
    if (options.count !== undefined) q.set('count', String(options.count));
    return this.call('GET', `/webhook/deliveries${q.size > 0 ? `?${q}` : ''}`);
  }

  /** Queue a delivery again. */
  retryWebhookDelivery(id: number): Promise<WebhookDeliveryJson> {
    return this.call('POST', `/webhook/deliveries/${id}/retry`);
  }
}
