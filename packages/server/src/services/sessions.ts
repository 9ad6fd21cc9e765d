import { randomBytes } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { decodeSessionId, LIMITS, RESOLUTIONS } from '@tokhost/protocol';
import { isApplicationId } from './applications.js';
import type { ArchiveMode, MediaMode, Resolution, SessionCreateItem } from '@tokhost/protocol';
import { invalid, TokhostError } from '../errors.js';
import type { SessionRecord, Store } from '../storage/store.js';

/** The validated options of `POST /session/create` (reference §3.1): what a session stores of them. */
export type SessionOptions = Omit<SessionRecord, 'sessionId' | 'apiKey' | 'createdAt'>;

/**
 * Validate the form fields of `POST /session/create`. Unknown fields are ignored (opentok-node
 * passes any caller option through). Bad values and bad combinations are 400s naming the field.
 */
export function parseSessionOptions(fields: Map<string, string>, apiKey: string): SessionOptions {
  const p2p = fields.get('p2p.preference');
  if (p2p !== undefined && p2p !== 'enabled' && p2p !== 'disabled') throw invalid('p2p.preference', 'must be enabled or disabled');
  // The REST default is routed ("disabled"); every current SDK sends the field anyway.
  const mediaMode: MediaMode = p2p === 'enabled' ? 'relayed' : 'routed';

  const am = fields.get('archiveMode');
  if (am !== undefined && am !== 'manual' && am !== 'always') throw invalid('archiveMode', 'must be manual or always');
  const archiveMode: ArchiveMode = am ?? 'manual';
  if (archiveMode === 'always' && mediaMode === 'relayed') throw invalid('archiveMode', 'always requires a routed session (p2p.preference=disabled)');

  // `@vonage/video` posts a literal `location=null` when the app gave none.
  const given = fields.get('location');
  const location = given === 'null' ? undefined : given;
  if (location !== undefined && location !== '' && !isIPv4(location)) throw invalid('location', 'must be an IPv4 address');

  const e2eeRaw = fields.get('e2ee');
  if (e2eeRaw !== undefined && !/^(true|false)$/i.test(e2eeRaw)) throw invalid('e2ee', 'must be true or false');
  const e2ee = e2eeRaw?.toLowerCase() === 'true';
  if (e2ee && mediaMode === 'relayed') throw invalid('e2ee', 'end-to-end encryption requires a routed session');
  if (e2ee && archiveMode === 'always') throw invalid('e2ee', 'end-to-end encryption cannot be combined with archiveMode=always');

  const archiveName = fields.get('archiveName');
  if (archiveName !== undefined) {
    if (archiveMode !== 'always') throw invalid('archiveName', 'is only allowed with archiveMode=always');
    if (archiveName.length > LIMITS.archiveNameMax) throw invalid('archiveName', `must be at most ${LIMITS.archiveNameMax} characters`);
  }
  const archiveResolution = fields.get('archiveResolution');
  if (archiveResolution !== undefined) {
    if (!RESOLUTIONS.includes(archiveResolution as Resolution)) throw invalid('archiveResolution', `must be one of ${RESOLUTIONS.join(', ')}`);
    if (archiveMode !== 'always') throw invalid('archiveResolution', 'is only allowed with archiveMode=always');
  }
  const formKey = fields.get('api_key');
  if (formKey !== undefined && formKey !== apiKey) throw invalid('api_key', 'does not match the authenticated project');

  return {
    mediaMode,
    archiveMode,
    archiveName: archiveName ?? null,
    archiveResolution: (archiveResolution as Resolution | undefined) ?? null,
    location: location || null,
    e2ee,
  };
}

// One getrandom call per 256 sessions instead of one per session (it shows in profiles).
const RANDOM_BYTES = 18;
let pool = Buffer.alloc(0);
let poolOffset = 0;
function sessionRandom(): string {
  if (poolOffset + RANDOM_BYTES > pool.length) {
    pool = randomBytes(RANDOM_BYTES * 256);
    poolOffset = 0;
  }
  const out = pool.toString('base64', poolOffset, poolOffset + RANDOM_BYTES);
  poolOffset += RANDOM_BYTES;
  return out;
}

/**
 * `encodeSessionId` with Node's native base64url: the same string (a test pins that), without
 * the isomorphic codec's per-character JavaScript, which showed in the session-create profile.
 */
