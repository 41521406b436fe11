// Failover across processes: separate client processes (test/chaos/worker.mjs, importing the built package) against
// real memcached servers, with the operator's tools (the built CLI). No timing assertions: every wait has a generous
// deadline, and the measured times are printed.
import { type MemcachedServer, startMemcached, useMemcachedCleanup, waitFor } from "@mcpair/test-utils";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient, type PairClient } from "../src/index.js";
import { assertBuilt, runCli, type WorkerConfig, WorkerProc } from "./chaos/procs.js";

useMemcachedCleanup();

let servers: MemcachedServer[];
let names: string[];
let admin: PairClient;
const procs: WorkerProc[] = [];

function worker(config: Omit<WorkerConfig, "servers">): WorkerProc {
  const p = new WorkerProc({ ...config, servers: names });
  procs.push(p);
  return p;
}

beforeAll(async () => {
  assertBuilt();
  servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  names = servers.map((s) => s.address);
  // Only used for placement (replicasOf) and to seed data; never disturbed by the tests.
  admin = createClient({ servers: names, health: { checkInterval: 0 } });
});

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop().catch(() => p.kill())));
  for (const s of servers) {
    if (s.paused) s.resume();
    if (!s.running) await s.start();
  }
});

afterAll(async () => {
  await admin.close();
});

const stat = async (s: MemcachedServer, name: string) => Number((await s.stats())[name] ?? 0);

/** Keys (user keys) whose primary is `server`. */
function keysWithPrimary(server: string, prefix: string, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    if (admin.replicasOf(`${prefix}${i}`)[0] === server) out.push(`${prefix}${i}`);
  }
  return out;
}

describe("drain", () => {
  it("reaches every client process, stops their reads of the server, and ends by itself when it restarts empty", async () => {
    const x = servers[0]!;
    const keys = 300;
    await admin.setMany(Array.from({ length: keys }, (_, i) => [`d${i}`, `value ${i}`] as const));
    // Default health settings: checkInterval 1000 ms is what the drain's propagation time depends on.
    const clients = [0, 1].map((i) =>
      worker({
        id: `c${i}`,
        keys,
        keyPrefix: "d",
        mix: { get: 1, set: 0, delete: 0 },
        concurrency: 2,
        thinkMs: [1, 3],
      }),
    );
    await Promise.all(clients.map((c) => c.ready));
    for (const c of clients) c.start();

    const reads = async () => {
      let n = 0;
      for (const c of clients) {
        const s = (await c.stats()) as { hitsPrimary: number; hitsReplica: number; misses: number };
        n += s.hitsPrimary + s.hitsReplica + s.misses;
      }
      return n;
    };
    // Before the drain, X serves its share of the reads.
    const hitsBefore0 = await stat(x, "get_hits");
    const reads0 = await reads();
    await waitFor(async () => (await reads()) >= reads0 + 1000, { timeout: 20_000, what: "1000 reads" });
    const hitsBefore = (await stat(x, "get_hits")) - hitsBefore0;
    expect(hitsBefore).toBeGreaterThan(100);

    const drained = await runCli([
      "drain",
      x.address,
      "--servers",
      names.join(","),
      "--reason",
      "failover test",
    ]);
    expect(drained.code, drained.stderr).toBe(0);
    const status = JSON.parse(
      (await runCli(["status", "--json", "--servers", names.join(",")])).stdout,
    ) as Array<{
      name: string;
      drain?: { since: string };
    }>;
    const since = Date.parse(status.find((s) => s.name === x.address)!.drain!.since);

    const seen = await Promise.all(
      clients.map((c) =>
        c.waitForEvent((e) => e.server === x.address && e.to === "draining", 15_000, "the drain"),
      ),
    );
    const propagation = seen.map((e) => e.t - since);
    console.log(
      `drain propagation (marker written -> client reports "draining"), checkInterval 1000 ms: ${propagation
        .map((ms, i) => `c${i} ${ms} ms`)
        .join(", ")}; max ${Math.max(...propagation)} ms`,
    );
    expect(clients.every((c) => c.state(x.address) === "draining")).toBe(true);

    // While draining, X is not read: its get_hits grow only by the clients' own drain-marker checks (one `mg` per
    // check, about one per second per client), whatever the read load.
    const hits0 = await stat(x, "get_hits");
    const t0 = Date.now();
    const reads1 = await reads();
    await waitFor(async () => (await reads()) >= reads1 + 1000, { timeout: 20_000, what: "1000 reads" });
    const hitsDuring = (await stat(x, "get_hits")) - hits0;
    const window = Date.now() - t0;
    const checks = clients.length * (Math.ceil(window / 800) + 1);
    console.log(
      `get_hits on the drained server: ${hitsBefore} per 1000 reads before the drain, ${hitsDuring} per 1000 reads while draining (${checks} marker checks at most)`,
    );
    expect(hitsDuring).toBeLessThanOrEqual(checks);

    // The maintenance itself: kill, start empty. The marker was on the server, so the drain ends by itself.
    const restartedAt = Date.now();
    await x.kill();
    await x.start();
    await Promise.all(
      clients.map((c) =>
        c.waitForEvent(
          (e) => e.server === x.address && e.to === "up" && e.t >= restartedAt,
          20_000,
          "X up again",
        ),
      ),
    );
    expect(clients.map((c) => c.state(x.address))).toEqual(["up", "up"]);
    const after = JSON.parse(
      (await runCli(["status", "--json", "--servers", names.join(",")])).stdout,
    ) as Array<{
      name: string;
      draining: boolean;
    }>;
    expect(after.find((s) => s.name === x.address)!.draining).toBe(false);
    // And it is read again.
    const hits1 = await stat(x, "get_hits");
    await waitFor(async () => (await stat(x, "get_hits")) > hits1 + 50, {
      timeout: 20_000,
      what: "reads of X",
    });
  });
});

