/**
 * `npm run bench`: mcpair against the memcached clients people use today, each mcpair mode against peers on the same
 * servers (issue 14; the storm is issue 4's).
 *
 *   npm run bench                                      # everything (about 5½ minutes on 2 cores)
 *   npm run bench -- --only w0,w1                      # some steps: w0, w1, w2, w3, lat, storm
 *   npm run bench -- --clients mcpair-r1x3,mcpair-r2x3 # some clients (see config.ts)
 *   npm run bench -- --only w1 --profile               # also profile one extra mcpair replicas:2 child per step
 *   npm run bench -- --only w1 --profile=mcpair-r1x3,mcpair-r2x3
 *
 * Steps: W0 (90/10 get/set, the headline), W1 (50/50), W2 (multi-get of 100), W3 (16 KB values), each on one server
 * (mcpair replicas:1 and four peers) and on three (mcpair replicas:1 and 2, and the peers that shard); `lat` runs W0
 * over a link with 0.5 ms of added round trip (bench/latency-proxy.c); `storm` is the hot-key storm.
 *
 * Environment: MCPAIR_BENCH_SECONDS (2, measured seconds per run, after MCPAIR_BENCH_WARMUP_SECONDS, 0.5),
 * MCPAIR_BENCH_MEMCACHED (a path to another build's dist/index.js of @mcpair/memcached, for before/after profiles),
 * MCPAIR_BENCH_ROUNDS (2: rounds per step, the order of the clients reversed every other round so machine load hits
 * them alike; each client's best round is kept), MCPAIR_BENCH_RTT_MS (0.5), MCPAIR_BENCH_STORM_SECONDS (10).
 * Results go to bench-results/ as JSON and as an SVG chart.
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
import { cleanupAll, type MemcachedServer, startMemcached } from "@mcpair/test-utils";
import ts from "typescript";
import { renderBenchChart } from "./chart.js";
import {
  type BaselineResult,
  CLIENT_IDS,
  CLIENTS,
  type ClientId,
  clientLabel,
  type FromChild,
  isMcpair,
  type Job,
  type JobResult,
  LIBRARY_LABELS,
  type Library,
  PEER_PACKAGES,
  PEERS,
  requestsPerOp,
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
import { buildProxy, type LatencyLink, medianRoundTripMs, startLink } from "./latency.js";
import {
  fastestPeer,
  formatCounters,
  formatGoals,
  formatStorm,
  formatWorkload,
  goals,
  isBroken,
  replicationCost,
  type StormRow,
  stormRow,
  type WorkloadReport,
  type WorkloadRow,
  workloadRow,
} from "./report.js";
import { difference, type ServerCounters, ServerStats } from "./server-stats.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const resultsDir = join(root, "bench-results");

const STEPS = ["w0", "w1", "w2", "w3", "lat", "storm"] as const;
type Step = (typeof STEPS)[number];
const STORM_PROCESSES = 2;
const STORM_READERS = 1000;
/** The storm's mcpair client: the deployment the lease is for (pairs of servers). */
const STORM_MCPAIR: ClientId = "mcpair-r2x3";
/**
 * The latency-bound run: every client that can use three servers does, memcache-client (failover list only) uses
 * one; everything goes through the delaying proxy.
 */
const LATENCY_CLIENTS: readonly ClientId[] = [
  "mcpair-r1x3",
  "mcpair-r2x3",
  "memcache-client",
  "memjs-x3",
  "memcached-x3",
  "memcache-x3",
];

