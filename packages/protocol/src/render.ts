/**
 * Experience Composer renders (reference §3.9, objects §4.6): a web page loaded by a headless
 * browser on the server and published into a session as a stream.
 */

/** The states of a render, in the order they happen (`failed` can follow either of the first two). */
export const RENDER_STATUSES = ['starting', 'started', 'stopped', 'failed'] as const;
export type RenderStatus = (typeof RENDER_STATUSES)[number];

/** Bounds of a render's `maxDuration`, seconds (the documented range; default 1800). */
export const RENDER_MAX_DURATION = Object.freeze({ min: 60, max: 36_000, default: 1800 });

/** Longest `properties.name` a render's stream may take. */
export const RENDER_NAME_MAX_LENGTH = 200;

/** A render as the REST API answers it and as its status callbacks carry it. */
export interface RenderJson {
  /** UUID. */
  id: string;
  sessionId: string;
  /** The project's API key, a string (as OpenTok sends it for renders). */
  projectId: string;
  /** ms since the epoch. */
  createdAt: number;
  updatedAt: number;
  url: string;
  /** One of the six documented resolutions, portrait ones included. */
  resolution: string;
  status: RenderStatus;
  /** The published stream, once `started`. */
  streamId?: string;
  /** Why it stopped or failed: `Stop Requested`, `Max duration exceeded`, `Could not load URL`, … */
  reason?: string;
  /** The `statusCallbackUrl` of the start call, when one was given. */
  callbackUrl?: string;
  /** The requested `maxDuration`, seconds. */
  maxDuration: number;
  /** The `properties` of the start call (`name`: the published stream's name). */
  properties?: { name?: string };
  /** The last event sent for it (callbacks): its status. */
  event?: string;
}
