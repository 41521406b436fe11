/**
 * Every operation against concurrent writes and deletes, in every ordering (design note, promises 1 and 2; traps 1,
 * 2, 3, 9, 10, 11, 12). The model checker is in `explorer/explore.ts`, the world in `explorer/world.ts`, the
 * operation pairs and the checker in `explorer/scenarios.ts`.
 *
 * Each case: key `k` on `replicas` replicas (2 or 3), one of which (primary, secondary or third) came back empty;
 * client X runs the operation under test while client Y writes or deletes the key; optionally one write request of
 * X or Y to one replica times out at the client (and is applied later, or never), and the servers' clock may jump
 * (tombstones and leases expire). Every ordering of the requests per server is run once (sleep-set reduction; the
 * reduction is cross-checked against full enumeration below), then the checker inspects every replica and reads the
 * key through a fresh client.
 *
 * `MCPAIR_EXPLORE=full` runs the whole matrix (every operation, both replica counts, every position, timeouts of X's
 * and of Y's requests, clock jumps; a few minutes); the default run covers every operation pair with a subset of the
 * timeout cases, within the suite's time budget. Both print the counts per case.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type ExploreResult, explore, useFakeTimers } from "./explorer/explore.js";
import { type Case, caseName, OPERATIONS, startCase } from "./explorer/scenarios.js";

const FULL = process.env.MCPAIR_EXPLORE === "full";

beforeAll(() => useFakeTimers());
afterAll(() => vi.useRealTimers());

interface Row {
  c: Case;
  r: ExploreResult;
  ms: number;
}

async function run(cases: Case[], budget?: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of cases) {
    const t0 = Date.now();
    const r = await explore(() => startCase(c), { limit: 1_000_000, maxViolations: 3, budget });
    rows.push({ c, r, ms: Date.now() - t0 });
  }
  return rows;
}

function report(title: string, rows: Row[]): void {
  const lines = [`${title}: ${rows.length} cases`];
  const pairs = new Map<string, { runs: number; cases: number; violations: number; partial: number }>();
  for (const { c, r } of rows) {
    const pair = `${c.x} × ${c.y}`;
    const p = pairs.get(pair) ?? { runs: 0, cases: 0, violations: 0, partial: 0 };
    p.runs += r.runs;
    p.cases++;
    p.violations += r.violations.length;
    if (r.partial) p.partial++;
    pairs.set(pair, p);
  }
  lines.push("| X × Y | cases | orderings run | violations |", "|---|---|---|---|");
  for (const [pair, p] of pairs) {
    lines.push(
      `| ${pair} | ${p.cases} | ${p.runs}${p.partial ? ` (${p.partial} cases bounded)` : ""} | ${p.violations} |`,
    );
  }
  const total = rows.reduce((n, { r }) => n + r.runs, 0);
  lines.push(`total orderings: ${total}; time ${(rows.reduce((n, x) => n + x.ms, 0) / 1000).toFixed(1)} s`);
  for (const { c, r } of rows) {
    if (r.violations.length > 0) lines.push(`VIOLATION in ${caseName(c)}:\n  ${r.violations[0]}`);
  }
  console.log(lines.join("\n"));
}

const violations = (rows: Row[]) =>
  rows.flatMap(({ c, r }) => r.violations.map((v) => `${caseName(c)}: ${v}`));

/** Y for X: read-through races "update the row, then delete the entry"; everything else a plain delete. */
const deleteFor = (x: string) => (x === "fetch" || x === "fetchMany" ? "rowUpdate" : "delete");

function matrix(xs: string[], replicas: ReadonlyArray<2 | 3>, ys: (x: string) => string[]): Case[] {
  const cases: Case[] = [];
  for (const x of xs) {
    for (const y of ys(x)) {
      for (const r of replicas) for (let p = 0; p < r; p++) cases.push({ x, y, replicas: r, position: p });
    }
  }
  return cases;
}

const ALL = Object.keys(OPERATIONS);
/**
 * With 3 replicas the default run covers the operations that copy between replicas or decide on one of them; the
 * others (batch forms run the same per-key protocols as their single forms) run in the full matrix.
 */
