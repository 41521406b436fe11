import pg from "pg";
import { countStatement, type Database } from "./database.js";

/** PostgreSQL through a `pg` pool. The app writes `?` placeholders; PostgreSQL wants `$1, $2, ...`. */
export function openPostgres(url: string): Database {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // A pool emits errors of idle clients (the server restarted): without a listener they would crash the process.
  pool.on("error", () => undefined);
  const numbered = new Map<string, string>();
  const queries = { reads: 0, writes: 0 };
  return {
    kind: "postgres",
    location: url.replace(/:[^:@/]*@/, ":***@"),
    connection: { kind: "postgres", url },
    queries,
    async query<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      countStatement(queries, sql);
      let text = numbered.get(sql);
      if (text === undefined) {
        let n = 0;
        text = sql.replace(/\?/g, () => `$${++n}`);
        if (numbered.size < 500) numbered.set(sql, text);
      }
      const result = await pool.query(text, params as unknown[]);
      return result.rows as T[];
    },
    counted(sql) {
      countStatement(queries, sql);
    },
    async close() {
      await pool.end();
    },
  };
}
