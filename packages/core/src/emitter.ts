/**
 * A minimal typed event emitter: core stays free of `node:events` so it can run in any JS runtime that provides the
 * few Node modules it uses. A listener that throws is isolated (its error is reported on `"error"` listeners, or
 * dropped when there are none) so observability can never break a request.
 */
export class Emitter<Events extends { [K in keyof Events]: (...args: never[]) => void }> {
  #listeners = new Map<keyof Events, Set<(...args: never[]) => void>>();

  on<K extends keyof Events>(event: K, listener: Events[K]): this {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return this;
  }

  off<K extends keyof Events>(event: K, listener: Events[K]): this {
    this.#listeners.get(event)?.delete(listener);
    return this;
  }

  once<K extends keyof Events>(event: K, listener: Events[K]): this {
    const wrapped = ((...args: never[]) => {
      this.off(event, wrapped);
      (listener as (...a: never[]) => void)(...args);
    }) as Events[K];
    return this.on(event, wrapped);
  }

  protected emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    const set = this.#listeners.get(event);
    if (!set || set.size === 0) return;
    for (const listener of [...set]) {
      try {
        (listener as (...a: Parameters<Events[K]>) => void)(...args);
      } catch {
        // A faulty listener must not fail the request that triggered the event.
      }
    }
  }

  protected hasListeners(event: keyof Events): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }
}
