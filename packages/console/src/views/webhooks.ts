import { html } from 'htm/preact';
import { projectPath } from '../api.js';
import { usePoll } from '../hooks.js';
import type { Delivery } from '../types.js';
import type { ViewProps } from './sessions.js';

const cell = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'number' && v > 1e12 ? new Date(v).toLocaleTimeString() : String(v));

/** Webhook deliveries of the project, newest first, with a retry button. */
export function WebhooksView({ api, apiKey, notify }: ViewProps) {
  const list = usePoll(() => api.get<{ items: Delivery[] }>(projectPath(apiKey, 'webhook', 'deliveries')), 5000, [api, apiKey]);
  const items = list.data?.items ?? [];
  const columns = ['event', 'url', 'status', 'attempts', 'lastStatus', 'lastError', 'createdAt'].filter((c) => items.some((d) => d[c] !== undefined));
  return html`<section class="view" data-view="webhooks">
    <h2>Webhook deliveries <small>${list.data ? `${items.length} shown` : 'loading…'}</small></h2>
    ${list.error && html`<p class="error">${list.error}</p>`}
    ${list.data && items.length === 0 && html`<p class="empty">No delivery yet: set the project's webhook URL (tokhost project update --webhook-url …).</p>`}
    <table>
      <thead><tr><th>Delivery</th>${columns.map((c) => html`<th>${c}</th>`)}<th></th></tr></thead>
      <tbody>
        ${items.map(
          (d) => html`<tr data-delivery-id=${d.id}>
            <td><code>${d.id}</code></td>
            ${columns.map((c) => html`<td class=${c === 'status' ? `status ${cell(d[c])}` : ''}>${cell(d[c])}</td>`)}
            <td><button data-action="retry" onClick=${() =>
              api.send('POST', projectPath(apiKey, 'webhook', 'deliveries', d.id, 'retry')).then(
                () => (notify('Delivery queued again', false), list.reload()),
                (err: Error) => notify(`Retry failed: ${err.message}`, true),
              )}>Retry</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}
