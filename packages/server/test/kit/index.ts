/**
 * The shared browser test kit: Chromium with fake devices, the fixture app pages and their
 * drivers, a test server, the official SDK as client, and one polling helper.
 */
export { CHROMIUM, CHROMIUM_ARGS, chromiumArgs, hasChromium, launchChromium } from './chromium.mjs';
export type { FakeCapture } from './chromium.mjs';
export { fakeCamera, hasCommands } from './media-files.js';
export type { FakeCameraOptions } from './media-files.js';
export { openApp, SDK_BUILT, startAppOrigin } from './app-page.js';
export type { AppDriver, AppEvent, AppOrigin, AppPageName, AppStartOptions, AppStats, E2eeAppDriver, E2eeAppWindow, E2eeLook, Rgb } from './app-page.js';
export { startServer, TEST_SERVER_DEFAULTS } from './server.js';
export { call, OpenTok } from './opentok.js';
export type { Cb, OpenTokSdk } from './opentok.js';
export { sleep, until } from './until.js';
export type { Truthy, UntilOptions } from './until.js';
