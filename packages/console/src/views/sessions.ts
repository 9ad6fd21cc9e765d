import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { projectPath } from '../api.js';
import type { Api } from '../api.js';
import { since, usePoll } from '../hooks.js';
import type { ArchiveJson, BroadcastJson, LiveSession, LiveStream } from '../types.js';
import type { Notify } from './shared.js';
import { LAYOUTS } from './shared.js';

/** How often the live lists and the thumbnails are loaded again, ms. */
const POLL_MS = 3000;

export interface ViewProps {
  api: Api;
  apiKey: string;
  notify: Notify;
}

/** Live sessions: connections, streams with thumbnails, moderation, archive and broadcast start/stop. */
export function SessionsView({ api, apiKey, notify }: ViewProps) {
  const sessions = usePoll(() => api.get<{ count: number; items: LiveSession[] }>(projectPath(apiKey, 'session')), POLL_MS, [api, apiKey]);
  const archives = usePoll(() => api.get<{ items: ArchiveJson[] }>(`${projectPath(apiKey, 'archive')}?count=100`), POLL_MS, [api, apiKey]);
  const broadcasts = usePoll(() => api.get<{ items: BroadcastJson[] }>(`${projectPath(apiKey, 'broadcast')}?count=100`), POLL_MS, [api, apiKey]);
  const reload = () => {
    sessions.reload();
    archives.reload();
    broadcasts.reload();
  };
  const items = sessions.data?.items ?? [];
  return html`<section class="view" data-view="sessions">
    <h2>Live sessions <small>${sessions.data ? `${items.length} now` : 'loading…'}</small></h2>
    ${sessions.error && html`<p class="error">${sessions.error}</p>`}
    ${sessions.data && items.length === 0 && html`<p class="empty">No session has a connection now.</p>`}
    ${items.map(
      (s) => html`<${SessionCard}
        key=${s.sessionId}
        api=${api}
        apiKey=${apiKey}
        notify=${notify}
        session=${s}
        archive=${archives.data?.items.find((a) => a.sessionId === s.sessionId && (a.status === 'started' || a.status === 'paused'))}
        broadcast=${broadcasts.data?.items.find((b) => b.sessionId === s.sessionId && b.status === 'started')}
        reload=${reload}
      />`,
    )}
  </section>`;
}

interface SessionCardProps extends ViewProps {
  session: LiveSession;
  archive: ArchiveJson | undefined;
  broadcast: BroadcastJson | undefined;
  reload(): void;
}

