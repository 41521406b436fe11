// One of three memcached servers killed (replicas 2): cached reads keep being served by each key's other replica,
// with no extra database query, and writes keep invalidating. On both databases.
import { CodecError, type PairClient } from "@mcpair/core";
import { connectRaw, type MemcachedServer, useMemcachedCleanup } from "@mcpair/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, openDatabase, type TestDatabase } from "./support/databases.js";
import { type Extended, extend, seed, selects } from "./support/fixtures.js";
import { startCluster, type TestCluster } from "./support/memcached.js";

useMemcachedCleanup();

/** How many items a server holds (`stats` → `curr_items`). */
async function items(server: MemcachedServer): Promise<number> {
  const raw = await connectRaw(server);
  try {
    const stats = await raw.request("stats\r\n", "END\r\n");
    return Number(/STAT curr_items (\d+)/.exec(stats)?.[1]);
  } finally {
    await raw.close();
  }
}

describe.each(DATABASES)("a memcached server killed, on %s", (kind) => {
  let cluster: TestCluster;
  let db: TestDatabase;
  let prisma: Extended;
  let userIds: number[];

  beforeAll(async () => {
    cluster = await startCluster();
    db = await openDatabase(kind);
    prisma = extend(db.prisma, cluster.client());
    ({ userIds } = await seed(db.prisma, `${kind}-failover`));
  });
  afterAll(async () => {
    await prisma?.$cache.close();
    await cluster?.close();
    await db?.close();
  });

  // 40 distinct entries: with 3 servers, about two thirds of them have the killed server in their pair.
  const reads = (p: Extended) =>
    Array.from(
      { length: 40 },
      (_, i) => () =>
        p.user.findMany({
          where: { id: { in: userIds }, name: { not: `nobody-${i}` } },
          orderBy: { id: i % 2 ? "asc" : "desc" },
          cache: { ttl: 300, tags: [`t${i % 5}`] },
        }),
    );

  it("serves every cached read from the surviving replica without a database query", async () => {
    const all = reads(prisma);
    const warm: unknown[] = [];
    const [, cold] = await selects(db.queries, async () => {
      for (const read of all) warm.push(await read());
    });
    expect(cold).toBe(40);
    // The server about to die holds a share of the entries (about two thirds of the keys have it in their pair).
    expect(await items(cluster.servers[0]!)).toBeGreaterThan(10);
    await cluster.servers[0]!.kill();
    const [again, q] = await selects(db.queries, () => Promise.all(all.map((read) => read())));
    expect(q).toBe(0);
    expect(again).toStrictEqual(warm);
    expect(prisma.$cache.stats().fallbacks).toBe(0);
  });

  it("keeps invalidating on writes with the server down", async () => {
    const id = userIds[0]!;
    const read = () => prisma.user.findUnique({ where: { id }, cache: { ttl: 300 } });
    await read();
    const [, warm] = await selects(db.queries, read);
    expect(warm).toBe(0);
    await prisma.user.update({ where: { id }, data: { name: "while down" } });
    const [after, q] = await selects(db.queries, read);
    expect(q).toBe(1);
    expect(after?.name).toBe("while down");
    expect(prisma.$cache.stats().invalidationErrors).toBe(0);
  });
});

describe("memcached failing entirely", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await openDatabase("sqlite");
  });
  afterAll(async () => {
    await db?.close();
  });

  it("every server down: reads run on the database, writes resolve, onError hears of lost invalidations", async () => {
    const cluster = await startCluster();
    const errors: string[] = [];
    const prisma = extend(db.prisma, cluster.client(), { onError: (_e, c) => errors.push(c.phase) });
    const user = await prisma.user.create({ data: { email: "down@example.com", name: "a" } });
    await Promise.all(cluster.servers.map((s) => s.kill()));
    const read = () => prisma.user.findUnique({ where: { id: user.id }, cache: { ttl: 60 } });
    const [first, q1] = await selects(db.queries, read);
    const [, q2] = await selects(db.queries, read);
    expect(first?.name).toBe("a");
    expect([q1, q2]).toEqual([1, 1]);
    const updated = await prisma.user.update({ where: { id: user.id }, data: { name: "b" } });
    expect(updated.name).toBe("b");
    expect(errors).toContain("invalidate");
    expect(prisma.$cache.stats().invalidationErrors).toBeGreaterThan(0);
    await prisma.$cache.close();
    await cluster.close();
  });

  /** A real client whose namespace clients answer `fetch` with `fetch` and record their deletes. */
  function withFetch(real: PairClient, fetch: () => Promise<unknown>, deleted: string[]): PairClient {
    return new Proxy(real, {
      get(target, property, receiver) {
        if (property === "namespace")
          return (name: string) =>
            new Proxy(target.namespace(name), {
              get(ns, p, r) {
                if (p === "fetch") return fetch;
                if (p === "delete") return (key: string) => (deleted.push(key), ns.delete(key));
                return Reflect.get(ns, p, r);
              },
            });
        return Reflect.get(target, property, receiver);
      },
    });
  }

  it("a cache that throws, or hands back garbage: the read falls back to the database and onError hears of it", async () => {
    const cluster = await startCluster();
    for (const fetch of [
      () => Promise.reject(new CodecError("garbled")),
      () => Promise.resolve("not an entry"),
    ]) {
      const seen: unknown[] = [];
      const deleted: string[] = [];
      const prisma = extend(db.prisma, withFetch(cluster.client(), fetch, deleted), {
        onError: (e) => seen.push(e),
      });
      const [rows, q] = await selects(db.queries, () => prisma.user.findMany({ cache: { ttl: 60 } }));
      expect(rows.length).toBeGreaterThan(0);
      expect(q).toBe(1);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toBeInstanceOf(CodecError);
      expect(prisma.$cache.stats().fallbacks).toBe(1);
      // The unreadable entry is removed so that it does not fail every read until its TTL.
      expect(deleted).toHaveLength(1);
      expect(deleted[0]).toMatch(/^q:\w+:User:findMany:/);
      await prisma.$cache.close();
    }
    await cluster.close();
  });
});
