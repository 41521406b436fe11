import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { openDatabase } from "../db/open.js";
import type { LocalCluster } from "../local-cluster/local-cluster.js";
import { startLocalCluster } from "../local-cluster/start-local-cluster.js";
import { headline, reportHtml, summaryRows, table } from "./report.js";
import { type RunKind, type RunResult, runScenario, type Scenario, type ScenarioConfig } from "./scenario.js";

/** Registers what must be stopped on the way out; returns a function that unregisters it. */
export type OnExit = (close: () => Promise<unknown>) => () => void;

export interface DemoOptions {
  config: ScenarioConfig;
  /** Output lines: the first one says what the cache servers are. */
  log: (line?: string) => void;
  /** Where to write the HTML report. */
  report: string;
  onExit: OnExit;
  /** The app's port (0: any). */
  port?: number;
  /** Keep the last run (mcpair defaults) running afterwards, and print its dashboard URL as each run starts. */
  live?: boolean;
}

export interface DemoResult {
  runs: RunResult[];
  kind: LocalCluster["kind"];
  reportPath: string;
  /** With `live`: the last run's app, client and load, still running (registered with `onExit`). */
  live: Scenario["live"];
}

/**
 * The whole demo: three local cache servers (memcached processes, or in-process servers when there is no memcached:
 * the first line says which and why), the bookshop's database, then the scenario twice on fresh servers, with
 * `replicas: 1` and with mcpair's defaults; the summary table, the conclusions and the HTML report.
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const { config, log } = o;
  const startedAt = Date.now();
  let cluster = await startLocalCluster(3);
  let forget = o.onExit(() => cluster.close());
  log(
    cluster.kind === "memcached"
      ? `mcpair demo: ${cluster.description}`
      : `mcpair demo: ${cluster.fallbackReason}: using ${cluster.description} instead of memcached processes`,
  );
  const db = await openDatabase({ books: config.books });
  o.onExit(() => db.close());
  log(`database: ${db.kind} (${db.location}), ${config.books} books`);

  const runs: RunResult[] = [];
  let live: Scenario["live"];
  const kinds: RunKind[] = ["replicas-1", "pairs"];
  for (const [i, kind] of kinds.entries()) {
    if (i > 0) {
      // Each run starts from fresh, empty servers.
      forget();
      await cluster.close();
      cluster = await startLocalCluster(3);
      forget = o.onExit(() => cluster.close());
    }
    log();
    const scenario = await runScenario({
      cluster,
      db,
      config,
      kind,
      log,
      port: o.port ?? 0,
      keep: o.live === true && i === kinds.length - 1,
      onApp: (app) => {
        if (o.live) log(`live dashboard: ${app.url}/dashboard`);
      },
    });
    runs.push(scenario.result);
    if (scenario.live) {
      live = scenario.live;
      o.onExit(() => scenario.live!.close());
    }
  }

  log();
  log(table(summaryRows(runs)));
  log();
  for (const line of headline(runs)) log(line);
  for (const run of runs) for (const note of run.notes) log(`note (${run.label}): ${note}`);
  const reportPath = resolve(o.report);
  writeFileSync(
    reportPath,
    reportHtml(runs, { backend: `${cluster.description}; database: ${db.kind}`, when: new Date() }),
  );
  log(`report: ${reportPath}`);
  log(`total time: ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
  return { runs, kind: cluster.kind, reportPath, live };
}
