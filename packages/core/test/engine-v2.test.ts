// The behaviours issue 8 added or fixed that are not interleaving properties (those are in interleavings*.test.ts):
// what each call does, on in-process servers shared by several clients.
import { afterEach, describe, expect, it } from "vitest";
import { FLAGS } from "../src/codec.js";
import { ReplicationError } from "../src/errors.js";
import type { MemoryTransport } from "../src/memory-transport.js";
import type { PairClient } from "../src/pair-client.js";
import { REWARM_KEY } from "../src/rewarm.js";
import { memoryCluster } from "./cluster.js";

type Cluster = ReturnType<typeof memoryCluster>;
let cluster: Cluster;
afterEach(async () => {
  await cluster?.close();
});

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const text = (t: MemoryTransport, k: string) => {
  const item = t.peek(k);
  return item === undefined || item.flags === FLAGS.tombstone
    ? undefined
    : new TextDecoder().decode(item.value);
};

/** Marks `server` down for every client in `cs` (their requests fail), restarts it empty, waits for all to rejoin it. */
async function restartSeenBy(cs: PairClient | PairClient[], server: MemoryTransport): Promise<void> {
  const clients = Array.isArray(cs) ? cs : [cs];
  // Every client knows the server's process first (its start-up check), so the restart is told from a pause.
  await Promise.all(clients.map((c) => c.status()));
  const rejoined = clients.map(
    (c) =>
      new Promise<void>((resolve) => {
        const on = (e: { server: string; how: string }) => {
          if (e.server === server.address && (e.how === "restarted" || e.how === "flushed")) {
            c.off("rejoin", on);
            resolve();
          }
        };
        c.on("rejoin", on);
      }),
  );
  server.down();
  for (const c of clients) {
    // A key the server holds, so the failed requests reach it whatever the replica count.
    const probe = Array.from({ length: 200 }, (_, i) => `notice${i}`).find((k) =>
      c.replicasOf(k).includes(server.address),
    )!;
    await c.set(probe, "y").catch(() => undefined);
    await c.get(probe).catch(() => undefined);
  }
  server.restart();
  server.up();
  await Promise.all(rejoined);
}

describe("issue 8: semantics", () => {
  it("invalidate(key, 0) deletes: never served again, not even stale", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ rewarm: false });
    await c.set("k", "old");
    expect(await c.invalidate("k", 0)).toBe(true);
    for (const t of cluster.replicas(c, "k")) expect(t.peek("k")?.stale ?? false).toBe(false);
    expect(await c.fetch("k", () => "fresh")).toBe("fresh");
    await expect(c.invalidate("k", -1)).rejects.toThrow(/ttl/);
  });

  it("a failed touch is hinted: the replica that kept the old lifetime is not read for the key", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ rewarm: false, health: { failureThreshold: 100 } });
    await c.set("k", "v", { ttl: 600 });
    const [, s] = cluster.replicas(c, "k");
    s!.hang();
    await c.touch("k", 5);
    expect(c.stats().servers.find((x) => x.name === s!.address)!.hints).toBe(1);
    s!.up();
    await until(() => c.stats().servers.every((x) => x.hints === 0), "the replay");
    expect(text(s!, "k")).toBeUndefined();
  });

  it("cas is refused on a replica this client knows missed a write of the key", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ rewarm: false, health: { failureThreshold: 100 } });
    await c.set("k", "v1");
    const token = (await c.gets("k"))!.token;
    const p = cluster.server(token.server);
    p.hang();
    await c.set("k", "v2"); // p misses it: hinted
    p.up();
    expect(await c.cas("k", "v3", token)).toBe(false);
  });

  it("counter copies keep the authority's remaining lifetime, not the call's", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const c = cluster.client({ rewarm: false });
    expect(await c.incr("n", 1, { initial: 10, ttl: 60 })).toBe(10);
    cluster.advance(20);
    expect(await c.incr("n", 1, { ttl: 3600 })).toBe(11);
    for (const t of cluster.replicas(c, "n")) expect(t.peek("n")!.ttl).toBeLessThanOrEqual(41);
  });

  it('writePolicy "all": an authoritative operation whose copy a replica missed rejects (a "maybe" write)', async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ rewarm: false, writePolicy: "all", health: { failureThreshold: 100 } });
    expect(await c.incr("n", 1, { initial: 1 })).toBe(1);
    const [, s] = cluster.replicas(c, "n");
    s!.down();
    await expect(c.incr("n")).rejects.toThrow(ReplicationError);
    await expect(c.add("fresh", "v")).rejects.toThrow(ReplicationError);
  });

  it("append, prepend and replace treat a lease placeholder as absent", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ rewarm: false });
    const [p] = cluster.replicas(c, "k");
    await p!.get("k", { lease: 30 }); // a read-through loading the key
    expect(await c.append("k", "+a")).toBe(false);
    expect(await c.prepend("k", "p+")).toBe(false);
    expect(await c.replace("k", "x")).toBe(false);
    expect(p!.peek("k")!.value.length).toBe(0); // still the placeholder, untouched
  });

  it("a delete leaves tombstones that block copies, then expire", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ rewarm: false, tombstoneTtl: 3 });
    await c.set("k", "v");
    expect(await c.delete("k")).toBe(true);
    expect(await c.delete("k")).toBe(false);
    for (const t of cluster.replicas(c, "k")) expect(t.peek("k")!.flags).toBe(FLAGS.tombstone);
    expect(await c.get("k")).toBeUndefined();
    expect(await c.add("k", "again")).toBe(true); // add wins over a tombstone
    expect(await c.get("k")).toBe("again");
    cluster.advance(4);
    expect(await c.delete("other")).toBe(false);
  });
});

