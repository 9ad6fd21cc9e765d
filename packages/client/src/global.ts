/**
 * Entry of the `<script src=".../js/tokhost.js">` build: exposes `window.OT`, talking by default to
 * the server the script was loaded from.
 */
import { OT, setServerUrl } from './index.js';

const script = typeof document !== 'undefined' ? document.currentScript : null;
if (script instanceof HTMLScriptElement && script.src) setServerUrl(new URL('/', script.src).toString());
(globalThis as unknown as { OT: typeof OT }).OT = OT;
