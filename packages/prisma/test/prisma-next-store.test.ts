// The experimental Prisma Next store against the CacheStore contract of Prisma Next's cache middleware (get/set with
// a TTL in ms, del, delByTag, incr), on three real memcached servers: raw rows round-trip exactly, tags invalidate
// in every process, and memcached failures turn into misses instead of failed queries.
import { InvalidArgumentError } from "@mcpair/core";
import { useMemcachedCleanup, waitFor } from "@mcpair/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaNextCacheStore, type PrismaNextCachedEntry } from "../src/next.js";
import { freshNamespace } from "./support/fixtures.js";
import { startCluster, type TestCluster } from "./support/memcached.js";

useMemcachedCleanup();

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.close();
});

const entry = (rows: Record<string, unknown>[], tags?: string[]): PrismaNextCachedEntry => ({
  rows,
  storedAt: Date.now(),
  ...(tags ? { tags } : {}),
});

describe("Prisma Next CacheStore (experimental)", () => {
  it("round-trips raw rows exactly under keys of any length", async () => {
    const store = createPrismaNextCacheStore({ client: cluster.client(), namespace: freshNamespace("pn") });
    const rows = [
      {
        id: 1,
        at: new Date("2021-05-06T07:08:09.010Z"),
        data: Buffer.from([0, 255]),
        big: 2n ** 64n,
        note: null,
      },
      { id: 2, json: { nested: [1, { $: "D", v: 0 }] }, bytes: new Uint8Array([7]) },
    ];
    const digest = "a".repeat(128); // a BLAKE2b-512 identity key, in hex
    const custom = "users by email: ada@example.com (page 1)";
    for (const k of [digest, custom]) {
      await store.set(k, entry(rows), 60_000);
      const got = await store.get(k);
      expect(got?.rows).toStrictEqual(rows);
      expect(Buffer.isBuffer(got?.rows[0]?.data)).toBe(true);
    }
    expect(await store.get("missing")).toBeUndefined();
    await store.del(custom);
    expect(await store.get(custom)).toBeUndefined();
  });

  it("expires entries after ttlMs (rounded up to whole seconds), and stores nothing for 0", async () => {
    const store = createPrismaNextCacheStore({ client: cluster.client(), namespace: freshNamespace("pn") });
    await store.set("short", entry([{ a: 1 }]), 1000);
    await store.set("zero", entry([{ a: 1 }]), 0);
    expect(await store.get("zero")).toBeUndefined();
    expect((await store.get("short"))?.rows).toEqual([{ a: 1 }]);
    await waitFor(async () => (await store.get("short")) === undefined, {
      timeout: 5000,
      what: "the entry to expire",
    });
  });

  it("delByTag stops the tagged entries in every process and keeps the others", async () => {
    const namespace = freshNamespace("pn");
    const a = createPrismaNextCacheStore({ client: cluster.client(), namespace });
    const b = createPrismaNextCacheStore({ client: cluster.client(), namespace });
    await a.set("u1", entry([{ id: 1 }], ["users"]), 60_000);
    await a.set("p1", entry([{ id: 1 }], ["posts"]), 60_000);
    await b.delByTag(["users"]);
    expect(await a.get("u1")).toBeUndefined();
    expect(await b.get("u1")).toBeUndefined();
    expect((await a.get("p1"))?.rows).toEqual([{ id: 1 }]);
  });

  it("incr counts, and generation keys read and write as counters", async () => {
    const store = createPrismaNextCacheStore({ client: cluster.client(), namespace: freshNamespace("pn") });
    expect(await store.incr("c")).toBe(1);
    expect(await store.incr("c", 5)).toBe(6);
    const gen = "__prisma_next_cache:generation:users";
    expect(await store.get(gen)).toBeUndefined();
    await store.set(gen, { rows: [], storedAt: 41 }, 60_000);
    expect(await store.incr(gen)).toBe(42);
    expect(await store.get(gen)).toEqual({ rows: [], storedAt: 42 });
  });

  it("answers misses and drops writes when memcached is gone, telling onError", async () => {
    const dead = await startCluster();
    const seen: string[] = [];
    const store = createPrismaNextCacheStore({ client: dead.client(), onError: (_e, op) => seen.push(op) });
    await Promise.all(dead.servers.map((s) => s.kill()));
    await store.set("k", entry([{ a: 1 }]), 60_000);
    expect(await store.get("k")).toBeUndefined();
    expect(seen).toContain("set");
    await dead.close();
  });

  it("validates its input", async () => {
    expect(() => createPrismaNextCacheStore({ client: {} as never })).toThrow(InvalidArgumentError);
    const store = createPrismaNextCacheStore({ client: cluster.client() });
    await expect(store.set("k", entry([]), -1)).rejects.toThrow(/ttlMs must be a finite number >= 0/);
    await expect(store.delByTag("users" as never)).rejects.toThrow(InvalidArgumentError);
  });
});
