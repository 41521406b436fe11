/**
 * `npm run bench`: mcpair against the memcached clients people use today (issues 3 and 4).
 *
 *   npm run bench                                   # everything (about 2¼ minutes)
 *   npm run bench -- --only w1,storm                # some workloads: w1, w2, w3, storm
 *   npm run bench -- --clients mcpair-r1,memjs      # some clients
 *   npm run bench -- --only w1 --profile            # also profile one extra mcpair W1 child (--cpu-prof)
 *
 * Environment: MCPAIR_BENCH_SECONDS (3, measured seconds per workload run, after MCPAIR_BENCH_WARMUP_SECONDS, 0.5),
 * MCPAIR_BENCH_STORM_SECONDS (10), MCPAIR_BENCH_ROUNDS (2 for W1, 1 for W2/W3: rounds per client, best kept).
 * Results are also written to bench-results/ as JSON.
 *
 * This process only orchestrates: it starts the memcached servers once, then runs every measurement in its own
 * child process (`child.ts`), one at a time, so each client's peak RSS and CPU are its own. The children run plain
 * JavaScript transpiled from bench/*.ts at start-up, not tsx: tsx's loader runs on a worker thread of its own that
 * adds about 33 MB to every process's RSS.
 */
import { type ChildProcess, execFileSync, fork } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { cleanupAll, connectRaw, type MemcachedServer, startMemcached } from "@mcpair/test-utils";
import ts from "typescript";
import {
  type BaselineResult,
  CLIENT_IDS,
  type ClientId,
  type FromChild,
  isMcpair,
  type Job,
  type JobResult,
  LABELS,
  PEER_PACKAGES,
  PEERS,
  type Servers,
  type StormMode,
  type StormReaderResult,
  type StormWriterResult,
  type ToChild,
  WORKLOADS,
  type WorkloadId,
  type WorkloadResult,
  type WorkloadSpec,
} from "./config.js";
import { summarizeProfile } from "./cpu-profile.js";
import {
  fastestPeerOf,
  formatStorm,
  formatWorkload,
  isBroken,
  type ServerDelta,
  type StormRow,
  stormRow,
  verdict,
  type WorkloadReport,
  type WorkloadRow,
  workloadRow,
} from "./report.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const resultsDir = join(root, "bench-results");

const STEPS = ["w1", "w2", "w3", "storm"] as const;
type Step = (typeof STEPS)[number];
const STORM_PROCESSES = 2;
const STORM_READERS = 1000;
/** The storm's mcpair client: the deployment the lease is for (pairs of servers). */
const STORM_MCPAIR: ClientId = "mcpair-r2";

// ─── options ────────────────────────────────────────────────────────────────────────────────────────────────────────

function seconds(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!(n > 0) || !Number.isFinite(n))
    throw new Error(`${name} must be a positive number of seconds, got "${raw}"`);
  return n;
}

function count(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 10)
    throw new Error(`${name} must be a whole number from 1 to 10, got "${raw}"`);
  return n;
}

function list<T extends string>(option: string, raw: string | undefined, allowed: readonly T[]): T[] {
  if (raw === undefined) return [...allowed];
  const chosen = raw
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const unknown = chosen.filter((c) => !allowed.includes(c as T));
  if (unknown.length > 0 || chosen.length === 0) {
    throw new Error(`--${option} takes a comma-separated list of ${allowed.join(", ")}; got "${raw}"`);
  }
  return allowed.filter((a) => chosen.includes(a));
}

interface Options {
  steps: Step[];
  clients: ClientId[];
  profileClient: ClientId | undefined;
  naiveOverride: ClientId | undefined;
  measureMs: number;
  warmupMs: number;
  stormMs: number;
  /** Rounds of W1 (the workload the goals are about) and of W2/W3. */
  w1Rounds: number;
  rounds: number;
}

const USAGE = [
  "npm run bench [-- options]",
  `  --only <list>      steps to run, from ${STEPS.join(",")} (default: all)`,
  `  --clients <list>   clients for w1-w3, from ${CLIENT_IDS.join(",")} (default: all)`,
  "  --profile[=id]     after W1, profile one extra W1 child of an mcpair client (default mcpair-r1)",
  "  --naive <id>       peer used for the naive storm (default: fastest W1 peer, else the last run's)",
  "env: MCPAIR_BENCH_SECONDS (3), MCPAIR_BENCH_WARMUP_SECONDS (0.5), MCPAIR_BENCH_STORM_SECONDS (10),",
  "     MCPAIR_BENCH_ROUNDS (rounds per workload, best kept; default 2 for w1, 1 for w2/w3)",
].join("\n");

