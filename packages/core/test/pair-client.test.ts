import { afterEach, describe, expect, it } from "vitest";
import { FLAGS } from "../src/codec.js";
import {
  ClientClosedError,
  InvalidArgumentError,
  InvalidKeyError,
  InvalidTtlError,
  ReplicationError,
  ServerUnavailableError,
  ValueTooLargeError,
} from "../src/errors.js";
import { PairClient } from "../src/pair-client.js";
import { DRAIN_KEY } from "../src/server-node.js";
import { memoryCluster } from "./cluster.js";

type Cluster = ReturnType<typeof memoryCluster>;
let cluster: Cluster;
afterEach(async () => {
  await cluster?.close();
});

const raw = (
  t: { peek(k: string): { value: Uint8Array; flags: number; ttl: number } | undefined },
  k: string,
) => {
  const item = t.peek(k);
  return item ? new TextDecoder().decode(item.value) : undefined;
};

/** No value for `k` on `t`: missing, or a delete's tombstone (a replay is a delete). */
const noValue = (t: { peek(k: string): { flags: number } | undefined }, k: string) => {
  const item = t.peek(k);
  return item === undefined || item.flags === FLAGS.tombstone;
};

/** Resolves when `cond()` is true; polls with setImmediate, bounded. */
async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("PairClient basics", () => {
  it("writes every replica and reads the primary", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const c = cluster.client();
    await c.set("user:1", { name: "Ada" });
    const [p, s] = cluster.replicas(c, "user:1");
    expect(raw(p!, "user:1")).toBe('{"name":"Ada"}');
    expect(raw(s!, "user:1")).toBe('{"name":"Ada"}');
    const third = [...cluster.servers.values()].find((t) => t !== p && t !== s)!;
    expect(third.peek("user:1")).toBeUndefined();
    expect(await c.get("user:1")).toEqual({ name: "Ada" });
    expect(c.stats().hitsPrimary).toBe(1);
    expect(await c.get("nope")).toBeUndefined();
    expect(c.stats().misses).toBe(1);
  });

  it("round-trips strings, bytes and JSON, and getMany returns only hits", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const c = cluster.client();
    await c.setMany([
      ["s", "text"],
      ["b", new Uint8Array([0, 13, 10, 255])],
      ["j", [1, { x: null }]],
    ]);
    const m = await c.getMany(["s", "b", "j", "missing", "s"]);
    expect([...m.keys()].sort()).toEqual(["b", "j", "s"]);
    expect(m.get("s")).toBe("text");
    expect([...(m.get("b") as Uint8Array)]).toEqual([0, 13, 10, 255]);
    expect(m.get("j")).toEqual([1, { x: null }]);
    expect(await c.deleteMany(["s", "b", "missing"])).toEqual([true, true, false]);
    expect(await c.get("s")).toBeUndefined();
  });

  it("caps every lifetime and never sends 'forever'", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ maxTtl: 3600 });
    await c.set("k", "v", { ttl: 10 * 86_400 });
    await c.set("k2", "v");
    await c.set("k3", "v", { ttl: 0.3 });
    for (const t of cluster.replicas(c, "k")) expect(t.peek("k")!.ttl).toBeLessThanOrEqual(3600);
    for (const t of cluster.replicas(c, "k2")) {
      expect(t.peek("k2")!.ttl).toBeGreaterThan(0);
      expect(t.peek("k2")!.ttl).toBeLessThanOrEqual(3600);
    }
    expect(cluster.replicas(c, "k3")[0]!.peek("k3")!.ttl).toBe(1);
  });

  it("add wins over a lease placeholder but not over a value", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    const [p] = cluster.replicas(c, "k");
    const lease = await p!.get("k", { lease: 30, cas: true });
    expect(lease?.win).toBe(true);
    expect(await c.add("k", "mine")).toBe(true);
    expect(await c.get("k")).toBe("mine");
    // The lease holder's guarded store now fails, as it must.
    expect(await p!.set("k", new Uint8Array([1]), { ttl: 10, flags: 1, cas: lease!.cas })).toBe("exists");
    expect(await c.add("k", "again")).toBe(false);
  });

  it("incr counts over a lease placeholder as over a miss", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    const [p] = cluster.replicas(c, "n");
    await p!.get("n", { lease: 30 });
    expect(await c.incr("n", 1, { initial: 5 })).toBe(5);
  });

  it("add/replace are decided by the primary and copied to the others", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const c = cluster.client({ repair: "await" });
    expect(await c.add("k", "first")).toBe(true);
    expect(await c.add("k", "second")).toBe(false);
    expect(await c.replace("k", "third")).toBe(true);
    expect(await c.replace("absent", "x")).toBe(false);
    for (const t of cluster.replicas(c, "k")) expect(raw(t, "k")).toBe("third");
    expect(await c.append("k", "+")).toBe(true);
    expect(await c.prepend("k", "-")).toBe(true);
    expect(await c.get("k")).toBe("-third+");
    for (const t of cluster.replicas(c, "k")) expect(raw(t, "k")).toBe("-third+");
  });

  it("counters are authoritative on the primary and copied to the others", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    // "await": the copies to the other replicas (background by default) land before each call resolves.
    const c = cluster.client({ repair: "await" });
    expect(await c.incr("n")).toBeUndefined();
    expect(await c.incr("n", 5, { initial: 10 })).toBe(10);
    expect(await c.incr("n", 5)).toBe(15);
    expect(await c.decr("n", 20)).toBe(0);
    expect(await c.incr("n", 7n)).toBe(7);
    // memcached rewrites a shorter result in place, padded with spaces ("7 " after 0 -> 7 following "10").
    for (const t of cluster.replicas(c, "n")) expect(raw(t, "n")?.trim()).toBe("7");
    // The primary restarts: the copy on the secondary (the authority's bytes, padding included) serves and becomes
    // authoritative.
    cluster.replicas(c, "n")[0]!.restart();
    expect(String(await c.get("n")).trim()).toBe("7");
    expect(await c.incr("n")).toBe(8);
    await expect(c.incr("n", -1)).rejects.toThrow(InvalidArgumentError);
  });

  it("gets/cas: CAS checked on the primary, winner copied to the others", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const c = cluster.client({ repair: "await" });
    await c.set("k", "v1");
    const g = await c.gets<string>("k");
    expect(g?.value).toBe("v1");
    await c.set("k", "v2");
    expect(await c.cas("k", "lost", g!.token)).toBe(false);
    const g2 = await c.gets<string>("k");
    expect(await c.cas("k", "v3", g2!.token)).toBe(true);
    for (const t of cluster.replicas(c, "k")) expect(raw(t, "k")).toBe("v3");
    await expect(c.cas("k", "x", { server: "zz", cas: 1n })).rejects.toThrow(/unknown server/);
  });

  it("touch reaches every replica", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    await c.set("k", "v", { ttl: 100 });
    expect(await c.touch("k", 5)).toBe(true);
    for (const t of cluster.replicas(c, "k")) expect(t.peek("k")!.ttl).toBeLessThanOrEqual(5);
    expect(await c.touch("absent", 5)).toBe(false);
  });

  it("flush empties every server", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    await c.set("k", "v");
    await c.flush();
    expect(await c.get("k")).toBeUndefined();
  });
});

