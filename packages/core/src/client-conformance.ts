/**
 * The client conformance suite: what every {@link CacheClient} must do, from a caller's point of view. It runs on
 * `PairClient` over in-process servers and over real memcached, on namespace clients, and on any wrapper an adapter
 * ships, so that all of them keep one contract (as keyv's storage test suite does for its adapters).
 *
 * ```ts
 * import { runCacheClientConformance } from "@mcpair/core/testing";
 * runCacheClientConformance("my wrapper", async () => {
 *   const cluster = createMemoryCluster(3);
 *   return { client: wrap(cluster.client()), close: () => cluster.close() };
 * });
 * ```
 *
 * Parts can be switched off (`{ counters: false }`) for a client that does not offer them; every part is on by default.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CacheClient } from "./cache-client.js";
import { InvalidArgumentError, McpairError } from "./errors.js";

/** What the suite needs: a client, and how to release it (and its servers) afterwards. */
export interface CacheClientHarness {
  client: CacheClient;
  close(): Promise<void>;
}

/** The suite's parts, each on unless set to false. */
export interface CacheClientConformanceParts {
  basics?: boolean;
  batches?: boolean;
  fetch?: boolean;
  counters?: boolean;
  namespaces?: boolean;
  tags?: boolean;
  badInput?: boolean;
}

