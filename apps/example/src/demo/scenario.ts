import { setTimeout as sleep } from "node:timers/promises";
import type { ClientOptions, PairClient } from "@mcpair/memcached";
import { type App, startApp } from "../app.js";
import type { Mark } from "../dashboard/dashboard.js";
import type { Database } from "../db/database.js";
import type { LocalCluster, LocalServer } from "../local-cluster/local-cluster.js";
import { delta, type Totals } from "../metrics.js";
import { LoadGenerator, type PhaseLoad } from "./load.js";

/** Sizes and timings of one demo run. */
export interface ScenarioConfig {
  books: number;
  /** Book reads per second. */
  rate: number;
  writeEveryMs: number;
  hotBooks: number;
  steadyMs: number;
  /**
   * Each server's maintenance step (drain, stop, reboot, start, wait until `up`) lasts at least this long, in both
   * runs, so both serve the same number of reads through the maintenance (a step that takes longer just runs on).
   */
  stepMs: number;
  /** How long a stopped or killed server stays down (its reboot) before it is started again. */
  outageMs: number;
  afterMs: number;
  /**
   * Overrides mcpair's `health.rejoinQuarantine` (7.8 s by default) in the pairs run; `undefined` keeps the default.
   * Only the short mode (tests) shortens it.
   */
  quarantineMs: number | undefined;
}

export const FULL: ScenarioConfig = {
  books: 8000,
  rate: 400,
  writeEveryMs: 2000,
  hotBooks: 20,
  steadyMs: 2000,
  // mcpair needs about 11 s per server with its defaults (drain seen within 1 s, 1 s reboot, rejoin probe, 7.8 s read
  // quarantine, rewarm): `replicas: 1` gets the shorter step, which only lowers its count.
  stepMs: 10_000,
  outageMs: 1000,
  afterMs: 1000,
  quarantineMs: undefined,
};

/** For tests: a smaller catalogue and a 1 s rejoin quarantine; everything else as in the full run. */
export const SHORT: ScenarioConfig = {
  books: 3000,
  rate: 300,
  writeEveryMs: 2000,
  hotBooks: 20,
  steadyMs: 1000,
  stepMs: 3000,
  outageMs: 500,
  afterMs: 500,
  quarantineMs: 1000,
};

export type RunKind = "replicas-1" | "pairs";

/** One phase of one run: counters from the app, latencies and stale reads from the load. */
export interface PhaseResult {
  name: string;
  totals: Totals;
  load: PhaseLoad;
  p50: number;
  p99: number;
}

export interface RunResult {
  kind: RunKind;
  label: string;
  /** What the client was configured with, for the report. */
  settings: string;
  phases: PhaseResult[];
  /** Per second from the start of the steady phase: seconds, DB queries/s, hit ratio (0..1). */
  series: { t: number[]; db: number[]; hit: Array<number | null> };
  bands: Array<{ from: number; to: number; label: string }>;
  marks: Mark[];
  notes: string[];
  durationMs: number;
}

/** The phases the summary reports, in order. */
export const PHASES = ["warm-up", "steady", "rolling restart", "kill -9", "after"] as const;

/** mcpair's options for a run. */
export function clientOptions(kind: RunKind, config: ScenarioConfig): Omit<ClientOptions, "servers"> {
  if (kind === "replicas-1") {
    // Plain consistent hashing, as every other memcached client does it. No read quarantine after a rejoin either:
    // it protects a key's other replicas' writes, and with one copy there are none; a plain client reads a returning
    // server at once.
    return { replicas: 1, health: { rejoinQuarantine: 0 } };
  }
  // mcpair's defaults (pairs: replicas 2), plus active rewarm, which the runbook requires for a rolling restart of
  // *every* server (read-repair alone refills only the keys that are read before the key's other server goes too).
  return {
    rewarm: { rate: 20_000, concurrency: 32 },
    ...(config.quarantineMs === undefined ? {} : { health: { rejoinQuarantine: config.quarantineMs } }),
  };
}

export interface ScenarioContext {
  cluster: LocalCluster;
  db: Database;
  config: ScenarioConfig;
  kind: RunKind;
  /** Progress lines. */
  log: (line: string) => void;
  /** Port of the app (the live mode keeps one URL across runs). @default 0 */
  port?: number;
  /** Called once the app is up (the live mode prints its dashboard URL). */
  onApp?: (app: App) => void;
  /** Keep app, client and load running after the scenario (live mode): the caller closes them. */
  keep?: boolean;
}

export interface Scenario {
  result: RunResult;
  /** Set when `keep` was asked: everything still running, and how to stop it. */
  live?: { app: App; cache: PairClient; load: LoadGenerator; close(): Promise<void> };
}

/**
 * One run of the demo: warm the cache, steady load, a planned rolling restart of every server (drain, stop, start
 * empty, wait until the app's client has it `up` again), one unplanned kill -9 and restart, and a short tail.
 */
