/**
 * Routed media: the media router (SFU) and what the server needs around it.
 *
 * @example
 * const router = await createMediaRouter({ publicIp: '203.0.113.7', rtcMinPort: 40000, rtcMaxPort: 40999 });
 * const room = await router.room(sessionId);
 * const { answerSdp } = await room.publish({ publisherId: streamId, offerSdp, onCandidate: (c) => ws.send(...) });
 */
import { NdcMediaRouter } from './worker-pool.js';
import type { MediaRouter, MediaRouterOptions } from './types.js';

/**
 * Starts the media router: `options.workers` worker processes (default: one per CPU), each
 * running the node-datachannel engine. Resolves once every worker is ready. Close it with
 * `router.close()`.
 *
 * Defaults: no announced address, any UDP port, no ICE servers for clients, audio fallback at
 * 5 % (warning) / 12 % for 2 s (video off) / ≤ 2 % for 3 s (video back), RTCP timeout 15 s.
 * Throws `MediaError` with `ERR_MEDIA_INVALID_OPTION` (naming the option) for bad options.
 */
export function createMediaRouter(options: MediaRouterOptions = {}): Promise<MediaRouter & { readonly workerPids: number[] }> {
  return NdcMediaRouter.start(options);
}

export { metricsText } from './metrics.js';
export { RoutedSessionMedia } from './routed-session.js';
export type { RoutedPeerSink } from './routed-session.js';
export { MediaError } from './errors.js';
export type { MediaErrorCode } from './errors.js';
// Every type of the router's interface (types.ts holds nothing else).
export type * from './types.js';
