import { hasEndToEndEncryptionSupport } from './e2ee/context.js';
import { getActiveAudioOutputDevice, getAudioOutputDevices, setAudioOutputDevice, unblockAudio } from './audio-output.js';
import { ERRORS, OTError } from './errors.js';
import { OTEvent } from './events.js';
import { setSegmentationServer } from './filters/segmenter.js';
import { otEvents } from './global-events.js';
import { getLogLevel, LOG_LEVELS, logger, setLogLevel } from './log.js';
import { captureMedia } from './media.js';
import type { GetUserMediaProperties } from './media.js';
import { Connection, Stream } from './models.js';
import { Publisher } from './publisher.js';
import type { PublisherProperties } from './publisher.js';
import { Session } from './session.js';
import type { SessionOptions } from './session.js';
import { Subscriber } from './subscriber.js';
import { hasMediaProcessorSupport as mediaProcessorSupport } from './support.js';

export { hasEndToEndEncryptionSupport } from './e2ee/context.js';
export { OTError } from './errors.js';
export { EventEmitter, OTEvent } from './events.js';
export type { OTEventHandler } from './events.js';
export { Connection, Stream } from './models.js';
export { Publisher } from './publisher.js';
export type { MediaProcessorConnector, PublisherProperties } from './publisher.js';
export type { BackgroundBlurFilter, BackgroundReplacementFilter, VideoFilter } from './filters/video-filter.js';
export type { AdvancedNoiseSuppressionFilter, AudioFilter } from './filters/audio-filter.js';
export type { GetUserMediaProperties } from './media.js';
export type { AudioOutputDevice } from './audio-output.js';
export type { PublisherStats, SubscriberStats } from './stats.js';
export { getActiveAudioOutputDevice, getAudioOutputDevices, setAudioOutputDevice, unblockAudio } from './audio-output.js';
export { LOG_LEVELS, setLogLevel } from './log.js';
export { Session } from './session.js';
export type { SessionOptions } from './session.js';
export { Subscriber } from './subscriber.js';
export type { SubscriberProperties } from './subscriber.js';

let serverUrl: string | undefined;
let sessionsCreated = 0;

/** Set the Tokhost server every new session talks to (default: where the SDK was loaded from). */
export function setServerUrl(url: string): void {
  serverUrl = new URL(url).toString();
  setSegmentationServer(serverUrl);
}

/** The server URL new sessions use. */
export function getServerUrl(): string {
  return serverUrl ?? (typeof location !== 'undefined' ? location.origin : 'http://127.0.0.1:3000');
}

/**
 * Create a session object (OpenTok.js `OT.initSession`).
 *
 * @example
 * const session = OT.initSession(apiKey, sessionId);
 * session.on('streamCreated', (e) => session.subscribe(e.stream, 'videos', { insertMode: 'append' }));
 * session.connect(token, (err) => err || session.publish(OT.initPublisher('me')));
 */
export function initSession(apiKey: string | number, sessionId: string, options: SessionOptions = {}): Session {
  if (typeof sessionId !== 'string' || sessionId === '') throw new OTError('OT_INVALID_SESSION_ID', 1005, 'sessionId must be a non-empty string');
  sessionsCreated++;
  return new Session(String(apiKey), sessionId, { ...options, serverUrl: options.serverUrl ?? getServerUrl() });
}

/** Open the camera/microphone (OpenTok.js `OT.initPublisher`). `target` may be an element, an ID, or omitted. */
function initPublisherImpl(target?: HTMLElement | string | null | PublisherProperties, properties?: PublisherProperties | ((err?: OTError) => void), callback?: (err?: OTError) => void): Publisher {
  if (target && typeof target === 'object' && !(target instanceof HTMLElement)) return new Publisher(undefined, target, typeof properties === 'function' ? properties : undefined);
  const props = typeof properties === 'object' ? properties : {};
  const cb = typeof properties === 'function' ? properties : callback;
  return new Publisher(target as HTMLElement | string | null | undefined, props, cb);
}

/**
 * `OT.initPublisher(target, properties, callback)`, and `OT.initPublisher.promise(target,
 * properties)` which resolves with the Publisher once its camera/microphone are open.
 */
export const initPublisher = Object.assign(initPublisherImpl, {
  promise: (target?: HTMLElement | string | null | PublisherProperties, properties?: PublisherProperties): Promise<Publisher> =>
    new Promise((resolve, reject) => {
      const p: Publisher = initPublisherImpl(target, properties, (err) => (err ? reject(err) : resolve(p)));
    }),
});

/** 1 when the browser has WebRTC (OpenTok.js `OT.checkSystemRequirements`). */
export function checkSystemRequirements(): number {
  return typeof RTCPeerConnection === 'function' && !!navigator.mediaDevices ? 1 : 0;
}

/** A camera or microphone (OpenTok.js `Device`). */
export interface Device {
  kind: 'audioInput' | 'videoInput';
  deviceId: string;
  label: string;
}

/** Cameras and microphones (OpenTok.js `OT.getDevices`): a callback `(err, devices)`, and a Promise. */
export function getDevices(callback?: (err: OTError | undefined, devices?: Device[]) => void): Promise<Device[]> {
  const p = navigator.mediaDevices.enumerateDevices().then(
    (list) => list.filter((d) => d.kind === 'audioinput' || d.kind === 'videoinput').map((d): Device => ({ kind: d.kind === 'audioinput' ? 'audioInput' : 'videoInput', deviceId: d.deviceId, label: d.label })),
    (err: Error) => {
      throw ERRORS.hardwareUnavailable(err.message, err);
    },
  );
  if (callback) p.then((d) => callback(undefined, d), (err: OTError) => callback(err));
  else p.catch(() => undefined);
  return p;
}

