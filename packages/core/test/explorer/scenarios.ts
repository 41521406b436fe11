/**
 * The operation pairs the interleaving explorer runs, and the checker of promises 1 and 2 (design note).
 *
 * A scenario: key `k` holds `v1` on every replica, except that one replica (the *target*, at a chosen position in
 * the key's replica list) came back empty from a restart. Two client processes then race: X runs the operation under
 * test (a read, a copy, a write), Y a concurrent write or delete (for read-through: "update the row, then delete the
 * cache entry"). Optionally one request of Y's (or X's) to the target times out at the client and is applied later or
 * never.
 *
 * The checker, after every request and timer has run: each replica's value for `k` (lease placeholders, stale
 * markers and tombstones are not values) must be one that some order of X and Y could have left, given what X
 * returned, where the cache may have lost the key at any point (a miss is always allowed). A write's own result
 * (a `set`'s value, an `incr`'s count) may also be left on a replica by its copy landing after a concurrent Y, as with
 * two concurrent `set`s: operations that overlap in time may end in either order on each replica (the chaos checker's
 * rule, `packages/memcached/test/chaos/checker.ts`). Anything else is a value nobody should see again: a resurrection
 * (promise 1), an older value (promise 2), or a phantom. Then a fresh client reads `k` through the engine and must
 * get a legitimate value or a miss.
 */
import type { PairClient } from "../../src/pair-client.js";
import type { Execution } from "./explore.js";
import { World } from "./world.js";

/** The logical value of `k` (`undefined`: absent). */
type State = string | undefined;

/** What an operation does to the logical value, and what it returns; `ret` undefined: not comparable. */
type Model = (s: State, row: string) => { s: State; ret?: unknown };

export interface Op {
  name: string;
  /** Runs the operation; its return value is compared with the model's. */
  run(c: PairClient, w: World): Promise<unknown>;
  model: Model;
  /** The operation only reads (its result is not compared; repairs and copies do not change the logical value). */
  readOnly?: boolean;
  /** The setup value when this operation is X (counters need a number). */
  initial?: string;
  /**
   * A cache fill (read-through): it stores what it read from the database, so a delete that follows the database
   * update must win over it whatever the timing (no "concurrent write" leeway).
   */
  fill?: boolean;
  /** An extra check of X's own result (after the run): a violation, or undefined. */
  verify?(ret: unknown): string | undefined;
}

/** Counters are set up with this lifetime: no copy of one may carry a longer one (trap 12). */
export const COUNTER_TTL = 100;

const K = "k";
const K2 = "k2";

const readOnly = (name: string, run: Op["run"]): Op => ({
  name,
  run,
  model: (s) => ({ s }),
  readOnly: true,
});

/** X: the operations under test. */
export const OPERATIONS: Record<string, Op> = {
  get: readOnly("get", (c) => c.get(K)),
  getMany: readOnly("getMany", (c) => c.getMany([K, K2])),
  fetch: {
    name: "fetch",
    run: (c, w) => c.fetch(K, () => w.readRow("x"), { timeout: 60_000 }),
    // fetch stores the row it loaded when the key was absent.
    model: (s, row) => ({ s: s ?? row }),
    fill: true,
  },
  fetchMany: {
    name: "fetchMany",
    run: (c, w) =>
      c.fetchMany([K, K2], async (keys) => {
        const row = await w.readRow("x");
        return new Map(keys.map((key) => [key, row]));
      }),
    model: (s, row) => ({ s: s ?? row }),
    fill: true,
  },
  rewarm: readOnly("rewarm", (c, w) => c.rewarm(w.target, { rate: 1e9, concurrency: 4 })),
  gets: readOnly("gets", (c) => c.gets(K)),
  set: { name: "set", run: (c) => c.set(K, "x"), model: () => ({ s: "x" }) },
  setMany: {
    name: "setMany",
    run: (c) =>
      c.setMany([
        [K, "x"],
        [K2, "x2"],
      ]),
    model: () => ({ s: "x" }),
  },
  add: {
    name: "add",
    run: (c) => c.add(K, "x"),
    model: (s) => (s === undefined ? { s: "x", ret: true } : { s, ret: false }),
  },
  replace: {
    name: "replace",
    run: (c) => c.replace(K, "x"),
    model: (s) => (s === undefined ? { s, ret: false } : { s: "x", ret: true }),
  },
  append: {
    name: "append",
    run: (c) => c.append(K, "+a"),
    model: (s) => (s === undefined ? { s, ret: false } : { s: `${s}+a`, ret: true }),
  },
  prepend: {
    name: "prepend",
    run: (c) => c.prepend(K, "p+"),
    model: (s) => (s === undefined ? { s, ret: false } : { s: `p+${s}`, ret: true }),
  },
  cas: {
    name: "cas",
    async run(c) {
      const got = await c.gets(K);
      if (got === undefined) return "no-token";
      return c.cas(K, "x", got.token);
    },
    // The token's read and the store are two steps; the model only says what a successful store leaves.
    model: (s) => ({ s: s === undefined ? s : "x" }),
  },
  incr: {
    name: "incr",
    run: (c) => c.incr(K, 1),
    model: (s) =>
      s === undefined ? { s, ret: undefined } : { s: String(Number(s) + 1), ret: Number(s) + 1 },
    initial: "5",
  },
  decr: {
    name: "decr",
    run: (c) => c.decr(K, 1),
    model: (s) =>
      s === undefined ? { s, ret: undefined } : { s: String(Math.max(0, Number(s) - 1)), ret: Number(s) - 1 },
    initial: "5",
  },
  touch: { name: "touch", run: (c) => c.touch(K, 600), model: (s) => ({ s }) },
  delete: { name: "delete", run: (c) => c.delete(K), model: () => ({ s: undefined }) },
  deleteMany: { name: "deleteMany", run: (c) => c.deleteMany([K, K2]), model: () => ({ s: undefined }) },
  invalidate: { name: "invalidate", run: (c) => c.invalidate(K, 30), model: () => ({ s: undefined }) },
};

