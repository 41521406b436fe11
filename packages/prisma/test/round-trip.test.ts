// Values come back from memcached exactly as Prisma returned them, on both databases: DateTime, BigInt beyond 2^53,
// Decimal with every digit, Bytes (with 0x00 and 0xff), Json (including objects that look like the cache's own tags),
// null versus a field that was not selected, nested relations, and the shapes of aggregate and groupBy.
import { useMemcachedCleanup } from "@mcpair/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma } from "./generated/sqlite/client.js";
import { DATABASES, openDatabase, type TestDatabase } from "./support/databases.js";
import { type Extended, extend, selects } from "./support/fixtures.js";
import { startCluster, type TestCluster } from "./support/memcached.js";

useMemcachedCleanup();

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.close();
});

/** Cached result equals the live one, deeply and by class. */
function expectSame(cached: unknown, live: unknown): void {
  expect(cached).toStrictEqual(live);
}

describe.each(DATABASES)("exact round trip on %s", (kind) => {
  let db: TestDatabase;
  let prisma: Extended;
  let id: number;
  // PostgreSQL's NUMERIC keeps 20 integer digits and 9 decimals (beyond a double's precision); SQLite stores a
  // DECIMAL column as a double, so there the value must fit one.
  const decimal = kind === "postgres" ? "12345678901234567890.123456789" : "12345.6789";
  const avatar = new Uint8Array([0, 1, 127, 128, 254, 255]);
  const settings = {
    theme: "dark",
    nested: { list: [1, "two", null, true, { deep: 1.5 }] },
    // Shaped like the serializer's tags: must come back as plain data, not as a Date or BigInt.
    $: "D",
    v: 0,
    fake: { $: "B", v: "123" },
    escaped: { $: "O", v: [["a", 1]] },
  };

  beforeAll(async () => {
    db = await openDatabase(kind);
    prisma = extend(db.prisma, cluster.client());
    const user = await db.prisma.user.create({
      data: {
        email: `${kind}-rt@example.com`,
        name: null,
        createdAt: new Date("2024-02-29T23:59:59.123Z"),
        balance: new Prisma.Decimal(decimal),
        visits: 9_007_199_254_740_993n,
        avatar,
        settings,
        score: -0.1,
        profile: { create: { bio: 'ünïcödé ✓ 🚀\t"quoted"\n end' } },
        posts: {
          create: [
            { title: "a", published: true, comments: { create: [{ body: "x" }, { body: "y" }] } },
            { title: "b", comments: { create: [] } },
          ],
        },
      },
    });
    id = user.id;
  });
  afterAll(async () => {
    await prisma?.$cache.close();
    await db?.close();
  });

  /** The live result (first call, a miss) and the cached one (second call, a hit), checked to be a hit. */
  async function liveAndCached<T>(read: () => Promise<T>): Promise<[T, T]> {
    const [live, q1] = await selects(db.queries, read);
    const [cached, q2] = await selects(db.queries, read);
    expect(q1).toBeGreaterThan(0);
    expect(q2).toBe(0);
    return [live, cached];
  }

  it("keeps every scalar type and class", async () => {
    const [live, cached] = await liveAndCached(() =>
      prisma.user.findUniqueOrThrow({ where: { id }, cache: { ttl: 60 } }),
    );
    expectSame(cached, live);
    expect(cached.createdAt).toBeInstanceOf(Date);
    expect(cached.createdAt.toISOString()).toBe("2024-02-29T23:59:59.123Z");
    expect(typeof cached.visits).toBe("bigint");
    expect(cached.visits).toBe(9_007_199_254_740_993n);
    expect(cached.balance).toBeInstanceOf(Prisma.Decimal);
    expect(cached.balance.toString()).toBe(decimal);
    expect(cached.avatar).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(cached.avatar)).toBe(false);
    expect([...(cached.avatar ?? [])]).toEqual([...avatar]);
    expect(cached.settings).toEqual(settings);
    expect(cached.name).toBeNull();
    expect(cached.score).toBe(-0.1);
  });

  it("keeps null apart from a field that was not selected", async () => {
    const [live, cached] = await liveAndCached(() =>
      prisma.user.findUniqueOrThrow({ where: { id }, select: { id: true, name: true }, cache: { ttl: 60 } }),
    );
    expectSame(cached, live);
    expect(cached).toHaveProperty("name", null);
    expect(cached).not.toHaveProperty("email");
    expect(Object.keys(cached).sort()).toEqual(["id", "name"]);
  });

  it("keeps nested relations (to-one, to-many, two levels, _count)", async () => {
    const [live, cached] = await liveAndCached(() =>
      prisma.user.findUniqueOrThrow({
        where: { id },
        include: {
          profile: true,
          posts: { orderBy: { title: "asc" }, include: { comments: { orderBy: { body: "asc" } } } },
          _count: { select: { posts: true } },
        },
        cache: { ttl: 60 },
      }),
    );
    expectSame(cached, live);
    expect(cached.profile?.bio).toBe('ünïcödé ✓ 🚀\t"quoted"\n end');
    expect(cached.posts.map((p) => p.comments.map((c) => c.body))).toEqual([["x", "y"], []]);
    expect(cached._count.posts).toBe(2);
  });

  it("keeps null results, aggregates and groups", async () => {
    const [liveNull, cachedNull] = await liveAndCached(() =>
      prisma.user.findUnique({ where: { id: -5 }, cache: { ttl: 60 } }),
    );
    expect(liveNull).toBeNull();
    expect(cachedNull).toBeNull();
    const [liveAgg, cachedAgg] = await liveAndCached(() =>
      prisma.user.aggregate({
        where: { id },
        _sum: { balance: true, visits: true },
        _avg: { score: true },
        _min: { createdAt: true },
        _count: { _all: true, name: true },
        cache: { ttl: 60 },
      }),
    );
    expectSame(cachedAgg, liveAgg);
    expect(cachedAgg._sum.balance).toBeInstanceOf(Prisma.Decimal);
    expect(cachedAgg._min.createdAt).toBeInstanceOf(Date);
    const [liveGroups, cachedGroups] = await liveAndCached(() =>
      prisma.post.groupBy({
        by: ["authorId", "published"],
        where: { authorId: id },
        _count: { _all: true },
        _max: { title: true },
        orderBy: { published: "asc" },
        cache: { ttl: 60 },
      }),
    );
    expectSame(cachedGroups, liveGroups);
    expect(cachedGroups).toHaveLength(2);
  });
});
