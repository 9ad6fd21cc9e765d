import { createHmac } from 'node:crypto';

/** Options of {@link turnCredentials}. */
export interface TurnCredentialOptions {
  /** The secret shared with coturn (`use-auth-secret` + `static-auth-secret=<secret>`). */
  secret: string;
  /** Lifetime of the credential. Default 86400 s (one day). */
  ttlSeconds?: number;
  /** Who the credential is for (a connection ID); appears in coturn's logs. Default none. */
  user?: string;
  /** Current time in ms, for tests. Default `Date.now()`. */
  now?: number;
}

/**
 * Time-limited TURN credentials in the "TURN REST API" scheme that coturn implements with
 * `use-auth-secret`: username `<expiry-unix-seconds>[:<user>]`, password
 * `base64(HMAC-SHA1(secret, username))`. coturn recomputes the HMAC, so nothing is stored.
 *
 * @example
 * const { username, credential } = turnCredentials({ secret: config.turnSecret, user: connectionId });
 * iceServers.push({ urls: 'turn:turn.example.com:3478?transport=udp', username, credential });
 */
export function turnCredentials(options: TurnCredentialOptions): { username: string; credential: string; expiresAt: number } {
  if (typeof options.secret !== 'string' || options.secret.length === 0) throw new TypeError('secret must be a non-empty string');
  const ttl = options.ttlSeconds ?? 86400;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new TypeError('ttlSeconds must be a positive integer');
  const expiresAt = Math.floor((options.now ?? Date.now()) / 1000) + ttl;
  const username = options.user ? `${expiresAt}:${options.user}` : String(expiresAt);
  const credential = createHmac('sha1', options.secret).update(username).digest('base64');
  return { username, credential, expiresAt };
}
