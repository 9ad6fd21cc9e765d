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
 * The expression evaluated in the isolated world (after the client SDK): resolves with the
 * published stream ID, rejects with the reason the capture or the publish failed.
 */
export function publishExpression(o: PagePublishOptions): string {
  return `(async (o) => {
  const report = (m) => { try { globalThis.${BINDING}(JSON.stringify(m)); } catch {} };
  const display = await navigator.mediaDevices.getDisplayMedia({
    video: { width: { ideal: o.width }, height: { ideal: o.height }, frameRate: { ideal: 30 } },
    // The page's own sound as it is: a tone must stay a tone.
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    preferCurrentTab: true, selfBrowserSurface: 'include', surfaceSwitching: 'exclude', systemAudio: 'exclude', monitorTypeSurfaces: 'exclude',
  });
  const video = display.getVideoTracks()[0];
  const audio = display.getAudioTracks()[0];
  if (!video) throw new Error('tab capture gave no video track');
  OT.setServerUrl(o.serverUrl);
  const session = OT.initSession(o.apiKey, o.sessionId);
  await new Promise((resolve, reject) => session.connect(o.token, (err) => (err ? reject(new Error('connect: ' + err.message)) : resolve())));
  const publisher = OT.initPublisher(null, { insertDefaultUI: false, name: o.name, videoSource: video, audioSource: audio ?? null, resolution: o.width + 'x' + o.height, frameRate: 30, mirror: false });
  await new Promise((resolve, reject) => session.publish(publisher, (err) => (err ? reject(new Error('publish: ' + err.message)) : resolve())));
  const streamId = publisher.stream && publisher.stream.streamId;
  if (!streamId) throw new Error('publish: no stream');
  session.on('sessionDisconnected', (e) => report({ type: 'ended', reason: 'sessionDisconnected: ' + ((e && e.reason) || 'unknown') }));
  publisher.on('streamDestroyed', (e) => report({ type: 'ended', reason: 'streamDestroyed: ' + ((e && e.reason) || 'unknown') }));
  video.addEventListener('ended', () => report({ type: 'ended', reason: 'capture ended' }));
  globalThis.__tokhostRenderSession = session;
  return streamId;
})(${JSON.stringify(o)})`;
}