export async function runScenario(ctx: ScenarioContext): Promise<Scenario> {
  const { cluster, db, config, kind } = ctx;
  const began = Date.now();
  const cache = cluster.createClient(clientOptions(kind, config));
  // The operator's tool (what `mcpair drain` does): a separate client, so the app's client learns of the drain the
  // way every process of a fleet does, from the marker on the server.
  const operator = cluster.createClient({ replicas: cache.options.replicas, health: { checkInterval: 0 } });
  const app = await startApp({ cache, db, cluster, port: ctx.port ?? 0 });
  ctx.onApp?.(app);
  const load = new LoadGenerator({
    url: app.url,
    books: config.books,
    rate: config.rate,
    writeEveryMs: config.writeEveryMs,
    hotBooks: config.hotBooks,
  });
  const label = kind === "replicas-1" ? "replicas: 1" : "mcpair defaults";
  const notes: string[] = [];
  const marks: Mark[] = [];
  const bands: RunResult["bands"] = [];
  const phases: PhaseResult[] = [];
  let t0 = Date.now();
  const say = (line: string) =>
    ctx.log(`[${label}] ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s  ${line}`);
  const mark = (text: string) => {
    marks.push({ t: (Date.now() - t0) / 1000, label: text });
    app.dashboard.mark(text);
    say(text);
  };

  let phaseName = "warm-up";
  let phaseStart = app.metrics.totals();
  let phaseStartedAt = Date.now();
  const endPhase = () => {
    const now = app.metrics.totals();
    const l = load.phases.get(phaseName) ?? {
      reads: 0,
      readErrors: 0,
      writes: 0,
      writeErrors: 0,
      latencies: [],
      stale: 0,
      checked: 0,
    };
    const sorted = [...l.latencies].sort((a, b) => a - b);
    phases.push({
      name: phaseName,
      totals: delta(now, phaseStart),
      load: { ...l, latencies: [] },
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
    });
    if (phaseName !== "warm-up")
      bands.push({ from: (phaseStartedAt - t0) / 1000, to: (Date.now() - t0) / 1000, label: phaseName });
    phaseStart = now;
    phaseStartedAt = Date.now();
  };
  const phase = (name: string) => {
    endPhase();
    phaseName = name;
    load.phase = name;
  };

  const state = (s: LocalServer) => cache.servers.find((x) => x.name === s.name)?.state;
  const rewarming = (s: LocalServer) =>
    cache.stats().rewarm.some((r) => r.server === s.name && r.finishedAt === undefined);
  const waitUntil = async (what: string, check: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) {
        notes.push(`${what}: not within ${timeoutMs / 1000} s`);
        say(`gave up waiting: ${what}`);
        return;
      }
      await sleep(25);
    }
  };
  const waitUp = (s: LocalServer) =>
    waitUntil(`${s.label} back up`, () => state(s) === "up" && !rewarming(s), 60_000);

  let finished = false;
  try {
    await load.warm();
    // Start the clock on a sample boundary, so the first second charted holds no warm-up queries.
    await new Promise<void>((resolve) => {
      const off = app.metrics.subscribe(() => {
        off();
        resolve();
      });
    });
    t0 = Date.now();
    phase("steady");
    load.start();
    say(
      `steady load: ${config.rate} book reads/s (uniform over ${config.books} books), a price update every ${config.writeEveryMs / 1000} s`,
    );
    await sleep(config.steadyMs);

    // Reboot, then wait until the app's client reads the server again; then hold until the step's end.
    const reboot = async (s: LocalServer, stepStart: number) => {
      await sleep(config.outageMs);
      await s.start();
      say(`started ${s.label} again (empty)`);
      await waitUp(s);
      mark(`up ${s.label}`);
      await sleep(stepStart + config.stepMs - Date.now());
    };

    phase("rolling restart");
    for (const s of cluster.servers) {
      const stepStart = Date.now();
      mark(`drain ${s.label}`);
      await operator.drain(s.name, { reason: "demo: rolling restart" });
      await waitUntil(`${s.label} seen draining`, () => state(s) === "draining", 5000);
      mark(`reboot ${s.label}`);
      await s.stop();
      await reboot(s, stepStart);
    }

    phase("kill -9");
    const victim = cluster.servers[0]!;
    const stepStart = Date.now();
    mark(`kill -9 ${victim.label}`);
    await victim.kill();
    await reboot(victim, stepStart);

    phase("after");
    await sleep(config.afterMs);
    endPhase();
    finished = true;
  } finally {
    if (!finished || !ctx.keep) {
      await load.stop();
      await app.close();
      await operator.close();
      await cache.close();
    }
  }

  const series: RunResult["series"] = { t: [], db: [], hit: [] };
  for (const s of app.metrics.history()) {
    if (s.t <= t0) continue;
    series.t.push(Math.round((s.t - t0) / 100) / 10);
    series.db.push(s.dbQueries);
    series.hit.push(s.hitRatio);
  }
  const result: RunResult = {
    kind,
    label,
    settings:
      kind === "replicas-1"
        ? "replicas: 1 (plain consistent hashing), no rejoin quarantine"
        : `replicas: ${cache.options.replicas} (default), rewarm on${config.quarantineMs === undefined ? "" : `, rejoin quarantine ${config.quarantineMs} ms (short mode)`}`,
    phases,
    series,
    bands,
    marks,
    notes,
    durationMs: Date.now() - began,
  };
  if (!ctx.keep) return { result };
  await operator.close();
  return {
    result,
    live: {
      app,
      cache,
      load,
      async close() {
        await load.stop();
        await app.close();
        await cache.close();
      },
    },
  };
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
