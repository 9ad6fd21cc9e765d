import { createHmac } from 'node:crypto';
import type { RtIceServer } from '@tokhost/protocol';

export interface IceConfig {
  iceServers: readonly RtIceServer[];
  /** TURN REST shared secret (coturn `use-auth-secret` + `static-auth-secret`). */
  turnSecret: string | null;
  /** Lifetime of generated TURN credentials, seconds. */
  turnTtlSeconds: number;
}

/**
 * The ICE servers one client gets. TURN entries configured without a username/credential get
 * time-limited credentials per the TURN REST API convention (draft-uberti-behave-turn-rest):
 * `username = "<expiry unix seconds>:<connectionId>"`, `credential = base64(HMAC-SHA1(secret, username))`,
 * which coturn checks with `use-auth-secret`.
 */
export function iceServersFor(config: IceConfig, connectionId: string, nowSeconds: number = Date.now() / 1000): RtIceServer[] {
  return config.iceServers.map((server) => {
    const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
    const isTurn = urls.some((u) => /^turns?:/.test(u));
    if (!isTurn || server.username !== undefined || !config.turnSecret) return { ...server, urls: Array.isArray(server.urls) ? [...server.urls] : server.urls };
    const username = `${Math.floor(nowSeconds) + config.turnTtlSeconds}:${connectionId}`;
    const credential = createHmac('sha1', config.turnSecret).update(username).digest('base64');
    return { urls: Array.isArray(server.urls) ? [...server.urls] : server.urls, username, credential };
  });
}