export function runCacheClientConformance(
  name: string,
  create: () => Promise<CacheClientHarness>,
  parts: CacheClientConformanceParts = {},
): void {
  const on = (part: keyof CacheClientConformanceParts) => parts[part] !== false;
  describe(`CacheClient conformance: ${name}`, () => {
    let harness: CacheClientHarness;
    let c: CacheClient;
    // Every run uses fresh keys, so the suite can share servers with other tests.
    const run = randomBytes(4).toString("hex");
    const key = (k: string) => `cc:${run}:${k}`;
    beforeAll(async () => {
      harness = await create();
      c = harness.client;
    });
    afterAll(async () => harness?.close());

    describe.runIf(on("basics"))("basics", () => {
      it("round-trips strings, numbers, objects, null and bytes; a miss is undefined", async () => {
        const values: Array<[string, unknown]> = [
          ["s", "hello ünïcødé"],
          ["n", 42.5],
          ["o", { a: [1, "two", { three: null }] }],
          ["nul", null],
          ["empty", ""],
        ];
        for (const [k, v] of values) await c.set(key(k), v);
        for (const [k, v] of values) expect(await c.get(key(k))).toEqual(v);
        await c.set(key("b"), new Uint8Array([0, 13, 10, 255]));
        expect([...((await c.get(key("b"))) as Uint8Array)]).toEqual([0, 13, 10, 255]);
        expect(await c.get(key("missing"))).toBeUndefined();
      });

      it("delete says whether the key existed; add only stores an absent key", async () => {
        await c.set(key("d"), 1);
        expect(await c.delete(key("d"))).toBe(true);
        expect(await c.delete(key("d"))).toBe(false);
        expect(await c.get(key("d"))).toBeUndefined();
        expect(await c.add(key("a"), "first")).toBe(true);
        expect(await c.add(key("a"), "second")).toBe(false);
        expect(await c.get(key("a"))).toBe("first");
      });

      it("touch reports presence; invalidate makes get miss", async () => {
        await c.set(key("t"), "v", { ttl: 60 });
        expect(await c.touch(key("t"), 120)).toBe(true);
        expect(await c.touch(key("t-missing"), 120)).toBe(false);
        expect(await c.invalidate(key("t"))).toBe(true);
        expect(await c.get(key("t"))).toBeUndefined();
      });
    });

    describe.runIf(on("batches"))("batches", () => {
      it("setMany resolves one true per entry; getMany returns a Map of the hits and lists no unavailable key", async () => {
        const entries = Array.from({ length: 50 }, (_, i) => [key(`m${i}`), { i }] as const);
        expect(await c.setMany(entries)).toEqual(entries.map(() => true));
        const got = await c.getMany([...entries.map(([k]) => k), key("m-missing"), entries[0]![0]]);
        expect(got).toBeInstanceOf(Map);
        expect(got.size).toBe(50);
        expect(got.get(key("m7"))).toEqual({ i: 7 });
        expect(got.unavailable).toEqual([]);
      });

      it("deleteMany resolves one boolean per key: whether it existed", async () => {
        await c.setMany([
          [key("x1"), 1],
          [key("x2"), 2],
        ]);
        expect(await c.deleteMany([key("x1"), key("x-missing"), key("x2")])).toEqual([true, false, true]);
        expect((await c.getMany([key("x1"), key("x2")])).size).toBe(0);
      });
    });

    describe.runIf(on("fetch"))("fetch", () => {
      it("runs the loader once for concurrent callers, then serves the cached value", async () => {
        let loads = 0;
        const loader = async () => {
          loads++;
          return { loaded: loads };
        };
        const results = await Promise.all(
          Array.from({ length: 20 }, () => c.fetch(key("f"), loader, { ttl: 60 })),
        );
        expect(results.every((r) => (r as { loaded: number }).loaded === 1)).toBe(true);
        expect(loads).toBe(1);
        expect(await c.fetch(key("f"), loader)).toEqual({ loaded: 1 });
        expect(await c.get(key("f"))).toEqual({ loaded: 1 });
      });

      it("does not cache undefined; a loader error rejects that call and the next one loads", async () => {
        let calls = 0;
        const nothing = () => {
          calls++;
          return undefined;
        };
        expect(await c.fetch(key("u"), nothing)).toBeUndefined();
        expect(await c.fetch(key("u"), nothing)).toBeUndefined();
        expect(calls).toBe(2);
        await expect(
          c.fetch(key("e"), async () => {
            throw new Error("database down");
          }),
        ).rejects.toThrow("database down");
        expect(await c.fetch(key("e"), async () => "recovered")).toBe("recovered");
      });

      it("fetchMany loads only what is missing, in one loader call", async () => {
        await c.set(key("fm1"), "cached");
        const asked: string[][] = [];
        const got = await c.fetchMany([key("fm1"), key("fm2"), key("fm3")], async (missing) => {
          asked.push(missing);
          return new Map(missing.map((k) => [k, `loaded ${k}`]));
        });
        expect(asked).toEqual([[key("fm2"), key("fm3")]]);
        expect(got.get(key("fm1"))).toBe("cached");
        expect(got.get(key("fm3"))).toBe(`loaded ${key("fm3")}`);
      });
    });

    describe.runIf(on("counters"))("counters", () => {
      it("incr/decr create with initial, count, and stop at 0", async () => {
        expect(await c.incr(key("c"))).toBeUndefined();
        expect(await c.incr(key("c"), 1, { initial: 10 })).toBe(10);
        expect(await c.incr(key("c"), 5)).toBe(15);
        expect(await c.decr(key("c"), 20)).toBe(0);
      });
    });

    describe.runIf(on("namespaces"))("namespaces", () => {
      it("isolates keys and clears one namespace only", async () => {
        const a = c.namespace(`ns-a-${run}`);
        const b = c.namespace(`ns-b-${run}`);
        await a.set("k", "in a");
        await b.set("k", "in b");
        expect(await a.get("k")).toBe("in a");
        expect(await b.get("k")).toBe("in b");
        await a.clear();
        expect(await a.get("k")).toBeUndefined();
        expect(await b.get("k")).toBe("in b");
        await a.set("k", "again");
        expect(await a.get("k")).toBe("again");
        // The full path: nested under the client's own namespace, if any ("outer/inner").
        expect(a.namespaceName.endsWith(`ns-a-${run}`)).toBe(true);
      });

      it("accepts any key in a namespace (long, spaces, newlines)", async () => {
        const ns = c.namespace(`ns-any-${run}`);
        const weird = ["with space", "line\nbreak", "x".repeat(1000), "#hash"];
        for (const k of weird) await ns.set(k, k.length);
        for (const k of weird) expect(await ns.get(k)).toBe(k.length);
      });
    });

    describe.runIf(on("tags"))("tags", () => {
      it("invalidateTags stops every entry with one of the tags, and only those", async () => {
        await c.set(key("tag1"), 1, { tags: ["t-a"] });
        await c.set(key("tag2"), 2, { tags: ["t-a", "t-b"] });
        await c.set(key("tag3"), 3, { tags: ["t-b"] });
        expect(await c.get(key("tag2"))).toBe(2);
        await c.invalidateTags(["t-a"]);
        expect(await c.get(key("tag1"))).toBeUndefined();
        expect(await c.get(key("tag2"))).toBeUndefined();
        expect(await c.get(key("tag3"))).toBe(3);
        let loads = 0;
        expect(await c.fetch(key("tag4"), () => ++loads, { tags: ["t-c"] })).toBe(1);
        await c.invalidateTags(["t-c"]);
        expect(await c.fetch(key("tag4"), () => ++loads, { tags: ["t-c"] })).toBe(2);
      });
    });

    describe.runIf(on("badInput"))("bad input", () => {
      it("rejects bad keys, TTLs and tags with typed errors that say what is wrong", async () => {
        await expect(c.get("")).rejects.toBeInstanceOf(McpairError);
        await expect(c.set(key("bad"), 1, { ttl: -1 })).rejects.toBeInstanceOf(McpairError);
        await expect(c.set(key("bad"), 1, { ttl: Number.NaN })).rejects.toBeInstanceOf(McpairError);
        await expect(c.set(key("bad"), 1, { tags: "t" as unknown as string[] })).rejects.toBeInstanceOf(
          InvalidArgumentError,
        );
        await expect(c.fetch(key("bad"), "nope" as unknown as () => number)).rejects.toBeInstanceOf(
          InvalidArgumentError,
        );
        expect(() => c.namespace("")).toThrow(InvalidArgumentError);
      });
    });
  });
}
