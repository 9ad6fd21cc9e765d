import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { WebSocket } from 'ws';
import { base64UrlEncode, encodeSessionId, REALTIME_PATH, utf8Encode } from '@tokhost/protocol';
import type { MediaMode, ServerMessage } from '@tokhost/protocol';
import { validateConfig } from '../../src/config.js';
import type { ServerConfigInput } from '../../src/config.js';
import { lazyMediaRouter } from '../../src/media/lazy-router.js';
import { createOutboundPolicy } from '../../src/net/outbound.js';
import { createRealtime } from '../../src/realtime/index.js';
import type { MediaRouter } from '../../src/media/types.js';
import { createWebhookSender } from '../../src/webhooks/index.js';
import type { Realtime } from '../../src/realtime/index.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { Store } from '../../src/storage/store.js';

/** The part of the official `opentok` SDK (untyped) the tests use. */
export interface OpenTokSdk {
  generateToken(sessionId: string, options?: Record<string, unknown>, t1?: boolean): string;
  signal(sessionId: string, connectionId: string | null, payload: { type?: string; data?: string }, cb: (err: Error | null) => void): void;
  forceDisconnect(sessionId: string, connectionId: string, cb: (err: Error | null) => void): void;
  listStreams(sessionId: string, cb: (err: Error | null, streams?: { id: string; name: string; videoType?: string; layoutClassList: string[] }[]) => void): void;
  forceMuteAll(sessionId: string, options: Record<string, unknown>, cb: (err: Error | null) => void): void;
  forceMuteStream(sessionId: string, streamId: string, cb: (err: Error | null) => void): void;
  disableForceMute(sessionId: string, options: Record<string, unknown>, cb: (err: Error | null) => void): void;
}
const OpenTok = createRequire(import.meta.url)('opentok') as new (key: string, secret: string, options?: unknown) => OpenTokSdk;

export const silentLogger = { info() {}, warn() {}, error() {}, debug() {} };

/** A realtime layer on a plain node:http server with a memory store and one project. */
export interface Harness {
  url: string;
  wsUrl: string;
  store: Store;
  realtime: Realtime;
  apiKey: string;
  apiSecret: string;
  opentok: OpenTokSdk;
  createSession(mediaMode?: MediaMode): string;
  close(): Promise<void>;
}

/**
 * `config`: server settings (validated as createServer does; host 127.0.0.1 and outbound to
 * loopback allowed unless given). `deps.media`: the router of routed sessions, `null` for routing
 * off; default one started on first use and closed with the harness.
 */
