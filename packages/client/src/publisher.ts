import type { RtIceCandidate, RtIceServer, RtSessionDescription, RtStream } from '@tokhost/protocol';
import { placeElement, playElement } from './dom.js';
import type { ElementOptions } from './dom.js';
import { ERRORS, OTError } from './errors.js';
import type { E2eeContext } from './e2ee/context.js';
import { e2eePeerConfig } from './e2ee/context.js';
import { EventEmitter } from './events.js';
import { raiseException } from './global-events.js';
import { AudioLevelMeter, audioConstraints, captureMedia, mediaError, opusSdp, videoConstraints } from './media.js';
import type { GetUserMediaProperties } from './media.js';
import { Connection, Stream } from './models.js';
import { PeerLink } from './peer.js';
import type { Session } from './session.js';
import { imageData, settle } from './dom.js';
import { outboundStats } from './stats.js';
import type { PublisherStats } from './stats.js';
import { hasMediaProcessorSupport } from './support.js';
import type { OutgoingRequest } from './transport.js';
import { validateAudioFilter, withNoiseSuppression } from './filters/audio-filter.js';
import type { AudioFilter } from './filters/audio-filter.js';
import { hasVideoFilterSupport, validateVideoFilter, VideoFilterProcessor } from './filters/video-filter.js';
import type { VideoFilter } from './filters/video-filter.js';
import { logger } from './log.js';

/** `OT.initPublisher` properties (the OpenTok.js names). */
export interface PublisherProperties extends ElementOptions, GetUserMediaProperties {
  name?: string;
  publishAudio?: boolean;
  publishVideo?: boolean;
  mirror?: boolean;
  /** Opus bitrate in bits per second (6000 to 510000), e.g. 64000 for music. Default: the browser's. */
  audioBitrate?: number;
  /** OpenTok.js widget style; stored (`getStyle`), Tokhost draws no overlays. */
  style?: Record<string, unknown>;
  /** Background blur or replacement, applied once the camera is open (a failure is logged, as in OpenTok.js). See `applyVideoFilter`. */
  videoFilter?: VideoFilter;
  /** `{ type: 'advancedNoiseSuppression' }`, applied once the microphone is open. See `applyAudioFilter`. */
  audioFilter?: AudioFilter;
  /**
   * Publish live captions: while the session has captions started (REST `/captions`), the server
   * transcribes this publisher's audio for the subscribers that ask. Default false.
   */
  publishCaptions?: boolean;
  /**
   * OpenTok.js's audio fallback switches. `publisher: true` (routed sessions): when the media
   * router measures too much loss on this publisher's uplink, the publisher gets
   * `videoDisableWarning`, then stops sending video (`videoDisabled`, reason `quality`) and
   * resumes it when the loss is gone (`videoEnabled`); a warning that passes without that gives
   * `videoDisableWarningLifted`. Default `{ publisher: false }`. `subscriber` is accepted for
   * compatibility: the subscriber fallback of routed sessions is the router's setting.
   */
  audioFallback?: { publisher?: boolean; subscriber?: boolean };
}

/** OpenTok.js's `MediaProcessorConnector` (from `@vonage/media-processor`): turns a track into a processed one. */
export interface MediaProcessorConnector {
  setTrack(track: MediaStreamTrack): Promise<MediaStreamTrack>;
  destroy(): Promise<void>;
}

/** What a publisher needs from the session it publishes into. */
export interface PublisherHost {
  readonly session: Session;
  request(body: OutgoingRequest): Promise<Record<string, unknown>>;
  readonly connection: Connection | undefined;
  /** Set in end-to-end encrypted sessions: the routed link's senders encrypt through it. */
  readonly e2ee?: E2eeContext | undefined;
  /** The session's `streamPropertyChanged` for its own stream (the server tells only the others). */
  propertyChanged(stream: Stream, changedProperty: string, oldValue: unknown, newValue: unknown): void;
}

let counter = 0;
const AUDIO_LEVEL_INTERVAL_MS = 60;

/**
 * A local camera/microphone (or screen, or custom track) and, once published, one peer link per
 * subscriber. Events: `accessAllowed`, `accessDenied`, `videoElementCreated`, `streamCreated`,
 * `streamDestroyed`, `destroyed`, `mediaStopped`, `audioLevelUpdated` (`audioLevel` 0 to 1, every
 * 60 ms while someone listens), `muteForced`, `exception`.
 */
