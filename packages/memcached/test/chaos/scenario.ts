/**
 * The chaos scenario: real memcached servers, several client processes (`worker.mjs`) doing a random mix of
 * set/delete/get (and incr/decr on counter keys, append on append keys) over a small key space while this controller
 * repeatedly disturbs ONE server at a time, then checks the merged history with `checker.ts`. Disturbances:
 *   - kill -9 and start empty; SIGSTOP and SIGCONT; SIGTERM and start (every client sees the same fault). A restart
 *     also starts the clients' automatic rewarm, which copies keys while the workload runs;
 *   - asymmetric: the first client process reaches every server through its own fault proxy, and only its requests to
 *     one server are delayed (`lag`, below the timeout: its requests arrive late and out of step with the other
 *     processes') or swallowed (`blackhole`: they time out, some are applied later) while the others are fine.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type FaultProxy,
  type MemcachedServer,
  startFaultProxy,
  startMemcached,
  waitFor,
} from "@mcpair/test-utils";
import { createClient } from "../../src/index.js";
import { type CheckResult, checkHistory, describeOp, excerpt, type HistoryOp } from "./checker.js";
import { readHistory, type WorkerDone, WorkerProc } from "./procs.js";

export type Action = "kill" | "pause" | "stop" | "lag" | "blackhole";

export interface ChaosOptions {
  seconds: number;
  mode: "real" | "broken";
  workers?: number;
  servers?: number;
  keys?: number;
  mix?: { get: number; set: number; delete: number };
  /** Shares of operations on counter and append keys. @default { counter: 0.2, append: 0.15 } */
  families?: { counter: number; append: number };
  concurrency?: number;
  thinkMs?: [number, number];
  /** Relative weights of the disturbances. */
  actions?: Partial<Record<Action, number>>;
  /** How long a server stays out, ms: [min, max]. */
  outMs?: [number, number];
  /** Pause between two disturbances once every client sees the server up again, ms: [min, max]. */
  gapMs?: [number, number];
  /** createClient options of the workers (besides servers). */
  client?: Record<string, unknown>;
  brokenDelayMs?: number;
  log?: (line: string) => void;
}

export interface Disturbance {
  action: Action;
  server: string;
  start: number;
  end: number;
  /** Every client reported the server up again (false: the controller gave up waiting). */
  recovered: boolean;
}

export interface ChaosReport {
  result: CheckResult;
  disturbances: Disturbance[];
  workers: WorkerDone[];
  rejoins: Record<string, number>;
  hintOverflows: number;
  elapsedMs: number;
  /** Human-readable analysis of the first violations (history excerpts, placement, nearby events). */
  details: string[];
  /** Violations per cause (see the classification in `runChaos`). */
  classes: Record<string, number>;
  historyDir: string;
}

const rand = (min: number, max: number) => min + Math.random() * (max - min);

function pick<T extends string>(weights: Record<T, number>): T {
  const entries = Object.entries(weights) as Array<[T, number]>;
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let r = Math.random() * total;
  for (const [k, w] of entries) {
    r -= w;
    if (r < 0) return k;
  }
  return entries[entries.length - 1]![0];
}

