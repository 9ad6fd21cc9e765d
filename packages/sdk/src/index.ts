/**
 * `@tokhost/sdk`: the OpenTok server API for Tokhost servers and the OpenTok cloud.
 *
 * @example
 * import OpenTok from '@tokhost/sdk';            // or: const OpenTok = require('@tokhost/sdk');
 * const ot = new OpenTok(apiKey, apiSecret, { apiUrl: 'http://127.0.0.1:3000' });
 */
import { OpenTok as OpenTokClass } from './opentok.js';

/** The `OpenTok` constructor: `new OpenTok(…)`, or `OpenTok(…)` without `new` as opentok-node allows. */
export type OpenTokConstructor = typeof OpenTokClass & ((...args: ConstructorParameters<typeof OpenTokClass>) => OpenTokClass);

/**
 * Client of the OpenTok server REST API (see the class documentation in `opentok.ts`).
 * A class cannot be called without `new`; this proxy turns such a call into a construction and
 * leaves everything else (`instanceof`, statics, `extends`, `name`) to the class itself.
 */
export const OpenTok = new Proxy(OpenTokClass, {
  apply: (target, _thisArg, args: ConstructorParameters<typeof OpenTokClass>) => new target(...args),
}) as OpenTokConstructor;
/** An `OpenTok` client. */
export type OpenTok = OpenTokClass;
export default OpenTok;
export type { OpenTokOptions, ListCallback } from './opentok.js';
export type { Callback } from './callback.js';
export {
  ArchiveError,
  ArgumentError,
  AuthError,
  CaptionsError,
  ForceDisconnectError,
  NotFoundError,
  OpenTokError,
  RequestError,
  SignalError,
  SipError,
} from './errors.js';
export type { ErrorResponseDetails, OpenTokErrorCode } from './errors.js';
export type { FetchLike } from './transport.js';
export { Session } from './sessions.js';
export type { SessionOptions, SessionService, TokenMinter } from './sessions.js';
export type { TokenOptions } from './tokens.js';
export type { Archive, ArchiveList, ArchiveOptions, ArchiveService } from './archives.js';
export type { ListArchivesOptions, StreamSelectionOptions } from './composition.js';
export type {
  Broadcast,
  BroadcastList,
  BroadcastOptions,
  BroadcastOutputs,
  BroadcastService,
  ListBroadcastsOptions,
  RtmpOutput,
} from './broadcasts.js';
export type { Stream, StreamClassList, StreamProperties, StreamService } from './streams.js';
export type { Connection, ConnectionList, ForceMuteAllOptions, ModerationService } from './moderation.js';
export type { SignalPayload, SignalService } from './signals.js';
export { SipInterconnect } from './sip.js';
export type { DialOptions, SipCall, SipService } from './sip.js';
export type { AudioConnection, AudioConnectorService, WebsocketConnectOptions } from './audio-connector.js';
export type { CaptionsOptions, CaptionsService } from './captions.js';
export type { ListRendersOptions, Render, RenderList, RenderOptions, RenderService } from './renders.js';
export type { CallbackOptions, CallbackService, RegisteredCallback } from './registered-callbacks.js';
export type { Layout } from './validate.js';
export { signWebhook, verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from './webhooks.js';
export type { VerifyWebhookOptions } from './webhooks.js';
export { OPENTOK_NODE_COMPAT_VERSION, SDK_VERSION } from './version.js';
export type { ArchiveMode, ArchiveStatus, LayoutType, MediaMode, OutputMode, Resolution, Role, ScreenshareLayoutType, StreamMode } from '@tokhost/protocol';
