// Cached reads on a generated Prisma 7 client (SQLite and PostgreSQL, driver adapters) against three real memcached
// servers with replicas 2, counting the SELECT statements the database runs: hits and misses, keys that ignore
// argument order, TTL, stale-while-revalidate, custom keys, tags, Accelerate's spelling, model defaults, every read
// operation, fluent calls, a second process sharing the entries, and input validation.
import { InvalidArgumentError } from "@mcpair/core";
import { useMemcachedCleanup, waitFor } from "@mcpair/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, openDatabase, type TestDatabase } from "./support/databases.js";
import { type Extended, extend, seed, selects } from "./support/fixtures.js";
import { startCluster, type TestCluster } from "./support/memcached.js";

useMemcachedCleanup();

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.close();
});

describe.each(DATABASES)("cached reads on %s", (kind) => {
  let db: TestDatabase;
  let prisma: Extended;
  let userIds: number[];

  beforeAll(async () => {
    db = await openDatabase(kind);
    prisma = extend(db.prisma, cluster.client());
    ({ userIds } = await seed(db.prisma, kind));
  });
  afterAll(async () => {
    await prisma?.$cache.close();
    await db?.close();
  });

  it("misses once, then hits without a database query", async () => {
    const read = () => prisma.user.findMany({ where: { name: { startsWith: kind } }, cache: { ttl: 60 } });
    const [first, q1] = await selects(db.queries, read);
    const [second, q2] = await selects(db.queries, read);
    expect(q1).toBe(1);
    expect(q2).toBe(0);
    expect(second).toStrictEqual(first);
    expect(first).toHaveLength(3);
  });

  it("keys ignore the order of arguments, and different arguments are different entries", async () => {
    const [, q1] = await selects(db.queries, () =>
      prisma.user.findMany({
        where: { id: { gte: userIds[0] }, name: { contains: "1" } },
        orderBy: { id: "desc" },
        cache: { ttl: 60 },
      }),
    );
    const [, q2] = await selects(db.queries, () =>
      prisma.user.findMany({
        cache: { ttl: 60 },
        orderBy: { id: "desc" },
        where: { name: { contains: "1" }, id: { gte: userIds[0] } },
      }),
    );
    const [, q3] = await selects(db.queries, () =>
      prisma.user.findMany({
        where: { id: { gte: userIds[0] }, name: { contains: "2" } },
        orderBy: { id: "desc" },
        cache: { ttl: 60 },
      }),
    );
    expect([q1, q2, q3]).toEqual([1, 0, 1]);
  });

  it("reads without a policy always reach the database", async () => {
    const [, q1] = await selects(db.queries, () => prisma.user.findMany());
    const [, q2] = await selects(db.queries, () => prisma.user.findMany());
    expect([q1, q2]).toEqual([1, 1]);
  });

  it("serves the entry for ttl seconds, then loads it again", async () => {
    const read = () => prisma.user.findUnique({ where: { id: userIds[0]! }, cache: { ttl: 1 } });
    const started = Date.now();
    const [, q1] = await selects(db.queries, read);
    expect(q1).toBe(1);
    const before = db.queries.selects;
    // Poll until a read goes to the database again: exactly one does, and not before the TTL.
    await waitFor(
      async () => {
        await read();
        return db.queries.selects > before;
      },
      {
        timeout: 10_000,
        interval: 50,
        what: "the entry to expire",
      },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(db.queries.selects - before).toBe(1);
  });

  it("serves a stale entry at once while one background refresh loads the new one (swr)", async () => {
    const id = userIds[1]!;
    const read = () =>
      prisma.user.findUnique({ where: { id }, select: { name: true }, cache: { ttl: 1, swr: 60 } });
    expect(await read()).toEqual({ name: `${kind} 1` });
    // Changed behind the cache's back (the base client has no extension, so nothing is invalidated).
    await db.prisma.user.update({ where: { id }, data: { name: "renamed" } });
    const stats0 = prisma.$cache.stats();
    const before = db.queries.selects;
    // Until the TTL passes every read is a hit; the first read after it is served stale, at once.
    const stale = await waitFor(
      async () => {
        const r = await read();
        return prisma.$cache.stats().staleHits > stats0.staleHits ? { r } : undefined;
      },
      { timeout: 10_000, interval: 50, what: "the entry to go stale" },
    );
    expect(stale.r).toEqual({ name: `${kind} 1` });
    await waitFor(() => prisma.$cache.stats().refreshes > stats0.refreshes, {
      what: "the background refresh",
    });
    const [fresh, q] = await selects(db.queries, read);
    expect(fresh).toEqual({ name: "renamed" });
    expect(q).toBe(0);
    // One query in all: the refresh.
    expect(db.queries.selects - before).toBe(1);
  });

  it("stores under a custom key and invalidates it by key", async () => {
    const read = () =>
      prisma.post.findMany({ orderBy: { id: "asc" }, cache: { ttl: 60, key: `${kind}:all-posts` } });
    const [, q1] = await selects(db.queries, read);
    const [, q2] = await selects(db.queries, read);
    await prisma.$cache.invalidateKeys([`${kind}:all-posts`]);
    const [, q3] = await selects(db.queries, read);
    expect([q1, q2, q3]).toEqual([1, 0, 1]);
  });

  it("invalidates by tag in every process, and leaves other tags alone", async () => {
    const other = extend(db.prisma, cluster.client());
    const tagged = (p: Extended) =>
      p.post.findMany({ where: { title: { contains: "post" } }, cache: { ttl: 60, tags: ["posts"] } });
    const untagged = (p: Extended) => p.profile.findMany({ cache: { ttl: 60, tags: ["profiles"] } });
    await tagged(prisma);
    await untagged(prisma);
    await prisma.$cache.invalidate({ tags: ["posts"] });
    const [, q1] = await selects(db.queries, () => tagged(prisma));
    const [, q2] = await selects(db.queries, () => untagged(prisma));
    expect([q1, q2]).toEqual([1, 0]);
    await other.$cache.close();
  });

  it("accepts Accelerate's cacheStrategy spelling", async () => {
    const read = () => prisma.comment.findMany({ cacheStrategy: { ttl: 60, tags: ["comments"] } });
    const [, q1] = await selects(db.queries, read);
    const [, q2] = await selects(db.queries, read);
    await prisma.$cache.invalidate({ tags: ["comments"] });
    const [, q3] = await selects(db.queries, read);
    expect([q1, q2, q3]).toEqual([1, 0, 1]);
  });

  it("caches every read of a model with a default policy; cache: false skips it", async () => {
    const withDefaults = extend(db.prisma, cluster.client(), { defaults: { profile: { ttl: 60 } } });
    const [, q1] = await selects(db.queries, () =>
      withDefaults.profile.findMany({ where: { bio: "bio 1" } }),
    );
    const [, q2] = await selects(db.queries, () =>
      withDefaults.profile.findMany({ where: { bio: "bio 1" } }),
    );
    const [, q3] = await selects(db.queries, () =>
      withDefaults.profile.findMany({ where: { bio: "bio 1" }, cache: false }),
    );
    const [, q4] = await selects(db.queries, () => withDefaults.post.findMany());
    const [, q5] = await selects(db.queries, () => withDefaults.post.findMany());
    expect([q1, q2, q3, q4, q5]).toEqual([1, 0, 1, 1, 1]);
    await withDefaults.$cache.close();
  });

  it("$allModels sets a default for every model", async () => {
    const everything = extend(db.prisma, cluster.client(), { defaults: { $allModels: { ttl: 60 } } });
    const [, q1] = await selects(db.queries, () => everything.comment.count());
    const [, q2] = await selects(db.queries, () => everything.comment.count());
    expect([q1, q2]).toEqual([1, 0]);
    await expect(async () =>
      extend(db.prisma, cluster.client(), { defaults: { Nope: { ttl: 1 } } }),
    ).rejects.toThrow(/defaults.Nope names no model of this client/);
    await everything.$cache.close();
  });

  it("invalidateAll empties the namespace for every process, and no other namespace", async () => {
    const namespace = `all-${kind}`;
    const a = extend(db.prisma, cluster.client(), { namespace });
    const b = extend(db.prisma, cluster.client(), { namespace });
    const read = (p: Extended) => p.user.findMany({ where: { name: { endsWith: "2" } }, cache: { ttl: 60 } });
    await read(a);
    await read(prisma);
    await a.$cache.invalidateAll();
    const [, q1] = await selects(db.queries, () => read(b));
    const [, q2] = await selects(db.queries, () => read(prisma));
    expect([q1, q2]).toEqual([1, 0]);
    await Promise.all([a.$cache.close(), b.$cache.close()]);
  });

  it("caches findUnique(OrThrow), findFirst(OrThrow), count, aggregate and groupBy", async () => {
    const id = userIds[2]!;
    const reads: Array<() => Promise<unknown>> = [
      () => prisma.user.findUniqueOrThrow({ where: { id }, cache: { ttl: 60 } }),
      () => prisma.user.findFirst({ where: { id }, cache: { ttl: 60 } }),
      () => prisma.user.findFirstOrThrow({ where: { id }, cache: { ttl: 60 } }),
      () => prisma.user.count({ where: { id: { gte: userIds[0] } }, cache: { ttl: 60 } }),
      () =>
        prisma.user.aggregate({
          _sum: { balance: true, visits: true },
          _max: { createdAt: true },
          cache: { ttl: 60 },
        }),
      () =>
        prisma.post.groupBy({
          by: ["authorId"],
          _count: { _all: true },
          orderBy: { authorId: "asc" },
          cache: { ttl: 60 },
        }),
    ];
    for (const read of reads) {
      const [first, q1] = await selects(db.queries, read);
      const [second, q2] = await selects(db.queries, read);
      expect([q1, q2]).toEqual([1, 0]);
      expect(second).toStrictEqual(first);
    }
  });

  it("does not cache a findUniqueOrThrow that throws", async () => {
    const read = () => prisma.user.findUniqueOrThrow({ where: { id: -1 }, cache: { ttl: 60 } });
    const [e1, q1] = await selects(db.queries, () => read().catch((e: unknown) => e));
    const [e2, q2] = await selects(db.queries, () => read().catch((e: unknown) => e));
    expect((e1 as { code?: string }).code).toBe("P2025");
    expect((e2 as { code?: string }).code).toBe("P2025");
    expect([q1, q2]).toEqual([1, 1]);
  });

  it("passes a query's error through unchanged, also to callers sharing its flow, without calling onError", async () => {
    const errors: unknown[] = [];
    const watched = extend(db.prisma, cluster.client(), { onError: (e) => errors.push(e) });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        watched.user.findUniqueOrThrow({ where: { id: -2 }, cache: { ttl: 60 } }),
      ),
    );
    for (const r of results) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "P2025" });
    }
    expect(errors).toEqual([]);
    expect(watched.$cache.stats().fallbacks).toBe(0);
    await watched.$cache.close();
  });

  it("caches a fluent call apart from the same query without it", async () => {
    const id = userIds[0]!;
    // `findUnique(...).posts()` runs findUnique with `select: { posts: true }` and returns the posts only.
    const fluent = () =>
      (
        prisma.user.findUnique({ where: { id }, cache: { ttl: 60 } }) as unknown as {
          posts(): Promise<unknown>;
        }
      ).posts();
    const plain = () =>
      prisma.user.findUnique({ where: { id }, select: { posts: true }, cache: { ttl: 60 } });
    const [a, q1] = await selects(db.queries, fluent);
    const [b, q2] = await selects(db.queries, plain);
    const [c, q3] = await selects(db.queries, fluent);
    expect(Array.isArray(a)).toBe(true);
    expect(b).toEqual({ posts: a });
    expect(c).toStrictEqual(a);
    expect(q1).toBeGreaterThan(0);
    expect(q2).toBeGreaterThan(0);
    expect(q3).toBe(0);
  });

  it("shares entries with another process", async () => {
    const second = db.connect();
    const other = extend(second.prisma, cluster.client());
    // Same namespace as `prisma`, other memcached client, other Prisma client.
    const shared = extend(db.prisma, cluster.client(), { namespace: `shared-${kind}` });
    const sharedOther = extend(second.prisma, cluster.client(), { namespace: `shared-${kind}` });
    const read = (p: Extended) => p.comment.count({ where: { body: "first" }, cache: { ttl: 60 } });
    const [, q1] = await selects(db.queries, () => read(shared));
    const [, q2] = await selects(second.queries, () => read(sharedOther));
    expect([q1, q2]).toEqual([1, 0]);
    await Promise.all([other.$cache.close(), shared.$cache.close(), sharedOther.$cache.close()]);
  });

  it("rejects cache on writes and bad policies with InvalidArgumentError", async () => {
    const write = prisma.user.update as unknown as (args: unknown) => Promise<unknown>;
    await expect(
      write({ where: { id: userIds[0] }, data: { name: "x" }, cache: { ttl: 1 } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    const read = prisma.user.findMany as unknown as (args: unknown) => Promise<unknown>;
    await expect(read({ cache: { ttl: -1 } })).rejects.toThrow(
      /cache.ttl must be a finite number of seconds >= 0/,
    );
    await expect(read({ cache: { ttl: 1, tag: ["x"] } })).rejects.toThrow(/unknown field "tag"/);
    await expect(read({ cache: { ttl: 1 }, cacheStrategy: { ttl: 1 } })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(read({ cache: { swr: 1 } })).rejects.toThrow(/cache.ttl is required/);
  });
});
