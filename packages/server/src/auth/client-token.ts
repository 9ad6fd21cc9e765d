import { createHmac, timingSafeEqual } from 'node:crypto';
import { base64Decode, decodeSessionId, LIMITS, ROLES } from '@tokhost/protocol';
import type { Role, RtErrorCode, VerifiedToken } from '@tokhost/protocol';
import { TokhostError } from '../errors.js';
import { ApplicationJwtError, isRs256Jwt, verifyApplicationJwt } from './application-jwt.js';
import type { ApplicationJwtFailure, ApplicationLookup } from './application-jwt.js';

/** Error codes of client-token verification (a subset of the realtime codes). */
export type ClientTokenErrorCode = Extract<
  RtErrorCode,
  | 'ERR_RT_TOKEN_MALFORMED'
  | 'ERR_RT_TOKEN_SIGNATURE'
  | 'ERR_RT_TOKEN_EXPIRED'
  | 'ERR_RT_TOKEN_NOT_YET_VALID'
  | 'ERR_RT_TOKEN_LIFETIME'
  | 'ERR_RT_TOKEN_PROJECT'
  | 'ERR_RT_TOKEN_SESSION'
  | 'ERR_RT_TOKEN_ROLE'
  | 'ERR_RT_TOKEN_SCOPE'
>;

/** A client token was refused. `code` says why; `message` names the offending field. */
export class ClientTokenError extends TokhostError<ClientTokenErrorCode> {
  override readonly name = 'ClientTokenError';
}

/** Finds the secret of a project; `undefined` when the key is unknown. */
export type ProjectLookup = (apiKey: string) => { apiSecret: string } | undefined;

/** Options of {@link verifyClientToken}. */
export interface VerifyClientTokenOptions {
  /** Now, seconds since the epoch. Default: the clock. */
  now?: number;
  /**
   * How far a token's creation (`iat`, `nbf`, `create_time`) may lie in the future, seconds: the
   * clocks of the app server that minted it and of this server may differ. Default 30 (config
   * `authClockSkewSeconds`). Expiry is checked without tolerance.
   */
  clockSkewSeconds?: number;
  /**
   * Finds a Vonage-style application (docs/applications.md): a session ID may name one of the
   * project's applications in place of its API key, and {@link verifyAnyClientToken} verifies
   * RS256 tokens with an application's public key. Without it neither is accepted.
   */
  lookupApplication?: ApplicationLookup;
}

/**
 * Verify a client token of either format — JWT (reference §5.3: node, Java, Python, Ruby claim
 * orders) or legacy T1 (§5.2: every SDK's field order, both base64 alphabets, `+` and `%20`
 * spaces) — against the secret of the project it names.
 *
 * Checks: signature with the project's secret; the lifetime rules of OpenTok (docs/security.md):
 * the token carries its creation time (JWT `iat` or `create_time`, T1 `create_time`), no
 * creation or `nbf` time lies further in the future than the clock skew, the expiry (`exp` /
 * `expire_time`; creation + 24 h when the token carries none, as Ruby and PHP tokens may) is in
 * the future and at most 30 days after the creation; that the session ID belongs to the token's
 * API key, the role and (JWT) the scope. Whether the token is for the session the client asks to
 * join is the caller's check (compare `sessionId`).
 *
 * @throws {ClientTokenError}
 * @example
 * const t = verifyClientToken(token, (key) => store.getProject(key), { clockSkewSeconds: config.authClockSkewSeconds });
 * if (t.sessionId !== requestedSessionId) throw …;
 */
export function verifyClientToken(token: string, lookupProject: ProjectLookup, options: VerifyClientTokenOptions = {}): VerifiedToken {
  if (typeof token !== 'string' || token.length === 0) throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', 'token is missing');
  if (token.length > 16_384) throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', 'token is too long');
  const now = options.now ?? Date.now() / 1000;
  const skew = options.clockSkewSeconds ?? 30;
  // A token may name an application ID where it would name the API key (`iss`, T1 `partner_id`):
  // it is then signed with the secret of the application's project.
  let viaApplication: { applicationId: string; apiKey: string } | undefined;
  const lookup: ProjectLookup = (key) => {
    const project = lookupProject(key);
    if (project || !options.lookupApplication || key.length !== 36) return project;
    const app = options.lookupApplication(key.toLowerCase());
    if (!app) return undefined;
    viaApplication = app;
    return lookupProject(app.apiKey);
  };
  let verified = token.startsWith('T1==') ? verifyT1(token, lookup, now, skew) : verifyJwt(token, lookup, now, skew);
  if (viaApplication) verified = { ...verified, apiKey: viaApplication.apiKey, applicationId: viaApplication.applicationId };
  const parts = decodeSessionId(verified.sessionId);
  if (!parts) throw new ClientTokenError('ERR_RT_TOKEN_SESSION', 'token session_id is not a valid session ID');
  if (!ownsSessionKey(verified, parts.apiKey, options.lookupApplication)) throw new ClientTokenError('ERR_RT_TOKEN_SESSION', 'token session_id does not belong to the token\'s API key');
  return verified;
}

