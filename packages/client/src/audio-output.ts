import { OTError } from './errors.js';

/** OpenTok.js `AudioOutputDevice`. */
export interface AudioOutputDevice {
  deviceId: string | null | undefined;
  label: string | null;
}

/** The elements that play subscribers' audio; `setAudioOutputDevice` moves them all. */
const players = new Set<HTMLMediaElement>();
let active: string | undefined;

type SinkElement = HTMLMediaElement & { setSinkId?(id: string): Promise<void> };

/** @internal A subscriber's element starts playing: route it to the chosen output. */
export function registerPlayer(el: HTMLMediaElement): () => void {
  players.add(el);
  if (active !== undefined) void (el as SinkElement).setSinkId?.(active).catch(() => undefined);
  return () => players.delete(el);
}

/** Speakers and headsets (OpenTok.js `OT.getAudioOutputDevices`). */
export async function getAudioOutputDevices(): Promise<AudioOutputDevice[]> {
  const list = await navigator.mediaDevices.enumerateDevices();
  return list.filter((d) => d.kind === 'audiooutput').map((d) => ({ deviceId: d.deviceId, label: d.label || null }));
}

/** The output subscribers play to (OpenTok.js `OT.getActiveAudioOutputDevice`); the default until one is set. */
export async function getActiveAudioOutputDevice(): Promise<AudioOutputDevice> {
  const devices = await getAudioOutputDevices();
  const id = active ?? 'default';
  return devices.find((d) => d.deviceId === id) ?? devices[0] ?? { deviceId: id, label: null };
}

/**
 * Play every subscriber (present and future) on one output (OpenTok.js `OT.setAudioOutputDevice`).
 * Rejects with `OT_INVALID_AUDIO_OUTPUT_SOURCE` for an unknown device ID, and with
 * `OT_UNSUPPORTED_BROWSER` where elements cannot choose their output (no `setSinkId`).
 */
export async function setAudioOutputDevice(deviceId: string): Promise<void> {
  if (typeof deviceId !== 'string') throw new OTError('OT_INVALID_PARAMETER', 1011, 'deviceId must be a string');
  if (typeof (HTMLMediaElement.prototype as SinkElement).setSinkId !== 'function') throw new OTError('OT_UNSUPPORTED_BROWSER', 1013, 'this browser cannot choose the audio output (no setSinkId)');
  const devices = await getAudioOutputDevices();
  if (!devices.some((d) => d.deviceId === deviceId)) throw new OTError('OT_INVALID_AUDIO_OUTPUT_SOURCE', 1011, `no audio output device with deviceId ${deviceId}`);
  active = deviceId;
  await Promise.all([...players].map((el) => (el as SinkElement).setSinkId!(deviceId)));
}

/**
 * Play the subscribers' audio that the browser's autoplay policy held back (OpenTok.js
 * `OT.unblockAudio`); call it from a user gesture.
 */
export async function unblockAudio(): Promise<undefined> {
  await Promise.all(
    [...players].map(async (el) => {
      el.muted = false;
      await el.play().catch(() => undefined);
    }),
  );
  return undefined;
}
