/**
 * The person/background segmentation model behind the video filters: MediaPipe Selfie
 * Segmentation (`@mediapipe/selfie_segmentation`, Apache-2.0), whose loader, wasm and .tflite
 * model the Tokhost server serves itself under `/js/segmentation/<version>/`. Nothing is fetched
 * until a filter is applied, and nothing is fetched from anywhere but that server.
 */
import { OTError } from '../errors.js';

/**
 * The `@mediapipe/selfie_segmentation` version the build copies into `dist/segmentation/<version>/`
 * (build.mjs refuses to build when the installed package is another one).
 */
export const SEGMENTATION_VERSION = '0.1.1675465747';

/** What the loaded MediaPipe script exposes as `window.SelfieSegmentation` (see its index.d.ts). */
interface MediaPipeSegmentation {
  setOptions(options: { modelSelection?: number; selfieMode?: boolean }): void;
  onResults(listener: (results: { segmentationMask: CanvasImageSource }) => void): void;
  initialize(): Promise<void>;
  send(inputs: { image: HTMLCanvasElement }): Promise<void>;
  close(): Promise<void>;
}
type MediaPipeSegmentationClass = new (config: { locateFile: (file: string) => string }) => MediaPipeSegmentation;

/** A loaded model: `segment` draws the person mask (opaque where the person is) of `image` into `mask`. */
export interface Segmenter {
  segment(image: HTMLCanvasElement, mask: HTMLCanvasElement): Promise<void>;
}

let server: string | undefined;

/** Called by `OT.setServerUrl` (and the entry points): the model comes from the server the SDK talks to. */
export function setSegmentationServer(url: string): void {
  server = url;
}

/** The directory the model files are served from: the SDK's server, else the page's origin (as sessions default). */
export function segmentationBaseUrl(): string {
  return new URL(`/js/segmentation/${SEGMENTATION_VERSION}/`, server ?? location.origin).toString();
}

let script: Promise<MediaPipeSegmentationClass> | undefined;

/** Adds MediaPipe's loader script once (it defines a global class, it is not a module). */
function loadScript(base: string): Promise<MediaPipeSegmentationClass> {
  const g = globalThis as unknown as { SelfieSegmentation?: MediaPipeSegmentationClass };
  if (g.SelfieSegmentation) return Promise.resolve(g.SelfieSegmentation);
  script ??= new Promise<MediaPipeSegmentationClass>((resolve, reject) => {
    const el = document.createElement('script');
    el.src = `${base}selfie_segmentation.js`;
    el.crossOrigin = 'anonymous';
    el.onload = () => (g.SelfieSegmentation ? resolve(g.SelfieSegmentation) : reject(new Error(`${el.src} defined no SelfieSegmentation`)));
    el.onerror = () => reject(new Error(`could not load ${el.src} (is the server's /js/segmentation/ reachable?)`));
    document.head.appendChild(el);
  }).catch((err: unknown) => {
    script = undefined;
    throw err;
  });
  return script;
}

let shared: Promise<Segmenter> | undefined;

/**
 * The page's one model (publishers share it; it stays loaded), loaded from the Tokhost server on
 * first use: about 6 MB of wasm and a 0.25 MB model, then compiled. Rejects with
 * `OT_NOT_SUPPORTED` when the files cannot be loaded or the browser cannot run them (MediaPipe
 * needs WebGL 2); a later call tries again.
 */
export function loadSegmenter(): Promise<Segmenter> {
  shared ??= createSegmenter().catch((err: unknown) => {
    shared = undefined;
    throw err;
  });
  return shared;
}

async function createSegmenter(): Promise<Segmenter> {
  const base = segmentationBaseUrl();
  try {
    const Ctor = await loadScript(base);
    const mp = new Ctor({ locateFile: (file) => base + file });
    // 1: the landscape model (144x256 input), the lighter of the two, made for video calls.
    mp.setOptions({ modelSelection: 1, selfieMode: false });
    let target: HTMLCanvasElement | undefined;
    mp.onResults((r) => {
      if (!target) return;
      const g = target.getContext('2d');
      if (!g) return;
      g.globalCompositeOperation = 'copy';
      g.drawImage(r.segmentationMask, 0, 0, target.width, target.height);
    });
    await mp.initialize();
    // Serialised: MediaPipe runs one graph; a second send before the first resolves would interleave masks.
    let queue = Promise.resolve();
    return {
      segment: (image, mask) => {
        const run = queue.then(async () => {
          target = mask;
          await mp.send({ image });
          target = undefined;
        });
        queue = run.catch(() => undefined);
        return run;
      },
    };
  } catch (err) {
    throw new OTError('OT_NOT_SUPPORTED', 1011, `video filters: the segmentation model could not be loaded from ${base}: ${(err as Error).message}`, { cause: err });
  }
}
