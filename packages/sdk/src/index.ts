/**
 * `@tokhost/sdk`: the OpenTok server API for Tokhost servers and the OpenTok cloud.
 *
 * @example
 * import OpenTok from '@tokhost/sdk';            // or: const OpenTok = require('@tokhost/sdk');
 * const ot = new OpenTok(apiKey, apiSecret, { apiUrl: 'http://127.0.0.1:3000' });
 */
import { OpenTok } from './opentok.js';

export { OpenTok };
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
export type { Session, SessionOptions, SessionService } from './sessions.js';
export type { TokenOptions } from './tokens.js';
export type { Archive, ArchiveList, ArchiveOptions, ArchiveService, ListArchivesOptions, StreamSelectionOptions } from './archives.js';
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
export type { DialOptions, SipCall, SipService } from './sip.js';
export type { AudioConnection, AudioConnectorService, WebsocketConnectOptions } from './audio-connector.js';
export type { CaptionsOptions, CaptionsService } from './captions.js';
export type { ListRendersOptions, Render, RenderList, RenderOptions, RenderService } from './renders.js';
export type { CallbackOptions, CallbackService, RegisteredCallback } from './registered-callbacks.js';
export type { Layout } from './validate.js';
export { signWebhook, verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from './webhooks.js';
export type { VerifyWebhookOptions } from './webhooks.js';
export { SDK_VERSION } from './version.js';
export type { ArchiveMode, ArchiveStatus, LayoutType, MediaMode, OutputMode, Resolution, Role, ScreenshareLayoutType, StreamMode } from '@tokhost/protocol';
