import type { ListJson, WebhookDeliveryJson } from '@tokhost/protocol';
import { TokhostError } from '../../errors.js';
import type { WebhookDeliveryRecord } from '../../storage/store.js';
import type { Route } from '../route-table.js';
import { paging } from '../validate.js';

/** A delivery record as the admin API answers it (the body and the secret stay inside). */
export function webhookDeliveryJson(d: WebhookDeliveryRecord): WebhookDeliveryJson {
  return { id: d.id, event: d.event, url: d.url, status: d.status, attempts: d.attempts, lastHttpStatus: d.lastHttpStatus, lastError: d.lastError, createdAt: d.createdAt, updatedAt: d.updatedAt };
}

/**
 * The admin API's webhook deliveries: what became of a project's recent callbacks (session
 * monitoring, archive, broadcast, SIP), newest first, and a retry of one. Kept in the store
 * (`webhookDeliveriesKept` per project), so every node of a cluster lists the same ones.
 */
export const webhookDeliveryRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v2/project/:key/webhook/deliveries',
    summary: 'Admin API: recent webhook deliveries, newest first (query offset, count ≤1000); count is the total',
    success: 200,
    handler(ctx) {
      const { offset, count } = paging(ctx.query);
      if (ctx.query.has('sessionId')) throw new TokhostError('ERR_REQUEST_INVALID', 'Invalid sessionId: the deliveries are not filtered by session');
      const p = ctx.deps.store.listWebhookDeliveries(ctx.project.apiKey, { offset, count });
      const json: ListJson<WebhookDeliveryJson> = { count: p.total, items: p.items.map(webhookDeliveryJson) };
      return { status: 200, json };
    },
  },
  {
    method: 'POST',
    path: '/v2/project/:key/webhook/deliveries/:deliveryId/retry',
    summary: 'Admin API: deliver a recorded webhook callback again (same body and URL, signed with the current secret)',
    success: 202,
    handler(ctx) {
      const { store, webhooks } = ctx.deps;
      const d = store.getWebhookDelivery(ctx.project.apiKey, Number(ctx.params.deliveryId));
      if (!d) throw new TokhostError('ERR_NOT_FOUND', 'Webhook delivery not found', { description: `The project has no webhook delivery ${ctx.params.deliveryId} (only the newest are kept)` });
      if (d.status === 'pending') throw new TokhostError('ERR_CONFLICT', 'Webhook delivery still pending', { description: `Delivery ${d.id} is being delivered or retried now; retry it once it has failed` });
      if (!webhooks) throw new TokhostError('ERR_INTERNAL', 'Webhooks are not running', { description: 'This server has no webhook sender' });
      webhooks.retry(d, ctx.project.apiSecret);
      return { status: 202, json: webhookDeliveryJson(store.getWebhookDelivery(ctx.project.apiKey, d.id) ?? d) };
    },
  },
];
