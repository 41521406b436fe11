/**
 * `npm run bench:failover`: the crunch benchmark of issues 5 and 8. A working set of keys lives behind a simulated
 * database (a loader that counts its calls and takes ~1 ms); a steady read load goes through `client.fetch(key,
 * loader)` with ~1% writes of fresh values; then every server is restarted one by one, paced as the README's runbook
 * says: the next server only when `status()` (what `mcpair status` prints) shows every server `up` — not `starting`,
 * `rewarming`, `recovering` or `draining`:
 *   - planned:   drain (the operator API), wait for the drain to reach the clients, stop, start empty;
 *   - unplanned: kill -9, start empty after a short outage.
 * Variants: replicas 1 (plain consistent hashing, the baseline), replicas 2 with DEFAULT options (automatic rewarm on),
 * and replicas 2 with `rewarm: false` (read-repair only, for comparison). Each run reports database loads per phase
 * (as a share of the working set), the hit ratio per second, p50/p99 latency per phase (`recover` is from the restart
 * until status shows every server up: the rewarm runs then), the rewarm copies per server, stale reads found by the
 * history checker of the chaos test, and keys left without a cached copy; an SVG chart per run goes to bench-results/.
 *
 * Environment (all optional):
 *   MCPAIR_BENCH_KEYS=50000          working set size
 *   MCPAIR_BENCH_SERVERS=3           server counts to run (3,5 for the full matrix: about 12 minutes)
 *   MCPAIR_BENCH_VARIANTS=r1,r2,r2-norewarm
 *   MCPAIR_BENCH_MODES=planned,unplanned
 *   MCPAIR_BENCH_RATE=4000           offered operations per second (fetches + writes)
 *   MCPAIR_BENCH_WRITES=0.01         share of writes
 *   MCPAIR_BENCH_DIST=uniform        or zipf (s = 0.99)
 *   MCPAIR_BENCH_STEADY_MS=2000  MCPAIR_BENCH_DRAIN_WAIT_MS=2500  MCPAIR_BENCH_OUTAGE_MS=300
 *   MCPAIR_BENCH_SETTLE_MS=500   MCPAIR_BENCH_TAIL_MS=1500
 *   MCPAIR_BENCH_QUICK=1             10k keys (a smoke run of about two minutes)
 *
 * The default run (3 servers, six runs) takes about 5 minutes.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createClient, createSocketTransport, type PairClient } from "@mcpair/memcached";
import { cleanupAll, type MemcachedServer, startMemcached } from "@mcpair/test-utils";
import { type CheckResult, checkHistory, type HistoryOp } from "../packages/memcached/test/chaos/checker.js";
import { type ChartMark, type ChartSecond, renderChart } from "./failover-chart.js";

// An unhandled rejection from the engine would end the benchmark (Node's default): count it and report it instead.
const unhandled = { count: 0, first: undefined as string | undefined };
process.on("unhandledRejection", (error) => {
  unhandled.count++;
  unhandled.first ??= error instanceof Error ? (error.stack ?? error.message) : String(error);
});

// ─── configuration ──────────────────────────────────────────────────────────────────────────────────────────────────

const env = process.env;
const quick = env.MCPAIR_BENCH_QUICK === "1";
const num = (name: string, fallback: number) => {
  const raw = env[`MCPAIR_BENCH_${name}`];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`MCPAIR_BENCH_${name} must be a non-negative number, got ${raw}`);
  return n;
};
const list = (name: string, fallback: string) =>
  (env[`MCPAIR_BENCH_${name}`] ?? fallback)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

const CONFIG = {
  keys: num("KEYS", quick ? 10_000 : 50_000),
  serverCounts: list("SERVERS", "3").map(Number),
  variants: list("VARIANTS", "r1,r2,r2-norewarm") as Variant[],
  modes: list("MODES", "planned,unplanned") as Mode[],
  rate: num("RATE", 4000),
  writes: num("WRITES", 0.01),
  dist: (env.MCPAIR_BENCH_DIST ?? "uniform") as "uniform" | "zipf",
  steadyMs: num("STEADY_MS", 2000),
  drainWaitMs: num("DRAIN_WAIT_MS", 2500),
  outageMs: num("OUTAGE_MS", 300),
  settleMs: num("SETTLE_MS", 500),
  tailMs: num("TAIL_MS", 1500),
  concurrency: 32,
  loaderMs: 1,
};

type Variant = "r1" | "r2" | "r2-norewarm";
type Mode = "planned" | "unplanned";
type Phase = "steady" | "drain" | "down" | "recover" | "audit" | "tail";
const RESTART_PHASES: readonly Phase[] = ["drain", "down", "recover", "audit", "tail"];

for (const v of CONFIG.variants) {
  if (!["r1", "r2", "r2-norewarm"].includes(v))
    throw new Error(`unknown variant ${v} in MCPAIR_BENCH_VARIANTS`);
}
for (const m of CONFIG.modes) {
  if (m !== "planned" && m !== "unplanned") throw new Error(`unknown mode ${m} in MCPAIR_BENCH_MODES`);
}
if (CONFIG.dist !== "uniform" && CONFIG.dist !== "zipf")
  throw new Error("MCPAIR_BENCH_DIST must be uniform or zipf");

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT_DIR = join(root, "bench-results");

// ─── the working set and the simulated database ─────────────────────────────────────────────────────────────────────

const N = CONFIG.keys;
const PAD = "x".repeat(500);
const valueLength = new Uint16Array(N);
for (let i = 0; i < N; i++) valueLength[i] = 100 + ((Math.imul(i + 1, 2_654_435_761) >>> 0) % 401);
const keyOf = (i: number) => `k:${i}`;
const keyIndex = (key: string) => Number(key.slice(2));
/** Values are ~100-500 bytes and name their key and version, so a read can be traced to the write that made it. */
const dbValue = (i: number, version: number) => `${i}:${version}:${PAD.slice(0, valueLength[i]!)}`;
/** The checker's id of a value: key and version. */
const idOf = (i: number, version: number) => `${keyOf(i)}#${version}`;
function idOfValue(v: unknown): string {
  const s = String(v);
  const a = s.indexOf(":");
  const b = s.indexOf(":", a + 1);
  return `k:${s.slice(0, a)}#${s.slice(a + 1, b)}`;
}

