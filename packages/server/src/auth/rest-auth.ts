import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { LIMITS } from '@tokhost/protocol';
import { TokhostError } from '../errors.js';
import type { ProjectRecord } from '../storage/store.js';
import { ApplicationJwtError, verifyApplicationJwt } from './application-jwt.js';
import type { ApplicationLookup } from './application-jwt.js';

/** Options of {@link authenticateRest}. */
export interface RestAuthOptions {
  /** Finds a project by API key. */
  lookup: (apiKey: string) => ProjectRecord | undefined;
  /** Now, seconds since the epoch (default: the clock). */
  now?: number;
  /** Tolerated clock skew, seconds. Default 30. */
  clockSkewSeconds?: number;
  /**
   * Tokens already verified, to skip the HMAC and JSON parsing when a client sends the same JWT
   * again (opentok-node makes identical ones within a second). An entry is only used while the
   * project still has the secret it was verified with; time checks run every time.
   */
  cache?: Map<string, VerifiedJwt>;
  /** Finds an application by ID, for `Authorization: Bearer` (RS256) requests. Without it they are refused. */
  lookupApplication?: ApplicationLookup;
}

/** What {@link RestAuthOptions.cache} keeps per token. */
export interface VerifiedJwt {
  apiKey: string;
  secret: string;
  exp: number;
  iat: number | undefined;
}

const CACHE_MAX = 4096;

/** How the request proved its project. */
export interface RestIdentity {
  project: ProjectRecord;
  scheme: 'jwt' | 'partner-auth' | 'bearer';
  /** With `bearer`: the application whose key signed the JWT (the only ID its requests may name in the path). */
  applicationId?: string;
}

/** Longest lifetime (`exp - iat`) of a Bearer JWT: the Vonage SDKs sign for 5 (opentok-node) or 15 minutes (`@vonage/video`) by default and let apps choose longer. */
export const BEARER_MAX_LIFETIME_SECONDS = 24 * 3600;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN_LENGTH = 8192;

const deny = (code: 'ERR_AUTH_MISSING' | 'ERR_AUTH_INVALID' | 'ERR_AUTH_EXPIRED', message: string, description = message) => new TokhostError(code, message, { description });

function decodeJson(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new TokhostError('ERR_AUTH_INVALID', 'Invalid token format', { description: `The JWT ${what} is not base64url-encoded JSON`, cause });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw deny('ERR_AUTH_INVALID', 'Invalid token format');
  return value as Record<string, unknown>;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Verify an `X-OPENTOK-AUTH` project JWT (reference §1.3) as every official SDK writes it:
 * HS256 only (`alg: none` and every other algorithm are refused), `iss` as string or number,
 * `ist` in the payload, the header or absent (but `"project"` when present), no `jti` needed,
 * `exp` required and in the future, `iat` not in the future and `exp - iat` at most 300 s, each
 * with `clockSkewSeconds` of tolerance.
 */
export function verifyProjectJwt(token: string, options: RestAuthOptions): ProjectRecord {
  const cached = options.cache?.get(token);
  if (cached) {
    const project = options.lookup(cached.apiKey);
    if (project && project.apiSecret === cached.secret) {
      checkTimes(cached.exp, cached.iat, options);
      return project;
    }
    options.cache!.delete(token);
  }
  if (token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) throw deny('ERR_AUTH_INVALID', 'Invalid token format');
  const [h, p, s] = token.split('.') as [string, string, string];
  const header = decodeJson(h, 'header');
  if (header.alg !== 'HS256') throw new TokhostError('ERR_AUTH_INVALID', 'Invalid signature', { description: `Unsupported JWT algorithm ${JSON.stringify(header.alg)}: only HS256 is accepted` });
  if (header.ist !== undefined && header.ist !== 'project') throw deny('ERR_AUTH_INVALID', 'Invalid issuer type');
  const claims = decodeJson(p, 'payload');
  const iss = typeof claims.iss === 'number' && Number.isSafeInteger(claims.iss) ? String(claims.iss) : claims.iss;
  if (typeof iss !== 'string' || !/^[0-9A-Za-z-]{1,64}$/.test(iss)) throw deny('ERR_AUTH_INVALID', 'Invalid issuer format');
  const project = options.lookup(iss);
  if (!project) throw deny('ERR_AUTH_INVALID', 'Issuer not found');
  const expected = createHmac('sha256', project.apiSecret).update(`${h}.${p}`).digest('base64url');
  if (!safeEqual(expected, s)) throw deny('ERR_AUTH_INVALID', 'Invalid signature');
  if (claims.ist !== undefined && claims.ist !== 'project') throw deny('ERR_AUTH_INVALID', 'Invalid issuer type');

  const { exp, iat } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw deny('ERR_AUTH_INVALID', 'Invalid token', 'The JWT has no numeric exp claim');
  if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat))) throw deny('ERR_AUTH_INVALID', 'Invalid token', 'The JWT iat claim is not a number');
  checkTimes(exp, iat, options);
  if (options.cache) {
    if (options.cache.size >= CACHE_MAX) options.cache.clear();
    options.cache.set(token, { apiKey: project.apiKey, secret: project.apiSecret, exp, iat });
  }
  return project;
}