/** The key a session ID names is the token's project key, its application's ID, or another application of that project. */
function ownsSessionKey(token: VerifiedToken, idKey: string, lookupApplication: ApplicationLookup | undefined): boolean {
  if (idKey === token.apiKey) return true;
  const lower = idKey.toLowerCase();
  if (token.applicationId !== undefined && lower === token.applicationId) return true;
  return lookupApplication !== undefined && lower.length === 36 && lookupApplication(lower)?.apiKey === token.apiKey;
}

const APPLICATION_FAILURES: Record<ApplicationJwtFailure, ClientTokenErrorCode> = {
  malformed: 'ERR_RT_TOKEN_MALFORMED',
  algorithm: 'ERR_RT_TOKEN_MALFORMED',
  claims: 'ERR_RT_TOKEN_MALFORMED',
  'unknown-application': 'ERR_RT_TOKEN_PROJECT',
  signature: 'ERR_RT_TOKEN_SIGNATURE',
  expired: 'ERR_RT_TOKEN_EXPIRED',
  'not-yet-valid': 'ERR_RT_TOKEN_NOT_YET_VALID',
  lifetime: 'ERR_RT_TOKEN_LIFETIME',
};

/**
 * {@link verifyClientToken} plus client tokens signed RS256 by a Vonage-style application
 * (`@vonage/video` `generateClientToken`, opentok-node 2.23 in Vonage mode): verified with the
 * public key of the application named by `application_id`; `scope`, `session_id` (of that
 * application's project), `role`, `exp` (default `iat` + 24 h, at most 30 days),
 * `connection_data` and `initial_layout_class_list` as in HS256 tokens; `sub` and `acl` are
 * ignored. Asynchronous because the RSA check is (jose); HS256 and T1 tokens take the
 * synchronous path unchanged.
 *
 * @throws {ClientTokenError}
 */
export async function verifyAnyClientToken(token: string, lookupProject: ProjectLookup, options: VerifyClientTokenOptions = {}): Promise<VerifiedToken> {
  if (!isRs256Jwt(token)) return verifyClientToken(token, lookupProject, options);
  if (token.length > 16_384) throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', 'token is too long');
  if (!options.lookupApplication) throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', 'token alg "RS256" is not supported here (HS256 only)');
  const now = options.now ?? Date.now() / 1000;
  const skew = options.clockSkewSeconds ?? 30;
  let claims: Record<string, unknown>;
  let applicationId: string;
  let apiKey: string;
  try {
    const verified = await verifyApplicationJwt(token, options.lookupApplication, { now: Math.floor(now), clockSkewSeconds: skew, maxLifetimeSeconds: LIMITS.tokenMaxLifetimeSeconds, requireExp: false });
    claims = verified.claims;
    applicationId = verified.application.applicationId;
    apiKey = verified.application.apiKey;
  } catch (err) {
    if (err instanceof ApplicationJwtError) throw new ClientTokenError(APPLICATION_FAILURES[err.reason], `token: ${err.message}`, { cause: err });
    throw err;
  }
  if (!lookupProject(apiKey)) throw new ClientTokenError('ERR_RT_TOKEN_PROJECT', `the project of application ${applicationId} does not exist`);
  const sessionId = jwtSessionId(claims);
  const lifetime = checkLifetime([['iat', claims['iat']]], [['nbf', claims['nbf']]], [['exp', claims['exp']]], now, skew);
  const result: VerifiedToken = { format: 'jwt', apiKey, applicationId, sessionId, ...jwtGrant(claims, lifetime) };
  const parts = decodeSessionId(sessionId);
  if (!parts) throw new ClientTokenError('ERR_RT_TOKEN_SESSION', 'token session_id is not a valid session ID');
  if (!ownsSessionKey(result, parts.apiKey, options.lookupApplication)) throw new ClientTokenError('ERR_RT_TOKEN_SESSION', `token session_id does not belong to application ${applicationId}'s project`);
  return result;
}

/**
 * The PHP SDK (4.x) writes `initial_layout_class_list` into its JWT tokens URL-encoded
 * (`urlencode("focus inactive")` = `focus+inactive`). A class list holds no `+` or `%` of its own
 * (CSS class names would need escapes), so a value without spaces that has either is
 * form-decoded; every other value is taken as it is.
 */
