import { createHmac, randomBytes, randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { base64UrlEncode, encodeSessionId, LIMITS, utf8Encode } from '@tokhost/protocol';
import type { Store } from '../storage/store.js';
import { DEMO_PAGE } from './page.js';

/** Name of the project the demo creates for itself on first use. */
export const DEMO_PROJECT_NAME = 'tokhost-demo';

export interface DemoOptions {
  store: Store;
  logger: { info(obj: object, msg?: string): void };
}

/**
 * The demo: `/demo` (a page where two tabs video-chat) and `/demo/join?room=<name>` which mints
 * a moderator token for a relayed session per room name. It hands out tokens to anyone who can
 * reach it, which is why the realtime layer enables it only on a loopback listener or with
 * `--demo`.
 */
export function createDemo(options: DemoOptions) {
  const { store } = options;
  const rooms = new Map<string, string>();

  const project = () => {
    const existing = store.listProjects().find((p) => p.name === DEMO_PROJECT_NAME);
    if (existing) return existing;
    const created = { apiKey: String(randomInt(10_000_000, 99_999_999)), apiSecret: randomBytes(20).toString('hex'), name: DEMO_PROJECT_NAME, createdAt: Date.now(), webhookUrl: null };
    store.createProject(created);
    options.logger.info({ apiKey: created.apiKey }, 'demo project created');
    return created;
  };

  const join = (room: string) => {
    const p = project();
    let sessionId = rooms.get(room);
    if (!sessionId || !store.getSession(sessionId)) {
      const createdAt = Date.now();
      sessionId = encodeSessionId({ apiKey: p.apiKey, createdAt, random: randomBytes(18).toString('base64'), flag: 'P' });
      store.createSession({ sessionId, apiKey: p.apiKey, mediaMode: 'relayed', archiveMode: 'manual', archiveName: null, archiveResolution: null, location: null, e2ee: false, createdAt });
      rooms.set(room, sessionId);
    }
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: p.apiKey,
      ist: 'project',
      iat: now,
      exp: now + LIMITS.tokenDefaultLifetimeSeconds,
      session_id: sessionId,
      create_time: now,
      nonce: Math.random(),
      role: 'moderator',
      connection_data: `name=Guest ${randomInt(100, 999)}`,
      initial_layout_class_list: '',
      scope: 'session.connect',
    };
    const enc = (o: object) => base64UrlEncode(utf8Encode(JSON.stringify(o)));
    const signingInput = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
    const token = `${signingInput}.${createHmac('sha256', p.apiSecret).update(signingInput).digest('base64url')}`;
    return { apiKey: p.apiKey, sessionId, token };
  };

  return {
    handle(path: string, req: IncomingMessage, res: ServerResponse): boolean {
      if (req.method !== 'GET') {
        res.writeHead(405, { Allow: 'GET' }).end();
        return true;
      }
      if (path === '/demo' || path === '/demo/') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(DEMO_PAGE);
        return true;
      }
      if (path === '/demo/join') {
        const room = new URL(req.url ?? '', 'http://x').searchParams.get('room') ?? 'demo';
        if (!/^[A-Za-z0-9_-]{1,64}$/.test(room)) {
          res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ code: 'ERR_REQUEST_INVALID', message: 'room must be 1-64 letters, digits, "-" or "_"', description: 'bad room name' }));
          return true;
        }
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(join(room)));
        return true;
      }
      return false;
    },
  };
}
