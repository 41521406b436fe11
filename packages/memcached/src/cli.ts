#!/usr/bin/env node
/**
 * `mcpair`: the operator's tool for planned maintenance of a memcached pool used by mcpair clients.
 *
 *   mcpair status  --servers a:11211,b:11211,c:11211 [--json]
 *   mcpair drain   <server> --servers ... [--ttl 3600] [--reason "kernel update"]
 *   mcpair undrain <server> --servers ...
 *   mcpair rewarm  <server> --servers ... [--rate 5000] [--concurrency 16]
 *
 * Everything goes through the same `PairClient` the applications use, so the drain marker, the status fields and
 * the rewarm placement are exactly what the clients see. Exit codes: 0 success, 1 the operation failed (drain,
 * undrain, rewarm; `status` reports unreachable servers instead of failing), 2 bad usage.
 */
import { parseArgs } from "node:util";
import { InvalidArgumentError, type PairClient, type RewarmProgress, type ServerStatus } from "@mcpair/core";
import { parseServers } from "@mcpair/core/internal";
import { createClient } from "./create-client.js";

const USAGE = `Usage: mcpair <command> [<server>] --servers <host:port,...> [options]

Commands:
  status              Show every server: state, drain marker, rewarm progress, items, hit ratio, pid,
                      uptime. A server is "up" once nothing is left to do: not "down", "draining",
                      "starting" (restarted moments ago) or "rewarming" (its keys are being copied back).
  drain <server>      Announce maintenance of <server>: every client process stops reading it
                      within its health.checkInterval (1 s by default). Writes continue, so an
                      aborted maintenance leaves nothing stale. The drain ends by itself when the
                      server comes back empty, or after --ttl.
  undrain <server>    Remove the drain marker: clients read <server> again after their next check.
  rewarm <server>     Copy to <server> the keys it should hold, read from its partners
                      (lease-guarded: never overwrites newer data). Prints progress.

Options:
  --servers <list>    Every server of the pool, comma-separated (host:port[:weight]), as the clients
                      are configured. Default: $MCPAIR_SERVERS.
  --ttl <seconds>     drain: lifetime of the marker, in case the server never restarts (default 3600).
  --reason <text>     drain: shown by status (default "maintenance").
  --rate <keys/s>     rewarm: most keys copied per second (default 5000).
  --concurrency <n>   rewarm: most copies in flight (default 16).
  --replicas <n>      rewarm: copies per key, as the clients are configured (default 2).
  --ring <kind>       rewarm: "ketama" or "rendezvous", as the clients are configured (default ketama).
  --timeout <ms>      Per-request timeout (default 1000).
  --json              status: print JSON instead of a table.
  -h, --help          Show this help.

Exit codes: 0 success, 1 the operation failed, 2 bad usage.
`;

