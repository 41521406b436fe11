// Cached against uncached Prisma `findMany`, measured in the same run, on SQLite and PostgreSQL, with three local
// memcached servers (replicas 2). Prints one table. Run: `npx tsx bench/prisma.ts` in packages/prisma
// (MCPAIR_BENCH_SECONDS=<n> per case, default 2). Numbers depend on the machine and its load: compare rows of the
// same run, not runs.
import { performance } from "node:perf_hooks";
import { cleanupAll } from "@mcpair/test-utils";
import { generateClients } from "../scripts/generate.js";
import { type CacheStats, mcpairCache } from "../src/index.js";
import { type DatabaseKind, openDatabase, type TestDatabase } from "../test/support/databases.js";
import { startCluster } from "../test/support/memcached.js";
import { ensureTestDatabase } from "../test/support/postgres.js";

const SECONDS = Number(process.env.MCPAIR_BENCH_SECONDS ?? 2);
const USERS = 200;
const POSTS_PER_USER = 5;

interface Row {
  database: DatabaseKind;
  case: string;
  concurrency: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  selectsPerOp: number;
  /** Share of the cached reads answered by memcached (undefined for the uncached case). */
  hitRatio: number | undefined;
}

async function seed(db: TestDatabase): Promise<void> {
  for (let u = 0; u < USERS; u++) {
    await db.prisma.user.create({
      data: {
        email: `bench-${u}@example.com`,
        name: `User ${u}`,
        balance: "12.34",
        posts: {
          create: Array.from({ length: POSTS_PER_USER }, (_, p) => ({
            title: `Post ${u}.${p}`,
            published: p % 2 === 0,
          })),
        },
      },
    });
  }
}

/** Runs `op` from `concurrency` loops for SECONDS (after a short warm-up); returns throughput and latencies. */
async function measure(
  db: TestDatabase,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
  stats: (() => CacheStats) | undefined,
): Promise<Omit<Row, "database" | "case" | "concurrency">> {
  let i = 0;
  const warmUntil = performance.now() + 300;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < warmUntil) await op(i++);
    }),
  );
  const latencies: number[] = [];
  const selectsBefore = db.queries.selects;
  const statsBefore = stats?.();
  const start = performance.now();
  const end = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await op(i++);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const statsAfter = stats?.();
  let hitRatio: number | undefined;
  if (statsBefore !== undefined && statsAfter !== undefined) {
    const hits = statsAfter.hits + statsAfter.staleHits - statsBefore.hits - statsBefore.staleHits;
    const all = hits + statsAfter.misses - statsBefore.misses + statsAfter.fallbacks - statsBefore.fallbacks;
    hitRatio = all === 0 ? 0 : hits / all;
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? Number.NaN;
  return {
    opsPerSec: latencies.length / elapsed,
    p50: pct(0.5),
    p99: pct(0.99),
    selectsPerOp: (db.queries.selects - selectsBefore) / latencies.length,
    hitRatio,
  };
}

async function main(): Promise<void> {
  generateClients();
  await ensureTestDatabase();
  const cluster = await startCluster();
  const rows: Row[] = [];
  try {
    for (const database of ["sqlite", "postgres"] as const) {
      const db = await openDatabase(database);
      try {
        await seed(db);
        const prisma = db.prisma.$extends(
          mcpairCache({ client: cluster.client(), namespace: `bench-${database}-${Date.now()}` }),
        );
        // A typical list page: published posts with their authors, 20 per page.
        const page = (n: number) =>
          ({
            where: { published: true },
            include: { author: { select: { id: true, name: true, email: true } } },
            orderBy: { id: "asc" },
            take: 20,
            skip: n * 20,
          }) as const;
        let unique = 0;
        const stats = () => prisma.$cache.stats();
        const cases: Array<[string, (i: number) => Promise<unknown>, (() => CacheStats) | undefined]> = [
          ["uncached findMany", (i) => db.prisma.post.findMany(page(i % 10)), undefined],
          [
            "cached findMany, hit",
            (i) => prisma.post.findMany({ ...page(i % 10), cache: { ttl: 300 } }),
            stats,
          ],
          // Every call a new key: the cost of a miss (lease, query, store) over the plain query.
          [
            "cached findMany, miss",
            () =>
              prisma.post.findMany({
                ...page(0),
                where: { published: true, id: { gt: -1 - unique++ } },
                cache: { ttl: 300 },
              }),
            stats,
          ],
        ];
        for (const concurrency of [1, 16]) {
          for (const [name, op, stats] of cases) {
            rows.push({ database, case: name, concurrency, ...(await measure(db, concurrency, op, stats)) });
          }
        }
        await prisma.$cache.close();
      } finally {
        await db.close();
      }
    }
  } finally {
    await cluster.close();
    await cleanupAll();
  }

  const table = rows.map((r) => ({
    database: r.database,
    case: r.case,
    "in flight": r.concurrency,
    "ops/s": Math.round(r.opsPerSec),
    "p50 ms": r.p50.toFixed(2),
    "p99 ms": r.p99.toFixed(2),
    "SELECTs/op": r.selectsPerOp.toFixed(2),
    "cache hits": r.hitRatio === undefined ? "" : `${Math.round(r.hitRatio * 100)}%`,
  }));
  console.log(
    `\n@mcpair/prisma: cached vs uncached findMany (${USERS * POSTS_PER_USER} posts, page of 20 with authors; ${SECONDS} s per case; 3 memcached, replicas 2)\n`,
  );
  console.table(table);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