function SessionCard({ api, apiKey, notify, session, archive, broadcast, reload }: SessionCardProps) {
  const [archiveLayout, setArchiveLayout] = useState('bestFit');
  const [broadcastLayout, setBroadcastLayout] = useState('bestFit');
  const sid = session.sessionId;
  const act = (what: string, run: () => Promise<unknown>) => () =>
    run().then(
      () => {
        notify(what, false);
        reload();
      },
      (err: Error & { description?: string }) => notify(`${what} failed: ${err.message}${err.description ? ` (${err.description})` : ''}`, true),
    );
  const routed = session.mediaMode === 'routed';
  return html`<article class="card session" data-session-id=${sid}>
    <header>
      <code class="id" title=${sid}>${sid}</code>
      <span class="badge">${session.mediaMode}</span>
      <span>${session.connections.length} connections · ${session.streams.length} streams</span>
    </header>
    <div class="actions">
      <button data-action="mute-all" onClick=${act('Muted every stream', () => api.send('POST', projectPath(apiKey, 'session', sid, 'mute'), { active: true, excludedStreamIds: [] }))}>Mute all</button>
      ${routed &&
      (archive
        ? html`<button data-action="stop-archive" class="danger" onClick=${act('Archive stopped', () => api.send('POST', projectPath(apiKey, 'archive', archive.id, 'stop')))}>Stop archive</button>
            <span class="live-dot">recording</span>`
        : html`<label>Archive layout <select data-field="archive-layout" value=${archiveLayout} onChange=${(e: Event) => setArchiveLayout((e.target as HTMLSelectElement).value)}>
              ${LAYOUTS.map((l) => html`<option value=${l}>${l}</option>`)}
            </select></label>
            <button data-action="start-archive" onClick=${act('Archive started', () => api.send('POST', projectPath(apiKey, 'archive'), { sessionId: sid, name: 'console', layout: { type: archiveLayout } }))}>Start archive</button>`)}
      ${routed &&
      (broadcast
        ? html`<button data-action="stop-broadcast" class="danger" onClick=${act('Broadcast stopped', () => api.send('POST', projectPath(apiKey, 'broadcast', broadcast.id, 'stop')))}>Stop broadcast</button>
            <span class="live-dot">broadcasting</span>`
        : html`<label>Broadcast layout <select data-field="broadcast-layout" value=${broadcastLayout} onChange=${(e: Event) => setBroadcastLayout((e.target as HTMLSelectElement).value)}>
              ${LAYOUTS.map((l) => html`<option value=${l}>${l}</option>`)}
            </select></label>
            <button data-action="start-broadcast" onClick=${act('Broadcast started', () => api.send('POST', projectPath(apiKey, 'broadcast'), { sessionId: sid, layout: { type: broadcastLayout }, outputs: { hls: {} } }))}>Start broadcast</button>`)}
    </div>
    <div class="streams">
      ${session.streams.map(
        (st) => html`<${StreamTile} key=${st.streamId} api=${api} apiKey=${apiKey} sessionId=${sid} stream=${st} routed=${routed}
          onMute=${act(`Muted ${st.name || st.streamId}`, () => api.send('POST', projectPath(apiKey, 'session', sid, 'stream', st.streamId, 'mute')))} />`,
      )}
    </div>
    <table class="connections">
      <thead><tr><th>Connection</th><th>Data</th><th>Client</th><th>Since</th><th></th></tr></thead>
      <tbody>
        ${session.connections.map(
          (c) => html`<tr data-connection-id=${c.connectionId}>
            <td><code>${c.connectionId}</code></td>
            <td class="data">${c.data}</td>
            <td>${c.clientKind}</td>
            <td title=${new Date(c.createdAt).toISOString()}>${since(c.createdAt)}</td>
            <td><button data-action="disconnect" class="danger" onClick=${act(`Disconnected ${c.connectionId}`, () => api.send('DELETE', projectPath(apiKey, 'session', sid, 'connection', c.connectionId)))}>Disconnect</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </article>`;
}

interface StreamTileProps {
  api: Api;
  apiKey: string;
  sessionId: string;
  stream: LiveStream;
  routed: boolean;
  onMute(): void;
}

/** One stream: its thumbnail from the router (routed sessions), refreshed every few seconds. */
function StreamTile({ api, apiKey, sessionId, stream, routed, onMute }: StreamTileProps) {
  const [src, setSrc] = useState<string | undefined>(undefined);
  const [note, setNote] = useState<string | undefined>(undefined);
  useEffect(() => {
    if (!routed || !stream.hasVideo) return;
    let live = true;
    let url: string | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const blob = await api.blob(projectPath(apiKey, 'session', sessionId, 'stream', stream.streamId, 'thumbnail'));
        if (!live) return;
        const next = URL.createObjectURL(blob);
        if (url) URL.revokeObjectURL(url);
        url = next;
        setSrc(next);
        setNote(undefined);
      } catch (err) {
        if (live) setNote((err as Error).message);
      }
      if (live) timer = setTimeout(load, POLL_MS);
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
      if (url) URL.revokeObjectURL(url);
    };
  }, [api, apiKey, sessionId, stream.streamId, routed, stream.hasVideo]);
  return html`<figure class="stream" data-stream-id=${stream.streamId}>
    ${src ? html`<img class="thumb" src=${src} alt=${`thumbnail of ${stream.name || stream.streamId}`} />` : html`<div class="thumb placeholder">${note ?? (routed ? (stream.hasVideo ? 'loading…' : 'no video') : 'relayed: no thumbnail')}</div>`}
    <figcaption>
      <strong>${stream.name || '(no name)'}</strong>
      <span class=${stream.hasAudio ? 'on' : 'off'}>audio</span>
      <span class=${stream.hasVideo ? 'on' : 'off'}>video</span>
      ${stream.videoType && html`<span>${stream.videoType}</span>`}
      <button data-action="mute-stream" onClick=${onMute}>Mute</button>
    </figcaption>
  </figure>`;
}
