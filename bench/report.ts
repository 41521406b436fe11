/** Turning results into the printed tables and the verdict. */
import {
  type ClientId,
  isMcpair,
  LABELS,
  PEERS,
  type StormMode,
  type StormReaderResult,
  type StormWriterResult,
  type WorkloadResult,
  type WorkloadSpec,
} from "./config.js";
import { Histogram } from "./histogram.js";

/** Server-side counters (memcached `stats`), summed over the servers, during one measurement. */
export interface ServerDelta {
  cmdGet: number;
  getHits: number;
  getMisses: number;
  cmdSet: number;
}

export interface WorkloadRow {
  client: ClientId;
  result: WorkloadResult | undefined;
  failure: string | undefined;
  server: ServerDelta | undefined;
  /** The process was still alive 3 s after it answered (a handle left open by `close()`). */
  lingered: boolean;
  opsPerSec: number;
  p50: number;
  p99: number;
  p999: number;
  rssMb: number;
  /** Problems that make the row suspect; "BROKEN" ones exclude it from "fastest peer". */
  flags: string[];
}

export interface WorkloadReport {
  workload: WorkloadSpec;
  /** The best round of each client. */
  rows: WorkloadRow[];
  fastestPeer: WorkloadRow | undefined;
  /** ops/s of every round, per client, in round order. */
  rounds: Array<{ client: ClientId; opsPerSec: number[] }>;
}

export function workloadRow(
  client: ClientId,
  result: WorkloadResult | undefined,
  failure: string | undefined,
  server: ServerDelta | undefined,
  lingered: boolean,
): WorkloadRow {
  const flags: string[] = [];
  let opsPerSec = 0;
  let p50 = Number.NaN;
  let p99 = Number.NaN;
  let p999 = Number.NaN;
  let rssMb = Number.NaN;
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
  return { client, result, failure, server, lingered, opsPerSec, p50, p99, p999, rssMb, flags };
}

export function isBroken(row: WorkloadRow): boolean {
  return row.flags.some((f) => f.startsWith("BROKEN"));
}

export function fastestPeerOf(rows: readonly WorkloadRow[]): WorkloadRow | undefined {
  let best: WorkloadRow | undefined;
  for (const row of rows) {
    if (!PEERS.includes(row.client) || isBroken(row)) continue;
    if (!best || row.opsPerSec > best.opsPerSec) best = row;
  }
  return best;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : "-");
const mb = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");

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

