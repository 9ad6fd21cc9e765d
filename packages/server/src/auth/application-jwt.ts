import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import type { ApplicationRecord } from '../storage/store.js';

/**
 * RS256 JWTs signed with a Vonage-style application's private key (docs/applications.md), for
 * REST (`Authorization: Bearer`, auth/rest-auth.ts) and for client tokens (auth/client-token.ts).
 * jose does the verification; this module picks the key from the token's `application_id` and
 * maps failures to the caller's error type.
 */

/** Finds an application by ID; `undefined` when unknown. Read on every call (no stale cache). */
export type ApplicationLookup = (applicationId: string) => ApplicationRecord | undefined;

/** Why an application JWT was refused. */
export type ApplicationJwtFailure = 'malformed' | 'algorithm' | 'unknown-application' | 'signature' | 'expired' | 'not-yet-valid' | 'lifetime' | 'claims';

/** An application JWT was refused; `reason` classifies, `message` names the claim or header. */
export class ApplicationJwtError extends Error {
  override readonly name = 'ApplicationJwtError';
  constructor(
    readonly reason: ApplicationJwtFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

// KeyObjects by PEM text: an entry cannot go stale (a rotated key is another text), and parsing
// a PEM costs more than the lookup.
const keys = new Map<string, KeyObject>();
function keyOf(pem: string): KeyObject {
  let key = keys.get(pem);
  if (!key) {
    key = createPublicKey(pem);
    if (keys.size >= 1024) keys.clear();
    keys.set(pem, key);
  }
  return key;
}

/** Whether a token's JOSE header asks for RS256, i.e. it claims to be an application's (cheap, unverified). */
export function isRs256Jwt(token: string): boolean {
  if (typeof token !== 'string' || token.startsWith('T1==') || token.split('.').length !== 3) return false;
  try {
    return decodeProtectedHeader(token).alg === 'RS256';
  } catch {
    return false;
  }
}

/** Options of {@link verifyApplicationJwt}. */
export interface VerifyApplicationJwtOptions {
  /** Now, seconds since the epoch. Default: the clock. */
  now?: number;
  /** Tolerated clock skew on `iat`, `nbf` and `exp`, seconds. Default 30. */
  clockSkewSeconds?: number;
  /** Longest accepted `exp - iat`, seconds (REST: 24 h; client tokens: 30 days). */
  maxLifetimeSeconds: number;
  /** Require `exp` (REST) or allow its absence (client tokens default it). */
  requireExp: boolean;
}

/** A verified application JWT: the application, its payload and the times jose checked. */
export interface VerifiedApplicationJwt {
  application: ApplicationRecord;
  claims: JWTPayload & Record<string, unknown>;
}

/**
 * Verify an RS256 JWT against the public key of the application its `application_id` claim names.
 * Refuses any other algorithm (`none`, HS*, ES*, PS*), an unknown application, a signature by
 * another key, an expired token or one issued in the future (beyond the skew), and a lifetime
 * longer than allowed.
 *
 * @throws {ApplicationJwtError}
 */
export async function verifyApplicationJwt(token: string, lookup: ApplicationLookup, options: VerifyApplicationJwtOptions): Promise<VerifiedApplicationJwt> {
  let alg: unknown;
  let unverified: JWTPayload;
  try {
    alg = decodeProtectedHeader(token).alg;
    unverified = decodeJwt(token);
  } catch (cause) {
    throw new ApplicationJwtError('malformed', 'the token is not a JWT', { cause });
  }
  if (alg !== 'RS256') throw new ApplicationJwtError('algorithm', `JWT algorithm ${JSON.stringify(alg)} is not accepted for application credentials (RS256 only)`);
  const id = unverified['application_id'];
  if (typeof id !== 'string' || !UUID.test(id)) throw new ApplicationJwtError('claims', 'JWT claim "application_id" must be the application ID (a UUID)');
  const application = lookup(id.toLowerCase());
  if (!application) throw new ApplicationJwtError('unknown-application', `application ${id} does not exist`);

  const now = options.now ?? Math.floor(Date.now() / 1000);
  const skew = options.clockSkewSeconds ?? 30;
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, keyOf(application.publicKey), {
      algorithms: ['RS256'],
      clockTolerance: skew,
      currentDate: new Date(now * 1000),
      ...(options.requireExp ? { requiredClaims: ['exp'] } : {}),
    }));
  } catch (cause) {
    if (cause instanceof joseErrors.JWTExpired) throw new ApplicationJwtError('expired', 'the JWT exp claim is in the past', { cause });
    if (cause instanceof joseErrors.JWSSignatureVerificationFailed) throw new ApplicationJwtError('signature', `the JWT signature does not match the public key of application ${application.applicationId}`, { cause });
    if (cause instanceof joseErrors.JWTClaimValidationFailed) {
      const reason = cause.claim === 'nbf' ? 'not-yet-valid' : 'claims';
      throw new ApplicationJwtError(reason, `JWT claim "${cause.claim}": ${cause.reason === 'missing' ? 'missing' : cause.message}`, { cause });
    }
    throw new ApplicationJwtError('malformed', `the JWT cannot be verified (${(cause as Error).message})`, { cause });
  }
  const { iat, exp } = claims;
  if (iat !== undefined && iat > now + skew) throw new ApplicationJwtError('not-yet-valid', 'the JWT iat claim is in the future');
  if (exp !== undefined && exp - (iat ?? now) > options.maxLifetimeSeconds + skew) {
    throw new ApplicationJwtError('lifetime', `the JWT lifetime (exp - iat) exceeds ${options.maxLifetimeSeconds} seconds`);
  }
  return { application, claims: claims as JWTPayload & Record<string, unknown> };
}