// ─── options ────────────────────────────────────────────────────────────────────────────────────────────────────────

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${name} must be a positive number, got "${raw}"`);
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
  profileClients: ClientId[];
  naiveOverride: ClientId | undefined;
  measureMs: number;
  warmupMs: number;
  stormMs: number;
  rounds: number;
  rttMs: number;
}

const USAGE = [
  "npm run bench [-- options]",
  `  --only <list>      steps to run, from ${STEPS.join(",")} (default: all)`,
  `  --clients <list>   clients for w0-w3 and lat, from ${CLIENT_IDS.join(",")} (default: all)`,
  "  --profile[=ids]    after each workload step, profile one extra child of these mcpair clients (default mcpair-r2x3)",
  "  --naive <id>       peer used for the naive storm (default: fastest one-server W0/W1 peer, else the last run's)",
  "env: MCPAIR_BENCH_SECONDS (2), MCPAIR_BENCH_WARMUP_SECONDS (0.5), MCPAIR_BENCH_ROUNDS (2),",
  "     MCPAIR_BENCH_RTT_MS (0.5), MCPAIR_BENCH_STORM_SECONDS (10), MCPAIR_BENCH_MEMCACHED (another build's dist/index.js)",
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
    // `npm run bench -- --profile` leaves the value out: a bare flag means mcpair-r2x3.
    args: argv.map((a) => (a === "--profile" ? "--profile=mcpair-r2x3" : a)),
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const profileClients = values.profile === undefined ? [] : list("profile", values.profile, CLIENT_IDS);
  if (profileClients.some((c) => !isMcpair(c))) {
    throw new Error("--profile takes mcpair clients only (mcpair-r1, mcpair-r1x3, mcpair-r2x3)");
  }
  return {
    steps: list("only", values.only, STEPS),
    clients: list("clients", values.clients, CLIENT_IDS),
    profileClients,
    naiveOverride: values.naive === undefined ? undefined : list("naive", values.naive, PEERS)[0],
    measureMs: positive("MCPAIR_BENCH_SECONDS", 2) * 1000,
    warmupMs: positive("MCPAIR_BENCH_WARMUP_SECONDS", 0.5) * 1000,
    stormMs: positive("MCPAIR_BENCH_STORM_SECONDS", 10) * 1000,
    rounds: count("MCPAIR_BENCH_ROUNDS", 2),
    rttMs: positive("MCPAIR_BENCH_RTT_MS", 0.5),
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
const { steps, clients, profileClients, naiveOverride, measureMs, warmupMs, stormMs, rounds, rttMs } =
  options;

/** Puts the installed version in each peer's label ("memjs" becomes "memjs 1.3.2"). */
function labelPeersWithVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const [library, name] of Object.entries(PEER_PACKAGES) as Array<[Library, string]>) {
    try {
      const { version } = JSON.parse(
        readFileSync(join(root, "node_modules", name, "package.json"), "utf8"),
      ) as {
        version: string;
      };
      versions[name] = version;
      LIBRARY_LABELS[library] = LIBRARY_LABELS[library].replace(name, `${name} ${version}`);
    } catch {
      // not installed: the child will fail and the row will say so
    }
  }
  return versions;
}
const peerVersions = labelPeersWithVersions();

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

function spawnChild(
  job: Job,
  timeoutMs: number,
  extraExecArgv: string[] = [],
  onWindow?: (edge: "start" | "end") => void,
): Spawned {
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
      else if (message.type === "window") onWindow?.(message.edge);
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

let link: LatencyLink | undefined;

function killChildren(): void {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
  link?.close();
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the benchmark`);
    killChildren();
    // test-utils' own handler kills the memcached processes synchronously; its exit hook runs again on exit.
    setImmediate(() => process.exit(130));
  });
}

// ─── measurements ───────────────────────────────────────────────────────────────────────────────────────────────────

const serverStats = new ServerStats();

/** Where the clients connect (`dial`, possibly through the latency proxy) and the servers behind (`real`). */
interface Network {
  dial: Servers;
  real: Servers;
  all: readonly string[];
}

function usedServers(client: ClientId, servers: Servers): string[] {
  return CLIENTS[client].servers === 1 ? [servers.one] : servers.three;
}

/** One child measuring one client on one workload. */
async function measure(workload: WorkloadSpec, client: ClientId, net: Network): Promise<WorkloadRow> {
  await serverStats.flush(net.all);
  const before = await serverStats.snapshot(net.all);
  const used = usedServers(client, net.real);
  let windowStart: Promise<ServerCounters> | undefined;
  let windowEnd: Promise<ServerCounters> | undefined;
  const spawned = spawnChild(
    { kind: "workload", workload, client, servers: net.dial, warmupMs, measureMs },
    warmupMs + measureMs + 90_000,
    [],
    (edge) => {
      if (edge === "start") windowStart = serverStats.snapshot(used);
      else windowEnd = serverStats.snapshot(used);
    },
  );
  let result: WorkloadResult | undefined;
  let failure: string | undefined;
  try {
    result = (await spawned.result) as WorkloadResult;
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  }
  const lingered = await spawned.exited;
  const after = await serverStats.snapshot(net.all);
  const window = windowStart && windowEnd ? difference(await windowStart, await windowEnd) : undefined;
  return workloadRow(client, result, failure, difference(before, after), window, lingered);
}

/**
 * Measures every client `rounds` times, the order reversed every other round so no client always runs first or
 * last, and keeps each client's best round: on a shared machine, interference only ever lowers a result.
 */