/** Key picker: uniform, or Zipf (s = 0.99) over a fixed random permutation so hot keys spread over the servers. */
function makePicker(): () => number {
  if (CONFIG.dist === "uniform") return () => Math.floor(Math.random() * N);
  const cdf = new Float64Array(N);
  let sum = 0;
  for (let r = 0; r < N; r++) {
    sum += 1 / (r + 1) ** 0.99;
    cdf[r] = sum;
  }
  const perm = Uint32Array.from({ length: N }, (_, i) => i);
  let seed = 42;
  for (let i = N - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    const j = seed % (i + 1);
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  return () => {
    const u = Math.random() * sum;
    let lo = 0;
    let hi = N - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return perm[lo]!;
  };
}

// ─── recording ──────────────────────────────────────────────────────────────────────────────────────────────────────

interface PhaseStats {
  fetches: number;
  loads: number;
  errors: number;
  ms: number;
  lat: number[];
}

class Recorder {
  readonly t0 = Date.now();
  phase: Phase = "steady";
  #since = Date.now();
  readonly phases = new Map<Phase, PhaseStats>();
  readonly seconds: ChartSecond[] = [];
  readonly marks: ChartMark[] = [];

  #stats(p: Phase): PhaseStats {
    let s = this.phases.get(p);
    if (!s) {
      s = { fetches: 0, loads: 0, errors: 0, ms: 0, lat: [] };
      this.phases.set(p, s);
    }
    return s;
  }

  #second(): ChartSecond {
    const t = Math.floor((Date.now() - this.t0) / 1000);
    while (this.seconds.length <= t) this.seconds.push({ t: this.seconds.length, loads: 0, fetches: 0 });
    return this.seconds[t]!;
  }

  setPhase(p: Phase): void {
    const now = Date.now();
    this.#stats(this.phase).ms += now - this.#since;
    this.#since = now;
    this.phase = p;
  }

  mark(label: string): void {
    this.marks.push({ t: (Date.now() - this.t0) / 1000, label });
  }

  fetched(latencyMs: number, ok: boolean): void {
    const s = this.#stats(this.phase);
    s.fetches++;
    if (!ok) s.errors++;
    s.lat.push(latencyMs);
    this.#second().fetches++;
  }

  loaded(): void {
    this.#stats(this.phase).loads++;
    this.#second().loads++;
  }
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

