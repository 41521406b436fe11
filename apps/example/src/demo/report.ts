import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { CHART_SCRIPT } from "../charts.js";
import { PAGE_STYLE } from "../dashboard/page.js";
import type { PhaseResult, RunResult } from "./scenario.js";

const int = (n: number) => n.toLocaleString("en-US");
const ms = (v: number) => (Number.isNaN(v) ? "-" : v < 10 ? v.toFixed(2) : v.toFixed(1));
const ratio = (p: PhaseResult) =>
  p.totals.reads === 0 ? "-" : `${(100 * (1 - p.totals.loads / p.totals.reads)).toFixed(2)}%`;

/** The columns of the summary, one row per run and phase. Every number is a counter, none is estimated. */
export function summaryRows(runs: readonly RunResult[]): string[][] {
  const rows = [
    [
      "run",
      "phase",
      "time",
      "book reads",
      "DB reads",
      "DB writes",
      "hit ratio",
      "2nd-replica reads",
      "copies back/rewarmed",
      "p50 ms",
      "p99 ms",
      "errors",
      "stale reads",
    ],
  ];
  for (const run of runs) {
    for (const p of run.phases) {
      rows.push([
        run.label,
        p.name,
        `${(p.totals.at / 1000).toFixed(1)} s`,
        int(p.totals.reads),
        int(p.totals.dbReads),
        int(p.totals.dbWrites),
        ratio(p),
        int(p.totals.replicaReads),
        int(p.totals.copies),
        ms(p.p50),
        ms(p.p99),
        int(p.load.readErrors + p.load.writeErrors),
        p.name === "warm-up" ? "-" : `${p.load.stale} of ${int(p.load.checked)}`,
      ]);
    }
  }
  return rows;
}

/** A Markdown table (also readable as plain text). */
export function table(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const r of rows) for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  const line = (r: readonly string[]) =>
    `| ${r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i < 2 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join("\n");
}

export const phaseOf = (run: RunResult, name: string) => run.phases.find((p) => p.name === name);

/** The conclusions, computed from the runs: what a reader should take away, with the numbers behind it. */
export function headline(runs: readonly RunResult[]): string[] {
  const plain = runs.find((r) => r.kind === "replicas-1");
  const pairs = runs.find((r) => r.kind === "pairs");
  const lines: string[] = [];
  for (const name of ["rolling restart", "kill -9"]) {
    const a = plain && phaseOf(plain, name);
    const b = pairs && phaseOf(pairs, name);
    if (!a || !b) continue;
    const share =
      a.totals.dbReads === 0 ? "-" : `${((100 * b.totals.dbReads) / a.totals.dbReads).toFixed(2)}%`;
    lines.push(
      `${name === "kill -9" ? "one kill -9 and restart" : "rolling restart of every server"}: ` +
        `${int(a.totals.dbReads)} database reads with replicas: 1, ${int(b.totals.dbReads)} with mcpair (${share})`,
    );
  }
  const stale = runs.reduce((s, r) => s + r.phases.reduce((x, p) => x + p.load.stale, 0), 0);
  const checked = runs.reduce((s, r) => s + r.phases.reduce((x, p) => x + p.load.checked, 0), 0);
  lines.push(`stale reads found by the checker: ${stale} of ${int(checked)} reads checked`);
  return lines;
}

const requireFromHere = createRequire(import.meta.url);

/** `demo-report.html`: the summary and the charts, with uPlot inlined (opens without network access). */
export function reportHtml(runs: readonly RunResult[], info: { backend: string; when: Date }): string {
  const uplotJs = readFileSync(requireFromHere.resolve("uplot/dist/uPlot.iife.min.js"), "utf8");
  const uplotCss = readFileSync(requireFromHere.resolve("uplot/dist/uPlot.min.css"), "utf8");
  const esc = (s: string) => s.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!);
  const rows = summaryRows(runs);
  const htmlTable =
    `<table><thead><tr>${rows[0]!.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>` +
    rows
      .slice(1)
      .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`)
      .join("") +
    "</tbody></table>";
  const dbMax = Math.max(10, ...runs.flatMap((r) => r.series.db));
  // Both runs on one chart, second by second from the start of their steady load.
  const seconds = Math.max(0, ...runs.flatMap((r) => r.series.t.map(Math.round)));
  const overlay = [Array.from({ length: seconds + 1 }, (_, i) => i)];
  for (const r of runs) {
    const column: Array<number | null> = overlay[0]!.map(() => null);
    r.series.t.forEach((t, i) => {
      column[Math.round(t)] = r.series.db[i]!;
    });
    overlay.push(column as number[]);
  }
  // `</script>` cannot appear inside the JSON: labels are ours, but escape `<` anyway.
  const data = JSON.stringify(
    runs.map((r) => ({
      label: r.label,
      settings: r.settings,
      series: r.series,
      bands: r.bands,
      marks: r.marks,
    })),
  ).replace(/</g, "\\u003c");
  const overlayData = JSON.stringify({ labels: runs.map((r) => r.label), data: overlay });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mcpair demo report</title>
<style>${uplotCss}</style><style>${PAGE_STYLE}</style></head>
<body>
<h1>mcpair demo: a rolling restart of every cache server, with and without pairs</h1>
<p class="sub">${esc(info.backend)} · ${esc(info.when.toISOString())}</p>
<ul>${headline(runs)
    .map((l) => `<li>${esc(l)}</li>`)
    .join("")}</ul>
${htmlTable}
<div id="both" class="chart"></div>
<div id="charts"></div>
<script>${uplotJs}</script>
<script>
${CHART_SCRIPT}
var RUNS = ${data};
var BOTH = ${overlayData};
var COLORS = ["#d9480f", "#1971c2", "#2b8a3e"];
mcChart(document.getElementById("both"), { title: "Database queries per second, both runs (seconds since the steady load began)",
  time: false, height: 260, scales: { y: { range: [0, ${dbMax}] } }, data: BOTH.data,
  series: BOTH.labels.map(function (l, i) { return { label: l, stroke: COLORS[i % 3] }; }) });
RUNS.forEach(function (run, i) {
  var box = document.createElement("div");
  box.innerHTML = "<h3>" + run.label + "</h3><p class=sub>" + run.settings + "</p>";
  var db = document.createElement("div"), hit = document.createElement("div");
  db.className = hit.className = "chart";
  box.appendChild(db); box.appendChild(hit);
  document.getElementById("charts").appendChild(box);
  var hitPct = run.series.hit.map(function (v) { return v === null ? null : Math.round(v * 10000) / 100; });
  mcChart(db, { title: "Database queries per second", time: false, height: 220,
    series: [{ label: "DB queries/s", stroke: "#d9480f", fill: "rgba(217,72,15,0.12)" }],
    scales: { y: { range: [0, ${dbMax}] } }, data: [run.series.t, run.series.db], phases: run.bands, marks: run.marks });
  mcChart(hit, { title: "Cache hit ratio (%)", time: false, height: 180,
    series: [{ label: "hit ratio %", stroke: "#2b8a3e" }],
    scales: { y: { range: [0, 100] } }, data: [run.series.t, hitPct], phases: run.bands, marks: run.marks });
});
</script>
</body></html>`;
}
