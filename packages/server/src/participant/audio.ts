/**
 * Audio codecs of server participants (SIP legs, Audio Connector sockets, caption engines).
 *
 * A participant hears the session at one of the rates in {@link MixRate}: 8 kHz for SIP (every
 * SIP stream in the router is G.711 already, which needs no resampling), 16 or 24 kHz for an
 * Audio Connector socket or a speech recogniser. libopus (opusscript, WASM) decodes browsers'
 * Opus straight to the rate asked for and encodes at it (the Opus RTP clock stays 48 kHz, RFC
 * 7587); G.711 is upsampled from 8 kHz by linear interpolation when a higher rate is asked for.
 * Samples are Int16 values in Float32Array for headroom while summing.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { alaw, mulaw } = require('alawmulaw') as typeof import('alawmulaw');
type OpusScriptCtor = typeof import('opusscript');
const OpusScript = require('opusscript') as OpusScriptCtor;

/** The rate of the SIP mix (G.711's). */
export const MIX_RATE = 8000;
/** Samples per 20 ms frame at the SIP mix rate. */
export const FRAME = 160;

/** Rates a participant can hear and speak at (the Opus rates the Audio Connector documents). */
export type MixRate = 8000 | 16000 | 24000;
export const MIX_RATES: readonly MixRate[] = [8000, 16000, 24000];

/** Samples in one 20 ms frame at `rate`. */
export const frameOf = (rate: number): number => rate / 50;

export type CodecName = 'PCMU' | 'PCMA' | 'opus';

export interface AudioDecoder {
  /** Decodes one RTP payload into samples at the decoder's rate. */
  decode(payload: Buffer): Float32Array;
  close(): void;
}

export interface AudioEncoder {
  /** Encodes one 20 ms frame of samples at the encoder's rate into an RTP payload. */
  encode(frame: Float32Array): Buffer;
  /** RTP timestamp units per 20 ms frame (Opus keeps its 48 kHz RTP clock at any sampling rate, RFC 7587). */
  readonly tsPerFrame: number;
  close(): void;
}

const clip = (v: number) => (v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v));

function g711(name: 'PCMU' | 'PCMA'): { enc: (s: Int16Array) => Uint8Array; dec: (b: Uint8Array) => Int16Array } {
  return name === 'PCMU' ? { enc: mulaw.encode, dec: mulaw.decode } : { enc: alaw.encode, dec: alaw.decode };
}

/** A decoder of `codec` to `rate` (default 8 kHz). */
export function createDecoder(codec: CodecName, rate: MixRate = MIX_RATE): AudioDecoder {
  if (codec === 'opus') {
    const dec = new OpusScript(rate, 1, OpusScript.Application.VOIP);
    return {
      decode(payload) {
        let pcm: Buffer;
        try {
          pcm = dec.decode(payload);
        } catch {
          return new Float32Array(frameOf(rate));
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
  if (rate === MIX_RATE) return { decode: (payload) => Float32Array.from(dec(payload)), close() {} };
  const up = rate / MIX_RATE;
  // Interpolates from the last sample of the previous packet, so packet edges do not click.
  let last = 0;
  return {
    decode(payload) {
      const s = dec(payload);
      const out = new Float32Array(s.length * up);
      for (let i = 0; i < s.length; i++) {
        const v = s[i]!;
        for (let k = 0; k < up; k++) out[i * up + k] = last + ((v - last) * (k + 1)) / up;
        last = v;
      }
      return out;
    },
    close() {},
  };
}

/** An encoder to `codec` of 20 ms frames at `rate` (default 8 kHz; G.711 only at 8 kHz). */
export function createEncoder(codec: CodecName, rate: MixRate = MIX_RATE): AudioEncoder {
  const frame = frameOf(rate);
  if (codec === 'opus') {
    const enc = new OpusScript(rate, 1, OpusScript.Application.VOIP);
    enc.setBitrate(rate === MIX_RATE ? 24000 : 32000);
    const pcm = Buffer.alloc(frame * 2);
    return {
      tsPerFrame: 960,
      encode(f) {
        for (let i = 0; i < frame; i++) pcm.writeInt16LE(clip(f[i]!), i * 2);
        return Buffer.from(enc.encode(pcm, frame));
      },
      close: () => enc.delete(),
    };
  }
  if (rate !== MIX_RATE) throw new RangeError(`${codec} is encoded at 8000 Hz only (asked: ${rate})`);
  const { enc } = g711(codec);
  const pcm = new Int16Array(FRAME);
  return {
    tsPerFrame: 160,
    encode(f) {
      for (let i = 0; i < FRAME; i++) pcm[i] = clip(f[i]!);
      return Buffer.from(enc(pcm));
    },
    close() {},
  };
}

/** Float samples (Int16 range) as 16-bit little-endian PCM, clipped. */
export function toPcm16le(samples: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(clip(samples[i]!), i * 2);
  return out;
}

/** 16-bit little-endian PCM as float samples (Int16 range); an odd trailing byte is ignored. */
export function fromPcm16le(buf: Buffer): Float32Array {
  const n = buf.length >> 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = buf.readInt16LE(i * 2);
  return out;
}

/** RMS level in dBFS (tests, diagnostics). */
export function levelDbfs(samples: Float32Array | Int16Array): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  const rms = Math.sqrt(sum / Math.max(1, samples.length)) / 32768;
  return rms > 0 ? 20 * Math.log10(rms) : -Infinity;
}
