// One client process of the failover and chaos tests. It imports the built package (`npm run build` first), like
// an application would, and talks to its parent over stdio:
//
//   argv[2]  JSON config (see `Config` below)
//   stdout   one JSON object per line: {type:"ready"}, {type:"event", event, t, ...} for every stateChange, rejoin
//            and hintOverflow, {type:"result", id, ...} for each command, {type:"done", ...} at the end
//   stdin    one JSON command per line: {cmd:"start"} starts the random workload, {cmd:"stop"} ends it and exits,
//            {cmd:"op", id, op:"get"|"set"|"delete", key, value?} runs one operation, {cmd:"stats", id}
//
// The workload (random get/set/delete over `keys` keys, values `${id}:${seq}` unique per run) logs every operation
// with its wall-clock [start, end] and outcome to `log` as JSON lines [kind, key, value, start, end, outcome,
// refresh?], for the checker in `checker.ts`. With `families`, some operations go to counter keys (`c*`: a set
// creates an incarnation `E * 1e6 + 5e5` with E unique per run, incr/decr add 1..3 and are logged as refreshes of `cnt:E`;
// a read of n is `cnt:floor(n / 1e6)`) and to append keys (`a*`: a set writes a unique base, append adds
// `|<unique chunk>` and is logged as a refresh of the base; a read is identified by its base, the part before the
// first "|": a value without its base, such as an append that landed in a lease placeholder, is a phantom).
//
// mode "broken" is the deliberately wrong client the checker must catch: the engine's read-repair is off and reads
// do their own naive write-back instead (primary miss + secondary hit: plain `set` of the value on the primary, a
// little later), which is traps 1 and 2 of the design note: it resurrects deleted values and brings back old ones.

import { createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@mcpair/memcached";

/**
 * @typedef {object} Config
 * @property {string} id
 * @property {string[]} servers
 * @property {Record<string, unknown>} [client]   createClient options besides servers
 * @property {number} [keys]                       workload key count (default 200)
 * @property {string} [keyPrefix]                  (default "k")
 * @property {{get: number, set: number, delete: number}} [mix]
 * @property {{counter: number, append: number}} [families]  shares of ops on counter keys and append keys
 * @property {number} [concurrency]                workload loops (default 4)
 * @property {[number, number]} [thinkMs]          pause between two operations of a loop (default [0, 2])
 * @property {string} [log]                        history file
 * @property {"real" | "broken"} [mode]
 * @property {number} [brokenDelayMs]              broken mode: longest delay before the naive write-back (default 20)
 */

/** @type {Config} */
const cfg = JSON.parse(process.argv[2] ?? "{}");
const id = cfg.id ?? `p${process.pid}`;
const mode = cfg.mode ?? "real";
const keyCount = cfg.keys ?? 200;
const keyPrefix = cfg.keyPrefix ?? "k";
const mix = cfg.mix ?? { get: 0.55, set: 0.3, delete: 0.15 };
const families = cfg.families ?? { counter: 0, append: 0 };
const procNumber = Number(String(id).replace(/\D/g, "") || "0") + 1;
const COUNTER_SPAN = 1_000_000;
const concurrency = cfg.concurrency ?? 4;
const [thinkMin, thinkMax] = cfg.thinkMs ?? [0, 2];

const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

// An unhandled rejection would end the process (Node's default): count them instead, so the run finishes and the
// parent can report them as a failure of their own.
const unhandled = { count: 0, first: undefined };
process.on("unhandledRejection", (error) => {
  unhandled.count++;
  unhandled.first ??= String(error?.stack ?? error);
});

const clientOptions = { ...(cfg.client ?? {}), servers: cfg.servers };
if (mode === "broken") {
  clientOptions.repair = "off";
  // The broken client also reads a rejoined server at once (no quarantine), like the clients mcpair replaces.
  clientOptions.health = { ...(clientOptions.health ?? {}), rejoinQuarantine: 0 };
}
const client = createClient(clientOptions);
client.on("stateChange", (e) => out({ type: "event", event: "stateChange", t: Date.now(), ...e }));
client.on("rejoin", (e) => out({ type: "event", event: "rejoin", t: Date.now(), ...e }));
client.on("hintOverflow", (e) => out({ type: "event", event: "hintOverflow", t: Date.now(), ...e }));

// Broken mode: one single-replica client per server, so that reads can go to exactly one server.
/** @type {Map<string, import("@mcpair/memcached").PairClient>} */
const singles = new Map();
if (mode === "broken") {
  for (const s of client.servers) {
    singles.set(s.name, createClient({ ...clientOptions, servers: [s.name], replicas: 1, rewarm: false }));
  }
}

async function naiveGet(key) {
  const [primary, secondary] = client.replicasOf(key);
  let primaryMissed = false;
  try {
    const v = await singles.get(primary).get(key);
    if (v !== undefined) return v;
    primaryMissed = true;
  } catch {
    // primary unavailable: read the secondary
  }
  if (secondary === undefined) return undefined;
  const v = await singles.get(secondary).get(key);
  if (v !== undefined && primaryMissed) {
    // The naive write-back: a plain set, no lease, no CAS, after a short delay (a slow reader).
    const delay = Math.random() * (cfg.brokenDelayMs ?? 20);
    void sleep(delay)
      .then(() => singles.get(primary).set(key, v))
      .catch(() => undefined);
  }
  return v;
}

const read = (key) => (mode === "broken" ? naiveGet(key) : client.get(key));

// ─── history log ───────────────────────────────────────────────────────────────────────────────────────────────────
const log = cfg.log ? createWriteStream(cfg.log) : undefined;
let pending = [];
const flushLog = () => {
  if (log && pending.length > 0) {
    log.write(pending.join(""));
    pending = [];
  }
};
const flushTimer = setInterval(flushLog, 200);
const counts = { ops: 0, get: 0, hit: 0, miss: 0, set: 0, delete: 0, errors: 0 };
const record = (kind, key, value, start, end, outcome, refresh = false) => {
  counts.ops++;
  if (outcome === "error") counts.errors++;
  const entry = [kind, key, value ?? null, start, end, outcome];
  if (refresh) entry.push(1);
  if (log) pending.push(`${JSON.stringify(entry)}\n`);
};

/** The value id of what a read returned, per key family (see the header). */
function readId(key, v) {
  const s = String(v);
  if (key.startsWith("c")) return `cnt:${Math.floor(Number(s.trim()) / COUNTER_SPAN)}`;
  if (key.startsWith("a")) return `base:${s.split("|")[0]}`;
  return s;
}

let seq = 0;

async function op(kind, key, value) {
  const start = Date.now();
  if (kind === "get") {
    counts.get++;
    try {
      const v = await read(key);
      const end = Date.now();
      if (v === undefined) counts.miss++;
      else counts.hit++;
      record("g", key, v === undefined ? null : readId(key, v), start, end, v === undefined ? "miss" : "hit");
      return { outcome: v === undefined ? "miss" : "hit", value: v };
    } catch (error) {
      record("g", key, null, start, Date.now(), "error");
      return { outcome: "error", error: String(error?.message ?? error) };
    }
  }
  if (kind === "set") {
    counts.set++;
    let v = value ?? `${id}:${seq++}`;
    let logged = v;
    if (value === undefined && key.startsWith("c")) {
      // A new counter incarnation, unique per run.
      const epoch = procNumber * COUNTER_SPAN + seq++;
      // In the middle of the incarnation's span: increments and decrements (1..3 each) stay inside it.
      v = String(epoch * COUNTER_SPAN + COUNTER_SPAN / 2);
      logged = `cnt:${epoch}`;
    } else if (value === undefined && key.startsWith("a")) logged = `base:${v}`;
    try {
      await client.set(key, v);
      record("s", key, logged, start, Date.now(), "ok");
      return { outcome: "ok", value: v };
    } catch (error) {
      record("s", key, logged, start, Date.now(), "error");
      return { outcome: "error", value: v, error: String(error?.message ?? error) };
    }
  }
  if (kind === "incr" || kind === "decr") {
    counts[kind] = (counts[kind] ?? 0) + 1;
    try {
      const n = await client[kind](key, 1 + Math.floor(Math.random() * 3));
      // A counter that does not exist is not created (no initial): nothing was written.
      if (n !== undefined)
        record("s", key, `cnt:${Math.floor(n / COUNTER_SPAN)}`, start, Date.now(), "ok", true);
      return { outcome: "ok", value: n };
    } catch (error) {
      // Unknown incarnation: an increment that failed changes no value id, so it constrains nothing.
      return { outcome: "error", error: String(error?.message ?? error) };
    }
  }
  if (kind === "append") {
    counts.append = (counts.append ?? 0) + 1;
    try {
      // The base the append extends, for the log only: read before and after (a concurrent set or delete may change
      // it in between; every base seen is logged as refreshed over the whole interval, which only widens what the
      // checker accepts for those bases).
      const baseOf = (v) => (v === undefined ? undefined : String(v).split("|")[0]);
      const before = baseOf(await client.get(key).catch(() => undefined));
      const ok = await client.append(key, `|${id}.${seq++}`);
      if (ok) {
        const after = baseOf(await client.get(key).catch(() => undefined));
        const end = Date.now();
        for (const base of new Set([before, after])) {
          if (base) record("s", key, `base:${base}`, start, end, "ok", true);
        }
      }
      return { outcome: "ok", value: ok };
    } catch (error) {
      return { outcome: "error", error: String(error?.message ?? error) };
    }
  }
  counts.delete++;
  try {
    const found = await client.delete(key);
    record("d", key, null, start, Date.now(), "ok");
    return { outcome: "ok", found };
  } catch (error) {
    record("d", key, null, start, Date.now(), "error");
    return { outcome: "error", error: String(error?.message ?? error) };
  }
}

// ─── workload ──────────────────────────────────────────────────────────────────────────────────────────────────────
let running = false;
let stopping = false;
const loops = [];

async function loop() {
  while (!stopping) {
    const f = Math.random();
    const family = f < families.counter ? "c" : f < families.counter + families.append ? "a" : keyPrefix;
    const key = `${family}${Math.floor(Math.random() * keyCount)}`;
    const r = Math.random();
    let kind = r < mix.get ? "get" : r < mix.get + mix.set ? "set" : "delete";
    // Counter and append keys: half of the writes are the read-modify-write of their family.
    if (family !== keyPrefix && kind === "set" && Math.random() < 0.7) {
      kind = family === "c" ? (Math.random() < 0.8 ? "incr" : "decr") : "append";
    }
    await op(kind, key);
    const think = thinkMin + Math.random() * (thinkMax - thinkMin);
    if (think >= 1) await sleep(think);
    else await new Promise((resolve) => setImmediate(resolve));
  }
}

async function stop() {
  if (stopping) return;
  stopping = true;
  await Promise.all(loops);
  clearInterval(flushTimer);
  flushLog();
  if (log) await new Promise((resolve) => log.end(resolve));
  const stats = client.stats();
  await Promise.race([
    Promise.all([client.close(), ...[...singles.values()].map((c) => c.close())]),
    sleep(3000),
  ]);
  const { servers, rewarm, ...counters } = stats;
  const rewarms = rewarm.map((r) => ({
    server: r.server,
    copied: r.copied,
    candidates: r.candidates,
    conflicts: r.conflicts,
    failed: r.failed,
    skipped: r.skipped,
  }));
  out({ type: "done", id, counts, counters, servers, rewarms, unhandled });
  process.exit(0);
}

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (line.trim() === "") return;
  const cmd = JSON.parse(line);
  if (cmd.cmd === "start" && !running) {
    running = true;
    for (let i = 0; i < concurrency; i++) loops.push(loop());
  } else if (cmd.cmd === "stop") void stop();
  else if (cmd.cmd === "op") {
    void op(cmd.op, cmd.key, cmd.value).then((r) => out({ type: "result", id: cmd.id, ...r }));
  } else if (cmd.cmd === "stats") {
    const { rewarm, ...s } = client.stats();
    out({ type: "result", id: cmd.id, stats: s });
  }
});
rl.on("close", () => void stop());
process.on("SIGTERM", () => void stop());

// Ready once the first health check has learned every server's pid (status() queues behind it on each connection):
// a later outage can then tell a restart from a pause.
await client.status().catch(() => undefined);
out({ type: "ready", id, pid: process.pid, t: Date.now() });