export function formatWorkload(report: WorkloadReport): string {
  const { workload, rows, fastestPeer } = report;
  const multi = workload.op === "multi";
  const out: string[] = [];
  const body = rows.map((row) => {
    const label =
      LABELS[row.client] +
      (multi && row.result ? ` [${row.result.multiGet}]` : "") +
      (isBroken(row) ? " !!" : "");
    const ratio =
      fastestPeer && row.opsPerSec > 0 ? `${(row.opsPerSec / fastestPeer.opsPerSec).toFixed(2)}x` : "-";
    return [label, int(row.opsPerSec), ms(row.p50), ms(row.p99), mb(row.rssMb), ratio];
  });
  out.push(
    table(
      [
        "client",
        multi ? "ops/s (multi-gets)" : "ops/s",
        "p50 ms",
        "p99 ms",
        "peak RSS MB",
        "ratio to fastest peer (ops/s)",
      ],
      body,
    ),
  );
  out.push(
    fastestPeer
      ? `fastest peer: ${LABELS[fastestPeer.client]}${multi ? "; one op = one multi-get of 100 keys" : ""}`
      : "fastest peer: none (every peer failed)",
  );
  if (report.rounds.some((r) => r.opsPerSec.length > 1)) {
    out.push(
      `ops/s per round (best kept): ${report.rounds.map((r) => `${r.client} ${r.opsPerSec.map(int).join(" / ")}`).join("; ")}`,
    );
  }
  out.push(
    "reads seen by the harness during the measurement | memcached counters over the whole child (incl. prefill):",
  );
  for (const row of rows) {
    const r = row.result;
    const s = row.server;
    const seen = r
      ? `${int(r.hits)} hits / ${int(r.misses)} misses, prefill of ${int(workload.keys)} keys ${int(r.prefillMs)} ms`
      : "no result";
    const srv = s
      ? `get_hits ${int(s.getHits)}, get_misses ${int(s.getMisses)}, cmd_set ${int(s.cmdSet)}`
      : "-";
    const mc = r?.mcpair
      ? `; mcpair stats: hitsPrimary ${int(r.mcpair.hitsPrimary)}, hitsReplica ${int(r.mcpair.hitsReplica)}, misses ${int(r.mcpair.misses)}, server errors ${r.mcpair.errors}`
      : "";
    out.push(`  ${LABELS[row.client].padEnd(30)} ${seen} | ${srv}${mc}`);
    for (const flag of row.flags) out.push(`    !! ${flag}`);
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
  server: ServerDelta;
  flags: string[];
}

export function stormRow(
  mode: StormMode,
  client: ClientId,
  readers: StormReaderResult[],
  writer: StormWriterResult | undefined,
  failure: string | undefined,
  server: ServerDelta,
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
    LABELS[row.client],
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

// ─── verdict ────────────────────────────────────────────────────────────────────────────────────────────────────────

const mark = (ok: boolean) => (ok ? "PASS" : "MISS");

export function verdict(w1: WorkloadReport | undefined, storm: readonly StormRow[] | undefined): string {
  const parts: string[] = [];
  if (w1) {
    const peer = w1.fastestPeer;
    const r1 = w1.rows.find((r) => r.client === "mcpair-r1");
    const r2 = w1.rows.find((r) => r.client === "mcpair-r2");
    if (!peer) parts.push("W1: no working peer to compare with");
    else {
      const name = LABELS[peer.client];
      if (r1 && !isBroken(r1)) {
        const x = r1.opsPerSec / peer.opsPerSec;
        parts.push(`W1 replicas:1 ${x.toFixed(2)}x ${name} (goal >= 4x) ${mark(x >= 4)}`);
      } else if (r1) parts.push("W1 replicas:1 BROKEN");
      if (r2 && !isBroken(r2)) {
        const x = r2.opsPerSec / peer.opsPerSec;
        parts.push(`replicas:2 ${x.toFixed(2)}x (goal >= 2.5x) ${mark(x >= 2.5)}`);
      } else if (r2) parts.push("replicas:2 BROKEN");
      const p99s = [r1, r2].filter((r): r is WorkloadRow => r !== undefined && !isBroken(r));
      if (p99s.length > 0) {
        const ok = p99s.every((r) => r.p99 <= peer.p99);
        parts.push(
          `p99 ${p99s.map((r) => `${r.client === "mcpair-r1" ? "r1" : "r2"} ${ms(r.p99)}`).join(", ")} ms vs ${ms(peer.p99)} ms (goal <=) ${mark(ok)}`,
        );
      }
    }
  }
  if (storm && storm.length > 0) {
    const naive = storm.find((r) => r.mode === "naive");
    const inv = storm.find((r) => r.mode === "mcpair-invalidate");
    const del = storm.find((r) => r.mode === "mcpair-delete");
    if (naive && inv) {
      const fewer = naive.loads / Math.max(1, inv.loads);
      parts.push(
        `storm (invalidate): ${fewer.toFixed(0)}x fewer loader calls (goal >= 100x) ${mark(fewer >= 100)}, ` +
          `p99 ${ms(inv.p99)} vs ${ms(naive.p99)} ms ${mark(inv.p99 <= naive.p99)}`,
      );
    }
    if (naive && del) {
      const fewer = naive.loads / Math.max(1, del.loads);
      parts.push(
        `storm (delete): ${fewer.toFixed(0)}x fewer ${mark(fewer >= 100)}, p99 ${ms(del.p99)} vs ${ms(naive.p99)} ms ${mark(del.p99 <= naive.p99)}`,
      );
    }
  }
  return `VERDICT: ${parts.length > 0 ? parts.join("; ") : "nothing to judge (run w1 and storm)"}`;
}
