/**
 * Exhaustive interleaving tests (design note, promises 1 and 2; traps 1 and 2).
 *
 * Every request any actor sends is held at the MemoryTransport `gate`. When every running actor is blocked there, the
 * explorer picks which held request the "network" delivers next. A depth-first search over those choices runs each
 * scenario once per distinct ordering of server-side events, then a checker inspects the outcome.
 *
 * The checker is shown to find violations: the same explorer runs deliberately broken read-repair and read-through
 * variants (plain `set` write-back, unleased fill) and must find a violating ordering for each.
 */
import { describe, expect, it } from "vitest";
import { createDefaultCodec } from "../src/codec.js";
import { MemoryTransport } from "../src/memory-transport.js";
import { PairClient } from "../src/pair-client.js";
import type { Transport } from "../src/transport.js";

const codec = createDefaultCodec();
const enc = (v: string) => codec.encode(v);

interface Held {
  seq: number;
  label: string;
  release: () => void;
}

/** One run of a scenario under a fixed list of choices. */
interface World {
  client: PairClient;
  /** Transports in replica order for the key under test: [primary, secondary]. */
  replicas: MemoryTransport[];
  key: string;
  /** The database behind read-through, gated like the cache servers so its reads and writes interleave too. */
  db: MemoryTransport;
  /** Turns gating on (setup runs ungated) or off (the checker runs ungated). */
  gate(on: boolean): void;
}

interface Scenario {
  name: string;
  setup(w: World): Promise<void>;
  actors(w: World): Array<() => Promise<void>>;
  /** Returns a description of the violation, or undefined. */
  check(w: World): Promise<string | undefined>;
}

async function makeWorld(held: Held[], counter: { seq: number }): Promise<World> {
  let gating = false;
  const transports = new Map<string, MemoryTransport>();
  const gate = (op: { op: string; key?: string; address: string }) => {
    if (!gating) return;
    return new Promise<void>((release) => {
      held.push({ seq: counter.seq++, label: `${op.op}@${op.address}`, release });
    });
  };
  const client = new PairClient({
    servers: ["a:1", "b:1"],
    replicas: 2,
    repair: "await",
    health: { failureThreshold: 1000 },
    transport: (s) => {
      const t = new MemoryTransport({ address: s.name, gate, timeout: 60_000 });
      transports.set(s.name, t);
      return t;
    },
  });
  // Let the constructor's pid discovery (stats) finish ungated.
  await flushTurns(5);
  const key = "k";
  const replicas = client.replicasOf(key).map((name) => transports.get(name)!);
  const db = new MemoryTransport({ address: "db", gate, timeout: 60_000 });
  return {
    client,
    replicas,
    key,
    db,
    gate: (on) => {
      gating = on;
    },
  };
}

function flushTurns(n: number): Promise<void> {
  return new Promise((resolve) => {
    const step = (left: number) => (left === 0 ? resolve() : setImmediate(() => step(left - 1)));
    step(n);
  });
}

/** Runs `scenario` following `choices`; returns the violation (if any) and the branching at each step. */
async function runOnce(
  scenario: Scenario,
  choices: readonly number[],
): Promise<{ violation?: string; branching: number[] }> {
  const held: Held[] = [];
  const w = await makeWorld(held, { seq: 0 });
  await scenario.setup(w);
  w.gate(true);
  let running = 0;
  const errors: unknown[] = [];
  for (const actor of scenario.actors(w)) {
    running++;
    void actor()
      .catch((e) => errors.push(e))
      .finally(() => running--);
  }
  const branching: number[] = [];
  for (let step = 0; ; step++) {
    // Wait until every running actor is blocked at the gate (or done): the system is quiescent.
    let spins = 0;
    while (held.length < running) {
      await flushTurns(1);
      if (++spins > 10_000)
        throw new Error(`no quiescence at step ${step}: ${held.length} held, ${running} running`);
    }
    if (running === 0 && held.length === 0) break;
    held.sort((x, y) => x.seq - y.seq);
    branching.push(held.length);
    const pick = choices[step] ?? 0;
    const [next] = held.splice(pick, 1);
    next!.release();
    await flushTurns(1);
  }
  if (errors.length > 0) throw errors[0];
  w.gate(false);
  const violation = await scenario.check(w);
  await w.client.close();
  return violation === undefined ? { branching } : { violation, branching };
}

/** Depth-first enumeration of every choice sequence. */
async function explore(scenario: Scenario, limit = 5000): Promise<{ paths: number; violations: string[] }> {
  const stack: number[][] = [[]];
  let paths = 0;
  const violations: string[] = [];
  while (stack.length > 0) {
    const prefix = stack.pop()!;
    const { violation, branching } = await runOnce(scenario, prefix);
    if (process.env.MCPAIR_DEBUG_PATHS) console.info(scenario.name, prefix.join(","), violation ?? "ok");
    paths++;
    if (violation) violations.push(`[${prefix.join(",")}] ${violation}`);
    for (let i = branching.length - 1; i >= prefix.length; i--) {
      for (let alt = branching[i]! - 1; alt >= 1; alt--) {
        const next = [...prefix];
        for (let j = prefix.length; j < i; j++) next.push(0);
        next.push(alt);
        stack.push(next);
      }
    }
    if (paths >= limit) throw new Error(`more than ${limit} orderings`);
  }
  return { paths, violations };
}

/** The real item on a server (placeholders and stale markers are not values). */
function valueOn(t: MemoryTransport, key: string): string | undefined {
  const item = t.peek(key);
  if (!item || item.stale || (item.flags === 0 && item.value.length === 0)) return undefined;
  return codec.decode(item.value, item.flags) as string;
}

