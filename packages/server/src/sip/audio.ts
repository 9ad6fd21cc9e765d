/**
 * Audio codecs for the SIP leg. The mix runs at 8 kHz mono, the rate of the SIP side: every SIP
 * stream in the router is G.711 already, G.711 needs no resampling at all, and libopus (opusscript,
 * WASM) decodes browsers' Opus straight to 8 kHz and encodes 8 kHz (narrowband) Opus for a far end
 * that took Opus. Samples are Int16 values in Float32Array for headroom while summing.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { alaw, mulaw } = require('alawmulaw') as typeof import('alawmulaw');
type OpusScriptCtor = typeof import('opusscript');
const OpusScript = require('opusscript') as OpusScriptCtor;

export const MIX_RATE = 8000;
/** Samples per 20 ms frame at the mix rate. */
export const FRAME = 160;

export type CodecName = 'PCMU' | 'PCMA' | 'opus';

export interface AudioDecoder {
  /** Decodes one RTP payload into 8 kHz samples. */
  decode(payload: Buffer): Float32Array;
  close(): void;
}

export interface AudioEncoder {
  /** Encodes one 20 ms frame of 8 kHz samples into an RTP payload. */
  encode(frame: Float32Array): Buffer;
  /** RTP timestamp units per 20 ms frame (Opus keeps its 48 kHz RTP clock at any sampling rate, RFC 7587). */
  readonly tsPerFrame: number;
  close(): void;
}

const clip = (v: number) => (v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v));

function g711(name: 'PCMU' | 'PCMA'): { enc: (s: Int16Array) => Uint8Array; dec: (b: Uint8Array) => Int16Array } {
  return name === 'PCMU' ? { enc: mulaw.encode, dec: mulaw.decode } : { enc: alaw.encode, dec: alaw.decode };
}

export function createDecoder(codec: CodecName): AudioDecoder {
  if (codec === 'opus') {
    const dec = new OpusScript(MIX_RATE, 1, OpusScript.Application.VOIP);
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
  return {
    decode: (payload) => Float32Array.from(dec(payload)),
    close() {},
  };
}

export function createEncoder(codec: CodecName): AudioEncoder {
  if (codec === 'opus') {
    const enc = new OpusScript(MIX_RATE, 1, OpusScript.Application.VOIP);
    enc.setBitrate(24000);
    const pcm = Buffer.alloc(FRAME * 2);
    return {
      tsPerFrame: 960,
      encode(frame) {
        for (let i = 0; i < FRAME; i++) pcm.writeInt16LE(clip(frame[i]!), i * 2);
        return Buffer.from(enc.encode(pcm, FRAME));
      },
      close: () => enc.delete(),
    };
  }
  const { enc } = g711(codec);
  const pcm = new Int16Array(FRAME);
  return {
    tsPerFrame: 160,
    encode(frame) {
      for (let i = 0; i < FRAME; i++) pcm[i] = clip(frame[i]!);
      return Buffer.from(enc(pcm));
    },
    close() {},
  };
}

/** RMS level in dBFS (tests, diagnostics). */
export function levelDbfs(samples: Float32Array | Int16Array): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  const rms = Math.sqrt(sum / Math.max(1, samples.length)) / 32768;
  return rms > 0 ? 20 * Math.log10(rms) : -Infinity;
}
