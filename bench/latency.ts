/**
 * A link with a real round-trip time for the latency-bound run: `latency-proxy.c` (compiled here with the system's C
 * compiler) in front of each server, delaying every chunk by half the RTT in each direction.
 *
 * Why not the alternatives: netem is not available in this VM's kernel (`tc qdisc add dev lo root netem` answers
 * "Specified qdisc kind is unknown"), and the fault proxy of `@mcpair/test-utils` delays chunks with `setTimeout`,
 * whose 1 ms floor per direction cannot express 0.5 ms of RTT and whose event loop would compete with the client.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

export interface LatencyLink {
  /** `127.0.0.1:<port>` in front of each target, in order. */
  addresses: string[];
  close(): void;
}

/** Compiles the proxy into `outDir` (when the source is newer); returns its path, or why it cannot be built. */
export function buildProxy(source: string, outDir: string): { path: string } | { error: string } {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, "latency-proxy");
  try {
    if (statSync(path).mtimeMs >= statSync(source).mtimeMs) return { path };
  } catch {
    // not built yet
  }
  try {
    execFileSync(process.env.CC ?? "cc", ["-O2", "-o", path, source], { stdio: "pipe" });
    return { path };
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    return {
      error: `cannot compile bench/latency-proxy.c with ${process.env.CC ?? "cc"}: ${e.stderr?.toString().trim() || e.message}`,
    };
  }
}

/** Starts one proxy process for every target (`host:port` on 127.0.0.1) with `rttMs` of added round trip. */
export async function startLink(
  binary: string,
  rttMs: number,
  targets: readonly string[],
): Promise<LatencyLink> {
  const oneWayUs = Math.round((rttMs * 1000) / 2);
  const ports = targets.map((t) => t.slice(t.lastIndexOf(":") + 1));
  // stdin stays a pipe held by this process: the proxy exits when it closes, so it never outlives the benchmark.
  const child: ChildProcess = spawn(binary, [String(oneWayUs), ...ports], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const addresses = await new Promise<string[]>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => reject(new Error("latency proxy did not print its ports within 5 s")),
      5000,
    );
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const lines = out.split("\n").filter(Boolean);
      if (lines.length >= targets.length) {
        clearTimeout(timer);
        resolve(lines.slice(0, targets.length).map((p) => `127.0.0.1:${p.trim()}`));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`latency proxy exited (code ${code}) before it listened`));
    });
  });
  return {
    addresses,
    close: () => {
      child.stdin?.end();
      child.kill("SIGKILL");
    },
  };
}

/** Median round trip of `mn` (memcached's no-op) to `address`, in milliseconds, over `count` sequential requests. */
export async function medianRoundTripMs(address: string, count = 200): Promise<number> {
  const [host, port] = address.split(":");
  const socket = connect({ host, port: Number(port) });
  socket.setNoDelay(true);
  let answered: (() => void) | undefined;
  let failed: Error | undefined;
  let got = "";
  socket.on("data", (chunk: Buffer) => {
    got += chunk.toString();
    if (got.endsWith("MN\r\n")) {
      got = "";
      answered?.();
    }
  });
  socket.on("error", (error) => {
    failed = error;
    answered?.();
  });
  await new Promise<void>((resolve) => {
    answered = resolve;
    socket.once("connect", resolve);
  });
  const times: number[] = [];
  try {
    for (let i = 0; i < count && failed === undefined; i++) {
      const started = performance.now();
      await new Promise<void>((resolve) => {
        answered = resolve;
        socket.write("mn\r\n");
      });
      times.push(performance.now() - started);
    }
  } finally {
    socket.destroy();
  }
  if (failed !== undefined) throw failed;
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}
