import type { RtIceCandidate, RtIceServer, RtSessionDescription, RtStream } from '@tokhost/protocol';
import { placeElement, playElement } from './dom.js';
import type { ElementOptions } from './dom.js';
import { ERRORS, OTError } from './errors.js';
import type { E2eeContext } from './e2ee/context.js';
import { e2eePeerConfig } from './e2ee/context.js';
import { EventEmitter } from './events.js';
import { Connection, Stream } from './models.js';
import { PeerLink } from './peer.js';
import type { OutgoingRequest } from './transport.js';

/** `OT.initPublisher` properties (the OpenTok.js names). */
export interface PublisherProperties extends ElementOptions {
  name?: string;
  publishAudio?: boolean;
  publishVideo?: boolean;
  /** `undefined`/`true`: default camera; `null`/`false`: no video; a device ID; `'screen'`; or a track. */
  videoSource?: string | boolean | null | MediaStreamTrack;
  audioSource?: string | boolean | null | MediaStreamTrack;
  /** `"WIDTHxHEIGHT"`, e.g. `"1280x720"`. Default `"640x480"`. */
  resolution?: string;
  frameRate?: number;
  mirror?: boolean;
}

/** What a publisher needs from the session it publishes into. */
export interface PublisherHost {
  request(body: OutgoingRequest): Promise<Record<string, unknown>>;
  readonly connection: Connection | undefined;
  /** Set in end-to-end encrypted sessions: the routed link's senders encrypt through it. */
  readonly e2ee?: E2eeContext | undefined;
}

let counter = 0;

/**
 * A local camera/microphone (or screen, or custom track) and, once published, one peer link per
 * subscriber. Events: `accessAllowed`, `accessDenied`, `videoElementCreated`, `streamCreated`,
 * `streamDestroyed`, `destroyed`, `mediaStopped`.
 */
export class Publisher extends EventEmitter {
  readonly id = `OT_publisher_${++counter}`;
  element: HTMLElement | undefined;
  stream: Stream | undefined;
  session: PublisherHost | undefined;
  /** Resolves when the camera/microphone are open (rejects when they cannot be). */
  readonly ready: Promise<void>;
  private mediaStream: MediaStream | null = null;
  private video: HTMLVideoElement | undefined;
  private audioOn: boolean;
  private videoOn: boolean;
  private readonly links = new Map<string, PeerLink>();
  private destroyed = false;

