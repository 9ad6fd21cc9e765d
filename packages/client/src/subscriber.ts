import type { RtIceCandidate, RtIceServer, RtSessionDescription } from '@tokhost/protocol';
import { placeElement, playElement } from './dom.js';
import type { ElementOptions } from './dom.js';
import { ERRORS, OTError } from './errors.js';
import type { E2eeContext } from './e2ee/context.js';
import { e2eePeerConfig } from './e2ee/context.js';
import { EventEmitter } from './events.js';
import type { Stream } from './models.js';
import { PeerLink } from './peer.js';
import type { OutgoingRequest } from './transport.js';

/** `session.subscribe` properties (OpenTok.js names). */
export interface SubscriberProperties extends ElementOptions {
  subscribeToAudio?: boolean;
  /** Live captions of the stream from the start (OpenTok.js `subscribeToCaptions`). Default false. */
  subscribeToCaptions?: boolean;
  subscribeToVideo?: boolean;
  audioVolume?: number;
}

export interface SubscriberHost {
  request(body: OutgoingRequest): Promise<Record<string, unknown>>;
  iceServers(): RtIceServer[];
  /** The session's end-to-end encryption, when it has one (received frames are decrypted). */
  e2ee?(): E2eeContext | undefined;
}

let counter = 0;
const CONNECT_TIMEOUT_MS = 20_000;

/**
 * The receiving end of a stream. Events: `videoElementCreated`, `connected`, `disconnected`,
 * `destroyed`, `videoEnabled`, `videoDisabled` (reason `publishVideo`, `subscribeToVideo`, or in
 * routed sessions `quality`: the router's audio fallback), `videoDisableWarning`,
 * `videoDisableWarningLifted` (routed sessions: the path's loss is near the fallback threshold),
 * `encryptionSecretMismatch` / `encryptionSecretMatch` (end-to-end encrypted sessions: the
 * stream's frames stopped / started again to decrypt with this client's secret).
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
    this.captionsOn = properties.subscribeToCaptions === true;
    this.videoOn = properties.subscribeToVideo !== false;
    const { root, video } = placeElement(target, 'OT_subscriber', properties);
    this.element = root;
    this.video = video;
    if (properties.audioVolume !== undefined) video.volume = Math.max(0, Math.min(1, properties.audioVolume / 100));
    video.srcObject = this.media;
    this.emit('videoElementCreated', { element: video });
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

  /** Summary stats (OpenTok.js `getStats` shape: audio/video bytes, packets, frames). */
  getStats(callback: (err: OTError | undefined, stats?: Record<string, unknown>) => void): void {
    this.getRtcStatsReport().then(
      (report) => {
        const out: Record<string, unknown> = { timestamp: Date.now() };
        report.forEach((s: { type: string; kind?: string; bytesReceived?: number; packetsReceived?: number; packetsLost?: number; framesDecoded?: number; frameWidth?: number; frameHeight?: number }) => {
          if (s.type === 'inbound-rtp' && s.kind) {
            out[s.kind] = { bytesReceived: s.bytesReceived, packetsReceived: s.packetsReceived, packetsLost: s.packetsLost, ...(s.kind === 'video' ? { framesDecoded: s.framesDecoded, frameWidth: s.frameWidth, frameHeight: s.frameHeight } : {}) };
          }
        });
        callback(undefined, out);
      },
      (err: OTError) => callback(err),
    );
  }

  /** @internal The link ended (unsubscribe, stream gone, session gone). */
  close(reason: string): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.callback) this.finish(ERRORS.subscriberIceFailed(`the stream ended before the subscriber connected (${reason})`));
    this.link?.close();
    for (const off of this.e2eeDetach.splice(0)) off();
    for (const t of this.media.getTracks()) t.stop();
    if (this.video) this.video.srcObject = null;
    this.element?.remove();
    this.emit('destroyed', { reason });
  }
}