/** Raw reads, bypassing the engine, for the deliberately broken variants. */
const rawGet = (w: World, name: string) => w.server(name).get(K, { cas: true, ttl: true });

/** Deliberately broken X operations: the checker must find their violations (see the test). */
export const BROKEN: Record<string, Op> = {
  /** Read-repair as every naive client does it: primary miss, secondary hit, plain `set` on the primary. */
  naiveRepair: readOnly("naive repair", async (c, w) => {
    const [p, s2] = c.replicasOf(K);
    if (await rawGet(w, p!)) return;
    const hit = await rawGet(w, s2!);
    if (hit) await w.server(p!).set(K, hit.value, { ttl: 60, flags: hit.flags });
  }),
  /** Add-mode write-back without a lease: refuses to overwrite, but not to fill a key deleted meanwhile. */
  addModeRepair: readOnly("add-mode repair", async (c, w) => {
    const [p, s2] = c.replicasOf(K);
    if (await rawGet(w, p!)) return;
    const hit = await rawGet(w, s2!);
    if (hit) await w.server(p!).set(K, hit.value, { ttl: 60, flags: hit.flags, mode: "add" });
  }),
  /** Cache-aside as every tutorial shows it: get, on a miss load the row, then set. */
  getLoadSet: {
    name: "get-load-set",
    async run(c, w) {
      if ((await c.get(K)) === undefined) await c.set(K, await w.readRow("x"));
    },
    model: (s, row) => ({ s: s ?? row }),
    fill: true,
  },
};

/**
 * `cas` with a token older than the client's own acknowledged write: gets (token from one replica), set (whose
 * request to that replica may time out: the client then knows the replica missed it), then cas with the old token.
 * The write happened after the token was read, so the cas must fail.
 */
export const CAS_AFTER_WRITE: Op = {
  name: "gets, set, cas",
  async run(c) {
    const got = await c.gets(K);
    if (got === undefined) return { casRet: "no-token" };
    let setOk = true;
    try {
      await c.set(K, "x1");
    } catch {
      setOk = false;
    }
    return { setOk, casRet: await c.cas(K, "x2", got.token) };
  },
  // x2 (a successful cas) or x1 (the set) or what Y left: checked by `verify` and the generic rules.
  model: () => ({ s: "x1" }),
  verify(ret) {
    const r = ret as { setOk?: boolean; casRet: unknown };
    if (r.setOk === true && r.casRet === true)
      return "cas succeeded with a token read before the client's own acknowledged write";
    return undefined;
  },
};

