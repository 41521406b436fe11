// Real databases for the tests: a SQLite file (better-sqlite3 12) or the PostgreSQL server on 127.0.0.1:5432 (our
// own database, created idempotently), and a TypeORM logger that records every statement the driver executes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataSource, type DataSourceOptions, type Logger } from "typeorm";
import { ENTITIES } from "./entities.js";

export type Dialect = "sqlite" | "postgres";

export const PG_DATABASE = "mcpair_typeorm_test";
const PG = { host: "127.0.0.1", port: 5432, username: "postgres" } as const;

/** Tables of the test entities, as TypeORM writes them in SQL. */
const OUR_TABLES = /"(user|post|tag|post_tags|user_post_count)"/;

/**
 * Records the SQL a DataSource sends to its database. `reads()` counts the SELECTs on the test tables, which is what
 * a cache hit must avoid.
 */
export class QueryLog implements Logger {
  readonly statements: string[] = [];
  readonly warnings: string[] = [];

  logQuery(query: string): void {
    this.statements.push(query);
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(level: "log" | "info" | "warn", message: unknown): void {
    if (level === "warn") this.warnings.push(String(message));
  }

  /** SELECTs on the test tables executed so far. */
  reads(): number {
    return this.statements.filter((q) => /^\s*SELECT\b/i.test(q) && OUR_TABLES.test(q)).length;
  }

  /** Runs `fn` and returns its result with the number of test-table SELECTs it caused. */
  async count<T>(fn: () => Promise<T>): Promise<{ value: T; reads: number }> {
    const before = this.reads();
    const value = await fn();
    return { value, reads: this.reads() - before };
  }
}

/** Creates the PostgreSQL test database unless it exists (safe when two processes race to create it). */
export async function ensurePostgresDatabase(): Promise<void> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ host: PG.host, port: PG.port, user: PG.username, database: "postgres" });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [PG_DATABASE]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${PG_DATABASE}`);
      } catch (error) {
        // 42P04 duplicate_database, 23505 unique_violation: another process created it first.
        const code = (error as { code?: string }).code;
        if (code !== "42P04" && code !== "23505") throw error;
      }
    }
  } finally {
    await client.end();
  }
}

/** A database for one test file: connection options for its DataSources, and cleanup. */
export interface TestDatabase {
  dialect: Dialect;
  options: DataSourceOptions;
  dispose(): void;
}

export async function openTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === "postgres") {
    await ensurePostgresDatabase();
    return {
      dialect,
      options: { type: "postgres", ...PG, database: PG_DATABASE, entities: ENTITIES },
      dispose: () => undefined,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), "mcpair-typeorm-"));
  return {
    dialect,
    options: { type: "better-sqlite3", database: join(dir, "test.sqlite"), entities: ENTITIES },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Opens a DataSource with a query log; `schema: true` (re)creates the tables first. */
export async function openDataSource(
  db: TestDatabase,
  cache: DataSourceOptions["cache"],
  opts: { schema?: boolean } = {},
): Promise<{ ds: DataSource; log: QueryLog }> {
  const log = new QueryLog();
  const ds = new DataSource({
    ...db.options,
    cache,
    logger: log,
    synchronize: opts.schema === true,
    dropSchema: opts.schema === true,
  } as DataSourceOptions);
  await ds.initialize();
  return { ds, log };
}
