/**
 * One measurement, in its own process (forked by `index.ts`), so that its peak RSS belongs to one client and no
 * client's garbage or JIT state leaks into another's numbers. Receives a `Job` over IPC, answers one result.
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { PairClient } from "@mcpair/memcached";
import { type BenchClient, openClient } from "./clients.js";
import {
  type BaselineResult,
  type CommonResult,
  type FromChild,
  type Job,
  type JobResult,
  type McpairCounters,
  STORM_INTERVAL_MS,
  STORM_KEY,
  STORM_LOADER_MS,
  type StormReaderResult,
  type StormWriterResult,
  type ToChild,
  type WorkloadResult,
} from "./config.js";
import { Histogram } from "./histogram.js";

const CLOSE_TIMEOUT_MS = 5000;
/** After this many consecutive failures a loop pauses briefly, so a broken client does not spin the CPU. */
const ERROR_PAUSE_MS = 10;

function send(message: FromChild): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) reject(new Error("bench/child.ts must be started by bench/index.ts (no IPC channel)"));
    else process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}

/** Resolves when the parent says "go" (storm processes start together). */
let go: () => void = () => {};
const goSignal = new Promise<void>((resolve) => {
  go = resolve;
});

process.on("message", (message: ToChild) => {
  if (message.type === "go") go();
  else if (message.type === "run") {
    run(message.job).then(
      (result) => send({ type: "result", result }).then(() => process.disconnect()),
      (error: unknown) =>
        send({
          type: "failed",
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        })
          .catch(() => undefined)
          .finally(() => process.exit(1)),
    );
  }
});
/** Set once the job is done; a disconnect before that means the parent is gone and nobody will read the result. */
let finished = false;
process.on("disconnect", () => {
  if (!finished) process.exit(1);
});

async function run(job: Job): Promise<JobResult> {
  try {
    switch (job.kind) {
      case "baseline":
        return await runBaseline(job);
      case "workload":
        return await runWorkload(job);
      case "storm-reader":
        return await runStormReader(job);
      case "storm-writer":
        return await runStormWriter(job);
    }
  } finally {
    finished = true;
  }
}

/** xorshift32: a few integer operations per random number, no allocation. */
function nextRandom(x: number): number {
  let y = x ^ (x << 13);
  y ^= y >>> 17;
  y ^= y << 5;
  return y | 0;
}

function valueOfSize(size: number): string {
  const base = "mcpair-bench-value-0123456789abcdefghijklmnopqrstuvwxyz|";
  return base.repeat(Math.ceil(size / base.length)).slice(0, size);
}

async function closeTimed(client: { close(): Promise<void> }): Promise<number | null> {
  const started = performance.now();
  const outcome = await Promise.race([
    client.close().then(
      () => "closed" as const,
      () => "closed" as const,
    ),
    sleep(CLOSE_TIMEOUT_MS, "timeout" as const, { ref: false }),
  ]);
  return outcome === "closed" ? Math.round(performance.now() - started) : null;
}

function mcpairCounters(pair: PairClient | undefined): McpairCounters | undefined {
  if (!pair) return undefined;
  const s = pair.stats();
  return {
    hitsPrimary: s.hitsPrimary,
    hitsReplica: s.hitsReplica,
    misses: s.misses,
    repairs: s.repairs,
    loads: s.loads,
    staleServed: s.staleServed,
    leaseWaits: s.leaseWaits,
    fetchTimeouts: s.fetchTimeouts,
    uncachedLoads: s.uncachedLoads,
    errors: s.servers.reduce((n, server) => n + server.errors, 0),
  };
}

/**
 * Peak RSS of this process in kB: Linux's `VmHWM`, the high-water mark of this process image's memory.
 * Not `process.resourceUsage().maxRSS`: on Linux, `ru_maxrss` survives `execve`, so a forked child reports at least
 * the RSS its parent had when it forked (measured: a 340 MB parent makes a bare `node` child report 304 MB).
 * `maxRSS` remains the fallback where `/proc` does not exist.
 */
