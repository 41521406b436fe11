import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "./database.js";
import { openPostgres } from "./postgres.js";
import { ensureCatalogue } from "./schema.js";
import { openSqlite } from "./sqlite.js";

export interface OpenDatabaseOptions {
  /** A `postgres://` URL: PostgreSQL. Without it, an embedded SQLite file. @default process.env.DATABASE_URL */
  url?: string | undefined;
  /** The SQLite file. @default a new file in a temporary directory, deleted by `close()` */
  file?: string | undefined;
  /** Books the catalogue holds (created when missing). @default 5000 */
  books?: number;
}

/** Opens the bookshop's database (PostgreSQL when a URL is given, SQLite otherwise) with its catalogue in place. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const url = options.url ?? process.env.DATABASE_URL;
  let db: Database;
  let scratch: string | undefined;
  if (url) {
    if (!/^postgres(ql)?:\/\//.test(url))
      throw new TypeError(`DATABASE_URL must be a postgres:// URL, got ${JSON.stringify(url)}`);
    db = openPostgres(url);
  } else {
    let file = options.file;
    if (file === undefined) {
      scratch = mkdtempSync(join(tmpdir(), "mcpair-bookshop-"));
      file = join(scratch, "bookshop.db");
    }
    db = openSqlite(file);
  }
  try {
    await ensureCatalogue(db, options.books ?? 5000);
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  if (scratch === undefined) return db;
  const dir = scratch;
  const close = db.close.bind(db);
  return Object.assign(db, {
    async close() {
      await close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
