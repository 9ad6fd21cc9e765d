import { createHmac, randomBytes, randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { base64UrlEncode, encodeSessionId, LIMITS, utf8Encode } from '@tokhost/protocol';
import { TokhostError } from '../errors.js';
import { StoreError } from '../storage/store.js';
import type { Store } from '../storage/store.js';
import { DEMO_PAGE } from './page.js';

/** Name of the project the demo creates for itself on first use. */
export const DEMO_PROJECT_NAME = 'tokhost-demo';

export interface DemoOptions {
  store: Store;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** The address the server listens on (config `host`): the `Host` names the demo answers to derive from it. */
  listenHost: string;
  /** Config `publicUrl`: with a reverse proxy in front, the `Host` it forwards. Default none. */
  publicUrl?: string | null;
  /** Most rooms (sessions of the demo project); a new room beyond it is refused. Default 100. */
  maxRooms?: number;
}

const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const UNSPECIFIED = new Set(['0.0.0.0', '::', '[::]']);

/** `host` as it appears in a `Host` header: lower case, an IPv6 address in brackets. */
function hostForm(host: string): string {
  const h = host.toLowerCase();
  return isIP(h) === 6 ? `[${h}]` : h;
}

/**
 * The host names (as a `Host` header writes them, without port) under which a browser on a
 * permitted origin reaches a server listening on `listenHost`: that address; for a loopback one
 * also `localhost`; for an unspecified one (`0.0.0.0`, `::`) the machine's interface addresses.
 */
export function demoHostNames(listenHost: string): Set<string> {
  const names = new Set<string>();
  const h = listenHost.replace(/^\[|\]$/g, '').toLowerCase();
  if (UNSPECIFIED.has(listenHost) || h === '::') {
    names.add('localhost');
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) names.add(hostForm(i.address.replace(/%.*$/, '')));
    return names;
  }
  names.add(hostForm(h));
  if (h === 'localhost') names.add('127.0.0.1').add('[::1]');
  if (h === '::1' || /^127\./.test(h)) names.add('localhost');
  return names;
}

/**
 * Whether a request's `Host` names this server: the listen address (see {@link demoHostNames}) on
 * the port the request arrived at, or the host of `publicUrl`. What it keeps out: a page on
 * another site whose name was re-pointed at this machine (DNS rebinding), and a reverse proxy
 * that publishes the server under a name the operator did not configure.
 */
export function demoHostAllowed(hostHeader: string | undefined, localPort: number | undefined, names: ReadonlySet<string>, publicUrl: URL | null): boolean {
  if (typeof hostHeader !== 'string') return false;
  const m = /^([a-z0-9.-]{1,253}|\[[0-9a-f:.]{2,45}\])(?::(\d{1,5}))?$/i.exec(hostHeader.trim());
  if (!m) return false;
  const name = m[1]!.toLowerCase();
  const port = m[2] === undefined ? null : Number(m[2]);
  if (publicUrl) {
    const defaultPort = publicUrl.protocol === 'https:' ? 443 : 80;
    const publicPort = publicUrl.port === '' ? defaultPort : Number(publicUrl.port);
    if (name === publicUrl.hostname.toLowerCase() && (port ?? defaultPort) === publicPort) return true;
  }
  return names.has(name) && (port ?? 80) === localPort;
}

/**
 * The demo: `/demo` (a page where two tabs video-chat) and `/demo/join?room=<name>`, which hands
 * out a publisher token for the room's session. It gives tokens to whoever reaches it, so it runs
 * only when the operator asks (`--demo`), answers only to a `Host` that names this server, keeps
 * one session per room name (the session ID is derived from the room name with the demo
 * project's secret, so the same name finds the same session after a restart and on every node),
 * and refuses new rooms once the demo project holds `maxRooms` sessions.
 */