/** Parses the command line and environment; returns undefined after printing the help. */
function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      clients: { type: "string" },
      profile: { type: "string" },
      naive: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    // `npm run bench -- --profile` leaves the value out: a bare flag means mcpair-r1.
    args: argv.map((a) => (a === "--profile" ? "--profile=mcpair-r1" : a)),
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const profileClient =
    values.profile === undefined ? undefined : list("profile", values.profile, CLIENT_IDS)[0];
  if (profileClient !== undefined && !isMcpair(profileClient)) {
    throw new Error("--profile takes mcpair-r1 or mcpair-r2");
  }
  return {
    steps: list("only", values.only, STEPS),
    clients: list("clients", values.clients, CLIENT_IDS),
    profileClient,
    naiveOverride: values.naive === undefined ? undefined : list("naive", values.naive, PEERS)[0],
    measureMs: seconds("MCPAIR_BENCH_SECONDS", 3) * 1000,
    warmupMs: seconds("MCPAIR_BENCH_WARMUP_SECONDS", 0.5) * 1000,
    stormMs: seconds("MCPAIR_BENCH_STORM_SECONDS", 10) * 1000,
    w1Rounds: count("MCPAIR_BENCH_ROUNDS", 2),
    rounds: count("MCPAIR_BENCH_ROUNDS", 1),
  };
}

let options: Options;
try {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === undefined) process.exit(0);
  options = parsed;
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  process.exit(2);
}
const { steps, clients, profileClient, naiveOverride, measureMs, warmupMs, stormMs, w1Rounds, rounds } =
  options;

/** Puts the installed version in each peer's label ("memjs" becomes "memjs 1.3.2"). */
function labelPeersWithVersions(): void {
  for (const [id, name] of Object.entries(PEER_PACKAGES) as Array<[ClientId, string]>) {
    try {
      const { version } = JSON.parse(
        readFileSync(join(root, "node_modules", name, "package.json"), "utf8"),
      ) as {
        version: string;
      };
      LABELS[id] = LABELS[id].replace(name, `${name} ${version}`);
    } catch {
      // not installed: the child will fail and the row will say so
    }
  }
}
labelPeersWithVersions();

// ─── child processes ───────────────────────────────────────────────────────────────────────────────────────────────

const children = new Set<ChildProcess>();

/**
 * memcache-client 1.0.5 depends on memcache-parser, which `require`s `tslib` without declaring it. npm nests
 * memcache-client's own `tslib` under it, so the hoisted parser finds none: point Node's fallback lookup there.
 */
function childEnv(): NodeJS.ProcessEnv {
  const nested = join(root, "node_modules", "memcache-client", "node_modules");
  if (!existsSync(nested)) return process.env;
  const path = process.env.NODE_PATH ? `${process.env.NODE_PATH}:${nested}` : nested;
  return { ...process.env, NODE_PATH: path };
}

interface Spawned {
  child: ChildProcess;
  ready: Promise<void>;
  result: Promise<JobResult>;
  /** Resolves true if the process had to be killed because it did not exit after answering. */
  exited: Promise<boolean>;
  send(message: ToChild): void;
}

/** What a child process loads: its entry and the modules it imports. */
const CHILD_MODULES = ["child.ts", "clients.ts", "config.ts", "histogram.ts"];

/** Transpiles the child's modules to bench-results/.build/*.js (types stripped, imports kept); returns the entry. */
function buildChildren(): string {
  const out = join(resultsDir, ".build");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "package.json"), '{ "type": "module" }\n');
  for (const file of CHILD_MODULES) {
    const { outputText } = ts.transpileModule(readFileSync(join(here, file), "utf8"), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
    });
    writeFileSync(join(out, file.replace(/\.ts$/, ".js")), outputText);
  }
  return join(out, "child.js");
}

let childEntry: string | undefined;

