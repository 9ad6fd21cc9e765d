/**
 * Audio codecs and resampling for the SIP leg. The mix runs at 48 kHz mono (Int16 samples in
 * Float32Array for headroom); G.711 (alawmulaw) is 8 kHz, Opus (opusscript, libopus in WASM)
 * is decoded and encoded at 48 kHz.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { alaw, mulaw } = require('alawmulaw') as typeof import('alawmulaw');
type OpusScriptCtor = typeof import('opusscript');
const OpusScript = require('opusscript') as OpusScriptCtor;

export const MIX_RATE = 48_000;
/** Samples per 20 ms frame at the mix rate. */
export const FRAME = 960;

export type CodecName = 'PCMU' | 'PCMA' | 'opus';

export interface AudioDecoder {
  /** Decodes one RTP payload into 48 kHz samples. */
  decode(payload: Buffer): Float32Array;
  close(): void;
}

export interface AudioEncoder {
  /** Encodes one 20 ms frame of 48 kHz samples into an RTP payload. */
  encode(frame: Float32Array): Buffer;
  /** RTP timestamp units per 20 ms frame. */
  readonly tsPerFrame: number;
  close(): void;
}

/** 8 kHz → 48 kHz by linear interpolation (the 4 kHz band of G.711 has nothing above it to keep). */
export function upsample6(src: Int16Array, last: { v: number }): Float32Array {
  const out = new Float32Array(src.length * 6);
  let prev = last.v;
  for (let i = 0; i < src.length; i++) {
    const cur = src[i]!;
    const d = (cur - prev) / 6;
    const o = i * 6;
    for (let k = 0; k < 6; k++) out[o + k] = prev + d * (k + 1);
    prev = cur;
  }
  last.v = prev;
  return out;
}

// Windowed-sinc low-pass (cut-off 3.4 kHz at 48 kHz, 48 taps, Blackman window) for 48 → 8 kHz.
const TAPS = 48;
const FIR = (() => {
  const h = new Float32Array(TAPS);
  const fc = 3400 / MIX_RATE;
  let sum = 0;
  for (let n = 0; n < TAPS; n++) {
    const m = n - (TAPS - 1) / 2;
    const sinc = m === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * m) / (Math.PI * m);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * n) / (TAPS - 1)) + 0.08 * Math.cos((4 * Math.PI * n) / (TAPS - 1));
    h[n] = sinc * w;
    sum += h[n]!;
  }
  for (let n = 0; n < TAPS; n++) h[n] = h[n]! / sum;
  return h;
})();

/** 48 kHz → 8 kHz: low-pass, keep every 6th sample. `history` carries the filter state between frames. */
export function downsample6(src: Float32Array, history: Float32Array): Int16Array {
  const buf = new Float32Array(TAPS + src.length);
  buf.set(history.subarray(history.length - TAPS), 0);
  buf.set(src, TAPS);
  const out = new Int16Array(src.length / 6);
  for (let i = 0; i < out.length; i++) {
    const end = TAPS + i * 6 + 5;
    let acc = 0;
    for (let k = 0; k < TAPS; k++) acc += FIR[k]! * buf[end - k]!;
    out[i] = acc > 32767 ? 32767 : acc < -32768 ? -32768 : Math.round(acc);
  }
  history.set(buf.subarray(buf.length - TAPS), history.length - TAPS);
  return out;
}

function g711(name: 'PCMU' | 'PCMA'): { enc: (s: Int16Array) => Uint8Array; dec: (b: Uint8Array) => Int16Array } {
  return name === 'PCMU' ? { enc: mulaw.encode, dec: mulaw.decode } : { enc: alaw.encode, dec: alaw.decode };
}

export function createDecoder(codec: CodecName): AudioDecoder {
  if (codec === 'opus') {
    const dec = new OpusScript(48000, 1, OpusScript.Application.VOIP);
    return {
      decode(payload) {
        let pcm: Buffer;
        try {
          pcm = dec.decode(payload);
        } catch {
          return new Float32Array(FRAME);
        }
        const n = pcm.length >> 1;
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = pcm.readInt16LE(i * 2);
        return out;
      },
      close: () => dec.delete(),
    };
  }
  const { dec } = g711(codec);
  const last = { v: 0 };
  return {
    decode: (payload) => upsample6(dec(payload), last),
    close() {},
  };
}

export function createEncoder(codec: CodecName): AudioEncoder {
  if (codec === 'opus') {
    const enc = new OpusScript(48000, 1, OpusScript.Application.VOIP);
    enc.setBitrate(32000);
    const pcm = Buffer.alloc(FRAME * 2);
    return {
      tsPerFrame: 960,
      encode(frame) {
        for (let i = 0; i < FRAME; i++) {
          const v = frame[i]!;
          pcm.writeInt16LE(v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v), i * 2);
        }
        return Buffer.from(enc.encode(pcm, FRAME));
      },
      close: () => enc.delete(),
    };
  }
  const { enc } = g711(codec);
  const history = new Float32Array(TAPS);
  return {
    tsPerFrame: 160,
    encode: (frame) => Buffer.from(enc(downsample6(frame, history))),
    close() {},
  };
}

/** RMS level of 48 kHz samples in dBFS (tests, diagnostics). */
export function levelDbfs(samples: Float32Array | Int16Array): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  const rms = Math.sqrt(sum / Math.max(1, samples.length)) / 32768;
  return rms > 0 ? 20 * Math.log10(rms) : -Infinity;
}
