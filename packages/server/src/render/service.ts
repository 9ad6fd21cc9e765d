import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { RenderJson, RenderStatus, Resolution } from '@tokhost/protocol';
import { TokhostError } from '../errors.js';
import type { OutboundPolicy } from '../net/outbound.js';
import type { ListOptions, Page, ProjectRecord, RenderRecord, Store } from '../storage/store.js';
import type { WebhookSender } from '../webhooks/index.js';
import { BrowserRecord } from './leftovers.js';
import { REASONS, startRenderRun } from './run.js';
import type { RenderRun } from './run.js';

/** The settings renders run with (config.ts, docs/render.md). */
export interface RenderSettings {
  /** Renders running at once on this server; the next start answers 429. */
  readonly renderMaxConcurrent: number;
  /** The Chromium executable. */
  readonly renderChromium: string;
  /** User the browser runs as when the server runs as root; null: the server's user. */
  readonly renderUser: string | null;
  /** The page must have loaded within this long, seconds. */
  readonly renderLoadTimeoutSeconds: number;
  /** Where the record of running browsers is kept (crash cleanup). */
  readonly dataDir: string;
}

/** Options of {@link RenderService}. */
export interface RenderServiceOptions {
  store: Store;
  webhooks: Pick<WebhookSender, 'send'>;
  outbound: OutboundPolicy;
  settings: RenderSettings;
  logger: { debug(obj: object, msg?: string): void; info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Where the render's publisher reaches this server (its listen URL). */
  serverUrl(): string;
  /**
   * True when this server alone writes the store's renders (not a cluster): at start, renders a
   * crash left `starting`/`started` are marked `failed`. Default true.
   */
  ownsStore?: boolean;
}

/** A validated start request (http/routes/renders.ts). */
export interface StartRender {
  sessionId: string;
  token: string;
  url: string;
  maxDuration: number;
  resolution: Resolution;
  statusCallbackUrl?: string;
  name?: string;
}

const ACTIVE: readonly RenderStatus[] = ['starting', 'started'];

/**
 * Experience Composer: each render is a headless Chromium that loads a page and publishes its tab,
 * picture and sound, into a session (render/run.ts). Keeps the records (store), the status
 * callbacks (`statusCallbackUrl`, through the webhook outbox), `maxDuration`, the concurrency
 * limit, and the browsers: killed on stop, failure and close, and after a crash at the next start.
 */
export class RenderService {
  readonly #o: RenderServiceOptions;
  readonly #running = new Map<string, { apiKey: string; secret: string; run: RenderRun; timer: NodeJS.Timeout }>();
  readonly #browsers: BrowserRecord;
  #clientScript: Promise<string> | undefined;
  #closed = false;

  constructor(options: RenderServiceOptions) {
    this.#o = options;
    this.#browsers = new BrowserRecord(options.settings.dataDir);
  }

