import type { PairClient } from "@mcpair/memcached";
import { type Book, type BookRow, type Database, toBook } from "./db/database.js";

/** Cached books live an hour; mcpair caps every lifetime anyway (23 h by default), never "forever". */
const BOOK_TTL = 3600;

/** Told of every read of the hot endpoint, and whether it had to query the database (for the dashboard). */
export type ReadObserver = (loaded: boolean) => void;

/**
 * The hot path of the bookshop: one book by id, read through mcpair's `fetch`.
 *
 * `fetch` is read-through with memcached leases: on a miss exactly one caller in the whole fleet runs the loader (one
 * database query) while the others wait for its result, so a cold or rebooted server never turns into a stampede.
 * With pairs, a key whose first server is away (draining, rebooting, just restarted empty) is read from its second
 * server and copied back: no database query at all.
 */
export function createCatalogue(
  cache: Pick<PairClient, "fetch" | "delete">,
  db: Database,
  onRead: ReadObserver = () => undefined,
) {
  const key = (id: number) => `book:${id}`;

  return {
    key,

    /** The book, or `null` when there is none (a miss is cached too: unknown ids do not reach the database either). */
    async book(id: number): Promise<Book | null> {
      let loaded = false;
      const book = await cache.fetch(
        key(id),
        async () => {
          loaded = true;
          const [row] = await db.query<BookRow>("SELECT * FROM books WHERE id = ?", [id]);
          return row === undefined ? null : toBook(row);
        },
        { ttl: BOOK_TTL },
      );
      onRead(loaded);
      return book;
    },

    /**
     * Changes a book's price. Write invalidation: the database first, then `delete` on the cache. mcpair deletes on
     * the key's last replica first, and a `fetch` that loaded the old row meanwhile cannot store it (the delete
     * removed its lease): once this resolves, no reader anywhere gets the old price again.
     */
    async setPrice(id: number, priceCents: number): Promise<Book | null> {
      const [row] = await db.query<BookRow>(
        "UPDATE books SET price_cents = ?, version = version + 1 WHERE id = ? RETURNING *",
        [priceCents, id],
      );
      await cache.delete(key(id));
      return row === undefined ? null : toBook(row);
    },
  };
}

export type Catalogue = ReturnType<typeof createCatalogue>;
