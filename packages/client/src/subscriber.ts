import type { RtIceCandidate, RtIceServer, RtSessionDescription } from '@tokhost/protocol';
import { registerPlayer } from './audio-output.js';
import { imageData, placeElement, playElement, settle } from './dom.js';
import type { ElementOptions } from './dom.js';
import { ERRORS, OTError } from './errors.js';
import type { E2eeContext } from './e2ee/context.js';
import { e2eePeerConfig } from './e2ee/context.js';
import { EventEmitter } from './events.js';
import type { Stream } from './models.js';
import { PeerLink } from './peer.js';
import { inboundAudioLevel, inboundStats } from './stats.js';
import type { SubscriberStats } from './stats.js';
import type { OutgoingRequest } from './transport.js';

/** `session.subscribe` properties (OpenTok.js names). */
export interface SubscriberProperties extends ElementOptions {
  subscribeToAudio?: boolean;
  /** Live captions of the stream from the start (OpenTok.js `subscribeToCaptions`). Default the stream's `hasCaptions`. */
  subscribeToCaptions?: boolean;
  subscribeToVideo?: boolean;
  audioVolume?: number;
  /** OpenTok.js widget style; stored (`getStyle`), Tokhost draws no overlays. */
  style?: Record<string, unknown>;
}

export interface SubscriberHost {
  request(body: OutgoingRequest): Promise<Record<string, unknown>>;
  iceServers(): RtIceServer[];
  /** The session's end-to-end encryption, when it has one (received frames are decrypted). */
  e2ee?(): E2eeContext | undefined;
}

let counter = 0;
const AUDIO_LEVEL_INTERVAL_MS = 60;
const CONNECT_TIMEOUT_MS = 20_000;

/**
 * The receiving end of a stream. Events: `videoElementCreated`, `connected`, `disconnected`,
 * `destroyed`, `videoEnabled`, `videoDisabled` (reason `publishVideo`, `subscribeToVideo`, or in
 * routed sessions `quality`: the router's audio fallback), `videoDisableWarning`,
 * `videoDisableWarningLifted` (routed sessions: the path's loss is near the fallback threshold),
 * `encryptionSecretMismatch` / `encryptionSecretMatch` (end-to-end encrypted sessions: the
 * stream's frames stopped / started again to decrypt with this client's secret),
 * `audioLevelUpdated` (`audioLevel` 0 to 1, every 60 ms while someone listens).
 */
export class Subscriber extends EventEmitter {
  readonly id = `OT_subscriber_${++counter}`;
  element: HTMLElement | undefined;
  subscriberId: string | undefined;
  private link: PeerLink | undefined;
  private video: HTMLVideoElement | undefined;
  private readonly media = new MediaStream();
  private audioOn: boolean;
  private captionsOn: boolean;
  private videoOn: boolean;
  private callback: ((err?: OTError) => void) | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private destroyed = false;
  /** E2ee: the kinds whose frames do not decrypt right now, and the transform listeners to drop on close. */
  private readonly undecryptable = new Set<'audio' | 'video'>();
  private readonly e2eeDetach: (() => void)[] = [];
  private elementAnnounced = false;
  private levelTimer: ReturnType<typeof setInterval> | undefined;
  private unregisterPlayer: (() => void) | undefined;

  constructor(
    readonly stream: Stream,
    private readonly host: SubscriberHost,
    target: HTMLElement | string | null | undefined,
    readonly properties: SubscriberProperties,
    callback?: (err?: OTError) => void,
  ) {
    super();
    this.callback = callback;
    this.audioOn = properties.subscribeToAudio !== false;
    this.captionsOn = properties.subscribeToCaptions ?? stream.hasCaptions;
    this.videoOn = properties.subscribeToVideo !== false;
    // OpenTok.js's `.promise` forms (`subscriber.subscribeToVideo.promise(false)`).
    const toAudio = this.subscribeToAudio.bind(this);
    this.subscribeToAudio = Object.assign(toAudio, { promise: (value: boolean) => Promise.resolve(void toAudio(value)) });
    const toVideo = this.subscribeToVideo.bind(this);
    this.subscribeToVideo = Object.assign(toVideo, { promise: (value: boolean) => Promise.resolve(void toVideo(value)) });
    const restrict = this.restrictFrameRate.bind(this);
    this.restrictFrameRate = Object.assign(restrict, { promise: (value: boolean) => Promise.resolve(void restrict(value)) });
    const volume = this.setAudioVolume.bind(this);
    this.setAudioVolume = Object.assign(volume, { promise: (value: number) => Promise.resolve(void volume(value)) });
    const { root, video } = placeElement(target, 'OT_subscriber', properties);
    this.element = root;
    this.video = video;
    if (properties.audioVolume !== undefined) video.volume = Math.max(0, Math.min(1, properties.audioVolume / 100));
    video.srcObject = this.media;
    this.unregisterPlayer = registerPlayer(video);
    this.levelTimer = setInterval(() => {
      if (this.listenerCount('audioLevelUpdated') === 0 || !this.link) return;
      void this.link.pc.getStats().then((r) => this.emit('audioLevelUpdated', { audioLevel: this.audioOn ? inboundAudioLevel(r) : 0 }), () => undefined);
    }, AUDIO_LEVEL_INTERVAL_MS);
  }