/** Y: the concurrent mutations. */
export const MUTATIONS: Record<string, Op> = {
  delete: { name: "delete", run: (c) => c.delete(K), model: () => ({ s: undefined }) },
  set: { name: "set", run: (c) => c.set(K, "v2"), model: () => ({ s: "v2" }) },
  /** Nothing (X alone: the interest is in the state the setup left, such as a lease placeholder). */
  none: { name: "nothing", run: async () => undefined, model: (s) => ({ s }) },
  /** A concurrent read-through: it takes leases (placeholders) on the replicas while it loads. */
  fetch: {
    name: "fetch",
    run: (c, w) => c.fetch(K, () => w.readRow("y"), { timeout: 60_000 }),
    model: (s, row) => ({ s: s ?? row }),
  },
  /** Read-through's writer: update the database row, then delete the cache entry. */
  rowUpdate: {
    name: "update+delete",
    async run(c, w) {
      await w.setRow("new", "y");
      return c.delete(K);
    },
    model: () => ({ s: undefined }),
  },
};

export interface Case {
  /** A key of OPERATIONS, BROKEN, or "casAfterWrite". */
  x: string;
  y: string;
  replicas: 2 | 3;
  /** Position of the empty (restarted) replica in `k`'s list; -1: none (every replica holds `v1`). */
  position: number;
  /**
   * One request of this actor to the replica at this position may time out at the client (and be applied later, or
   * never): the explorer tries every such request.
   */
  timeout?: { actor: "x" | "y"; position: number } | undefined;
  /** Client options (both actors). */
  client?: Parameters<World["client"]>[1];
  /** Let the servers' clock jump once, after Y resolved (tombstones and leases expire). */
  age?: boolean;
  /** With `age`: X starts only after the clock jumped (a later reader). */
  xAfterAge?: boolean;
  /** `k` is not cached at all at the start (only the database row exists). */
  uncached?: boolean;
  /** A lease placeholder (of a read-through that is still loading) is on the replica at `position` at the start. */
  lease?: boolean;
}

function opOf(name: string): Op {
  const op = OPERATIONS[name] ?? BROKEN[name] ?? (name === "casAfterWrite" ? CAS_AFTER_WRITE : undefined);
  if (op === undefined) throw new Error(`no operation ${name}`);
  return op;
}

const POSITIONS = ["primary", "secondary", "third"];

export function caseName(c: Case): string {
  const empty = c.position < 0 ? "no replica empty" : `${POSITIONS[c.position]} empty`;
  const timeout = c.timeout
    ? `, ${c.timeout.actor}'s request to the ${POSITIONS[c.timeout.position]} times out`
    : "";
  return `${c.x} × ${c.y}, replicas ${c.replicas}, ${empty}${timeout}`;
}

const SERVERS = { 2: ["a", "b", "c"], 3: ["a", "b", "c", "d"] } as const;

/** Legitimate final values of `k` on one replica, given what X returned (`xRet`) and whether X and Y succeeded. */
function legitimate(
  x: Op,
  y: Op,
  v1: string,
  xResult: { ok: boolean; ret: unknown },
  yOk: boolean,
  cached = true,
): Set<State> {
  const out = new Set<State>([undefined]);
  const xRuns = x.readOnly ? [false] : xResult.ok ? [true] : [true, false];
  const yRuns = yOk ? [true] : [true, false];
  // The cache may lose the key at any point: before the first operation, between the two, or after (a miss).
  for (const start of (cached ? [v1, undefined] : [undefined]) as State[]) {
    for (const lossBetween of [false, true]) {
      for (const xRan of xRuns) {
        for (const yRan of yRuns) {
          for (const xFirst of [true, false]) {
            let s = start;
            let consistent = true;
            const applyX = () => {
              if (!xRan) return;
              // The database row X may load: Y's update happened before X only when Y ran first.
              const r = x.model(s, !xFirst && yRan && y.name === "update+delete" ? "new" : v1);
              if (xResult.ok && r.ret !== undefined && !sameRet(r.ret, xResult.ret)) consistent = false;
              s = r.s;
            };
            const applyY = () => {
              if (yRan) s = y.model(s, v1).s;
            };
            let xState: State | undefined;
            const applyXRecord = () => {
              applyX();
              if (xRan) xState = s;
            };
            if (xFirst) applyXRecord();
            else applyY();
            if (lossBetween) s = undefined;
            if (xFirst) applyY();
            else applyXRecord();
            if (consistent) {
              out.add(s);
              // X's result is copied to the other replicas as part of X (a plain store, like a set of the result):
              // on a replica it may land after a write or delete concurrent with X, like the later of two sets.
              if (xState !== undefined && !x.readOnly && !x.fill) out.add(xState);
            }
          }
        }
      }
    }
  }
  return out;
}

