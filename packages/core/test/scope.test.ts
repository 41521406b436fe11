// Namespaces, tags and batch results on in-process servers shared by several clients (as processes share servers).
// The same semantics are proven on real memcached in packages/memcached/test/scope.test.ts.
import { afterEach, describe, expect, it } from "vitest";
import {
  ClientClosedError,
  InvalidArgumentError,
  ReplicationError,
  ServerUnavailableError,
} from "../src/errors.js";
import { createMemoryCluster, type MemoryCluster } from "../src/memory-cluster.js";
import type { MemoryTransportOperation } from "../src/memory-transport.js";
import type { PairClientOptions } from "../src/options.js";

const quiet: Partial<PairClientOptions> = {
  health: { checkInterval: 0, rejoinQuarantine: 0, probeInterval: 20 },
};
let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

function setup(n = 3, extra: Partial<PairClientOptions> = {}) {
  cluster = createMemoryCluster(n);
  return { cluster, a: cluster.client({ ...quiet, ...extra }), b: cluster.client({ ...quiet, ...extra }) };
}

describe("namespaces", () => {
  it("clear() in one client: the other's next read misses; other namespaces and the root keep their entries", async () => {
    const { cluster, a, b } = setup();
    const usersA = a.namespace("users");
    const usersB = b.namespace("users");
    await usersA.set("1", { name: "Ada" });
    await a.namespace("posts").set("1", "hello");
    await a.set("root", "r");
    expect(await usersB.get("1")).toEqual({ name: "Ada" });
    await usersB.clear();
    expect(await usersA.get("1")).toBeUndefined();
    expect(await usersB.get("1")).toBeUndefined();
    expect(await b.namespace("posts").get("1")).toBe("hello");
    expect(await b.get("root")).toBe("r");
    // Written after the clear: served again.
    await usersA.set("1", "after");
    expect(await usersB.get("1")).toBe("after");
    // No flush_all anywhere.
    for (const s of cluster.servers.values()) expect((await s.stats()).raw.cmd_flush ?? "0").toBe("0");
  });

  it("keys cannot collide across namespaces; a plain root value under a namespace's key is never served", async () => {
    const { a } = setup();
    await a.namespace("x").set("k", "in x");
    await a.namespace("y").set("k", "in y");
    await a.namespace("x:k").set("k", "in x:k");
    expect(await a.namespace("x").get("k")).toBe("in x");
    expect(await a.namespace("y").get("k")).toBe("in y");
    expect(await a.namespace("x:k").get("k")).toBe("in x:k");
    // Namespaced entries live under "<namespace>:<key>" (documented). A root write there is not an envelope: the
    // namespace treats it as a miss rather than serving a value it cannot validate.
    await a.set("z:k", "planted");
    expect(await a.namespace("z").get("k")).toBeUndefined();
  });

  it("any key works (hashed when memcached would refuse it, the original checked on read)", async () => {
    const { a, b } = setup();
    const ns = a.namespace("q");
    const long = `SELECT * FROM t WHERE x = 'a b'\n-- PARAMETERS: [${"9,".repeat(300)}]`;
    for (const key of [long, "with space", "#hashlike", "ünïcødé", "tab\there"]) {
      await ns.set(key, key.length);
      expect(await b.namespace("q").get(key)).toBe(key.length);
    }
    expect((await ns.getMany([long, "with space", "nope"])).size).toBe(2);
    expect(() => a.namespace("")).toThrow(InvalidArgumentError);
    expect(() => a.namespace("mcpair")).toThrow(InvalidArgumentError);
  });

  it("clearing a namespace clears the namespaces nested in it, not its siblings", async () => {
    const { a, b } = setup();
    await a.namespace("app").namespace("users").set("1", "u");
    await a.namespace("app").set("top", "t");
    await a.namespace("other").set("1", "o");
    await b.namespace("app").clear();
    expect(await a.namespace("app").namespace("users").get("1")).toBeUndefined();
    expect(await a.namespace("app").get("top")).toBeUndefined();
    expect(await a.namespace("other").get("1")).toBe("o");
    // Clearing the child leaves the parent alone.
    await a.namespace("app").set("top", "t2");
    await a.namespace("app").namespace("users").clear();
    expect(await a.namespace("app").get("top")).toBe("t2");
  });

  it("a read checks the generation in the same round trip as the entry (no extra latency)", async () => {
    // Hold every request at the server until two have arrived: a read that waited for one answer before asking the
    // next (a second round trip) would never get there.
    let held: Array<() => void> = [];
    let gateOn = false;
    const arrived: MemoryTransportOperation[] = [];
    cluster = createMemoryCluster(3, {
      gate: (op) => {
        if (!gateOn) return;
        arrived.push(op);
        return new Promise<void>((resolve) => held.push(resolve));
      },
    });
    const c = cluster.client(quiet);
    const ns = c.namespace("n");
    await ns.set("k", "v");
    gateOn = true;
    const read = ns.get("k");
    for (let i = 0; i < 100 && arrived.length < 2; i++) await new Promise((r) => setImmediate(r));
    expect(arrived.map((o) => o.key).sort()).toEqual(["mcpair:g:n", "n:k"]);
    gateOn = false;
    for (const release of held) release();
    held = [];
    expect(await read).toBe("v");
    const before = c.stats().scopeRequests;
    await ns.get("k");
    expect(c.stats().scopeRequests - before).toBe(1);
  });

  it("a lost generation (its servers restarted) reads as cleared, never as 'old entries valid again'", async () => {
    const { cluster, a } = setup();
    const ns = a.namespace("lost");
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    await ns.setMany(keys.map((k) => [k, k] as const));
    expect((await ns.getMany(keys)).size).toBe(30);
    for (const name of a.replicasOf("mcpair:g:lost")) cluster.server(name).restart();
    // Entries on servers that kept them are refused: their generation is gone.
    expect((await ns.getMany(keys)).size).toBe(0);
    // A new write creates a fresh generation; the old entries stay dead.
    await ns.set("k0", "new");
    expect(await ns.get("k0")).toBe("new");
    expect(await ns.get("k1")).toBeUndefined();
  });

  it("delete reports only live entries; add succeeds over a cleared entry; counters are cleared too", async () => {
    const { a, b } = setup();
    const ns = a.namespace("ops");
    await ns.set("d", 1);
    await b.namespace("ops").clear();
    expect(await ns.delete("d")).toBe(false);
    await ns.set("d", 2);
    expect(await ns.deleteMany(["d", "missing"])).toEqual([true, false]);
    await ns.set("a", "old");
    await ns.clear();
    expect(await ns.add("a", "new")).toBe(true);
    expect(await ns.add("a", "newer")).toBe(false);
    expect(await b.namespace("ops").get("a")).toBe("new");
    expect(await ns.incr("c", 1, { initial: 5 })).toBe(5);
    expect(await ns.incr("c", 2)).toBe(7);
    await b.namespace("ops").clear();
    expect(await ns.incr("c", 1)).toBeUndefined();
  });

  it("fetch in a namespace loads once, and again after clear()", async () => {
    const { a, b } = setup();
    let loads = 0;
    const loader = async () => `v${++loads}`;
    const results = await Promise.all([
      ...Array.from({ length: 20 }, () => a.namespace("f").fetch("k", loader)),
      ...Array.from({ length: 20 }, () => b.namespace("f").fetch("k", loader)),
    ]);
    expect(new Set(results)).toEqual(new Set(["v1"]));
    expect(loads).toBe(1);
    await a.namespace("f").clear();
    expect(await b.namespace("f").fetch("k", loader)).toBe("v2");
    expect(await a.namespace("f").fetch("k", loader)).toBe("v2");
    expect(loads).toBe(2);
  });
});

