/**
 * Test-side handles on the client processes of `worker.mjs` (and a runner for the built CLI): spawn, follow their
 * events, send commands, stop. Kept apart from the tests so the failover and chaos tests drive processes the same way.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { waitFor } from "@mcpair/test-utils";
import type { HistoryOp } from "./checker.js";

const here = dirname(fileURLToPath(import.meta.url));
export const WORKER = join(here, "worker.mjs");
export const CLI = join(here, "..", "..", "dist", "cli.js");
const DIST_INDEX = join(here, "..", "..", "dist", "index.js");

/** The child scripts import the built package: fail with a clear message when it was not built. */
export function assertBuilt(): void {
  if (!existsSync(DIST_INDEX) || !existsSync(CLI)) {
    throw new Error(
      "packages/memcached/dist is missing: run `npx turbo run build` at the repository root first",
    );
  }
}

export interface WorkerConfig {
  id: string;
  /** As `createClient` takes them: a server may be reached through a fault proxy under its own name. */
  servers: Array<string | { host: string; port: number; name: string }>;
  client?: Record<string, unknown>;
  keys?: number;
  keyPrefix?: string;
  mix?: { get: number; set: number; delete: number };
  /** Shares of operations on counter keys (`c*`: incr/decr) and append keys (`a*`). @default 0 */
  families?: { counter: number; append: number };
  concurrency?: number;
  thinkMs?: [number, number];
  log?: string;
  mode?: "real" | "broken";
  brokenDelayMs?: number;
}

export interface WorkerEvent {
  type: "event";
  event: "stateChange" | "rejoin" | "hintOverflow";
  t: number;
  server: string;
  from?: string;
  to?: string;
  reason?: string;
  how?: string;
  limit?: number;
}

export interface WorkerDone {
  type: "done";
  id: string;
  counts: Record<string, number>;
  counters: Record<string, number>;
  servers: Array<{ name: string; state: string; errors: number; hints: number }>;
  /** Rewarms this process ran (automatic ones included). */
  rewarms: Array<{
    server: string;
    copied: number;
    candidates: number;
    conflicts: number;
    failed: number;
    skipped: number;
  }>;
  /** Unhandled promise rejections in the process (each one would have crashed an application). */
  unhandled: { count: number; first: string | undefined };
}

export interface OpResult {
  outcome: "ok" | "error" | "hit" | "miss";
  value?: unknown;
  found?: boolean;
  error?: string;
}

export class WorkerProc {
  readonly id: string;
  readonly child: ChildProcess;
  readonly events: WorkerEvent[] = [];
  /** Each server's state as this process last reported it (servers it never reported on are "up"). */
  readonly states = new Map<string, string>();
  readonly ready: Promise<void>;
  readonly done: Promise<WorkerDone>;
  #results = new Map<number, (r: OpResult & { stats?: unknown }) => void>();
  #nextId = 0;
  #stderr = "";

  constructor(config: WorkerConfig) {
    this.id = config.id;
    this.child = spawn(process.execPath, [WORKER, JSON.stringify(config)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stderr?.setEncoding("utf8");
    this.child.stderr?.on("data", (s: string) => {
      this.#stderr = (this.#stderr + s).slice(-8192);
    });
    let ready!: () => void;
    let done!: (d: WorkerDone) => void;
    let failed!: (e: Error) => void;
    this.ready = new Promise<void>((resolve) => {
      ready = resolve;
    });
    this.done = new Promise<WorkerDone>((resolve, reject) => {
      done = resolve;
      failed = reject;
    });
    this.ready.catch(() => undefined);
    this.done.catch(() => undefined);
    const rl = createInterface({ input: this.child.stdout! });
    rl.on("line", (line) => {
      let msg: { type: string; id?: number } & Record<string, unknown>;
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      if (msg.type === "ready") ready();
      else if (msg.type === "event") {
        const e = msg as unknown as WorkerEvent;
        this.events.push(e);
        if (e.event === "stateChange" && e.to) this.states.set(e.server, e.to);
      } else if (msg.type === "result") {
        const cb = this.#results.get(msg.id as number);
        this.#results.delete(msg.id as number);
        cb?.(msg as unknown as OpResult);
      } else if (msg.type === "done") done(msg as unknown as WorkerDone);
    });
    this.child.on("exit", (code, signal) => {
      failed(
        new Error(`worker ${this.id} exited (${code ?? signal}) before reporting; stderr: ${this.#stderr}`),
      );
    });
  }

  state(server: string): string {
    return this.states.get(server) ?? "up";
  }

  send(cmd: Record<string, unknown>): void {
    // A process that already exited (stopped twice, or crashed) has a closed pipe: writing would raise EPIPE.
    if (this.child.exitCode !== null || this.child.signalCode !== null || !this.child.stdin?.writable) return;
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
  }

  /** Runs one operation in the process. */
  op(op: "get" | "set" | "delete", key: string, value?: string): Promise<OpResult> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#results.set(id, resolve);
      this.send({ cmd: "op", id, op, key, value });
    });
  }

  stats(): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#results.set(id, (r) => resolve(r.stats as Record<string, unknown>));
      this.send({ cmd: "stats", id });
    });
  }

  start(): void {
    this.send({ cmd: "start" });
  }

  /** Ends the workload and the process; resolves its report (the same one when called again). */
  stop(): Promise<WorkerDone> {
    this.#stopped ??= (async () => {
      this.send({ cmd: "stop" });
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
      try {
        return await this.done;
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.#stopped;
  }

  #stopped: Promise<WorkerDone> | undefined;

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }

  /** The first event matching `pred`, awaited. */
  waitForEvent(pred: (e: WorkerEvent) => boolean, timeout = 15_000, what = "an event"): Promise<WorkerEvent> {
    return waitFor(() => this.events.find(pred), { timeout, interval: 20, what: `${this.id}: ${what}` });
  }

  get stderr(): string {
    return this.#stderr;
  }
}

/** Runs the built CLI; resolves its exit code and output. */
export function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, MCPAIR_SERVERS: undefined, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Reads a worker's history file. */
export function readHistory(path: string, proc: string): HistoryOp[] {
  if (!existsSync(path)) return [];
  const ops: HistoryOp[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line === "") continue;
    const [k, key, value, start, end, outcome, refresh] = JSON.parse(line) as [
      string,
      string,
      string | null,
      number,
      number,
      HistoryOp["outcome"],
      number | undefined,
    ];
    ops.push({
      proc,
      kind: k === "g" ? "get" : k === "s" ? "set" : "delete",
      key,
      value: value ?? undefined,
      start,
      end,
      outcome,
      ...(refresh === 1 ? { refresh: true } : {}),
    });
  }
  return ops;
}