function sameRet(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return a === b;
  return a === b;
}

/** Builds one execution of `c` for the explorer. */
export async function startCase(c: Case): Promise<Execution> {
  const x = opOf(c.x);
  const y = MUTATIONS[c.y]!;
  const w: World = new World({
    servers: [...SERVERS[c.replicas]],
    replicas: c.replicas,
    timeouts: c.timeout ? 1 : 0,
    ages: c.age ? 1 : 0,
    // Seconds pass once Y (the delete) resolved: its tombstones expire while its hints are pending.
    ageWhen: () => yDone,
    // Writes only (a store, a tombstone, an arithmetic): a read that times out changes nothing on the server.
    mayTimeOut: (h) =>
      c.timeout !== undefined &&
      h.client === c.timeout.actor &&
      h.server === timeoutServer &&
      !h.label.startsWith("get:") &&
      !h.label.startsWith("dump"),
  });
  const placement = w.client("placement");
  const list = placement.replicasOf(K);
  w.target = c.position < 0 ? list[0]! : list[c.position]!;
  const timeoutServer = c.timeout === undefined ? "" : list[c.timeout.position]!;
  const v1 = x.initial ?? "v1";
  const fetching = c.x === "fetch" || c.x === "fetchMany" || c.x === "getLoadSet" || c.y === "fetch";
  // Setup, ungated: the row, v1 on every replica, then the target restarts empty.
  await w.setRow(fetching ? v1 : "row");
  if (c.uncached) {
    // Nothing cached: only the row.
  } else if (x.initial !== undefined) {
    await placement.incr(K, 0, { initial: Number(x.initial), ttl: COUNTER_TTL });
  } else {
    await placement.set(K, v1);
  }
  await placement.set(K2, "w1");
  if (c.position >= 0) w.server(w.target).restart();
  if (c.lease) await w.server(w.target).get(K, { lease: 30 });
  const cx = w.client("x", c.client);
  const cy = w.client("y", c.client);
  let xResult: { ok: boolean; ret: unknown } = { ok: false, ret: undefined };
  let yOk = false;
  let yDone = false;
  return w.run(
    [
      async () => {
        if (c.xAfterAge) await w.aged;
        try {
          xResult = { ok: true, ret: await x.run(cx, w) };
        } catch (error) {
          xResult = { ok: false, ret: error };
        }
      },
      async () => {
        try {
          await y.run(cy, w);
          yOk = true;
        } catch {
          yOk = false;
        }
        yDone = true;
      },
    ],
    async () => {
      const legit = legitimate(x, y, v1, xResult, yOk, !c.uncached);
      const show = (s: State) => (s === undefined ? "(none)" : JSON.stringify(s));
      const outcome = `X ${c.x} ${xResult.ok ? `returned ${describe(xResult.ret)}` : `failed: ${describe(xResult.ret)}`}; Y ${yOk ? "resolved" : "failed"}`;
      if (xResult.ok && x.verify) {
        const wrong = x.verify(xResult.ret);
        if (wrong !== undefined) return `${wrong} (${outcome})`;
      }
      if (x.initial !== undefined) {
        // A counter's copies keep the authority's remaining lifetime (trap 12).
        for (const name of list) {
          const item = w.server(name).peek(K);
          const value = w.valueOn(w.server(name), K);
          if (item && value !== undefined && /^\d+$/.test(value) && item.ttl > COUNTER_TTL) {
            return `${name} holds counter ${value} with ttl ${item.ttl} > ${COUNTER_TTL} (${outcome})`;
          }
        }
      }
      for (const name of list) {
        const value = w.valueOn(w.server(name), K);
        if (!legit.has(value)) {
          return `${name} holds ${show(value)}; legitimate: ${[...legit].map(show).join(", ")} (${outcome})`;
        }
      }
      const reader = w.client("reader");
      const read = await reader.get(K).catch(() => undefined);
      const value = read === undefined ? undefined : String(read).trim();
      if (!legit.has(value)) return `a later read returned ${show(value)} (${outcome})`;
      return undefined;
    },
  );
}

function describe(v: unknown): string {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (v instanceof Map) return `Map(${[...v.keys()].join(",")})`;
  if (typeof v === "object" && v !== null)
    return JSON.stringify(v, (_, x) => (typeof x === "bigint" ? String(x) : x));
  return String(v);
}
