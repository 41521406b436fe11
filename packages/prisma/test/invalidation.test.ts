// Automatic invalidation on writes (invalidateOnWrite), on real memcached (3 servers, replicas 2) and both databases:
// the written model, reads that include it, nested writes, cascades, relation filters, raw statements, another
// process; transactions (reads bypass the cache; writes invalidate after the commit, not before); and a load that
// races a write.
import { useMemcachedCleanup } from "@mcpair/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

describe.each(DATABASES)("invalidation on %s", (kind) => {
  let db: TestDatabase;
  let prisma: Extended;
  let n = 0;
  const email = () => `${kind}-inv-${++n}@example.com`;

  beforeAll(async () => {
    db = await openDatabase(kind);
    prisma = extend(db.prisma, cluster.client());
  });
  afterAll(async () => {
    await prisma?.$cache.close();
    await db?.close();
  });

  /**
   * Reads once to cache (through a tag invalidation first, so the read is cold whatever ran before), checks that the
   * next read is a hit, runs `write`, and returns how many SELECTs the read costs after it: the cold cost when the
   * write invalidated it, 0 when it did not.
   */
  async function costAfter(
    read: () => Promise<unknown>,
    write: () => Promise<unknown>,
  ): Promise<{ cold: number; after: number }> {
    await prisma.$cache.invalidateModels(["User", "Profile", "Post", "Comment"]);
    const [, cold] = await selects(db.queries, read);
    const [, warm] = await selects(db.queries, read);
    expect(cold).toBeGreaterThan(0);
    expect(warm).toBe(0);
    await write();
    const [, after] = await selects(db.queries, read);
    return { cold, after };
  }
  const invalidated = (cost: { cold: number; after: number }) => expect(cost.after).toBe(cost.cold);

  it("a write invalidates the cached reads of its model, and the next read sees it", async () => {
    const user = await prisma.user.create({ data: { email: email(), name: "before" } });
    const read = () => prisma.user.findUnique({ where: { id: user.id }, cache: { ttl: 60 } });
    expect((await read())?.name).toBe("before");
    await prisma.user.update({ where: { id: user.id }, data: { name: "after" } });
    const [fresh, q] = await selects(db.queries, read);
    expect(q).toBe(1);
    expect(fresh?.name).toBe("after");
  });

  it("every write operation invalidates", async () => {
    const read = () => prisma.user.count({ cache: { ttl: 60 } });
    const e1 = email();
    const e2 = email();
    const writes: Array<() => Promise<unknown>> = [
      () => prisma.user.create({ data: { email: e1 } }),
      () => prisma.user.createMany({ data: [{ email: e2 }] }),
      () => prisma.user.update({ where: { email: e1 }, data: { name: "u" } }),
      () => prisma.user.updateMany({ where: { email: e2 }, data: { name: "u" } }),
      () => prisma.user.upsert({ where: { email: e1 }, create: { email: e1 }, update: { name: "v" } }),
      () => prisma.user.delete({ where: { email: e1 } }),
      () => prisma.user.deleteMany({ where: { email: e2 } }),
    ];
    for (const write of writes) invalidated(await costAfter(read, write));
  });

  it("a write to a model invalidates reads that include or select it", async () => {
    const user = await prisma.user.create({
      data: { email: email(), name: "author", posts: { create: { title: "t" } } },
    });
    const viaInclude = () =>
      prisma.post.findMany({ where: { authorId: user.id }, include: { author: true }, cache: { ttl: 60 } });
    const viaSelect = () =>
      prisma.user.findUnique({
        where: { id: user.id },
        select: { posts: { select: { title: true } } },
        cache: { ttl: 60 },
      });
    invalidated(
      await costAfter(viaInclude, () =>
        prisma.user.update({ where: { id: user.id }, data: { name: "renamed" } }),
      ),
    );
    expect((await viaInclude())[0]?.author.name).toBe("renamed");
    invalidated(
      await costAfter(viaSelect, () =>
        prisma.post.updateMany({ where: { authorId: user.id }, data: { title: "t2" } }),
      ),
    );
    expect((await viaSelect())?.posts[0]?.title).toBe("t2");
  });

  it("a nested write invalidates the models it reaches, and leaves the others alone", async () => {
    const user = await prisma.user.create({ data: { email: email(), profile: { create: { bio: "b" } } } });
    const comments = () =>
      prisma.comment.findMany({ where: { post: { authorId: user.id } }, cache: { ttl: 60 } });
    const profiles = () => prisma.profile.findMany({ where: { userId: user.id }, cache: { ttl: 60 } });
    const [, coldComments] = await selects(db.queries, comments);
    const [, coldProfiles] = await selects(db.queries, profiles);
    expect([coldComments, coldProfiles]).toEqual([1, 1]);
    await prisma.user.update({
      where: { id: user.id },
      data: {
        posts: { create: { title: "nested", comments: { create: [{ body: "c1" }, { body: "c2" }] } } },
      },
    });
    // The write's top-level model is User; Comment is two nested writes down.
    const [seen, q1] = await selects(db.queries, comments);
    expect(q1).toBe(1);
    expect(seen.map((c) => c.body).sort()).toEqual(["c1", "c2"]);
    // Profile was not written: still a hit.
    const [, q2] = await selects(db.queries, profiles);
    expect(q2).toBe(0);
  });

  it("a delete invalidates the models its cascades change", async () => {
    const user = await prisma.user.create({
      data: { email: email(), posts: { create: { title: "p", comments: { create: { body: "doomed" } } } } },
    });
    const comments = () => prisma.comment.count({ where: { body: "doomed" }, cache: { ttl: 60 } });
    expect(await comments()).toBe(1);
    // Comment is two cascades away (User → Post → Comment) and appears nowhere in the arguments.
    invalidated(await costAfter(comments, () => prisma.user.delete({ where: { id: user.id } })));
    expect(await comments()).toBe(0);
  });

  it("a write invalidates reads that filter through a relation to it", async () => {
    const user = await prisma.user.create({
      data: { email: email(), posts: { create: { title: "draft" } } },
    });
    const withPublished = () =>
      prisma.user.findMany({
        where: { id: user.id, posts: { some: { published: true } } },
        cache: { ttl: 60 },
      });
    expect(await withPublished()).toHaveLength(0);
    invalidated(
      await costAfter(withPublished, () =>
        prisma.post.updateMany({ where: { authorId: user.id }, data: { published: true } }),
      ),
    );
    expect(await withPublished()).toHaveLength(1);
  });

  it("a write in one process invalidates the cached reads of another", async () => {
    const namespace = `shared-inv-${kind}-${n}`;
    const a = extend(db.prisma, cluster.client(), { namespace });
    const second = db.connect();
    const b = extend(second.prisma, cluster.client(), { namespace });
    const user = await a.user.create({ data: { email: email(), name: "one" } });
    const read = (p: Extended) => p.user.findUnique({ where: { id: user.id }, cache: { ttl: 60 } });
    await read(b);
    await a.user.update({ where: { id: user.id }, data: { name: "two" } });
    const [seen, q] = await selects(second.queries, () => read(b));
    expect(q).toBe(1);
    expect(seen?.name).toBe("two");
    await Promise.all([a.$cache.close(), b.$cache.close()]);
  });

  it("a raw statement invalidates every model; with rawWrites: 'ignore' it invalidates nothing", async () => {
    const read = () => prisma.post.count({ cache: { ttl: 60 } });
    invalidated(
      await costAfter(read, () =>
        prisma.$executeRawUnsafe(`UPDATE ${db.table("Post")} SET "title" = "title" WHERE 1 = 0`),
      ),
    );
    const ignoring = extend(db.prisma, cluster.client(), { rawWrites: "ignore" });
    const read2 = () => ignoring.post.count({ cache: { ttl: 60 } });
    await read2();
    await ignoring.$executeRawUnsafe(`UPDATE ${db.table("Post")} SET "title" = "title" WHERE 1 = 0`);
    const [, q] = await selects(db.queries, read2);
    expect(q).toBe(0);
    await ignoring.$cache.invalidateModels(["post"]);
    const [, q2] = await selects(db.queries, read2);
    expect(q2).toBe(1);
    await ignoring.$cache.close();
  });

  it("invalidateOnWrite: false leaves entries until their TTL or a tag invalidation", async () => {
    const manual = extend(db.prisma, cluster.client(), { invalidateOnWrite: false });
    const read = () => manual.profile.count({ cache: { ttl: 60, tags: ["profiles"] } });
    await read();
    const user = await manual.user.create({ data: { email: email(), profile: { create: { bio: "x" } } } });
    const [, q1] = await selects(db.queries, read);
    expect(q1).toBe(0);
    await manual.$cache.invalidate({ tags: ["profiles"] });
    const [count, q2] = await selects(db.queries, read);
    expect(q2).toBe(1);
    expect(count).toBeGreaterThan(0);
    expect(user.id).toBeGreaterThan(0);
    await manual.$cache.close();
  });

  describe("transactions", () => {
    it("reads inside an interactive transaction bypass the cache", async () => {
      const read = () => prisma.profile.findMany({ cache: { ttl: 60 } });
      await read();
      const bypassed = prisma.$cache.stats().bypassed;
      const [, q] = await selects(db.queries, () =>
        prisma.$transaction(async (tx) => tx.profile.findMany({ cache: { ttl: 60 } })),
      );
      expect(q).toBe(1);
      expect(prisma.$cache.stats().bypassed).toBe(bypassed + 1);
    });

    it("invalidates after the commit, not when the write runs", async () => {
      const user = await prisma.user.create({ data: { email: email(), name: "committed" } });
      const read = () => prisma.user.findUnique({ where: { id: user.id }, cache: { ttl: 60 } });
      await read();
      let duringTransaction: { name: string | null; queries: number } | undefined;
      await prisma.$transaction(async (tx) => {
        await tx.user.update({ where: { id: user.id }, data: { name: "uncommitted" } });
        // Outside the transaction, before its commit: the entry is still the committed value, served from the
        // cache. (Invalidating now would let this read load the committed row again and keep it after the commit.)
        const [seen, q] = await selects(db.queries, read);
        duringTransaction = { name: seen?.name ?? null, queries: q };
      });
      expect(duringTransaction).toEqual({ name: "committed", queries: 0 });
      const [after, q] = await selects(db.queries, read);
      expect(q).toBe(1);
      expect(after?.name).toBe("uncommitted");
    });

    it("a rolled-back transaction invalidates too, and the next read loads the unchanged row", async () => {
      const user = await prisma.user.create({ data: { email: email(), name: "kept" } });
      const read = () => prisma.user.findUnique({ where: { id: user.id }, cache: { ttl: 60 } });
      await read();
      await expect(
        prisma.$transaction(async (tx) => {
          await tx.user.update({ where: { id: user.id }, data: { name: "rolled back" } });
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      const [after, q] = await selects(db.queries, read);
      expect(q).toBe(1);
      expect(after?.name).toBe("kept");
    });

    it("a nested transaction (savepoint) invalidates after the outermost commit", async () => {
      const user = await prisma.user.create({ data: { email: email(), name: "outer" } });
      const read = () => prisma.user.findUnique({ where: { id: user.id }, cache: { ttl: 60 } });
      await read();
      let afterInner: number | undefined;
      await prisma.$transaction(async (tx) => {
        // Prisma 7 runs a transaction started on a transaction client as a savepoint of the outer one.
        const nested = tx as unknown as {
          $transaction(fn: (t: typeof tx) => Promise<unknown>): Promise<unknown>;
        };
        await nested.$transaction((inner) =>
          inner.user.update({ where: { id: user.id }, data: { name: "inner" } }),
        );
        [, afterInner] = await selects(db.queries, read);
      });
      expect(afterInner).toBe(0);
      const [after, q] = await selects(db.queries, read);
      expect(q).toBe(1);
      expect(after?.name).toBe("inner");
    });

    it("two stacked mcpairCache extensions each invalidate their own namespace after the commit", async () => {
      const stacked = extend(
        extend(db.prisma, cluster.client()) as unknown as typeof db.prisma,
        cluster.client(),
      );
      const user = await stacked.user.create({ data: { email: email(), name: "s1" } });
      // Cached by both: the outer extension on a miss runs the query through the inner one, which caches it too.
      const read = () => stacked.user.findUnique({ where: { id: user.id }, cache: { ttl: 60 } });
      await read();
      await stacked.$transaction(async (tx) => {
        await tx.user.update({ where: { id: user.id }, data: { name: "s2" } });
      });
      // Had the inner extension's invalidation gone to the outer namespace, its entry would answer this read.
      const [after, q] = await selects(db.queries, read);
      expect(q).toBe(1);
      expect(after?.name).toBe("s2");
      await stacked.$cache.close();
    });

    it("with transactionReads: 'cache', reads inside a transaction are served from the cache", async () => {
      const caching = extend(db.prisma, cluster.client(), { transactionReads: "cache" });
      const read = (p: typeof caching | Parameters<Parameters<typeof caching.$transaction>[0]>[0]) =>
        p.profile.count({ cache: { ttl: 60 } });
      await read(caching);
      const [, q] = await selects(db.queries, () => caching.$transaction((tx) => read(tx)));
      expect(q).toBe(0);
      expect(caching.$cache.stats().bypassed).toBe(0);
      await caching.$cache.close();
    });

    it("a batch transaction runs its reads on the database and invalidates its writes after it", async () => {
      const user = await prisma.user.create({ data: { email: email(), name: "b1" } });
      const read = () => prisma.user.findUnique({ where: { id: user.id }, cache: { ttl: 60 } });
      await read();
      const bypassed = prisma.$cache.stats().bypassed;
      const [updated, inBatch] = await prisma.$transaction([
        prisma.user.update({ where: { id: user.id }, data: { name: "b2" } }),
        prisma.user.findUnique({ where: { id: user.id }, cache: { ttl: 60 } }),
      ]);
      expect(updated.name).toBe("b2");
      expect(inBatch?.name).toBe("b2");
      expect(prisma.$cache.stats().bypassed).toBe(bypassed + 1);
      const [after, q] = await selects(db.queries, read);
      expect(q).toBe(1);
      expect(after?.name).toBe("b2");
    });
  });

  it("a load that read the old row before a write's invalidation does not keep it in the cache", async () => {
    const user = await prisma.user.create({ data: { email: email(), name: "old" } });
    // An extension applied after mcpairCache runs inside its `query()`: it holds the loaded (old) row until the
    // write and its invalidation are done, so the store lands after the invalidation.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let loaded!: () => void;
    const loadedOld = new Promise<void>((resolve) => {
      loaded = resolve;
    });
    const slow = prisma.$extends({
      query: {
        user: {
          async findUnique({ args, query }) {
            const row = await query(args);
            loaded();
            await gate;
            return row;
          },
        },
      },
    });
    // A PrismaPromise is lazy: `then` starts it.
    const racing = slow.user.findUnique({ where: { id: user.id }, cache: { ttl: 60 } }).then((row) => row);
    await loadedOld;
    await prisma.user.update({ where: { id: user.id }, data: { name: "new" } });
    release();
    expect((await racing)?.name).toBe("old"); // what that caller read, before the write
    const [after, q] = await selects(db.queries, () =>
      prisma.user.findUnique({ where: { id: user.id }, cache: { ttl: 60 } }),
    );
    expect(after?.name).toBe("new");
    expect(q).toBe(1);
  });
});
