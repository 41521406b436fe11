// The Keyv 6 storage contract (keyv 6.1, `core/keyv/src/types/adapters.ts`), on three real memcached servers with two
// replicas per key. keyv's v6 `storageTestSuite` is not published on npm (only 2.1.2, the v5 suite), so its groups are
// written here from the contract: basic, batch, expiry (absolute epoch ms, seconds granularity), namespace, disconnect;
// then Keyv 6 itself over the store: the capabilities handshake, store-side namespacing, the value envelope.
import { useMemcachedCleanup, waitFor } from "@mcpair/test-utils";
import { detectKeyvStorage, Keyv as Keyv6, KeyvBridgeAdapter, type KeyvStorageAdapter } from "keyv6";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyvMcpair } from "../src/index.js";
import { type Cluster, startCluster, unique } from "./helpers.js";

useMemcachedCleanup();

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.close();
});

/** A store as Keyv 6 leaves it after adopting it: contract 6 by the handshake, used directly. */
function adopted(namespace?: string): KeyvMcpair {
  const store = new KeyvMcpair(cluster.client, { namespace: namespace ?? unique("v6") });
  new Keyv6({ store });
  return store;
}

describe("storage contract, used directly (after Keyv 6 adopted the store)", () => {
  it("basic: set/get round trip, miss, delete → true then false, has, clear", async () => {
    const s = adopted();
    expect(s.contract).toBe(6);
    await expect(s.set("k1", "value one")).resolves.toBe(true);
    expect(await s.get("k1")).toBe("value one");
    expect(await s.get("absent")).toBeUndefined();
    expect(await s.has("k1")).toBe(true);
    expect(await s.has("absent")).toBe(false);
    expect(await s.delete("k1")).toBe(true);
    expect(await s.delete("k1")).toBe(false);
    expect(await s.has("k1")).toBe(false);
    await s.set("k2", "two");
    await s.set("k3", "three");
    await s.clear();
    expect(await s.get("k2")).toBeUndefined();
    expect(await s.get("k3")).toBeUndefined();
  });

  it("batch: setMany, getMany in order, hasMany and deleteMany as boolean arrays, empty batches", async () => {
    const s = adopted();
    expect(
      await s.setMany([
        { key: "a", value: "A" },
        { key: "b", value: "B" },
        { key: "c", value: "C" },
      ]),
    ).toEqual([true, true, true]);
    expect(await s.getMany(["c", "missing", "a", "b"])).toEqual(["C", undefined, "A", "B"]);
    expect(await s.hasMany(["a", "missing", "c"])).toEqual([true, false, true]);
    expect(await s.deleteMany(["a", "missing", "b"])).toEqual([true, false, true]);
    expect(await s.getMany(["a", "b", "c"])).toEqual([undefined, undefined, "C"]);
    expect(await s.deleteMany(["nope-1", "nope-2"])).toEqual([false, false]);
    expect(await s.setMany([])).toEqual([]);
    expect(await s.getMany([])).toEqual([]);
    expect(await s.hasMany([])).toEqual([]);
    expect(await s.deleteMany([])).toEqual([]);
  });

  it("expiry: set(key, value, expires) is live before the deadline and gone after it", async () => {
    const s = adopted();
    const deadline = Date.now() + 1000;
    await s.set("short", "v", deadline);
    await s.set("long", "v", Date.now() + 600_000);
    expect(await s.get("short")).toBe("v");
    // memcached keeps it past the deadline (whole seconds, rounded up) and then drops it by itself.
    await waitFor(async () => (await s.get("short")) === undefined, { timeout: 5000, what: "expiry" });
    expect(Date.now()).toBeGreaterThanOrEqual(deadline);
    expect(await s.has("short")).toBe(false);
    expect(await s.get("long")).toBe("v");
  });

  it("expiry: a deadline already past stores nothing and deletes what was there", async () => {
    const s = adopted();
    await s.set("gone", "old");
    await expect(s.set("gone", "new", Date.now() - 1)).resolves.toBe(true);
    expect(await s.get("gone")).toBeUndefined();
    await s.set("never", "x", Date.now() - 60_000);
    expect(await s.get("never")).toBeUndefined();
  });

  it("expiry: setMany honours each entry's own expires (past ones deleted, absent = no expiry)", async () => {
    const s = adopted();
    await s.set("stale", "old");
    expect(
      await s.setMany([
        { key: "soon", value: "1", expires: Date.now() + 1000 },
        { key: "kept", value: "2" },
        { key: "stale", value: "3", expires: Date.now() - 1000 },
      ]),
    ).toEqual([true, true, true]);
    expect(await s.getMany(["soon", "kept", "stale"])).toEqual(["1", "2", undefined]);
    await waitFor(async () => (await s.get("soon")) === undefined, { timeout: 5000, what: "expiry" });
    expect(await s.get("kept")).toBe("2");
  });

  it("expiry: a relative TTL given to the absolute API is refused, not read as 1970", async () => {
    const s = adopted();
    await s.set("k", "kept");
    await expect(s.set("k", "v", 5000)).rejects.toThrow(/relative TTL/);
    expect(await s.get("k")).toBe("kept");
  });

  it("namespace: undefined on a fresh store, settable, and scopes keys and clear()", async () => {
    const bare = new KeyvMcpair(cluster.client);
    expect(bare.namespace).toBeUndefined();
    bare.namespace = "test-ns";
    expect(bare.namespace).toBe("test-ns");
    bare.namespace = undefined;
    expect(bare.namespace).toBeUndefined();

    const one = adopted(unique("one"));
    const two = adopted(unique("two"));
    await one.set("same", "one");
    await two.set("same", "two");
    expect(await one.get("same")).toBe("one");
    expect(await two.get("same")).toBe("two");
    await one.clear();
    expect(await one.get("same")).toBeUndefined();
    expect(await two.get("same")).toBe("two");
  });

  it("disconnect: resolves, and leaves a borrowed client open", async () => {
    const s = adopted();
    await s.disconnect();
    await s.disconnect();
    await s.set("after", "still works");
    expect(await s.get("after")).toBe("still works");
  });
});