export async function startHarness(input: ServerConfigInput = {}, deps: { media?: MediaRouter | null } = {}): Promise<Harness> {
  const config = validateConfig({ host: '127.0.0.1', outboundAllow: ['127.0.0.0/8'], ...input });
  const store = createMemoryStore();
  const apiKey = String(10_000_000 + Math.floor(Math.random() * 80_000_000));
  const apiSecret = randomBytes(20).toString('hex');
  store.createProject({ apiKey, apiSecret, name: 'test', createdAt: Date.now(), webhookUrl: null });
  const ownMedia = deps.media === undefined ? lazyMediaRouter(config, silentLogger) : null;
  const webhooks = createWebhookSender({
    logger: silentLogger,
    outbox: store,
    outbound: createOutboundPolicy({ allow: config.outboundAllow }),
    ...(config.webhookRetryDelaysMs !== null ? { retryDelaysMs: config.webhookRetryDelaysMs } : {}),
  });
  const realtime = createRealtime({
    store,
    logger: silentLogger,
    config,
    media: ownMedia ? ownMedia.get : (deps.media ?? null),
    webhooks,
    icePolicy: createOutboundPolicy({ allow: [...config.outboundAllow, ...config.iceAllow] }),
  });
  const server: Server = createServer((req, res) => {
    if (!realtime.handleHttp(req, res)) res.writeHead(404).end();
  });
  server.on('upgrade', (req, socket, head) => realtime.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}${REALTIME_PATH}`,
    store,
    realtime,
    apiKey,
    apiSecret,
    opentok: new OpenTok(apiKey, apiSecret),
    createSession(mediaMode: MediaMode = 'relayed') {
      const createdAt = Date.now();
      const sessionId = encodeSessionId({ apiKey, createdAt, random: randomBytes(18).toString('base64'), flag: mediaMode === 'relayed' ? 'P' : '' });
      store.createSession({ sessionId, apiKey, mediaMode, archiveMode: 'manual', archiveName: null, archiveResolution: null, location: null, e2ee: false, createdAt });
      return sessionId;
    },
    async close() {
      await realtime.close();
      webhooks.close();
      await ownMedia?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      store.close();
    },
  };
}

/** Sign a JWT client token by hand (claims in whatever order the caller gives). */
export function signJwt(claims: Record<string, unknown>, secret: string, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const enc = (o: object) => base64UrlEncode(utf8Encode(JSON.stringify(o)));
  const input = `${enc(header)}.${enc(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** Build a T1 token from a raw data string, the way each SDK frames it. */
export function signT1(dataString: string, apiKey: string, secret: string, alphabet: 'std' | 'url' = 'std'): string {
  const sig = createHmac('sha1', secret).update(dataString).digest('hex');
  let b64 = Buffer.from(`partner_id=${apiKey}&sig=${sig}:${dataString}`).toString('base64');
  if (alphabet === 'url') b64 = b64.replace(/\+/g, '-').replace(/\//g, '_');
  return `T1==${b64}`;
}

/**
 * A protocol client over `ws` (what the browser SDK does, minus media): records every message,
 * answers requests by id, acks, and waits for messages by predicate.
 */
export class TestClient {
  readonly messages: ServerMessage[] = [];
  private waiters: { pred: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = [];
  private nextId = 1;
  closed: Promise<{ code: number; reason: string }>;
  lastSeq = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      // A client that connected with `batch: true` may get an array of messages in one frame.
      const parsed = JSON.parse(raw.toString()) as ServerMessage | ServerMessage[];
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) this.accept(m);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  private accept(m: ServerMessage): void {
    if ('seq' in m && typeof m.seq === 'number' && m.seq > 0) {
      if (m.seq <= this.lastSeq) return;
      this.lastSeq = m.seq;
    }
    this.messages.push(m);
    for (const w of [...this.waiters]) {
      if (w.pred(m)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  static async open(wsUrl: string): Promise<TestClient> {
    const ws = new WebSocket(wsUrl);
    const c = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return c;
  }

  /** Connect and return the first answer (`sessionConnected`, `sessionResumed` or `error`). */
  static async connect(h: { wsUrl: string; apiKey: string }, sessionId: string, token: string, extra: Record<string, unknown> = {}): Promise<{ client: TestClient; first: ServerMessage }> {
    const client = await TestClient.open(h.wsUrl);
    const first = client.next(() => true);
    client.send({ type: 'connect', version: 1, apiKey: h.apiKey, sessionId, token, ...extra });
    return { client, first: await first };
  }

  send(msg: object): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** Wait for the next message (from now on) matching `pred`. */
  next<T extends ServerMessage = ServerMessage>(pred: (m: ServerMessage) => boolean, timeoutMs = 5000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a message')), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as T);
        },
      });
    });
  }

  /** The first message so far (or the next one) matching `pred`. */
  find<T extends ServerMessage = ServerMessage>(pred: (m: ServerMessage) => boolean, timeoutMs = 5000): Promise<T> {
    const m = this.messages.find(pred);
    return m ? Promise.resolve(m as T) : this.next<T>(pred, timeoutMs);
  }

  ofType<K extends ServerMessage['type']>(type: K): Extract<ServerMessage, { type: K }>[] {
    return this.messages.filter((m): m is Extract<ServerMessage, { type: K }> => m.type === type);
  }

  async request(body: Record<string, unknown>): Promise<Extract<ServerMessage, { type: 'response' }>> {
    const id = this.nextId++;
    const answer = this.next<Extract<ServerMessage, { type: 'response' }>>((m) => m.type === 'response' && m.id === id);
    this.send({ ...body, id });
    return answer;
  }

  close(): void {
    this.ws.terminate();
  }
}
