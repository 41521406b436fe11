import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import type { Database } from "../db/database.js";
import { openDatabase } from "../db/open.js";
import type { LocalCluster } from "../local-cluster/local-cluster.js";
import { startLocalCluster } from "../local-cluster/start-local-cluster.js";
import { headline, reportHtml, summaryRows, table } from "./report.js";
import { FULL, type RunKind, type RunResult, runScenario, type Scenario, SHORT } from "./scenario.js";

export interface DemoArgs {
  live: boolean;
  short: boolean;
  port: number;
  report: string;
}

const USAGE = `usage: npm run demo -- [--live] [--short] [--port <n>] [--report <file>]
  --live          keep servers, app and load running after the scenario; prints the dashboard URL (Ctrl-C stops)
  --short         the short scenario the tests run (smaller catalogue, 1 s rejoin quarantine)
  --port <n>      the app's port (default: a free port)
  --report <file> where to write the HTML report (default: ./demo-report.html)`;

export function parseArgs(argv: readonly string[]): DemoArgs {
  const args: DemoArgs = { live: false, short: false, port: 0, report: "demo-report.html" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--live") args.live = true;
    else if (a === "--short") args.short = true;
    else if (a === "--port" || a === "--report") {
      const v = argv[++i];
      if (v === undefined) throw new TypeError(`${a} needs a value\n${USAGE}`);
      if (a === "--report") args.report = v;
      else {
        args.port = Number(v);
        if (!Number.isInteger(args.port) || args.port < 1 || args.port > 65535)
          throw new TypeError(`--port must be a port number from 1 to 65535, got ${v}`);
      }
    } else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new TypeError(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  return args;
}

/** Things to stop on the way out, newest first: on success, on failure, and on Ctrl-C. */
class Shutdown {
  readonly #closers: Array<() => Promise<unknown>> = [];
  #running: Promise<void> | undefined;

  add(close: () => Promise<unknown>): () => void {
    this.#closers.push(close);
    return () => {
      const i = this.#closers.indexOf(close);
      if (i >= 0) this.#closers.splice(i, 1);
    };
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const close of this.#closers.splice(0).reverse()) await close().catch(() => undefined);
    })();
    return this.#running;
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * `npm run demo`: the bookshop on three local cache servers under a steady load, the same maintenance twice
 * (`replicas: 1`, then mcpair's defaults), a summary table from the counters, and `demo-report.html`.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  const config = args.short ? SHORT : FULL;
  const shutdown = new Shutdown();
  const out = (line = "") => process.stdout.write(`${line}\n`);
  // A closed stdout (`npm run demo | head`) must not crash the demo with its servers running.
  const ignore = () => undefined;
  process.stdout.on("error", ignore);

  // Ctrl-C (or a SIGTERM from a supervisor): stop everything this process started, then leave.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    out(`\n${signal}: stopping the load, the app and the cache servers…`);
    const force = setTimeout(() => process.exit(130), 5000);
    force.unref();
    void shutdown.run().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    const startedAt = Date.now();
    let cluster: LocalCluster = await startLocalCluster(3);
    let closeCluster = shutdown.add(() => cluster.close());
    out(
      cluster.kind === "memcached"
        ? `mcpair demo: ${cluster.description}`
        : `mcpair demo: ${cluster.fallbackReason}: using ${cluster.description} instead of memcached processes`,
    );
    const db: Database = await openDatabase({ books: config.books });
    shutdown.add(() => db.close());
    out(`database: ${db.kind} (${db.location}), ${config.books} books${args.short ? "; short mode" : ""}`);
    const port = args.port || (args.live ? await freePort() : 0);

    const runs: RunResult[] = [];
    let live: Scenario["live"];
    const kinds: RunKind[] = ["replicas-1", "pairs"];
    for (const [i, kind] of kinds.entries()) {
      if (i > 0) {
        // Each run starts from fresh, empty servers.
        closeCluster();
        await cluster.close();
        cluster = await startLocalCluster(3);
        closeCluster = shutdown.add(() => cluster.close());
      }
      out();
      const scenario = await runScenario({
        cluster,
        db,
        config,
        kind,
        log: out,
        port,
        keep: args.live && i === kinds.length - 1,
        onApp: (app) => {
          if (args.live) out(`live dashboard: ${app.url}/dashboard`);
        },
      });
      runs.push(scenario.result);
      if (scenario.live) {
        live = scenario.live;
        shutdown.add(() => scenario.live!.close());
      }
    }

    out();
    out(table(summaryRows(runs)));
    out();
    for (const line of headline(runs)) out(line);
    for (const run of runs) for (const note of run.notes) out(`note (${run.label}): ${note}`);
    const reportPath = resolve(args.report);
    writeFileSync(
      reportPath,
      reportHtml(runs, { backend: `${cluster.description}; database: ${db.kind}`, when: new Date() }),
    );
    out(`report: ${reportPath}`);
    out(`total time: ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);

    if (live) {
      out();
      out(
        `live dashboard: ${live.app.url}/dashboard (servers, app and load keep running; Ctrl-C stops everything)`,
      );
      await new Promise(() => undefined); // until a signal
    }
    await shutdown.run();
    return 0;
  } catch (error) {
    if (interrupted) return 130;
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    await shutdown.run();
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.stdout.off("error", ignore);
  }
}