function readPeakRssKb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (m?.[1]) return Number(m[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

async function runBaseline(job: Extract<Job, { kind: "baseline" }>): Promise<BaselineResult> {
  // The data a workload child holds besides its client.
  const keys = Array.from({ length: job.workload.keys }, (_, i) => `bench:${job.workload.id}:${i}`);
  const value = valueOfSize(job.workload.valueSize);
  const hist = new Histogram();
  hist.record(0);
  await sleep(200);
  return {
    kind: "baseline",
    keys: keys.length,
    valueSize: value.length,
    peakRssKb: readPeakRssKb(),
  };
}

// ─── W1-W3 ────────────────────────────────────────────────────────────────────────────────────────────────────────

async function runWorkload(job: Extract<Job, { kind: "workload" }>): Promise<WorkloadResult> {
  const spec = job.workload;
  const client = await openClient(job.client, job.servers);
  const keys = Array.from({ length: spec.keys }, (_, i) => `bench:${spec.id}:${i}`);
  const value = valueOfSize(spec.valueSize);

  // Prefill through the client under test: each library has its own flags and encoding, so only its own writes are
  // guaranteed to read back as hits.
  const prefillStarted = performance.now();
  const PREFILL_BATCH = 500;
  for (let i = 0; i < keys.length; i += PREFILL_BATCH) {
    await Promise.all(keys.slice(i, i + PREFILL_BATCH).map((k) => client.set(k, value)));
  }
  const prefillMs = Math.round(performance.now() - prefillStarted);

  let verifyProblem: string | null = null;
  for (const k of [keys[0]!, keys[keys.length - 1]!]) {
    const got = client.text(await client.get(k));
    if (got !== value) {
      verifyProblem = `${k} read back ${got === undefined ? "as a miss" : `${got.length} bytes that differ`}`;
      break;
    }
  }

  // Multi-get batches, built before measuring: distinct random keys each.
  const batches: string[][] = [];
  if (spec.op === "multi") {
    let seed = 0x2545f491;
    for (let b = 0; b < 512; b++) {
      const chosen = new Set<string>();
      while (chosen.size < spec.batch) {
        seed = nextRandom(seed);
        chosen.add(keys[(seed >>> 0) % keys.length]!);
      }
      batches.push([...chosen]);
    }
  }

  // The low 10 bits of each random number pick get or set, the rest pick the key.
  const readBelow = Math.round(spec.readShare * 1024);
  const hist = new Histogram();
  let running = true;
  let measuring = false;
  let ops = 0;
  let hits = 0;
  let misses = 0;
  let errors = 0;
  let firstError: string | undefined;

  const loop = async (seed: number, c: BenchClient): Promise<void> => {
    let x = seed;
    let failing = 0;
    while (running) {
      x = nextRandom(x);
      const r = x >>> 0;
      const started = performance.now();
      try {
        if (spec.op === "multi") {
          const batch = batches[r % batches.length]!;
          const got = await c.getMany(batch);
          if (measuring) {
            const h = c.countHits(got);
            hits += h;
            misses += batch.length - h;
          }
        } else if ((r & 1023) < readBelow) {
          const got = await c.get(keys[(r >>> 10) % keys.length]!);
          if (measuring) {
            if (c.isHit(got)) hits++;
            else misses++;
          }
        } else {
          await c.set(keys[(r >>> 10) % keys.length]!, value);
        }
        if (measuring) {
          hist.record(performance.now() - started);
          ops++;
        }
        failing = 0;
      } catch (error) {
        if (measuring) errors++;
        firstError ??= describe(error);
        if (++failing > 3) await sleep(ERROR_PAUSE_MS);
      }
    }
  };

  const loops: Promise<void>[] = [];
  for (let i = 0; i < spec.inflight; i++) loops.push(loop(0x9e3779b9 ^ ((i + 1) * 0x85ebca6b), client));
  await sleep(job.warmupMs);
  // The parent snapshots the servers' counters at both edges of the window (not awaited: its answer must not delay
  // the measurement; the snapshot lags the edge by about a millisecond at either end alike).
  void send({ type: "window", edge: "start" });
  measuring = true;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await sleep(job.measureMs);
  measuring = false;
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (performance.now() - started) / 1000;
  void send({ type: "window", edge: "end" });
  running = false;
  await Promise.all(loops);

  const peakRssKb = readPeakRssKb();
  const mcpair = mcpairCounters(client.pair);
  const closeMs = await closeTimed(client);
  return {
    kind: "workload",
    ops,
    seconds,
    cpuUs: cpu.user + cpu.system,
    hits,
    misses,
    errors,
    firstError,
    verifyProblem,
    prefillMs,
    multiGet: client.multiGet,
    hist: hist.toJSON(),
    peakRssKb,
    closeMs,
    mcpair,
  };
}

// ─── the storm ────────────────────────────────────────────────────────────────────────────────────────────────────

/** What the loader (the "database") returns: a version number, so a read can be told from garbage. */
const STORM_VALUE_PREFIX = "db-row-version-";

async function runStormReader(job: Extract<Job, { kind: "storm-reader" }>): Promise<StormReaderResult> {
  const client = await openClient(job.client, job.servers);
  const pair = client.pair;
  let loads = 0;
  const loader = async (): Promise<string> => {
    loads++;
    await sleep(STORM_LOADER_MS);
    return STORM_VALUE_PREFIX + String(loads).padStart(6, "0") + valueOfSize(64);
  };

  const hist = new Histogram();
  let running = true;
  let reads = 0;
  let wrong = 0;
  let errors = 0;
  let firstError: string | undefined;

  const isValue = (v: unknown): boolean => typeof v === "string" && v.startsWith(STORM_VALUE_PREFIX);

  const mcpairReader = async (p: PairClient): Promise<void> => {
    while (running) {
      const started = performance.now();
      try {
        const v = await p.fetch(STORM_KEY, loader);
        hist.record(performance.now() - started);
        reads++;
        if (!isValue(v)) wrong++;
      } catch (error) {
        errors++;
        firstError ??= describe(error);
        await sleep(ERROR_PAUSE_MS);
      }
    }
  };

  // The read-through everyone writes by hand: get, on a miss query the database and set.
  const naiveReader = async (c: BenchClient): Promise<void> => {
    while (running) {
      const started = performance.now();
      try {
        let v = c.text(await c.get(STORM_KEY));
        if (v === undefined) {
          v = await loader();
          await c.set(STORM_KEY, v);
        }
        hist.record(performance.now() - started);
        reads++;
        if (!isValue(v)) wrong++;
      } catch (error) {
        errors++;
        firstError ??= describe(error);
        await sleep(ERROR_PAUSE_MS);
      }
    }
  };

  await send({ type: "ready" });
  await goSignal;
  const readers: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < job.readers; i++) {
    readers.push(job.mode === "naive" || !pair ? naiveReader(client) : mcpairReader(pair));
  }
  await sleep(job.measureMs);
  running = false;
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(readers);

  const peakRssKb = readPeakRssKb();
  const mcpair = mcpairCounters(pair);
  const closeMs = await closeTimed(client);
  return {
    kind: "storm-reader",
    reads,
    seconds,
    loads,
    wrong,
    hist: hist.toJSON(),
    ...common(errors, firstError, peakRssKb, closeMs, mcpair),
  };
}

async function runStormWriter(job: Extract<Job, { kind: "storm-writer" }>): Promise<StormWriterResult> {
  const client = await openClient(job.client, job.servers);
  const pair = client.pair;
  let writes = 0;
  let errors = 0;
  let firstError: string | undefined;
  await send({ type: "ready" });
  await goSignal;
  const started = performance.now();
  // A fixed schedule (not "sleep 100 ms after each write"), so a slow write does not lower the rate.
  for (let n = 1; ; n++) {
    const at = started + n * STORM_INTERVAL_MS;
    if (at - started > job.measureMs) break;
    await sleep(Math.max(0, at - performance.now()));
    try {
      if (job.mode === "mcpair-invalidate" && pair) await pair.invalidate(STORM_KEY);
      else if (job.mode === "mcpair-delete" && pair) await pair.delete(STORM_KEY);
      else await client.delete(STORM_KEY);
      writes++;
    } catch (error) {
      errors++;
      firstError ??= describe(error);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const peakRssKb = readPeakRssKb();
  const mcpair = mcpairCounters(pair);
  const closeMs = await closeTimed(client);
  return { kind: "storm-writer", writes, seconds, ...common(errors, firstError, peakRssKb, closeMs, mcpair) };
}

function common(
  errors: number,
  firstError: string | undefined,
  peakRssKb: number,
  closeMs: number | null,
  mcpair: McpairCounters | undefined,
): CommonResult {
  return { errors, firstError, peakRssKb, closeMs, mcpair };
}
