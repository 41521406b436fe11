import { createClient, createMemoryCluster } from "@mcpair/memcached";
import type { LocalCluster, LocalServer } from "./local-cluster.js";

/**
 * `count` in-process cache servers (`createMemoryCluster` from `@mcpair/core`), for machines without memcached.
 * Every client of the cluster shares them, as processes share real servers. A kill drops every item and gives the
 * server a new identity (a new pid, as a restarted memcached has), so mcpair's engine goes through the same rejoin
 * as with real processes.
 */
export function startMemoryCluster(count: number, why: string): LocalCluster {
  const cluster = createMemoryCluster(count);
  const running = cluster.names.map(() => true);
  const servers: LocalServer[] = cluster.names.map((name, i) => {
    const server = cluster.server(name);
    const down = async () => {
      // Unreachable at once (requests in flight fail), and empty with a new pid when it comes back.
      server.down();
      server.restart();
      running[i] = false;
    };
    return {
      name,
      label: `s${i + 1}`,
      get running() {
        return running[i]!;
      },
      kill: down,
      stop: down,
      async start() {
        server.up();
        running[i] = true;
      },
    };
  });
  return {
    kind: "memory",
    description: `${count} in-process cache servers (createMemoryCluster)`,
    fallbackReason: why,
    servers,
    createClient: (options) =>
      createClient({ ...options, servers: cluster.names, transport: cluster.transport }),
    close: () => cluster.close(),
  };
}