function formDecodedClassList(value: unknown): unknown {
  if (typeof value !== 'string' || /\s/.test(value) || !/[+%]/.test(value)) return value;
  return formDecode(value);
}

/** A time claim of a token: its name as the token spells it and its value, when present. */
type TimeClaim = readonly [name: string, value: unknown];

/**
 * OpenTok's lifetime rules on the time claims of a signed token; returns `{ createdAt, expiresAt }`.
 * A claim present with a non-numeric value is malformed (never silently ignored).
 */
function checkLifetime(created: readonly TimeClaim[], notBefore: readonly TimeClaim[], expiry: readonly TimeClaim[], now: number, skew: number): { createdAt: number; expiresAt: number } {
  const read = (claims: readonly TimeClaim[]) =>
    claims
      .filter(([, v]) => v !== undefined)
      .map(([name, v]) => {
        const n = timeValue(v);
        if (n === undefined) throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', `token claim "${name}" must be a time in seconds since the epoch`);
        return [name, n] as const;
      });
  const creations = read(created);
  if (creations.length === 0) {
    throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', `token carries no creation time (${created.map(([n]) => `"${n}"`).join(' or ')})`);
  }
  for (const [name, t] of [...creations, ...read(notBefore)]) {
    if (t > now + skew) throw new ClientTokenError('ERR_RT_TOKEN_NOT_YET_VALID', `token claim "${name}" (${iso(t)}) is in the future`);
  }
  const createdAt = Math.min(...creations.map(([, t]) => t));
  const expiries = read(expiry);
  const expiresAt = expiries.length > 0 ? Math.min(...expiries.map(([, t]) => t)) : createdAt + LIMITS.tokenDefaultLifetimeSeconds;
  for (const [name, t] of expiries) {
    if (t - createdAt > LIMITS.tokenMaxLifetimeSeconds) {
      throw new ClientTokenError('ERR_RT_TOKEN_LIFETIME', `token claim "${name}" (${iso(t)}) is more than 30 days after the token's creation (${iso(createdAt)})`);
    }
  }
  if (expiresAt <= now) throw new ClientTokenError('ERR_RT_TOKEN_EXPIRED', `token expired at ${iso(expiresAt)}`);
  return { createdAt, expiresAt };
}

function iso(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString();
}

/** A number, or a numeric string (T1 fields are text), floored to whole seconds. */
function timeValue(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : undefined;
}

function verifyJwt(token: string, lookupProject: ProjectLookup, now: number, skew: number): VerifiedToken {
  const segments = token.split('.');
  if (segments.length !== 3) throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', 'token is neither a JWT nor a T1 token');
  const [h, p, s] = segments as [string, string, string];
  const header = parseJsonSegment(h, 'header');
  const claims = parseJsonSegment(p, 'payload');
  if (header['alg'] !== 'HS256') throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', `token alg "${String(header['alg'])}" is not supported (HS256 only)`);
  const iss = claims['iss'];
  if ((typeof iss !== 'string' && typeof iss !== 'number') || String(iss) === '') throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', 'token claim "iss" (API key) is missing');
  const apiKey = String(iss);
  const project = lookupProject(apiKey);
  if (!project) throw new ClientTokenError('ERR_RT_TOKEN_PROJECT', `token API key ${apiKey} is not a project of this server`);
  const expected = createHmac('sha256', project.apiSecret).update(`${h}.${p}`).digest();
  const given = decode64(s);
  if (!given || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ClientTokenError('ERR_RT_TOKEN_SIGNATURE', 'token signature does not match the project secret');
  }
  const sessionId = jwtSessionId(claims);
  const lifetime = checkLifetime(
    [['iat', claims['iat']], ['create_time', claims['create_time']]],
    [['nbf', claims['nbf']]],
    [['exp', claims['exp']], ['expire_time', claims['expire_time']]],
    now,
    skew,
  );
  return { format: 'jwt', apiKey, sessionId, ...jwtGrant(claims, lifetime) };
}

/** The session a JWT client token is for, checked alike for both signers (project HS256, application RS256). */
function jwtSessionId(claims: Record<string, unknown>): string {
  if (claims['scope'] !== 'session.connect') throw new ClientTokenError('ERR_RT_TOKEN_SCOPE', 'token claim "scope" must be "session.connect"');
  const sessionId = claims['session_id'];
  if (typeof sessionId !== 'string' || sessionId === '') throw new ClientTokenError('ERR_RT_TOKEN_SESSION', 'token claim "session_id" is missing');
  return sessionId;
}

