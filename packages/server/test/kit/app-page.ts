/**
 * The fixture "app" pages the browser tests drive: an origin of their own that serves them, the
 * page drivers they expose on `window.app` (typed once here), and opening one in Chromium.
 */
import { readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';

/** The browser SDK build the server serves at /js/tokhost.js exists (`npm run build`). */
export const SDK_BUILT = existsSync(createRequire(import.meta.url).resolve('@tokhost/client/tokhost.js'));

/** One thing a page saw, in order, with the page's clock (`t`, ms since the epoch). */
export interface AppEvent {
  type: string;
  t: number;
  [k: string]: unknown;
}
/** Receive-side numbers of the first subscriber (`app.stats()`). */
export interface AppStats {
  framesDecoded: number;
  audioEnergy: number;
  audioBytes: number;
  audioLevel: number;
}
export interface AppStartOptions {
  apiKey: string;
  sessionId: string;
  token: string;
  /** Realtime server; default the server the SDK was loaded from. */
  serverUrl?: string;
  name: string;
  /** false: connect only. */
  publish?: boolean;
  /** false: do not subscribe to the streams that appear. */
  subscribe?: boolean;
  connectionEventsSuppressed?: boolean;
  /** Publisher resolution, default `320x240`. */
  resolution?: string;
}
/** The driver `app.html` exposes on `window.app`: it connects with the browser SDK, publishes, subscribes to every stream and records what happens. */
export interface AppDriver {
  events: AppEvent[];
  signals: { type: string; data: string; from: string | null }[];
  subscribers: { subscriberId?: string; getRtcStatsReport(): Promise<RTCStatsReport> }[];
  /** Set by `start()`. */
  session: { connection: { connectionId: string }; disconnect(): void; unpublish(publisher: unknown): void };
  /** Set by `start()` unless `publish: false`. */
  publisher: { publishVideo(on: boolean): void; getRtcStatsReport(): Promise<{ subscriberId: string; rtcStatsReport: RTCStatsReport }[]> } | null;
  /** Connect, publish (unless `publish: false`), subscribe to everything; resolves once connected and published. */
  start(o: AppStartOptions): Promise<{ connectionId: string; streamId: string | null }>;
  stats(): Promise<AppStats | null>;
  signal(s: { type?: string; data?: string; to?: { connectionId: string } }): Promise<{ name: string; code: number; message: string } | null>;
  forceDisconnect(connectionId: string): Promise<{ name: string; code: number } | null>;
  /** Connect (and publish) with another token on a fresh session object; says how far it got. */
  tryToken(o: { apiKey: string; sessionId: string; token: string; serverUrl?: string; publish?: boolean }): Promise<{ stage: string; name?: string; code?: number; message?: string }>;
}

export type Rgb = [number, number, number];
/** What an `e2ee-app.html` page sees of one sender's stream. */
export interface E2eeLook {
  framesDecoded: number;
  /** Mean colour of the left and right halves of the decoded picture, null before a frame. */
  left: Rgb | null;
  right: Rgb | null;
  audioEnergy: number;
  audioBytes: number;
}
/** The driver `e2ee-app.html` exposes on `window.app`: it publishes a canvas picture (one colour on the left, white on the right), optionally end-to-end encrypted. */
export interface E2eeAppDriver {
  events: { type: string; t: number; from?: string }[];
  subs: Record<string, { firstFrameMs: number | null }>;
  start(o: { apiKey: string; sessionId: string; token: string; secret?: string; name: string; rgb: Rgb; publish?: boolean }): Promise<{ connectionId: string; streamId: string | null }>;
  tryConnect(o: { apiKey: string; sessionId: string; token: string; secret?: string }): Promise<{ name: string; code: number; message: string } | null>;
  setSecret(secret: string): Promise<{ name: string; message: string } | null>;
  look(from: string): Promise<E2eeLook | null>;
  /** Longest time (ms) without a new decoded frame from `from` within [t0, t1]. */
  maxGap(from: string, t0: number, t1: number): number;
}
/** `window` of an `e2ee-app.html` page (cast to it inside `page.evaluate`). */
export interface E2eeAppWindow {
  OT: { hasEndToEndEncryptionSupport(): boolean };
  app: E2eeAppDriver;
}

declare global {
  interface Window {
    /** The `app.html` driver (see {@link AppDriver}). */
    app: AppDriver;
    /** Set once the page has loaded the SDK from the server. */
    sdkLoaded?: boolean;
  }
}

/** The fixture pages in this folder. */
export type AppPageName = 'app.html' | 'e2ee-app.html';

/** An HTTP origin on loopback that serves one fixture page at every path. */
export interface AppOrigin {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /**
   * The page's URL on this origin, loading the browser SDK from `sdkServerUrl` (a Tokhost
   * server's base URL); `path` (default `/<page>`) lets a test pick a path `headers` treats differently.
   */
  url(sdkServerUrl: string, path?: string): string;
  close(): Promise<void>;
}

/**
 * Serves `page` on its own origin, as a real app would be, apart from the Tokhost server it loads
 * the SDK from. `headers(path)` adds response headers per request path (a CSP, say).
 */
export async function startAppOrigin(page: AppPageName = 'app.html', headers: (path: string) => Record<string, string> = () => ({})): Promise<AppOrigin> {
  const html = readFileSync(new URL(`./${page}`, import.meta.url));
  const server = createServer((req, res) => res.writeHead(200, { 'Content-Type': 'text/html', ...headers(req.url ?? '/') }).end(html));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (sdkServerUrl, path = `/${page}`) => `${origin}${path}?sdk=${encodeURIComponent(sdkServerUrl + '/js/tokhost.js')}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Opens `url` (an {@link AppOrigin} URL) in a new page of `browser` and waits until the SDK has loaded; page errors go to the test's log. */
export async function openApp(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (err) => console.error('[page error]', err.message));
  await page.goto(url);
  await page.waitForFunction(() => window.sdkLoaded === true, undefined, { timeout: 10_000 });
  return page;
}
