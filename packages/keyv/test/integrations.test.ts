// cache-manager 7 and cacheable 2, both built on Keyv 5.6, over the store on three real memcached servers. A counting
// wrapper around the client shows that their multi-key calls reach the client's batch operations: one getMany or
// setMany for a whole batch, never a loop of single-key calls.
import { useMemcachedCleanup } from "@mcpair/test-utils";
import { createCache } from "cache-manager";
import { Cacheable } from "cacheable";
import Keyv from "keyv";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KeyvMcpair } from "../src/index.js";
import { type CallLog, type Cluster, countingClient, startCluster, unique } from "./helpers.js";

useMemcachedCleanup();

let cluster: Cluster;
let store: KeyvMcpair;
let log: CallLog;
beforeAll(async () => {
  cluster = await startCluster();
  const counted = countingClient(cluster.client);
  log = counted.log;
  store = new KeyvMcpair(counted.client);
});
afterAll(async () => {
  await cluster?.close();
});
beforeEach(() => log.reset());

const items = (label: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ key: `${label}:${i}`, value: { i, label } }));

describe("cache-manager 7: createCache({ stores: [new Keyv({ store })] })", () => {
  it("mset is one setMany, mget is one getMany (50 keys, 3 servers)", async () => {
    const cache = createCache({ stores: [new Keyv({ store, namespace: unique("cm") })] });
    const list = items("user", 50);
    await cache.mset(list.map((e) => ({ ...e, ttl: 60_000 })));
    expect(log.calls).toEqual({ setMany: 1 });
    expect(log.keys.setMany).toBe(50);

    log.reset();
    const got = await cache.mget([...list.map((e) => e.key), "user:missing"]);
    expect(log.calls).toEqual({ getMany: 1 });
    expect(log.keys.getMany).toBe(51);
    expect(got).toEqual([...list.map((e) => e.value), undefined]);
  });

  it("get/set/del/ttl/wrap/clear", async () => {
    const keyv = new Keyv({ store, namespace: unique("cm") });
    const errors: unknown[] = [];
    keyv.on("error", (error: unknown) => errors.push(error));
    const cache = createCache({ stores: [keyv] });
    const before = Date.now();
    await cache.set("k", "v", 60_000);
    expect(await cache.get("k")).toBe("v");
    const expires = await cache.ttl("k");
    expect(expires).toBeGreaterThanOrEqual(before + 60_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 60_000);
    let loads = 0;
    const load = async () => ({ loaded: ++loads });
    expect(await cache.wrap("w", load, 60_000)).toEqual({ loaded: 1 });
    expect(await cache.wrap("w", load, 60_000)).toEqual({ loaded: 1 });
    await cache.del("k");
    expect(await cache.get("k")).toBeUndefined();
    await cache.clear();
    expect(await cache.get("w")).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it("a memory store in front: a miss there is filled from memcached", async () => {
    const ns = unique("cm2");
    const remote = new Keyv({ store, namespace: ns });
    await createCache({ stores: [remote] }).mset(items("p", 5));
    const tiered = createCache({ stores: [new Keyv(), new Keyv({ store, namespace: ns })] });
    log.reset();
    expect(await tiered.mget(["p:0", "p:4"])).toEqual([
      { i: 0, label: "p" },
      { i: 4, label: "p" },
    ]);
    expect(log.calls).toEqual({ getMany: 1 });
  });
});

describe("cacheable 2: the store as secondary", () => {
  it("set/setMany write through to memcached; another instance (empty memory) reads them back in one batch", async () => {
    const ns = unique("cacheable");
    const writer = new Cacheable({ secondary: new KeyvMcpair(store.client), namespace: ns });
    await writer.set("one", { n: 1 }, "1m");
    log.reset();
    await writer.setMany(items("many", 20).map((e) => ({ ...e, ttl: "1m" })));
    expect(log.calls).toEqual({ setMany: 1 });

    const reader = new Cacheable({ secondary: store, namespace: ns });
    log.reset();
    const got = await reader.getMany(["one", ...items("many", 20).map((e) => e.key), "nope"]);
    expect(log.calls).toEqual({ getMany: 1 });
    expect(got[0]).toEqual({ n: 1 });
    expect(got.slice(1, 21)).toEqual(items("many", 20).map((e) => e.value));
    expect(got[21]).toBeUndefined();
    // The secondary filled the reader's memory: a second read does not reach memcached.
    log.reset();
    expect(await reader.get("one")).toEqual({ n: 1 });
    expect(log.calls).toEqual({});
  });

  it("delete and clear reach memcached, scoped to cacheable's namespace", async () => {
    const a = new Cacheable({ secondary: new KeyvMcpair(store.client), namespace: unique("ca") });
    const b = new Cacheable({ secondary: new KeyvMcpair(store.client), namespace: unique("cb") });
    await a.set("k", "a");
    await b.set("k", "b");
    await a.clear();
    expect(await a.get("k")).toBeUndefined();
    expect(await b.get("k")).toBe("b");
    await b.delete("k");
    const fresh = new Cacheable({
      secondary: new KeyvMcpair(store.client),
      namespace: b.namespace as string,
    });
    expect(await fresh.get("k")).toBeUndefined();
  });
});
