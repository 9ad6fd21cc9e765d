/** Version of this package, sent in the `User-Agent` header (a test keeps it equal to package.json). */
export const SDK_VERSION = '0.1.0';
