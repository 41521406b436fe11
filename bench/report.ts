/** Turning results into the printed tables, the replication cost and the goals. */
import {
  CLIENTS,
  type ClientId,
  clientLabel,
  isMcpair,
  PEERS,
  requestsPerOp,
  type StormMode,
  type StormReaderResult,
  type StormWriterResult,
  type WorkloadResult,
  type WorkloadSpec,
} from "./config.js";
import { Histogram } from "./histogram.js";
import type { ServerCounters } from "./server-stats.js";

export interface WorkloadRow {
  client: ClientId;
  result: WorkloadResult | undefined;
  failure: string | undefined;
  /** The servers' counters over the whole child (prefill included). */
  server: ServerCounters | undefined;
  /** The servers' counters over the measured window only. */
  window: ServerCounters | undefined;
  /** The process was still alive 3 s after it answered (a handle left open by `close()`). */
  lingered: boolean;
  opsPerSec: number;
  p50: number;
  p99: number;
  p999: number;
  rssMb: number;
  /** CPU microseconds per operation: the client process, and the servers it used. */
  clientCpuUs: number;
  serverCpuUs: number;
  /** Requests the servers counted per operation during the window (a multi-get of 100 counts 100). */
  requests: number;
  /** Problems that make the row suspect; "BROKEN" ones exclude it from "fastest peer". */
  flags: string[];
}

export interface WorkloadReport {
  /** "w0".."w3", or "lat" for the latency-bound run. */
  step: string;
  workload: WorkloadSpec;
  title: string;
  /** Measured added round trip, for the latency-bound run. */
  addedRttMs?: number;
  /** The best round of each client. */
  rows: WorkloadRow[];
  /** ops/s of every round, per client, in round order. */
  rounds: Array<{ client: ClientId; opsPerSec: number[] }>;
}

export function workloadRow(
  client: ClientId,
  result: WorkloadResult | undefined,
  failure: string | undefined,
  server: ServerCounters | undefined,
  window: ServerCounters | undefined,
  lingered: boolean,
): WorkloadRow {
  const flags: string[] = [];
  let opsPerSec = 0;
  let p50 = Number.NaN;
  let p99 = Number.NaN;
  let p999 = Number.NaN;
  let rssMb = Number.NaN;
  let clientCpuUs = Number.NaN;
  let serverCpuUs = Number.NaN;
  let requests = Number.NaN;
  if (failure !== undefined || result === undefined) {
    flags.push(`BROKEN: the measurement failed: ${firstLine(failure ?? "no result")}`);
  } else {
    const h = new Histogram();
    h.merge(result.hist.counts, result.hist.count, result.hist.maxUs);
    opsPerSec = result.ops / result.seconds;
    p50 = h.quantileMs(0.5);
    p99 = h.quantileMs(0.99);
    p999 = h.quantileMs(0.999);
    rssMb = result.peakRssKb / 1024;
    if (result.ops > 0) {
      clientCpuUs = result.cpuUs / result.ops;
      if (window) {
        serverCpuUs = (window.cpuSeconds * 1e6) / result.ops;
        requests = (window.cmdGet + window.cmdSet) / result.ops;
      }
    }
    const reads = result.hits + result.misses;
    if (result.ops === 0) flags.push("BROKEN: no operation completed");
    else if (result.hits === 0) flags.push("BROKEN: every read missed");
    else if (result.misses / reads > 0.001) {
      flags.push(`${((100 * result.misses) / reads).toFixed(2)}% of reads missed (every key was prefilled)`);
    }
    if (result.verifyProblem) flags.push(`BROKEN: read-back check failed: ${result.verifyProblem}`);
    if (result.errors > 0) flags.push(`${result.errors} errors, first: ${result.firstError}`);
    if (result.closeMs === null) flags.push("close() did not finish within 5 s");
  }
  if (lingered) flags.push("process still alive 3 s after close() (open handles), killed");
  return {
    client,
    result,
    failure,
    server,
    window,
    lingered,
    opsPerSec,
    p50,
    p99,
    p999,
    rssMb,
    clientCpuUs,
    serverCpuUs,
    requests,
    flags,
  };
}

export function isBroken(row: WorkloadRow): boolean {
  return row.flags.some((f) => f.startsWith("BROKEN"));
}

