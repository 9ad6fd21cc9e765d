import { html } from 'htm/preact';
import { projectPath } from '../api.js';
import { since, usePoll } from '../hooks.js';
import type { Delivery } from '../types.js';
import type { ViewProps } from './sessions.js';


/** Webhook deliveries of the project, newest first, with a retry button. */
export function WebhooksView({ api, apiKey, notify }: ViewProps) {
  const list = usePoll(() => api.get<{ items: Delivery[] }>(projectPath(apiKey, 'webhook', 'deliveries')), 5000, [api, apiKey]);
  const items = list.data?.items ?? [];
  return html`<section class="view" data-view="webhooks">
    <h2>Webhook deliveries <small>${list.data ? `${items.length} shown` : 'loading…'}</small></h2>
    ${list.error && html`<p class="error">${list.error}</p>`}
    ${list.data && items.length === 0 && html`<p class="empty">No delivery yet: set the project's webhook URL (tokhost project update --webhook-url …).</p>`}
    <table>
      <thead><tr><th>#</th><th>Event</th><th>URL</th><th>Status</th><th>Attempts</th><th>Last answer</th><th>Updated</th><th></th></tr></thead>
      <tbody>
        ${items.map(
          (d) => html`<tr data-delivery-id=${d.id} data-status=${d.status}>
            <td>${d.id}</td>
            <td>${d.event}</td>
            <td class="data">${d.url}</td>
            <td><span class=${`status ${d.status}`}>${d.status}</span></td>
            <td>${d.attempts}</td>
            <td>${d.lastHttpStatus ?? ''} ${d.lastError ?? ''}</td>
            <td title=${new Date(d.updatedAt).toISOString()}>${since(d.updatedAt)} ago</td>
            <td><button data-action="retry" onClick=${() =>
              api.send('POST', projectPath(apiKey, 'webhook', 'deliveries', String(d.id), 'retry')).then(
                () => (notify('Delivery queued again', false), list.reload()),
                (err: Error) => notify(`Retry failed: ${err.message}`, true),
              )}>Retry</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}
