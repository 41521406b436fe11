// Stampede-free `fetch` across processes, on real memcached (3 servers, replicas 2): separate client processes
// (test/fetch/child.mjs, importing the built package) fetch the same key at once, and the parent counts every loader
// call in the fleet. Loaders are gated by the parent, so "while the load is in flight" is a fact the test controls,
// not a timing guess; the only sleeps are the engine's own (lease polling, lease expiry).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type MemcachedServer, startMemcached, useMemcachedCleanup, waitFor } from "@mcpair/test-utils";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AbortError, createClient, createSocketTransport, FLAGS, type PairClient } from "../src/index.js";

useMemcachedCleanup();

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, "fetch", "child.mjs");
const DIST_INDEX = join(here, "..", "dist", "index.js");

/** Generous: the machine is shared and loaded. Nothing here is a timing assertion. */
const DEADLINE = 30_000;
/**
 * Fetch options of every child: never give up waiting for another process's load within a test, and a lease that
 * outlives any stall of a loaded machine (the takeover test sets its own short one).
 */
const WAIT_LONG = { timeout: 60_000, leaseTtl: 20 };

interface Counters {
  loads: number;
  staleServed: number;
  leaseWaits: number;
  fetchTimeouts: number;
  uncachedLoads: number;
  states: string[];
}

interface Message {
  type: string;
  [field: string]: unknown;
}

interface BatchResult extends Message {
  type: "result";
  batch: number;
  loaderCalls: number;
  values: Record<string, number>;
  errors: Record<string, number>;
  stats: Counters;
}

interface Loading extends Message {
  type: "loading";
  batch: number;
  call: number;
  key: string;
}

interface BatchSpec {
  key: string;
  n: number;
  gate?: boolean;
  delayMs?: number;
  options?: Record<string, unknown>;
}

const spawned: Child[] = [];
let nextBatch = 0;