/** The fastest working peer, on `servers` servers only when given. */
export function fastestPeer(rows: readonly WorkloadRow[], servers?: 1 | 3): WorkloadRow | undefined {
  let best: WorkloadRow | undefined;
  for (const row of rows) {
    if (!PEERS.includes(row.client) || isBroken(row)) continue;
    if (servers !== undefined && CLIENTS[row.client].servers !== servers) continue;
    if (!best || row.opsPerSec > best.opsPerSec) best = row;
  }
  return best;
}

/** Client plus server CPU per operation, in µs: on a machine whose cores are all busy, throughput follows its inverse. */
export function cpuPerOp(row: WorkloadRow): number {
  return row.clientCpuUs + row.serverCpuUs;
}

/** "CPU bound 2.19x = 11.4 / 5.2 µs": the throughput ratio the two rows' CPU per operation allows. */
function cpuBound(ours: WorkloadRow, theirs: WorkloadRow): string {
  const a = cpuPerOp(ours);
  const b = cpuPerOp(theirs);
  if (!Number.isFinite(a) || !Number.isFinite(b) || a <= 0) return "";
  return `; CPU bound ${(b / a).toFixed(2)}x = ${b.toFixed(1)} / ${a.toFixed(1)} µs client+server per op`;
}

export function rowOf(report: WorkloadReport | undefined, client: ClientId): WorkloadRow | undefined {
  const row = report?.rows.find((r) => r.client === client);
  return row && !isBroken(row) ? row : undefined;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
export const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : "-");
const mb = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
const us = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
const x = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}x` : "-");

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

/** An aligned, Markdown-compatible table: numbers right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) => i > 0 && rows.every((r) => /^[-\d.,x×%+ ]*$/.test(r[i] ?? "")));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** `replicas: 2 ÷ replicas: 1` on the same three servers, and the bound the extra requests put on it. */
export interface ReplicationCost {
  ratio: number;
  /** The ratio within each round (the two measured minutes apart at most), to show the spread. */
  perRound: number[];
  /** Requests per operation of replicas:1 ÷ those of replicas:2, from the workload's mix. */
  bound: number;
  /** The same bound from the requests the servers counted. */
  measuredBound: number;
}

export function replicationCost(report: WorkloadReport): ReplicationCost | undefined {
  const r1 = rowOf(report, "mcpair-r1x3");
  const r2 = rowOf(report, "mcpair-r2x3");
  if (!r1 || !r2) return undefined;
  const rounds1 = report.rounds.find((r) => r.client === "mcpair-r1x3")?.opsPerSec ?? [];
  const rounds2 = report.rounds.find((r) => r.client === "mcpair-r2x3")?.opsPerSec ?? [];
  const perRound = rounds1.map((a, i) => (rounds2[i] ?? 0) / a).filter((v) => Number.isFinite(v) && v > 0);
  return {
    ratio: r2.opsPerSec / r1.opsPerSec,
    perRound,
    bound: requestsPerOp(report.workload, 1) / requestsPerOp(report.workload, 2),
    measuredBound: r1.requests / r2.requests,
  };
}

export function formatWorkload(report: WorkloadReport): string {
  const { workload, rows } = report;
  const multi = workload.op === "multi";
  const out: string[] = [];
  const peerOne = fastestPeer(rows, 1);
  const peerThree = fastestPeer(rows, 3);
  const body = rows.map((row) => {
    const servers = CLIENTS[row.client].servers;
    const peer = servers === 1 ? peerOne : peerThree;
    const label =
      clientLabel(row.client) +
      (multi && row.result ? ` [${row.result.multiGet}]` : "") +
      (isBroken(row) ? " !!" : "");
    return [
      label,
      int(row.opsPerSec),
      ms(row.p50),
      ms(row.p99),
      mb(row.rssMb),
      us(row.clientCpuUs),
      us(row.serverCpuUs),
      Number.isFinite(row.requests) ? row.requests.toFixed(2) : "-",
      peer && row.opsPerSec > 0 ? x(row.opsPerSec / peer.opsPerSec) : "-",
    ];
  });
  out.push(
    table(
      [
        "client × servers",
        multi ? "multi-gets/s" : "ops/s",
        "p50 ms",
        "p99 ms",
        "peak RSS MB",
        "client CPU µs/op",
        "server CPU µs/op",
        "requests/op",
        "× fastest peer, same servers",
      ],
      body,
    ),
  );
  out.push(
    `fastest peer: one server ${peerOne ? clientLabel(peerOne.client) : "-"}; three servers ${peerThree ? clientLabel(peerThree.client) : "-"}` +
      (multi ? "; one op = one multi-get of 100 keys" : ""),
  );
  if (rows.some((r) => r.client === "memcache-client")) {
    out.push(
      "memcache-client has no three-server row: its server list is for redundant servers (each command goes to a random live server, keys are not routed), not sharding",
    );
  }
  const cost = replicationCost(report);
  if (cost) {
    out.push(
      `cost of replication, same three servers: replicas:2 ÷ replicas:1 = ${cost.ratio.toFixed(2)} ` +
        `(request bound ${cost.bound.toFixed(2)}: ${requestsPerOp(workload, 1).toFixed(2)} vs ${requestsPerOp(workload, 2).toFixed(2)} requests per operation; ` +
        `servers counted ${Number.isFinite(cost.measuredBound) ? cost.measuredBound.toFixed(2) : "-"})` +
        (cost.perRound.length > 1 ? `; per round ${cost.perRound.map((v) => v.toFixed(2)).join(", ")}` : ""),
    );
  }
  if (report.rounds.some((r) => r.opsPerSec.length > 1)) {
    out.push(
      `ops/s per round (best kept): ${report.rounds.map((r) => `${r.client} ${r.opsPerSec.map(int).join(" / ")}`).join("; ")}`,
    );
  }
  const flagged = rows.filter((r) => r.flags.length > 0);
  for (const row of flagged) {
    for (const flag of row.flags) out.push(`  !! ${clientLabel(row.client)}: ${flag}`);
  }
  return out.join("\n");
}

/** Hits, misses and server counters per row, for the log (not the summary). */
export function formatCounters(report: WorkloadReport): string {
  const out = [
    "reads seen by the harness during the measurement | memcached counters over the whole child (incl. prefill):",
  ];
  for (const row of report.rows) {
    const r = row.result;
    const s = row.server;
    const seen = r
      ? `${int(r.hits)} hits / ${int(r.misses)} misses, prefill of ${int(report.workload.keys)} keys ${int(r.prefillMs)} ms`
      : "no result";
    const srv = s
      ? `get_hits ${int(s.getHits)}, get_misses ${int(s.getMisses)}, cmd_set ${int(s.cmdSet)}`
      : "-";
    const mc = r?.mcpair
      ? `; mcpair: hitsPrimary ${int(r.mcpair.hitsPrimary)}, hitsReplica ${int(r.mcpair.hitsReplica)}, misses ${int(r.mcpair.misses)}, server errors ${r.mcpair.errors}`
      : "";
    out.push(`  ${clientLabel(row.client).padEnd(30)} ${seen} | ${srv}${mc}`);
  }
  return out.join("\n");
}

// ─── storm ──────────────────────────────────────────────────────────────────────────────────────────────────────────

export interface StormRow {
  mode: StormMode;
  client: ClientId;
  readers: StormReaderResult[];
  writer: StormWriterResult | undefined;
  failure: string | undefined;
  readsPerSec: number;
  p50: number;
  p99: number;
  loads: number;
  invalidations: number;
  rssMb: number;
  /** memcached's counters over the variant (all four servers). */
  server: ServerCounters;
  flags: string[];
}

export function stormRow(
  mode: StormMode,
  client: ClientId,
  readers: StormReaderResult[],
  writer: StormWriterResult | undefined,
  failure: string | undefined,
  server: ServerCounters,
): StormRow {
  const flags: string[] = [];
  const h = new Histogram();
  let reads = 0;
  let loads = 0;
  let seconds = 0;
  let rssKb = 0;
  let wrong = 0;
  let errors = 0;
  for (const r of readers) {
    h.merge(r.hist.counts, r.hist.count, r.hist.maxUs);
    reads += r.reads;
    loads += r.loads;
    seconds = Math.max(seconds, r.seconds);
    rssKb = Math.max(rssKb, r.peakRssKb);
    wrong += r.wrong;
    errors += r.errors;
    if (r.closeMs === null) flags.push("a reader's close() did not finish within 5 s");
  }
  if (failure) flags.push(`BROKEN: ${firstLine(failure)}`);
  if (reads === 0) flags.push("BROKEN: no read completed");
  if (wrong > 0) flags.push(`${wrong} reads returned no value or a wrong one`);
  if (errors > 0)
    flags.push(`${errors} reader errors, first: ${readers.find((r) => r.firstError)?.firstError}`);
  if (writer && writer.errors > 0) flags.push(`${writer.errors} writer errors, first: ${writer.firstError}`);
  return {
    mode,
    client,
    readers,
    writer,
    failure,
    readsPerSec: seconds > 0 ? reads / seconds : 0,
    p50: h.quantileMs(0.5),
    p99: h.quantileMs(0.99),
    loads,
    invalidations: writer?.writes ?? 0,
    rssMb: rssKb / 1024,
    server,
    flags,
  };
}

const STORM_LABELS: Record<StormMode, string> = {
  "mcpair-invalidate": "mcpair fetch + invalidate (stale-while-revalidate)",
  "mcpair-delete": "mcpair fetch + delete (waiters wait)",
  naive: "naive get → loader → set, writer deletes",
};

export function formatStorm(rows: readonly StormRow[], readersPerProcess: number): string {
  const out: string[] = [];
  const body = rows.map((row) => [
    STORM_LABELS[row.mode] + (row.flags.some((f) => f.startsWith("BROKEN")) ? " !!" : ""),
    clientLabel(row.client),
    `${row.readers.length} × ${readersPerProcess}`,
    int(row.readsPerSec),
    ms(row.p50),
    ms(row.p99),
    int(row.loads),
    row.invalidations > 0 ? (row.loads / row.invalidations).toFixed(2) : "-",
    int(row.invalidations),
    mb(row.rssMb),
  ]);
  out.push(
    table(
      [
        "variant",
        "client",
        "processes × readers",
        "reads/s",
        "p50 ms",
        "p99 ms",
        "loader calls",
        "loader calls / invalidation",
        "invalidations",
        "peak RSS MB (max of procs)",
      ],
      body,
    ),
  );
  for (const row of rows) {
    const perProcess = row.readers.map((r) => int(r.loads)).join(" + ");
    const mc = row.readers
      .map((r) => r.mcpair)
      .filter((m) => m !== undefined)
      .reduce(
        (a, m) => ({
          staleServed: a.staleServed + m.staleServed,
          leaseWaits: a.leaseWaits + m.leaseWaits,
          fetchTimeouts: a.fetchTimeouts + m.fetchTimeouts,
          uncachedLoads: a.uncachedLoads + m.uncachedLoads,
        }),
        { staleServed: 0, leaseWaits: 0, fetchTimeouts: 0, uncachedLoads: 0 },
      );
    const extra = isMcpair(row.client)
      ? `; staleServed ${int(mc.staleServed)}, leaseWaits ${int(mc.leaseWaits)}, fetchTimeouts ${int(mc.fetchTimeouts)}, uncachedLoads ${int(mc.uncachedLoads)}`
      : "";
    out.push(
      `  ${STORM_LABELS[row.mode]}: loader calls per process ${perProcess}${extra}; memcached saw ${int(row.server.cmdGet)} gets, ${int(row.server.cmdSet)} sets`,
    );
    for (const flag of row.flags) out.push(`    !! ${flag}`);
  }
  return out.join("\n");
}

// ─── goals ──────────────────────────────────────────────────────────────────────────────────────────────────────────

export interface Goal {
  name: string;
  /** What was measured, against what. */
  measured: string;
  pass: boolean;
}

/** The goals of issue 14 (and the storm's of issue 4), judged on the reports of this run. */
export function goals(
  reports: Partial<Record<string, WorkloadReport>>,
  storm: readonly StormRow[] | undefined,
): Goal[] {
  const out: Goal[] = [];
  for (const [step, min] of [
    ["w0", 0.85],
    ["w1", 0.6],
  ] as const) {
    const report = reports[step];
    const cost = report ? replicationCost(report) : undefined;
    if (cost) {
      const r1 = rowOf(report, "mcpair-r1x3")!;
      const r2 = rowOf(report, "mcpair-r2x3")!;
      out.push({
        name: `${step.toUpperCase()} replicas:2 ÷ replicas:1, same three servers >= ${min}`,
        measured:
          `${cost.ratio.toFixed(2)} (request bound ${cost.bound.toFixed(2)}` +
          (cost.perRound.length > 1
            ? `; per round ${cost.perRound.map((v) => v.toFixed(2)).join(", ")}`
            : "") +
          `${cpuBound(r2, r1)})`,
        pass: cost.ratio >= min,
      });
    }
  }
  for (const step of ["w0", "w1"]) {
    const report = reports[step];
    const r1 = rowOf(report, "mcpair-r1");
    const peer = report ? fastestPeer(report.rows, 1) : undefined;
    if (r1 && peer) {
      const ratio = r1.opsPerSec / peer.opsPerSec;
      out.push({
        name: `${step.toUpperCase()} replicas:1 on one server >= 4x the fastest one-server peer`,
        measured: `${ratio.toFixed(2)}x ${clientLabel(peer.client)}${cpuBound(r1, peer)}`,
        pass: ratio >= 4,
      });
    }
    const r2 = rowOf(report, "mcpair-r2x3");
    const memjs = rowOf(report, "memjs-x3");
    if (r2 && memjs) {
      const ratio = r2.opsPerSec / memjs.opsPerSec;
      out.push({
        name: `${step.toUpperCase()} replicas:2 >= 3x memjs on the same three servers`,
        measured: `${ratio.toFixed(2)}x${cpuBound(r2, memjs)}`,
        pass: ratio >= 3,
      });
    }
  }
  const w3 = reports.w3;
  const w3r2 = rowOf(w3, "mcpair-r2x3");
  const w3peer = w3 ? fastestPeer(w3.rows) : undefined;
  if (w3r2 && w3peer) {
    const ratio = w3r2.opsPerSec / w3peer.opsPerSec;
    out.push({
      name: "W3 replicas:2 >= 1x the fastest peer (unreplicated)",
      measured: `${ratio.toFixed(2)}x ${clientLabel(w3peer.client)}${cpuBound(w3r2, w3peer)}`,
      pass: ratio >= 1,
    });
  }
  // p99: every mcpair row against the fastest peer on the same servers (the peer its ratio names).
  const late: string[] = [];
  let compared = 0;
  for (const step of ["w0", "w1", "w2", "w3"]) {
    const report = reports[step];
    if (!report) continue;
    for (const row of report.rows) {
      if (!isMcpair(row.client) || isBroken(row)) continue;
      const peer = fastestPeer(report.rows, CLIENTS[row.client].servers);
      if (!peer) continue;
      compared++;
      if (!(row.p99 <= peer.p99)) {
        late.push(
          `${step} ${clientLabel(row.client)} ${ms(row.p99)} > ${clientLabel(peer.client)} ${ms(peer.p99)}`,
        );
      }
    }
  }
  if (compared > 0) {
    out.push({
      name: "p99 of every mcpair row <= the fastest peer's on the same servers",
      measured: late.length === 0 ? `${compared} rows` : late.join("; "),
      pass: late.length === 0,
    });
  }
  const lat = reports.lat;
  const lr2 = rowOf(lat, "mcpair-r2x3");
  const lr1 = rowOf(lat, "mcpair-r1x3");
  if (lat && lr2) {
    const peer = fastestPeer(lat.rows);
    if (peer) {
      out.push({
        name: `+${ms(lat.addedRttMs ?? Number.NaN)} ms RTT: replicas:2 ahead of every peer at 64 in flight`,
        measured: `${(lr2.opsPerSec / peer.opsPerSec).toFixed(2)}x ${clientLabel(peer.client)}`,
        pass: lr2.opsPerSec > peer.opsPerSec,
      });
    }
    if (lr1 && lat.addedRttMs !== undefined) {
      out.push({
        name: "+RTT: replicas:2 p99 within one RTT of replicas:1's",
        measured: `${ms(lr2.p99)} vs ${ms(lr1.p99)} + ${ms(lat.addedRttMs)} ms`,
        pass: lr2.p99 <= lr1.p99 + lat.addedRttMs,
      });
    }
  }
  if (storm && storm.length > 0) {
    const naive = storm.find((r) => r.mode === "naive");
    for (const mode of ["mcpair-invalidate", "mcpair-delete"] as const) {
      const row = storm.find((r) => r.mode === mode);
      if (!naive || !row) continue;
      const fewer = naive.loads / Math.max(1, row.loads);
      out.push({
        name: `storm (${mode.slice("mcpair-".length)}): >= 100x fewer loader calls, p99 <= naive`,
        measured: `${fewer.toFixed(0)}x fewer, p99 ${ms(row.p99)} vs ${ms(naive.p99)} ms`,
        pass: fewer >= 100 && row.p99 <= naive.p99,
      });
    }
  }
  return out;
}

export function formatGoals(list: readonly Goal[]): string {
  if (list.length === 0) return "GOALS: nothing to judge in this selection";
  return [
    "GOALS (ratios from this run):",
    ...list.map((g) => `  ${g.pass ? "PASS" : "MISS"}  ${g.name}: ${g.measured}`),
  ].join("\n");
}
