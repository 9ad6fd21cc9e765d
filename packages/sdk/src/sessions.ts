/**
 * `POST /session/create` (reference §3.1).
 */
import { isIPv4 } from 'node:net';
import { ARCHIVE_MODES, LIMITS, MEDIA_MODES, RESOLUTIONS } from '@tokhost/protocol';
import type { ArchiveMode, MediaMode, Resolution, SessionCreateItem } from '@tokhost/protocol';
import { RequestError } from './errors.js';
import type { TokenOptions } from './tokens.js';
import type { Transport } from './transport.js';
import { fail, optionalBoolean, optionalOneOf, optionalString, optionsObject } from './validate.js';

/** Options of `OpenTok#createSession`. Unknown keys are ignored. */
export interface SessionOptions {
  /** `"relayed"` (default, peer to peer) or `"routed"` (through the media router; needed for archives). Any other value is `"relayed"`, as in opentok-node. */
  mediaMode?: MediaMode;
  /** `"manual"` (default) or `"always"` (archive automatically; requires `routed`). Any other value is `"manual"`, as in opentok-node. */
  archiveMode?: ArchiveMode;
  /** IPv4 address used as a location hint. */
  location?: string;
  /** End-to-end encryption; not with `relayed`, not with `archiveMode: "always"`. */
  e2ee?: boolean;
  /** Name of automatic archives (≤ 80 characters); only with `archiveMode: "always"`. */
  archiveName?: string;
  /** Resolution of automatic archives; only with `archiveMode: "always"`. */
  archiveResolution?: Resolution;
}

/** Generates client tokens: what a {@link Session} needs of its `OpenTok`. */
export interface TokenMinter {
  generateToken(sessionId: string, options?: TokenOptions): string;
}

/**
 * A session, as `createSession` resolves it. Constructed like opentok-node's `Session`
 * (`new Session(opentok, sessionId, properties)`: the properties are copied onto it), so code
 * that builds one for a known session ID, or tests `instanceof Session`, works unchanged.
 */
export class Session {
  readonly sessionId: string;
  /** Set by `createSession`; a hand-made Session has the properties it was given. */
  declare readonly mediaMode: MediaMode;
  declare readonly archiveMode: ArchiveMode;
  declare readonly location: string | undefined;
  declare readonly e2ee: boolean;
  declare readonly archiveName?: string;
  declare readonly archiveResolution?: Resolution;
  readonly #ot: TokenMinter;

  constructor(ot: TokenMinter, sessionId: string, properties: object = {}) {
    this.#ot = ot;
    this.sessionId = sessionId;
    for (const [key, value] of Object.entries(properties)) if (key !== 'sessionId') (this as Record<string, unknown>)[key] = value;
  }

  /** Generate a client token for this session (same as `OpenTok#generateToken(sessionId, options)`). */
  generateToken(options?: TokenOptions): string {
    return this.#ot.generateToken(this.sessionId, options);
  }
}

interface CheckedSessionOptions {
  mediaMode: MediaMode;
  archiveMode: ArchiveMode;
  location: string | undefined;
  e2ee: boolean | undefined;
  archiveName: string | undefined;
  archiveResolution: Resolution | undefined;
}

export function checkSessionOptions(value: unknown): CheckedSessionOptions {
  const o = optionsObject<SessionOptions>('options', value);
  // As opentok-node: a mode it does not know is the default mode (docs/compat.md), not an error.
  const mediaMode = (MEDIA_MODES as readonly unknown[]).includes(o.mediaMode) ? (o.mediaMode as MediaMode) : 'relayed';
  const archiveMode = (ARCHIVE_MODES as readonly unknown[]).includes(o.archiveMode) ? (o.archiveMode as ArchiveMode) : 'manual';
  const location = optionalString('location', o.location);
  if (location !== undefined && !isIPv4(location)) fail('location must be an IPv4 address');
  const e2ee = optionalBoolean('e2ee', o.e2ee);
  const archiveName = optionalString('archiveName', o.archiveName, LIMITS.archiveNameMax);
  const archiveResolution = optionalOneOf('archiveResolution', o.archiveResolution, RESOLUTIONS);
  if (archiveMode === 'always' && mediaMode !== 'routed') fail('archiveMode "always" requires mediaMode "routed"');
  if (archiveName !== undefined && archiveMode !== 'always') fail('archiveName is only allowed with archiveMode "always"');
  if (archiveResolution !== undefined && archiveMode !== 'always') fail('archiveResolution is only allowed with archiveMode "always"');
  if (e2ee === true && mediaMode !== 'routed') fail('e2ee requires mediaMode "routed"');
  if (e2ee === true && archiveMode === 'always') fail('e2ee is not allowed with archiveMode "always"');
  return { mediaMode, archiveMode, location, e2ee, archiveName, archiveResolution };
}

/** Creates sessions. */
export class SessionService {
  readonly #transport: Transport;
  readonly #generateToken: (sessionId: string, options?: TokenOptions) => string;

  constructor(transport: Transport, generateToken: (sessionId: string, options?: TokenOptions) => string) {
    this.#transport = transport;
    this.#generateToken = generateToken;
  }

  async create(options?: SessionOptions): Promise<Session> {
    const o = checkSessionOptions(options);
    const form: Array<[string, string]> = [];
    if (o.location !== undefined) form.push(['location', o.location]);
    form.push(['archiveMode', o.archiveMode]);
    if (o.e2ee !== undefined) form.push(['e2ee', String(o.e2ee)]);
    if (o.archiveName !== undefined) form.push(['archiveName', o.archiveName]);
    if (o.archiveResolution !== undefined) form.push(['archiveResolution', o.archiveResolution]);
    form.push(['p2p.preference', o.mediaMode === 'routed' ? 'disabled' : 'enabled']);

    const res = await this.#transport.request({ method: 'POST', path: '/session/create', form });
    const sessionId = sessionIdFrom(res.body, res.text);
    if (!sessionId) throw new RequestError('Unexpected response from OpenTok: no session_id in the session/create response', { status: res.status, body: res.body });
    return new Session({ generateToken: this.#generateToken }, sessionId, {
      mediaMode: o.mediaMode,
      archiveMode: o.archiveMode,
      location: o.location,
      e2ee: o.e2ee ?? false,
      ...(o.archiveName === undefined ? {} : { archiveName: o.archiveName }),
      ...(o.archiveResolution === undefined ? {} : { archiveResolution: o.archiveResolution }),
    });
  }
}

/** JSON array (`[{session_id}]`) normally; the XML form for servers that ignore `Accept`. */
function sessionIdFrom(body: unknown, text: string): string | undefined {
  if (Array.isArray(body)) {
    const first = body[0] as Partial<SessionCreateItem> | undefined;
    if (first && typeof first.session_id === 'string') return first.session_id;
  } else if (body && typeof body === 'object' && typeof (body as Partial<SessionCreateItem>).session_id === 'string') {
    return (body as SessionCreateItem).session_id;
  }
  const xml = /<session_id>([^<]+)<\/session_id>/.exec(text);
  return xml?.[1];
}
