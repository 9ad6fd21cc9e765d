/**
 * Client-token generation (reference §5.2–§5.4). Local only: no request is made.
 */
import { decodeSessionId, LIMITS, ROLES } from '@tokhost/protocol';
import type { Role } from '@tokhost/protocol';
import type { Signer } from './auth.js';
import { fail, optionalOneOf } from './validate.js';

/** Options of {@link TokenGenerator.generate} / `OpenTok#generateToken`. */
export interface TokenOptions {
  /** Role of the connecting client. Default `"publisher"`. */
  role?: Role;
  /**
   * Expiry in seconds since the epoch (a numeric string is accepted; fractions are rounded). Must
   * be in the future and at most 30 days ahead. Default: 24 hours from now.
   */
  expireTime?: number | string;
  /** Connection data visible to every client in the session, at most 1000 characters. */
  data?: string;
  /** Layout classes for the client's streams: an array, or a space-separated string. */
  initialLayoutClassList?: string[] | string;
  /** `"jwt"` (default) or `"t1"` for a legacy `T1==` token (key/secret credentials only). */
  format?: 'jwt' | 't1';
}

const MAX_LAYOUT_CLASS_LIST = 1024;

/** Makes client tokens for sessions of one API key or application. */
export class TokenGenerator {
  readonly #apiKey: string;
  readonly #signer: Signer;
  // Apps mint many tokens for the same few sessions; remembering the last verified ID skips the
  // base64 decode on the hot path.
  #lastSessionId = '';

  constructor(apiKey: string, signer: Signer) {
    this.#apiKey = apiKey;
    this.#signer = signer;
  }

  /**
   * Generate a token for `sessionId`.
   * @throws {ArgumentError} when the session does not belong to this API key or an option is invalid.
   */
  generate(sessionId: string, options?: TokenOptions, legacyT1 = false): string {
    if (sessionId !== this.#lastSessionId) {
      if (typeof sessionId !== 'string' || sessionId.length === 0) fail('sessionId must be a non-empty string');
      // An application's tokens are good for every session of its project, including sessions made
      // with the project's API key, whose IDs carry that key: the SDK cannot tell, the server checks.
      if (this.#signer.kind === 'project') {
        const parts = decodeSessionId(sessionId);
        if (!parts || parts.apiKey !== this.#apiKey) fail('sessionId: token cannot be generated unless the session belongs to the API key');
      }
      this.#lastSessionId = sessionId;
    }
    const o: TokenOptions = options ?? {};
    if (typeof o !== 'object') fail('options must be an object');
    const now = Math.floor(Date.now() / 1000);

    const role = o.role === undefined ? 'publisher' : optionalOneOf('role', o.role, ROLES)!;

    let expireTime = now + LIMITS.tokenDefaultLifetimeSeconds;
    if (o.expireTime !== undefined) {
      const n = typeof o.expireTime === 'string' && o.expireTime.trim() !== '' ? Number(o.expireTime) : o.expireTime;
      if (typeof n !== 'number' || !Number.isFinite(n)) fail('expireTime must be a number of seconds since the epoch');
      expireTime = Math.round(n);
      if (expireTime <= now) fail(`expireTime must be in the future (got ${expireTime}, now ${now})`);
      if (expireTime > now + LIMITS.tokenMaxLifetimeSeconds) fail('expireTime must be at most 30 days in the future');
    }

    let data: string | undefined;
    if (o.data !== undefined) {
      if (typeof o.data !== 'string') fail('data must be a string');
      if (o.data.length > LIMITS.tokenDataMax) fail(`data must be at most ${LIMITS.tokenDataMax} characters`);
      // opentok-node omits empty data; so do we, so both produce the same claims.
      if (o.data.length > 0) data = o.data;
    }

    let layout = '';
    const classes = o.initialLayoutClassList;
    if (classes !== undefined) {
      if (Array.isArray(classes)) {
        if (classes.some((c) => typeof c !== 'string')) fail('initialLayoutClassList must be an array of strings or a string');
        layout = classes.join(' ');
      } else if (typeof classes === 'string') {
        layout = classes;
      } else {
        fail('initialLayoutClassList must be an array of strings or a string');
      }
      if (layout.length > MAX_LAYOUT_CLASS_LIST) fail(`initialLayoutClassList must be at most ${MAX_LAYOUT_CLASS_LIST} characters once joined`);
    }

    const format = o.format === undefined ? (legacyT1 ? 't1' : 'jwt') : optionalOneOf('format', o.format, ['jwt', 't1'] as const)!;
    const input = { sessionId, role, createTime: now, expireTime, data, initialLayoutClassList: layout, nonce: Math.random() };
    if (format === 'jwt') return this.#signer.clientJwt(input);
    // A T1 token is an HMAC with the API secret; an application has none (opentok-node silently returns a JWT).
    if (this.#signer.kind === 'application') fail('format: "t1" tokens need API key/secret credentials; application credentials make JWTs only');
    return this.#signer.clientT1(input);
  }
}
