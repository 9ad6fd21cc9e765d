import type { ServerConfig } from '../config.js';
import { isLoopbackHost } from '../net/hosts.js';
import type { MediaLogger, MediaRouter } from './types.js';

/** The settings the media router takes from the server config. */
export type MediaConfig = Pick<ServerConfig, 'host' | 'publicIp' | 'rtcMinPort' | 'rtcMaxPort' | 'mediaWorkers'>;

/** A media router started on first use: its worker processes cost nothing until a routed session needs them. */
export interface LazyMediaRouter {
  /** The router, started by the first call (later calls share that start). */
  get(): Promise<MediaRouter>;
  /** The router once it runs, else null: for `/metrics`, which must not start it. */
  running(): (MediaRouter & { readonly workerPids: number[] }) | null;
  /** The start under way or done, else null (a test hook). */
  starting(): Promise<MediaRouter> | null;
  /** Closes the router if it was started; a later {@link get} starts a new one. */
  close(): Promise<void>;
}

/**
 * The router of routed sessions as the config sets it up: bound to 127.0.0.1 when the server
 * listens on loopback only, `publicIp` announced, the `rtcMinPort`–`rtcMaxPort` range,
 * `mediaWorkers` processes (default one per CPU); started by the first {@link LazyMediaRouter.get}.
 *
 * @example
 * const media = lazyMediaRouter(config, logger);
 * const room = await (await media.get()).room(sessionId);
 * await media.close();
 */
export function lazyMediaRouter(config: MediaConfig, logger: MediaLogger): LazyMediaRouter {
  const options = {
    ...(isLoopbackHost(config.host) ? { bindAddress: '127.0.0.1' } : {}),
    ...(config.publicIp !== null ? { publicIp: config.publicIp } : {}),
    ...(config.rtcMinPort !== null && config.rtcMaxPort !== null ? { rtcMinPort: config.rtcMinPort, rtcMaxPort: config.rtcMaxPort } : {}),
    ...(config.mediaWorkers !== null ? { workers: config.mediaWorkers } : {}),
    logger,
  };
  let started: Promise<MediaRouter> | null = null;
  let ready: (MediaRouter & { readonly workerPids: number[] }) | null = null;
  return {
    get: () =>
      // Loaded on demand: the worker pool's module is not needed by a server without routed sessions.
      (started ??= import('./index.js').then(async ({ createMediaRouter }) => {
        const router = await createMediaRouter(options);
        ready = router;
        logger.info({ workers: router.workerPids.length }, 'media router started');
        return router;
      })),
    running: () => ready,
    starting: () => started,
    async close() {
      const s = started;
      started = null;
      ready = null;
      if (s) await (await s.catch(() => null))?.close();
    },
  };
}
