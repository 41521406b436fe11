import { randomUUID } from "node:crypto";
import { createKeyv } from "@mcpair/keyv";
import type { CacheClient } from "@mcpair/memcached";

/** A shopper's session: who, and what is in the cart. It lives only in memcached (there is no sessions table). */
export interface Session {
  name: string;
  cart: number[];
  createdAt: number;
}

const SESSION_TTL_MS = 30 * 60_000;

/**
 * Sessions and a write rate limit, through Keyv with the `@mcpair/keyv` store.
 *
 * Sessions are the classic cache that is not a cache: losing one logs a user out. With plain hashing, rebooting a
 * memcached server logs out a third of the users; with mcpair every session is on two servers, so a reboot (or a crash)
 * of one loses none. Each Keyv gets its own mcpair namespace: `clear()` on one never touches the other, nor the
 * catalogue's keys, and needs no `flush_all`.
 */
export function createSessions(cache: CacheClient, options: { writesPerMinute?: number } = {}) {
  const sessions = createKeyv(cache, { namespace: "sessions" });
  const limits = createKeyv(cache, { namespace: "rate-limit" });
  const writesPerMinute = options.writesPerMinute ?? 120;
  // Keyv reports store errors as events; without a listener an EventEmitter would throw them.
  sessions.on("error", () => undefined);
  limits.on("error", () => undefined);

  return {
    async create(name: string): Promise<{ id: string; session: Session }> {
      const id = randomUUID();
      const session: Session = { name, cart: [], createdAt: Date.now() };
      await sessions.set(id, session, SESSION_TTL_MS);
      return { id, session };
    },

    get(id: string): Promise<Session | undefined> {
      return sessions.get<Session>(id);
    },

    /** Adds a book to the cart, and keeps the session alive for another 30 minutes. */
    async addToCart(id: string, bookId: number): Promise<Session | undefined> {
      const session = await sessions.get<Session>(id);
      if (!session) return undefined;
      session.cart.push(bookId);
      await sessions.set(id, session, SESSION_TTL_MS);
      return session;
    },

    /**
     * A fixed-window limit of `writesPerMinute` writes per client. Keyv has no atomic increment, so two concurrent
     * requests can both read the same count: the limit is approximate (use the mcpair client's `incr` for an exact
     * one). It fails open: when the cache cannot answer, the request is allowed.
     */
    async allowWrite(clientId: string): Promise<boolean> {
      const window = Math.floor(Date.now() / 60_000);
      const key = `${clientId}:${window}`;
      try {
        const used = (await limits.get<number>(key)) ?? 0;
        if (used >= writesPerMinute) return false;
        await limits.set(key, used + 1, 61_000);
      } catch {
        // the cache is unavailable: let the write through
      }
      return true;
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
