import { TICK_INTERVAL } from "./defaults.js";

/**
 * Request timeouts without a timer per request.
 *
 * Responses on a memcached connection come back in request order, so a connection's FIFO of pending requests is
 * already sorted by deadline (for requests sharing the default timeout): the only deadline worth watching is the
 * oldest one. One process-wide interval (unref'd, so it never keeps the process alive) ticks every
 * `TICK_INTERVAL` ms and asks each live connection to compare its oldest request's deadline with the clock: a
 * degenerate one-slot timer wheel whose slot is the FIFO head. Arming a request costs a `Date.now()` per batch and
 * a field write; nothing is cancelled when the answer arrives.
 */
export interface Tickable {
  /** Checks deadlines against `now` (ms since the epoch). Must not throw. */
  tick(now: number): void;
}

class TimerWheel {
  readonly #members = new Set<Tickable>();
  #timer: NodeJS.Timeout | null = null;
  readonly #interval: number;

  constructor(interval: number) {
    this.#interval = interval;
  }

  add(member: Tickable): void {
    this.#members.add(member);
    if (this.#timer === null) {
      this.#timer = setInterval(this.#run, this.#interval);
      this.#timer.unref();
    }
  }

  delete(member: Tickable): void {
    this.#members.delete(member);
    if (this.#members.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  get size(): number {
    return this.#members.size;
  }

  readonly #run = (): void => {
    const now = Date.now();
    for (const member of this.#members) {
      try {
        member.tick(now);
      } catch {
        // A bug in one connection's bookkeeping must not take the process (or the other connections) down.
      }
    }
  };
}

/** The shared wheel. */
export const timerWheel = new TimerWheel(TICK_INTERVAL);