describe("bad input is refused before anything is sent", () => {
  it("keys, TTLs, values and options", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ maxValueSize: 100 });
    const sent = () => [...cluster.servers.values()].reduce((n, s) => n + Number(s.size), 0);
    await expect(c.set("bad key", "v")).rejects.toThrow(InvalidKeyError);
    await expect(c.get("x".repeat(251))).rejects.toThrow(InvalidKeyError);
    await expect(c.getMany(["ok", "a\nb"])).rejects.toThrow(InvalidKeyError);
    await expect(c.delete("a\r\nflush_all")).rejects.toThrow(InvalidKeyError);
    await expect(c.set("k", "v", { ttl: Number.NaN })).rejects.toThrow(InvalidTtlError);
    await expect(c.set("k", "v", { ttl: -1 })).rejects.toThrow(InvalidTtlError);
    await expect(c.set("k", "x".repeat(101))).rejects.toThrow(ValueTooLargeError);
    await expect(c.set("k", undefined)).rejects.toThrow(/cannot store/);
    expect(sent()).toBe(0);
    expect(() => cluster.client({ replicas: 0 })).toThrow(/option "replicas" must be a whole number from 1/);
    expect(() => cluster.client({ maxTtl: 40 * 86_400 })).toThrow(/maxTtl/);
    expect(() => cluster.client({ writePolicy: "most" as never })).toThrow(/writePolicy/);
    expect(() => cluster.client({ servers: [] })).toThrow(InvalidArgumentError);
    expect(() => new PairClient({ servers: ["a"], transport: 3 as never })).toThrow(/transport/);
  });

  it("a closed client refuses calls", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    await c.close();
    await expect(c.get("k")).rejects.toThrow(ClientClosedError);
    await expect(c.fetch("k", () => 1)).rejects.toThrow(ClientClosedError);
  });
});

