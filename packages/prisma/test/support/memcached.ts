// Three real memcached servers, replicas 2: the layout of the proof.
import type { PairClient } from "@mcpair/core";
import { createClient } from "@mcpair/memcached";
import { type MemcachedServer, startMemcached } from "@mcpair/test-utils";

export interface TestCluster {
  servers: MemcachedServer[];
  /** A new client (another "process": its own connections and in-process state). */
  client(): PairClient;
  close(): Promise<void>;
}

export async function startCluster(): Promise<TestCluster> {
  const servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  const clients: PairClient[] = [];
  return {
    servers,
    client: () => {
      const c = createClient({ servers: servers.map((s) => s.address), replicas: 2, timeout: 2000 });
      clients.push(c);
      return c;
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}
