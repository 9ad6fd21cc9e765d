import type { Browser } from 'playwright-core';

/** What Chromium's fake capture devices play, and any extra flags. */
export interface FakeCapture {
  /** A .y4m (or .mjpeg) file Chromium loops as the camera. */
  video?: string;
  /** A .wav file Chromium loops as the microphone. */
  audio?: string;
  /** More flags after the shared ones. */
  args?: readonly string[];
}
export const CHROMIUM: string;
export const hasChromium: boolean;
export const CHROMIUM_ARGS: readonly string[];
export function chromiumArgs(capture?: FakeCapture): string[];
export function launchChromium(capture?: FakeCapture): Promise<Browser>;
