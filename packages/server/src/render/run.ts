import type { OutboundPolicy } from '../net/outbound.js';
import type { Browser } from './browser.js';
import { launchBrowser } from './browser.js';
import type { CdpEvent, CdpPipe } from './cdp.js';
import { BINDING, captureExpression, publishExpression, WORLD } from './page-script.js';
import type { PagePublishOptions } from './page-script.js';

/** Why a render ended, as its `reason` says it. */
export const REASONS = Object.freeze({
  stop: 'Stop Requested',
  maxDuration: 'Max duration exceeded',
  loadFailed: 'Could not load URL',
  browserExited: 'Browser exited',
  publishFailed: 'Could not publish',
  serverStopped: 'Server stopped',
  serverRestarted: 'Server restarted',
});

/** Options of {@link startRenderRun}. */
export interface RenderRunOptions extends PagePublishOptions {
  url: string;
  executable: string;
  user: string | null;
  /** The page must have loaded within this long, ms. */
  loadTimeoutMs: number;
  /** Every request the page makes is checked against it (the server's own origin excepted). */
  outbound: OutboundPolicy;
  /** The `@tokhost/client` global build, evaluated in the page's isolated world. */
  clientScript: string;
  /** Told the browser's pid as soon as it runs (the crash cleanup records it). */
  onSpawn(pid: number, profileDir: string): void;
  /** The browser has gone (after a stop, a failure or a crash): forget its pid. */
  onExit(pid: number): void;
  /** Progress, for the debug log. */
  trace?(step: string): void;
}

/** What a running render reports. */
export interface RenderRunHooks {
  started(streamId: string): void;
  /** Called once: the render is over; `failed` tells a failure from an ordinary end. */
  ended(status: 'stopped' | 'failed', reason: string, detail?: string): void;
}

/** A render's browser, publishing into its session. */
export interface RenderRun {
  /** End it (kill the browser) and report `ended(status, reason)` unless it ended already. */
  stop(status: 'stopped' | 'failed', reason: string): Promise<void>;
}

class LoadFailed extends Error {}

/**
 * Make the page's viewport exactly `width`×`height`: the headless window's size includes its
 * (invisible) browser frame, whose height varies, so measure the difference and grow the window
 * by it. The tab capture is the viewport, so this is the size of the published video.
 */
async function fitViewport(cdp: CdpPipe, s: string, targetId: string, width: number, height: number): Promise<[number, number]> {
  const { windowId } = (await cdp.send('Browser.getWindowForTarget', { targetId })) as { windowId: number };
  const measure = async () => {
    const r = (await cdp.send('Runtime.evaluate', { expression: '[innerWidth, innerHeight]', returnByValue: true }, s)) as { result: { value?: [number, number] } };
    return r.result.value ?? [width, height];
  };
  let [w, h] = await measure();
  for (let i = 0; i < 5 && (w !== width || h !== height); i++) {
    const { bounds } = (await cdp.send('Browser.getWindowBounds', { windowId })) as { bounds: { width: number; height: number } };
    await cdp.send('Browser.setWindowBounds', { windowId, bounds: { width: bounds.width + width - w, height: bounds.height + height - h } });
    // The new size reaches the page a few frames later.
    const before = [w, h];
    for (let t = 0; t < 20 && w === before[0] && h === before[1]; t++) {
      await new Promise((r) => setTimeout(r, 50));
      [w, h] = await measure();
    }
  }
  return [w, h];
}

/**
 * Launch the browser, load the page at the viewport size, and publish its tab into the session.
 * Nothing here throws: every failure ends the run through `hooks.ended`, and the browser is always
 * killed then.
 */
