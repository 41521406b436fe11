import { createClient } from "@mcpair/memcached";
import { type MemcachedServer, startMemcached } from "@mcpair/test-utils";
import type { LocalCluster, LocalServer } from "./local-cluster.js";

/**
 * `count` real memcached processes on free ports of 127.0.0.1, through the repository's test harness
 * (`@mcpair/test-utils`, bundled into this app's build). The harness guarantees what a demo must: no orphan process,
 * however this process ends. It kills its servers on exit and on SIGINT/SIGTERM/SIGHUP, and a watchdog shell, fed
 * the pids over a pipe, kills them when that pipe closes (this process was SIGKILLed or crashed).
 */
export async function startMemcachedProcesses(count: number, bin: string): Promise<LocalCluster> {
  const started: MemcachedServer[] = [];
  try {
    for (let i = 0; i < count; i++) started.push(await startMemcached({ memoryMb: 64 }));
  } catch (error) {
    await Promise.allSettled(started.map((s) => s.kill()));
    throw error;
  }
  const servers: LocalServer[] = started.map((s, i) => ({
    name: s.address,
    label: `s${i + 1}`,
    get running() {
      return s.running;
    },
    kill: () => s.kill(),
    stop: () => s.stop(),
    start: () => s.start(),
  }));
  let closed = false;
  return {
    kind: "memcached",
    description: `${count} memcached processes (${bin}) on ${started.map((s) => s.address).join(", ")}`,
    servers,
    createClient: (options) => createClient({ ...options, servers: servers.map((s) => s.name) }),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled(started.map((s) => s.kill()));
    },
  };
}