describe("failover, read-repair and write policy", () => {
  it("reads the secondary when the primary is down, without repairing to it", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const c = cluster.client({ health: { failureThreshold: 1 } });
    await c.set("k", "v");
    const [p] = cluster.replicas(c, "k");
    p!.down();
    expect(await c.get("k")).toBe("v");
    expect(c.stats().failovers).toBe(1);
    expect(c.servers.find((s) => s.name === p!.address)!.state).not.toBe("up");
    expect(await c.get("k")).toBe("v");
    expect(c.stats().hitsReplica).toBe(2);
  });

  it("a miss from a healthy replica beats an error from another; all failing is an error", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    const [p, s] = cluster.replicas(c, "k");
    p!.down();
    expect(await c.get("k")).toBeUndefined();
    s!.down();
    await expect(c.get("k")).rejects.toThrow(ServerUnavailableError);
  });

  it("repairs a primary that came back empty, keeping the source's remaining TTL", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const c = cluster.client({ repair: "await" });
    await c.set("k", "v", { ttl: 600 });
    const [p, s] = cluster.replicas(c, "k");
    p!.restart();
    cluster.advance(100);
    expect(await c.get("k")).toBe("v");
    expect(c.stats()).toMatchObject({ hitsReplica: 1, repairs: 1 });
    expect(raw(p!, "k")).toBe("v");
    expect(p!.peek("k")!.ttl).toBeLessThanOrEqual(s!.peek("k")!.ttl);
    expect(p!.peek("k")!.ttl).toBeLessThanOrEqual(500);
    expect(p!.peek("k")!.flags).toBe(FLAGS.string);
    expect(await c.get("k")).toBe("v");
    expect(c.stats().hitsPrimary).toBe(1);
  });

  it("background repair by default; getMany repairs every key", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const c = cluster.client();
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    await c.setMany(keys.map((k) => [k, k]));
    for (const s of cluster.servers.values()) s.restart();
    expect((await c.getMany(keys)).size).toBe(0);
    await c.setMany(keys.map((k) => [k, k]));
    cluster.server("a").restart();
    const got = await c.getMany(keys);
    expect(got.size).toBe(50);
    await until(() => c.stats().repairs + c.stats().repairConflicts >= c.stats().hitsReplica, "repairs");
    for (const k of keys) expect(raw(cluster.replicas(c, k)[0]!, k)).toBe(k);
  });

  it('writePolicy "one": a down replica gets a hint and is not read for that key', async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ health: { failureThreshold: 100 } });
    await c.set("k", "v1");
    const [p, s] = cluster.replicas(c, "k");
    s!.hang();
    await c.set("k", "v2");
    expect(c.stats().hintsRecorded).toBe(1);
    expect(c.stats().servers.find((x) => x.name === s!.address)!.hints).toBe(1);
    s!.up();
    p!.restart();
    // s still holds v1 (it missed v2): it must not be read for k until the hint is replayed (deleted there).
    const got = await c.get("k");
    expect(got === undefined || got === "v2").toBe(true);
    await until(() => c.stats().servers.every((x) => x.hints === 0), "hint replay");
    expect(noValue(s!, "k")).toBe(true);
  });

  it('writePolicy "all": any missing acknowledgement rejects with ReplicationError', async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ writePolicy: "all" });
    const [, s] = cluster.replicas(c, "k");
    s!.down();
    const err = await c.set("k", "v").catch((e) => e);
    expect(err).toBeInstanceOf(ReplicationError);
    expect(err.failures[0].server).toBe(s!.address);
    expect(err.acknowledged).toHaveLength(1);
    await expect(c.delete("k")).rejects.toThrow(ReplicationError);
  });

  it("no replica acknowledging rejects even with writePolicy one", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    for (const s of cluster.servers.values()) s.down();
    await expect(c.set("k", "v")).rejects.toThrow(ReplicationError);
  });
});