  constructor(
    target: HTMLElement | string | null | undefined,
    readonly properties: PublisherProperties,
    callback?: (err?: OTError) => void,
  ) {
    super();
    this.audioOn = properties.publishAudio !== false;
    this.videoOn = properties.publishVideo !== false;
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
    const [w, h] = (p.resolution ?? '640x480').split('x').map(Number);
    const videoWanted = p.videoSource !== null && p.videoSource !== false;
    const audioWanted = p.audioSource !== null && p.audioSource !== false;
    if (!videoWanted && !audioWanted) throw ERRORS.invalidParameter('videoSource and audioSource cannot both be off');
    const tracks: MediaStreamTrack[] = [];
    try {
      if (p.videoSource === 'screen') {
        const display = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: p.frameRate ?? 15 } });
        tracks.push(...display.getVideoTracks());
      }
      const constraints: MediaStreamConstraints = {};
      if (videoWanted && p.videoSource !== 'screen' && !(p.videoSource instanceof MediaStreamTrack)) {
        constraints.video = {
          width: { ideal: w || 640 },
          height: { ideal: h || 480 },
          ...(p.frameRate ? { frameRate: { ideal: p.frameRate } } : {}),
          ...(typeof p.videoSource === 'string' ? { deviceId: { exact: p.videoSource } } : {}),
        };
      }
      if (audioWanted && !(p.audioSource instanceof MediaStreamTrack)) {
        constraints.audio = typeof p.audioSource === 'string' ? { deviceId: { exact: p.audioSource } } : true;
      }
      if (constraints.audio || constraints.video) tracks.push(...(await navigator.mediaDevices.getUserMedia(constraints)).getTracks());
      if (p.videoSource instanceof MediaStreamTrack) tracks.push(p.videoSource);
      if (p.audioSource instanceof MediaStreamTrack) tracks.push(p.audioSource);
    } catch (err) {
      const name = (err as Error).name;
      const e = name === 'NotAllowedError' || name === 'SecurityError' ? ERRORS.mediaAccessDenied('access to the camera/microphone was denied', err) : ERRORS.hardwareUnavailable(`the camera/microphone could not be opened: ${(err as Error).message}`, err);
      this.emit(name === 'NotAllowedError' ? 'accessDenied' : 'exception', { message: e.message, code: e.code, error: e });
      throw e;
    }
    this.mediaStream = new MediaStream(tracks);
    for (const t of this.mediaStream.getAudioTracks()) t.enabled = this.audioOn;
    for (const t of this.mediaStream.getVideoTracks()) {
      t.enabled = this.videoOn;
      t.addEventListener('ended', () => this.emit('mediaStopped', { track: t }));
    }
    this.emit('accessAllowed');
    const { root, video } = placeElement(target, 'OT_publisher', this.properties);
    this.element = root;
    this.video = video;
    video.muted = true;
    if (p.mirror !== false && p.videoSource !== 'screen') video.style.transform = 'scaleX(-1)';
    video.srcObject = this.mediaStream;
    playElement(video);
    this.emit('videoElementCreated', { element: video });
  }

  /** The settings of the published video, for the stream object. */
  describe(): { hasAudio: boolean; hasVideo: boolean; videoType: 'camera' | 'screen' | 'custom' | null; videoDimensions: { width: number; height: number } | null; frameRate: number | null } {
    const v = this.mediaStream?.getVideoTracks()[0];
    const s = v?.getSettings();
    const p = this.properties;
    return {
      hasAudio: (this.mediaStream?.getAudioTracks().length ?? 0) > 0 && this.audioOn,
      hasVideo: !!v && this.videoOn,
      videoType: !v ? null : p.videoSource === 'screen' ? 'screen' : p.videoSource instanceof MediaStreamTrack ? 'custom' : 'camera',
      videoDimensions: s?.width && s.height ? { width: s.width, height: s.height } : null,
      frameRate: s?.frameRate ? Math.round(s.frameRate) : null,
    };
  }

  /** Start or stop sending audio (the track is disabled, so silence is sent). */
  publishAudio(value: boolean): this {
    this.audioOn = !!value;
    for (const t of this.mediaStream?.getAudioTracks() ?? []) t.enabled = this.audioOn;
    if (this.stream && this.session) {
      this.stream.hasAudio = this.audioOn;
      void this.session.request({ type: 'streamUpdate', streamId: this.stream.streamId, hasAudio: this.audioOn }).catch(() => undefined);
    }
    return this;
  }

  /** Start or stop sending video (black frames while off). */
  publishVideo(value: boolean): this {
    this.videoOn = !!value;
    for (const t of this.mediaStream?.getVideoTracks() ?? []) t.enabled = this.videoOn;
    if (this.stream && this.session) {
      this.stream.hasVideo = this.videoOn;
      void this.session.request({ type: 'streamUpdate', streamId: this.stream.streamId, hasVideo: this.videoOn }).catch(() => undefined);
    }
    return this;
  }

  getAudioSource(): MediaStreamTrack | undefined {
    return this.mediaStream?.getAudioTracks()[0];
  }

  getVideoSource(): { deviceId: string | undefined; type: string; track: MediaStreamTrack | undefined } {
    const t = this.mediaStream?.getVideoTracks()[0];
    return { deviceId: t?.getSettings().deviceId, type: this.describe().videoType ?? 'camera', track: t };
  }

  /** One report per subscriber peer link, as OpenTok.js `getRtcStatsReport` returns them. */
  async getRtcStatsReport(): Promise<{ subscriberId: string; connectionId: string | undefined; rtcStatsReport: RTCStatsReport }[]> {
    // Routed: one link to the media router stands for every subscriber.
    if (this.routedLink) return [{ subscriberId: '', connectionId: undefined, rtcStatsReport: await this.routedLink.pc.getStats() }];
    return Promise.all([...this.links.values()].map(async (l) => ({ subscriberId: l.peerId, connectionId: this.subscriberConnections.get(l.peerId), rtcStatsReport: await l.pc.getStats() })));
  }

  getStats(callback: (err: OTError | undefined, stats?: { subscriberId: string; connectionId: string | undefined; stats: Record<string, unknown> }[]) => void): void {
    this.getRtcStatsReport().then(
      (reports) =>
        callback(
          undefined,
          reports.map((r) => {
            const stats: Record<string, unknown> = { timestamp: Date.now() };
            r.rtcStatsReport.forEach((s: { type: string; kind?: string; bytesSent?: number; packetsSent?: number }) => {
              if (s.type === 'outbound-rtp' && s.kind) stats[s.kind] = { bytesSent: s.bytesSent, packetsSent: s.packetsSent };
            });
            return { subscriberId: r.subscriberId, connectionId: r.connectionId, stats };
          }),
        ),
      (err: Error) => callback(new OTError('OT_INVALID_PARAMETER', 1011, err.message)),
    );
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
    for (const t of this.mediaStream.getTracks()) {
      const sender = link.pc.addTrack(t, this.mediaStream);
      host.e2ee?.attachSender(sender, t.kind === 'audio' ? 'audio' : 'video');
    }
    const offer = await link.pc.createOffer();
    await link.pc.setLocalDescription(offer);
    return { type: 'offer', sdp: link.pc.localDescription!.sdp };
  }

  /** @internal The router's answer to `prepareRouted`'s offer. */
  async completeRouted(streamId: string, answer: RtSessionDescription, host: PublisherHost): Promise<void> {
    this.routedStreamId = streamId;
    for (const candidate of this.routedIce.splice(0)) void host.request({ type: 'ice', peerId: streamId, end: 'publisher', candidate }).catch(() => undefined);
    await this.routedLink?.onRemoteDescription(answer);
  }

  /** @internal A router candidate for the routed link. */
  async onRoutedIce(c: RtIceCandidate | null): Promise<void> {
    await this.routedLink?.onRemoteCandidate(c);
  }

  /** @internal */
  attach(host: PublisherHost, rt: RtStream, forceMuted: boolean): void {
    this.session = host;
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
        s.videoDimensions = { width: video.videoWidth, height: video.videoHeight };
        void host.request({ type: 'streamUpdate', streamId: s.streamId, videoDimensions: s.videoDimensions }).catch(() => undefined);
      };
    }
  }

  /** @internal */
  async addSubscriber(subscriberId: string, connectionId: string, iceServers: RtIceServer[]): Promise<void> {
    if (!this.session || !this.mediaStream) return;
    const host = this.session;
    const link = new PeerLink(subscriberId, 'publisher', iceServers, {
      sendSdp: (description) => void host.request({ type: 'sdp', peerId: subscriberId, end: 'publisher', description }).catch(() => undefined),
      sendIce: (candidate) => void host.request({ type: 'ice', peerId: subscriberId, end: 'publisher', candidate }).catch(() => undefined),
    });
    this.links.set(subscriberId, link);
    this.subscriberConnections.set(subscriberId, connectionId);
    for (const t of this.mediaStream.getTracks()) link.pc.addTrack(t, this.mediaStream);
    await link.offer();
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
    for (const t of this.mediaStream?.getTracks() ?? []) t.stop();
    if (this.video) this.video.srcObject = null;
    this.element?.remove();
    this.emit('destroyed');
    return this;
  }

  /** @internal Set by the session so `destroy()` on a published publisher unpublishes it. */
  unpublishHook: ((p: Publisher) => void) | undefined;
}
