// Headless Chromium for the tests and the benches: Debian's /usr/bin/chromium driven through
// playwright-core, with one set of flags. Plain JavaScript so the .mjs benches can import it too.
import { existsSync } from 'node:fs';

/** Debian's Chromium (`apt-get install chromium`); playwright-core drives it, it downloads no browser. */
export const CHROMIUM = '/usr/bin/chromium';

/** Whether {@link CHROMIUM} is installed: the browser tests are skipped without it. */
export const hasChromium = existsSync(CHROMIUM);

/**
 * The flags every test and bench launches Chromium with: headless without a sandbox (tests run as
 * root in containers), nothing that reaches the network on its own (QUIC, component updates,
 * sync), media permission granted with a fake device, WebRTC allowed on loopback with real
 * 127.0.0.1 candidates (no mDNS names), and media that plays without a user gesture.
 */
export const CHROMIUM_ARGS = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
]);

/**
 * The launch flags with an optional fake camera and microphone: Chromium loops `video` (a .y4m
 * or .mjpeg file) as the camera and `audio` (a .wav file) as the microphone; without them its
 * built-in fake device (a moving pattern and a beep) is used.
 */
export function chromiumArgs(capture = {}) {
  return [
    ...CHROMIUM_ARGS,
    ...(capture.video ? [`--use-file-for-fake-video-capture=${capture.video}`] : []),
    ...(capture.audio ? [`--use-file-for-fake-audio-capture=${capture.audio}`] : []),
    ...(capture.args ?? []),
  ];
}

/** Launch {@link CHROMIUM} with {@link chromiumArgs}; the caller closes the browser. */
export async function launchChromium(capture = {}) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs(capture) });
}
