import type { CacheClient } from "@mcpair/memcached";
import { mcpairCache } from "@mcpair/prisma";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import type { Database } from "./db/database.js";
import { PrismaClient as PostgresClient } from "./generated/postgres/client.js";
import { PrismaClient as SqliteClient } from "./generated/sqlite/client.js";

/** A reader's review, as the API returns it. */
export interface Review {
  id: number;
  bookId: number;
  rating: number;
  body: string;
  createdAt: string;
}

/**
 * Reviews, through Prisma with the `@mcpair/prisma` extension. A read with `cache: { ttl }` goes through mcpair's
 * `fetch` (one database query per key across every process, however many ask at once); a write through Prisma
 * invalidates the cached reads of the models it touched, in every process (after the commit in a transaction).
 *
 * Prisma's schema fixes the database kind when the client is generated: the app has one client per kind
 * (prisma/sqlite.prisma, prisma/postgres.prisma) and picks the one for the database it runs on.
 */
export function createReviews(cache: CacheClient, db: Database) {
  const c = db.connection;
  const log = [{ emit: "event" as const, level: "query" as const }];
  const base: SqliteClient<"query"> =
    c.kind === "sqlite"
      ? new SqliteClient({ adapter: new PrismaBetterSqlite3({ url: `file:${c.file}` }), log })
      : // Same models, same API: typed as the SQLite client.
        (new PostgresClient({
          adapter: new PrismaPg({ connectionString: c.url, max: 5 }),
          log,
        }) as unknown as SqliteClient<"query">);
  // Count every statement Prisma sends, for the dashboard's database rate.
  base.$on("query", (e) => db.counted(e.query));
  const prisma = base.$extends(mcpairCache({ client: cache, namespace: "bookshop:prisma" }));

  const toReview = (r: Review): Review => ({ ...r });

  return {
    /** The latest ten reviews of a book, served from memcached for a minute. */
    async latest(bookId: number): Promise<Review[]> {
      const rows = await prisma.review.findMany({
        where: { bookId },
        orderBy: { id: "desc" },
        take: 10,
        cache: { ttl: 60 },
      });
      return rows.map(toReview);
    },

    /** Adds a review. The extension invalidates the cached review reads on its own (`invalidateOnWrite`). */
    async add(bookId: number, rating: number, body: string): Promise<Review> {
      return toReview(
        await prisma.review.create({ data: { bookId, rating, body, createdAt: new Date().toISOString() } }),
      );
    },

    close: () => prisma.$disconnect(),
  };
}

export type Reviews = ReturnType<typeof createReviews>;