describe("issue 8: a returned server is refilled", () => {
  it("reads copy to a server in its rejoin quarantine (primary or secondary) without reading it", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const c = cluster.client({
      rewarm: false,
      repair: "await",
      health: { failureThreshold: 1, rejoinQuarantine: 60_000 },
    });
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    await c.setMany(keys.map((k) => [k, k]));
    const a = cluster.server("a");
    await restartSeenBy(c, a);
    expect(c.servers.find((s) => s.name === "a:1")!.state).toBe("recovering");
    const before = c.stats();
    for (const k of keys) expect(await c.get(k)).toBe(k);
    const onA = keys.filter((k) => c.replicasOf(k).includes("a:1"));
    expect(onA.length).toBeGreaterThan(5);
    // Refilled, as primary and as secondary...
    for (const k of onA) expect(text(a, k)).toBe(k);
    // ...but not read: hits went to the other replica.
    const after = c.stats();
    expect(after.hitsPrimary + after.hitsReplica - before.hitsPrimary - before.hitsReplica).toBe(keys.length);
  });

  it("fetch counts a hit on the secondary as a replica hit while the primary is quarantined, and refills it", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({
      rewarm: false,
      repair: "await",
      health: { failureThreshold: 1, rejoinQuarantine: 60_000 },
    });
    await c.set("k", "v");
    const [p] = cluster.replicas(c, "k");
    await restartSeenBy(c, p!);
    const before = c.stats();
    expect(await c.fetch("k", () => "from db")).toBe("v");
    expect(c.stats().hitsReplica).toBe(before.hitsReplica + 1);
    expect(c.stats().hitsPrimary).toBe(before.hitsPrimary);
    expect(c.stats().loads).toBe(0);
    await until(() => text(p!, "k") === "v", "the refill of the quarantined primary");
  });

  it("automatic rewarm: exactly one client copies, status shows rewarming then up, the copy is complete", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const options = { health: { failureThreshold: 1 }, rewarm: { rate: 2000, concurrency: 4, window: 100 } };
    const c1 = cluster.client(options);
    const c2 = cluster.client(options);
    const keys = Array.from({ length: 300 }, (_, i) => `key:${i}`);
    await c1.setMany(keys.map((k) => [k, k]));
    const a = cluster.server("a");
    const states = new Set<string>();
    await restartSeenBy([c1, c2], a);
    await until(async () => {
      const s = (await c1.status()).find((x) => x.name === "a:1")!;
      states.add(s.state);
      return s.rewarm?.state === "done";
    }, "the rewarm to finish");
    expect(states.has("rewarming")).toBe(true);
    const runs = [...c1.stats().rewarm, ...c2.stats().rewarm].filter((r) => r.server === "a:1");
    expect(runs).toHaveLength(1); // one process in the fleet
    const shouldHold = keys.filter((k) => c1.replicasOf(k).includes("a:1"));
    // 300 keys at a window of 100: several dump passes per partner, every key copied once.
    expect(runs[0]!.copied).toBe(shouldHold.length);
    for (const k of shouldHold) expect(text(a, k)).toBe(k);
    const status = (await c1.status()).find((x) => x.name === "a:1")!;
    expect(status.state).toBe("up");
    expect(status.rewarm).toMatchObject({ state: "done", copied: shouldHold.length, progress: 1 });
  });

  it("another client takes the rewarm over when the lock holder dies", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    // Slow enough that the holder is still copying when it dies.
    const options = { health: { failureThreshold: 1 }, rewarm: { rate: 100, concurrency: 1, lockTtl: 2 } };
    const c1 = cluster.client(options);
    const c2 = cluster.client(options);
    const keys = Array.from({ length: 200 }, (_, i) => `key:${i}`);
    await c1.setMany(keys.map((k) => [k, k]));
    const a = cluster.server("a");
    await restartSeenBy([c1, c2], a);
    await until(() => [c1, c2].some((c) => c.stats().rewarm.some((r) => r.copied > 0)), "a rewarm to start");
    const [holder, watcher] = c1.stats().rewarm.length > 0 ? [c1, c2] : [c2, c1];
    expect(watcher.stats().rewarm).toHaveLength(0);
    holder.destroy(); // the holder dies; its lock expires after lockTtl on the server's clock
    cluster.advance(3);
    await until(
      () => watcher.stats().rewarm.some((r) => r.finishedAt !== undefined && r.progress === 1),
      "the takeover",
      20_000,
    );
    const shouldHold = keys.filter((k) => watcher.replicasOf(k).includes("a:1"));
    for (const k of shouldHold) expect(text(a, k)).toBe(k);
    // "done" once the server is read again by the new holder (its quarantine over), plus a probe delay.
    await until(() => {
      const marker = a.peek(REWARM_KEY);
      return marker !== undefined && JSON.parse(new TextDecoder().decode(marker.value)).state === "done";
    }, "the done marker");
  }, 30_000);
});

