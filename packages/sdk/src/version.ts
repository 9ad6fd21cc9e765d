/** Version of this package, sent in the `User-Agent` header (a test keeps it equal to package.json). */
export const SDK_VERSION = '0.1.0';

/**
 * The opentok-node release whose behaviour this SDK reproduces, named first in its `User-Agent`
 * (`OpenTok-Node-SDK/2.23.1 (compatible; Tokhost-Node-SDK/<version>)`, as browsers name the engine
 * they are compatible with). Servers key behaviour off that name: Tokhost itself answers a stream
 * GET as `text/plain` for opentok-node's double JSON parse, and the official suite's mocks match
 * it. 2.23.1 is the source release (tag `v2.23.1`, the suite's `package.json`) whose `lib/` the
 * npm release 2.23.2 ships unchanged (docs/compat.md, D10).
 */
export const OPENTOK_NODE_COMPAT_VERSION = '2.23.1';