export const REAL_CLIENT_OPTIONS = {
  timeout: 150,
  connectTimeout: 150,
  health: { failureThreshold: 2, probeInterval: 100, maxProbeInterval: 1000, checkInterval: 500 },
} as const;

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), "mcpair-chaos-"));
  const servers: MemcachedServer[] = await Promise.all(
    Array.from({ length: o.servers ?? 3 }, () => startMemcached()),
  );
  const names = servers.map((s) => s.address);
  const placement = createClient({ servers: names, health: { checkInterval: 0 } });
  // The first worker reaches each server through a fault proxy, under the server's own name (same placement).
  const proxies: FaultProxy[] = await Promise.all(
    servers.map((s) => startFaultProxy({ host: s.host, port: s.port })),
  );
  const proxied = servers.map((s, i) => ({ host: "127.0.0.1", port: proxies[i]!.port, name: s.address }));
  const workers = Array.from(
    { length: o.workers ?? 3 },
    (_, i) =>
      new WorkerProc({
        id: `p${i}`,
        servers: i === 0 ? proxied : names,
        families: o.families ?? { counter: 0.2, append: 0.15 },
        client: { ...REAL_CLIENT_OPTIONS, ...(o.client ?? {}) },
        keys: o.keys ?? 200,
        keyPrefix: "k",
        mix: o.mix ?? { get: 0.55, set: 0.3, delete: 0.15 },
        concurrency: o.concurrency ?? 4,
        thinkMs: o.thinkMs ?? [1, 4],
        log: join(dir, `p${i}.jsonl`),
        mode: o.mode,
        brokenDelayMs: o.brokenDelayMs,
      }),
  );
  const disturbances: Disturbance[] = [];
  const began = Date.now();
  let done: WorkerDone[] = [];
  try {
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.start();
    await sleep(1000);
    const weights = { kill: 1, pause: 1, stop: 1, lag: 1, blackhole: 0, ...(o.actions ?? {}) };
    const [outMin, outMax] = o.outMs ?? [50, 1500];
    const [gapMin, gapMax] = o.gapMs ?? [200, 1000];
    const deadline = began + o.seconds * 1000;
    while (Date.now() < deadline) {
      const index = Math.floor(Math.random() * servers.length);
      const server = servers[index]!;
      const action = pick(weights);
      const out = rand(outMin, outMax);
      const start = Date.now();
      if (action === "pause") {
        server.pause();
        await sleep(out);
        server.resume();
      } else if (action === "lag") {
        // Below the clients' 150 ms timeout even with the delay applied both ways.
        proxies[index]!.setLatency(Math.round(rand(10, 50)));
        await sleep(out);
        proxies[index]!.setLatency(0);
      } else if (action === "blackhole") {
        proxies[index]!.setBlackhole(true);
        await sleep(out);
        proxies[index]!.setBlackhole(false);
      } else {
        await (action === "kill" ? server.kill() : server.stop());
        await sleep(out);
        await server.start();
      }
      const end = Date.now();
      // Let the clients notice the outage (a request times out after 150 ms) before judging "back up".
      await sleep(400);
      const recovered = await waitFor(() => workers.every((w) => w.state(server.address) === "up"), {
        timeout: 10_000,
        interval: 20,
      }).then(
        () => true,
        () => false,
      );
      disturbances.push({ action, server: server.address, start, end, recovered });
      log(
        `${action} ${server.address} for ${Math.round(out)} ms; clients up again after ${Date.now() - end} ms${recovered ? "" : " (gave up waiting)"}`,
      );
      await sleep(rand(gapMin, gapMax));
    }
    await sleep(1000);
    done = await Promise.all(workers.map((w) => w.stop()));
  } finally {
    for (const w of workers) w.kill();
    await placement.close();
    for (const p of proxies) await p.close();
    for (const s of servers) {
      if (s.paused) s.resume();
      await s.kill();
    }
  }
  const elapsedMs = Date.now() - began;

  const history: HistoryOp[] = [];
  for (const [i, w] of workers.entries()) {
    for (const op of readHistory(join(dir, `p${i}.jsonl`), w.id)) history.push(op);
  }
  const result = checkHistory(history);

  const rejoins: Record<string, number> = {};
  let hintOverflows = 0;
  for (const w of workers) {
    for (const e of w.events) {
      if (e.event === "rejoin") rejoins[e.how ?? "?"] = (rejoins[e.how ?? "?"] ?? 0) + 1;
      if (e.event === "hintOverflow") hintOverflows++;
    }
  }

  // Classify each violation: did the witness's client skip a replica (it saw it not "up" when it wrote or deleted)
  // that another client was reading at the time? That is trap 3: clients that disagree about a returning server.
  // The stale value reaches the reader directly, or through another client's read-repair, which copies it from the
  // skipped replica back to the one the reader reads.
  const stateAt = (proc: string, server: string, t: number): string => {
    let state = "up";
    for (const e of workers.find((w) => w.id === proc)?.events ?? []) {
      if (e.event !== "stateChange" || e.server !== server) continue;
      if (e.t > t) break;
      state = e.to ?? state;
    }
    return state;
  };
  const classes: Record<string, number> = {};
  for (const v of result.violations) {
    const w = v.witness;
    const replicas = placement.replicasOf(v.read.key);
    const skipped =
      w === undefined
        ? []
        : replicas.filter(
            (s) => stateAt(w.proc, s, w.start - 1) !== "up" || stateAt(w.proc, s, w.end) !== "up",
          );
    const role = (s: string) => (replicas[0] === s ? "the primary" : "the secondary");
    const byReader = skipped.find((s) => stateAt(v.read.proc, s, v.read.start) === "up");
    const byOther = skipped.find((s) =>
      workers.some((x) => x.id !== w?.proc && stateAt(x.id, s, v.read.start) === "up"),
    );
    const cls = byReader
      ? `witness's client skipped ${role(byReader)} while the reader's client read it`
      : byOther
        ? `witness's client skipped ${role(byOther)} while another client read it (its read-repair copied the value back)`
        : "other";
    classes[cls] = (classes[cls] ?? 0) + 1;
  }

  const details: string[] = [];
  if (result.violations.length > 0) {
    details.push(
      `classification: ${Object.entries(classes)
        .map(([c, n]) => `${n} x ${c}`)
        .join("; ")}`,
    );
    writeFileSync(
      join(dir, "events.json"),
      JSON.stringify({
        disturbances,
        events: Object.fromEntries(workers.map((w) => [w.id, w.events])),
        names,
      }),
    );
  }
  for (const v of result.violations.slice(0, 3)) {
    const replicas = placement.replicasOf(v.read.key);
    const lines = [v.message, `  replicas of ${v.read.key}: ${replicas.join(" -> ")}`];
    lines.push("  history of the key around it:");
    for (const op of excerpt(history, v, 20)) lines.push(`    ${describeOp(op)}`);
    const from = (v.write?.start ?? v.read.start) - 3000;
    lines.push("  disturbances and client events in the 3 s before the read:");
    for (const d of disturbances) {
      if (d.end >= from && d.start <= v.read.end)
        lines.push(`    [${d.start}, ${d.end}] ${d.action} ${d.server}`);
    }
    const events: Array<[number, string]> = [];
    for (const w of workers) {
      for (const e of w.events) {
        // Probe chatter (down -> probing -> down) says nothing about which copy is readable.
        const chatter = e.to === "probing" || (e.from === "probing" && e.to === "down");
        if (e.t >= from && e.t <= v.read.end && replicas.includes(e.server) && !chatter) {
          const what =
            e.event === "stateChange" ? `${e.from} -> ${e.to} (${e.reason})` : `${e.event} ${e.how ?? ""}`;
          events.push([e.t, `    ${e.t} ${w.id} ${e.server} ${what}`]);
        }
      }
    }
    for (const [, line] of events.sort((a, b) => a[0] - b[0])) lines.push(line);
    details.push(lines.join("\n"));
  }
  if (result.violations.length === 0) rmSync(dir, { recursive: true, force: true });
  return {
    result,
    disturbances,
    workers: done,
    rejoins,
    hintOverflows,
    elapsedMs,
    details,
    classes,
    historyDir: dir,
  };
}