function spawnChild(job: Job, timeoutMs: number, extraExecArgv: string[] = []): Spawned {
  childEntry ??= buildChildren();
  const child = fork(childEntry, [], {
    execArgv: extraExecArgv,
    env: childEnv(),
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.add(child);
  child.send({ type: "run", job } satisfies ToChild);
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  let answered = false;
  const result = new Promise<JobResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no result within ${Math.round(timeoutMs / 1000)} s`));
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("message", (message: FromChild) => {
      if (message.type === "ready") onReady();
      else if (message.type === "result") {
        answered = true;
        clearTimeout(timer);
        resolve(message.result);
      } else if (message.type === "failed") {
        clearTimeout(timer);
        reject(new Error(message.error));
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${signal ?? `code ${code}`}) before answering`));
    });
    child.on("error", reject);
  });
  // A child that answered must then exit by itself: a client whose close() leaves a socket or timer behind keeps
  // its process alive, which is a bug worth flagging.
  const exited = new Promise<boolean>((resolve) => {
    let lingerTimer: NodeJS.Timeout | undefined;
    child.on("exit", () => {
      children.delete(child);
      if (lingerTimer) clearTimeout(lingerTimer);
      resolve(false);
    });
    void result.then(
      () => {
        lingerTimer = setTimeout(() => {
          child.kill("SIGKILL");
          resolve(true);
        }, 3000);
      },
      () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      },
    );
  });
  void result.catch(() => undefined);
  return {
    child,
    ready,
    result,
    exited: exited.then((lingered) => lingered && answered),
    send: (message) => {
      if (child.connected) child.send(message);
    },
  };
}

function killChildren(): void {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the benchmark`);
    killChildren();
    // test-utils' own handler kills the memcached processes synchronously; its exit hook runs again on exit.
    setImmediate(() => process.exit(130));
  });
}

// ─── servers ────────────────────────────────────────────────────────────────────────────────────────────────────────

async function flush(servers: readonly MemcachedServer[]): Promise<void> {
  await Promise.all(
    servers.map(async (s) => {
      const raw = await connectRaw(s);
      try {
        await raw.request("flush_all\r\n", "OK\r\n", 5000);
      } finally {
        await raw.close();
      }
    }),
  );
}

function difference(before: ServerDelta, after: ServerDelta): ServerDelta {
  return {
    cmdGet: after.cmdGet - before.cmdGet,
    getHits: after.getHits - before.getHits,
    getMisses: after.getMisses - before.getMisses,
    cmdSet: after.cmdSet - before.cmdSet,
  };
}

async function serverCounters(servers: readonly MemcachedServer[]): Promise<ServerDelta> {
  const all = await Promise.all(servers.map((s) => s.stats()));
  const sum = (name: string) => all.reduce((n, s) => n + Number(s[name] ?? 0), 0);
  return {
    cmdGet: sum("cmd_get"),
    getHits: sum("get_hits"),
    getMisses: sum("get_misses"),
    cmdSet: sum("cmd_set"),
  };
}

// ─── steps ──────────────────────────────────────────────────────────────────────────────────────────────────────────

/** One child measuring one client on one workload. */
async function measure(
  workload: WorkloadSpec,
  client: ClientId,
  servers: Servers,
  all: readonly MemcachedServer[],
): Promise<WorkloadRow> {
  await flush(all);
  const before = await serverCounters(all);
  const spawned = spawnChild(
    { kind: "workload", workload, client, servers, warmupMs, measureMs },
    warmupMs + measureMs + 90_000,
  );
  let result: WorkloadResult | undefined;
  let failure: string | undefined;
  try {
    result = (await spawned.result) as WorkloadResult;
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  }
  const lingered = await spawned.exited;
  const after = await serverCounters(all);
  return workloadRow(client, result, failure, difference(before, after), lingered);
}

/**
 * Measures every client `rounds` times, the order reversed every other round so no client always runs first or
 * last, and keeps each client's best round: on a shared machine, interference only ever lowers a result.
 */
async function runWorkload(
  id: WorkloadId,
  rounds: number,
  servers: Servers,
  all: readonly MemcachedServer[],
  floorMb: number,
): Promise<WorkloadReport> {
  const workload = WORKLOADS[id];
  console.log(
    `\n${workload.title}; ${warmupMs / 1000} s warm-up + ${measureMs / 1000} s per client` +
      (rounds > 1 ? `, ${rounds} rounds (best kept)` : ""),
  );
  const byClient = new Map<ClientId, WorkloadRow[]>(clients.map((c) => [c, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? clients : [...clients].reverse();
    for (const client of order) {
      process.stdout.write(`  ${rounds > 1 ? `round ${round + 1}: ` : ""}${LABELS[client]} ...`);
      const row = await measure(workload, client, servers, all);
      byClient.get(client)!.push(row);
      process.stdout.write(` ${Math.round(row.opsPerSec).toLocaleString("en-US")} ops/s\n`);
    }
  }
  const rows = clients.map((client) => {
    const tried = byClient.get(client)!;
    // A broken round is kept if every round broke: the flags must show.
    const working = tried.filter((r) => !isBroken(r));
    const pool = working.length > 0 ? working : tried;
    return pool.reduce((best, r) => (r.opsPerSec > best.opsPerSec ? r : best));
  });
  const report: WorkloadReport = {
    workload,
    rows,
    fastestPeer: fastestPeerOf(rows),
    rounds: clients.map((c) => ({
      client: c,
      opsPerSec: byClient.get(c)!.map((r) => Math.round(r.opsPerSec)),
    })),
  };
  console.log(`\n${formatWorkload(report)}`);
  console.log(
    `peak RSS = VmHWM of the client's own process; one with no client loaded peaks at ${floorMb.toFixed(1)} MB`,
  );
  return report;
}

