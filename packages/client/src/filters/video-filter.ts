/**
 * OpenTok.js's video filters (`videoFilter`, `applyVideoFilter`): background blur and background
 * replacement. The camera track's frames are segmented by the model the Tokhost server serves
 * (./segmenter.ts) and composited on a canvas: the person over a blurred (CSS `blur()`) or
 * replaced background; the canvas becomes the track the publisher sends.
 */
import { ERRORS } from '../errors.js';
import { loadSegmenter } from './segmenter.js';
import type { Segmenter } from './segmenter.js';

/** OpenTok.js `BackgroundBlurFilter`. */
export interface BackgroundBlurFilter {
  type: 'backgroundBlur';
  /** Default `'high'`. */
  blurStrength?: 'low' | 'high';
}

/** OpenTok.js `BackgroundReplacementFilter`: a `.png`/`.jpg`/`.jpeg`/`.bmp`/`.gif` URL or a `data:image/...;base64` URL. */
export interface BackgroundReplacementFilter {
  type: 'backgroundReplacement';
  backgroundImgUrl: string;
}

export type VideoFilter = BackgroundBlurFilter | BackgroundReplacementFilter;

/** The image URLs OpenTok.js accepts (its own test: a base64 data URL or an image file extension). */
const IMAGE_URL = /^data:image\/(?:png|jpeg|bmp|gif);base64|\.(?:png|jpe?g|bmp|gif)$/i;

/**
 * Checks a filter as OpenTok.js does; returns a copy, or throws `OT_INVALID_PARAMETER` naming
 * the field (OpenTok.js says only "Video filter has invalid configuration").
 */
export function validateVideoFilter(filter: unknown): VideoFilter {
  const f = filter as Record<string, unknown> | null | undefined;
  const bad = (why: string) => ERRORS.invalidParameter(`Video filter has invalid configuration: ${why}`);
  if (typeof f !== 'object' || f === null) throw bad('videoFilter must be an object');
  if (f['type'] === 'backgroundBlur') {
    const s = f['blurStrength'];
    // OpenTok.js treats a falsy blurStrength as absent.
    if (s && s !== 'low' && s !== 'high') throw bad("blurStrength must be 'low' or 'high'");
    return { type: 'backgroundBlur', ...(s ? { blurStrength: s as 'low' | 'high' } : {}) };
  }
  if (f['type'] === 'backgroundReplacement') {
    const url = f['backgroundImgUrl'];
    if (typeof url !== 'string' || !IMAGE_URL.test(url)) throw bad('backgroundImgUrl must be a .png, .jpg, .jpeg, .bmp or .gif URL or a data:image/(png|jpeg|bmp|gif);base64 URL');
    return { type: 'backgroundReplacement', backgroundImgUrl: url };
  }
  throw bad("type must be 'backgroundBlur' or 'backgroundReplacement'");
}

/** Whether this browser can run the filters: a 2D canvas with `filter` and either Insertable Streams or `captureStream`. */
export function hasVideoFilterSupport(): boolean {
  if (typeof document === 'undefined') return false;
  const canvas = document.createElement('canvas');
  const g = canvas.getContext('2d');
  return !!g && 'filter' in g && (typeof canvas.captureStream === 'function' || hasInsertableStreams());
}

function hasInsertableStreams(): boolean {
  const g = globalThis as Record<string, unknown>;
  return typeof g['MediaStreamTrackProcessor'] === 'function' && typeof g['MediaStreamTrackGenerator'] === 'function' && typeof g['VideoFrame'] === 'function';
}

/** Blur radius in pixels for a 640-pixel-wide picture (scaled with the width). */
const BLUR_PX = { low: 6, high: 14 } as const;
/** The mask's edge is softened by this many pixels (per 640 of width) so the person does not look cut out. */
const MASK_FEATHER_PX = 2;
/** The model's input size: the landscape model reads 256x144. */
const MODEL_INPUT = { width: 256, height: 144 };

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    // A cross-origin image without CORS would taint the canvas and the track would send nothing.
    img.crossOrigin = 'anonymous';
    img.onload = () => resolve(img);
    img.onerror = () => reject(ERRORS.invalidParameter(`Video filter has invalid configuration: backgroundImgUrl could not be loaded (${url.slice(0, 80)})`));
    img.src = url;
  });
}

/**
 * Turns a camera track into a filtered one (the `MediaProcessorConnector` shape the publisher
 * already uses for `setVideoMediaProcessorConnector`). The model runs beside the frames, not in
 * their way: each frame is composited with the latest mask, and a new mask is computed whenever
 * the model is free, so a slow device lowers the mask's rate, not the video's. Until the first
 * mask the whole picture counts as background (nothing of the room shows unfiltered).
 */
export class VideoFilterProcessor {
  private stopCurrent: (() => void) | undefined;
  private readonly out = document.createElement('canvas');
  private readonly modelInput = Object.assign(document.createElement('canvas'), MODEL_INPUT);
  private readonly mask = Object.assign(document.createElement('canvas'), MODEL_INPUT);
  private hasMask = false;
  private busy = false;
  private closed = false;
  private segmenter: Segmenter | undefined;
  private background: HTMLImageElement | undefined;

  constructor(readonly filter: VideoFilter) {}

