import { AbortError } from "./errors.js";

/**
 * Concurrent `fetch` calls for the same key (and options) in one process share one flow: the first caller's
 * `start()` runs, the others wait on its promise. The flow is forgotten when it settles.
 */
export function sharedFlow<T>(
  flows: Map<string, Promise<unknown>>,
  key: string,
  start: () => Promise<T>,
): Promise<T> {
  const running = flows.get(key) as Promise<T> | undefined;
  if (running) return running;
  const p = start();
  flows.set(key, p);
  const forget = () => {
    if (flows.get(key) === p) flows.delete(key);
  };
  p.then(forget, forget);
  return p;
}

/**
 * `p`, or an `AbortError` as soon as `signal` fires. The work behind `p` goes on for its other waiters: one caller
 * giving up does not fail the others (the flow itself is bounded by its timeout and lease).
 */
export function withSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new AbortError("fetch aborted", { cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortError("fetch aborted", { cause: signal.reason }));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
