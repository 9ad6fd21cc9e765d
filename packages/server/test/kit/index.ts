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
export { call, OpenTok, projectJwt } from './opentok.js';
export type { Cb, OpenTokSdk } from './opentok.js';
export { sleep, until } from './until.js';
export { foreignRequests, OPENTOK_JS_LATEST, OPENTOK_JS_RELEASES, recordRequests, startOpenTokJsOrigin } from './opentok-js.js';
export type { OpenTokJsOrigin, OpenTokJsRelease, OtjsDriver, OtjsError, OtjsEvent, OtjsLook } from './opentok-js.js';
export { startTcpProxy } from './tcp-proxy.js';
export type { TcpProxy } from './tcp-proxy.js';
export type { Truthy, UntilOptions } from './until.js';
