// A fresh database per test file, with the test schema's tables and a counter of the SQL statements Prisma runs:
// SQLite in a temporary file, PostgreSQL in a schema of its own in the shared test database.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient as PostgresClient } from "../generated/postgres/client.js";
import { PrismaClient as SqliteClient } from "../generated/sqlite/client.js";
import { connectionString } from "./postgres.js";

export type DatabaseKind = "sqlite" | "postgres";
export const DATABASES: DatabaseKind[] = ["sqlite", "postgres"];

/**
 * Both generated clients have the same models; tests type them as the SQLite one (PostgreSQL's adds only
 * provider-specific filter options, which the tests do not use).
 */
export type BaseClient = SqliteClient;

/** SQL statements Prisma sent to the database (from its `query` events). */
export class QueryCounter {
  statements: string[] = [];
  /** All statements. */
  get total(): number {
    return this.statements.length;
  }
  /** SELECT statements only: what a read costs. */
  get selects(): number {
    return this.statements.filter((s) => /^\s*SELECT/i.test(s)).length;
  }
}

export interface TestDatabase {
  kind: DatabaseKind;
  prisma: BaseClient;
  queries: QueryCounter;
  /** A table's name as raw SQL must write it (PostgreSQL tables live in the file's own schema). */
  table(name: string): string;
  /** Another client on the same database (another "process"), with its own counter. */
  connect(): { prisma: BaseClient; queries: QueryCounter };
  close(): Promise<void>;
}

const sql = (name: string): string => readFileSync(new URL(`../prisma/${name}`, import.meta.url), "utf8");

export async function openDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  const clients: BaseClient[] = [];
  let make: () => BaseClient;
  let cleanup: () => Promise<void>;
  let table = (name: string) => `"${name}"`;
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "mcpair-prisma-"));
    const file = join(dir, "test.db");
    make = () =>
      new SqliteClient({
        adapter: new PrismaBetterSqlite3({ url: `file:${file}` }),
        log: [{ emit: "event", level: "query" }],
      });
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const schema = `t_${process.pid}_${randomBytes(4).toString("hex")}`;
    table = (name) => `"${schema}"."${name}"`;
    const admin = new pg.Client({ connectionString: connectionString() });
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${schema}"`);
    await admin.query(`SET search_path TO "${schema}"`);
    await admin.query(sql("postgres.sql"));
    make = () =>
      new PostgresClient({
        adapter: new PrismaPg({ connectionString: connectionString(), max: 10 }, { schema }),
        log: [{ emit: "event", level: "query" }],
      }) as unknown as BaseClient;
    cleanup = async () => {
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.end();
    };
  }
  const connect = () => {
    const prisma = make();
    const queries = new QueryCounter();
    // The client is typed without its log options (BaseClient), which hides the "query" event from $on's type.
    (prisma as unknown as { $on(event: "query", cb: (e: { query: string }) => void): void }).$on(
      "query",
      (e) => queries.statements.push(e.query),
    );
    clients.push(prisma);
    return { prisma, queries };
  };
  const first = connect();
  if (kind === "sqlite") {
    // Through Prisma's own connection (better-sqlite3 underneath), one statement at a time.
    for (const statement of sql("sqlite.sql")
      .replace(/--[^\n]*/g, "")
      .split(";")) {
      if (statement.trim() !== "") await first.prisma.$executeRawUnsafe(statement);
    }
  }
  return {
    kind,
    prisma: first.prisma,
    queries: first.queries,
    table,
    connect,
    close: async () => {
      await Promise.all(clients.map((c) => c.$disconnect()));
      await cleanup();
    },
  };
}
