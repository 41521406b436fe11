import { setTimeout as delay } from "node:timers/promises";
import { HarnessError } from "./harness-error.js";

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this many milliseconds. @default 5000 */
  timeout?: number;
  /** Milliseconds between two checks. @default 10 */
  interval?: number;
  /** What is awaited, for the error message ("the server to answer"). @default "the condition" */
  what?: string;
}

/**
 * Polls `check` until it returns a truthy value and resolves with that value. Use it instead of sleeping for a fixed
 * time. A `check` that throws counts as "not yet"; its last error becomes the `cause` of the timeout error.
 *
 * @throws {HarnessError} `ERR_MCPAIR_TEST_WAIT_TIMEOUT` when the deadline passes first.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  opts: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeout = opts.timeout ?? 5000;
  const interval = opts.interval ?? 10;
  const what = opts.what ?? "the condition";
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const why = lastError === undefined ? "" : ` (last check threw: ${String(lastError)})`;
      throw new HarnessError(`timed out after ${timeout} ms waiting for ${what}${why}`, {
        code: "ERR_MCPAIR_TEST_WAIT_TIMEOUT",
        cause: lastError,
      });
    }
    await delay(Math.min(interval, left));
  }
}