describe("Keyv 6 over the store", () => {
  it("adopts it directly through capabilities.expires (no bridge), native async methods", () => {
    const store = new KeyvMcpair(cluster.client);
    expect(store.contract).toBe(5);
    const keyv = new Keyv6({ store });
    expect(keyv.store).toBe(store);
    expect(store.contract).toBe(6);
    expect(store.capabilities?.expires).toBe(true);
    const detected = detectKeyvStorage(store);
    expect(detected.store).toBe("keyvStorage");
    for (const [name, method] of Object.entries(store.capabilities!.methods)) {
      expect(detected.methods[name as keyof typeof detected.methods]).toEqual(method);
    }
    // The store type-checks as Keyv 6's adapter type (and as Keyv 5's: keyv5-suite.test.ts).
    const typed: KeyvStorageAdapter = store;
    expect(typed).toBe(store);
  });

  it("passes unprefixed keys and sets store.namespace: the store does the namespacing", async () => {
    const ns = unique("app");
    const store = new KeyvMcpair(cluster.client);
    const keyv = new Keyv6({ store, namespace: ns });
    expect(store.namespace).toBe(ns);
    await keyv.set("user:1", { name: "Ada" });
    // Stored under the raw key in the namespace: the same store reads it back without any prefix.
    const raw = await store.get<string>("user:1");
    expect(typeof raw).toBe("string");
    expect(JSON.parse(raw!).value).toEqual({ name: "Ada" });
    expect(await store.get(`${ns}:user:1`)).toBeUndefined();
    expect(await keyv.get("user:1")).toEqual({ name: "Ada" });
  });

  it("namespaced clear() leaves another namespace on the same client intact", async () => {
    const a = new Keyv6({ store: new KeyvMcpair(cluster.client), namespace: unique("a") });
    const b = new Keyv6({ store: new KeyvMcpair(cluster.client), namespace: unique("b") });
    await a.setMany([
      { key: "x", value: 1 },
      { key: "y", value: 2 },
    ]);
    await b.setMany([
      { key: "x", value: 10 },
      { key: "y", value: 20 },
    ]);
    await a.clear();
    expect(await a.getMany(["x", "y"])).toEqual([undefined, undefined]);
    expect(await b.getMany(["x", "y"])).toEqual([10, 20]);
  });

  it("ttl in ms becomes an absolute expiry; Keyv hides the entry at the deadline, memcached drops it after", async () => {
    const store = new KeyvMcpair(cluster.client, { namespace: unique("ttl") });
    const keyv = new Keyv6({ store });
    const start = Date.now();
    await keyv.set("k", "v", 300);
    expect(await keyv.get("k")).toBe("v");
    // Keyv's own check (checkExpired, on by default) is millisecond-exact...
    await waitFor(async () => (await keyv.getRaw("k")) === undefined, { timeout: 3000, what: "Keyv expiry" });
    expect(Date.now() - start).toBeGreaterThanOrEqual(300);
    // ...and memcached, rounded up to whole seconds (never 0 = "forever"), drops the item itself.
    await store.set("k2", "v", Date.now() + 300);
    await waitFor(async () => (await store.get("k2")) === undefined, {
      timeout: 5000,
      what: "memcached expiry",
    });
  });

  it("boolean arrays from deleteMany and hasMany; getMany in order", async () => {
    const keyv = new Keyv6({ store: new KeyvMcpair(cluster.client), namespace: unique("arr") });
    await keyv.setMany([
      { key: "a", value: "A" },
      { key: "b", value: "B" },
    ]);
    expect(await keyv.getMany(["b", "z", "a"])).toEqual(["B", undefined, "A"]);
    expect(await keyv.hasMany(["a", "z"])).toEqual([true, false]);
    expect(await keyv.deleteMany(["a", "z", "b"])).toEqual([true, false, true]);
  });

  it("get returns the { value, expires } envelope when Keyv's serialization is off", async () => {
    const store = new KeyvMcpair(cluster.client, { namespace: unique("env") });
    const keyv = new Keyv6({ store, serialization: false });
    await keyv.set("k", { n: 1, s: "x" }, 60_000);
    const envelope = await store.get<{ value: unknown; expires: number }>("k");
    expect(envelope?.value).toEqual({ n: 1, s: "x" });
    expect(envelope!.expires).toBeGreaterThan(Date.now());
    expect(await keyv.get("k")).toEqual({ n: 1, s: "x" });
    expect(((await keyv.getRaw("k")) as { expires?: number } | undefined)?.expires).toBe(envelope!.expires);
  });

  it("values survive Keyv 6's serializer: strings, numbers, null, objects, Buffers, unicode", async () => {
    const keyv = new Keyv6({ store: new KeyvMcpair(cluster.client), namespace: unique("val") });
    const values: Array<[string, unknown]> = [
      ["s", "text with spaces\nand lines"],
      ["n", 0],
      ["f", false],
      ["null", null],
      ["o", { deep: { list: [1, "2", null] } }],
      ["u", "日本語 🎉"],
    ];
    for (const [k, v] of values) await keyv.set(k, v);
    for (const [k, v] of values) expect(await keyv.get(k)).toEqual(v);
    await keyv.set("buf", Buffer.from([0, 1, 2, 255]));
    expect(Buffer.from((await keyv.get("buf")) as Uint8Array)).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it("a store pinned to contract 5 declares no capabilities: Keyv 6 bridges it, relative TTLs, still works", async () => {
    const store = new KeyvMcpair(cluster.client, { contract: 5 });
    const keyv = new Keyv6({ store, namespace: unique("pinned") });
    expect(keyv.store).toBeInstanceOf(KeyvBridgeAdapter);
    expect(store.contract).toBe(5);
    expect(store.namespace).toBe(keyv.namespace);
    await keyv.set("k", "v", 500);
    expect(await keyv.get("k")).toBe("v");
    // Read as a relative TTL (a 55-year one if it were misread as epoch ms): memcached drops it in seconds.
    await waitFor(async () => (await store.get("k")) === undefined, {
      timeout: 5000,
      what: "memcached expiry",
    });
    await keyv.setMany([
      { key: "a", value: 1 },
      { key: "b", value: 2 },
    ]);
    // Contract 5 answers one boolean (all existed); the bridge spreads it over the keys.
    expect(await keyv.deleteMany(["a", "b"])).toEqual([true, true]);
    expect(await keyv.getMany(["a", "b"])).toEqual([undefined, undefined]);
  });
});

describe("write failures", () => {
  it("a value over memcached's item size: set resolves false with an error event; setMany fails only that entry", async () => {
    const keyv = new Keyv6({ store: new KeyvMcpair(cluster.client), namespace: unique("big") });
    const errors: unknown[] = [];
    keyv.on("error", (error: unknown) => errors.push(error));
    const big = "x".repeat(2 * 1024 * 1024);
    expect(await keyv.set("big", big)).toBe(false);
    expect(
      await keyv.setMany([
        { key: "a", value: "small" },
        { key: "big", value: big },
        { key: "b", value: "small" },
      ]),
    ).toEqual([true, false, true]);
    expect(await keyv.getMany(["a", "big", "b"])).toEqual(["small", undefined, "small"]);
    expect(errors).toHaveLength(2);
    for (const error of errors) expect(JSON.stringify((error as Error).message)).toMatch(/limit|large|bytes/);
  });
});