/** Parent-side handle on one child process. */
class Child {
  readonly id: string;
  readonly proc: ChildProcess;
  readonly messages: Message[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #listeners = new Set<(m: Message) => void>();
  #stderr = "";
  #req = 0;

  constructor(id: string, servers: string[]) {
    this.id = id;
    const config = { id, servers, client: { timeout: 5000 } };
    this.proc = spawn(process.execPath, [CHILD, JSON.stringify(config)], { stdio: ["pipe", "pipe", "pipe"] });
    this.proc.stderr?.setEncoding("utf8");
    this.proc.stderr?.on("data", (s: string) => {
      this.#stderr = (this.#stderr + s).slice(-8192);
    });
    this.proc.stdin?.on("error", () => {});
    this.exited = new Promise((resolve) =>
      this.proc.once("exit", (code, signal) => resolve({ code, signal })),
    );
    createInterface({ input: this.proc.stdout! }).on("line", (line) => {
      let msg: Message;
      try {
        msg = JSON.parse(line) as Message;
      } catch {
        return;
      }
      this.messages.push(msg);
      for (const l of this.#listeners) l(msg);
    });
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Calls `listener` for every message from now on. */
  onMessage(listener: (m: Message) => void): void {
    this.#listeners.add(listener);
  }

  send(command: Record<string, unknown> | "go"): void {
    this.proc.stdin?.write(`${typeof command === "string" ? command : JSON.stringify(command)}\n`);
  }

  /** The first message (already received or still to come) matching `pred`. */
  next<T extends Message>(pred: (m: Message) => boolean, what: string): Promise<T> {
    return waitFor(
      () => {
        const crash = this.messages.find((m) => m.type === "crash");
        if (crash) throw new Error(`child ${this.id} crashed: ${String(crash.error)}`);
        const found = this.messages.find(pred) as T | undefined;
        if (found === undefined && !this.running) {
          throw new Error(`child ${this.id} exited before ${what}; stderr: ${this.#stderr}`);
        }
        return found;
      },
      { timeout: DEADLINE, interval: 5, what: `child ${this.id}: ${what}` },
    );
  }

  result(batch: number): Promise<BatchResult> {
    return this.next<BatchResult>(
      (m) => m.type === "result" && m.batch === batch,
      `result of batch ${batch}`,
    );
  }

  async stats(): Promise<Counters> {
    const req = ++this.#req;
    this.send({ cmd: "stats", req });
    const m = await this.next((x) => x.type === "stats" && x.req === req, "stats");
    return m.stats as Counters;
  }

  /** Runs one batch now and resolves its result. */
  async fetch(spec: BatchSpec): Promise<BatchResult> {
    const batch = ++nextBatch;
    this.send({ cmd: "fetch", batch, ...spec });
    return this.result(batch);
  }

  loadings(): Loading[] {
    return this.messages.filter((m): m is Loading => m.type === "loading");
  }

  /** Asks the child to close its client and checks that it then exits by itself with code 0. */
  async exitCleanly(): Promise<void> {
    this.send({ cmd: "exit" });
    await this.next((m) => m.type === "bye", "bye");
    await waitFor(() => !this.running, {
      timeout: DEADLINE,
      interval: 10,
      what: `child ${this.id} to exit by itself`,
    });
    expect(await this.exited, `child ${this.id} exit; stderr: ${this.#stderr}`).toEqual({
      code: 0,
      signal: null,
    });
  }

  kill(): void {
    if (this.running) this.proc.kill("SIGKILL");
  }
}

let servers: MemcachedServer[];
let names: string[];
let admin: PairClient;
let n = 0;
const key = (label: string): string => `fetch:${Date.now().toString(36)}:${++n}:${label}`;

async function children(count: number): Promise<Child[]> {
  const list = Array.from({ length: count }, (_, i) => new Child(`c${n}-${i}`, names));
  spawned.push(...list);
  await Promise.all(list.map((c) => c.next((m) => m.type === "ready", "ready")));
  return list;
}

/** Arms the same batch in every child, then starts them together with one "go" line each. */
async function startTogether(list: Child[], spec: BatchSpec): Promise<number> {
  const batch = ++nextBatch;
  for (const c of list) c.send({ cmd: "arm", batch, ...spec });
  await Promise.all(list.map((c) => c.next((m) => m.type === "armed" && m.batch === batch, "armed")));
  for (const c of list) c.send("go");
  return batch;
}

/** The first loader call announced by any child of `list` (from now on), with its child. */
function firstLoading(list: Child[]): Promise<{ child: Child; loading: Loading }> {
  return new Promise((resolve) => {
    const check = () => {
      for (const child of list) {
        const loading = child.loadings()[0];
        if (loading) return resolve({ child, loading });
      }
    };
    for (const c of list) c.onMessage(check);
    check();
  });
}

const totalLoadings = (list: Child[]): number => list.reduce((sum, c) => sum + c.loadings().length, 0);

/** Waits until every child of `list` has spent at least one round waiting for someone else's lease. */
async function allWaitingOnLease(list: Child[]): Promise<void> {
  await waitFor(async () => (await Promise.all(list.map((c) => c.stats()))).every((s) => s.leaseWaits > 0), {
    timeout: DEADLINE,
    interval: 20,
    what: "every other process to wait on the lease",
  });
}

/** What the server holding `address` has under `k`, read with a bare transport (not through the engine). */
async function rawGet(
  address: string,
  k: string,
): Promise<{ text: string; flags: number; stale: boolean } | null> {
  const server = servers.find((s) => s.address === address)!;
  const t = createSocketTransport({ host: server.host, port: server.port, timeout: 5000 });
  try {
    const item = await t.get(k);
    return item && { text: Buffer.from(item.value).toString("utf8"), flags: item.flags, stale: item.stale };
  } finally {
    await t.close();
  }
}

const shown = (v: unknown): string => JSON.stringify(v);

beforeAll(async () => {
  if (!existsSync(DIST_INDEX)) {
    throw new Error(
      "packages/memcached/dist is missing: run `npx turbo run build` at the repository root first",
    );
  }
  servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  names = servers.map((s) => s.address);
});

beforeEach(() => {
  // A fresh client per test: a server killed by an earlier test must not be remembered as down.
  admin = createClient({ servers: names, replicas: 2, timeout: 5000, health: { checkInterval: 0 } });
});

afterEach(async () => {
  for (const c of spawned) c.kill();
  await admin.close();
  for (const s of servers) if (!s.running) await s.start();
});

afterAll(async () => {
  for (const c of spawned) c.kill();
  await Promise.all(spawned.map((c) => c.exited));
});

describe("fetch across processes", () => {
  it("4 processes × 200 concurrent fetches of a cold key: the loader runs once in the whole fleet", async () => {
    const k = key("cold");
    const list = await children(4);
    const batch = await startTogether(list, { key: k, n: 200, gate: true, options: WAIT_LONG });

    const { child: winner, loading } = await firstLoading(list);
    // While the one load is in flight, every other process is blocked on its lease (not loading, not done).
    await allWaitingOnLease(list.filter((c) => c !== winner));
    winner.send({ cmd: "release", call: loading.call, outcome: "value", value: "from the database" });

    const results = await Promise.all(list.map((c) => c.result(batch)));
    const loaderCalls = results.reduce((sum, r) => sum + r.loaderCalls, 0);
    console.log(
      `[fetch] cold key, 4×200: loader calls per process ${results.map((r) => r.loaderCalls).join("+")}`,
    );
    expect(loaderCalls).toBe(1);
    for (const r of results) {
      expect(r.errors).toEqual({});
      expect(r.values).toEqual({ [shown("from the database")]: 200 });
      expect(r.stats.fetchTimeouts).toBe(0);
      expect(r.stats.uncachedLoads).toBe(0);
    }
    expect(await admin.get(k)).toBe("from the database");
    await Promise.all(list.map((c) => c.exitCleanly()));
  }, 90_000);

  it("the winner is SIGKILLed mid-load: another process takes the lease over, everyone gets a value", async () => {
    const k = key("killed");
    const list = await children(4);
    const batch = await startTogether(list, {
      key: k,
      n: 200,
      gate: true,
      options: { ...WAIT_LONG, leaseTtl: 2 },
    });

    const { child: victim } = await firstLoading(list);
    victim.kill();
    expect(await victim.exited).toEqual({ code: null, signal: "SIGKILL" });

    // The dead winner's placeholder expires after leaseTtl; the next poll anywhere wins and loads.
    const survivors = list.filter((c) => c !== victim);
    const takeover = await firstLoading(survivors);
    takeover.child.send({ cmd: "release", call: takeover.loading.call, outcome: "value", value: "reloaded" });
    // A later announcement (none expected) is released as well, so that no process hangs on it.
    for (const c of survivors) {
      c.onMessage((m) => {
        if (m.type === "loading" && m !== takeover.loading)
          c.send({ cmd: "release", call: m.call, value: "extra" });
      });
    }

    const results = await Promise.all(survivors.map((c) => c.result(batch)));
    const loaderRuns = totalLoadings(list);
    console.log(
      `[fetch] winner killed, 4×200: loader runs ${loaderRuns} (killed process 1, survivors ${results.map((r) => r.loaderCalls).join("+")})`,
    );
    expect(loaderRuns).toBeLessThanOrEqual(2);
    for (const r of results) {
      expect(r.errors).toEqual({});
      expect(r.values).toEqual({ [shown("reloaded")]: 200 });
      expect(r.stats.fetchTimeouts).toBe(0);
    }
    await Promise.all(survivors.map((c) => c.exitCleanly()));
  }, 90_000);

  it("stale-while-revalidate: an invalidated value is served at once to everyone while exactly one process refreshes it", async () => {
    const k = key("swr");
    await admin.set(k, "old");
    await admin.invalidate(k, 30);
    const list = await children(4);
    const batch = await startTogether(list, { key: k, n: 50, gate: true, options: WAIT_LONG });

    // Every call of every process settles with the stale value while the one refresh is still held by the parent.
    const results = await Promise.all(list.map((c) => c.result(batch)));
    for (const r of results) {
      expect(r.errors).toEqual({});
      expect(r.values).toEqual({ [shown("old")]: 50 });
    }
    const { child: winner, loading } = await firstLoading(list);
    expect(totalLoadings(list)).toBe(1);
    winner.send({ cmd: "release", call: loading.call, outcome: "value", value: "new" });

    // After the refresh stored, fetch returns the new value (in any process) without loading again.
    const reader = list.find((c) => c !== winner)!;
    const seen = await waitFor(
      async () => {
        const r = await reader.fetch({ key: k, n: 1, options: WAIT_LONG });
        return r.values[shown("new")] === 1 ? r : undefined;
      },
      { timeout: DEADLINE, interval: 20, what: "fetch to return the refreshed value" },
    );
    expect(seen.loaderCalls).toBe(0);
    const loaderCalls = totalLoadings(list);
    console.log(`[fetch] stale-while-revalidate, 4×50: loader calls ${loaderCalls}`);
    expect(loaderCalls).toBe(1);
    expect(await admin.get(k)).toBe("new");
    await Promise.all(list.map((c) => c.exitCleanly()));
  }, 90_000);

  it("a loader error rejects the winner's callers only, and the lease is handed back at once", async () => {
    const k = key("throws");
    const list = await children(4);
    const batch = await startTogether(list, { key: k, n: 50, gate: true, options: WAIT_LONG });
    const first = await firstLoading(list);
    first.child.send({ cmd: "release", call: first.loading.call, outcome: "throw" });
    const second = await firstLoading(list.filter((c) => c !== first.child));
    second.child.send({ cmd: "release", call: second.loading.call, outcome: "value", value: "recovered" });

    const results = await Promise.all(list.map((c) => c.result(batch)));
    const loaderCalls = totalLoadings(list);
    console.log(`[fetch] loader error, 4×50: loader calls ${loaderCalls} (1 failed, 1 succeeded)`);
    expect(loaderCalls).toBe(2);
    list.forEach((c, i) => {
      const r = results[i]!;
      if (c === first.child) {
        expect(r.values).toEqual({});
        expect(r.errors).toEqual({ [`Error: loader ${c.id}#${first.loading.call} failed`]: 50 });
      } else {
        expect(r.errors).toEqual({});
        expect(r.values).toEqual({ [shown("recovered")]: 50 });
      }
    });

    // Not poisoned, one call at a time: a failed load, then another process loads at once, without any lease wait.
    const k2 = key("throws-once");
    const [a, b, c] = list as [Child, Child, Child, Child];
    const failing = a.fetch({ key: k2, n: 1, gate: true, options: WAIT_LONG });
    const announced = await a.next<Loading>((m) => m.type === "loading" && m.key === k2, "loading of k2");
    a.send({ cmd: "release", call: announced.call, outcome: "throw" });
    expect(Object.keys((await failing).errors)).toEqual([`Error: loader ${a.id}#${announced.call} failed`]);

    const waitsBefore = (await b.stats()).leaseWaits;
    const next = await b.fetch({ key: k2, n: 1, options: WAIT_LONG });
    expect(next.errors).toEqual({});
    expect(next.loaderCalls).toBe(1);
    expect(next.values).toEqual({ [shown(`${b.id}:${k2}:${b.loadings().length}`)]: 1 });
    expect(next.stats.leaseWaits - waitsBefore).toBe(0);
    const hit = await c.fetch({ key: k2, n: 1, options: WAIT_LONG });
    expect(hit.loaderCalls).toBe(0);
    expect(hit.values).toEqual(next.values);
    await Promise.all(list.map((x) => x.exitCleanly()));
  }, 90_000);

  it("with the key's primary down, the lease moves to the secondary: one load, stored there", async () => {
    const k = key("primary-down");
    const [primary, secondary] = admin.replicasOf(k) as [string, string];
    await servers.find((s) => s.address === primary)!.kill();

    const list = await children(2);
    const batch = await startTogether(list, { key: k, n: 100, gate: true, options: WAIT_LONG });
    const { child: winner, loading } = await firstLoading(list);
    await allWaitingOnLease(list.filter((c) => c !== winner));
    winner.send({ cmd: "release", call: loading.call, outcome: "value", value: "on the secondary" });

    const results = await Promise.all(list.map((c) => c.result(batch)));
    const loaderCalls = results.reduce((sum, r) => sum + r.loaderCalls, 0);
    console.log(`[fetch] primary down, 2×100: loader calls ${loaderCalls}`);
    expect(loaderCalls).toBe(1);
    for (const r of results) {
      expect(r.errors).toEqual({});
      expect(r.values).toEqual({ [shown("on the secondary")]: 100 });
      expect(r.stats.uncachedLoads).toBe(0);
    }
    expect(await rawGet(secondary, k)).toEqual({
      text: "on the secondary",
      flags: FLAGS.string,
      stale: false,
    });
    await Promise.all(list.map((c) => c.exitCleanly()));
  }, 90_000);
});

describe("fetch racing a delete", () => {
  /** Neither replica holds `old` (placeholders and misses are fine). */
  async function noReplicaHolds(k: string, old: string): Promise<void> {
    for (const server of admin.replicasOf(k)) {
      const item = await rawGet(server, k);
      expect(item === null || item.text !== old, `${server} still holds ${old}`).toBe(true);
    }
  }

  it("a delete while the loader is in flight leaves the new value or nothing, never the loader's old read", async () => {
    const k = key("race");
    let row = "v1";
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let loading!: () => void;
    const started = new Promise<void>((resolve) => {
      loading = resolve;
    });
    const fetched = admin.fetch(k, async () => {
      const read = row;
      loading();
      await gate;
      return read;
    });
    await started;
    // The application's write path: database first, then the cache.
    row = "v2";
    await admin.delete(k);
    release();
    expect(await fetched).toBe("v1"); // the caller gets what its own loader read...
    expect(await admin.get(k)).toBeUndefined(); // ...but the cache does not keep it
    await noReplicaHolds(k, "v1");

    expect(await admin.fetch(k, async () => row)).toBe("v2");
    expect(await admin.get(k)).toBe("v2");
  });

  it("whatever the interleaving, the cache ends with the newest row or nothing (randomised rounds)", async () => {
    const rounds = 25;
    const outcomes = { newest: 0, empty: 0 };
    for (let i = 0; i < rounds; i++) {
      const k = key(`race-${i}`);
      let row = `r${i}-old`;
      // Random interleavings: the write lands before the fetch's first poll, during its leases, during the load,
      // or after its store.
      const jitter = (max: number) => (Math.random() < 0.25 ? Promise.resolve() : sleep(Math.random() * max));
      const fetched = jitter(4).then(() =>
        admin.fetch(k, async () => {
          const read = row;
          await jitter(3);
          return read;
        }),
      );
      const writer = (async () => {
        await jitter(6);
        row = `r${i}-new`;
        await admin.delete(k);
      })();
      await Promise.all([fetched, writer]);
      const cached = await admin.get(k);
      expect([undefined, `r${i}-new`]).toContain(cached);
      await noReplicaHolds(k, `r${i}-old`);
      if (cached === undefined) outcomes.empty++;
      else outcomes.newest++;
    }
    console.log(
      `[fetch] racing delete, ${rounds} rounds: ${outcomes.newest} newest, ${outcomes.empty} empty`,
    );
  });
});

// Regressions: both were engine bugs found while writing these tests.
describe("abort signals", () => {
  it("one caller's AbortSignal does not reject the other callers sharing the in-process fetch of the key", async () => {
    // fetch() shares one flow per key in a process; each caller races its own signal against that flow.
    const holder = createClient({ servers: names, timeout: 5000, health: { checkInterval: 0 } });
    try {
      const k = key("abort-shared");
      let release!: () => void;
      let leased!: () => void;
      const hasLease = new Promise<void>((resolve) => {
        leased = resolve;
      });
      const held = holder.fetch(k, () => {
        leased();
        return new Promise<string>((resolve) => {
          release = () => resolve("from the holder");
        });
      });
      await hasLease; // another client (another process, in real life) is loading the key
      const ac = new AbortController();
      const a = admin.fetch(k, () => "a", { signal: ac.signal });
      const b = admin.fetch(k, () => "b"); // no signal: must not be aborted by a's
      ac.abort();
      await expect(a).rejects.toThrow();
      release();
      await held;
      expect(await b).toBe("from the holder");
    } finally {
      await holder.close();
    }
  });

  it("fetch with an aborted signal rejects with mcpair's AbortError, like get", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(admin.get(key("aborted-get"), { signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    await expect(admin.fetch(key("aborted"), () => "v", { signal: ac.signal })).rejects.toBeInstanceOf(
      AbortError,
    );
  });
});
