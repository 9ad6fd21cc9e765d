import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { projectPath } from '../api.js';
import { bytes, since, usePoll } from '../hooks.js';
import type { ArchiveJson } from '../types.js';
import type { ViewProps } from './sessions.js';

/** Archives: status, duration, size; in-page playback and download of available ones. */
export function ArchivesView({ api, apiKey, notify }: ViewProps) {
  const list = usePoll(() => api.get<{ count: number; items: ArchiveJson[] }>(`${projectPath(apiKey, 'archive')}?count=100`), 3000, [api, apiKey]);
  const [playing, setPlaying] = useState<ArchiveJson | undefined>(undefined);
  const act = (what: string, run: () => Promise<unknown>) => () =>
    run().then(
      () => (notify(what, false), list.reload()),
      (err: Error) => notify(`${what} failed: ${err.message}`, true),
    );
  const items = list.data?.items ?? [];
  return html`<section class="view" data-view="archives">
    <h2>Archives <small>${list.data ? `${list.data.count} in all` : 'loading…'}</small></h2>
    ${list.error && html`<p class="error">${list.error}</p>`}
    ${playing?.url &&
    html`<div class="player">
      <p>Playing <code>${playing.name ?? playing.id}</code> <button onClick=${() => setPlaying(undefined)}>Close</button></p>
      <video data-archive-player=${playing.id} src=${playing.url} controls autoplay muted playsinline></video>
    </div>`}
    <table>
      <thead><tr><th>Name</th><th>Archive</th><th>Session</th><th>Status</th><th>Duration</th><th>Size</th><th>Created</th><th></th></tr></thead>
      <tbody>
        ${items.map(
          (a) => html`<tr data-archive-id=${a.id} data-status=${a.status}>
            <td>${a.name ?? ''}</td>
            <td><code>${a.id}</code></td>
            <td><code class="id" title=${a.sessionId}>${a.sessionId}</code></td>
            <td><span class=${`status ${a.status}`}>${a.status}</span>${a.reason ? html` <small>${a.reason}</small>` : ''}</td>
            <td>${a.duration} s</td>
            <td>${bytes(a.size)}</td>
            <td title=${new Date(a.createdAt).toISOString()}>${since(a.createdAt)} ago</td>
            <td class="actions">
              ${a.status === 'available' && a.url && html`<button data-action="play" onClick=${() => setPlaying(a)}>Play</button> <a class="button" href=${a.url} download>Download</a>`}
              ${(a.status === 'started' || a.status === 'paused') && html`<button data-action="stop" class="danger" onClick=${act('Archive stopped', () => api.send('POST', projectPath(apiKey, 'archive', a.id, 'stop')))}>Stop</button>`}
              ${(a.status === 'available' || a.status === 'uploaded' || a.status === 'failed' || a.status === 'stopped') && html` <button data-action="delete" class="danger" onClick=${act('Archive deleted', () => api.send('DELETE', projectPath(apiKey, 'archive', a.id)))}>Delete</button>`}
            </td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}