export function sessionIdOf(apiKey: string, location: string, createdAt: number, random: string, flag: string): string {
  return '1_' + Buffer.from(`1~${apiKey}~${location}~${createdAt}~${random}~${flag}~`, 'utf8').toString('base64url');
}

/**
 * Create and persist a session. The ID is `1_` + base64url(`1~key~location~ms~random~flag~`)
 * (reference §5.1), which the node, Java, Python, Ruby and PHP SDKs all accept; the flag is
 * `P` for relayed sessions.
 */
export function createSession(store: Store, apiKey: string, options: SessionOptions, now = Date.now()): SessionRecord {
  const record: SessionRecord = {
    sessionId: sessionIdOf(apiKey, options.location ?? '', now, sessionRandom(), options.mediaMode === 'relayed' ? 'P' : ''),
    apiKey,
    ...options,
    createdAt: now,
  };
  store.createSession(record);
  return record;
}

/**
 * The session named in a request, when it exists and belongs to the authenticated project.
 * Undecodable IDs are 400; another project's or an unknown session is 404 (no hint that the
 * session exists elsewhere).
 */
export function requireSession(store: Store, apiKey: string, sessionId: unknown, field = 'sessionId'): SessionRecord {
  if (typeof sessionId !== 'string' || sessionId === '') throw invalid(field, 'is required');
  const parts = decodeSessionId(sessionId);
  if (!parts) throw invalid(field, 'is not a valid session ID');
  // The ID names the project's key, or (docs/applications.md) one of its applications; the
  // stored record decides which project owns it.
  const session = parts.apiKey === apiKey || isApplicationId(parts.apiKey) ? store.getSession(sessionId) : undefined;
  if (!session || session.apiKey !== apiKey) throw new TokhostError('ERR_SESSION_NOT_FOUND', 'Session not found', { description: `Session ${sessionId} does not exist in project ${apiKey}` });
  return session;
}

/**
 * Refuse a server-side media feature (archive, broadcast, SIP dial: anything that would have to
 * decode the media) for an end-to-end encrypted session: the router only holds ciphertext, so
 * the answer is a 409 (OpenTok refuses these for `e2ee` sessions too).
 */
export function requireNotE2ee(session: SessionRecord, what: string): void {
  if (session.e2ee) throw new TokhostError('ERR_SESSION_E2EE', `${what} is not available for end-to-end encrypted sessions`, { description: `Session ${session.sessionId} is end-to-end encrypted (e2ee): the server cannot decode its media, so ${what} is refused` });
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Java `Date.toString()` style in UTC, as OpenTok's `create_dt`: `Fri Feb 14 13:14:54 UTC 2025`. */
export function formatCreateDt(ms: number): string {
  // Sessions created in the same second share the string (one per request under load otherwise).
  const second = Math.floor(ms / 1000);
  if (second === lastDtSecond) return lastDt;
  lastDt = formatDt(ms);
  lastDtSecond = second;
  return lastDt;
}
let lastDtSecond = NaN;
let lastDt = '';

function formatDt(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

/** The JSON array element of the create response. */
export function sessionCreateItem(s: SessionRecord): SessionCreateItem {
  return {
    session_id: s.sessionId,
    project_id: s.apiKey,
    partner_id: s.apiKey,
    create_dt: formatCreateDt(s.createdAt),
    session_status: null,
    status_invalid: null,
    media_server_hostname: null,
    messaging_server_url: null,
    messaging_url: null,
    symphony_address: null,
    properties: null,
    ice_server: null,
    session_segment_id: null,
    ice_servers: null,
    ice_credential_expiration: null,
    media_server_url: '',
  };
}

const xmlEscape = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

/** The XML document Ruby/PHP clients get (reference §3.1). */
export function sessionCreateXml(s: SessionRecord): string {
  return (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sessions><Session>' +
    `<session_id>${xmlEscape(s.sessionId)}</session_id><partner_id>${xmlEscape(s.apiKey)}</partner_id><create_dt>${xmlEscape(formatCreateDt(s.createdAt))}</create_dt>` +
    '</Session></sessions>'
  );
}

/** The XML error body for clients that do not accept JSON. */
export function errorXml(code: number, message: string, description: string): string {
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><errorPayload><code>${code}</code><message>${xmlEscape(message)}</message><description>${xmlEscape(description)}</description></errorPayload>`;
}
