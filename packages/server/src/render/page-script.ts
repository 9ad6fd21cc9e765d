/**
 * What runs inside the render's page, in an isolated world of its own (the page's scripts cannot
 * see or touch it, nor it theirs): capture the tab it runs in (picture and sound, through
 * getDisplayMedia with `preferCurrentTab`, accepted without a prompt by the browser's flags) and
 * publish both with `@tokhost/client` as any browser publisher does. It reports to the server
 * through the `BINDING` function: `published` with the stream ID, then `ended` with a reason.
 */

/** Name of the isolated world the publisher runs in. */
export const WORLD = 'tokhost-render';
/** The DevTools binding the page reports through. */
export const BINDING = '__tokhostRender';

/** What the publisher needs to know. */
export interface PagePublishOptions {
  serverUrl: string;
  apiKey: string;
  sessionId: string;
  token: string;
  /** Stream name (`properties.name`). */
  name: string;
  width: number;
  height: number;
}

/**
 * First step in the isolated world: capture the tab (kept in a global of the world). The browser
 * then shows its "sharing this tab" bar, which takes height from the viewport: the server fits the
 * window again before {@link publishExpression}.
 */
export function captureExpression(o: Pick<PagePublishOptions, 'width' | 'height'>): string {
  return `(async (o) => {
  globalThis.__tokhostCapture = await navigator.mediaDevices.getDisplayMedia({
    video: { width: { ideal: o.width }, height: { ideal: o.height }, frameRate: { ideal: 30 } },
    // The page's own sound as it is: a tone must stay a tone.
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    preferCurrentTab: true, selfBrowserSurface: 'include', surfaceSwitching: 'exclude', systemAudio: 'exclude', monitorTypeSurfaces: 'exclude',
  });
  const captured = globalThis.__tokhostCapture.getVideoTracks()[0];
  if (!captured) throw new Error('tab capture gave no video track');
  // The tab capture sends a frame only when the page repaints: a still page would send none after
  // the first, and a late subscriber or the archive's decoder would wait for one forever. A pixel
  // in a corner, all but transparent, changes every 100 ms so the page keeps repainting.
  const tick = document.createElement('div');
  tick.setAttribute('aria-hidden', 'true');
  tick.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none;z-index:2147483647;background:#000;opacity:0';
  document.documentElement.appendChild(tick);
  let on = false;
  setInterval(() => { on = !on; tick.style.opacity = on ? '0.01' : '0'; }, 100);
  return true;
})(${JSON.stringify({ width: o.width, height: o.height })})`;
}

/**
 * Second step (after the client SDK and {@link captureExpression}): publish the capture; resolves
 * with the stream ID, rejects with the reason the publish failed.
 */
export function publishExpression(o: PagePublishOptions): string {
  return `(async (o) => {
  const report = (m) => { try { globalThis.${BINDING}(JSON.stringify(m)); } catch {} };
  const display = globalThis.__tokhostCapture;
  const video = display.getVideoTracks()[0];
  const audio = display.getAudioTracks()[0];
  OT.setServerUrl(o.serverUrl);
  const session = OT.initSession(o.apiKey, o.sessionId);
  await new Promise((resolve, reject) => session.connect(o.token, (err) => (err ? reject(new Error('connect: ' + err.message)) : resolve())));
  const publisher = OT.initPublisher(null, { insertDefaultUI: false, name: o.name, videoSource: video, audioSource: audio ?? null, resolution: o.width + 'x' + o.height, frameRate: 30, mirror: false });
  await new Promise((resolve, reject) => session.publish(publisher, (err) => (err ? reject(new Error('publish: ' + err.message)) : resolve())));
  const streamId = publisher.stream && publisher.stream.streamId;
  if (!streamId) throw new Error('publish: no stream');
  // Kept in this isolated world (the page cannot see it) for the stop: leave before the kill.
  globalThis.__tokhostRenderSession = session;
  session.on('sessionDisconnected', (e) => report({ type: 'ended', reason: 'sessionDisconnected: ' + ((e && e.reason) || 'unknown') }));
  publisher.on('streamDestroyed', (e) => report({ type: 'ended', reason: 'streamDestroyed: ' + ((e && e.reason) || 'unknown') }));
  video.addEventListener('ended', () => report({ type: 'ended', reason: 'capture ended' }));
  return streamId;
})(${JSON.stringify(o)})`;
}