export function createDemo(options: DemoOptions) {
  const { store } = options;
  const maxRooms = options.maxRooms ?? 100;
  const names = demoHostNames(options.listenHost);
  const publicUrl = options.publicUrl ? new URL(options.publicUrl) : null;

  const project = () => {
    const existing = store.listProjects().find((p) => p.name === DEMO_PROJECT_NAME);
    if (existing) return existing;
    const created = { apiKey: String(randomInt(10_000_000, 99_999_999)), apiSecret: randomBytes(20).toString('hex'), name: DEMO_PROJECT_NAME, createdAt: Date.now(), webhookUrl: null };
    store.createProject(created);
    options.logger.info({ apiKey: created.apiKey }, 'demo project created');
    return created;
  };

  const join = async (room: string) => {
    const p = project();
    // 18 bytes of HMAC: the 24 base64 characters of an OpenTok session ID's random part.
    const random = createHmac('sha256', p.apiSecret).update(`tokhost-demo-room:${room}`).digest().subarray(0, 18).toString('base64');
    const sessionId = encodeSessionId({ apiKey: p.apiKey, createdAt: p.createdAt, random, flag: 'P' });
    if (!store.getSession(sessionId)) {
      const rooms = store.listSessions(p.apiKey, { count: 1 }).total;
      if (rooms >= maxRooms) {
        throw new TokhostError('ERR_CONFLICT', `The demo has reached its maximum of ${maxRooms} rooms`, { description: `No new room "${room}": join an existing room, or raise demoMaxRooms (currently ${maxRooms})` });
      }
      try {
        store.createSession({ sessionId, apiKey: p.apiKey, mediaMode: 'relayed', archiveMode: 'manual', archiveName: null, archiveResolution: null, location: null, e2ee: false, createdAt: Date.now() });
      } catch (err) {
        // Two first visitors of one room at once: the other request created it.
        if (!(err instanceof StoreError && err.code === 'ERR_STORE_CONFLICT')) throw err;
      }
      await store.flush();
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
      // Publisher, not moderator: a visitor may not force others out of the room or mute them.
      role: 'publisher',
      connection_data: `name=Guest ${randomInt(100, 999)}`,
      initial_layout_class_list: '',
      scope: 'session.connect',
    };
    const enc = (o: object) => base64UrlEncode(utf8Encode(JSON.stringify(o)));
    const signingInput = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
    const token = `${signingInput}.${createHmac('sha256', p.apiSecret).update(signingInput).digest('base64url')}`;
    return { apiKey: p.apiKey, sessionId, token };
  };

  // The demo is its own small HTTP surface (not the REST API): its four answers, in the REST body shape.
  const STATUS: Partial<Record<TokhostError['code'], number>> = { ERR_AUTH_FORBIDDEN: 403, ERR_REQUEST_INVALID: 400, ERR_CONFLICT: 409 };
  const fail = (res: ServerResponse, err: TokhostError) => {
    const status = STATUS[err.code] ?? 500;
    const body = JSON.stringify({ code: status === 403 ? -1 : status, message: err.message, description: err.description });
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) }).end(body);
  };

  return {
    handle(path: string, req: IncomingMessage, res: ServerResponse): boolean {
      if (path !== '/demo' && path !== '/demo/' && path !== '/demo/join') return false;
      if (req.method !== 'GET') {
        res.writeHead(405, { Allow: 'GET' }).end();
        return true;
      }
      if (!demoHostAllowed(req.headers.host, req.socket.localPort, names, publicUrl)) {
        fail(res, new TokhostError('ERR_AUTH_FORBIDDEN', 'Forbidden', { description: 'The demo answers only to a Host header naming this server (its listen address, or publicUrl behind a reverse proxy)' }));
        return true;
      }
      if (path !== '/demo/join') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(DEMO_PAGE);
        return true;
      }
      const room = new URL(req.url ?? '', 'http://x').searchParams.get('room') ?? 'demo';
      if (!ROOM_PATTERN.test(room)) {
        fail(res, new TokhostError('ERR_REQUEST_INVALID', 'Invalid room: must be 1-64 letters, digits, "-" or "_"'));
        return true;
      }
      join(room).then(
        (creds) => res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(creds)),
        (err: unknown) => {
          if (err instanceof TokhostError) return fail(res, err);
          options.logger.warn({ err: (err as Error).message }, 'demo join failed');
          fail(res, new TokhostError('ERR_INTERNAL', 'Internal server error', { description: 'The demo could not open the room' }));
        },
      );
      return true;
    },
  };
}
