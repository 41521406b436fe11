import { createServer } from "node:net";
import { runDemo } from "./run-demo.js";
import { FULL, SHORT } from "./scenario.js";

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
 * `npm run demo`: {@link runDemo} with the command line's options, and a clean exit whatever happens: on success,
 * on failure and on Ctrl-C, everything it started (load, app, clients, database, cache servers) is stopped.
 * Resolves the exit code.
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
    const port = args.port || (args.live ? await freePort() : 0);
    const { live } = await runDemo({
      config,
      log: out,
      report: args.report,
      onExit: (close) => shutdown.add(close),
      port,
      live: args.live,
    });
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
