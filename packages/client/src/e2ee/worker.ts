/**
 * The encoded-transform worker: encrypts outgoing frames and decrypts incoming ones in SFrame
 * format. Apps need no extra file: the worker runs from a Blob URL whose source is this
 * function's text and {@link sframeCodec}'s (both must stay self-contained, see sframe.ts).
 */
import type { SframeCodec, SframeHeader, SframeKey } from './sframe.js';
import { sframeCodec } from './sframe.js';

/** What one transform does, passed as `RTCRtpScriptTransform` options (or with the streams). */
export interface TransformOptions {
  op: 'encrypt' | 'decrypt';
  kind: 'audio' | 'video';
  /** Correlates `mismatch` / `match` reports with the subscriber on the main thread. */
  id: string;
}

/** Main thread → worker. */
export type ToWorker =
  | { type: 'secret'; base: ArrayBuffer; secretId: number; graceMs: number; switchDelayMs: number }
  | { type: 'streams'; readable: ReadableStream; writable: WritableStream; options: TransformOptions };

/** Worker → main thread. */
export type FromWorker = { type: 'secretSet'; secretId: number } | { type: 'mismatch' | 'match'; id: string; kind: 'audio' | 'video' };

/** A frame as encoded transforms hand it over (RTCEncodedVideoFrame / RTCEncodedAudioFrame). */
interface EncodedFrame {
  data: ArrayBuffer;
}
interface ScriptTransformer {
  readable: ReadableStream<EncodedFrame>;
  writable: WritableStream<EncodedFrame>;
  options: TransformOptions;
  sendKeyFrameRequest?: () => Promise<void>;
}
interface WorkerScope {
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
  onrtctransform: ((ev: { transformer: ScriptTransformer }) => void) | null;
  postMessage(msg: FromWorker): void;
}

/**
 * The worker's body. Frame layout on the wire: `clear bytes || SFrame header || AES-GCM
 * ciphertext and tag`, the clear bytes being SFrame "metadata" (authenticated, not encrypted):
 * VP8 key frame 10 bytes (frame tag, start code, dimensions), VP8 delta frame 3 (frame tag, whose
 * P bit is what the router's keyframe detection reads), Opus 1 (the TOC byte).
 */