describe("health: down, probe, rejoin", () => {
  it("fails fast while down, then rejoins a restarted server without flushing", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ health: { failureThreshold: 2 } });
    const events: string[] = [];
    c.on("stateChange", (e) => events.push(`${e.server}:${e.to}`));
    c.on("rejoin", (e) => events.push(`${e.server}:rejoin:${e.how}`));
    await until(() => c.stats().servers.length === 2, "start");
    await c.set("warm", "x");
    const a = cluster.server("a");
    a.hang();
    await c.get("x1").catch(() => undefined);
    await c.get("x2").catch(() => undefined);
    await c.get("x3").catch(() => undefined);
    expect(c.servers.find((s) => s.name === "a:1")!.state).not.toBe("up");
    a.up();
    a.restart();
    await until(() => events.includes("a:1:rejoin:restarted"), "rejoin");
    expect(c.servers.find((s) => s.name === "a:1")!.state).toBe("up");
  });

  it("a server back with its old data is flushed before it is read (rejoin: flush)", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ health: { failureThreshold: 1 } });
    await new Promise((r) => setTimeout(r, 10));
    await c.set("k", "old");
    const [p] = cluster.replicas(c, "k");
    p!.pause();
    await c.set("k", "new"); // p misses it
    const how: string[] = [];
    c.on("rejoin", (e) => how.push(e.how));
    p!.resume();
    await until(() => how.length > 0, "rejoin");
    expect(how).toEqual(["flushed"]);
    expect(await c.get("k")).toBe("new");
  });

  it("rejoin: replay deletes only the keys this client missed", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ health: { failureThreshold: 1, rejoin: "replay" } });
    await new Promise((r) => setTimeout(r, 10));
    await c.set("k", "old");
    await c.set("other", "kept");
    const [p] = cluster.replicas(c, "k");
    p!.hang();
    await c.set("k", "new");
    const how: string[] = [];
    c.on("rejoin", (e) => how.push(e.how));
    p!.up();
    await until(() => how.length > 0, "rejoin");
    expect(how).toEqual(["replayed"]);
    expect(noValue(p!, "k")).toBe(true);
    expect(
      raw(cluster.replicas(c, "other").includes(p!) ? p! : cluster.replicas(c, "other")[0]!, "other"),
    ).toBe("kept");
  });

  it("hint log overflow falls back to a flush and tells the operator", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ maxHints: 3, health: { failureThreshold: 1, rejoin: "replay" } });
    await new Promise((r) => setTimeout(r, 10));
    const overflow: string[] = [];
    c.on("hintOverflow", (e) => overflow.push(e.server));
    const a = cluster.server("a");
    a.hang();
    for (let i = 0; i < 10; i++) await c.set(`k${i}`, "v").catch(() => undefined);
    expect(overflow).toEqual(["a:1"]);
    const how: string[] = [];
    c.on("rejoin", (e) => how.push(e.how));
    a.up();
    await until(() => how.length > 0, "rejoin");
    expect(how).toEqual(["flushed"]);
  });
});