describe("rejoin", () => {
  const fast = { timeout: 200, connectTimeout: 200, health: { failureThreshold: 2, probeInterval: 200 } };

  it("after a pause (same process, old data): every client flushes it before reading it again", async () => {
    const x = servers[1]!;
    const [key] = keysWithPrimary(x.address, "p", 1);
    const clients = [0, 1].map((i) =>
      worker({
        id: `c${i}`,
        client: fast,
        keys: 200,
        keyPrefix: "pw",
        mix: { get: 0.5, set: 0.5, delete: 0 },
        concurrency: 2,
        thinkMs: [1, 5],
      }),
    );
    await Promise.all(clients.map((c) => c.ready));
    for (const c of clients) c.start();
    const flushes0 = await stat(x, "cmd_flush");
    expect((await clients[0]!.op("set", key!, "old")).outcome).toBe("ok");

    const pausedAt = Date.now();
    x.pause();
    await Promise.all(
      clients.map((c) => c.waitForEvent((e) => e.server === x.address && e.to === "down", 10_000, "X down")),
    );
    // Written while X is out: X keeps "old".
    expect((await clients[0]!.op("set", key!, "new")).outcome).toBe("ok");
    x.resume();
    const rejoins = await Promise.all(
      clients.map((c) =>
        c.waitForEvent(
          (e) => e.event === "rejoin" && e.server === x.address && e.t >= pausedAt,
          20_000,
          "rejoin",
        ),
      ),
    );
    expect(rejoins.map((e) => e.how)).toEqual(["flushed", "flushed"]);
    expect(await stat(x, "cmd_flush")).toBeGreaterThanOrEqual(flushes0 + 1);
    for (const c of clients) {
      const r = await c.op("get", key!);
      expect(r).toMatchObject({ outcome: "hit", value: "new" });
    }
  });

  it("after a restart (new process, empty): rejoin 'restarted', no flush", async () => {
    const x = servers[2]!;
    const clients = [0, 1].map((i) =>
      worker({
        id: `c${i}`,
        client: fast,
        keys: 200,
        keyPrefix: "rw",
        mix: { get: 0.5, set: 0.5, delete: 0 },
        concurrency: 2,
        thinkMs: [1, 5],
      }),
    );
    await Promise.all(clients.map((c) => c.ready));
    for (const c of clients) c.start();
    await waitFor(async () => (await stat(x, "cmd_set")) > 50, { timeout: 10_000, what: "writes on X" });

    const restartedAt = Date.now();
    await x.restart();
    const rejoins = await Promise.all(
      clients.map((c) =>
        c.waitForEvent(
          (e) => e.event === "rejoin" && e.server === x.address && e.t >= restartedAt,
          20_000,
          "rejoin",
        ),
      ),
    );
    expect(rejoins.map((e) => e.how)).toEqual(["restarted", "restarted"]);
    expect(await stat(x, "cmd_flush")).toBe(0);
    // Read again and refilled by read-repair.
    await waitFor(async () => (await stat(x, "get_hits")) > 20, { timeout: 20_000, what: "reads of X" });
  });

  it("a hint log that overflows falls back to a flush and says so (hintOverflow)", async () => {
    const x = servers[0]!;
    const small = worker({
      id: "small",
      client: { ...fast, maxHints: 5, health: { ...fast.health, rejoin: "replay" } },
    });
    const large = worker({
      id: "large",
      client: { ...fast, maxHints: 1000, health: { ...fast.health, rejoin: "replay" } },
    });
    await Promise.all([small.ready, large.ready]);
    // Keys that live on X (as primary or secondary).
    const keys: string[] = [];
    for (let i = 0; keys.length < 12; i++)
      if (admin.replicasOf(`h${i}`).includes(x.address)) keys.push(`h${i}`);

    const pausedAt = Date.now();
    x.pause();
    for (const c of [small, large]) {
      // Writes to X time out until the client marks it down, then skip it: each one a hint.
      await waitFor(
        async () => {
          await c.op("set", keys[0]!, `${c.id}:probe:${Date.now()}`);
          return c.state(x.address) === "down";
        },
        { timeout: 10_000, what: `${c.id} to mark X down` },
      );
      for (const [i, k] of keys.entries()) expect((await c.op("set", k, `${c.id}:${i}`)).outcome).toBe("ok");
    }
    const overflow = await small.waitForEvent((e) => e.event === "hintOverflow", 5000, "hintOverflow");
    expect(overflow).toMatchObject({ server: x.address, limit: 5 });
    expect(large.events.some((e) => e.event === "hintOverflow")).toBe(false);

    x.resume();
    const [r1, r2] = await Promise.all(
      [small, large].map((c) =>
        c.waitForEvent(
          (e) => e.event === "rejoin" && e.server === x.address && e.t >= pausedAt,
          20_000,
          "rejoin",
        ),
      ),
    );
    expect(r1!.how).toBe("flushed");
    expect(r2!.how).toBe("replayed");
    // The last write of each key wins, whichever process rejoined how.
    for (const [i, k] of keys.entries()) {
      expect(await large.op("get", k)).toMatchObject({ outcome: "hit", value: `large:${i}` });
    }
  });
});

