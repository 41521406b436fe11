import type { Database } from "./database.js";

/** The catalogue: authors, their books, and readers' reviews. */
function ddl(kind: Database["kind"]): string[] {
  // The one difference between the two dialects here: how a table numbers its rows.
  const serial = kind === "sqlite" ? "INTEGER PRIMARY KEY" : "SERIAL PRIMARY KEY";
  return [
    "CREATE TABLE IF NOT EXISTS authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, bio TEXT NOT NULL)",
    `CREATE TABLE IF NOT EXISTS books (
       id INTEGER PRIMARY KEY, title TEXT NOT NULL, author_id INTEGER NOT NULL REFERENCES authors(id),
       price_cents INTEGER NOT NULL, stock INTEGER NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL)`,
    "CREATE INDEX IF NOT EXISTS books_author ON books (author_id)",
    `CREATE TABLE IF NOT EXISTS reviews (
       id ${serial}, book_id INTEGER NOT NULL REFERENCES books(id), rating INTEGER NOT NULL,
       body TEXT NOT NULL, created_at TEXT NOT NULL)`,
    "CREATE INDEX IF NOT EXISTS reviews_book ON reviews (book_id)",
  ];
}

const ADJECTIVES = [
  "Silent",
  "Golden",
  "Hidden",
  "Last",
  "Broken",
  "Northern",
  "Paper",
  "Quiet",
  "Iron",
  "Lost",
];
const NOUNS = [
  "Garden",
  "River",
  "Lighthouse",
  "Archive",
  "Winter",
  "Harbour",
  "Orchard",
  "Engine",
  "Atlas",
  "Key",
];
const FILLER =
  "A story about caches, databases and the people who keep them running at three in the morning. " +
  "Every chapter ends with a server coming back empty and a pager that does not go off. ";

/**
 * Creates the tables and fills them with `books` books (deterministic: the same ids and titles on every run) when
 * the catalogue holds fewer. Idempotent: an existing, large enough catalogue is left as it is.
 */
export async function ensureCatalogue(db: Database, books: number): Promise<void> {
  for (const statement of ddl(db.kind)) await db.query(statement);
  const [row] = await db.query<{ n: number | string }>("SELECT COUNT(*) AS n FROM books");
  const have = Number(row?.n ?? 0);
  if (have >= books) return;

  const authors = Math.max(1, Math.ceil(books / 25));
  await insertRows(
    db,
    "authors (id, name, bio)",
    3,
    Array.from({ length: authors }, (_, i) => [i + 1, `Author ${i + 1}`, `Writes about ${NOUNS[i % 10]}s.`]),
    "ON CONFLICT (id) DO NOTHING",
  );
  await insertRows(
    db,
    "books (id, title, author_id, price_cents, stock, version, description)",
    7,
    Array.from({ length: books - have }, (_, j) => {
      const i = have + j;
      const title = `The ${ADJECTIVES[i % 10]} ${NOUNS[Math.floor(i / 10) % 10]} ${Math.floor(i / 100) + 1}`;
      return [i + 1, title, (i % authors) + 1, 500 + ((i * 37) % 4500), 1 + (i % 40), 1, FILLER + FILLER];
    }),
    "ON CONFLICT (id) DO NOTHING",
  );
}

/** Multi-row INSERTs of 200 rows each: a few statements instead of thousands (both dialects accept the syntax). */
async function insertRows(
  db: Database,
  target: string,
  columns: number,
  rows: unknown[][],
  suffix: string,
): Promise<void> {
  const tuple = `(${Array(columns).fill("?").join(", ")})`;
  for (let from = 0; from < rows.length; from += 200) {
    const chunk = rows.slice(from, from + 200);
    await db.query(
      `INSERT INTO ${target} VALUES ${chunk.map(() => tuple).join(", ")} ${suffix}`,
      chunk.flat(),
    );
  }
}