const OPTIONS = {
  servers: { type: "string" },
  ttl: { type: "string" },
  reason: { type: "string" },
  rate: { type: "string" },
  concurrency: { type: "string" },
  replicas: { type: "string" },
  ring: { type: "string" },
  timeout: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Bad invocation: exit 2 with the usage text. */
class UsageError extends Error {}

interface Parsed {
  command: "status" | "drain" | "undrain" | "rewarm";
  server: string | undefined;
  servers: string[];
  ttl: number;
  reason: string;
  rate: number;
  concurrency: number;
  replicas: number;
  ring: "ketama" | "rendezvous";
  timeout: number;
  json: boolean;
}

function numberOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function integerOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const n = numberOption(name, raw, fallback, min, max);
  if (!Number.isInteger(n))
    throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(raw)}`);
  return n;
}

function parseFlags(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv): Parsed | "help" {
  const { values, positionals } = parseFlags(argv);
  if (values.help) return "help";
  const [command, server, ...extra] = positionals;
  if (command === undefined) throw new UsageError("missing command");
  if (command !== "status" && command !== "drain" && command !== "undrain" && command !== "rewarm") {
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
  if (command === "status" ? server !== undefined : extra.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(command === "status" ? server : extra[0])}`);
  }
  if (command !== "status" && server === undefined) throw new UsageError(`${command}: missing <server>`);
  const list = values.servers ?? env.MCPAIR_SERVERS;
  if (list === undefined || list.trim() === "") {
    throw new UsageError("missing --servers (or the MCPAIR_SERVERS environment variable)");
  }
  const servers = list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  try {
    parseServers(servers);
  } catch (error) {
    throw new UsageError(`--servers: ${(error as Error).message}`);
  }
  const ring = values.ring ?? "ketama";
  if (ring !== "ketama" && ring !== "rendezvous") {
    throw new UsageError(`--ring must be "ketama" or "rendezvous", got ${JSON.stringify(ring)}`);
  }
  const reason = values.reason ?? "maintenance";
  if (reason.length > 200) throw new UsageError("--reason must be at most 200 characters");
  return {
    command,
    server,
    servers,
    // The client caps every lifetime at its maxTtl (23 h by default): refuse more rather than cap silently.
    ttl: integerOption("ttl", values.ttl, 3600, 1, 82_800),
    reason,
    rate: numberOption("rate", values.rate, 5000, 0.001, 1_000_000),
    concurrency: integerOption("concurrency", values.concurrency, 16, 1, 1024),
    replicas: integerOption("replicas", values.replicas, 2, 1, 16),
    ring,
    timeout: integerOption("timeout", values.timeout, 1000, 1, 600_000),
    json: values.json ?? false,
  };
}

/** The configured name of `arg` (`host` alone means port 11211), or a usage error naming the configured ones. */
function resolveServer(client: PairClient, arg: string): string {
  const configured = client.servers;
  const direct = configured.find((s) => s.name === arg || s.address === arg);
  if (direct) return direct.name;
  let name: string | undefined;
  try {
    name = parseServers([arg])[0]?.name;
  } catch {
    name = undefined;
  }
  const match = configured.find((s) => s.name === name);
  if (match) return match.name;
  throw new UsageError(
    `${JSON.stringify(arg)} is not one of --servers (${configured.map((s) => s.name).join(", ")})`,
  );
}

function formatUptime(seconds: number | undefined): string {
  if (seconds === undefined) return "-";
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d > 0) return `${d}d${String(h).padStart(2, "0")}h`;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