export class Publisher extends EventEmitter {
  readonly id = `OT_publisher_${++counter}`;
  element: HTMLElement | undefined;
  stream: Stream | undefined;
  /** The Session this publisher publishes into (undefined before `publish` and after unpublishing). */
  session: Session | undefined;
  /** True once the camera/microphone are open. */
  accessAllowed = false;
  /** Resolves when the camera/microphone are open (rejects when they cannot be). */
  readonly ready: Promise<void>;
  private host: PublisherHost | undefined;
  private mediaStream: MediaStream | null = null;
  private video: HTMLVideoElement | undefined;
  private audioOn: boolean;
  private videoOn: boolean;
  private captionsOn: boolean;
  private readonly links = new Map<string, PeerLink>();
  private destroyed = false;
  /** The captured tracks, before any media processor. */
  private readonly source: { audio?: MediaStreamTrack | undefined; video?: MediaStreamTrack | undefined } = {};
  private readonly connectors: { audio?: MediaProcessorConnector | undefined; video?: MediaProcessorConnector | undefined } = {};
  private readonly meter = new AudioLevelMeter();
  private levelTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    target: HTMLElement | string | null | undefined,
    readonly properties: PublisherProperties,
    callback?: (err?: OTError) => void,
  ) {
    super();
    if (properties.audioBitrate !== undefined && !(Number.isFinite(properties.audioBitrate) && properties.audioBitrate >= 6000 && properties.audioBitrate <= 510_000)) {
      throw ERRORS.invalidParameter('audioBitrate must be a number of bits per second from 6000 to 510000');
    }
    const fb = properties.audioFallback;
    if (fb !== undefined && (typeof fb !== 'object' || fb === null || (['publisher', 'subscriber'] as const).some((k) => fb[k] !== undefined && typeof fb[k] !== 'boolean'))) {
      throw ERRORS.invalidParameter('audioFallback must be an object { publisher?: boolean, subscriber?: boolean }');
    }
    this.audioOn = properties.publishAudio !== false;
    this.videoOn = properties.publishVideo !== false;
    this.captionsOn = properties.publishCaptions === true;
    // OpenTok.js's `.promise` forms (`publisher.publishVideo.promise(false)`).
    const publishAudio = this.publishAudio.bind(this);
    this.publishAudio = Object.assign(publishAudio, { promise: (value: boolean) => Promise.resolve(void publishAudio(value)) });
    const publishVideo = this.publishVideo.bind(this);
    this.publishVideo = Object.assign(publishVideo, { promise: (value: boolean) => Promise.resolve(void publishVideo(value)) });
    const destroy = this.destroy.bind(this);
    this.destroy = Object.assign(destroy, { promise: () => Promise.resolve(void destroy()) });
    this.ready = this.open(target).then(
      () => callback?.(),
      (err: OTError) => {
        callback?.(err);
        throw err;
      },
    );
    // The callback reports the failure; avoid an unhandled rejection when nobody awaits `ready`.
    this.ready.catch(() => undefined);
  }

  private async open(target: HTMLElement | string | null | undefined): Promise<void> {
    const p = this.properties;
    try {
      this.mediaStream = await captureMedia(p);
    } catch (err) {
      const e = err as OTError;
      if (e.name === 'OT_USER_MEDIA_ACCESS_DENIED') this.emit('accessDenied', { message: e.message, code: e.code, error: e });
      raiseException(this, e);
      throw e;
    }
    if (this.destroyed) {
      for (const t of this.mediaStream.getTracks()) t.stop();
      throw ERRORS.invalidParameter('the publisher was destroyed before its media opened');
    }
    this.source.audio = this.mediaStream.getAudioTracks()[0];
    this.source.video = this.mediaStream.getVideoTracks()[0];
    for (const t of this.mediaStream.getAudioTracks()) t.enabled = this.audioOn;
    for (const t of this.mediaStream.getVideoTracks()) {
      t.enabled = this.videoOn;
      this.watchEnded(t);
    }
    this.accessAllowed = true;
    this.emit('accessAllowed');
    const { root, video } = placeElement(target, 'OT_publisher', this.properties);
    this.element = root;
    this.video = video;
    video.muted = true;
    if (p.mirror !== false && p.videoSource !== 'screen') video.style.transform = 'scaleX(-1)';
    video.srcObject = this.mediaStream;
    playElement(video);
    this.emit('videoElementCreated', { element: video });
    // As OpenTok.js: a filter given to initPublisher that cannot be applied is logged, the publisher still opens.
    if (p.videoFilter) await this.applyVideoFilter(p.videoFilter).catch((err: Error) => logger.error(`Error applying video filter: ${err.message}`));
    if (p.audioFilter) await this.applyAudioFilter(p.audioFilter).catch((err: Error) => logger.error(`Error applying audio filter: ${err.message}`));
    this.levelTimer = setInterval(() => {
      if (this.listenerCount('audioLevelUpdated') === 0) return;
      this.emit('audioLevelUpdated', { audioLevel: this.audioOn ? this.meter.level(this.mediaStream?.getAudioTracks()[0]) : 0 });
    }, AUDIO_LEVEL_INTERVAL_MS);
  }

  private watchEnded(t: MediaStreamTrack): void {
    t.addEventListener('ended', () => {
      if (this.source.video === t || this.source.audio === t) this.emit('mediaStopped', { track: t });
    });
  }

  /** The settings of the published video, for the stream object. */
  describe(): { hasAudio: boolean; hasVideo: boolean; videoType: 'camera' | 'screen' | 'custom' | null; videoDimensions: { width: number; height: number } | null; frameRate: number | null; hasCaptions: boolean } {
    const v = this.mediaStream?.getVideoTracks()[0];
    // A filter's generated track reports no size: the camera's is the size it sends.
    const s = v?.getSettings().width ? v.getSettings() : (this.source.video ?? v)?.getSettings();
    const p = this.properties;
    return {
      hasAudio: (this.mediaStream?.getAudioTracks().length ?? 0) > 0 && this.audioOn,
      hasVideo: !!v && this.videoOn,
      videoType: !v ? null : p.videoSource === 'screen' ? 'screen' : p.videoSource instanceof MediaStreamTrack ? 'custom' : 'camera',
      videoDimensions: s?.width && s.height ? { width: s.width, height: s.height } : null,
      frameRate: s?.frameRate ? Math.round(s.frameRate) : null,
      // As in OpenTok.js, only a publisher with a microphone publishes captions.
      hasCaptions: this.captionsOn && (this.mediaStream?.getAudioTracks().length ?? 0) > 0,
    };
  }

  /** Start or stop sending audio (the track is disabled, so silence is sent). */
  publishAudio(value: boolean): this {
    this.audioOn = !!value;
    for (const t of this.mediaStream?.getAudioTracks() ?? []) t.enabled = this.audioOn;
    this.updateStream('hasAudio', this.audioOn);
    return this;
  }

  /** Start or stop sending video (black frames while off). */
  publishVideo(value: boolean, callback?: (err?: OTError) => void): this {
    this.videoOn = !!value;
    for (const t of this.mediaStream?.getVideoTracks() ?? []) t.enabled = this.videoOn;
    this.updateStream('hasVideo', this.videoOn);
    if (callback) setTimeout(() => callback());
    return this;
  }

  /**
   * Start or stop publishing live captions (OpenTok.js `publishCaptions`): the stream's
   * `hasCaptions` changes and the server's captioner starts or stops transcribing it. Before the
   * stream exists, the value is what `publish` announces.
   */
  publishCaptions(value: boolean): Promise<void> {
    this.captionsOn = !!value;
    this.updateStream('hasCaptions', this.captionsOn && (this.mediaStream?.getAudioTracks().length ?? 0) > 0);
    return Promise.resolve();
  }

  /** Tell the server and this session's app about a changed stream property. */
  private updateStream(prop: 'hasAudio' | 'hasVideo' | 'hasCaptions', value: boolean): void {
    const s = this.stream;
    const host = this.host;
    if (!s || !host || s[prop] === value) return;
    s[prop] = value;
    void host.request({ type: 'streamUpdate', streamId: s.streamId, [prop]: value } as OutgoingRequest).catch(() => undefined);
    host.propertyChanged(s, prop, !value, value);
  }

  getAudioSource(): MediaStreamTrack | undefined {
    return this.mediaStream?.getAudioTracks()[0];
  }

  getVideoSource(): { deviceId: string | null; type: string | null; track: MediaStreamTrack | null } {
    const t = this.mediaStream?.getVideoTracks()[0];
    return { deviceId: this.source.video?.getSettings().deviceId ?? null, type: this.describe().videoType, track: t ?? null };
  }

  /** Width of the video the publisher captures (OpenTok.js `videoWidth()`), undefined before the first frame. */
  videoWidth(): number | undefined {
    return this.video?.videoWidth || undefined;
  }

  videoHeight(): number | undefined {
    return this.video?.videoHeight || undefined;
  }

  /** The current video frame as a base64 PNG without the `data:` prefix (OpenTok.js `getImgData`), or null. */
  getImgData(): string | null {
    return imageData(this.video);
  }

  /**
   * Switch the microphone (OpenTok.js `setAudioSource`): a device ID from `OT.getDevices` or an
   * audio `MediaStreamTrack`. Subscribers keep their link (the sender's track is replaced).
   */
  async setAudioSource(audioSource: string | MediaStreamTrack): Promise<undefined> {
    if (!this.source.audio) throw new OTError('OT_NOT_SUPPORTED', 1011, 'setAudioSource: the publisher was created without audio');
    let track: MediaStreamTrack;
    if (audioSource instanceof MediaStreamTrack) {
      if (audioSource.kind !== 'audio') throw ERRORS.invalidParameter('setAudioSource: the track is not an audio track');
      track = audioSource;
    } else if (typeof audioSource === 'string' && audioSource !== '') {
      try {
        track = (await navigator.mediaDevices.getUserMedia({ audio: audioConstraints(this.properties, audioSource) })).getAudioTracks()[0]!;
      } catch (err) {
        throw mediaError(err);
      }
    } else throw ERRORS.invalidParameter('setAudioSource: audioSource must be a device ID or a MediaStreamTrack');
    const old = this.source.audio;
    this.source.audio = track;
    track.enabled = this.audioOn;
    await this.useTrack('audio', this.connectors.audio ? await this.connectors.audio.setTrack(track) : track);
    if (old !== track && !(this.properties.audioSource instanceof MediaStreamTrack && old === this.properties.audioSource)) old.stop();
    this.emit('audioInputDeviceChanged', { device: { deviceId: track.getSettings().deviceId ?? null, label: track.label || null } });
    return undefined;
  }

  /**
   * Switch the camera (OpenTok.js `setVideoSource`) to a device ID from `OT.getDevices` (or a
   * video `MediaStreamTrack`). Screen-sharing publishers cannot switch (`OT_SET_VIDEO_SOURCE_FAILURE`).
   */
  async setVideoSource(videoSource: string | MediaStreamTrack): Promise<undefined> {
    if (!this.source.video) throw new OTError('OT_SET_VIDEO_SOURCE_FAILURE', 1040, 'setVideoSource: the publisher was created without video');
    if (this.properties.videoSource === 'screen') throw new OTError('OT_SET_VIDEO_SOURCE_FAILURE', 1040, 'setVideoSource: a screen-sharing publisher cannot switch its source');
    let track: MediaStreamTrack;
    if (videoSource instanceof MediaStreamTrack) {
      if (videoSource.kind !== 'video') throw new OTError('OT_INVALID_VIDEO_SOURCE', 1041, 'setVideoSource: the track is not a video track');
      track = videoSource;
    } else if (typeof videoSource === 'string' && videoSource !== '') {
      try {
        track = (await navigator.mediaDevices.getUserMedia({ video: videoConstraints(this.properties, videoSource) })).getVideoTracks()[0]!;
      } catch (err) {
        throw new OTError('OT_INVALID_VIDEO_SOURCE', 1041, `setVideoSource: the camera ${videoSource} could not be opened: ${(err as Error).message}`, { cause: err });
      }
    } else throw new OTError('OT_INVALID_VIDEO_SOURCE', 1041, 'setVideoSource: videoSource must be a device ID or a MediaStreamTrack');
    const old = this.source.video;
    this.source.video = track;
    track.enabled = this.videoOn;
    this.watchEnded(track);
    await this.useTrack('video', this.connectors.video ? await this.connectors.video.setTrack(track) : track);
    if (old !== track && old !== this.properties.videoSource) old.stop();
    return undefined;
  }

  /** Switch to the next camera (OpenTok.js `cycleVideo`); resolves with the new device ID. */
  async cycleVideo(): Promise<{ deviceId: string }> {
    const cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
    const current = this.source.video?.getSettings().deviceId;
    if (cams.length === 0) throw new OTError('OT_NO_DEVICES_FOUND', 1011, 'cycleVideo: no camera found');
    const next = cams[(cams.findIndex((c) => c.deviceId === current) + 1) % cams.length]!;
    if (next.deviceId !== current) await this.setVideoSource(next.deviceId);
    return { deviceId: next.deviceId };
  }

  /**
   * Run the video through a media processor (OpenTok.js `setVideoMediaProcessorConnector`, the
   * `@vonage/media-processor` interface: Insertable Streams). `null` restores the camera's track.
   * Rejects with `OT_NOT_SUPPORTED` in browsers without `MediaStreamTrackProcessor`.
   */
  setVideoMediaProcessorConnector(connector: MediaProcessorConnector | null): Promise<void> {
    return this.setConnector('video', connector);
  }

  /** The same for the audio track (OpenTok.js `setAudioMediaProcessorConnector`). */
  setAudioMediaProcessorConnector(connector: MediaProcessorConnector | null): Promise<void> {
    return this.setConnector('audio', connector);
  }

  private async setConnector(kind: 'audio' | 'video', connector: MediaProcessorConnector | null): Promise<void> {
    const track = this.source[kind];
    if (connector !== null && (typeof connector !== 'object' || typeof connector.setTrack !== 'function' || typeof connector.destroy !== 'function')) {
      throw ERRORS.invalidParameter(`set${kind === 'audio' ? 'Audio' : 'Video'}MediaProcessorConnector: connector must have setTrack() and destroy(), or be null`);
    }
    if (connector && (kind === 'video' ? this.videoFilter : this.audioFilter)) throw ERRORS.notSupported(`Cannot set a ${kind} media processor connector while a ${kind} filter is applied (clear${kind === 'video' ? 'Video' : 'Audio'}Filter first)`);
    if (connector && !hasMediaProcessorSupport(kind)) throw ERRORS.notSupported('this browser has no MediaStreamTrackProcessor (Insertable Streams for raw media)');
    if (!track) throw ERRORS.notSupported(`the publisher has no ${kind} track`);
    const previous = this.connectors[kind];
    this.connectors[kind] = connector ?? undefined;
    if (!connector) {
      if (kind === 'video') this.videoFilter = undefined;
      await this.useTrack(kind, track);
      await previous?.destroy().catch(() => undefined);
      return;
    }
    let processed: MediaStreamTrack;
    try {
      processed = await connector.setTrack(track);
    } catch (err) {
      this.connectors[kind] = previous;
      throw new OTError('OT_MEDIA_PROCESSOR_ERROR', 1011, `the media processor failed: ${(err as Error).message}`, { cause: err });
    }
    await this.useTrack(kind, processed);
    if (previous && previous !== connector) await previous.destroy().catch(() => undefined);
  }

  /** Send and show `track` instead of the current one of its kind (no renegotiation). */
  private async useTrack(kind: 'audio' | 'video', track: MediaStreamTrack): Promise<void> {
    const ms = this.mediaStream;
    if (!ms) return;
    const old = kind === 'audio' ? ms.getAudioTracks()[0] : ms.getVideoTracks()[0];
    if (old === track) return;
    if (old) ms.removeTrack(old);
    ms.addTrack(track);
    track.enabled = kind === 'audio' ? this.audioOn : this.videoOn;
    const links = [...this.links.values(), ...(this.routedLink ? [this.routedLink] : [])];
    await Promise.all(links.flatMap((l) => l.pc.getSenders().filter((x) => x.track === old).map((x) => x.replaceTrack(track))));
  }

  private maxVideoBitrate = 0;
  private style: Record<string, unknown> | undefined;

  /** The video's content hint (OpenTok.js `getVideoContentHint`): `''`, `'motion'`, `'detail'` or `'text'`. */
  getVideoContentHint(): string {
    return this.source.video?.contentHint ?? '';
  }

  /** Tell the encoder what the video shows (OpenTok.js `setVideoContentHint`): `''`, `'motion'`, `'detail'`, `'text'`. */
  async setVideoContentHint(hint: '' | 'motion' | 'detail' | 'text'): Promise<void> {
    if (!['', 'motion', 'detail', 'text'].includes(hint)) throw ERRORS.invalidParameter("setVideoContentHint: hint must be '', 'motion', 'detail' or 'text'");
    for (const t of [this.source.video, this.mediaStream?.getVideoTracks()[0]]) if (t) t.contentHint = hint;
  }

  /**
   * Cap the video bitrate on every link (OpenTok.js `setMaxVideoBitrate`), in bits per second
   * from 5000 to 10000000, or 0 for no cap; applied with `RTCRtpSender.setParameters`.
   */
  async setMaxVideoBitrate(bitrateBps: number): Promise<void> {
    if (!(Number.isFinite(bitrateBps) && (bitrateBps === 0 || (bitrateBps >= 5000 && bitrateBps <= 10_000_000)))) throw ERRORS.invalidParameter('setMaxVideoBitrate: bitrateBps must be 0 or 5000 to 10000000');
    this.maxVideoBitrate = bitrateBps;
    await this.applyBitrate();
  }

  getMaxVideoBitrate(): number {
    return this.maxVideoBitrate;
  }

  private async applyBitrate(): Promise<void> {
    const links = [...this.links.values(), ...(this.routedLink ? [this.routedLink] : [])];
    await Promise.all(
      links.flatMap((l) =>
        l.pc.getSenders().filter((x) => x.track?.kind === 'video').map(async (sender) => {
          const params = sender.getParameters();
          for (const e of params.encodings ?? []) {
            if (this.maxVideoBitrate) e.maxBitrate = this.maxVideoBitrate;
            else delete e.maxBitrate;
          }
          await sender.setParameters(params).catch(() => undefined);
        }),
      ),
    );
  }

  /** The widget style (OpenTok.js `getStyle`). Tokhost draws no overlays, so it only stores it. */
  getStyle(): Record<string, unknown> {
    return { ...(this.properties.style ?? {}), ...this.style };
  }

  setStyle(style: string | Record<string, unknown>, value?: unknown): this {
    this.style = { ...this.getStyle(), ...(typeof style === 'string' ? { [style]: value } : style) };
    return this;
  }

  private videoFilter: VideoFilter | undefined;
  private audioFilter: { filter: AudioFilter; hadNoiseSuppression: boolean } | undefined;

  /**
   * Blur or replace the camera's background (OpenTok.js `applyVideoFilter`):
   * `{ type: 'backgroundBlur', blurStrength?: 'low' | 'high' }` or
   * `{ type: 'backgroundReplacement', backgroundImgUrl }`. The segmentation model is loaded from
   * the Tokhost server on first use. Subscribers keep their link (the sender's track is replaced).
   * Rejects with `OT_INVALID_PARAMETER` for a bad filter or a screen-sharing publisher, and with
   * `OT_NOT_SUPPORTED` while a video media processor connector is set or where the browser cannot
   * run the model.
   * @example await publisher.applyVideoFilter({ type: 'backgroundBlur', blurStrength: 'high' });
   */
  applyVideoFilter(videoFilter: VideoFilter): Promise<void> {
    return this.serialFilter(() => this.startVideoFilter(videoFilter));
  }

  /** One video filter change at a time: a second call waits, so no processor is left running unseen. */
  private serialFilter(op: () => Promise<void>): Promise<void> {
    const run = this.filterOps.then(op);
    this.filterOps = run.catch(() => undefined);
    return run;
  }

  private filterOps: Promise<void> = Promise.resolve();

  private async startVideoFilter(videoFilter: VideoFilter): Promise<void> {
    if (this.connectors.video && !(this.connectors.video instanceof VideoFilterProcessor)) throw ERRORS.notSupported('Cannot apply video filter when videoMediaProcessorConnector is set.');
    if (!hasVideoFilterSupport()) throw ERRORS.notSupported('Browser does not support video filters (a 2D canvas with filter and captureStream or Insertable Streams are required)');
    const filter = validateVideoFilter(videoFilter);
    if (this.properties.videoSource === 'screen') throw ERRORS.invalidParameter('Video filters can not be applied to screen share');
    const track = this.source.video;
    if (!track) throw ERRORS.notSupported('applyVideoFilter: the publisher has no video track');
    const previous = this.connectors.video;
    const processor = new VideoFilterProcessor(filter);
    let filtered: MediaStreamTrack;
    try {
      filtered = await processor.setTrack(track);
    } catch (err) {
      await processor.destroy();
      throw err;
    }
    this.connectors.video = processor;
    this.videoFilter = filter;
    await this.useTrack('video', filtered);
    await previous?.destroy();
  }

  /** The filter applied (OpenTok.js `getVideoFilter`), or null. */
  getVideoFilter(): VideoFilter | null {
    return this.videoFilter ? { ...this.videoFilter } : null;
  }

  /** Send the camera's own picture again (OpenTok.js `clearVideoFilter`); resolves at once when no filter is applied. */
  clearVideoFilter(): Promise<void> {
    return this.serialFilter(() => this.stopVideoFilter());
  }

  private async stopVideoFilter(): Promise<void> {
    const processor = this.connectors.video;
    if (!this.videoFilter || !(processor instanceof VideoFilterProcessor)) return;
    this.videoFilter = undefined;
    this.connectors.video = undefined;
    if (this.source.video) await this.useTrack('video', this.source.video);
    await processor.destroy();
  }

  /**
   * OpenTok.js `applyAudioFilter({ type: 'advancedNoiseSuppression' })`. Tokhost has no
   * noise-suppression model: this turns on the browser's built-in noise suppressor on the
   * microphone (docs/client.md). Rejects with `OT_INVALID_PARAMETER` for another filter and
   * `OT_NOT_SUPPORTED` while an audio media processor connector is set or without a microphone.
   */
  async applyAudioFilter(audioFilter: AudioFilter): Promise<void> {
    const filter = validateAudioFilter(audioFilter);
    if (this.connectors.audio) throw ERRORS.notSupported('Cannot apply audio filter when audioMediaProcessorConnector is set.');
    const track = this.source.audio;
    if (!track) throw ERRORS.notSupported('applyAudioFilter: the publisher has no audio track');
    const had = track.getSettings().noiseSuppression ?? false;
    await this.useNoiseSuppression(track, true);
    this.audioFilter = { filter, hadNoiseSuppression: this.audioFilter?.hadNoiseSuppression ?? had };
  }

  /** Sends the microphone with the browser's noise suppressor on or off (the device may be reopened). */
  private async useNoiseSuppression(track: MediaStreamTrack, on: boolean): Promise<void> {
    const given = this.properties.audioSource instanceof MediaStreamTrack ? this.properties.audioSource : undefined;
    const next = await withNoiseSuppression(track, on, audioConstraints(this.properties), track !== given);
    if (next === track) return;
    this.source.audio = next;
    next.enabled = this.audioOn;
    await this.useTrack('audio', next);
    track.stop();
  }

  /** The audio filter applied (OpenTok.js `getAudioFilter`), or null. */
  getAudioFilter(): AudioFilter | null {
    return this.audioFilter ? { ...this.audioFilter.filter } : null;
  }

  /** Restore the microphone's noise suppression to what it was before `applyAudioFilter`. */
  async clearAudioFilter(): Promise<void> {
    const applied = this.audioFilter;
    if (!applied) return;
    this.audioFilter = undefined;
    if (this.source.audio) await this.useNoiseSuppression(this.source.audio, applied.hadNoiseSuppression);
  }

  /** One report per subscriber peer link, as OpenTok.js `getRtcStatsReport` returns them. */
  async getRtcStatsReport(): Promise<{ subscriberId: string; connectionId: string | undefined; rtcStatsReport: RTCStatsReport }[]> {
    // Routed: one link to the media router stands for every subscriber.
    if (this.routedLink) return [{ subscriberId: '', connectionId: undefined, rtcStatsReport: await this.routedLink.pc.getStats() }];
    return Promise.all([...this.links.values()].map(async (l) => ({ subscriberId: l.peerId, connectionId: this.subscriberConnections.get(l.peerId), rtcStatsReport: await l.pc.getStats() })));
  }

  /**
   * OpenTok.js's publisher stats, one entry per subscriber link (routed sessions: one entry, the
   * link to the media router): `{ subscriberId, connectionId, stats: { audio, video, timestamp,
   * transportStats } }`. With a callback it is called with `(err, stats)`; the Promise resolves either way.
   */
  getStats(callback?: (err?: OTError, stats?: { subscriberId?: string; connectionId?: string; stats: PublisherStats }[]) => void): Promise<{ subscriberId?: string; connectionId?: string; stats: PublisherStats }[]> {
    const p = this.getRtcStatsReport().then(
      (reports) => reports.map((r) => ({ ...(r.subscriberId ? { subscriberId: r.subscriberId } : {}), ...(r.connectionId ? { connectionId: r.connectionId } : {}), stats: outboundStats(r.rtcStatsReport) })),
      (err: Error) => {
        throw new OTError('OT_PEER_CONNECTION_NOT_CONNECTED', 1015, err.message, { cause: err });
      },
    );
    settle(p, callback);
    return p;
  }

  private readonly subscriberConnections = new Map<string, string>();

  // --- session-facing (internal) ---

  private routedLink: PeerLink | undefined;
  private routedStreamId: string | undefined;
  private routedIce: (RtIceCandidate | null)[] = [];

  /** @internal Routed sessions: the one peer link to the server's media router; returns the offer. */
  async prepareRouted(iceServers: RtIceServer[], host: PublisherHost): Promise<RtSessionDescription> {
    if (!this.mediaStream) throw ERRORS.unableToPublish('the publisher has no media');
    const sendIce = (candidate: RtIceCandidate | null) => {
      // The stream ID (the link's peer ID) is known only once the server answered `publish`.
      if (!this.routedStreamId) this.routedIce.push(candidate);
      else void host.request({ type: 'ice', peerId: this.routedStreamId, end: 'publisher', candidate }).catch(() => undefined);
    };
    const link = new PeerLink('', 'publisher', iceServers, { sendSdp: () => undefined, sendIce }, host.e2ee ? e2eePeerConfig() : {});
    this.routedLink = link;
    this.watchIce(link, 'the media router');
    for (const t of this.mediaStream.getTracks()) {
      const sender = link.pc.addTrack(t, this.mediaStream);
      host.e2ee?.attachSender(sender, t.kind === 'audio' ? 'audio' : 'video');
    }
    const offer = await link.pc.createOffer();
    await link.pc.setLocalDescription({ type: 'offer', sdp: this.mungeSdp(offer.sdp ?? '') });
    return { type: 'offer', sdp: link.pc.localDescription!.sdp };
  }

  /**
   * @internal The router's publisher audio fallback decided (routed sessions, `audioFallback.publisher`):
   * as OpenTok.js, the video encoding is switched off (`videoDisabled`) or on (`videoEnabled`) on
   * the sender; the stream's `hasVideo` does not change.
   */
  async onQuality(event: 'videoDisableWarning' | 'videoDisableWarningLifted' | 'videoDisabled' | 'videoEnabled'): Promise<void> {
    if (event === 'videoDisabled' || event === 'videoEnabled') {
      const active = event === 'videoEnabled';
      const senders = this.routedLink?.pc.getSenders().filter((x) => x.track?.kind === 'video') ?? [];
      await Promise.all(
        senders.map(async (sender) => {
          const params = sender.getParameters();
          for (const e of params.encodings ?? []) e.active = active;
          await sender.setParameters(params).catch((err: Error) => logger.warn('audio fallback: setParameters failed', err.message));
        }),
      );
      this.emit(event, { reason: 'quality' });
    } else this.emit(event);
  }

  /** @internal The router's answer to `prepareRouted`'s offer. */
  async completeRouted(streamId: string, answer: RtSessionDescription, host: PublisherHost): Promise<void> {
    this.routedStreamId = streamId;
    for (const candidate of this.routedIce.splice(0)) void host.request({ type: 'ice', peerId: streamId, end: 'publisher', candidate }).catch(() => undefined);
    await this.routedLink?.onRemoteDescription(answer);
  }

  /** `enableStereo` and `audioBitrate` in the offer's Opus parameters. */
  private mungeSdp(sdp: string): string {
    return opusSdp(sdp, { stereo: this.properties.enableStereo === true, ...(this.properties.audioBitrate ? { bitrate: this.properties.audioBitrate } : {}) });
  }

  /** A link whose ICE fails is reported as OpenTok.js does: `exception` 1553 on the publisher and on OT. */
  private watchIce(link: PeerLink, peer: string): void {
    link.pc.addEventListener('connectionstatechange', () => {
      if (link.pc.connectionState === 'failed' && !link.closed) raiseException(this, ERRORS.publisherIceFailed(`ICE failed between the publisher and ${peer}`));
    });
  }

  /** @internal A router candidate for the routed link. */
  async onRoutedIce(c: RtIceCandidate | null): Promise<void> {
    await this.routedLink?.onRemoteCandidate(c);
  }

  /** @internal */
  attach(host: PublisherHost, rt: RtStream, forceMuted: boolean): void {
    this.host = host;
    this.session = host.session;
    this.stream = new Stream(rt, host.connection ?? new Connection(rt.connection));
    if (forceMuted) {
      this.audioOn = false;
      for (const t of this.mediaStream?.getAudioTracks() ?? []) t.enabled = false;
    }
    this.emit('streamCreated', { stream: this.stream });
    // Camera resolution can change after publishing (constraints, rotation): tell the others.
    const video = this.video;
    if (video) {
      video.onresize = () => {
        const s = this.stream;
        if (!s || !video.videoWidth || !video.videoHeight) return;
        if (s.videoDimensions?.width === video.videoWidth && s.videoDimensions?.height === video.videoHeight) return;
        const old = s.videoDimensions;
        s.videoDimensions = { width: video.videoWidth, height: video.videoHeight };
        void host.request({ type: 'streamUpdate', streamId: s.streamId, videoDimensions: s.videoDimensions }).catch(() => undefined);
        if (old) host.propertyChanged(s, 'videoDimensions', old, s.videoDimensions);
      };
    }
  }

  /** @internal */
  async addSubscriber(subscriberId: string, connectionId: string, iceServers: RtIceServer[]): Promise<void> {
    if (!this.host || !this.mediaStream) return;
    const host = this.host;
    const link = new PeerLink(subscriberId, 'publisher', iceServers, {
      sendSdp: (description) => void host.request({ type: 'sdp', peerId: subscriberId, end: 'publisher', description }).catch(() => undefined),
      sendIce: (candidate) => void host.request({ type: 'ice', peerId: subscriberId, end: 'publisher', candidate }).catch(() => undefined),
    });
    this.links.set(subscriberId, link);
    this.subscriberConnections.set(subscriberId, connectionId);
    link.mungeLocal = (sdp) => this.mungeSdp(sdp);
    this.watchIce(link, `subscriber ${subscriberId}`);
    for (const t of this.mediaStream.getTracks()) link.pc.addTrack(t, this.mediaStream);
    await link.offer();
    if (this.maxVideoBitrate) await this.applyBitrate();
  }

  /** @internal */
  async onSdp(peerId: string, d: RtSessionDescription): Promise<void> {
    await this.links.get(peerId)?.onRemoteDescription(d);
  }

  /** @internal */
  async onIce(peerId: string, c: RtIceCandidate | null): Promise<void> {
    await this.links.get(peerId)?.onRemoteCandidate(c);
  }

  /** @internal */
  hasPeer(peerId: string): boolean {
    return this.links.has(peerId);
  }

  /** @internal */
  removeSubscriber(peerId: string): void {
    this.links.get(peerId)?.close();
    this.links.delete(peerId);
    this.subscriberConnections.delete(peerId);
  }

  /**
   * @internal Cluster failover: the node that routed this stream is gone. Drop its peer links
   * without ending the publisher (camera and element stay); the session publishes it again.
   */
  resetForRepublish(): void {
    for (const id of [...this.links.keys()]) this.removeSubscriber(id);
    this.routedLink?.close();
    this.routedLink = undefined;
    this.routedStreamId = undefined;
    this.routedIce = [];
    this.host = undefined;
    this.session = undefined;
  }

  /** @internal The session ended the stream (unpublish, force-unpublish, disconnect). */
  detach(reason: string): void {
    for (const id of [...this.links.keys()]) this.removeSubscriber(id);
    this.routedLink?.close();
    this.routedLink = undefined;
    this.routedStreamId = undefined;
    const stream = this.stream;
    this.stream = undefined;
    this.host = undefined;
    this.session = undefined;
    if (stream) {
      const ev = this.emit('streamDestroyed', { stream, reason }, true);
      // Like OpenTok.js: the publisher is destroyed unless a handler called preventDefault().
      if (!ev.isDefaultPrevented()) this.destroy();
    }
  }

  /** Stop the camera/microphone and remove the element. */
  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    if (this.stream) this.unpublishHook?.(this);
    for (const id of [...this.links.keys()]) this.removeSubscriber(id);
    this.routedLink?.close();
    if (this.levelTimer) clearInterval(this.levelTimer);
    this.meter.close();
    for (const c of [this.connectors.audio, this.connectors.video]) void c?.destroy().catch(() => undefined);
    for (const t of [...(this.mediaStream?.getTracks() ?? []), this.source.audio, this.source.video]) t?.stop();
    if (this.video) this.video.srcObject = null;
    this.element?.remove();
    this.emit('destroyed');
    return this;
  }

  /** @internal Set by the session so `destroy()` on a published publisher unpublishes it. */
  unpublishHook: ((p: Publisher) => void) | undefined;
}