export function unhandledCount(r: ChaosReport): number {
  return r.workers.reduce((n, w) => n + w.unhandled.count, 0);
}

export function firstUnhandled(r: ChaosReport): string | undefined {
  return r.workers.find((w) => w.unhandled.first !== undefined)?.unhandled.first;
}

function sumCounts(r: ChaosReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of r.workers) {
    for (const [k, n] of Object.entries(w.counts))
      if (k !== "ops" && k !== "hit" && k !== "miss") out[k] = (out[k] ?? 0) + n;
  }
  return out;
}

export function summarize(mode: string, r: ChaosReport): string {
  const c = r.result;
  const byAction: Record<string, number> = {};
  for (const d of r.disturbances) byAction[d.action] = (byAction[d.action] ?? 0) + 1;
  const vk = Object.entries(c.byKind)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return [
    `chaos (${mode}): ${(r.elapsedMs / 1000).toFixed(1)} s, ${r.workers.length} client processes (p0 through fault proxies), 3 servers, replicas 2`,
    `  disturbances: ${r.disturbances.length} (${Object.entries(byAction)
      .map(([a, n]) => `${a} ${n}`)
      .join(", ")}); not recovered within 10 s: ${r.disturbances.filter((d) => !d.recovered).length}`,
    `  rejoins: ${Object.entries(r.rejoins)
      .map(([h, n]) => `${h} ${n}`)
      .join(", ")}; hint overflows: ${r.hintOverflows}`,
    `  ops ${c.ops}: reads ${c.reads} (hits ${c.hits}, misses ${c.misses}, errors ${c.readErrors}), sets ${c.sets} (errors ${c.setErrors}), deletes ${c.deletes} (errors ${c.deleteErrors}), keys ${c.keys}`,
    `  operations issued by kind: ${Object.entries(sumCounts(r))
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
    `  rewarms run by the clients: ${r.workers.reduce((n, w) => n + (w.rewarms?.length ?? 0), 0)}, keys copied ${r.workers.reduce((n, w) => n + (w.rewarms ?? []).reduce((m, x) => m + x.copied, 0), 0)}`,
    `  violations: ${c.violations.length}${vk ? ` (${vk})` : ""}; unhandled rejections in the clients: ${unhandledCount(r)}`,
    ...Object.entries(r.classes).map(([cls, n]) => `    ${n} x ${cls}`),
  ].join("\n");
}