const THREE = new Set([
  "get",
  "getMany",
  "fetch",
  "fetchMany",
  "rewarm",
  "set",
  "add",
  "incr",
  "append",
  "cas",
  "delete",
]);

describe("interleavings: every operation keeps promises 1 and 2 in every ordering", () => {
  it("against a concurrent delete and a concurrent set, one replica empty, replicas 2 and 3", async () => {
    const cases = [
      ...matrix(ALL, [2], (x) => [deleteFor(x), "set"]),
      ...matrix(
        ALL.filter((x) => FULL || THREE.has(x)),
        [3],
        (x) => [deleteFor(x), "set"],
      ),
      // Edits and read-modify-writes against a concurrent read-through, whose leases put placeholders in their way.
      ...matrix(["append", "prepend", "replace", "add", "incr", "cas"], FULL ? [2, 3] : [2], () => ["fetch"]),
      // A lease placeholder of a read-through still loading is not a value.
      ...["replace", "append", "prepend", "add", "incr"].map(
        (x): Case => ({ x, y: "none", replicas: 2, position: 0, uncached: true, lease: true }),
      ),
    ];
    const rows = await run(cases);
    report("no timeouts", rows);
    expect(violations(rows)).toEqual([]);
  }, 600_000);

  it("with a request that times out at the client and is applied later, or never", async () => {
    const cases: Case[] = [];
    const yTimeouts = FULL ? ALL : ["get", "fetch"];
    const xTimeouts = FULL ? ALL : ["set", "incr", "append"];
    const replicas: ReadonlyArray<2 | 3> = FULL ? [2, 3] : [2];
    for (const r of replicas) {
      for (let p = 0; p < r; p++) {
        for (const x of yTimeouts)
          cases.push({ x, y: deleteFor(x), replicas: r, position: -1, timeout: { actor: "y", position: p } });
        for (const x of xTimeouts)
          cases.push({ x, y: "set", replicas: r, position: -1, timeout: { actor: "x", position: p } });
        // A token older than the client's own write, on a replica the write timed out on.
        cases.push({
          x: "casAfterWrite",
          y: "set",
          replicas: r,
          position: -1,
          timeout: { actor: "x", position: p },
        });
      }
    }
    // The delete's order through a timeout needs time to pass: tombstones expire, then a copy could fill the key
    // from the replica that missed the delete (the cascade re-deletes after the replay).
    for (let p = 0; p < 2; p++) {
      cases.push({
        x: "get",
        y: "delete",
        replicas: 2,
        position: -1,
        timeout: { actor: "y", position: p },
        age: true,
      });
    }
    const rows = await run(cases, FULL ? 20_000 : undefined);
    report("timeouts", rows);
    expect(violations(rows)).toEqual([]);
  }, 900_000);

  it("the sleep-set reduction finds what full enumeration finds", async () => {
    for (const c of [
      { x: "get", y: "delete", replicas: 2, position: 0 },
      { x: "rewarm", y: "set", replicas: 2, position: 1 },
      { x: "naiveRepair", y: "delete", replicas: 2, position: 0 },
    ] satisfies Case[]) {
      const reduced = await explore(() => startCase(c), { maxViolations: 1000 });
      const full = await explore(() => startCase(c), { maxViolations: 1000, reduce: false });
      expect(full.runs, caseName(c)).toBeGreaterThanOrEqual(reduced.runs);
      expect(reduced.violations.length > 0, caseName(c)).toBe(full.violations.length > 0);
    }
  }, 120_000);
});

describe("the checker finds the violations of deliberately broken variants", () => {
  it.each([
    ["naiveRepair", "delete", {}],
    ["naiveRepair", "set", {}],
    // Refused by the tombstone while it lives; after it expired, the add-mode write-back fills the deleted key.
    ["addModeRepair", "delete", { age: true }],
    ["getLoadSet", "rowUpdate", { uncached: true }],
  ] as const)("%s × %s", async (x, y, extra) => {
    const r = await explore(() => startCase({ x, y, replicas: 2, position: 0, ...extra }));
    console.log(
      `${x} × ${y}: ${r.runs} orderings, violations found: ${r.violations.length}\n  ${r.violations[0]}`,
    );
    expect(r.violations.length).toBeGreaterThan(0);
  });
});