export function startRenderRun(o: RenderRunOptions, hooks: RenderRunHooks): RenderRun {
  let browser: Browser | undefined;
  let over = false;
  /** Once published: disconnect the page's session, so its connection and stream leave at once. */
  let leave: (() => Promise<unknown>) | undefined;
  const serverOrigin = new URL(o.serverUrl).origin;
  const end = async (status: 'stopped' | 'failed', reason: string, detail?: string) => {
    if (over) return;
    over = true;
    const b = browser;
    // A killed browser's socket would only drop: the server would keep its connection for the
    // reconnect grace period. Leave first (bounded), then kill.
    if (leave) await Promise.race([leave().catch(() => undefined), new Promise((r) => setTimeout(r, 1500))]);
    if (b) {
      await b.kill();
      o.onExit(b.pid);
    }
    hooks.ended(status, reason, detail);
  };

  const run = async () => {
    const b = (browser = launchBrowser({ executable: o.executable, width: o.width, height: o.height, user: o.user }));
    o.onSpawn(b.pid, b.profileDir);
    void b.exited.then(() => end('failed', REASONS.browserExited));
    const cdp = b.cdp;
    const trace = o.trace ?? (() => undefined);
    trace(`browser pid ${b.pid}`);
    const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: Array<{ targetId: string; type: string }> };
    const page = targetInfos.find((t) => t.type === 'page');
    if (!page) throw new Error('the browser has no page');
    const { sessionId: s } = (await cdp.send('Target.attachToTarget', { targetId: page.targetId, flatten: true })) as { sessionId: string };
    trace('attached');

    // Every request of the page goes through the outbound policy, as the URL itself did: the page
    // cannot reach what the API caller could not name. The server's own origin is the publisher's.
    cdp.on('event', (e: CdpEvent) => {
      if (e.sessionId !== s || e.method !== 'Fetch.requestPaused') return;
      const requestId = e.params['requestId'] as string;
      const url = (e.params['request'] as { url: string }).url;
      trace(`request ${url.slice(0, 100)}`);
      void allowed(url).then(
        (ok) => cdp.send('Fetch.' + (ok ? 'continueRequest' : 'failRequest'), ok ? { requestId } : { requestId, errorReason: 'AccessDenied' }, s).catch(() => undefined),
        () => undefined,
      );
    });
    const allowed = async (raw: string): Promise<boolean> => {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        return false;
      }
      if (u.origin === serverOrigin) return true;
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return u.protocol === 'data:' || u.protocol === 'blob:';
      try {
        await o.outbound.resolve(u.hostname.replace(/^\[|\]$/g, ''));
        return true;
      } catch {
        return false;
      }
    };
    await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*', requestStage: 'Request' }] }, s);
    await cdp.send('Page.enable', {}, s);
    await cdp.send('Runtime.enable', {}, s);
    await cdp.send('Network.enable', {}, s);
    await cdp.send('Page.setBypassCSP', { enabled: true }, s);
    await cdp.send('Runtime.addBinding', { name: BINDING, executionContextName: WORLD }, s);

    // Load the page: a network error, an HTTP error status of the document or no load event in
    // time is "Could not load URL".
    const documentStatus = new Map<string, number>();
    const loaded = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new LoadFailed(`no load event within ${o.loadTimeoutMs} ms`)), o.loadTimeoutMs);
      cdp.on('event', (e) => {
        if (e.sessionId !== s) return;
        if (e.method === 'Network.responseReceived' && e.params['type'] === 'Document') {
          documentStatus.set(e.params['loaderId'] as string, (e.params['response'] as { status: number }).status);
        }
        if (e.method === 'Page.loadEventFired') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    loaded.catch(() => undefined);
    trace('navigating');
    const nav = (await cdp.send('Page.navigate', { url: o.url }, s)) as { frameId: string; loaderId?: string; errorText?: string };
    if (nav.errorText) throw new LoadFailed(nav.errorText);
    await loaded;
    const status = documentStatus.get(nav.loaderId ?? '') ?? 0;
    if (status >= 400) throw new LoadFailed(`HTTP ${status}`);
    trace(`loaded (HTTP ${status})`);
    // Publish from an isolated world of the page.
    cdp.on('event', (e) => {
      if (e.sessionId !== s || e.method !== 'Runtime.bindingCalled' || e.params['name'] !== BINDING) return;
      let m: { type?: string; reason?: string };
      try {
        m = JSON.parse(e.params['payload'] as string) as typeof m;
      } catch {
        return;
      }
      if (m.type === 'ended') void end('failed', REASONS.publishFailed, m.reason);
    });
    const { executionContextId } = (await cdp.send('Page.createIsolatedWorld', { frameId: nav.frameId, worldName: WORLD }, s)) as { executionContextId: number };
    const evaluate = async (expression: string): Promise<unknown> => {
      const r = (await cdp.send('Runtime.evaluate', { expression, contextId: executionContextId, awaitPromise: true, returnByValue: true, userGesture: true }, s)) as {
        result: { value?: unknown };
        exceptionDetails?: { exception?: { description?: string }; text?: string };
      };
      if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text ?? 'script failed');
      return r.result.value;
    };
    await evaluate(captureExpression(o));
    // The sharing bar appears a moment after the capture starts: fit, wait, fit again.
    await fitViewport(cdp, s, page.targetId, o.width, o.height);
    await new Promise((r) => setTimeout(r, 500));
    trace(`captured; viewport ${(await fitViewport(cdp, s, page.targetId, o.width, o.height)).join('x')}`);
    await evaluate(o.clientScript);
    trace('client loaded, publishing');
    const streamId = await evaluate(publishExpression(o));
    if (typeof streamId !== 'string') throw new Error('publish gave no stream ID');
    leave = () => evaluate('(async () => { const s = globalThis.__tokhostRenderSession; if (s) { s.disconnect(); await new Promise((r) => setTimeout(r, 200)); } })()');
    if (!over) hooks.started(streamId);
  };

  run().catch((err: unknown) => {
    if (err instanceof LoadFailed) void end('failed', REASONS.loadFailed, err.message);
    else void end('failed', REASONS.publishFailed, err instanceof Error ? err.message : String(err));
  });
  return { stop: (status, reason) => end(status, reason) };
}
