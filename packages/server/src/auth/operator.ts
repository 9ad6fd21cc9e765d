import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Store } from '../storage/store.js';

/** Name under which the store keeps the hash of a generated operator token. */
export const OPERATOR_TOKEN_SETTING = 'operatorTokenHash';

const HASH_PREFIX = 'sha256:';

/**
 * The operator's credential: it guards what belongs to whoever runs the server rather than to a
 * tenant (`/metrics` today, the console later). Tenants never hold it.
 */
export interface OperatorAuth {
  /** Where the token comes from: the configuration, the store (generated at an earlier start), or generated now. */
  readonly source: 'config' | 'store' | 'generated';
  /**
   * The clear token when this start generated it, so the caller can show it once (as the first
   * project's secret is shown); `null` otherwise. Only its hash is stored.
   */
  readonly generated: string | null;
  /**
   * True when the headers carry `Authorization: Bearer <operator token>`. The comparison is of
   * fixed-length SHA-256 digests with `timingSafeEqual`, so its time says nothing about the token.
   */
  verify(headers: IncomingHttpHeaders): boolean;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A fresh operator token: 32 random bytes, base64url, prefixed `tho_`. */
function freshToken(): string {
  return `tho_${randomBytes(32).toString('base64url')}`;
}

/**
 * Replace the stored operator token with a new one and return it (clear, to be shown once; only
 * its SHA-256 is stored). A running server keeps the token it read at start: the old one works
 * there until it restarts (`tokhost operator-token --reset`, docs/cli.md). Has no effect on a
 * server that takes its token from the configuration (`operatorToken`).
 */
export function resetOperatorToken(store: Pick<Store, 'putSetting'>): string {
  const token = freshToken();
  store.putSetting(OPERATOR_TOKEN_SETTING, HASH_PREFIX + digest(token).toString('hex'));
  return token;
}

/**
 * The operator token: `configured` (config `operatorToken`) when given; else the one generated at
 * an earlier start, whose SHA-256 the store keeps (the SQLite database in the data directory, or
 * the PostgreSQL database, so every node of a cluster shares it: of nodes starting together the
 * first one's wins and only that node reports it as `generated`); else a new one (32 random bytes,
 * base64url, prefixed `tho_`). A memory store keeps nothing, so each start generates one.
 *
 * @example
 * const operator = resolveOperatorToken(store, config.operatorToken);
 * if (operator.generated) console.log(`operator token (shown once): ${operator.generated}`);
 * if (!operator.verify(req.headers)) return unauthorized(res);
 */
export function resolveOperatorToken(store: Store, configured: string | null): OperatorAuth {
  let expected: Buffer;
  let source: OperatorAuth['source'];
  let generated: string | null = null;
  if (configured !== null) {
    expected = digest(configured);
    source = 'config';
  } else {
    const fresh = freshToken();
    const freshHash = HASH_PREFIX + digest(fresh).toString('hex');
    const stored = store.getSetting(OPERATOR_TOKEN_SETTING) ?? store.putSettingIfAbsent(OPERATOR_TOKEN_SETTING, freshHash);
    if (!stored.startsWith(HASH_PREFIX) || !/^[0-9a-f]{64}$/.test(stored.slice(HASH_PREFIX.length))) {
      throw new Error(`the stored operator token hash (setting ${OPERATOR_TOKEN_SETTING}) is damaged: delete it to have a new token generated, or set operatorToken`);
    }
    expected = Buffer.from(stored.slice(HASH_PREFIX.length), 'hex');
    if (stored === freshHash) {
      source = 'generated';
      generated = fresh;
    } else source = 'store';
  }
  return Object.freeze({
    source,
    generated,
    verify(headers: IncomingHttpHeaders): boolean {
      const header = headers.authorization;
      if (typeof header !== 'string') return false;
      const m = /^Bearer[ \t]+(\S{1,1024})[ \t]*$/i.exec(header);
      if (!m) return false;
      return timingSafeEqual(digest(m[1]!), expected);
    },
  });
}
