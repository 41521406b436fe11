import BetterSqlite3 from "better-sqlite3";
import { countStatement, type Database } from "./database.js";

/**
 * An embedded SQLite database in one file (so TypeORM and Prisma can open the same file through their own drivers).
 * WAL mode: readers never wait for the writer.
 */
export function openSqlite(file: string): Database {
  const db = new BetterSqlite3(file, { timeout: 5000 });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  // Prepared once per SQL text; the app runs a handful of distinct statements.
  const statements = new Map<string, ReturnType<typeof db.prepare>>();
  const queries = { reads: 0, writes: 0 };
  return {
    kind: "sqlite",
    location: file,
    connection: { kind: "sqlite", file },
    queries,
    async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      countStatement(queries, sql);
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = db.prepare(sql);
        if (statements.size < 500) statements.set(sql, statement);
      }
      if (statement.reader) return statement.all(...params) as T[];
      statement.run(...params);
      return [];
    },
    counted(sql) {
      countStatement(queries, sql);
    },
    async close() {
      db.close();
    },
  };
}