// ─── servers ────────────────────────────────────────────────────────────────────────────────────────────────────────

/** How many copies of each working-set key the servers hold, from `lru_crawler metadump` (lease placeholders excluded). */
async function countCopies(
  servers: readonly MemcachedServer[],
): Promise<{ zero: number; one: number; two: number }> {
  const copies = new Uint8Array(N);
  await Promise.all(
    servers.map(async (s) => {
      const t = createSocketTransport({ host: s.host, port: s.port, timeout: 10_000 });
      try {
        for await (const e of t.dump()) {
          // A lease placeholder has no value: its item is far smaller than any working-set value.
          if (e.size < 100 || !e.key.startsWith("k:")) continue;
          const i = keyIndex(e.key);
          if (i >= 0 && i < N) copies[i] = copies[i]! + 1;
        }
      } finally {
        await t.close();
      }
    }),
  );
  let zero = 0;
  let one = 0;
  let two = 0;
  for (const c of copies) {
    if (c === 0) zero++;
    else if (c === 1) one++;
    else two++;
  }
  return { zero, one, two };
}

/** What `mcpair status` prints for each server: a fresh short-lived client per call, as the CLI is. */
async function operatorStatus(names: readonly string[]): Promise<Array<{ name: string; state: string }>> {
  const cli = createClient({
    servers: names,
    timeout: 1000,
    connectTimeout: 1000,
    health: { checkInterval: 0, failureThreshold: 1 },
    rewarm: false,
  });
  try {
    const statuses = await cli.status();
    const states = new Map(cli.servers.map((s) => [s.name, s.state]));
    return statuses.map((st) => ({
      name: st.name,
      state: !st.reachable
        ? "down"
        : st.state === "rewarming" || st.state === "starting" || st.draining
          ? st.draining
            ? "draining"
            : st.state
          : (states.get(st.name) ?? st.state),
    }));
  } finally {
    await cli.close();
  }
}

async function waitUntilAsync(
  check: () => Promise<boolean>,
  timeoutMs: number,
  interval = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(interval);
  }
}

// ─── one run ────────────────────────────────────────────────────────────────────────────────────────────────────────

interface RunSpec {
  servers: number;
  variant: Variant;
  mode: Mode;
}

interface StepResult {
  server: string;
  /** ms from start to the client's rejoin. */
  rejoinMs: number;
  /** ms from start until every key was back at two copies (r2-rewarm only; undefined if it never happened). */
  twoCopiesMs: number | undefined;
  rewarm: { copied: number; ms: number } | undefined;
  /** Working-set keys with fewer copies than replicas when the step ended. */
  underReplicated: number;
  lost: number;
}

interface RunResult {
  spec: RunSpec;
  label: string;
  durationMs: number;
  phases: Map<Phase, PhaseStats>;
  steps: StepResult[];
  restartLoads: number;
  endCopies: { zero: number; one: number; two: number };
  check: CheckResult;
  seconds: ChartSecond[];
  marks: ChartMark[];
  notes: string[];
  /** Per restart, the states `mcpair status` showed for the restarted server until every server was up. */
  states: string[];
}

