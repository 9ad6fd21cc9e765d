/**
 * OpenTok.js's audio filter (`audioFilter`, `applyAudioFilter`): `advancedNoiseSuppression`. In
 * OpenTok.js it is Vonage's noise-suppression model, loaded from Vonage's servers; Tokhost ships
 * no such model, so the filter turns on the browser's own WebRTC noise suppressor on the
 * microphone track (`noiseSuppression: true` through `applyConstraints`), which removes steady
 * noise (fans, hum) but not speech-like noise the ML model would. See docs/client.md.
 */
import { ERRORS } from '../errors.js';

/** OpenTok.js `AdvancedNoiseSuppressionFilter`. */
export interface AdvancedNoiseSuppressionFilter {
  type: 'advancedNoiseSuppression';
}

export type AudioFilter = AdvancedNoiseSuppressionFilter;

/** Checks a filter as OpenTok.js does; returns a copy, or throws `OT_INVALID_PARAMETER`. */
export function validateAudioFilter(filter: unknown): AudioFilter {
  const type = (filter as { type?: unknown } | null | undefined)?.type;
  if (type !== 'advancedNoiseSuppression') throw ERRORS.invalidParameter("Audio filter has invalid configuration: type must be 'advancedNoiseSuppression'");
  return { type };
}

/**
 * Turns the browser's noise suppressor on (`on`) or back to what it was (`previous`) on `track`.
 * Returns the setting the track had, for `clearAudioFilter`. Rejects with `OT_NOT_SUPPORTED` when
 * the browser cannot change it on a live track.
 */
export async function setNoiseSuppression(track: MediaStreamTrack, on: boolean): Promise<boolean> {
  const had = track.getSettings().noiseSuppression ?? false;
  const supported = navigator.mediaDevices.getSupportedConstraints?.().noiseSuppression === true;
  if (!supported) throw ERRORS.notSupported('advancedNoiseSuppression: this browser has no noiseSuppression constraint');
  try {
    await track.applyConstraints({ ...track.getConstraints(), noiseSuppression: on });
  } catch (err) {
    throw ERRORS.notSupported(`advancedNoiseSuppression: the microphone refused noiseSuppression=${on}: ${(err as Error).message}`);
  }
  return had;
}
