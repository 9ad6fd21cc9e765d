/**
 * Entry of the ESM build served at `/js/tokhost.esm.js`: same API as the package, talking by
 * default to the server the module was loaded from.
 */
import { setServerUrl } from './index.js';

setServerUrl(new URL('/', import.meta.url).toString());
export * from './index.js';
export { default } from './index.js';
