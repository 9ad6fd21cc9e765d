import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { projectPath } from '../api.js';
import { since, usePoll } from '../hooks.js';
import type { BroadcastJson } from '../types.js';
import type { ViewProps } from './sessions.js';

/** Broadcasts: status and outputs; the HLS output of a running one plays in the page (hls.js). */
export function BroadcastsView({ api, apiKey, notify }: ViewProps) {
  const list = usePoll(() => api.get<{ count: number; items: BroadcastJson[] }>(`${projectPath(apiKey, 'broadcast')}?count=100`), 3000, [api, apiKey]);
  const [playing, setPlaying] = useState<{ id: string; url: string } | undefined>(undefined);
  const items = list.data?.items ?? [];
  return html`<section class="view" data-view="broadcasts">
    <h2>Broadcasts <small>${list.data ? `${list.data.count} in all` : 'loading…'}</small></h2>
    ${list.error && html`<p class="error">${list.error}</p>`}
    ${playing && html`<div class="player"><p>Playing broadcast <code>${playing.id}</code> <button onClick=${() => setPlaying(undefined)}>Close</button></p><${HlsPlayer} id=${playing.id} url=${playing.url} /></div>`}
    <table>
      <thead><tr><th>Broadcast</th><th>Session</th><th>Status</th><th>Outputs</th><th>Started</th><th></th></tr></thead>
      <tbody>
        ${items.map((b) => {
          const hls = b.broadcastUrls?.hls;
          return html`<tr data-broadcast-id=${b.id} data-status=${b.status}>
            <td><code>${b.id}</code></td>
            <td><code class="id" title=${b.sessionId}>${b.sessionId}</code></td>
            <td><span class=${`status ${b.status}`}>${b.status}</span></td>
            <td>${hls ? 'HLS' : ''}${b.broadcastUrls?.rtmp?.length ? ` RTMP ×${b.broadcastUrls.rtmp.length}` : ''}</td>
            <td>${since(b.createdAt)} ago</td>
            <td class="actions">
              ${hls && b.status === 'started' && b.broadcastUrls?.hlsStatus !== 'live' && html`<span class="muted" data-hls-status=${b.broadcastUrls?.hlsStatus ?? ''}>HLS starting…</span>`}
              ${hls && (b.status !== 'started' || b.broadcastUrls?.hlsStatus === 'live') && html`<button data-action="play" onClick=${() => setPlaying({ id: b.id, url: hls })}>Play HLS</button>`}
              ${b.status === 'started' &&
              html` <button data-action="stop" class="danger" onClick=${() =>
                api.send('POST', projectPath(apiKey, 'broadcast', b.id, 'stop')).then(
                  () => (notify('Broadcast stopped', false), list.reload()),
                  (err: Error) => notify(`Stop failed: ${err.message}`, true),
                )}>Stop</button>`}
            </td>
          </tr>`;
        })}
      </tbody>
    </table>
  </section>`;
}

/** A video element playing an HLS playlist: natively where the browser can, else with hls.js. */
function HlsPlayer({ id, url }: { id: string; url: string }) {
  const video = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const el = video.current;
    if (!el) return;
    let destroy: (() => void) | undefined;
    let live = true;
    // hls.js is most of the console's weight: loaded only when a broadcast is played.
    void import('hls.js').then(({ default: Hls }) => {
      if (!live) return;
      if (!Hls.isSupported()) {
        el.src = url;
        return;
      }
      const hls = new Hls({ liveSyncDurationCount: 2 });
      hls.loadSource(url);
      hls.attachMedia(el);
      destroy = () => hls.destroy();
    });
    return () => {
      live = false;
      destroy?.();
    };
  }, [url]);
  return html`<video ref=${video} data-broadcast-player=${id} controls autoplay muted playsinline></video>`;
}