  /** Kill browsers a crashed run left behind and close the records they held. Call once at start. */
  recover(): void {
    const killed = this.#browsers.killLeftovers();
    if (killed.length > 0) this.#o.logger.warn({ pids: killed }, 'killed render browsers left by a previous run');
    if (this.#o.ownsStore === false) return;
    for (const r of this.#o.store.listRendersByStatus(ACTIVE)) {
      this.#o.store.updateRender(r.apiKey, { ...r.render, status: 'failed', reason: REASONS.serverRestarted, updatedAt: Date.now() });
    }
  }

  /** Renders running on this server now. */
  get running(): number {
    return this.#running.size;
  }

  /** Start a render; the answer is the `starting` record (the browser comes up in the background). */
  start(project: ProjectRecord, o: StartRender): RenderJson {
    if (this.#closed) throw new TokhostError('ERR_INTERNAL', 'The server is shutting down');
    const max = this.#o.settings.renderMaxConcurrent;
    if (this.#running.size >= max) {
      throw new TokhostError('ERR_LIMIT_EXCEEDED', 'Too many renders', { description: `Render limit reached: ${this.#running.size} of ${max} renders are running on this server (setting renderMaxConcurrent)` });
    }
    const now = Date.now();
    const render: RenderJson = {
      id: randomUUID(),
      sessionId: o.sessionId,
      projectId: project.apiKey,
      createdAt: now,
      updatedAt: now,
      url: o.url,
      resolution: o.resolution,
      status: 'starting',
      maxDuration: o.maxDuration,
      ...(o.statusCallbackUrl !== undefined ? { callbackUrl: o.statusCallbackUrl } : {}),
      ...(o.name !== undefined ? { properties: { name: o.name } } : {}),
    };
    this.#o.store.createRender({ apiKey: project.apiKey, render });
    this.#notify(project.apiSecret, render);
    const [width, height] = o.resolution.split('x').map(Number) as [number, number];
    const s = this.#o.settings;
    // The browser needs the client build first; its load is cached after the first render.
    const pending = { stop: async (status: 'stopped' | 'failed', reason: string) => this.#finish(project.apiKey, render.id, status, reason) };
    const entry = { apiKey: project.apiKey, secret: project.apiSecret, run: pending as RenderRun, timer: setTimeout(() => void this.#stopRunning(render.id, 'stopped', REASONS.maxDuration), o.maxDuration * 1000) };
    entry.timer.unref();
    this.#running.set(render.id, entry);
    void this.#client().then(
      (clientScript) => {
        if (this.#running.get(render.id) !== entry) return;
        entry.run = startRenderRun(
          {
            url: o.url,
            executable: s.renderChromium,
            user: s.renderUser,
            loadTimeoutMs: s.renderLoadTimeoutSeconds * 1000,
            outbound: this.#o.outbound,
            clientScript,
            serverUrl: this.#o.serverUrl(),
            apiKey: project.apiKey,
            sessionId: o.sessionId,
            token: o.token,
            name: o.name ?? '',
            width,
            height,
            onSpawn: (pid, profileDir) => this.#browsers.add(pid, profileDir),
            onExit: (pid) => this.#browsers.remove(pid),
            trace: (step) => this.#o.logger.debug({ renderId: render.id, step }, 'render'),
          },
          {
            started: (streamId) => this.#update(project.apiKey, render.id, { status: 'started', streamId }),
            ended: (status, reason, detail) => {
              if (detail) this.#o.logger.warn({ renderId: render.id, reason, detail }, 'render ended');
              this.#finish(project.apiKey, render.id, status, reason);
            },
          },
        );
      },
      (err: unknown) => this.#finish(project.apiKey, render.id, 'failed', REASONS.publishFailed, (err as Error).message),
    );
    this.#o.logger.info({ renderId: render.id, sessionId: o.sessionId, resolution: o.resolution }, 'render starting');
    return render;
  }

  get(apiKey: string, renderId: string): RenderJson {
    const r = this.#o.store.getRender(apiKey, renderId);
    if (!r) throw new TokhostError('ERR_RENDER_NOT_FOUND', 'Render not found', { description: `Render ${renderId} does not exist in project ${apiKey}` });
    return r.render;
  }

  list(apiKey: string, options: ListOptions): Page<RenderRecord> {
    return this.#o.store.listRenders(apiKey, options);
  }

  /** Stop a running render ("Stop Requested"); resolves once its browser is gone. */
  async stop(apiKey: string, renderId: string): Promise<void> {
    const render = this.get(apiKey, renderId);
    const entry = this.#running.get(renderId);
    if (!entry || entry.apiKey !== apiKey || !ACTIVE.includes(render.status)) {
      throw new TokhostError('ERR_RENDER_NOT_FOUND', 'Render not found', { description: `Render ${renderId} is not running (status ${render.status})` });
    }
    await this.#stopRunning(renderId, 'stopped', REASONS.stop);
  }

  /** Stop every render ("Server stopped") and kill their browsers. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#running.keys()].map((id) => this.#stopRunning(id, 'stopped', REASONS.serverStopped)));
  }

  async #stopRunning(renderId: string, status: 'stopped' | 'failed', reason: string): Promise<void> {
    const entry = this.#running.get(renderId);
    if (entry) await entry.run.stop(status, reason);
  }

  #finish(apiKey: string, renderId: string, status: 'stopped' | 'failed', reason: string, detail?: string): void {
    const entry = this.#running.get(renderId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.#running.delete(renderId);
    if (detail) this.#o.logger.warn({ renderId, reason, detail }, 'render failed');
    this.#update(apiKey, renderId, { status, reason });
  }

  #update(apiKey: string, renderId: string, change: Partial<RenderJson>): void {
    const cur = this.#o.store.getRender(apiKey, renderId);
    if (!cur || !ACTIVE.includes(cur.render.status)) return;
    const next: RenderJson = { ...cur.render, ...change, updatedAt: Date.now() };
    this.#o.store.updateRender(apiKey, next);
    const secret = this.#running.get(renderId)?.secret ?? this.#o.store.getProject(apiKey)?.apiSecret;
    if (secret) this.#notify(secret, next);
  }

  /** The status callback: the render object with `event` set to its status. */
  #notify(secret: string, render: RenderJson): void {
    if (render.callbackUrl) this.#o.webhooks.send(render.callbackUrl, secret, { ...render, event: render.status });
  }

  #client(): Promise<string> {
    return (this.#clientScript ??= readFile(createRequire(import.meta.url).resolve('@tokhost/client/tokhost.js'), 'utf8').catch((err: unknown) => {
      this.#clientScript = undefined;
      throw err;
    }));
  }
}
