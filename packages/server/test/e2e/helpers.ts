/** What the browser e2e tests share: Chromium launch settings, the official SDK, polling helpers. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
];
/** The browser SDK build the server serves at /js/tokhost.js exists (`npm run build`). */
export const SDK_BUILT = existsSync(createRequire(import.meta.url).resolve('@tokhost/client/tokhost.js'));

export type Cb<T> = (err: Error | null, value?: T) => void;
/** The part of the official `opentok` SDK (untyped) the browser tests use. */
export interface OpenTokSdk {
  createSession(options: Record<string, unknown>, cb: Cb<{ sessionId: string }>): void;
  generateToken(sessionId: string, options?: Record<string, unknown>, t1?: boolean): string;
  signal(sessionId: string, connectionId: string | null, payload: { type?: string; data?: string }, cb: Cb<void>): void;
  forceDisconnect(sessionId: string, connectionId: string, cb: Cb<void>): void;
  listStreams(sessionId: string, cb: Cb<{ id: string; name: string; videoType?: string }[]>): void;
  forceMuteStream(sessionId: string, streamId: string, cb: Cb<void>): void;
}
export const OpenTok = createRequire(import.meta.url)('opentok') as new (key: string, secret: string, apiUrl?: string) => OpenTokSdk;
/** Promisify one callback-style SDK call. */
export const call = <T>(fn: (cb: Cb<T>) => void) => new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls `fn` every 150 ms until `ok` holds; throws with the last value after `ms`. */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}: ${JSON.stringify(v)}`);
    await sleep(150);
  }
}