function checkTimes(exp: number, iat: number | undefined, options: RestAuthOptions): void {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const skew = options.clockSkewSeconds ?? 30;
  if (exp <= now - skew) throw deny('ERR_AUTH_EXPIRED', 'Token expired', 'The JWT exp claim is in the past');
  if (typeof iat === 'number' && iat > now + skew) throw deny('ERR_AUTH_EXPIRED', 'Token not yet valid', 'The JWT iat claim is in the future');
  const issuedAt = typeof iat === 'number' ? iat : now;
  if (exp - issuedAt > LIMITS.restJwtLifetimeSeconds + skew) {
    throw deny('ERR_AUTH_INVALID', 'Invalid token', `The JWT lifetime exceeds ${LIMITS.restJwtLifetimeSeconds} seconds`);
  }
}

/** The JWT of an `Authorization: Bearer …` header, or undefined when there is none. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const h = headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

/**
 * Verify `Authorization: Bearer <RS256 JWT>` as the Vonage SDKs send it (reference
 * vonage-video-api.md): signed by the private key of the application named in `application_id`;
 * both claim sets in use (`@vonage/video`: `jti, iat, exp, application_id`; opentok-node 2.23 in
 * Vonage mode: also `iss` = the application ID and `ist: "project"`). `exp` is required; `none`,
 * HS* and every other algorithm are refused (an HS256 JWT here would be signed with a secret
 * nobody should hold for an application).
 */
export async function verifyBearer(token: string, options: RestAuthOptions): Promise<RestIdentity> {
  if (token.length > MAX_TOKEN_LENGTH) throw deny('ERR_AUTH_INVALID', 'Invalid token format');
  if (!options.lookupApplication) throw deny('ERR_AUTH_INVALID', 'Invalid token', 'Bearer authentication is not available');
  let verified;
  try {
    verified = await verifyApplicationJwt(token, options.lookupApplication, {
      ...(options.now !== undefined ? { now: options.now } : {}),
      clockSkewSeconds: options.clockSkewSeconds ?? 30,
      maxLifetimeSeconds: BEARER_MAX_LIFETIME_SECONDS,
      requireExp: true,
    });
  } catch (err) {
    if (!(err instanceof ApplicationJwtError)) throw err;
    const code = err.reason === 'expired' || err.reason === 'not-yet-valid' ? 'ERR_AUTH_EXPIRED' : 'ERR_AUTH_INVALID';
    const message = { malformed: 'Invalid token format', algorithm: 'Invalid signature', 'unknown-application': 'Issuer not found', signature: 'Invalid signature', expired: 'Token expired', 'not-yet-valid': 'Token not yet valid', lifetime: 'Invalid token', claims: 'Invalid token' }[err.reason];
    throw new TokhostError(code, message, { description: err.message, cause: err });
  }
  const { application, claims } = verified;
  if (claims.iss !== undefined && String(claims.iss).toLowerCase() !== application.applicationId) throw deny('ERR_AUTH_INVALID', 'Invalid issuer', 'The JWT iss claim is not its application_id');
  if (claims['ist'] !== undefined && claims['ist'] !== 'project') throw deny('ERR_AUTH_INVALID', 'Invalid issuer type');
  const project = options.lookup(application.apiKey);
  if (!project) throw deny('ERR_AUTH_INVALID', 'Issuer not found', `The project of application ${application.applicationId} does not exist`);
  return { project, scheme: 'bearer', applicationId: application.applicationId };
}

/**
 * {@link authenticateRest} plus `Authorization: Bearer` (application credentials), which needs an
 * asynchronous signature check. `X-OPENTOK-AUTH` wins when a request carries both.
 */
export function authenticateRequest(headers: IncomingHttpHeaders, options: RestAuthOptions): RestIdentity | Promise<RestIdentity> {
  const bearer = headers['x-opentok-auth'] ? undefined : bearerToken(headers);
  return bearer === undefined ? authenticateRest(headers, options) : verifyBearer(bearer, options);
}

/**
 * Authenticate a REST request from its headers: `X-OPENTOK-AUTH` (JWT) or the legacy
 * `X-TB-PARTNER-AUTH: <apiKey>:<apiSecret>` (reference §1.4). Throws a `TokhostError` (`ERR_AUTH_*`, answered 403) with
 * OpenTok's messages.
 */
export function authenticateRest(headers: IncomingHttpHeaders, options: RestAuthOptions): RestIdentity {
  const jwt = headers['x-opentok-auth'];
  if (typeof jwt === 'string' && jwt !== '') return { project: verifyProjectJwt(jwt.trim(), options), scheme: 'jwt' };
  const legacy = headers['x-tb-partner-auth'];
  if (typeof legacy === 'string' && legacy !== '') {
    const i = legacy.indexOf(':');
    const key = i > 0 ? legacy.slice(0, i) : '';
    const project = /^[0-9A-Za-z-]{1,64}$/.test(key) ? options.lookup(key) : undefined;
    if (!project || !safeEqual(legacy.slice(i + 1), project.apiSecret)) throw deny('ERR_AUTH_INVALID', 'Invalid partner credentials');
    return { project, scheme: 'partner-auth' };
  }
  throw deny('ERR_AUTH_MISSING', 'No suitable authentication found');
}