  async setTrack(track: MediaStreamTrack): Promise<MediaStreamTrack> {
    this.segmenter ??= await loadSegmenter();
    if (this.filter.type === 'backgroundReplacement') this.background ??= await loadImage(this.filter.backgroundImgUrl);
    this.stopCurrent?.();
    return hasInsertableStreams() ? this.viaInsertableStreams(track) : this.viaCanvas(track);
  }

  async destroy(): Promise<void> {
    this.closed = true;
    this.stopCurrent?.();
    this.stopCurrent = undefined;
  }

  /** Chromium: frames in with MediaStreamTrackProcessor, out with MediaStreamTrackGenerator. */
  private viaInsertableStreams(track: MediaStreamTrack): MediaStreamTrack {
    const g = globalThis as unknown as {
      MediaStreamTrackProcessor: new (init: { track: MediaStreamTrack }) => { readable: ReadableStream<VideoFrame> };
      MediaStreamTrackGenerator: new (init: { kind: 'video' }) => MediaStreamTrack & { writable: WritableStream<VideoFrame> };
    };
    const processor = new g.MediaStreamTrackProcessor({ track });
    const generator = new g.MediaStreamTrackGenerator({ kind: 'video' });
    const abort = new AbortController();
    const transform = new TransformStream<VideoFrame, VideoFrame>({
      transform: (frame, controller) => {
        try {
          this.composite(frame, frame.displayWidth, frame.displayHeight);
          controller.enqueue(new VideoFrame(this.out, { timestamp: frame.timestamp, alpha: 'discard' }));
        } finally {
          frame.close();
        }
      },
    });
    processor.readable.pipeThrough(transform, { signal: abort.signal }).pipeTo(generator.writable, { signal: abort.signal }).catch(() => undefined);
    this.stopCurrent = () => {
      abort.abort();
      generator.stop();
    };
    return generator;
  }

  /** Other browsers: a hidden video element drawn on each new frame, the canvas captured as the track. */
  private viaCanvas(track: MediaStreamTrack): MediaStreamTrack {
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.srcObject = new MediaStream([track]);
    void video.play().catch(() => undefined);
    const frameRate = track.getSettings().frameRate ?? 30;
    const output = this.out.captureStream(frameRate).getVideoTracks()[0]!;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onFrame = () => {
      if (stopped) return;
      if (video.videoWidth) this.composite(video, video.videoWidth, video.videoHeight);
      if (typeof video.requestVideoFrameCallback === 'function') video.requestVideoFrameCallback(onFrame);
      else timer = setTimeout(onFrame, 1000 / frameRate);
    };
    onFrame();
    this.stopCurrent = () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      video.srcObject = null;
      output.stop();
    };
    return output;
  }

  /** Draws one filtered frame on `out` and, when the model is free, starts the next mask. */
  private composite(frame: CanvasImageSource, width: number, height: number): void {
    const out = this.out;
    if (out.width !== width || out.height !== height) Object.assign(out, { width, height });
    const g = out.getContext('2d')!;
    const scale = width / 640;
    if (!this.busy && !this.closed && this.segmenter) {
      this.busy = true;
      this.modelInput.getContext('2d')!.drawImage(frame, 0, 0, MODEL_INPUT.width, MODEL_INPUT.height);
      this.segmenter.segment(this.modelInput, this.mask).then(
        () => {
          this.hasMask = true;
          this.busy = false;
        },
        () => {
          this.busy = false;
        },
      );
    }
    g.save();
    if (this.hasMask) {
      // The person: the mask's alpha, then the frame drawn only where it is opaque.
      g.globalCompositeOperation = 'copy';
      g.filter = `blur(${Math.max(1, MASK_FEATHER_PX * scale)}px)`;
      g.drawImage(this.mask, 0, 0, width, height);
      g.filter = 'none';
      g.globalCompositeOperation = 'source-in';
      g.drawImage(frame, 0, 0, width, height);
      g.globalCompositeOperation = 'destination-over';
    } else {
      g.globalCompositeOperation = 'copy';
    }
    // The background, behind the person.
    if (this.filter.type === 'backgroundBlur') {
      const blur = `blur(${Math.max(1, BLUR_PX[this.filter.blurStrength ?? 'high'] * scale)}px)`;
      // blur() fades the picture's border to transparent: the sharp frame fills in under it.
      if (this.hasMask) {
        g.filter = blur;
        g.drawImage(frame, 0, 0, width, height);
        g.filter = 'none';
        g.drawImage(frame, 0, 0, width, height);
      } else {
        g.drawImage(frame, 0, 0, width, height);
        g.globalCompositeOperation = 'source-over';
        g.filter = blur;
        g.drawImage(frame, 0, 0, width, height);
      }
    } else if (this.background) {
      drawCover(g, this.background, width, height);
    }
    g.restore();
  }
}

/** Draws `img` to fill width x height, cropped to keep its aspect ratio (as CSS `object-fit: cover`). */
function drawCover(g: CanvasRenderingContext2D, img: HTMLImageElement, width: number, height: number): void {
  const s = Math.max(width / img.naturalWidth, height / img.naturalHeight);
  const w = img.naturalWidth * s;
  const h = img.naturalHeight * s;
  g.drawImage(img, (width - w) / 2, (height - h) / 2, w, h);
}