const labelOf = (s: RunSpec) =>
  `${s.servers} servers, ${s.variant === "r1" ? "replicas 1" : s.variant === "r2" ? "replicas 2, default options" : "replicas 2, rewarm off"}, ${s.mode}`;

async function run(spec: RunSpec): Promise<RunResult> {
  const began = Date.now();
  const notes: string[] = [];
  const replicas = spec.variant === "r1" ? 1 : 2;
  const servers = await Promise.all(
    Array.from({ length: spec.servers }, () => startMemcached({ memoryMb: 128 })),
  );
  const names = servers.map((s) => s.address);
  const client: PairClient = createClient({
    servers: names,
    replicas,
    // Default options (automatic rewarm on), except the comparison variant.
    ...(spec.variant === "r2-norewarm" ? { rewarm: false as const } : {}),
  });
  const operator = createClient({ servers: names, replicas, health: { checkInterval: 0 } });
  const rejoins: Array<{ server: string; t: number; how: string }> = [];
  client.on("rejoin", (e) => rejoins.push({ server: e.server, t: Date.now(), how: e.how }));

  const db = new Int32Array(N);
  const history: HistoryOp[] = [];
  const rec = new Recorder();
  const pick = makePicker();
  const loader = async (key: string) => {
    rec.loaded();
    await sleep(CONFIG.loaderMs);
    const i = keyIndex(key);
    return dbValue(i, db[i]!);
  };

  // Prefill through the client (written to every replica).
  for (let from = 0; from < N; from += 2000) {
    const idx = Array.from({ length: Math.min(2000, N - from) }, (_, j) => from + j);
    const start = Date.now();
    let outcome: HistoryOp["outcome"] = "ok";
    try {
      await client.setMany(idx.map((i) => [keyOf(i), dbValue(i, 0)] as const));
    } catch {
      outcome = "error";
    }
    const end = Date.now();
    for (const i of idx)
      history.push({ proc: "prefill", kind: "set", key: keyOf(i), value: idOf(i, 0), start, end, outcome });
  }

  // The load: an open schedule of CONFIG.rate operations per second over `concurrency` loops.
  let running = true;
  let issued = 0;
  const interval = 1000 / CONFIG.rate;
  const t0 = performance.now();
  const loop = async () => {
    while (running) {
      const wait = t0 + issued++ * interval - performance.now();
      if (wait >= 1) await sleep(wait);
      if (!running) break;
      const i = pick();
      const key = keyOf(i);
      const start = Date.now();
      if (Math.random() < CONFIG.writes) {
        const version = db[i]! + 1;
        db[i] = version;
        let outcome: HistoryOp["outcome"] = "ok";
        try {
          await client.set(key, dbValue(i, version));
        } catch {
          outcome = "error";
        }
        history.push({
          proc: "load",
          kind: "set",
          key,
          value: idOf(i, version),
          start,
          end: Date.now(),
          outcome,
        });
        continue;
      }
      const p0 = performance.now();
      try {
        const v = await client.fetch(key, loader);
        rec.fetched(performance.now() - p0, true);
        history.push({
          proc: "load",
          kind: "get",
          key,
          value: idOfValue(v),
          start,
          end: Date.now(),
          outcome: "hit",
        });
      } catch {
        rec.fetched(performance.now() - p0, false);
        history.push({ proc: "load", kind: "get", key, start, end: Date.now(), outcome: "error" });
      }
    }
  };
  const loops = Array.from({ length: CONFIG.concurrency }, loop);

  const steps: StepResult[] = [];
  const stepStates: string[] = [];
  try {
    rec.setPhase("steady");
    await sleep(CONFIG.steadyMs);
    for (const [n, server] of servers.entries()) {
      const name = server.address;
      const tag = `s${n + 1}`;
      if (spec.mode === "planned") {
        rec.setPhase("drain");
        rec.mark(`drain ${tag}`);
        await operator.drain(name, { reason: "failover bench" });
        await sleep(CONFIG.drainWaitMs);
        if (client.servers[n]!.state !== "draining")
          notes.push(`${tag}: the client did not see the drain in time`);
      }
      rec.setPhase("down");
      rec.mark(`${spec.mode === "planned" ? "stop" : "kill"} ${tag}`);
      const before = rejoins.length;
      if (spec.mode === "planned") await server.stop();
      else {
        await server.kill();
        await sleep(CONFIG.outageMs);
      }
      await server.start();
      const startedAt = Date.now();
      rec.mark(`start ${tag}`);
      rec.setPhase("recover");
      // The runbook: the next server only when `mcpair status` shows every server up. Each poll is what a fresh
      // `mcpair status` process prints (a short-lived client: no health history of its own).
      const statesSeen = new Set<string>();
      const allUp = await waitUntilAsync(async () => {
        const statuses = await operatorStatus(names);
        for (const st of statuses) if (st.name === name) statesSeen.add(st.state);
        return statuses.every((st) => st.state === "up");
      }, 600_000);
      const rejoined = rejoins.slice(before).find((r) => r.server === name);
      if (!allUp) notes.push(`${tag}: status did not show every server up within 600 s`);
      if (!rejoined) notes.push(`${tag}: the load client saw no rejoin event`);
      const rejoinMs = Date.now() - startedAt;
      rec.mark(`up ${tag}`);
      const progress = client.stats().rewarm.find((r) => r.server === name && r.startedAt >= startedAt);
      const rewarm: StepResult["rewarm"] =
        progress?.finishedAt === undefined
          ? undefined
          : { copied: progress.copied, ms: progress.finishedAt - progress.startedAt };
      const twoCopiesMs: number | undefined = undefined;
      stepStates.push(`${tag}: ${[...statesSeen].join(" -> ")}`);
      await sleep(CONFIG.settleMs);
      rec.setPhase("audit");
      const copies = await countCopies(servers);
      rec.setPhase("recover");
      steps.push({
        server: tag,
        rejoinMs,
        twoCopiesMs,
        rewarm,
        underReplicated: replicas === 2 ? copies.zero + copies.one : copies.zero,
        lost: copies.zero,
      });
    }
    rec.setPhase("tail");
    await sleep(CONFIG.tailMs);
  } finally {
    running = false;
    await Promise.all(loops);
    rec.setPhase("tail");
    await client.close();
    await operator.close();
  }
  const endCopies = await countCopies(servers);
  await cleanupAll();

  let restartLoads = 0;
  for (const p of RESTART_PHASES) restartLoads += rec.phases.get(p)?.loads ?? 0;
  for (const s of rec.phases.values()) s.lat.sort((a, b) => a - b);
  return {
    spec,
    label: labelOf(spec),
    durationMs: Date.now() - began,
    phases: rec.phases,
    steps,
    restartLoads,
    endCopies,
    check: checkHistory(history),
    seconds: rec.seconds,
    marks: rec.marks,
    notes,
    states: stepStates,
  };
}

