/** Waiting in tests: one polling helper for every "wait until this holds". */

/** What {@link until} waits for and for how long. */
export interface UntilOptions {
  /** Give up after this long, in milliseconds. */
  timeoutMs: number;
  /** Pause between two calls of the predicate, in milliseconds. Default 150. */
  intervalMs?: number;
  /** What is awaited, for the timeout message ("first frames", "archive available"). */
  what: string;
}

/** The values {@link until} accepts as "holds". */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Calls `predicate` every `intervalMs` until it returns a truthy value, and resolves with that
 * value (so a predicate can hand back what it read: `return s.frames > 5 && s`). A predicate that
 * throws counts as "not yet". After `timeoutMs` it rejects with an error naming `what`, the last
 * value returned and, as `cause`, the last error thrown.
 *
 * @example
 * const s = await until(async () => { const s = await stats(page); return s.framesDecoded > 5 && s; }, { timeoutMs: 20_000, what: 'first frames' });
 */
export async function until<T>(predicate: () => T | Promise<T>, options: UntilOptions): Promise<Truthy<T>> {
  const { timeoutMs, intervalMs = 150, what } = options;
  const end = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v as Truthy<T>;
      last = v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > end) {
      const tail = lastError !== undefined ? `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}` : `; last result: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${tail}`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}
