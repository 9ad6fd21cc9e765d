/**
 * Promise + optional trailing Node-style callback, the one helper every public method goes through.
 */

/** A Node-style callback: `(err)` on failure, `(null, result)` on success. */
export type Callback<T> = (err: Error | null, result?: T) => void;

/**
 * Without `callback`, returns the promise. With one, calls it with `(err)` or
 * `(null, ...spread(result))` and returns `undefined`; the promise's rejection is consumed so it can
 * never surface as an unhandled rejection. A callback that throws is called once more with what it
 * threw, as opentok-node's request helper does (an app written for it may rely on a throwing
 * callback not taking the process down); if it throws again, that is an uncaught exception.
 */
export function settle<T>(
  promise: Promise<T>,
  callback: ((err: Error | null, ...results: never[]) => void) | undefined,
  spread: (result: T) => unknown[] = (r) => (r === undefined ? [] : [r]),
): Promise<T> | undefined {
  if (typeof callback !== 'function') return promise;
  const cb = callback as (err: Error | null, ...results: unknown[]) => void;
  const invoke = (err: Error | null, results: unknown[]) => {
    try {
      cb(err, ...results);
    } catch (thrown) {
      cb(thrown instanceof Error ? thrown : new Error(String(thrown)));
    }
  };
  promise.then(
    (result) => queueMicrotask(() => invoke(null, spread(result))),
    (err: unknown) => queueMicrotask(() => invoke(err instanceof Error ? err : new Error(String(err)), [])),
  );
  return undefined;
}

/** Split a trailing callback off an argument list. */
export function popCallback(args: unknown[]): ((err: Error | null, ...results: never[]) => void) | undefined {
  const last = args[args.length - 1];
  if (typeof last === 'function') {
    args.pop();
    return last as (err: Error | null, ...results: never[]) => void;
  }
  return undefined;
}