describe("issue 8: a draining server is a last resort", () => {
  it("with one replica, a drained server's keys are still read (not loaded from the database)", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const operator = cluster.client({ rewarm: false });
    const c = cluster.client({ rewarm: false, replicas: 1, health: { checkInterval: 50 } });
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    await c.setMany(keys.map((k) => [k, k]));
    await operator.drain("a:1");
    await until(() => c.servers.find((s) => s.name === "a:1")!.state === "draining", "the drain");
    let loads = 0;
    for (const k of keys) {
      expect(await c.get(k)).toBe(k);
      expect(await c.fetch(k, () => ++loads)).toBe(k);
    }
    expect(loads).toBe(0);
  });

  it("with one replica, a restarted server is read during its quarantine (nothing else could answer)", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const c = cluster.client({
      rewarm: false,
      replicas: 1,
      health: { failureThreshold: 1, rejoinQuarantine: 60_000 },
    });
    const a = cluster.server("a");
    const k = Array.from({ length: 50 }, (_, i) => `k${i}`).find((x) => c.replicasOf(x)[0] === "a:1")!;
    await restartSeenBy(c, a);
    expect(c.servers.find((s) => s.name === "a:1")!.state).toBe("recovering");
    await c.set(k, "written after the restart");
    expect(await c.get(k)).toBe("written after the restart");
    let loads = 0;
    expect(await c.fetch(k, () => ++loads)).toBe("written after the restart");
    expect(loads).toBe(0);
  });

  it("with two replicas, the readable one is preferred", async () => {
    cluster = memoryCluster(["a", "b"]);
    const operator = cluster.client({ rewarm: false });
    const c = cluster.client({ rewarm: false, health: { checkInterval: 50 } });
    await c.set("k", "v");
    const [p] = cluster.replicas(c, "k");
    await operator.drain(p!.address);
    await until(() => c.servers.find((s) => s.name === p!.address)!.state === "draining", "the drain");
    const before = c.stats();
    expect(await c.fetch("k", () => "db")).toBe("v");
    const after = c.stats();
    expect({ p: after.hitsPrimary - before.hitsPrimary, r: after.hitsReplica - before.hitsReplica }).toEqual({
      p: 0,
      r: 1,
    });
  });
});
