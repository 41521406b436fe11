import type { CacheClient } from "@mcpair/memcached";
import { mcpairTypeormCache } from "@mcpair/typeorm";
import { DataSource, EntitySchema, type Logger } from "typeorm";
import type { Database } from "./db/database.js";

/** An author, and the titles of their books: the author pages of the shop, read through TypeORM. */
export interface Author {
  id: number;
  name: string;
  bio: string;
}

interface BookTitle {
  id: number;
  title: string;
  authorId: number;
}

// Entity schemas rather than decorators: no `experimentalDecorators`, and explicit column types (esbuild and tsx
// emit no decorator metadata for TypeORM to infer them from).
const AuthorEntity = new EntitySchema<Author>({
  name: "Author",
  tableName: "authors",
  columns: { id: { type: Number, primary: true }, name: { type: String }, bio: { type: String } },
});
const BookTitleEntity = new EntitySchema<BookTitle>({
  name: "BookTitle",
  tableName: "books",
  columns: {
    id: { type: Number, primary: true },
    title: { type: String },
    authorId: { type: Number, name: "author_id" },
  },
});

/** Counts every statement TypeORM sends, so the dashboard's database rate includes them. */
function countingLogger(db: Database): Logger {
  return {
    logQuery: (query) => db.counted(query),
    logQueryError: () => undefined,
    logQuerySlow: () => undefined,
    logSchemaBuild: () => undefined,
    logMigration: () => undefined,
    log: () => undefined,
  };
}

/**
 * TypeORM with `@mcpair/typeorm` as its query-result cache. `cache: ...` on a query stores its rows in memcached
 * (on two servers, like everything else); `invalidateOnWrite` tags each cached query with the tables it read, and a
 * write through TypeORM to one of them invalidates it, in every process, when the transaction commits.
 *
 * The author pages list titles, which never change; prices change through raw SQL (the hot endpoint), which TypeORM
 * cannot see: a page that showed prices would need `queryResultCache.invalidateTables(["books"])` after those writes.
 */
export async function createAuthors(cache: CacheClient, db: Database) {
  const c = db.connection;
  const dataSource = new DataSource({
    ...(c.kind === "sqlite"
      ? { type: "better-sqlite3" as const, database: c.file }
      : { type: "postgres" as const, url: c.url }),
    entities: [AuthorEntity, BookTitleEntity],
    logging: ["query"],
    logger: countingLogger(db),
    cache: {
      provider: mcpairTypeormCache({ client: cache, invalidateOnWrite: true, namespace: "bookshop:typeorm" }),
      duration: 60_000,
      // A cache failure falls back to the database instead of failing the page.
      ignoreErrors: true,
    },
  });
  await dataSource.initialize();
  const authors = dataSource.getRepository(AuthorEntity);
  const titles = dataSource.getRepository(BookTitleEntity);

  return {
    dataSource,

    /** The author and the titles of their books, or `null`. Both queries are served from memcached for a minute. */
    async page(id: number): Promise<(Author & { books: Array<{ id: number; title: string }> }) | null> {
      const author = await authors.findOne({ where: { id }, cache: 60_000 });
      if (!author) return null;
      const books = await titles.find({
        select: { id: true, title: true },
        where: { authorId: id },
        order: { id: "ASC" },
        cache: 60_000,
      });
      return { ...author, books: books.map((b) => ({ id: b.id, title: b.title })) };
    },

    /** Changes a bio. TypeORM reports the write; the cached queries on `authors` are invalidated on commit. */
    async setBio(id: number, bio: string): Promise<Author | null> {
      const result = await authors.update({ id }, { bio });
      if (!result.affected) return null;
      return authors.findOne({ where: { id } });
    },

    close: () => dataSource.destroy(),
  };
}

export type Authors = Awaited<ReturnType<typeof createAuthors>>;
