import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMainThread } from "node:worker_threads";

/**
 * Everything the harness starts is registered here so that nothing outlives the test process:
 *
 * - `cleanupAll()` disposes of everything, asynchronously and in an orderly way (the usual path, from `afterAll`);
 * - on process `exit` and on SIGINT/SIGTERM/SIGHUP, memcached processes are killed synchronously. Vitest 4 stops
 *   its fork workers with SIGTERM, and a SIGTERM'd Node process does not emit `exit`, so the signal handlers are
 *   what catches a test file that forgot to clean up;
 * - a watchdog shell, fed the pids over a pipe, kills them when that pipe closes. It covers what no handler in this
 *   process can: a worker SIGKILLed (vitest does that 500 ms after SIGTERM if the event loop is blocked) or crashed.
 */

/** Something the harness started. */
export interface Tracked {
  /** Orderly teardown, used by {@link cleanupAll}. */
  dispose(): Promise<void>;
  /** Last-resort synchronous teardown, run when the process is exiting. Must not throw. */
  disposeSync(): void;
}

const tracked = new Set<Tracked>();
let hooksInstalled = false;
let tempRoot: string | undefined;

export function track(item: Tracked): void {
  installHooks();
  tracked.add(item);
}

export function untrack(item: Tracked): void {
  tracked.delete(item);
}

/**
 * This process's scratch directory (certificates, auth files, Unix sockets), created on first use and removed when
 * the process exits, or by the watchdog if it dies. World-readable: memcached reads its files after dropping root.
 */
export function processTempDir(): string {
  if (tempRoot === undefined) {
    installHooks();
    tempRoot = mkdtempSync(join(tmpdir(), "mcpair-test-"));
    chmodSync(tempRoot, 0o755);
    watchdogProcess();
  }
  return tempRoot;
}

/**
 * Kills every memcached process and closes every fault proxy and rogue server this module started (paused processes
 * are resumed first so they can die). Servers stay usable: `start()` brings one back on its port.
 */
export async function cleanupAll(): Promise<void> {
  const items = [...tracked];
  tracked.clear();
  const results = await Promise.allSettled(items.map((item) => item.dispose()));
  const errors = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (errors.length > 0) throw new AggregateError(errors, `cleanupAll: ${errors.length} teardown(s) failed`);
}

function disposeAllSync(): void {
  for (const item of tracked) {
    try {
      item.disposeSync();
    } catch {
      // exiting: keep going with the others
    }
  }
  tracked.clear();
  if (tempRoot !== undefined) rmSync(tempRoot, { recursive: true, force: true });
  tempRoot = undefined;
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", disposeAllSync);
  // Signals are delivered to the main thread only; a worker thread relies on `exit` and the watchdog.
  if (!isMainThread) return;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      disposeAllSync();
      process.removeListener(signal, onSignal);
      // Adding a listener replaced the default action (terminate). When nobody else handles the signal, restore
      // that action by raising it again; otherwise the other listeners decide.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

// The watchdog reads "+ <pid>" / "- <pid>" lines; at end of input (this process is gone, however it died) it resumes
// and kills the pids still listed, then removes the scratch directory ($1). It ignores the terminal's Ctrl-C, which
// reaches the whole process group.
const WATCHDOG_SCRIPT = `
trap '' INT TERM HUP
pids=" "
while read -r op pid; do
  case "$op" in
    +) pids="$pids$pid " ;;
    -) case "$pids" in *" $pid "*) pids="\${pids%% $pid *} \${pids#* $pid }" ;; esac ;;
  esac
done
for p in $pids; do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
[ -n "$1" ] && rm -rf -- "$1"
`;

let watchdog: ChildProcess | undefined | null;

function watchdogProcess(): ChildProcess | undefined {
  // First: creating the scratch directory starts the watchdog itself (which needs the directory's path).
  const scratch = processTempDir();
  if (watchdog === undefined) {
    try {
      const child = spawn("/bin/sh", ["-c", WATCHDOG_SCRIPT, "mcpair-watchdog", scratch], {
        stdio: ["pipe", "ignore", "ignore"],
      });
      child.on("error", () => {
        watchdog = null;
      });
      child.stdin?.on("error", () => {});
      // Neither the watchdog nor its pipe may keep this process alive.
      child.unref();
      (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      watchdog = child;
    } catch {
      watchdog = null;
    }
  }
  return watchdog ?? undefined;
}

/** Has the watchdog kill `pid` if this process dies without doing it. */
export function watchPid(pid: number): void {
  watchdogProcess()?.stdin?.write(`+ ${pid}\n`);
}

/** `pid` has exited: forget it, so that the watchdog never signals a recycled pid. */
export function unwatchPid(pid: number): void {
  if (watchdog) watchdog.stdin?.write(`- ${pid}\n`);
}

/** The watchdog's pid, for tests. */
export function watchdogPid(): number | undefined {
  return watchdog?.pid;
}
