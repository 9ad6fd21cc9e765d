import { hasEndToEndEncryptionSupport } from './e2ee/context.js';
import { OTError } from './errors.js';
import { EventEmitter } from './events.js';
import { Publisher } from './publisher.js';
import type { PublisherProperties } from './publisher.js';
import { Session } from './session.js';
import type { SessionOptions } from './session.js';

export { hasEndToEndEncryptionSupport } from './e2ee/context.js';
export { OTError } from './errors.js';
export { EventEmitter, OTEvent } from './events.js';
export type { OTEventHandler } from './events.js';
export { Connection, Stream } from './models.js';
export { Publisher } from './publisher.js';
export type { PublisherProperties } from './publisher.js';
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
export function initPublisher(target?: HTMLElement | string | null | PublisherProperties, properties?: PublisherProperties | ((err?: OTError) => void), callback?: (err?: OTError) => void): Publisher {
  if (target && typeof target === 'object' && !(target instanceof HTMLElement)) return new Publisher(undefined, target, typeof properties === 'function' ? properties : undefined);
  const props = typeof properties === 'object' ? properties : {};
  const cb = typeof properties === 'function' ? properties : callback;
  return new Publisher(target as HTMLElement | string | null | undefined, props, cb);
}

/** 1 when the browser has WebRTC (OpenTok.js `OT.checkSystemRequirements`). */
export function checkSystemRequirements(): number {
  return typeof RTCPeerConnection === 'function' && !!navigator.mediaDevices ? 1 : 0;
}

/** Cameras and microphones (OpenTok.js `OT.getDevices`). */
export function getDevices(callback: (err: OTError | undefined, devices?: { kind: 'audioInput' | 'videoInput'; deviceId: string; label: string }[]) => void): void {
  navigator.mediaDevices.enumerateDevices().then(
    (list) =>
      callback(
        undefined,
        list.filter((d) => d.kind === 'audioinput' || d.kind === 'videoinput').map((d) => ({ kind: d.kind === 'audioinput' ? 'audioInput' : 'videoInput', deviceId: d.deviceId, label: d.label })),
      ),
    (err: Error) => callback(new OTError('OT_HARDWARE_UNAVAILABLE', 1500, err.message)),
  );
}

const globalEvents = new EventEmitter();

/** The `OT` namespace object (what the global build exposes as `window.OT`). */
export const OT = {
  initSession,
  initPublisher,
  checkSystemRequirements,
  hasEndToEndEncryptionSupport,
  getDevices,
  setServerUrl,
  getServerUrl,
  on: globalEvents.on.bind(globalEvents),
  once: globalEvents.once.bind(globalEvents),
  off: globalEvents.off.bind(globalEvents),
  setLogLevel: (_level: number) => undefined,
  version: '0.1.0-tokhost',
  Session,
  Publisher,
  OTError,
};
export default OT;