// ─── reporting ──────────────────────────────────────────────────────────────────────────────────────────────────────

const pct = (n: number) => `${((100 * n) / N).toFixed(n * 1000 < N ? 3 : 2)}%`;
const ms = (v: number) => (Number.isNaN(v) ? "-" : v < 10 ? v.toFixed(2) : v.toFixed(1));

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) {
    for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.slice(1).map(line),
  ].join("\n");
}

function phaseTable(r: RunResult): string {
  const rows = [
    ["phase", "time", "fetches", "DB loads", "% of WS", "hit ratio", "p50 ms", "p99 ms", "errors"],
  ];
  for (const p of ["steady", "drain", "down", "recover", "audit", "tail"] as const) {
    const s = r.phases.get(p);
    if (!s || (s.fetches === 0 && s.ms === 0)) continue;
    rows.push([
      p,
      `${(s.ms / 1000).toFixed(1)} s`,
      String(s.fetches),
      String(s.loads),
      pct(s.loads),
      s.fetches === 0 ? "-" : `${(100 * (1 - s.loads / s.fetches)).toFixed(2)}%`,
      ms(percentile(s.lat, 0.5)),
      ms(percentile(s.lat, 0.99)),
      String(s.errors),
    ]);
  }
  return table(rows);
}

function hitRatioLine(r: RunResult): string {
  return r.seconds
    .map((s) => (s.fetches === 0 ? "-" : (100 * (1 - s.loads / s.fetches)).toFixed(s.loads === 0 ? 0 : 1)))
    .join(" ");
}

