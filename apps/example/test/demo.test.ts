// The demo scenario in short mode, on real memcached processes, checked from its summary: the same rolling restart
// and kill -9 cost the database (nearly) nothing with mcpair's pairs and a crunch with `replicas: 1`, and the stale-read
// checker found nothing in either run. The report is self-contained (uPlot inlined, no network).
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type DemoResult, runDemo } from "../src/demo/run-demo.js";
import { SHORT } from "../src/demo/scenario.js";

const closers: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

describe("npm run demo (short mode, real memcached)", () => {
  let demo: DemoResult;
  const lines: string[] = [];

  it("runs the scenario twice and writes the report", { timeout: 120_000 }, async () => {
    const dir = join(import.meta.dirname, "..", "..", "..", ".tmp", "example");
    mkdirSync(dir, { recursive: true });
    demo = await runDemo({
      config: SHORT,
      log: (line = "") => lines.push(line),
      report: join(dir, "demo-report.test.html"),
      onExit: (close) => {
        closers.push(close);
        return () => undefined;
      },
    });
    expect(demo.kind).toBe("memcached");
    expect(lines[0]).toMatch(/^mcpair demo: 3 memcached processes/);
    expect(demo.runs.map((r) => r.kind)).toEqual(["replicas-1", "pairs"]);
  });

  it("with pairs, the rolling restart costs at most 1% of the database reads it costs with replicas: 1", () => {
    const phase = (kind: string, name: string) =>
      demo.runs.find((r) => r.kind === kind)!.phases.find((p) => p.name === name)!;
    const plain = phase("replicas-1", "rolling restart");
    const pairs = phase("pairs", "rolling restart");
    // The baseline must show the crunch this test is about, or the comparison proves nothing.
    expect(plain.totals.dbReads).toBeGreaterThan(300);
    expect(pairs.totals.dbReads).toBeLessThanOrEqual(plain.totals.dbReads * 0.01);
    // Both runs served the same steady load through the maintenance.
    expect(pairs.totals.reads).toBeGreaterThan(plain.totals.reads * 0.8);
    // Pairs: reads answered by the other replica, copies written back or rewarmed.
    expect(pairs.totals.replicaReads).toBeGreaterThan(0);
    expect(pairs.totals.copies).toBeGreaterThan(0);
    expect(plain.totals.replicaReads).toBe(0);
    const crash = phase("pairs", "kill -9");
    expect(crash.totals.dbReads).toBeLessThanOrEqual(phase("replicas-1", "kill -9").totals.dbReads * 0.01);
  });

  it("finds no stale read, and no failed read with pairs", () => {
    for (const run of demo.runs) {
      for (const p of run.phases) expect(p.load.stale, `${run.label} / ${p.name}`).toBe(0);
      const checked = run.phases.reduce((s, p) => s + p.load.checked, 0);
      expect(checked).toBeGreaterThan(5000);
    }
    const pairs = demo.runs.find((r) => r.kind === "pairs")!;
    for (const p of pairs.phases) expect(p.load.readErrors + p.load.writeErrors, p.name).toBe(0);
    expect(pairs.notes).toEqual([]);
  });

  it("prints a summary whose numbers are the runs' counters", () => {
    const text = lines.join("\n");
    const pairs = demo.runs.find((r) => r.kind === "pairs")!;
    const restart = pairs.phases.find((p) => p.name === "rolling restart")!;
    const row = text
      .split("\n")
      .find((l) => l.startsWith("| mcpair defaults") && l.includes("rolling restart"))!;
    expect(row.split("|").map((c) => c.trim())[5]).toBe(restart.totals.dbReads.toLocaleString("en-US"));
    expect(text).toMatch(
      /rolling restart of every server: [\d,]+ database reads with replicas: 1, \d+ with mcpair/,
    );
    expect(text).toMatch(/stale reads found by the checker: 0 of [\d,]+ reads checked/);
    expect(text).toContain(`report: ${demo.reportPath}`);
  });

  it("writes a report that opens without network access", () => {
    const html = readFileSync(demo.reportPath, "utf8");
    expect(html).toContain("uPlot"); // the library, inlined
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).toContain("rolling restart");
    expect(html).toContain('"label":"mcpair defaults"');
  });
});
