import { createRequire } from 'node:module';

/** Node-style callback. */
export type Cb<T = unknown> = (err: (Error & { message: string }) | null, value?: T, extra?: unknown) => void;

/**
 * The callback API shared by the official `opentok` package (2.23.2, untyped JS) and
 * `@tokhost/sdk`, as far as these tests use it.
 */
export interface OpenTokLike {
  createSession(options: Record<string, unknown>, cb: Cb<{ sessionId: string }>): void;
  generateToken(sessionId: string, options?: Record<string, unknown>, legacyT1?: boolean): string;
  startArchive(sessionId: string, options: Record<string, unknown>, cb: Cb): void;
  stopArchive(archiveId: string, cb: Cb): void;
  getArchive(archiveId: string, cb: Cb): void;
  deleteArchive(archiveId: string, cb: Cb): void;
  listArchives(options: Record<string, unknown>, cb: Cb<unknown[]>): void;
  startBroadcast(sessionId: string, options: Record<string, unknown>, cb: Cb): void;
  stopBroadcast(broadcastId: string, cb: Cb): void;
  getBroadcast(broadcastId: string, cb: Cb): void;
  listBroadcasts(options: Record<string, unknown>, cb: Cb<unknown[]>): void;
  listStreams(sessionId: string, cb: Cb<unknown[]>): void;
  getStream(sessionId: string, streamId: string, cb: Cb): void;
  setStreamClassLists(sessionId: string, items: { id: string; layoutClassList: string[] }[], cb: Cb): void;
  signal(sessionId: string, connectionId: string | null, payload: { type?: string; data?: string }, cb: Cb): void;
  forceDisconnect(sessionId: string, connectionId: string, cb: Cb): void;
  forceMuteAll(sessionId: string, options: Record<string, unknown>, cb: Cb): void;
  disableForceMute(sessionId: string, cb: Cb): void;
  dial(sessionId: string, token: string, sipUri: string, options: Record<string, unknown>, cb: Cb): void;
  playDTMF(sessionId: string, connectionId: string | null, digits: string, cb: Cb): void;
}

export type OpenTokCtor = new (apiKey: string, apiSecret: string, apiUrl: string) => OpenTokLike;

/** The official package, loaded as the CommonJS module it is (it ships no types). */
export const OfficialOpenTok = createRequire(import.meta.url)('opentok') as OpenTokCtor;

/** Run a callback-style call; resolves `{err, value, extra}` so tests can assert on errors too. */
export function settle<T = unknown>(fn: (cb: Cb<T>) => void): Promise<{ err: (Error & { message: string }) | null; value: T | undefined; extra: unknown }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('SDK callback never called')), 10_000);
    try {
      fn((err, value, extra) => {
        clearTimeout(timer);
        resolve({ err: err ?? null, value, extra });
      });
    } catch (err) {
      clearTimeout(timer);
      resolve({ err: err as Error, value: undefined, extra: undefined });
    }
  });
}
