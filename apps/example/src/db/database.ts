/**
 * The bookshop's database, behind one small interface so the same app runs on an embedded SQLite file (the default)
 * or on PostgreSQL (`DATABASE_URL`). Every statement is counted: the number the dashboard plots and the demo reports
 * is "how many queries reached the database", which is exactly what a cache in front of it is meant to keep down.
 */
export interface Database {
  readonly kind: "sqlite" | "postgres";
  /** Where the data lives (a file path, or the PostgreSQL URL without its password). */
  readonly location: string;
  /** How the ORMs open their own connections to the same database. */
  readonly connection:
    | { readonly kind: "sqlite"; readonly file: string }
    | { readonly kind: "postgres"; readonly url: string };
  /**
   * Statements run so far, from every source (this module, and the ORMs: their query loggers call `counted`), split
   * into reads (`SELECT`: the load a cache is there to take off the database) and writes (everything else).
   */
  readonly queries: { readonly reads: number; readonly writes: number };
  /** Runs one statement with `?` placeholders and resolves its rows (`RETURNING` rows for writes). */
  query<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Counts a statement that some other client (TypeORM, Prisma) sent to this database. */
  counted(sql: string): void;
  close(): Promise<void>;
}

/** Counts `sql` as a read or a write. */
export function countStatement(counts: { reads: number; writes: number }, sql: string): void {
  if (/^\s*(select|with)\b/i.test(sql)) counts.reads++;
  else counts.writes++;
}

/** A book as the API returns it. `version` grows by one on every update: the demo's stale-read checker relies on it. */
export interface Book {
  id: number;
  title: string;
  authorId: number;
  priceCents: number;
  stock: number;
  version: number;
  description: string;
}

/** The columns of a `books` row, as both drivers return them. */
export interface BookRow {
  id: number;
  title: string;
  author_id: number;
  price_cents: number;
  stock: number;
  version: number;
  description: string;
}

export const toBook = (r: BookRow): Book => ({
  id: Number(r.id),
  title: r.title,
  authorId: Number(r.author_id),
  priceCents: Number(r.price_cents),
  stock: Number(r.stock),
  version: Number(r.version),
  description: r.description,
});
