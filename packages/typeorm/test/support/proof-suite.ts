// The proofs of issue 11, run once per database (SQLite and PostgreSQL): three real memcached servers, replicas 2,
// and several DataSources on the same database, each with its own mcpair client (as separate processes would have).
// Every claim is checked by counting the SELECTs the database actually executed (TypeORM logger).
import type { PairClient } from "@mcpair/core";
import { createClient } from "@mcpair/memcached";
import { type MemcachedServer, startMemcached, useMemcachedCleanup, waitFor } from "@mcpair/test-utils";
import type { DataSource } from "typeorm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { McpairQueryResultCache, mcpairTypeormCache } from "../../src/index.js";
import { isExpiredAt } from "../../src/stored-entry.js";
import {
  type Post,
  PostEntity,
  type Tag,
  TagEntity,
  type User,
  UserEntity,
  type UserPostCount,
  UserPostCountView,
} from "./entities.js";
import {
  type Dialect,
  openDataSource,
  openTestDatabase,
  type QueryLog,
  type TestDatabase,
} from "./harness.js";

const MINUTE = 60_000;

interface Node {
  ds: DataSource;
  log: QueryLog;
  client: PairClient;
  cache: McpairQueryResultCache;
}

export function defineProofSuite(dialect: Dialect): void {
  useMemcachedCleanup();

  describe(`${dialect}: McpairQueryResultCache on 3 memcached servers (replicas 2)`, () => {
    let servers: MemcachedServer[];
    let db: TestDatabase;
    /** A and B: two processes of the same app (same database, default namespace). C: another app's namespace. */
    let a: Node;
    let b: Node;
    let c: Node;
    const clients: PairClient[] = [];

    const newClient = (): PairClient => {
      const client = createClient({ servers: servers.map((s) => s.address), replicas: 2, timeout: 2000 });
      clients.push(client);
      return client;
    };

    async function node(opts: { schema?: boolean; namespace?: string } = {}): Promise<Node> {
      const client = newClient();
      const { ds, log } = await openDataSource(
        db,
        {
          provider: mcpairTypeormCache({
            client,
            invalidateOnWrite: true,
            ...(opts.namespace === undefined ? {} : { namespace: opts.namespace }),
          }),
          duration: MINUTE,
        },
        { schema: opts.schema === true },
      );
      const cache = ds.queryResultCache;
      if (!(cache instanceof McpairQueryResultCache)) throw new Error("provider not installed");
      return { ds, log, client, cache };
    }

    const allUsers = (n: Node) => n.ds.getRepository(UserEntity).find({ order: { id: "ASC" }, cache: true });
    const allPosts = (n: Node) => n.ds.getRepository(PostEntity).find({ order: { id: "ASC" }, cache: true });
    const names = (users: User[]) => users.map((u) => u.name);

    beforeAll(async () => {
      servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
      db = await openTestDatabase(dialect);
      a = await node({ schema: true });
      b = await node();
      c = await node({ namespace: "another-app" });
      const users = await a.ds
        .getRepository(UserEntity)
        .save([{ name: "ada" }, { name: "bob" }, { name: "cy" }]);
      const tags = await a.ds.getRepository(TagEntity).save([{ label: "db" }, { label: "cache" }]);
      await a.ds.getRepository(PostEntity).save([
        { title: "p1", authorId: users[0]!.id, tags: [tags[0]!] },
        { title: "p2", authorId: users[0]!.id, tags: [] },
        { title: "p3", authorId: users[1]!.id, tags: [tags[1]!] },
      ]);
    });

    afterAll(async () => {
      for (const n of [a, b, c]) if (n?.ds.isInitialized) await n.ds.destroy();
      await Promise.all(clients.map((cl) => cl.close()));
      db?.dispose();
    });

    // Every test starts from an empty cache for the app (A and B share the namespace, so one clear covers both).
    beforeEach(async () => {
      await a.cache.clear();
    });

    it("runs a cached find once: the second call, and the same find in another process, hit the cache", async () => {
      const first = await a.log.count(() => allUsers(a));
      const second = await a.log.count(() => allUsers(a));
      const other = await b.log.count(() => allUsers(b));
      expect(first.reads).toBe(1);
      expect(second.reads).toBe(0);
      expect(other.reads).toBe(0);
      expect(names(second.value)).toEqual(names(first.value));
      expect(names(other.value)).toEqual(["ada", "bob", "cy"]);
    });

    it("remove([id]) removes a getManyAndCount entry with its -count and -pagination entries", async () => {
      const page = () =>
        a.ds.getRepository(UserEntity).findAndCount({
          relations: { posts: true },
          order: { id: "ASC" },
          take: 2,
          cache: { id: "users-page", milliseconds: MINUTE },
        });
      const cold = await a.log.count(page);
      // TypeORM runs three queries: the DISTINCT ids of the page (-pagination), the rows, the count (-count).
      expect(cold.reads).toBe(3);
      expect(cold.value[1]).toBe(3);
      expect((await a.log.count(page)).reads).toBe(0);
      const ids = ["users-page", "users-page-count", "users-page-pagination"];
      const present = async () =>
        Promise.all(ids.map((identifier) => a.cache.getFromCache({ identifier, duration: MINUTE })));
      expect((await present()).every((e) => e !== undefined)).toBe(true);

      await a.cache.remove(["users-page"]);
      expect(await present()).toEqual([undefined, undefined, undefined]);
      const again = await a.log.count(page);
      expect(again.reads).toBe(3);
      expect(again.value[0].map((u) => u.name)).toEqual(["ada", "bob"]);
    });

    it("serves an entry until time + duration, to the millisecond, then runs the query again", async () => {
      const duration = 3000;
      const find = () =>
        a.ds
          .getRepository(UserEntity)
          .find({ where: { name: "ada" }, cache: { id: "ada", milliseconds: duration } });
      expect((await a.log.count(find)).reads).toBe(1);
      const saved = await a.cache.getFromCache({ identifier: "ada", duration });
      expect(saved?.duration).toBe(duration);
      const time = saved!.time!;
      // TypeORM's rule on the stored time and duration: served at time + duration, expired one millisecond later.
      expect(isExpiredAt(saved!, time + duration)).toBe(false);
      expect(isExpiredAt(saved!, time + duration + 1)).toBe(true);
      const hit = await a.log.count(find);
      expect(Date.now()).toBeLessThanOrEqual(time + duration); // 3 s is ample, even on a busy machine
      expect(hit.reads).toBe(0);
      expect(a.cache.isExpired(saved!)).toBe(false);
      await waitFor(() => Date.now() > time + duration, {
        timeout: duration + 1000,
        what: "the duration to pass",
      });
      expect(a.cache.isExpired(saved!)).toBe(true);
      expect((await a.log.count(find)).reads).toBe(1);
    });

    it("clear() empties this namespace only (other apps keep their entries) and never flushes a server", async () => {
      await allUsers(a);
      await allUsers(c);
      expect((await c.log.count(() => allUsers(c))).reads).toBe(0);

      await a.cache.clear();

      expect((await a.log.count(() => allUsers(a))).reads).toBe(1);
      expect((await c.log.count(() => allUsers(c))).reads).toBe(0);
      for (const s of servers) expect((await s.stats()).cmd_flush).toBe("0");
    });

    it("every TypeORM write on an entity, in one process, invalidates cached queries in another", async () => {
      const users = a.ds.getRepository(UserEntity);
      await allUsers(b);
      await allPosts(b);
      /** Runs a write in A, then B's cached user list: one query, showing `expected`; posts stay cached. */
      const expectInvalidated = async (write: () => Promise<unknown>, expected: (list: string[]) => void) => {
        await write();
        const after = await b.log.count(() => allUsers(b));
        expect(after.reads).toBe(1);
        expected(names(after.value));
        expect((await b.log.count(() => allUsers(b))).reads).toBe(0);
        expect((await b.log.count(() => allPosts(b))).reads).toBe(0);
      };

      let dee: User | undefined;
      await expectInvalidated(
        async () => {
          dee = await users.save({ name: "dee" });
        },
        (list) => expect(list).toContain("dee"),
      );
      await expectInvalidated(
        () => users.save({ ...dee!, name: "dee2" }),
        (list) => expect(list).toContain("dee2"),
      );
      await expectInvalidated(
        () => users.update({ id: dee!.id }, { name: "dee3" }),
        (list) => expect(list).toContain("dee3"),
      );
      await expectInvalidated(
        () =>
          a.ds
            .createQueryBuilder()
            .update(UserEntity)
            .set({ name: "dee4" })
            .where("id = :id", { id: dee!.id })
            .execute(),
        (list) => expect(list).toContain("dee4"),
      );
      await expectInvalidated(
        () => users.softRemove({ id: dee!.id } as User),
        (list) => expect(list).not.toContain("dee4"),
      );
      await expectInvalidated(
        () => users.recover({ id: dee!.id } as User),
        (list) => expect(list).toContain("dee4"),
      );
      await expectInvalidated(
        () => a.ds.createQueryBuilder().insert().into(UserEntity).values({ name: "eve" }).execute(),
        (list) => expect(list).toContain("eve"),
      );
      await expectInvalidated(
        () => a.ds.createQueryBuilder().delete().from(UserEntity).where("name = :n", { n: "eve" }).execute(),
        (list) => expect(list).not.toContain("eve"),
      );
      await expectInvalidated(
        () => users.insert({ name: "fay" }),
        (list) => expect(list).toContain("fay"),
      );
      await expectInvalidated(
        // TypeORM's upsert leaves a generated id to the database on PostgreSQL: this one inserts.
        () => users.upsert({ name: "gus" }, ["id"]),
        (list) => expect(list).toContain("gus"),
      );
      await expectInvalidated(
        () => users.softDelete({ name: "fay" }),
        (list) => expect(list).not.toContain("fay"),
      );
      await expectInvalidated(
        () => users.restore({ name: "fay" }),
        (list) => expect(list).toContain("fay"),
      );
      await expectInvalidated(
        () => users.delete({ name: "fay" }),
        (list) => expect(list).not.toContain("fay"),
      );
      await expectInvalidated(
        () => users.increment({ id: dee!.id }, "visits", 1),
        () => undefined,
      );
      expect((await users.findOneByOrFail({ id: dee!.id })).visits).toBe(1);
      await expectInvalidated(
        async () => users.remove(await users.findOneByOrFail({ id: dee!.id })),
        (list) => expect(list).not.toContain("dee4"),
      );
    });

    it("invalidates joins, many-to-many junction rows and views, and not unrelated tables", async () => {
      const postsWithTags = (n: Node) =>
        n.ds.getRepository(PostEntity).find({ relations: { tags: true }, order: { id: "ASC" }, cache: true });
      const view = (n: Node) =>
        n.ds.getRepository(UserPostCountView).find({ order: { id: "ASC" }, cache: true }) as Promise<
          UserPostCount[]
        >;
      const tagsOnly = (n: Node) => n.ds.getRepository(TagEntity).find({ order: { id: "ASC" }, cache: true });
      await postsWithTags(b);
      await view(b);
      await tagsOnly(b);

      // A new link in the junction table (post p2 gets tag "db"): the post list with tags must be re-read.
      const p2 = await a.ds
        .getRepository(PostEntity)
        .findOneOrFail({ where: { title: "p2" }, relations: { tags: true } });
      const db1 = (await a.ds.getRepository(TagEntity).findOneByOrFail({ label: "db" })) as Tag;
      await a.ds.getRepository(PostEntity).save({ ...p2, tags: [db1] } as Post);
      const joined = await b.log.count(() => postsWithTags(b));
      expect(joined.reads).toBe(1);
      expect(joined.value.find((p) => p.title === "p2")?.tags?.map((t) => t.label)).toEqual(["db"]);
      // The tag table itself was not written: its cached list stays.
      expect((await b.log.count(() => tagsOnly(b))).reads).toBe(0);

      // A new post: the view (user LEFT JOIN post) must be re-read.
      await view(b);
      const bob = await a.ds.getRepository(UserEntity).findOneByOrFail({ name: "bob" });
      await a.ds.getRepository(PostEntity).save({ title: "p4", authorId: bob.id });
      const counted = await b.log.count(() => view(b));
      expect(counted.reads).toBe(1);
      expect(Number(counted.value.find((r) => r.name === "bob")?.posts)).toBe(2);
      expect((await b.log.count(() => tagsOnly(b))).reads).toBe(0);
    });

    it("a rolled-back transaction leaves the cache serving the committed data; a commit invalidates", async () => {
      const committed = names(await allUsers(b));
      expect((await a.log.count(() => allUsers(a))).reads).toBe(0);

      await expect(
        a.ds.transaction(async (m) => {
          await m.save(UserEntity, { name: "ghost" });
          // Inside the transaction a cached query on the written table sees its own write, from the database, and
          // its uncommitted result is not stored.
          const inside = await a.log.count(() => m.find(UserEntity, { order: { id: "ASC" }, cache: true }));
          expect(inside.reads).toBe(1);
          expect(names(inside.value)).toContain("ghost");
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");

      for (const n of [a, b]) {
        const after = await n.log.count(() => allUsers(n));
        expect(after.reads).toBe(0);
        expect(names(after.value)).toEqual(committed);
      }

      await a.ds.transaction(async (m) => {
        await m.save(UserEntity, { name: "real" });
        // Not yet committed: another process still gets the committed list from the cache.
        const during = await b.log.count(() => allUsers(b));
        expect(during.reads).toBe(0);
        expect(names(during.value)).not.toContain("real");
      });
      const after = await b.log.count(() => allUsers(b));
      expect(after.reads).toBe(1);
      expect(names(after.value)).toContain("real");
    });

    it("a savepoint rolled back inside a committed transaction invalidates only what was committed", async () => {
      await allUsers(b);
      await allPosts(b);
      const ada = await a.ds.getRepository(UserEntity).findOneByOrFail({ name: "ada" });
      await a.ds.transaction(async (m) => {
        await m.save(PostEntity, { title: "kept", authorId: ada.id });
        await m
          .transaction(async (inner) => {
            await inner.save(UserEntity, { name: "dropped" });
            throw new Error("roll back to savepoint");
          })
          .catch(() => undefined);
      });
      const posts = await b.log.count(() => allPosts(b));
      expect(posts.reads).toBe(1);
      expect(posts.value.map((p) => p.title)).toContain("kept");
      const users = await b.log.count(() => allUsers(b));
      expect(users.reads).toBe(0);
      expect(names(users.value)).not.toContain("dropped");
    });

    /** Holds `n`'s next `storeInCache` (TypeORM has run the query) until `release()`; `atStore` says it is there. */
    function holdNextStore(n: Node): { atStore: Promise<void>; release: () => void; restore: () => void } {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let arrived!: () => void;
      const atStore = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const store = n.cache.storeInCache.bind(n.cache);
      n.cache.storeInCache = async (...args) => {
        n.cache.storeInCache = store;
        arrived();
        await gate;
        return store(...args);
      };
      return { atStore, release, restore: () => (n.cache.storeInCache = store) };
    }

    /** After a race: B's stored result was dead on arrival (B queries again) and the fresh one is shared. */
    async function expectRefilled(contains: string): Promise<void> {
      const again = await b.log.count(() => allUsers(b));
      expect(again.reads).toBe(1);
      expect(names(again.value)).toContain(contains);
      const shared = await a.log.count(() => allUsers(a));
      expect(shared.reads).toBe(0);
      expect(names(shared.value)).toContain(contains);
    }

    it("a result read before another process's commit is not stored after its invalidation", async () => {
      // B's find misses and reads the database; before B stores the result, A commits a write to the same table.
      // A store sealed with the tag tokens current at store time would keep B's pre-commit rows alive after A's
      // invalidation, served by every process until the duration ends. Stored as of the snapshot B took with its
      // miss, the entry is dead on arrival.
      const hold = holdNextStore(b);
      try {
        const pending = allUsers(b);
        await hold.atStore;
        await a.ds.getRepository(UserEntity).save({ name: "racer" });
        hold.release();
        expect(names(await pending)).not.toContain("racer");
      } finally {
        hold.restore();
      }
      await expectRefilled("racer");
    });

    it("a result read before another process's clear() is not stored after it", async () => {
      // The snapshot holds the namespace's token too: a raw write followed by clear() (TypeORM saw no entity
      // event, so no table tag moved) also leaves the racing store dead.
      const hold = holdNextStore(b);
      try {
        const pending = allUsers(b);
        await hold.atStore;
        await a.ds.query(`INSERT INTO "user" ("name") VALUES ('raw-insert')`);
        await a.cache.clear();
        hold.release();
        expect(names(await pending)).not.toContain("raw-insert");
      } finally {
        hold.restore();
      }
      await expectRefilled("raw-insert");
    });

    it("a hit that TypeORM finds expired after all is stored as of the snapshot taken with the read", async () => {
      // TypeORM re-checks expiry after getFromCache returned a hit; an entry that expires in between makes it run
      // the query and store with that hit as savedCache. The hit carries the snapshot taken with the read.
      await allUsers(b);
      const hold = holdNextStore(b);
      const isExpired = b.cache.isExpired.bind(b.cache);
      b.cache.isExpired = () => {
        b.cache.isExpired = isExpired;
        return true;
      };
      try {
        const pending = b.log.count(() => allUsers(b));
        await hold.atStore;
        await a.ds.getRepository(UserEntity).save({ name: "late" });
        hold.release();
        const raced = await pending;
        expect(raced.reads).toBe(1);
        expect(names(raced.value)).not.toContain("late");
      } finally {
        hold.restore();
        b.cache.isExpired = isExpired;
      }
      await expectRefilled("late");
    });

    it("raw query() writes are not seen; invalidateTables() covers them", async () => {
      await allUsers(b);
      await a.ds.query(`UPDATE "user" SET "name" = 'cy2' WHERE "name" = 'cy'`);
      const stale = await b.log.count(() => allUsers(b));
      expect(stale.reads).toBe(0);
      expect(names(stale.value)).toContain("cy");
      await a.cache.invalidateTables(["user"]);
      const fresh = await b.log.count(() => allUsers(b));
      expect(fresh.reads).toBe(1);
      expect(names(fresh.value)).toContain("cy2");
    });

    // Last: it kills a server.
    it("with one of three memcached servers killed, cached reads cause no database queries", async () => {
      const names30 = Array.from({ length: 30 }, (_, i) => `n${i}`);
      const lookups = (n: Node) =>
        Promise.all(
          names30.map((name) => n.ds.getRepository(UserEntity).find({ where: { name }, cache: true })),
        );
      const users = () => allUsers(a);
      expect((await a.log.count(() => lookups(a))).reads).toBe(30);
      expect((await a.log.count(users)).reads).toBe(1);

      await servers[1]!.kill();

      expect((await a.log.count(() => lookups(a))).reads).toBe(0);
      expect((await b.log.count(() => lookups(b))).reads).toBe(0);
      expect((await b.log.count(() => allUsers(b))).reads).toBe(0);
      // Invalidation still reaches every process with a server down.
      await a.ds.getRepository(UserEntity).save({ name: "while-down" });
      const after = await b.log.count(() => allUsers(b));
      expect(after.reads).toBe(1);
      expect(names(after.value)).toContain("while-down");
    });
  });
}
