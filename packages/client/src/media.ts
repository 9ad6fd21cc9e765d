import { ERRORS } from './errors.js';
import type { OTError } from './errors.js';

/** The capture options `OT.initPublisher` and `OT.getUserMedia` share (OpenTok.js names). */
export interface GetUserMediaProperties {
  /** `undefined`/`true`: default camera; `null`/`false`: no video; a device ID; `'screen'`; or a track. */
  videoSource?: string | boolean | null | MediaStreamTrack;
  /** `undefined`/`true`: default microphone; `null`/`false`: no audio; a device ID; or a track. */
  audioSource?: string | boolean | null | MediaStreamTrack;
  /** `"WIDTHxHEIGHT"`, e.g. `"1280x720"`. Default `"640x480"`. */
  resolution?: string;
  /** The largest size the camera may be asked for (OpenTok.js: for screen sharing). */
  maxResolution?: { width: number; height: number };
  frameRate?: number;
  facingMode?: 'user' | 'environment' | 'left' | 'right';
  /** Turn off echo cancellation, noise suppression and gain control (music, stereo). Default false. */
  disableAudioProcessing?: boolean;
  echoCancellation?: boolean;
  noiseSuppression?: boolean;
  autoGainControl?: boolean;
  /** Capture two audio channels (OpenTok.js `enableStereo`). Default false. */
  enableStereo?: boolean;
}

/** Audio constraints for an audio source (device ID or default), with the processing options. */
export function audioConstraints(p: GetUserMediaProperties, deviceId?: string): MediaTrackConstraints | true {
  const c: MediaTrackConstraints = {};
  if (deviceId) c.deviceId = { exact: deviceId };
  const off = p.disableAudioProcessing === true;
  if (off || p.echoCancellation !== undefined) c.echoCancellation = off ? false : p.echoCancellation!;
  if (off || p.noiseSuppression !== undefined) c.noiseSuppression = off ? false : p.noiseSuppression!;
  if (off || p.autoGainControl !== undefined) c.autoGainControl = off ? false : p.autoGainControl!;
  if (p.enableStereo === true) c.channelCount = { ideal: 2 };
  return Object.keys(c).length ? c : true;
}

/** Video constraints for a camera (device ID or default) at the wanted size and rate. */
export function videoConstraints(p: GetUserMediaProperties, deviceId?: string): MediaTrackConstraints {
  const [w, h] = (p.resolution ?? '640x480').split('x').map(Number);
  return {
    width: { ideal: w || 640, ...(p.maxResolution ? { max: p.maxResolution.width } : {}) },
    height: { ideal: h || 480, ...(p.maxResolution ? { max: p.maxResolution.height } : {}) },
    ...(p.frameRate ? { frameRate: { ideal: p.frameRate } } : {}),
    ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    ...(p.facingMode && !deviceId ? { facingMode: p.facingMode } : {}),
  };
}

/** A getUserMedia failure as OpenTok.js names it. */
export function mediaError(err: unknown): OTError {
  const name = (err as Error).name;
  if (name === 'NotAllowedError' || name === 'SecurityError') return ERRORS.mediaAccessDenied('access to the camera/microphone was denied', err);
  return ERRORS.hardwareUnavailable(`the camera/microphone could not be opened: ${(err as Error).message}`, err);
}

/**
 * Open the camera/microphone/screen the properties ask for (OpenTok.js `OT.getUserMedia`):
 * tracks given as `MediaStreamTrack`s are used as they are.
 */
export async function captureMedia(p: GetUserMediaProperties): Promise<MediaStream> {
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
      constraints.video = videoConstraints(p, typeof p.videoSource === 'string' ? p.videoSource : undefined);
    }
    if (audioWanted && !(p.audioSource instanceof MediaStreamTrack)) {
      constraints.audio = audioConstraints(p, typeof p.audioSource === 'string' ? p.audioSource : undefined);
    }
    if (constraints.audio || constraints.video) tracks.push(...(await navigator.mediaDevices.getUserMedia(constraints)).getTracks());
  } catch (err) {
    for (const t of tracks) t.stop();
    throw mediaError(err);
  }
  if (p.videoSource instanceof MediaStreamTrack) tracks.push(p.videoSource);
  if (p.audioSource instanceof MediaStreamTrack) tracks.push(p.audioSource);
  return new MediaStream(tracks);
}

/**
 * SDP for stereo Opus and an audio bitrate (OpenTok.js `enableStereo`, `audioBitrate`): adds
 * `stereo=1;sprop-stereo=1` and `maxaveragebitrate` to every Opus payload's `a=fmtp` line.
 */
export function opusSdp(sdp: string, o: { stereo?: boolean; bitrate?: number }): string {
  if (!o.stereo && !o.bitrate) return sdp;
  const opus = [...sdp.matchAll(/^a=rtpmap:(\d+) opus\/48000/gim)].map((m) => m[1]);
  let out = sdp;
  for (const pt of opus) {
    out = out.replace(new RegExp(`^a=fmtp:${pt} (.*)$`, 'm'), (_line, params: string) => {
      const kv = new Map(params.split(';').filter(Boolean).map((x) => x.split('=') as [string, string]));
      if (o.stereo) {
        kv.set('stereo', '1');
        kv.set('sprop-stereo', '1');
      }
      if (o.bitrate) kv.set('maxaveragebitrate', String(Math.round(o.bitrate)));
      return `a=fmtp:${pt} ${[...kv].map(([k, v]) => `${k}=${v}`).join(';')}`;
    });
  }
  return out;
}

/** Whether an SDP asks for stereo Opus (the receiving end then answers with stereo too). */
export function sdpWantsStereo(sdp: string): boolean {
  return /^a=fmtp:\d+ .*\bstereo=1/m.test(sdp);
}

/**
 * The level of a local audio track, 0 to 1 (peak amplitude over the last analyser frame), for
 * `audioLevelUpdated`. Opened lazily; `close()` frees the audio context.
 */
export class AudioLevelMeter {
  private ctx: AudioContext | undefined;
  private analyser: AnalyserNode | undefined;
  private source: MediaStreamAudioSourceNode | undefined;
  private buf: Float32Array<ArrayBuffer> | undefined;

  level(track: MediaStreamTrack | undefined): number {
    if (!track) return 0;
    if (!this.ctx) {
      this.ctx = new AudioContext();
      this.analyser = this.ctx.createAnalyser();
      this.analyser.fftSize = 1024;
      this.buf = new Float32Array(this.analyser.fftSize);
    }
    if (!this.source || this.source.mediaStream.getAudioTracks()[0] !== track) {
      this.source?.disconnect();
      this.source = this.ctx.createMediaStreamSource(new MediaStream([track]));
      this.source.connect(this.analyser!);
    }
    if (this.ctx.state === 'suspended') void this.ctx.resume().catch(() => undefined);
    this.analyser!.getFloatTimeDomainData(this.buf!);
    let peak = 0;
    for (const v of this.buf!) peak = Math.max(peak, Math.abs(v));
    return Math.min(1, peak);
  }

  close(): void {
    this.source?.disconnect();
    void this.ctx?.close().catch(() => undefined);
    this.ctx = undefined;
    this.source = undefined;
  }
}