  /** @internal Ask the server for a peer link; the publisher's offer follows. */
  async start(): Promise<void> {
    try {
      const r = await this.host.request({ type: 'subscribe', streamId: this.stream.streamId, audio: this.audioOn, video: this.videoOn });
      this.subscriberId = String(r['subscriberId']);
      // Captions asked for before the server knew the subscriber.
      if (this.captionsOn) void this.host.request({ type: 'subscriberMedia', subscriberId: this.subscriberId, captions: true }).catch(() => undefined);
      this.connectTimer = setTimeout(() => this.finish(ERRORS.subscriberIceFailed('the media connection to the publisher did not come up')), CONNECT_TIMEOUT_MS);
    } catch (err) {
      this.finish(err as OTError);
    }
  }

  private finish(err?: OTError): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    const cb = this.callback;
    this.callback = undefined;
    cb?.(err);
    if (!err) this.emit('connected');
  }

  /** @internal */
  async onSdp(d: RtSessionDescription): Promise<void> {
    if (this.destroyed || !this.subscriberId) return;
    if (!this.link) {
      const peerId = this.subscriberId;
      const e2ee = this.host.e2ee?.();
      const link = new PeerLink(
        peerId,
        'subscriber',
        this.host.iceServers(),
        {
          sendSdp: (description) => void this.host.request({ type: 'sdp', peerId, end: 'subscriber', description }).catch(() => undefined),
          sendIce: (candidate) => void this.host.request({ type: 'ice', peerId, end: 'subscriber', candidate }).catch(() => undefined),
        },
        e2ee ? e2eePeerConfig() : {},
      );
      this.link = link;
      link.pc.ontrack = (ev) => {
        if (e2ee) this.e2eeDetach.push(e2ee.attachReceiver(ev.receiver, ev.track.kind === 'audio' ? 'audio' : 'video', (state, kind) => this.onDecryptState(state, kind)));
        ev.track.enabled = ev.track.kind === 'audio' ? this.audioOn : this.videoOn;
        this.media.addTrack(ev.track);
        if (this.video) playElement(this.video);
        // Media has arrived: like OpenTok.js, announce the element now (after subscribe() returned,
        // so apps that render it themselves with insertDefaultUI: false have their listener).
        if (!this.elementAnnounced && this.video) {
          this.elementAnnounced = true;
          this.emit('videoElementCreated', { element: this.video });
        }
      };
      link.pc.onconnectionstatechange = () => {
        const s = link.pc.connectionState;
        if (s === 'connected') this.finish();
        else if (s === 'failed') {
          if (this.callback) this.finish(ERRORS.subscriberIceFailed('ICE failed between subscriber and publisher'));
          else this.emit('disconnected', { reason: 'iceFailed' });
        }
      };
    }
    await this.link.onRemoteDescription(d);
  }

  private onDecryptState(state: 'mismatch' | 'match', kind: 'audio' | 'video'): void {
    const before = this.undecryptable.size;
    if (state === 'mismatch') this.undecryptable.add(kind);
    else this.undecryptable.delete(kind);
    if (before === 0 && this.undecryptable.size > 0) this.emit('encryptionSecretMismatch');
    else if (before > 0 && this.undecryptable.size === 0) this.emit('encryptionSecretMatch');
  }

  /** @internal */
  async onIce(c: RtIceCandidate | null): Promise<void> {
    await this.link?.onRemoteCandidate(c);
  }

  /** Receive (or stop receiving) the stream's audio. */
  subscribeToAudio(value: boolean): this {
    this.audioOn = !!value;
    for (const t of this.media.getAudioTracks()) t.enabled = this.audioOn;
    if (this.subscriberId) void this.host.request({ type: 'subscriberMedia', subscriberId: this.subscriberId, audio: this.audioOn }).catch(() => undefined);
    return this;
  }

  /**
   * Receive (or stop receiving) the stream's live captions, when the session has captions
   * started (REST `/captions`): `captionReceived` events `{streamId, caption, isFinal}`.
   */
  subscribeToCaptions(value: boolean): this {
    this.captionsOn = !!value;
    if (this.subscriberId) void this.host.request({ type: 'subscriberMedia', subscriberId: this.subscriberId, captions: this.captionsOn }).catch(() => undefined);
    return this;
  }

  /** Whether {@link subscribeToCaptions} is on. */
  isSubscribedToCaptions(): boolean {
    return this.captionsOn;
  }

  /** Receive (or stop receiving) the stream's video. */
  subscribeToVideo(value: boolean): this {
    this.videoOn = !!value;
    for (const t of this.media.getVideoTracks()) t.enabled = this.videoOn;
    if (this.subscriberId) void this.host.request({ type: 'subscriberMedia', subscriberId: this.subscriberId, video: this.videoOn }).catch(() => undefined);
    this.emit(this.videoOn ? 'videoEnabled' : 'videoDisabled', { reason: 'subscribeToVideo' });
    return this;
  }

  setAudioVolume(volume: number): this {
    if (this.video) this.video.volume = Math.max(0, Math.min(1, volume / 100));
    return this;
  }

  getAudioVolume(): number {
    return Math.round((this.video?.volume ?? 1) * 100);
  }

  /** The peer connection's stats (OpenTok.js `getRtcStatsReport`). */
  async getRtcStatsReport(): Promise<RTCStatsReport> {
    if (!this.link) throw new OTError('OT_NOT_CONNECTED', 1010, 'the subscriber has no media connection yet');
    return this.link.pc.getStats();
  }

  /**
   * OpenTok.js's subscriber stats (`{ audio, video, timestamp }`; video with codec, width, height,
   * frame rates, freezes). With a callback it is called with `(err, stats)`; the Promise resolves either way.
   */
  getStats(callback?: (err?: OTError, stats?: SubscriberStats) => void): Promise<SubscriberStats> {
    const p = this.getRtcStatsReport().then(inboundStats);
    settle(p, callback);
    return p;
  }

  /** Width of the received video (OpenTok.js `videoWidth()`), undefined before the first frame. */
  videoWidth(): number | undefined {
    return this.video?.videoWidth || undefined;
  }

  videoHeight(): number | undefined {
    return this.video?.videoHeight || undefined;
  }

  /** The current frame as a base64 PNG without the `data:` prefix (OpenTok.js `getImgData`), or null. */
  getImgData(): string | null {
    return imageData(this.video);
  }

  /** True when the browser refused to play the audio without a user gesture (it then plays muted). */
  isAudioBlocked(): boolean {
    return !!this.video && this.video.muted && this.audioOn;
  }

  private style: Record<string, unknown> | undefined;

  /** The widget style (OpenTok.js `getStyle`). Tokhost draws no overlays, so it only stores it. */
  getStyle(): Record<string, unknown> {
    return { ...(this.properties.style ?? {}), ...this.style };
  }

  setStyle(style: string | Record<string, unknown>, value?: unknown): this {
    this.style = { ...this.getStyle(), ...(typeof style === 'string' ? { [style]: value } : style) };
    return this;
  }

  /**
   * OpenTok.js: in routed sessions the router then forwards a lower layer. Tokhost's router does
   * not forward simulcast layers by preference yet, so these resolve without effect (as OpenTok.js
   * does in relayed sessions).
   */
  setPreferredFrameRate(_frameRate: number): Promise<void> {
    return Promise.resolve();
  }

  setPreferredResolution(_resolution: { width: number; height: number }): Promise<void> {
    return Promise.resolve();
  }

  restrictFrameRate(_value: boolean): this {
    return this;
  }

  /** Receive-side media processors: rejects with `OT_NOT_SUPPORTED` (not in Tokhost yet). */
  setVideoMediaProcessorConnector(_connector: unknown): Promise<void> {
    return Promise.reject(ERRORS.notSupported('subscriber media processors are not supported by Tokhost yet'));
  }

  setAudioMediaProcessorConnector(_connector: unknown): Promise<void> {
    return Promise.reject(ERRORS.notSupported('subscriber media processors are not supported by Tokhost yet'));
  }

  /** @internal The link ended (unsubscribe, stream gone, session gone). */
  close(reason: string): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.callback) this.finish(ERRORS.subscriberIceFailed(`the stream ended before the subscriber connected (${reason})`));
    this.link?.close();
    if (this.levelTimer) clearInterval(this.levelTimer);
    this.unregisterPlayer?.();
    for (const off of this.e2eeDetach.splice(0)) off();
    for (const t of this.media.getTracks()) t.stop();
    if (this.video) this.video.srcObject = null;
    this.element?.remove();
    this.emit('destroyed', { reason });
  }
}