async function runWorkload(
  step: string,
  workload: WorkloadSpec,
  title: string,
  runClients: readonly ClientId[],
  net: Network,
  extra: Partial<WorkloadReport> = {},
): Promise<WorkloadReport> {
  console.log(
    `\n${title}; ${warmupMs / 1000} s warm-up + ${measureMs / 1000} s per client` +
      (rounds > 1 ? `, ${rounds} rounds (order reversed every other round, best kept)` : ""),
  );
  const byClient = new Map<ClientId, WorkloadRow[]>(runClients.map((c) => [c, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? runClients : [...runClients].reverse();
    for (const client of order) {
      process.stdout.write(`  ${rounds > 1 ? `round ${round + 1}: ` : ""}${clientLabel(client)} ...`);
      const row = await measure(workload, client, net);
      byClient.get(client)!.push(row);
      process.stdout.write(` ${Math.round(row.opsPerSec).toLocaleString("en-US")} ops/s\n`);
    }
  }
  const rows = runClients.map((client) => {
    const tried = byClient.get(client)!;
    // A broken round is kept if every round broke: the flags must show.
    const working = tried.filter((r) => !isBroken(r));
    const pool = working.length > 0 ? working : tried;
    return pool.reduce((best, r) => (r.opsPerSec > best.opsPerSec ? r : best));
  });
  const report: WorkloadReport = {
    step,
    workload,
    title,
    ...extra,
    rows,
    rounds: runClients.map((c) => ({
      client: c,
      opsPerSec: byClient.get(c)!.map((r) => Math.round(r.opsPerSec)),
    })),
  };
  console.log(`\n${formatWorkload(report)}`);
  console.log(formatCounters(report));
  return report;
}

async function profile(step: string, workload: WorkloadSpec, client: ClientId, net: Network) {
  const dir = join(resultsDir, "profiles");
  mkdirSync(dir, { recursive: true });
  const name = `${step}-${client}-${stamp()}.cpuprofile`;
  console.log(
    `\nProfiling one extra ${step.toUpperCase()} child of ${clientLabel(client)} (node --cpu-prof; not in the table)`,
  );
  await serverStats.flush(net.all);
  const spawned = spawnChild(
    { kind: "workload", workload, client, servers: net.dial, warmupMs, measureMs },
    warmupMs + measureMs + 90_000,
    ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`],
  );
  const result = (await spawned.result) as WorkloadResult;
  await spawned.exited;
  const file = join(dir, name);
  if (!existsSync(file)) throw new Error(`no profile written at ${file}`);
  const summary = summarizeProfile(file, root);
  console.log(
    `profiled run: ${Math.round(result.ops / result.seconds).toLocaleString("en-US")} ops/s, ` +
      `${(result.cpuUs / result.ops).toFixed(1)} client CPU µs/op; profile ${file.slice(root.length + 1)}`,
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
  return {
    step,
    client,
    file,
    totalMs: summary.totalMs,
    byCategory: summary.byCategory,
    top: summary.rows.slice(0, 40),
  };
}

async function runStormMode(mode: StormMode, client: ClientId, net: Network): Promise<StormRow> {
  await serverStats.flush(net.all);
  const before = await serverStats.snapshot(net.all);
  const timeout = stormMs + 90_000;
  const readers = Array.from({ length: STORM_PROCESSES }, () =>
    spawnChild(
      {
        kind: "storm-reader",
        mode,
        client,
        servers: net.dial,
        readers: STORM_READERS / STORM_PROCESSES,
        measureMs: stormMs,
      },
      timeout,
    ),
  );
  const writer = spawnChild(
    { kind: "storm-writer", mode, client, servers: net.dial, measureMs: stormMs },
    timeout,
  );
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
  const server = difference(before, await serverStats.snapshot(net.all));
  return stormRow(mode, client, readerResults, writerResult, failure, server);
}

function naivePeer(reports: Partial<Record<string, WorkloadReport>>): ClientId {
  if (naiveOverride) return naiveOverride;
  for (const step of ["w0", "w1"]) {
    const report = reports[step];
    const peer = report ? fastestPeer(report.rows, 1) : undefined;
    if (peer) return peer.client;
  }
  try {
    const last = JSON.parse(readFileSync(join(resultsDir, "latest.json"), "utf8")) as { naivePeer?: string };
    const id = last.naivePeer as ClientId | undefined;
    if (id && PEERS.includes(id)) return id;
  } catch {
    // no earlier run
  }
  return "memcache-client";
}

/** Starts the delaying proxy in front of the servers and measures the round trip it adds. */
async function startLatencyNetwork(real: Servers): Promise<{ net: Network; addedRttMs: number } | string> {
  const built = buildProxy(join(here, "latency-proxy.c"), join(resultsDir, ".build"));
  if ("error" in built) return built.error;
  const targets = [real.one, ...real.three];
  link = await startLink(built.path, rttMs, targets);
  const [one, ...three] = link.addresses;
  const direct = await medianRoundTripMs(real.one);
  const proxied = await medianRoundTripMs(one!);
  return {
    net: { dial: { one: one!, three }, real, all: targets },
    addedRttMs: proxied - direct,
  };
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
      execFileSync(
        "git",
        ["status", "--porcelain", "--", "bench", "packages/memcached/src", "packages/core/src"],
        {
          cwd: root,
          encoding: "utf8",
        },
      ).trim() !== "";
    return dirty ? `${rev} (uncommitted changes)` : rev;
  } catch {
    return "unknown";
  }
}

function rowJson(report: WorkloadReport, row: WorkloadRow) {
  const spec = CLIENTS[row.client];
  const peer = fastestPeer(report.rows, spec.servers);
  return {
    client: row.client,
    label: clientLabel(row.client),
    library: spec.library,
    servers: spec.servers,
    replicas: spec.replicas,
    opsPerSec: Math.round(row.opsPerSec),
    p50Ms: row.p50,
    p99Ms: row.p99,
    p999Ms: row.p999,
    peakRssMb: Number(row.rssMb.toFixed(1)),
    clientCpuUsPerOp: Number.isFinite(row.clientCpuUs) ? Number(row.clientCpuUs.toFixed(2)) : null,
    serverCpuUsPerOp: Number.isFinite(row.serverCpuUs) ? Number(row.serverCpuUs.toFixed(2)) : null,
    requestsPerOp: Number.isFinite(row.requests) ? Number(row.requests.toFixed(3)) : null,
    expectedRequestsPerOp: requestsPerOp(report.workload, spec.replicas),
    fastestPeerSameServers: peer?.client ?? null,
    ratioToFastestPeerSameServers: peer ? row.opsPerSec / peer.opsPerSec : null,
    hits: row.result?.hits,
    misses: row.result?.misses,
    errors: row.result?.errors,
    multiGet: row.result?.multiGet,
    prefillMs: row.result?.prefillMs,
    closeMs: row.result?.closeMs,
    mcpair: row.result?.mcpair,
    server: row.server,
    serverWindow: row.window,
    flags: row.flags,
  };
}

async function main(): Promise<number> {
  const started = Date.now();
  const loadBefore = load();
  const git = gitRevision();
  console.log(
    `mcpair bench: node ${process.version}, ${cpus()[0]?.model ?? "cpu"}; ${loadBefore}; git ${git}`,
  );
  console.log(`steps: ${steps.join(", ")}; clients: ${clients.join(", ")}`);
  if (process.env.MCPAIR_BENCH_MEMCACHED) console.log(`mcpair build: ${process.env.MCPAIR_BENCH_MEMCACHED}`);

  // One memcached for the one-server rows, three for the three-server rows; one worker thread each. 256 MB holds
  // W3's 10k × 16 KB values without evictions.
  const serverOptions = { memoryMb: 256, threads: 1 };
  const one: MemcachedServer = await startMemcached(serverOptions);
  const three = [
    await startMemcached(serverOptions),
    await startMemcached(serverOptions),
    await startMemcached(serverOptions),
  ];
  const real: Servers = { one: one.address, three: three.map((s) => s.address) };
  const loopback: Network = { dial: real, real, all: [real.one, ...real.three] };
  const version = (await one.stats()).version ?? "?";
  console.log(`memcached ${version} (-t 1 -m 256 -U 0): one ${real.one}; three ${real.three.join(", ")}`);

  const baseline = spawnChild({ kind: "baseline", workload: WORKLOADS.w1 }, 60_000);
  const floorMb = ((await baseline.result) as BaselineResult).peakRssKb / 1024;
  await baseline.exited;
  console.log(
    `RSS floor of a child process (node + harness data, no client loaded): ${floorMb.toFixed(1)} MB`,
  );

  const reports: Partial<Record<string, WorkloadReport>> = {};
  const profiles: Array<Awaited<ReturnType<typeof profile>>> = [];
  let storm: StormRow[] | undefined;
  let naive: ClientId | undefined;
  let latencySkipped: string | undefined;
  try {
    for (const id of ["w0", "w1", "w2", "w3"] as const satisfies readonly WorkloadId[]) {
      if (!steps.includes(id)) continue;
      const workload = WORKLOADS[id];
      reports[id] = await runWorkload(id, workload, workload.title, clients, loopback);
      for (const c of profileClients) profiles.push(await profile(id, workload, c, loopback));
    }
    if (steps.includes("lat")) {
      const runClients = LATENCY_CLIENTS.filter((c) => clients.includes(c));
      const latency = await startLatencyNetwork(real);
      if (typeof latency === "string") {
        latencySkipped = latency;
        console.log(`\nlatency-bound run skipped: ${latency}`);
      } else if (runClients.length > 0) {
        const w0 = WORKLOADS.w0;
        const title =
          `LAT: W0 over +${rttMs} ms of round trip (latency proxy; measured ${latency.addedRttMs.toFixed(2)} ms added), ` +
          `64 in flight`;
        reports.lat = await runWorkload("lat", w0, title, runClients, latency.net, {
          addedRttMs: latency.addedRttMs,
        });
      }
      link?.close();
      link = undefined;
    }
    if (steps.includes("storm")) {
      naive = naivePeer(reports);
      console.log(
        `\nStorm: ${STORM_READERS} concurrent readers (${STORM_PROCESSES} processes × ${STORM_READERS / STORM_PROCESSES}) of one key ` +
          `invalidated every 100 ms for ${stormMs / 1000} s; loader = 1 ms simulated query; mcpair = ${clientLabel(STORM_MCPAIR)}, naive = ${clientLabel(naive)}`,
      );
      storm = [];
      for (const [mode, client] of [
        ["mcpair-invalidate", STORM_MCPAIR],
        ["mcpair-delete", STORM_MCPAIR],
        ["naive", naive],
      ] as const) {
        process.stdout.write(`  ${mode} ...`);
        const row = await runStormMode(mode, client, loopback);
        storm.push(row);
        process.stdout.write(` ${row.loads} loader calls, ${Math.round(row.readsPerSec)} reads/s\n`);
      }
      console.log(`\n${formatStorm(storm, STORM_READERS / STORM_PROCESSES)}`);
    }
  } finally {
    killChildren();
    await serverStats.close();
    await cleanupAll();
  }

  const goalList = goals(reports, storm);
  const loadAfter = load();
  const elapsed = Math.round((Date.now() - started) / 1000);
  console.log(`\n${formatGoals(goalList)}`);
  console.log(`machine: ${loadAfter} (before: ${loadBefore}); took ${elapsed} s`);

  const broken = Object.values(reports).some((r) => r?.rows.some((row) => isBroken(row)));
  const stormBroken = storm?.some((r) => r.flags.some((f) => f.startsWith("BROKEN"))) ?? false;

  mkdirSync(resultsDir, { recursive: true });
  const name = `bench-${stamp()}`;
  const ordered = (["w0", "w1", "w2", "w3", "lat"] as const)
    .map((id) => reports[id])
    .filter((r): r is WorkloadReport => r !== undefined);
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    loadBefore,
    loadAfter,
    git,
    memcached: version,
    peers: peerVersions,
    settings: {
      warmupMs,
      measureMs,
      stormMs,
      rounds,
      rttMs,
      steps,
      clients,
      mcpairBuild: process.env.MCPAIR_BENCH_MEMCACHED ?? "packages/memcached/dist",
    },
    rssFloorMb: Number(floorMb.toFixed(1)),
    latencySkipped,
    workloads: Object.fromEntries(
      ordered.map((r) => [
        r.step,
        {
          title: r.title,
          addedRttMs: r.addedRttMs,
          replicationCost: replicationCost(r) ?? null,
          opsPerSecByRound: r.rounds,
          rows: r.rows.map((row) => rowJson(r, row)),
        },
      ]),
    ),
    naivePeer: naive,
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
    profiles,
    goals: goalList,
  };
  const file = join(resultsDir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  if (ordered.length > 0) {
    const svg = renderBenchChart(
      ordered,
      `mcpair bench ${json.date.slice(0, 16).replace("T", " ")} (git ${git})`,
      `node ${process.version}, memcached ${version}, ${cpus().length} cores; ${loadBefore}; bars: ops/s, label: × fastest peer on the same servers`,
    );
    writeFileSync(join(resultsDir, `${name}.svg`), svg);
    writeFileSync(join(resultsDir, "latest.svg"), svg);
  }
  // latest.json keeps the last run that measured a one-server peer (the naive storm reads its fastest peer from it).
  if (reports.w0 || reports.w1 || !existsSync(join(resultsDir, "latest.json"))) {
    writeFileSync(join(resultsDir, "latest.json"), `${JSON.stringify(json, null, 2)}\n`);
  }
  const kept = readdirSync(resultsDir).filter((f) => f.startsWith("bench-") && f.endsWith(".json")).length;
  console.log(
    `results: ${file.slice(root.length + 1)}${ordered.length > 0 ? ` and ${name}.svg` : ""} (${kept} runs in bench-results/)`,
  );
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