describe("rejoin safety across client processes", () => {
  it("a replica failing at once while another is slow leaves no unhandled rejection", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    const [p, s] = cluster.replicas(c, "k");
    p!.slow(30);
    s!.down();
    // vitest fails the run on an unhandled rejection; the write itself succeeds on the primary (writePolicy one).
    await c.set("k", "v");
    expect(raw(p!, "k")).toBe("v");
  });

  it("a restarted server is caught up with hints recorded after its restart, not just cleared", async () => {
    cluster = memoryCluster(["a", "b"]);
    const fast = { failureThreshold: 1, probeInterval: 200, maxProbeInterval: 200 };
    const a = cluster.client({ health: fast });
    const b = cluster.client({ health: fast });
    const [x] = cluster.replicas(a, "k");
    await new Promise((r) => setTimeout(r, 10));
    x!.hang();
    await b.get("k").catch(() => undefined); // b marks x down
    await until(() => b.servers.find((s) => s.name === x!.address)!.state === "down", "b sees x down");
    x!.up();
    x!.restart();
    await a.set("k", "v1"); // a still sees x up: v1 lands on x
    expect(raw(x!, "k")).toBe("v1");
    await b.delete("k"); // b skips x (down for b): hinted only
    expect(raw(x!, "k")).toBe("v1");
    const how: string[] = [];
    b.on("rejoin", (e) => how.push(e.how));
    await until(() => how.length > 0, "b rejoins x");
    expect(how).toEqual(["restarted"]);
    expect(noValue(x!, "k")).toBe(true); // the hint was replayed, not dropped
  });

  it("a rejoined server is written but not read during the quarantine", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ health: { failureThreshold: 1, rejoinQuarantine: 300, rejoin: "replay" } });
    await new Promise((r) => setTimeout(r, 10));
    const [x] = cluster.replicas(c, "k");
    x!.hang();
    await c.get("k").catch(() => undefined);
    x!.up();
    const states: string[] = [];
    c.on("stateChange", (e) => states.push(e.to));
    await until(() => states.includes("recovering"), "rejoin");
    await c.set("k", "v");
    expect(raw(x!, "k")).toBe("v"); // written
    const before = c.stats().hitsPrimary;
    expect(await c.get("k")).toBe("v");
    expect(c.stats().hitsPrimary).toBe(before); // but read from the other replica
    await until(() => c.servers.find((s) => s.name === x!.address)!.state === "up", "quarantine over");
    expect(await c.get("k")).toBe("v");
    expect(c.stats().hitsPrimary).toBe(before + 1);
  });

  it("a restart seen only by the background check is a rejoin (quarantine, rewarm trigger)", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client({ health: { checkInterval: 50, rejoinQuarantine: 100 } });
    const how: string[] = [];
    c.on("rejoin", (e) => how.push(`${e.server}:${e.how}`));
    await until(() => c.servers.every((s) => s.state === "up"), "start");
    await new Promise((r) => setTimeout(r, 120)); // at least one check has learned the pids
    cluster.server("a").restart();
    await until(() => how.includes("a:1:restarted"), "restart noticed");
    await until(() => c.servers.every((s) => s.state === "up"), "quarantine over");
  });
});

describe("drain and rewarm", () => {
  it("a drain marker written by one client reaches another; drained servers are not read", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const operator = cluster.client();
    const app = cluster.client({ health: { checkInterval: 50 } });
    await app.set("k", "v");
    const [p] = cluster.replicas(app, "k");
    await operator.drain(p!.address, { reason: "kernel update" });
    expect(p!.peek(DRAIN_KEY)).toBeDefined();
    await until(() => app.servers.find((s) => s.name === p!.address)!.state === "draining", "drain seen");
    const before = p!.peek("k");
    expect(await app.get("k")).toBe("v");
    expect(app.stats().failovers).toBeGreaterThan(0);
    const status = await operator.status();
    expect(status.find((s) => s.name === p!.address)).toMatchObject({
      draining: true,
      drain: { reason: "kernel update" },
    });
    // Rebooted: empty, so the drain ends by itself.
    p!.restart();
    await until(() => app.servers.find((s) => s.name === p!.address)!.state === "up", "undrained");
    expect(before).toBeDefined();
    await operator.drain(p!.address);
    await operator.undrain(p!.address);
    expect(p!.peek(DRAIN_KEY)).toBeUndefined();
    await expect(operator.drain("nope:1")).rejects.toThrow(/unknown server/);
  });

  it("rewarm copies exactly the keys the returned server should hold", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const c = cluster.client();
    const keys = Array.from({ length: 300 }, (_, i) => `key:${i}`);
    await c.setMany(
      keys.map((k) => [k, k]),
      { ttl: 600 },
    );
    const a = cluster.server("a");
    const shouldHold = keys.filter((k) => c.replicasOf(k).includes("a:1"));
    a.restart();
    await c.set(shouldHold[0]!, "newer"); // written after the restart: must not be overwritten
    const progress = await c.rewarm("a:1", { rate: 100_000 });
    expect(progress.candidates).toBe(shouldHold.length);
    expect(progress.copied).toBe(shouldHold.length - 1);
    expect(progress.conflicts).toBe(1);
    for (const k of shouldHold.slice(1)) expect(raw(a, k)).toBe(k);
    expect(raw(a, shouldHold[0]!)).toBe("newer");
    expect(keys.filter((k) => a.peek(k) !== undefined)).toHaveLength(shouldHold.length);
    expect(c.stats().rewarm[0]).toMatchObject({ server: "a:1", copied: shouldHold.length - 1 });
  });
});

