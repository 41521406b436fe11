// Stampede protection through core's fetch (memcached leases), on both databases and three real memcached servers:
// 100 concurrent identical cold queries make one database query, in one process and split over two processes.
// findMany, not findUnique: Prisma itself batches concurrent findUnique calls into one query, which would hide the
// cache's part.
import { useMemcachedCleanup } from "@mcpair/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, openDatabase, type TestDatabase } from "./support/databases.js";
import { type Extended, extend, freshNamespace, seed, selects } from "./support/fixtures.js";
import { startCluster, type TestCluster } from "./support/memcached.js";

useMemcachedCleanup();

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.close();
});

describe.each(DATABASES)("stampede on %s", (kind) => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await openDatabase(kind);
    await seed(db.prisma, `${kind}-stampede`);
  });
  afterAll(async () => {
    await db?.close();
  });

  const read = (p: Extended) =>
    p.post.findMany({
      where: { title: { contains: "stampede" } },
      include: { author: true },
      cache: { ttl: 60 },
    });

  it("100 concurrent identical cold queries make one database query", async () => {
    const prisma = extend(db.prisma, cluster.client());
    // Without the cache, the same burst costs 100 queries (measured here, not assumed).
    const [, uncached] = await selects(db.queries, () =>
      Promise.all(
        Array.from({ length: 100 }, () =>
          db.prisma.post.findMany({ where: { title: { contains: "stampede" } } }),
        ),
      ),
    );
    expect(uncached).toBe(100);
    const [results, q] = await selects(db.queries, () =>
      Promise.all(Array.from({ length: 100 }, () => read(prisma))),
    );
    // One findMany with an include is one Prisma query: two SELECTs (posts, then their authors).
    const [, oneQuery] = await selects(db.queries, () =>
      db.prisma.post.findMany({ where: { title: { contains: "stampede" } }, include: { author: true } }),
    );
    expect(q).toBe(oneQuery);
    expect(prisma.$cache.stats().misses).toBe(1);
    for (const r of results) expect(r).toStrictEqual(results[0]);
    expect(results[0]).toHaveLength(3);
    await prisma.$cache.close();
  });

  it("100 concurrent cold queries from two processes make one database query", async () => {
    const namespace = freshNamespace("stampede");
    const second = db.connect();
    // Two Prisma clients, two memcached clients (no shared in-process state): only memcached's lease coordinates.
    const a = extend(db.prisma, cluster.client(), { namespace });
    const b = extend(second.prisma, cluster.client(), { namespace });
    const beforeA = db.queries.selects;
    const beforeB = second.queries.selects;
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => read(i % 2 === 0 ? a : b)));
    const total = db.queries.selects - beforeA + (second.queries.selects - beforeB);
    const [, oneQuery] = await selects(db.queries, () =>
      db.prisma.post.findMany({ where: { title: { contains: "stampede" } }, include: { author: true } }),
    );
    expect(total).toBe(oneQuery);
    expect(a.$cache.stats().misses + b.$cache.stats().misses).toBe(1);
    for (const r of results) expect(r).toStrictEqual(results[0]);
    await Promise.all([a.$cache.close(), b.$cache.close()]);
  });
});
