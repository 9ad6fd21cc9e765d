/**
 * SIP interconnect: dial out and play DTMF (reference §3.6).
 */
import { DTMF_PATTERN } from '@tokhost/protocol';
import type { DialSipJson, SipCallJson } from '@tokhost/protocol';
import { RequestError, SipError } from './errors.js';
import type { ErrorMapper, Transport } from './transport.js';
import { details } from './transport.js';
import { fail, optionalBoolean, optionalString, optionalStringArray, optionsObject, requireId } from './validate.js';

/**
 * Options of `dial`: the `sip` object of the REST body but its `uri` (dial's own argument).
 * `secure` is sent only when true, as opentok-node does.
 */
export type DialOptions = Omit<DialSipJson, 'uri'>;

/** The outgoing SIP call: its OpenTok connection and stream. */
export type SipCall = SipCallJson;

/**
 * A dialled SIP call, as `dial` resolves it: the server's answer (`id`, `connectionId`,
 * `streamId`). Named and constructed like opentok-node's `SipInterconnect`
 * (`new SipInterconnect(config, properties)`: the properties are copied onto it), so
 * `instanceof SipInterconnect` works unchanged.
 */
export class SipInterconnect {
  constructor(_config: unknown, properties: object = {}) {
    Object.assign(this, properties);
  }
}
// The server's fields, as declared members of the class (declaration merging).
export interface SipInterconnect extends SipCallJson {}

export function checkDialOptions(value: unknown): Record<string, unknown> {
  const o = optionsObject<DialOptions>('options', value);
  const sip: Record<string, unknown> = {};
  if (o.headers !== undefined) {
    const headers = optionsObject<Record<string, string>>('headers', o.headers);
    for (const [name, v] of Object.entries(headers)) {
      if (typeof v !== 'string') fail(`headers["${name}"] must be a string`);
    }
    sip['headers'] = { ...headers };
  }
  if (o.auth !== undefined) {
    const auth = optionsObject<{ username: string; password: string }>('auth', o.auth);
    const username = optionalString('auth.username', auth.username);
    const password = optionalString('auth.password', auth.password);
    if (!username) fail('auth.username is required');
    if (password === undefined) fail('auth.password is required');
    sip['auth'] = { username, password };
  }
  // Sent only when true, as opentok-node does: the REST default is plain RTP.
  if (optionalBoolean('secure', o.secure) === true) sip['secure'] = true;
  const from = optionalString('from', o.from);
  if (from) sip['from'] = from;
  const video = optionalBoolean('video', o.video);
  if (video !== undefined) sip['video'] = video;
  const observeForceMute = optionalBoolean('observeForceMute', o.observeForceMute);
  if (observeForceMute !== undefined) sip['observeForceMute'] = observeForceMute;
  const streams = optionalStringArray('streams', o.streams);
  if (streams !== undefined) sip['streams'] = streams;
  return sip;
}

const mapSip: ErrorMapper = (ctx) => {
  if (ctx.status === 400 || ctx.status === 404 || ctx.status === 409) {
    const base = ctx.status === 409 ? 'SIP calls need a routed session' : ctx.status === 404 ? 'Session not found' : 'Bad SIP request';
    return new SipError(ctx.serverMessage ? `${base}: ${ctx.serverMessage}` : base, details(ctx));
  }
  return undefined;
};

const mapDtmf: ErrorMapper = (ctx) => {
  if (ctx.status === 400) return new SipError(ctx.serverMessage ? `Invalid DTMF request: ${ctx.serverMessage}` : 'Invalid DTMF request', details(ctx));
  return undefined;
};

/** SIP operations of one project. */
export class SipService {
  readonly #transport: Transport;
  readonly #project: string;

  constructor(transport: Transport, apiKey: string) {
    this.#transport = transport;
    this.#project = `/v2/project/${encodeURIComponent(apiKey)}`;
  }

  async dial(sessionId: string, token: string, sipUri: string, options?: DialOptions): Promise<SipCall> {
    requireId('sessionId', sessionId, 'No session ID given');
    requireId('token', token, 'No token given');
    requireId('sipUri', sipUri, 'No SIP URI given');
    const sip = { uri: sipUri, ...checkDialOptions(options) };
    const res = await this.#transport.request({ method: 'POST', path: `${this.#project}/dial`, json: { sessionId, token, sip } }, mapSip);
    if (res.body === null || typeof res.body !== 'object' || Array.isArray(res.body)) {
      throw new RequestError('Unexpected response from OpenTok: the SIP call is not a JSON object', { status: res.status, body: res.body });
    }
    return new SipInterconnect(undefined, res.body);
  }

  async playDTMF(sessionId: string, digits: string, connectionId?: string | null): Promise<void> {
    requireId('sessionId', sessionId);
    if (typeof digits !== 'string' || !DTMF_PATTERN.test(digits)) fail('digits must be a non-empty string of 0-9, *, # and p');
    let path = `${this.#project}/session/${encodeURIComponent(sessionId)}`;
    if (connectionId !== undefined && connectionId !== null && connectionId !== '') {
      path += `/connection/${encodeURIComponent(requireId('connectionId', connectionId))}`;
    }
    await this.#transport.request({ method: 'POST', path: path + '/play-dtmf', json: { digits } }, mapDtmf);
  }
}