// Minimal reproductions of what the chaos test finds (see the analysis in its output). Two clients stand for two
// application processes: they share nothing but the servers. These assert the promised behaviour, so they fail until
// the engine is fixed.
describe("clients that disagree about a restarted server (trap 3)", () => {
  const k = () => keysWithPrimary(servers[0]!.address, "dis", 1)[0]!;

  async function disagree() {
    const x = servers[0]!;
    const key = k();
    // A probes a returning server within ~50 ms, B only after seconds: their views of X differ for that long.
    const fastProbe = { probeInterval: 20, maxProbeInterval: 50, checkInterval: 0 };
    const a = createClient({ servers: names, reconnectStrategy: 10, health: fastProbe });
    const b = createClient({
      servers: names,
      reconnectStrategy: 10,
      health: { probeInterval: 1500, maxProbeInterval: 1500, checkInterval: 0 },
    });
    await Promise.all([a.status(), b.status()]);
    await x.kill();
    // Both notice the outage (a refused connection marks a server down at once).
    await Promise.all([a.get(key).catch(() => undefined), b.get(key).catch(() => undefined)]);
    expect(a.servers[0]!.state).toBe("down");
    expect(b.servers[0]!.state).toBe("down");
    await x.start();
    await waitFor(() => a.servers[0]!.state === "up", { timeout: 5000, what: "A to rejoin X" });
    expect(b.servers[0]!.state).not.toBe("up");
    return { a, b, key };
  }

  it("promise 1: a delete acknowledged by B (X skipped as down) must not be undone by A reading X", async () => {
    const { a, b, key } = await disagree();
    try {
      await a.set(key, "v1"); // A: X and Y
      expect(await b.delete(key)).toBe(true); // B: Y only (X is down for B); acknowledged under writePolicy "one"
      expect(await a.get(key), "A read the deleted value from X").toBeUndefined();
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  it("promise 1, persistent: B's hint for X is dropped when B rejoins X as 'restarted'", async () => {
    const { a, b, key } = await disagree();
    try {
      await a.set(key, "v1");
      await b.delete(key);
      await waitFor(() => b.servers[0]!.state === "up", { timeout: 10_000, what: "B to rejoin X" });
      // Both clients now agree that X is up, and X still holds the deleted value.
      expect(await b.get(key), "B read the deleted value from X after rejoining it").toBeUndefined();
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  it("promise 2: a write acknowledged by B (X skipped as down) must not be hidden by A reading X", async () => {
    const { a, b, key } = await disagree();
    try {
      await a.set(key, "v1");
      await b.set(key, "v2"); // Y only
      expect(await a.get(key), "A read the replaced value from X").toBe("v2");
    } finally {
      a.destroy();
      b.destroy();
    }
  });
});

describe("rewarm after a quiet restart", () => {
  // The rewarm option promises a copy "when a server comes back empty". A restart that no request noticed (a drained
  // server gets few requests; an idle client none) is seen only by the background check (new pid): no rejoin event,
  // and no rewarm, so the server stays half-empty until reads or the TTL cap refill it. Fails until fixed.
  it("a restart seen only by the background check still starts the automatic rewarm", async () => {
    const x = servers[2]!;
    const client = createClient({ servers: names, rewarm: { rate: 5000 }, health: { checkInterval: 100 } });
    try {
      await client.setMany(Array.from({ length: 200 }, (_, i) => [`q${i}`, `v${i}`] as const));
      await client.status();
      await x.restart(); // no request in flight: only the next background check sees the new pid
      const started = await waitFor(() => client.stats().rewarm.some((r) => r.server === x.address), {
        timeout: 5000,
        what: "the automatic rewarm of the restarted server",
      }).catch((error: Error) => error);
      expect(started, "no rewarm started after a restart noticed by the background check").toBe(true);
    } finally {
      await client.close();
    }
  });
});

describe("a replica that fails at once", () => {
  // #onEach issues every replica's request, then awaits them in order: a request that rejects while an earlier one is
  // still in flight has no handler yet, which Node reports as an unhandled rejection (and, by default, exits). The
  // worker process counts them instead of exiting. Fails until fixed.
  it("leaves no unhandled rejection while the other replica is still answering", async () => {
    const x = servers[1]!;
    const keys: string[] = [];
    for (let i = 0; keys.length < 5; i++) if (admin.replicasOf(`u${i}`)[1] === x.address) keys.push(`u${i}`);
    const w = worker({ id: "u" });
    await w.ready;
    await x.kill();
    for (const k of keys) expect((await w.op("set", k, `v-${k}`)).outcome).toBe("ok"); // the primary acknowledges
    const done = await w.stop();
    expect(done.unhandled.count, `unhandled rejection: ${done.unhandled.first}`).toBe(0);
  });
});

describe("automatic rewarm across client processes (issue 8)", () => {
  it("exactly one process rewarms a restarted server, status shows it rewarming, and every key comes back", async () => {
    const x = servers[0]!;
    const keys = Array.from({ length: 3000 }, (_, i) => `aw${i}`);
    // A fresh client to seed: `admin` may still have a server down from an earlier test (its writes would skip it).
    const seed = createClient({ servers: names, rewarm: false, health: { checkInterval: 0 } });
    await seed.status();
    await seed.setMany(keys.map((k) => [k, `v-${k}`] as const));
    await seed.close();
    const shouldHold = keys.filter((k) => admin.replicasOf(k).includes(x.address));
    // Three processes with default options: rewarm is on, with its default rate.
    const ws = ["aw0", "aw1", "aw2"].map((id) => worker({ id, keys: 0 }));
    await Promise.all(ws.map((w) => w.ready));
    await x.restart();
    const states = new Set<string>();
    const done = await waitFor(
      async () => {
        const r = await runCli(["status", "--servers", names.join(","), "--json"]);
        const row = (
          JSON.parse(r.stdout) as Array<{ name: string; state: string; rewarm?: { state: string } }>
        ).find((s) => s.name === x.address)!;
        states.add(row.state);
        return row.rewarm?.state === "done" ? row : undefined;
      },
      { timeout: 30_000, interval: 100, what: "the automatic rewarm to finish" },
    );
    console.log(
      `[rewarm] states seen by mcpair status: ${[...states].join(" -> ")}; marker ${JSON.stringify(done.rewarm)}`,
    );
    expect(done.state).toBe("up");
    const stats = await Promise.all(ws.map((w) => w.stats()));
    const finished = await Promise.all(ws.map((w) => w.stop()));
    const runs = finished.flatMap((f) => f.rewarms.filter((r) => r.server === x.address));
    expect(runs, JSON.stringify(stats)).toHaveLength(1);
    // Every key of this test, and those earlier tests left on the partners.
    expect(runs[0]!.copied, JSON.stringify(runs[0])).toBeGreaterThanOrEqual(shouldHold.length);
    expect(runs[0]!.failed).toBe(0);
    const items = await admin.getMany(shouldHold);
    expect(items.size).toBe(shouldHold.length);
    // On the restarted server itself, not only readable through the partners.
    const direct = createClient({
      servers: [x.address],
      replicas: 1,
      health: { checkInterval: 0 },
      rewarm: false,
    });
    try {
      expect((await direct.getMany(shouldHold)).size).toBe(shouldHold.length);
    } finally {
      await direct.close();
    }
  }, 60_000);
});

describe("getMany with one server of three down (issue 8, finding 7)", () => {
  for (const replicas of [1, 2]) {
    it(`replicas ${replicas}: every key that can be read is returned, the others are listed, nothing rejects`, async () => {
      const client = createClient({
        servers: names,
        replicas,
        timeout: 300,
        rewarm: false,
        health: { checkInterval: 0 },
      });
      try {
        const keys = Array.from({ length: 300 }, (_, i) => `gm${replicas}-${i}`);
        await client.setMany(keys.map((k) => [k, k] as const));
        const x = servers[1]!;
        await x.kill();
        const readable = keys.filter((k) => client.replicasOf(k).some((s) => s !== x.address));
        // Twice: the first batch finds the server dead, the second skips it (marked down).
        for (let round = 0; round < 2; round++) {
          const got = await client.getMany(keys);
          expect(got.size, `round ${round}`).toBe(readable.length);
          for (const k of readable) expect(got.get(k)).toBe(k);
          expect([...got.unavailable].sort()).toEqual(keys.filter((k) => !readable.includes(k)).sort());
        }
        if (replicas === 2) expect(readable).toHaveLength(keys.length);
        else expect(readable.length).toBeLessThan(keys.length);
      } finally {
        await client.close();
      }
    });
  }
});