async function profileW1(client: ClientId, servers: Servers, all: readonly MemcachedServer[]) {
  const dir = join(resultsDir, "profiles");
  mkdirSync(dir, { recursive: true });
  const name = `w1-${client}-${stamp()}.cpuprofile`;
  console.log(
    `\nProfiling one extra W1 child of ${LABELS[client]} (node --cpu-prof; its numbers are not in the table)`,
  );
  await flush(all);
  const spawned = spawnChild(
    { kind: "workload", workload: WORKLOADS.w1, client, servers, warmupMs, measureMs },
    warmupMs + measureMs + 90_000,
    ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`],
  );
  const result = (await spawned.result) as WorkloadResult;
  await spawned.exited;
  const file = join(dir, name);
  if (!existsSync(file)) throw new Error(`no profile written at ${file}`);
  const summary = summarizeProfile(file, root);
  console.log(
    `profiled run: ${Math.round(result.ops / result.seconds).toLocaleString("en-US")} ops/s; profile ${file.slice(root.length + 1)}`,
  );
  console.log(
    `self time by area (${Math.round(summary.totalMs)} ms sampled): ${Object.entries(summary.byCategory)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${((100 * v) / summary.totalMs).toFixed(1)}%`)
      .join(", ")}`,
  );
  const ours = summary.rows.filter((r) => r.location.startsWith("packages/"));
  console.log("top self-time functions in packages/*:");
  for (const r of ours.slice(0, 15)) {
    console.log(
      `  ${(100 * r.share).toFixed(1).padStart(5)}%  ${r.selfMs.toFixed(0).padStart(6)} ms  ${r.functionName}  ${r.location}`,
    );
  }
  console.log("top self-time functions overall:");
  for (const r of summary.rows.slice(0, 12)) {
    console.log(
      `  ${(100 * r.share).toFixed(1).padStart(5)}%  ${r.selfMs.toFixed(0).padStart(6)} ms  ${r.functionName}  ${r.location}`,
    );
  }
  return { file, totalMs: summary.totalMs, byCategory: summary.byCategory, top: summary.rows.slice(0, 40) };
}

async function runStormMode(
  mode: StormMode,
  client: ClientId,
  servers: Servers,
  all: readonly MemcachedServer[],
): Promise<StormRow> {
  await flush(all);
  const before = await serverCounters(all);
  const timeout = stormMs + 90_000;
  const readers = Array.from({ length: STORM_PROCESSES }, () =>
    spawnChild(
      {
        kind: "storm-reader",
        mode,
        client,
        servers,
        readers: STORM_READERS / STORM_PROCESSES,
        measureMs: stormMs,
      },
      timeout,
    ),
  );
  const writer = spawnChild({ kind: "storm-writer", mode, client, servers, measureMs: stormMs }, timeout);
  const everyone = [...readers, writer];
  let failure: string | undefined;
  try {
    // Everyone connects first; a process that fails or exits before "ready" fails the whole variant.
    const early = everyone.map((s) =>
      s.result.then(() => {
        throw new Error("a storm process answered before the start");
      }),
    );
    await Promise.race([Promise.all(everyone.map((s) => s.ready)), ...early]);
    for (const s of everyone) s.send({ type: "go" });
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
    for (const s of everyone) s.child.kill("SIGKILL");
  }
  const settled = await Promise.allSettled(everyone.map((s) => s.result));
  await Promise.all(everyone.map((s) => s.exited));
  const readerResults: StormReaderResult[] = [];
  let writerResult: StormWriterResult | undefined;
  for (const s of settled) {
    if (s.status === "rejected") failure ??= s.reason instanceof Error ? s.reason.message : String(s.reason);
    else if (s.value.kind === "storm-reader") readerResults.push(s.value);
    else if (s.value.kind === "storm-writer") writerResult = s.value;
  }
  const server = difference(before, await serverCounters(all));
  return stormRow(mode, client, readerResults, writerResult, failure, server);
}

function naivePeer(w1: WorkloadReport | undefined): ClientId {
  if (naiveOverride) return naiveOverride;
  if (w1?.fastestPeer) return w1.fastestPeer.client;
  try {
    const last = JSON.parse(readFileSync(join(resultsDir, "latest.json"), "utf8")) as {
      w1?: { fastestPeer?: string };
    };
    const id = last.w1?.fastestPeer as ClientId | undefined;
    if (id && PEERS.includes(id)) return id;
  } catch {
    // no earlier run
  }
  return "memcache-client";
}

// ─── main ───────────────────────────────────────────────────────────────────────────────────────────────────────────

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
}