/** What a JWT client token grants, read once its signature, session and lifetime hold. */
function jwtGrant(
  claims: Record<string, unknown>,
  lifetime: { createdAt: number; expiresAt: number },
): Pick<VerifiedToken, 'role' | 'createdAt' | 'expiresAt' | 'connectionData' | 'initialLayoutClassList'> {
  return {
    role: parseRole(claims['role']),
    ...lifetime,
    connectionData: parseData(claims['connection_data']),
    initialLayoutClassList: parseClassList(formDecodedClassList(claims['initial_layout_class_list'])),
  };
}

function verifyT1(token: string, lookupProject: ProjectLookup, now: number, skew: number): VerifiedToken {
  const bytes = decode64(token.slice(4));
  if (!bytes) throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', 'T1 token is not valid base64');
  const text = bytes.toString('latin1');
  const colon = text.indexOf(':');
  if (colon < 0) throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', 'T1 token has no ":" between its signature part and its data');
  const meta = parseForm(text.slice(0, colon));
  const dataString = text.slice(colon + 1);
  const apiKey = meta.get('partner_id');
  const sig = meta.get('sig');
  if (!apiKey) throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', 'T1 token field "partner_id" is missing');
  if (!sig || !/^[0-9a-fA-F]{40}$/.test(sig)) throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', 'T1 token field "sig" is missing or not a hex HMAC-SHA1');
  const project = lookupProject(apiKey);
  if (!project) throw new ClientTokenError('ERR_RT_TOKEN_PROJECT', `token API key ${apiKey} is not a project of this server`);
  const expected = createHmac('sha1', project.apiSecret).update(Buffer.from(dataString, 'latin1')).digest();
  if (!timingSafeEqual(Buffer.from(sig.toLowerCase(), 'hex'), expected)) {
    throw new ClientTokenError('ERR_RT_TOKEN_SIGNATURE', 'token signature does not match the project secret');
  }
  // Decoded only after the signature check, as UTF-8 (connection data may hold any text).
  const data = parseForm(Buffer.from(dataString, 'latin1').toString('utf8'));
  const sessionId = data.get('session_id');
  if (!sessionId) throw new ClientTokenError('ERR_RT_TOKEN_SESSION', 'T1 token field "session_id" is missing');
  const scope = data.get('scope');
  if (scope !== undefined && scope !== 'session.connect') throw new ClientTokenError('ERR_RT_TOKEN_SCOPE', 'token field "scope" must be "session.connect"');
  const { createdAt, expiresAt } = checkLifetime([['create_time', data.get('create_time')]], [], [['expire_time', data.get('expire_time')]], now, skew);
  return {
    format: 't1',
    apiKey,
    sessionId,
    role: parseRole(data.get('role')),
    createdAt,
    expiresAt,
    connectionData: parseData(data.get('connection_data')),
    initialLayoutClassList: parseClassList(data.get('initial_layout_class_list')),
  };
}

function parseJsonSegment(segment: string, what: string): Record<string, unknown> {
  const bytes = decode64(segment);
  if (!bytes) throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', `token ${what} is not base64url`);
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (cause) {
    throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', `token ${what} is not JSON`, { cause });
  }
  throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', `token ${what} is not a JSON object`);
}

/** Form decoding where `+` and `%20` both mean space; malformed escapes are kept verbatim (Java writes raw values). */
function parseForm(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    const v = eq < 0 ? '' : pair.slice(eq + 1);
    out.set(formDecode(k), formDecode(v));
  }
  return out;
}

function formDecode(s: string): string {
  const spaced = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

function parseRole(value: unknown): Role {
  if (value === undefined || value === null || value === '') return 'publisher';
  if (typeof value === 'string' && (ROLES as readonly string[]).includes(value)) return value as Role;
  throw new ClientTokenError('ERR_RT_TOKEN_ROLE', `token role "${String(value)}" is not one of ${ROLES.join(', ')}`);
}

function parseData(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', 'token connection_data must be a string');
  // opentok-node allows 1024 characters where the docs say 1000: accept what the SDKs generate.
  if (value.length > 1024) throw new ClientTokenError('ERR_RT_TOKEN_MALFORMED', 'token connection_data is longer than 1024 characters');
  return value;
}

function parseClassList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  if (typeof value !== 'string') return [];
  return value.split(/\s+/).filter((c) => c !== '');
}

/** `base64Decode` of the protocol (strict, either alphabet; native on Node) as a Buffer view. */
function decode64(text: string): Buffer | null {
  const bytes = base64Decode(text);
  return bytes && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
