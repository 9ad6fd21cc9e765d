import { html } from 'htm/preact';
import { projectPath } from '../api.js';
import { since, usePoll } from '../hooks.js';
import type { LiveSession } from '../types.js';
import type { ViewProps } from './sessions.js';

/** SIP calls: the live connections the SIP gateway holds (client kind `sip`), with a hang-up button. */
export function SipView({ api, apiKey, notify }: ViewProps) {
  const list = usePoll(() => api.get<{ items: LiveSession[] }>(projectPath(apiKey, 'session')), 3000, [api, apiKey]);
  const calls = (list.data?.items ?? []).flatMap((s) => s.connections.filter((c) => c.clientKind === 'sip').map((c) => ({ session: s, call: c })));
  return html`<section class="view" data-view="sip">
    <h2>SIP calls <small>${list.data ? `${calls.length} now` : 'loading…'}</small></h2>
    ${list.error && html`<p class="error">${list.error}</p>`}
    ${list.data && calls.length === 0 && html`<p class="empty">No SIP call is connected now. Dial one with <code>POST /v2/project/{apiKey}/dial</code> (docs/sip.md).</p>`}
    <table>
      <thead><tr><th>Connection</th><th>Session</th><th>Data</th><th>Since</th><th></th></tr></thead>
      <tbody>
        ${calls.map(
          ({ session, call }) => html`<tr data-connection-id=${call.connectionId}>
            <td><code>${call.connectionId}</code></td>
            <td><code class="id" title=${session.sessionId}>${session.sessionId}</code></td>
            <td class="data">${call.data}</td>
            <td>${since(call.createdAt)}</td>
            <td><button class="danger" onClick=${() =>
              api.send('DELETE', projectPath(apiKey, 'session', session.sessionId, 'connection', call.connectionId)).then(
                () => (notify('Call hung up', false), list.reload()),
                (err: Error) => notify(`Hang-up failed: ${err.message}`, true),
              )}>Hang up</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}