function load(): string {
  return `load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(", ")} on ${cpus().length} cores`;
}

function gitRevision(): string {
  try {
    const rev = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    const dirty =
      execFileSync("git", ["status", "--porcelain"], { cwd: root, encoding: "utf8" }).trim() !== "";
    return dirty ? `${rev} (uncommitted changes)` : rev;
  } catch {
    return "unknown";
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  const loadBefore = load();
  console.log(
    `mcpair bench: node ${process.version}, ${cpus()[0]?.model ?? "cpu"}; ${loadBefore}; git ${gitRevision()}`,
  );
  console.log(`steps: ${steps.join(", ")}; clients: ${clients.join(", ")}`);

  // One memcached for the peers and mcpair replicas:1, three for mcpair replicas:2; one worker thread each, as in the
  // issue. 256 MB holds W3's 10k × 16 KB values without evictions.
  const serverOptions = { memoryMb: 256, threads: 1 };
  const single = await startMemcached(serverOptions);
  const trio = [
    await startMemcached(serverOptions),
    await startMemcached(serverOptions),
    await startMemcached(serverOptions),
  ];
  const all = [single, ...trio];
  const servers: Servers = { single: single.address, trio: trio.map((s) => s.address) };
  const version = (await single.stats()).version ?? "?";
  console.log(
    `memcached ${version} (-t 1 -m 256 -U 0): single ${servers.single}; trio ${servers.trio.join(", ")}`,
  );

  const baseline = spawnChild({ kind: "baseline", workload: WORKLOADS.w1 }, 60_000);
  const floorMb = ((await baseline.result) as BaselineResult).peakRssKb / 1024;
  await baseline.exited;
  console.log(
    `RSS floor of a child process (node + harness data, no client loaded): ${floorMb.toFixed(1)} MB`,
  );

  const reports: Partial<Record<WorkloadId, WorkloadReport>> = {};
  let profile: Awaited<ReturnType<typeof profileW1>> | undefined;
  let storm: StormRow[] | undefined;
  let naive: ClientId | undefined;
  try {
    for (const id of ["w1", "w2", "w3"] as const) {
      if (!steps.includes(id)) continue;
      reports[id] = await runWorkload(id, id === "w1" ? w1Rounds : rounds, servers, all, floorMb);
      if (id === "w1" && profileClient) profile = await profileW1(profileClient, servers, all);
    }
    if (steps.includes("storm")) {
      naive = naivePeer(reports.w1);
      console.log(
        `\nStorm: ${STORM_READERS} concurrent readers (${STORM_PROCESSES} processes × ${STORM_READERS / STORM_PROCESSES}) of one key ` +
          `invalidated every 100 ms for ${stormMs / 1000} s; loader = 1 ms simulated query; mcpair = ${LABELS[STORM_MCPAIR]}, naive = ${LABELS[naive]}`,
      );
      storm = [];
      for (const [mode, client] of [
        ["mcpair-invalidate", STORM_MCPAIR],
        ["mcpair-delete", STORM_MCPAIR],
        ["naive", naive],
      ] as const) {
        process.stdout.write(`  ${mode} ...`);
        const row = await runStormMode(mode, client, servers, all);
        storm.push(row);
        process.stdout.write(` ${row.loads} loader calls, ${Math.round(row.readsPerSec)} reads/s\n`);
      }
      console.log(`\n${formatStorm(storm, STORM_READERS / STORM_PROCESSES)}`);
    }
  } finally {
    killChildren();
    await cleanupAll();
  }

  const line = verdict(reports.w1, storm);
  const loadAfter = load();
  const elapsed = Math.round((Date.now() - started) / 1000);
  console.log(`\n${line}`);
  console.log(`machine: ${loadAfter} (before: ${loadBefore}); took ${elapsed} s`);

  const broken = Object.values(reports).some((r) =>
    r.rows.some((row) => row.flags.some((f) => f.startsWith("BROKEN"))),
  );
  const stormBroken = storm?.some((r) => r.flags.some((f) => f.startsWith("BROKEN"))) ?? false;

  mkdirSync(resultsDir, { recursive: true });
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    loadBefore,
    loadAfter,
    git: gitRevision(),
    memcached: version,
    settings: { warmupMs, measureMs, stormMs, w1Rounds, rounds, steps, clients },
    rssFloorMb: Number(floorMb.toFixed(1)),
    ...Object.fromEntries(
      Object.entries(reports).map(([id, r]) => [
        id,
        {
          title: r.workload.title,
          fastestPeer: r.fastestPeer?.client,
          opsPerSecByRound: r.rounds,
          rows: r.rows.map((row) => ({
            client: row.client,
            label: LABELS[row.client],
            opsPerSec: Math.round(row.opsPerSec),
            p50Ms: row.p50,
            p99Ms: row.p99,
            p999Ms: row.p999,
            peakRssMb: Number(row.rssMb.toFixed(1)),
            ratioToFastestPeer: r.fastestPeer ? row.opsPerSec / r.fastestPeer.opsPerSec : null,
            hits: row.result?.hits,
            misses: row.result?.misses,
            errors: row.result?.errors,
            multiGet: row.result?.multiGet,
            prefillMs: row.result?.prefillMs,
            closeMs: row.result?.closeMs,
            mcpair: row.result?.mcpair,
            server: row.server,
            flags: row.flags,
          })),
        },
      ]),
    ),
    storm: storm?.map((r) => ({
      mode: r.mode,
      client: r.client,
      readsPerSec: Math.round(r.readsPerSec),
      p50Ms: r.p50,
      p99Ms: r.p99,
      loaderCalls: r.loads,
      loaderCallsPerProcess: r.readers.map((x) => x.loads),
      invalidations: r.invalidations,
      loaderCallsPerInvalidation: r.invalidations > 0 ? r.loads / r.invalidations : null,
      peakRssMb: Number(r.rssMb.toFixed(1)),
      mcpair: r.readers.map((x) => x.mcpair),
      server: r.server,
      flags: r.flags,
    })),
    profile,
    verdict: line,
  };
  const file = join(resultsDir, `bench-${stamp()}.json`);
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  // latest.json keeps the last run that measured W1 (the naive storm reads its fastest peer from it).
  if (reports.w1 || !existsSync(join(resultsDir, "latest.json"))) {
    writeFileSync(join(resultsDir, "latest.json"), `${JSON.stringify(json, null, 2)}\n`);
  }
  const kept = readdirSync(resultsDir).filter((f) => f.startsWith("bench-")).length;
  console.log(`results: ${file.slice(root.length + 1)} (${kept} runs in bench-results/)`);
  if (broken || stormBroken) {
    console.log("some measurements are flagged BROKEN (see !! above): their numbers mean nothing");
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  async (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    killChildren();
    await cleanupAll().catch(() => undefined);
    process.exitCode = 1;
  },
);