describe("tags", () => {
  it("invalidateTags in one client stops the tagged entries in the other; untagged and other tags stay", async () => {
    const { a, b } = setup();
    await a.set("q1", "users", { tags: ["users"] });
    await a.set("q2", "users+posts", { tags: ["users", "posts"] });
    await a.set("q3", "posts", { tags: ["posts"] });
    await a.set("q4", "plain");
    expect(await b.get("q2")).toBe("users+posts");
    await b.invalidateTags(["users"]);
    expect(await a.get("q1")).toBeUndefined();
    expect(await a.get("q2")).toBeUndefined();
    expect(await a.get("q3")).toBe("posts");
    expect(await a.get("q4")).toBe("plain");
    const many = await a.getMany(["q1", "q2", "q3", "q4"]);
    expect([...many.keys()].sort()).toEqual(["q3", "q4"]);
  });

  it("tags in a namespace are the namespace's; a tag hint saves the extra round trip", async () => {
    const { a, b } = setup();
    const ns = a.namespace("orm");
    await ns.set("find:1", [1], { tags: ["table:user"] });
    await a.set("root", "r", { tags: ["table:user"] });
    let before = a.stats().scopeRequests;
    expect(await ns.get("find:1", { tags: ["table:user"] })).toEqual([1]);
    expect(a.stats().scopeRequests - before).toBe(2); // namespace generation + the hinted tag, one batch
    await b.namespace("orm").invalidateTags(["table:user"]);
    expect(await ns.get("find:1")).toBeUndefined();
    expect(await a.get("root")).toBe("r");
    before = a.stats().scopeRequests;
    await ns.set("find:1", [2], { tags: ["table:user"] });
    expect(await ns.get("find:1")).toEqual([2]); // unhinted: the tag is read after the entry
    expect(a.stats().scopeRequests - before).toBeGreaterThan(0);
  });

  it("fetch with tags reloads after invalidation, with one loader call across clients", async () => {
    const { a, b } = setup();
    let loads = 0;
    const loader = async () => ++loads;
    expect(await a.fetch("t", loader, { tags: ["x"] })).toBe(1);
    expect(await b.fetch("t", loader, { tags: ["x"] })).toBe(1);
    // A plain fetch of the same key also honours the entry's tags.
    expect(await b.fetch("t", loader)).toBe(1);
    await a.invalidateTags(["x"]);
    const again = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).fetch("t", loader, { tags: ["x"] })),
    );
    expect(new Set(again)).toEqual(new Set([2]));
    expect(await b.fetch("t", loader)).toBe(2);
    expect(loads).toBe(2);
  });

  it("an entry stored as of a snapshot is dead on arrival when a tag was invalidated or the namespace cleared since", async () => {
    const { a, b } = setup();
    const ns = a.namespace("orm");
    // Nothing changed between snapshot and store: served.
    let snap = await ns.snapshot(["table:user"]);
    await ns.set("q1", "rows v1", { asOf: snap });
    expect(await b.namespace("orm").get("q1")).toBe("rows v1");
    // Snapshot (with the miss), the query reads old rows, another process commits and invalidates, then we store.
    snap = await ns.snapshot(["table:user"]);
    await b.namespace("orm").invalidateTags(["table:user"]);
    await ns.set("q2", "stale rows", { asOf: snap });
    expect(await ns.get("q2")).toBeUndefined();
    expect(await b.namespace("orm").get("q2")).toBeUndefined();
    // The same for a clear, and on the root client.
    snap = await ns.snapshot([]);
    await b.namespace("orm").clear();
    await ns.set("q3", "old", { asOf: snap });
    expect(await ns.get("q3")).toBeUndefined();
    const rootSnap = await a.snapshot(["t"]);
    await b.invalidateTags(["t"]);
    await a.set("r", "old", { asOf: rootSnap });
    expect(await a.get("r")).toBeUndefined();
    // Misuse is refused: a snapshot from another namespace, or other tags.
    await expect(a.namespace("other").set("x", 1, { asOf: snap })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    const tagged = await ns.snapshot(["t1"]);
    await expect(ns.set("x", 1, { asOf: tagged, tags: ["t2"] })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(ns.set("x", 1, { asOf: { scope: "orm", tags: [] } })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it("rejects bad tags with a typed error", async () => {
    const { a } = setup();
    await expect(a.set("k", 1, { tags: "users" as unknown as string[] })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(a.set("k", 1, { tags: [""] })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(a.invalidateTags([1 as unknown as string])).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe("batches with a server down", () => {
  for (const replicas of [1, 2]) {
    it(`getMany returns every key that can be read (replicas: ${replicas}, one of three servers down)`, async () => {
      const { cluster, a } = setup(3, { replicas });
      const keys = Array.from({ length: 300 }, (_, i) => `key:${i}`);
      await a.setMany(keys.map((k) => [k, k] as const));
      const down = cluster.names[0]!;
      cluster.server(down).down();
      // Mark it down in the client (failures count toward the threshold).
      for (let i = 0; i < 5; i++) await a.getMany(keys);
      const got = await a.getMany(keys);
      expect(got).toBeInstanceOf(Map);
      const readable = keys.filter((k) => a.replicasOf(k).some((s) => s !== down));
      expect([...got.keys()].sort()).toEqual([...readable].sort());
      expect(got.unavailable.sort()).toEqual(keys.filter((k) => !readable.includes(k)).sort());
      if (replicas === 1) expect(got.unavailable.length).toBeGreaterThan(50);
      else expect(got.unavailable).toEqual([]);
      // Only a batch of which nothing at all can be read rejects; "miss" mode never does.
      const lost = keys.filter((k) => !readable.includes(k));
      if (lost.length > 0) {
        await expect(a.getMany(lost)).rejects.toBeInstanceOf(ServerUnavailableError);
        expect((await a.getMany(lost, { onUnavailable: "miss" })).size).toBe(0);
        await expect(a.get(lost[0]!)).rejects.toBeInstanceOf(ServerUnavailableError);
        expect(await a.get(lost[0]!, { onUnavailable: "miss" })).toBeUndefined();
      }
    });
  }

  it("setMany and deleteMany report per entry and name the keys that failed", async () => {
    const { cluster, a } = setup(3, { writePolicy: "all" });
    const keys = Array.from({ length: 60 }, (_, i) => `w${i}`);
    expect(await a.setMany(keys.map((k) => [k, 1] as const))).toEqual(keys.map(() => true));
    const down = cluster.names[1]!;
    cluster.server(down).down();
    const error = await a.setMany(keys.map((k) => [k, 2] as const)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplicationError);
    const r = error as ReplicationError;
    const touching = keys.filter((k) => a.replicasOf(k).includes(down));
    expect([...r.keys].sort()).toEqual([...touching].sort());
    expect(r.results).toEqual(keys.map((k) => !touching.includes(k)));
    const del = (await a.deleteMany(keys).catch((e: unknown) => e)) as ReplicationError;
    expect(del).toBeInstanceOf(ReplicationError);
    expect([...del.keys].sort()).toEqual([...touching].sort());
  });
});

describe("batch edge cases", () => {
  it("a value too large fails its own entry in setMany, root and namespace; the others are stored", async () => {
    const { a } = setup();
    const big = "x".repeat(2 * 1024 * 1024);
    for (const c of [a, a.namespace("big")]) {
      const error = (await c
        .setMany([
          ["ok1", 1],
          ["huge", big],
          ["ok2", 2],
        ])
        .catch((e: unknown) => e)) as ReplicationError;
      expect(error).toBeInstanceOf(ReplicationError);
      expect(error.keys).toEqual(["huge"]);
      expect(error.results).toEqual([true, false, true]);
      expect(await c.get("ok1")).toBe(1);
      expect(await c.get("ok2")).toBe(2);
    }
  });

  it("a namespace client of a closed root client says closed, not unavailable", async () => {
    const { a } = setup();
    const ns = a.namespace("n");
    await ns.set("k", 1);
    await a.close();
    await expect(ns.get("k")).rejects.toBeInstanceOf(ClientClosedError);
    await expect(ns.get("k", { onUnavailable: "miss" })).rejects.toBeInstanceOf(ClientClosedError);
    await expect(ns.set("k", 2)).rejects.toBeInstanceOf(ClientClosedError);
    await expect(ns.clear()).rejects.toBeInstanceOf(ClientClosedError);
  });
});

describe("createMemoryCluster", () => {
  it("validates its arguments", () => {
    expect(() => createMemoryCluster(0)).toThrow(InvalidArgumentError);
    expect(() => createMemoryCluster(["a", "a"])).toThrow(InvalidArgumentError);
    const c = createMemoryCluster(["a", "b:1"]);
    expect(c.names).toEqual(["a:11211", "b:1"]);
    expect(() => c.server("zzz")).toThrow(InvalidArgumentError);
    return c.close();
  });
});