describe("fetch: read-through with leases", () => {
  it("one loader call for concurrent fetches across clients; the value lands on every replica", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const clients = [cluster.client(), cluster.client(), cluster.client()];
    let loads = 0;
    const loader = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 30));
      return { v: 1 };
    };
    const results = await Promise.all(
      clients.flatMap((c) => Array.from({ length: 20 }, () => c.fetch("hot", loader))),
    );
    expect(loads).toBe(1);
    for (const r of results) expect(r).toEqual({ v: 1 });
    for (const t of cluster.replicas(clients[0]!, "hot")) expect(raw(t, "hot")).toBe('{"v":1}');
  });

  it("a loader error reaches its caller, releases the lease, and the next caller loads at once", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    await expect(c.fetch("k", () => Promise.reject(new Error("db down")))).rejects.toThrow("db down");
    const [p] = cluster.replicas(c, "k");
    expect(p!.peek("k")).toBeUndefined();
    expect(await c.fetch("k", () => "ok")).toBe("ok");
  });

  it("a dead winner's lease expires and another caller takes over", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    const [p] = cluster.replicas(c, "k");
    const lease = await p!.get("k", { lease: 2, cas: true });
    expect(lease?.win).toBe(true); // a winner that will never store
    let loads = 0;
    const pending = c.fetch("k", () => ++loads, { leaseTtl: 2 });
    await until(() => c.stats().leaseWaits > 0, "waiting");
    cluster.advance(3);
    expect(await pending).toBe(1);
    expect(loads).toBe(1);
  });

  it("invalidate: stale value served to everyone while exactly one refresh runs", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c1 = cluster.client();
    const c2 = cluster.client();
    await c1.set("k", "v1");
    await c1.invalidate("k");
    expect(await c1.get("k")).toBeUndefined();
    let loads = 0;
    let finish!: () => void;
    const gate = new Promise<void>((r) => (finish = r));
    const loader = async () => {
      loads++;
      await gate;
      return "v2";
    };
    const first = await Promise.all([c1.fetch("k", loader), c2.fetch("k", loader), c2.fetch("k", loader)]);
    expect(first).toEqual(["v1", "v1", "v1"]);
    finish();
    await until(
      () => loads === 1 && raw(cluster.replicas(c1, "k")[0]!, "k") === "v2",
      `refresh (loads=${loads}, p=${raw(cluster.replicas(c1, "k")[0]!, "k")})`,
    );
    expect(await c2.fetch("k", loader)).toBe("v2");
    expect(loads).toBe(1);
    // c2's two calls shared one flow (single-flight in a process): one stale serve each for c1 and c2.
    expect(c1.stats().staleServed + c2.stats().staleServed).toBe(2);
  });

  it("without stale serving, callers wait for the refresh", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    await c.set("k", "v1");
    await c.invalidate("k");
    expect(await c.fetch("k", () => "v2", { staleWhileRevalidate: false })).toBe("v2");
  });

  it("when no replica answers, the loader runs without the cache (or rejects if asked)", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    for (const s of cluster.servers.values()) s.down();
    expect(await c.fetch("k", () => "from db")).toBe("from db");
    expect(c.stats().uncachedLoads).toBe(1);
    await expect(c.fetch("k", () => "x", { onUnavailable: "throw" })).rejects.toThrow(ServerUnavailableError);
  });

  it("fetchMany loads only the missing keys, in one batch", async () => {
    cluster = memoryCluster(["a", "b", "c"]);
    const c = cluster.client();
    await c.set("a1", "cached");
    const batches: string[][] = [];
    const got = await c.fetchMany(["a1", "a2", "a3"], async (missing) => {
      batches.push(missing);
      return Object.fromEntries(missing.map((k) => [k, `db:${k}`]));
    });
    expect(batches).toEqual([["a2", "a3"]]);
    expect(Object.fromEntries(got)).toEqual({ a1: "cached", a2: "db:a2", a3: "db:a3" });
    expect(await c.get("a3")).toBe("db:a3");
  });

  it("validates fetch options", async () => {
    cluster = memoryCluster(["a", "b"]);
    const c = cluster.client();
    await expect(c.fetch("k", () => 1, { leaseTtl: 0 })).rejects.toThrow(/leaseTtl/);
    await expect(c.fetch("k", () => 1, { timeout: -1 })).rejects.toThrow(/timeout/);
    await expect(c.fetch("k", "nope" as never)).rejects.toThrow(/loader/);
  });
});