export function e2eeWorker(scope: WorkerScope, codec: SframeCodec): void {
  /** Consecutive undecryptable frames before a transform reports `mismatch`. */
  const MISMATCH_AFTER = 3;
  interface Secret {
    base: Uint8Array;
    id: number;
    /** Set once replaced: frames under this secret still decrypt until then (ms since epoch). */
    until: number;
    /** Senders switch to this secret from then on (ms since epoch). */
    sendFrom: number;
  }
  let ring: Secret[] = [];
  /** Bumped when the ring changes: negative key lookups are cached per version. */
  let ringVersion = 0;
  const senders = new Map<string, { secretId: number; key: SframeKey; ctr: number }>();
  // Until the first secret arrives frames wait in their streams (none is lost or sent in clear).
  let keyArrived: () => void = () => undefined;
  const firstKey = new Promise<void>((resolve) => (keyArrived = resolve));
  const receiveKeys = new Map<number, { key: SframeKey; secretId: number }>();
  const unknownKids = new Map<number, number>();

  const liveRing = (): Secret[] => {
    const now = Date.now();
    if (ring.some((s) => s.until <= now)) {
      ring = ring.filter((s) => s.until > now);
      ringVersion++;
    }
    return ring;
  };
  // 48 random bits: each sender (and each of its tracks) gets its own KID, hence its own key and
  // nonce space, so two senders sharing a secret never reuse an AES-GCM nonce.
  const randomKid = (): number => {
    const b = crypto.getRandomValues(new Uint8Array(6));
    let v = 0;
    for (const x of b) v = v * 256 + x;
    return v;
  };
  const clearLength = (kind: 'audio' | 'video', data: Uint8Array): number => {
    if (kind === 'audio') return Math.min(1, data.length);
    // VP8 frame tag bit 0 is P: 0 for a key frame.
    return Math.min(data.length > 0 && (data[0]! & 1) === 0 ? 10 : 3, data.length);
  };

  const encryptFrame = async (frame: EncodedFrame, opts: TransformOptions): Promise<boolean> => {
    const now = Date.now();
    const current = liveRing().find((x) => x.sendFrom <= now);
    if (!current) return false;
    let s = senders.get(opts.id);
    if (!s || s.secretId !== current.id) {
      s = { secretId: current.id, key: await codec.deriveKey(current.base, randomKid()), ctr: 0 };
      senders.set(opts.id, s);
    }
    const data = new Uint8Array(frame.data);
    if (data.length === 0) return true;
    const n = clearLength(opts.kind, data);
    const sealed = await codec.encrypt(s.key, s.ctr++, data.subarray(0, n), data.subarray(n));
    const out = new Uint8Array(n + sealed.length);
    out.set(data.subarray(0, n));
    out.set(sealed, n);
    frame.data = out.buffer;
    return true;
  };

  const open = async (key: SframeKey, h: SframeHeader, clear: Uint8Array, sealed: Uint8Array): Promise<Uint8Array | null> => {
    try {
      return await codec.decrypt(key, h, clear, sealed);
    } catch {
      return null;
    }
  };
  const decryptFrame = async (frame: EncodedFrame, opts: TransformOptions): Promise<boolean> => {
    const data = new Uint8Array(frame.data);
    if (data.length === 0) return true;
    const n = clearLength(opts.kind, data);
    const h = codec.parseHeader(data, n);
    if (!h) return false;
    const clear = data.subarray(0, n);
    const sealed = data.subarray(n);
    const keys = liveRing();
    let plain: Uint8Array | null = null;
    const known = receiveKeys.get(h.kid);
    if (known && keys.some((s) => s.id === known.secretId)) plain = await open(known.key, h, clear, sealed);
    else if (unknownKids.get(h.kid) !== ringVersion) {
      // A KID not seen yet: it belongs to the current secret or to one still in its grace window.
      for (const s of keys) {
        const key = await codec.deriveKey(s.base, h.kid);
        plain = await open(key, h, clear, sealed);
        if (plain) {
          receiveKeys.set(h.kid, { key, secretId: s.id });
          break;
        }
      }
      if (!plain) unknownKids.set(h.kid, ringVersion);
    }
    if (!plain) return false;
    const out = new Uint8Array(n + plain.length);
    out.set(clear);
    out.set(plain, n);
    frame.data = out.buffer;
    return true;
  };

  const run = (readable: ReadableStream<EncodedFrame>, writable: WritableStream<EncodedFrame>, opts: TransformOptions, transformer?: ScriptTransformer): void => {
    let failures = 0;
    let mismatched = false;
    let lastKeyRequest = 0;
    const transform = new TransformStream<EncodedFrame, EncodedFrame>({
      async transform(frame, controller) {
        if (ring.length === 0) await firstKey;
        if (opts.op === 'encrypt') {
          // Without a key nothing is sent rather than plaintext.
          if (await encryptFrame(frame, opts)) controller.enqueue(frame);
          return;
        }
        // Undecryptable frames are dropped: the decoder never sees ciphertext.
        if (await decryptFrame(frame, opts)) {
          // Frames were dropped before this delta frame: the decoder needs a fresh key frame
          // (the browser would ask by itself, but only after its own timeout).
          const isDelta = opts.kind === 'video' && (new Uint8Array(frame.data)[0]! & 1) === 1;
          if (failures > 0 && isDelta && Date.now() - lastKeyRequest > 300) {
            lastKeyRequest = Date.now();
            void transformer?.sendKeyFrameRequest?.().catch(() => undefined);
          }
          failures = 0;
          if (mismatched) {
            mismatched = false;
            scope.postMessage({ type: 'match', id: opts.id, kind: opts.kind });
          }
          controller.enqueue(frame);
        } else if (++failures >= MISMATCH_AFTER && !mismatched) {
          mismatched = true;
          scope.postMessage({ type: 'mismatch', id: opts.id, kind: opts.kind });
        }
      },
    });
    readable
      .pipeThrough(transform)
      .pipeTo(writable)
      .catch(() => undefined);
  };

  scope.onrtctransform = (ev) => run(ev.transformer.readable, ev.transformer.writable, ev.transformer.options, ev.transformer);
  scope.onmessage = (ev) => {
    const m = ev.data;
    if (m.type === 'secret') {
      const now = Date.now();
      for (const s of ring) s.until = Math.min(s.until, now + m.graceMs);
      // Receivers take a new secret at once; senders wait `switchDelayMs` (none for the first
      // secret), so clients that switch within that delay of each other lose no frame.
      ring = [{ base: new Uint8Array(m.base), id: m.secretId, until: Infinity, sendFrom: ring.length > 0 ? now + m.switchDelayMs : now }, ...ring];
      ringVersion++;
      liveRing();
      keyArrived();
      scope.postMessage({ type: 'secretSet', secretId: m.secretId });
    } else if (m.type === 'streams') run(m.readable as ReadableStream<EncodedFrame>, m.writable as WritableStream<EncodedFrame>, m.options);
  };
}

/** The worker's JavaScript source (what the Blob URL holds). */
export function e2eeWorkerSource(): string {
  return `"use strict";(${e2eeWorker.toString()})(self, (${sframeCodec.toString()})());`;
}