async function seedSecondaryOnly(w: World, value: string): Promise<void> {
  // The primary came back empty (restarted); the secondary still holds `value`.
  await w.client.set(w.key, value);
  w.replicas[0]!.restart();
}

/** Raw reads, bypassing the engine, for the deliberately broken variants. */
async function rawGet(t: Transport, key: string) {
  return t.get(key, { cas: true, ttl: true });
}

const repairVsDelete = (reader: (w: World) => Promise<void>, name: string): Scenario => ({
  name,
  async setup(w) {
    await seedSecondaryOnly(w, "v1");
  },
  actors: (w) => [() => reader(w), async () => void (await w.client.delete(w.key))],
  async check(w) {
    // Promise 1: the delete resolved, nothing wrote since, so no replica may hold v1 and no read may return it.
    for (const t of w.replicas) if (valueOn(t, w.key) === "v1") return `resurrected on ${t.address}`;
    const after = await w.client.get(w.key);
    return after === undefined ? undefined : `read after delete returned ${String(after)}`;
  },
});

const repairVsSet = (reader: (w: World) => Promise<void>, name: string): Scenario => ({
  name,
  async setup(w) {
    await seedSecondaryOnly(w, "v1");
  },
  actors: (w) => [() => reader(w), async () => w.client.set(w.key, "v2")],
  async check(w) {
    // Promise 2: set(v2) resolved, so no replica may hold the older v1 and reads return v2.
    for (const t of w.replicas) if (valueOn(t, w.key) === "v1") return `older value v1 left on ${t.address}`;
    const after = await w.client.get(w.key);
    return after === "v2" ? undefined : `read after set returned ${String(after)}`;
  },
});

const engineReader = async (w: World) => void (await w.client.get(w.key));

/** Broken on purpose: the write-back every naive client does (plain set, no lease, no verification). */
const plainSetReader = async (w: World) => {
  const [p, s] = w.replicas as [MemoryTransport, MemoryTransport];
  if (await rawGet(p, w.key)) return;
  const hit = await rawGet(s, w.key);
  if (hit) await p.set(w.key, hit.value, { ttl: 60, flags: hit.flags });
};

/** Broken on purpose: add-mode write-back without a lease (refuses to overwrite, but not a deleted key). */
const addModeReader = async (w: World) => {
  const [p, s] = w.replicas as [MemoryTransport, MemoryTransport];
  if (await rawGet(p, w.key)) return;
  const hit = await rawGet(s, w.key);
  if (hit) await p.set(w.key, hit.value, { ttl: 60, flags: hit.flags, mode: "add" });
};

const ROW = "row";
const readRow = async (w: World) => codec.decode((await w.db.get(ROW))!.value, FLAGS_STRING) as string;
const FLAGS_STRING = enc("").flags;

/** The database behind a read-through, and the writer's "update the row, then delete the cache entry". */
const fetchVsUpdate = (fetcher: (w: World) => Promise<void>, name: string): Scenario => {
  return {
    name,
    async setup(w) {
      await w.db.set(ROW, enc("old").bytes, { ttl: 3600, flags: FLAGS_STRING });
    },
    actors: (w) => [
      () => fetcher(w),
      async () => {
        await w.db.set(ROW, enc("new").bytes, { ttl: 3600, flags: FLAGS_STRING });
        await w.client.delete(w.key);
      },
    ],
    async check(w) {
      // After the update's delete resolved, the cache may hold "new" or nothing, never the old row.
      for (const t of w.replicas) if (valueOn(t, w.key) === "old") return `stale row cached on ${t.address}`;
      return undefined;
    },
  };
};

const engineFetcher = async (w: World) => {
  await w.client.fetch(w.key, () => readRow(w), { timeout: 60_000 });
};

/** Broken on purpose: get, load, set (the pattern every cache-aside tutorial shows). */
const naiveFetcher = async (w: World) => {
  const hit = await w.client.get(w.key);
  if (hit === undefined) await w.client.set(w.key, await readRow(w));
};

describe("interleavings: read-repair and read-through never resurrect or roll back", () => {
  it("read-repair racing a delete: no ordering resurrects the value", async () => {
    const r = await explore(repairVsDelete(engineReader, "engine"));
    expect(r.violations).toEqual([]);
    expect(r.paths).toBeGreaterThan(10);
  });

  it("read-repair racing a set: no ordering leaves the older value", async () => {
    const r = await explore(repairVsSet(engineReader, "engine"));
    expect(r.violations).toEqual([]);
    expect(r.paths).toBeGreaterThan(10);
  });

  it("fetch racing an update + delete: no ordering caches the old row", async () => {
    const r = await explore(fetchVsUpdate(engineFetcher, "engine"));
    expect(r.violations).toEqual([]);
    expect(r.paths).toBeGreaterThan(5);
  });

  it("the checker finds the resurrection in a plain-set write-back", async () => {
    const r = await explore(repairVsDelete(plainSetReader, "plain set"));
    expect(r.violations.length).toBeGreaterThan(0);
  });

  it("the checker finds the resurrection in an unleased add-mode write-back", async () => {
    const r = await explore(repairVsDelete(addModeReader, "add mode"));
    expect(r.violations.length).toBeGreaterThan(0);
  });

  it("the checker finds the rollback in a plain-set write-back racing a set", async () => {
    const r = await explore(repairVsSet(plainSetReader, "plain set"));
    expect(r.violations.length).toBeGreaterThan(0);
  });

  it("the checker finds the stale row in get-load-set", async () => {
    const r = await explore(fetchVsUpdate(naiveFetcher, "naive"));
    expect(r.violations.length).toBeGreaterThan(0);
  });
});