function formatTable(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function statusTable(statuses: readonly ServerStatus[]): string {
  const rows = [
    ["SERVER", "STATE", "REACHABLE", "DRAINING", "REWARM", "ITEMS", "HIT RATIO", "PID", "UPTIME", "NOTE"],
  ];
  for (const s of statuses) {
    const drain = s.draining
      ? `yes: ${s.drain?.reason ?? "?"}${s.drain?.since ? ` (since ${s.drain.since})` : ""}`
      : "no";
    rows.push([
      s.name,
      s.state,
      s.reachable ? "yes" : "NO",
      s.reachable ? drain : "-",
      s.rewarm === undefined
        ? "-"
        : s.rewarm.state === "running"
          ? `${Math.floor(s.rewarm.progress * 100)}% (${s.rewarm.copied} copied)`
          : `done (${s.rewarm.copied} copied)`,
      s.items === undefined ? "-" : String(s.items),
      s.hitRatio === undefined ? "-" : `${(s.hitRatio * 100).toFixed(1)}%`,
      s.pid === undefined ? "-" : String(s.pid),
      formatUptime(s.uptime),
      s.error ?? "",
    ]);
  }
  return formatTable(rows);
}

function progressLine(p: RewarmProgress, now: number): string {
  const seconds = Math.max(0.001, ((p.finishedAt ?? now) - p.startedAt) / 1000);
  return (
    `rewarm ${p.server}: scanned ${p.scanned}, candidates ${p.candidates}, copied ${p.copied}, ` +
    `conflicts ${p.conflicts}, skipped ${p.skipped}, failed ${p.failed} ` +
    `(${seconds.toFixed(1)} s, ${Math.round(p.copied / seconds)} copies/s)`
  );
}

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

async function run(p: Parsed, io: Io): Promise<number> {
  const client = createClient({
    servers: p.servers,
    replicas: Math.min(p.replicas, p.servers.length),
    ring: p.ring,
    timeout: p.timeout,
    connectTimeout: p.timeout,
    // One short-lived process: no background checks, and any fault marks a server down at once, so a rewarm
    // skips an unreachable partner instead of waiting on it request after request. It never rewarms on its own.
    health: { checkInterval: 0, failureThreshold: 1 },
    rewarm: false,
  });
  try {
    const server = p.server === undefined ? undefined : resolveServer(client, p.server);
    switch (p.command) {
      case "status": {
        const statuses = await client.status();
        // The health is the one this client learned from its first check, which ran alongside `status`; what the
        // servers say (unreachable, drain marker, rewarm, restarted moments ago) comes first.
        const states = new Map(client.servers.map((s) => [s.name, s.state]));
        for (const s of statuses) {
          if (!s.reachable) s.state = "down";
          else if (s.state === "rewarming" || s.state === "starting") continue;
          else if (s.draining) s.state = "draining";
          else s.state = states.get(s.name) ?? s.state;
        }
        io.out(p.json ? JSON.stringify(statuses, null, 2) : statusTable(statuses));
        return 0;
      }
      case "drain": {
        try {
          await client.drain(server!, { ttl: p.ttl, reason: p.reason });
        } catch (error) {
          io.err(`mcpair: drain ${server} failed: ${(error as Error).message}`);
          return 1;
        }
        io.out(
          `draining ${server} (reason: ${p.reason}; marker expires in ${p.ttl} s). ` +
            "Clients stop reading it within their health.checkInterval (1 s by default); wait a little longer " +
            "before stopping it. The drain ends by itself when it comes back empty.",
        );
        return 0;
      }
      case "undrain": {
        try {
          await client.undrain(server!);
        } catch (error) {
          io.err(`mcpair: undrain ${server} failed: ${(error as Error).message}`);
          return 1;
        }
        io.out(`undrained ${server}: clients read it again after their next check.`);
        return 0;
      }
      case "rewarm": {
        // Learn which servers answer before copying: the target must, and unreachable partners are skipped.
        const statuses = await client.status();
        const target = statuses.find((s) => s.name === server);
        if (!target?.reachable) {
          io.err(
            `mcpair: rewarm ${server} failed: the server is unreachable (${target?.error ?? "no answer"})`,
          );
          return 1;
        }
        for (const s of statuses) {
          if (!s.reachable)
            io.err(`mcpair: partner ${s.name} is unreachable and is skipped: ${s.error ?? ""}`);
        }
        const started = Date.now();
        const ticker = setInterval(() => {
          const progress = client.stats().rewarm.find((r) => r.server === server);
          if (progress) io.out(progressLine(progress, Date.now()));
        }, 1000);
        let result: RewarmProgress;
        try {
          result = await client.rewarm(server!, { rate: p.rate, concurrency: p.concurrency });
        } catch (error) {
          io.err(`mcpair: rewarm ${server} failed: ${(error as Error).message}`);
          return 1;
        } finally {
          clearInterval(ticker);
        }
        io.out(progressLine(result, Date.now()));
        io.out(`rewarm ${server} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        if (result.failed > 0) {
          io.err(`mcpair: rewarm ${server}: ${result.failed} copies failed`);
          return 1;
        }
        return 0;
      }
    }
  } finally {
    // Everything awaited has settled; a paused server must not keep the process waiting on a graceful close.
    const closed = client.close().catch(() => undefined);
    const timer = setTimeout(() => client.destroy(), 2000);
    await closed;
    clearTimeout(timer);
  }
}

/** Runs the command line; resolves the exit code. */
async function main(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
  io: Io = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) },
): Promise<number> {
  let parsed: Parsed | "help";
  try {
    parsed = parseCommandLine(argv, env);
    if (parsed === "help") {
      io.out(USAGE);
      return 0;
    }
    return await run(parsed, io);
  } catch (error) {
    if (error instanceof UsageError || error instanceof InvalidArgumentError) {
      io.err(`mcpair: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`mcpair: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`mcpair: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