/**
 * Open the camera/microphone without a publisher (OpenTok.js `OT.getUserMedia`), e.g. to run
 * the tracks through a processor and pass them to `initPublisher` as `videoSource`/`audioSource`.
 */
export function getUserMedia(properties: GetUserMediaProperties = {}): Promise<MediaStream> {
  return captureMedia(properties);
}

/** Whether media processor connectors can run here (OpenTok.js `OT.hasMediaProcessorSupport`). */
export const hasMediaProcessorSupport = Object.assign((mediaType?: 'audio' | 'video' | 'both') => mediaProcessorSupport(mediaType), {
  promise: (mediaType?: 'audio' | 'video' | 'both') => Promise.resolve(mediaProcessorSupport(mediaType)),
});

/**
 * OpenTok.js `OT.reportIssue`: OpenTok.js files a report with Vonage; Tokhost has no such
 * service, so it writes the issue ID and the client's state to the log (level INFO) for the
 * app to collect, and resolves with the ID.
 */
export function reportIssue(callback?: (err?: OTError, reportId?: string) => void): Promise<string> {
  const id = typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  logger.info(`reportIssue ${id}: user agent ${typeof navigator !== 'undefined' ? navigator.userAgent : 'unknown'}, log level ${getLogLevel()}`);
  if (callback) setTimeout(() => callback(undefined, id));
  return Promise.resolve(id);
}

/** What the browser can share (OpenTok.js `OT.checkScreenSharingCapability`); no extension is ever needed. */
export function checkScreenSharingCapability(callback?: (response: ScreenSharingCapability) => void): Promise<ScreenSharingCapability> {
  const supported = typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getDisplayMedia === 'function';
  const r: ScreenSharingCapability = { supported, supportedSources: { screen: supported, window: supported, application: false, browser: supported }, extensionRequired: undefined, extensionInstalled: undefined, extensionRegistered: undefined };
  if (callback) setTimeout(() => callback(r));
  return Promise.resolve(r);
}

export interface ScreenSharingCapability {
  supported: boolean;
  supportedSources: { screen: boolean; window: boolean; application: boolean; browser: boolean };
  extensionRequired: undefined;
  extensionInstalled: undefined;
  extensionRegistered: undefined;
}

/** The video codecs this browser encodes and decodes (OpenTok.js `OT.getSupportedCodecs`). */
export async function getSupportedCodecs(): Promise<{ videoEncoders: ('H264' | 'VP8' | 'VP9')[]; videoDecoders: ('H264' | 'VP8' | 'VP9')[] }> {
  const names = (caps: RTCRtpCapabilities | null) => [...new Set((caps?.codecs ?? []).map((c) => c.mimeType.replace(/^video\//i, '').toUpperCase()))].filter((n): n is 'H264' | 'VP8' | 'VP9' => n === 'H264' || n === 'VP8' || n === 'VP9');
  return { videoEncoders: names(RTCRtpSender.getCapabilities('video')), videoDecoders: names(RTCRtpReceiver.getCapabilities('video')) };
}

let proxySet = false;
/**
 * OpenTok.js `OT.setProxyUrl`: in Tokhost the "proxy" is the Tokhost server itself, so this sets
 * the server URL new sessions use (as `OT.setServerUrl`). Like OpenTok.js it may be called once,
 * before the first session: later calls throw `OT_PROXY_URL_ALREADY_SET_ERROR` (2022) or
 * `OT_SET_PROXY_URL_TIMING_ERROR` (2021).
 */
export function setProxyUrl(proxyUrl: string): void {
  if (proxySet) throw new OTError('OT_PROXY_URL_ALREADY_SET_ERROR', 2022, 'setProxyUrl: the proxy URL is already set');
  if (sessionsCreated > 0) throw new OTError('OT_SET_PROXY_URL_TIMING_ERROR', 2021, 'setProxyUrl: call it before OT.initSession');
  setServerUrl(proxyUrl);
  proxySet = true;
}

/** Chrome screen-sharing extensions are a thing of the past (OpenTok.js ignores them too). */
export function registerScreenSharingExtension(_kind: string, _id: string, _version: number): void {
  logger.info('registerScreenSharingExtension: not needed, the browser shares screens without an extension');
}

/** OpenTok.js shows an "upgrade your browser" page; Tokhost logs the requirement instead. */
export function upgradeSystemRequirements(): void {
  logger.error('this browser lacks WebRTC: use a current Chrome, Edge, Firefox or Safari');
}

/** The `OT` namespace object (what the global build exposes as `window.OT`). */
export const OT = {
  initSession,
  initPublisher,
  checkSystemRequirements,
  hasEndToEndEncryptionSupport,
  hasMediaProcessorSupport,
  getDevices,
  getUserMedia,
  getAudioOutputDevices,
  getActiveAudioOutputDevice,
  setAudioOutputDevice,
  reportIssue,
  unblockAudio,
  checkScreenSharingCapability,
  getSupportedCodecs,
  setProxyUrl,
  registerScreenSharingExtension,
  upgradeSystemRequirements,
  setServerUrl,
  getServerUrl,
  on: otEvents.on.bind(otEvents),
  once: otEvents.once.bind(otEvents),
  off: otEvents.off.bind(otEvents),
  setLogLevel,
  ...LOG_LEVELS,
  error: logger.error,
  warn: logger.warn,
  info: logger.info,
  log: logger.log,
  debug: logger.debug,
  version: '0.1.0-tokhost',
  Session,
  Publisher,
  Subscriber,
  Stream,
  Connection,
  Event: OTEvent,
  OTError,
};
export default OT;
