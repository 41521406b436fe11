// Cached TypeORM `find` on mcpair against the same find uncached and against TypeORM's database-table cache, in one
// run, on SQLite (better-sqlite3, in process) and PostgreSQL (127.0.0.1:5432). mcpair runs on three local memcached
// servers with replicas 2. Prints one table per database.
//
//   npx tsx packages/typeorm/bench/typeorm.ts [--seconds 3] [--concurrency 16] [--rounds 2] [--db sqlite,postgres]
//
// Each variant runs once per round, rounds interleaved; the best round (highest ops/s) is printed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { PairClient } from "@mcpair/core";
import { createClient } from "@mcpair/memcached";
import { cleanupAll, startMemcached } from "@mcpair/test-utils";
import pg from "pg";
import { DataSource, type DataSourceOptions, EntitySchema, type Logger } from "typeorm";
import { mcpairTypeormCache } from "../src/index.js";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "16" },
    rounds: { type: "string", default: "2" },
    db: { type: "string", default: "sqlite,postgres" },
  },
});
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const ROUNDS = Number(args.rounds);
const PG_DATABASE = "mcpair_typeorm_bench";

interface Author {
  id: number;
  name: string;
  books?: Book[];
}
interface Book {
  id: number;
  title: string;
  authorId: number;
  author?: Author;
}
const AuthorEntity = new EntitySchema<Author>({
  name: "Author",
  tableName: "author",
  columns: { id: { type: "integer", primary: true, generated: "increment" }, name: { type: "varchar" } },
  relations: { books: { type: "one-to-many", target: "Book", inverseSide: "author" } },
});
const BookEntity = new EntitySchema<Book>({
  name: "Book",
  tableName: "book",
  columns: {
    id: { type: "integer", primary: true, generated: "increment" },
    title: { type: "varchar" },
    authorId: { type: "integer" },
  },
  relations: { author: { type: "many-to-one", target: "Author", joinColumn: { name: "authorId" } } },
});

/** Counts the statements the database executes (the database-table cache's own reads and writes included). */
class Counter implements Logger {
  statements = 0;
  logQuery(): void {
    this.statements++;
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

/** The measured query: 20 authors with their books (a LEFT JOIN), ordered. */
const query = (ds: DataSource, cache: boolean) =>
  ds.getRepository(AuthorEntity).find({ relations: { books: true }, order: { id: "ASC" }, take: 20, cache });

interface Result {
  variant: string;
  ops: number;
  p50: number;
  p99: number;
  dbQueries: number;
}

async function measure(variant: string, ds: DataSource, counter: Counter, cache: boolean): Promise<Result> {
  for (let i = 0; i < 50; i++) await query(ds, cache);
  const before = counter.statements;
  const latencies: number[] = [];
  const deadline = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        await query(ds, cache);
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((x, y) => x - y);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return {
    variant,
    ops: latencies.length / SECONDS,
    p50: pct(0.5),
    p99: pct(0.99),
    dbQueries: counter.statements - before,
  };
}

async function openDatabase(kind: string): Promise<{ options: DataSourceOptions; dispose: () => void }> {
  const entities = [AuthorEntity, BookEntity];
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "mcpair-typeorm-bench-"));
    return {
      options: { type: "better-sqlite3", database: join(dir, "bench.sqlite"), entities },
      dispose: () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const admin = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });
  await admin.connect();
  const found = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [PG_DATABASE]);
  if (found.rowCount === 0) await admin.query(`CREATE DATABASE ${PG_DATABASE}`);
  await admin.end();
  return {
    options: {
      type: "postgres",
      host: "127.0.0.1",
      port: 5432,
      username: "postgres",
      database: PG_DATABASE,
      entities,
    },
    dispose: () => undefined,
  };
}

async function open(options: DataSourceOptions, cache: DataSourceOptions["cache"], schema = false) {
  const counter = new Counter();
  const ds = new DataSource({
    ...options,
    cache,
    logger: counter,
    synchronize: schema,
    dropSchema: schema,
  } as DataSourceOptions);
  await ds.initialize();
  return { ds, counter };
}

async function benchDatabase(kind: string, client: PairClient): Promise<Result[]> {
  const db = await openDatabase(kind);
  const setup = await open(db.options, undefined, true);
  const authors = await setup.ds
    .getRepository(AuthorEntity)
    .save(Array.from({ length: 200 }, (_, i) => ({ name: `author ${i}` })));
  await setup.ds
    .getRepository(BookEntity)
    .save(
      authors.flatMap((a) => Array.from({ length: 5 }, (_, j) => ({ title: `book ${j}`, authorId: a.id }))),
    );
  await setup.ds.destroy();

  const variants: Array<[string, DataSourceOptions["cache"], boolean]> = [
    ["uncached", undefined, false],
    ["TypeORM database-table cache", { type: "database", duration: 60_000 }, true],
    ["mcpair", { provider: mcpairTypeormCache({ client }), duration: 60_000 }, true],
    [
      "mcpair, invalidateOnWrite",
      { provider: mcpairTypeormCache({ client, invalidateOnWrite: true }), duration: 60_000 },
      true,
    ],
  ];
  const best = new Map<string, Result>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, cache, cached] of variants) {
      const { ds, counter } = await open(db.options, cache, false);
      // The database-table cache creates its table on synchronize.
      if (cache !== undefined && typeof cache === "object" && cache.type === "database")
        await ds.synchronize();
      await ds.queryResultCache?.clear();
      const r = await measure(name, ds, counter, cached);
      if ((best.get(name)?.ops ?? -1) < r.ops) best.set(name, r);
      await ds.destroy();
    }
  }
  const results = variants.map(([name]) => best.get(name)!);
  db.dispose();
  return results;
}

function print(kind: string, results: Result[]): void {
  const base = results[0]!.ops;
  console.log(
    `\n| ${kind}: find 20 authors + books, ${CONCURRENCY} in flight, ${SECONDS} s | ops/s | p50 ms | p99 ms | DB statements | vs uncached |`,
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    console.log(
      `| ${r.variant} | ${Math.round(r.ops).toLocaleString("en-US")} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.dbQueries.toLocaleString("en-US")} | ${(r.ops / base).toFixed(2)}x |`,
    );
  }
}

const servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
const client = createClient({ servers: servers.map((s) => s.address), replicas: 2 });
try {
  const { loadavg } = await import("node:os");
  console.log(
    `Node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")} at start`,
  );
  for (const kind of args.db.split(",")) print(kind, await benchDatabase(kind.trim(), client));
} finally {
  await client.close();
  await cleanupAll();
}
