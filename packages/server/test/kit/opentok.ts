/** The official `opentok` Node SDK as a test client (it has no types of its own). */
import { createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

export type Cb<T> = (err: Error | null, value?: T) => void;

/** The part of the official `opentok` SDK (untyped) the tests use. */
export interface OpenTokSdk {
  createSession(options: Record<string, unknown>, cb: Cb<{ sessionId: string }>): void;
  generateToken(sessionId: string, options?: Record<string, unknown>, t1?: boolean): string;
  signal(sessionId: string, connectionId: string | null, payload: { type?: string; data?: string }, cb: Cb<void>): void;
  forceDisconnect(sessionId: string, connectionId: string, cb: Cb<void>): void;
  listStreams(sessionId: string, cb: Cb<{ id: string; name: string; videoType?: string }[]>): void;
  forceMuteStream(sessionId: string, streamId: string, cb: Cb<void>): void;
  forceMuteAll(sessionId: string, options: { excludedStreamIds?: string[] }, cb: Cb<void>): void;
  disableForceMute(sessionId: string, cb: Cb<void>): void;
}
export const OpenTok = createRequire(import.meta.url)('opentok') as new (key: string, secret: string, apiUrl?: string) => OpenTokSdk;

/** Promisify one callback-style SDK call. */
export const call = <T>(fn: (cb: Cb<T>) => void): Promise<T> => new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

/** A fresh project JWT (`X-OPENTOK-AUTH`) for the REST API of `apiKey`, as the official SDKs make it: HS256, one minute, a random `jti`. */
export function projectJwt(apiKey: string, apiSecret: string): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: apiKey, ist: 'project', iat: now, exp: now + 60, jti: randomBytes(8).toString('hex') })}`;
  return `${head}.${createHmac('sha256', apiSecret).update(head).digest('base64url')}`;
}
