import { hasEndToEndEncryptionSupport } from './e2ee/context.js';
import { getActiveAudioOutputDevice, getAudioOutputDevices, setAudioOutputDevice } from './audio-output.js';
import { ERRORS, OTError } from './errors.js';
import { OTEvent } from './events.js';
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
export type { GetUserMediaProperties } from './media.js';
export type { AudioOutputDevice } from './audio-output.js';
export type { PublisherStats, SubscriberStats } from './stats.js';
export { getActiveAudioOutputDevice, getAudioOutputDevices, setAudioOutputDevice } from './audio-output.js';
export { LOG_LEVELS, setLogLevel } from './log.js';
export { Session } from './session.js';
export type { SessionOptions } from './session.js';
export { Subscriber } from './subscriber.js';
export type { SubscriberProperties } from './subscriber.js';

let serverUrl: string | undefined;

/** Set the Tokhost server every new session talks to (default: where the SDK was loaded from). */
export function setServerUrl(url: string): void {
  serverUrl = new URL(url).toString();
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
