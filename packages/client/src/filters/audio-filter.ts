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
 * A microphone track like `track` with the browser's noise suppressor `on` (or off). Chromium
 * fixes audio processing when the device opens (`applyConstraints` resolves and changes
 * nothing), so the device is opened again with the new setting: the caller sends the returned
 * track instead and stops the old one. A track the app gave (`audioSource: MediaStreamTrack`)
 * cannot be reopened: it is changed in place or the call rejects with `OT_NOT_SUPPORTED`.
 */
export async function withNoiseSuppression(track: MediaStreamTrack, on: boolean, constraints: MediaTrackConstraints | true, reopen: boolean): Promise<MediaStreamTrack> {
  if ((track.getSettings().noiseSuppression ?? false) === on) return track;
  if (navigator.mediaDevices.getSupportedConstraints?.().noiseSuppression !== true) throw ERRORS.notSupported('advancedNoiseSuppression: this browser has no noiseSuppression constraint');
  await track.applyConstraints({ ...track.getConstraints(), noiseSuppression: on }).catch(() => undefined);
  if ((track.getSettings().noiseSuppression ?? false) === on) return track;
  if (!reopen) throw ERRORS.notSupported('advancedNoiseSuppression: the audio track the app gave cannot change its noise suppression');
  const deviceId = track.getSettings().deviceId;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: { ...(constraints === true ? {} : constraints), ...(deviceId ? { deviceId: { exact: deviceId } } : {}), noiseSuppression: on } });
    return stream.getAudioTracks()[0]!;
  } catch (err) {
    throw ERRORS.notSupported(`advancedNoiseSuppression: the microphone could not be opened with noiseSuppression=${on}: ${(err as Error).message}`);
  }
}
