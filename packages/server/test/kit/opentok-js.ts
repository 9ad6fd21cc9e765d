/**
 * The official OpenTok.js (npm `@opentok/client`, unmodified, a devDependency) in the browser
 * tests: the releases installed, an app origin that serves them with the fixture page
 * `opentok-js-app.html`, and the page's driver (typed once here).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import type { Rgb } from './app-page.js';

const require = createRequire(import.meta.url);

/** One installed OpenTok.js release: its npm name (an alias for older ones) and version. */
export interface OpenTokJsRelease {
  /** The package name in the root package.json: `@opentok/client`, or an alias like `@opentok/client-2-20`. */
  pkg: string;
  /** Its version, from its own package.json. */
  version: string;
  /** Absolute path of its unmodified `dist/js/opentok.js`. */
  file: string;
}

/**
 * Every `@opentok/client*` devDependency of the root package.json, newest first: the latest
 * release and the oldest one whose protocol Tokhost speaks (see docs/opentok-js.md).
 */
export const OPENTOK_JS_RELEASES: readonly OpenTokJsRelease[] = (() => {
  const root = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> };
  const out: OpenTokJsRelease[] = [];
  for (const pkg of Object.keys(root.devDependencies).filter((n) => /^@opentok\/client(-[\w-]+)?$/.test(n))) {
    const manifest = require.resolve(`${pkg}/package.json`);
    const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
    out.push({ pkg, version, file: join(dirname(manifest), 'dist/js/opentok.js') });
  }
  const key = (v: string) => v.split('.').map((x) => x.padStart(4, '0')).join('.');
  return out.sort((a, b) => key(b.version).localeCompare(key(a.version)));
})();

/** The newest installed release (`@opentok/client` itself). */
export const OPENTOK_JS_LATEST = OPENTOK_JS_RELEASES[0]!;

/** An origin on loopback serving `opentok-js-app.html` and the installed OpenTok.js releases. */
export interface OpenTokJsOrigin {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The page's URL: it loads `release` from this origin and calls `OT.setProxyUrl(serverUrl)`. */
  url(serverUrl: string, release?: OpenTokJsRelease): string;
  close(): Promise<void>;
}

/**
 * Serves the fixture page at every path and each release at `/sdk/<version>/opentok.js`, from an
 * origin of its own (as an app would ship OpenTok.js; the Tokhost server serves none of it).
 * Open the pages in one browser context so they share the cached script.
 */
export async function startOpenTokJsOrigin(): Promise<OpenTokJsOrigin> {
  const html = readFileSync(new URL('./opentok-js-app.html', import.meta.url));
  const scripts = new Map(OPENTOK_JS_RELEASES.map((r) => [`/sdk/${r.version}/opentok.js`, r.file]));
  const server = createServer((req, res) => {
    const file = scripts.get((req.url ?? '/').split('?')[0]!);
    // Cacheable, so the pages of one browser context share one copy (5 MB) and its compiled code.
    if (file) res.writeHead(200, { 'Content-Type': 'text/javascript', 'Cache-Control': 'public, max-age=3600, immutable' }).end(readFileSync(file));
    else res.writeHead(200, { 'Content-Type': 'text/html' }).end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (serverUrl, release = OPENTOK_JS_LATEST) => `${origin}/opentok-js-app.html?sdk=${encodeURIComponent(`${origin}/sdk/${release.version}/opentok.js`)}&proxy=${encodeURIComponent(serverUrl)}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** One thing an OpenTok.js page saw, in order, with the page's clock (`t`, ms since the epoch). */
export interface OtjsEvent {
  type: string;
  t: number;
  [k: string]: unknown;
}
/** What an OpenTok.js page decodes of one stream (`otjs.look(streamId)`). */
export interface OtjsLook {
  /** Frames the subscriber's video element has shown. */
  framesDecoded: number;
  /** Mean colour of the middle of the picture; null before the first frame. */
  rgb: Rgb | null;
  audioBytes: number;
  /** `totalAudioEnergy` of the inbound audio (0 on clients without getRtcStatsReport). */
  audioEnergy: number;
  /** Highest `audioLevelUpdated` level seen (0..1). */
  audioLevel: number;
}
/** An OpenTok.js error as the page reports it. */
export interface OtjsError {
  name: string;
  code: number;
  message: string;
}
/** The driver `opentok-js-app.html` exposes on `window.otjs`. */
export interface OtjsDriver {
  events: OtjsEvent[];
  signals: { type: string; data: string; from: string | null }[];
  session: { connection: { connectionId: string } | null; disconnect(): void };
  publisher: { publishVideo(on: boolean): void; publishAudio(on: boolean): void; stream: { streamId: string } | null } | null;
  start(o: { apiKey: string; sessionId: string; token: string; name?: string; publish?: boolean; subscribe?: boolean; rgb?: Rgb; connectionEventsSuppressed?: boolean }): Promise<{ connectionId: string; streamId: string | null }>;
  look(streamId: string): Promise<OtjsLook | null>;
  signal(s: { type?: string; data?: string; to?: { connectionId: string } }): Promise<OtjsError | null>;
  forceDisconnect(connectionId: string): Promise<OtjsError | null>;
  forceUnpublish(streamId: string): Promise<OtjsError | null>;
  tryConnect(o: { apiKey: string; sessionId: string; token: string }): Promise<OtjsError | null>;
}

declare global {
  interface Window {
    /** The `opentok-js-app.html` driver (see {@link OtjsDriver}). */
    otjs: OtjsDriver;
  }
}

/** Every http(s) and ws(s) URL `page` asks for from now on (playwright request and websocket events). */
export function recordRequests(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('websocket', (ws) => urls.push(ws.url()));
  return urls;
}

/** The URLs of `urls` whose origin (ws:// counted as http://) is none of `allowed`. */
export function foreignRequests(urls: readonly string[], allowed: readonly string[]): string[] {
  const ok = new Set(allowed.map((a) => new URL(a).origin));
  return urls.filter((u) => {
    if (!/^(https?|wss?):/.test(u)) return false; // data:, blob: stay in the page
    const url = new URL(u.replace(/^ws/, 'http'));
    return !ok.has(url.origin);
  });
}