function stepsLine(r: RunResult): string {
  return r.steps
    .map((s) => {
      const parts = [`rejoin ${s.rejoinMs} ms`];
      if (s.rewarm) parts.push(`rewarm ${s.rewarm.copied} keys in ${(s.rewarm.ms / 1000).toFixed(1)} s`);
      if (s.twoCopiesMs !== undefined) parts.push(`2 copies after ${(s.twoCopiesMs / 1000).toFixed(1)} s`);
      parts.push(`${s.underReplicated} keys under-replicated (${s.lost} with no copy)`);
      return `${s.server}: ${parts.join(", ")}`;
    })
    .join("; ");
}

function fileName(s: RunSpec): string {
  return `failover-${s.servers}servers-${s.variant}-${s.mode}.svg`;
}

async function main(): Promise<void> {
  const specs: RunSpec[] = [];
  for (const servers of CONFIG.serverCounts)
    for (const variant of CONFIG.variants)
      for (const mode of CONFIG.modes) specs.push({ servers, variant, mode });
  console.log(
    `failover benchmark: ${N} keys (values 100-500 bytes), ${CONFIG.dist} reads via fetch() at ${CONFIG.rate} ops/s ` +
      `with ${CONFIG.writes * 100}% writes, DB loader ~${CONFIG.loaderMs} ms; ${specs.length} runs`,
  );
  mkdirSync(OUT_DIR, { recursive: true });
  const results: RunResult[] = [];
  const started = Date.now();
  for (const spec of specs) {
    const r = await run(spec);
    results.push(r);
    writeFileSync(
      join(OUT_DIR, fileName(spec)),
      renderChart({
        title: `DB loads per second: ${r.label}`,
        subtitle: `${N} keys; DB loads during the rolling restart: ${r.restartLoads} (${pct(r.restartLoads)} of the working set); stale reads: ${r.check.violations.length}`,
        seconds: r.seconds,
        marks: r.marks,
      }),
    );
    console.log(`\n## ${r.label} (${(r.durationMs / 1000).toFixed(1)} s)`);
    console.log(phaseTable(r));
    console.log(`hit ratio % per second: ${hitRatioLine(r)}`);
    console.log(`steps: ${stepsLine(r)}`);
    console.log(`mcpair status after each restart: ${r.states.join("; ")}`);
    console.log(
      `stale reads (checker): ${r.check.violations.length} of ${r.check.hits} reads; keys without a cached copy at the end: ${r.endCopies.zero} (${pct(r.endCopies.zero)})`,
    );
    for (const note of r.notes) console.log(`note: ${note}`);
    for (const v of r.check.violations.slice(0, 3)) console.log(`  ${v.message}`);
  }

  console.log("\n## Summary: DB loads caused by a rolling restart of every server\n");
  const rows = [
    [
      "servers",
      "replicas",
      "rewarm",
      "restart",
      "DB loads",
      "% of WS",
      "no copy at end",
      "stale",
      "p99 steady",
      "p99 drain",
      "p99 down",
      "p99 recover",
      "rewarm per server: copies in seconds",
    ],
  ];
  for (const r of results) {
    const p99 = (p: Phase) => ms(percentile(r.phases.get(p)?.lat ?? [], 0.99));
    rows.push([
      String(r.spec.servers),
      r.spec.variant === "r1" ? "1" : "2",
      r.spec.variant === "r2" ? "default (on)" : r.spec.variant === "r2-norewarm" ? "off" : "-",
      r.spec.mode,
      String(r.restartLoads),
      pct(r.restartLoads),
      pct(r.endCopies.zero),
      String(r.check.violations.length),
      p99("steady"),
      r.spec.mode === "planned" ? p99("drain") : "-",
      p99("down"),
      p99("recover"),
      r.steps.some((s) => s.rewarm !== undefined)
        ? r.steps
            .map((s) =>
              s.rewarm === undefined ? "none" : `${s.rewarm.copied} in ${(s.rewarm.ms / 1000).toFixed(1)}s`,
            )
            .join(", ")
        : "-",
    ]);
  }
  const summary = table(rows);
  console.log(summary);

  console.log("\n## Goals\n");
  const goals: string[] = [];
  for (const r of results) {
    const share = r.restartLoads / N;
    if (r.spec.variant === "r1") {
      goals.push(`INFO ${r.label}: DB loads ${pct(r.restartLoads)} (the baseline: about 100% expected)`);
      continue;
    }
    const steady99 = percentile(r.phases.get("steady")?.lat ?? [], 0.99);
    const recover99 = percentile(r.phases.get("recover")?.lat ?? [], 0.99);
    if (r.spec.variant === "r2-norewarm") {
      goals.push(`INFO ${r.label}: DB loads ${pct(r.restartLoads)} (comparison: read-repair alone, no goal)`);
      continue;
    }
    goals.push(
      `INFO ${r.label}: p99 while recovering (rewarm running) ${ms(recover99)} ms vs steady ${ms(steady99)} ms`,
    );
    const limit = r.spec.mode === "planned" ? 0.001 : 0.01;
    goals.push(
      `${share <= limit ? "MET " : "MISS"} ${r.label}: DB loads ${pct(r.restartLoads)} (goal <= ${limit * 100}%)` +
        `${r.endCopies.zero > 0 ? `; ${r.endCopies.zero} keys left with no copy (${pct(r.endCopies.zero)}) will load later` : ""}`,
    );
    if (r.spec.mode === "planned") {
      const steady = percentile(r.phases.get("steady")?.lat ?? [], 0.99);
      const drain = percentile(r.phases.get("drain")?.lat ?? [], 0.99);
      goals.push(
        `${drain <= 2 * steady ? "MET " : "MISS"} ${r.label}: p99 during drain ${ms(drain)} ms vs steady ${ms(steady)} ms (goal <= 2x)`,
      );
    }
  }
  if (unhandled.count > 0) {
    goals.push(
      `BUG  the engine left ${unhandled.count} promise rejections unhandled (each would have crashed an application); first:\n${unhandled.first}`,
    );
  }
  const stale = results.reduce((s, r) => s + r.check.violations.length, 0);
  goals.push(`${stale === 0 ? "MET " : "MISS"} stale reads over all runs: ${stale} (goal 0)`);
  for (const g of goals) console.log(g);
  console.log(
    `\ncharts: ${OUT_DIR}/failover-*.svg; total time ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );

  writeFileSync(
    join(OUT_DIR, "failover.json"),
    JSON.stringify(
      {
        config: CONFIG,
        results: results.map((r) => ({
          ...r,
          phases: Object.fromEntries(
            [...r.phases].map(([p, s]) => [
              p,
              { ...s, lat: undefined, p50: percentile(s.lat, 0.5), p99: percentile(s.lat, 0.99) },
            ]),
          ),
          check: { ...r.check, violations: r.check.violations.slice(0, 20) },
        })),
      },
      null,
      2,
    ),
  );
  writeFileSync(join(OUT_DIR, "failover.md"), `${summary}\n\n${goals.join("\n")}\n`);
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    console.error(error);
    await cleanupAll().catch(() => undefined);
    process.exit(1);
  },
);
