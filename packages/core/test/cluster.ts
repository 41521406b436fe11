import { MemoryTransport, type MemoryTransportOptions } from "../src/memory-transport.js";
import type { PairClientOptions } from "../src/options.js";
import { PairClient } from "../src/pair-client.js";

/**
 * In-memory servers shared by any number of clients (as real servers are shared by processes). Closing a client
 * does not close the servers; `close()` here does.
 */
export function memoryCluster(specs: string[], options: MemoryTransportOptions = {}) {
  let clock = Date.now();
  // Bare names ("a") get a port so that each server's ring name is exactly the name given.
  const names = specs.map((n) => (n.includes(":") ? n : `${n}:1`));
  const servers = new Map(
    names.map((n) => [n, new MemoryTransport({ address: n, now: () => clock, timeout: 200, ...options })]),
  );
  const clients: PairClient[] = [];
  return {
    servers,
    server: (name: string) => servers.get(name.includes(":") ? name : `${name}:1`)!,
    /** Advances the servers' clock (expiry); clients keep real time for their timers. */
    advance(seconds: number) {
      clock += seconds * 1000;
    },
    client(opts: Partial<PairClientOptions> = {}): PairClient {
      const c = new PairClient({
        servers: names,
        ...opts,
        health: {
          checkInterval: 0,
          probeInterval: 20,
          maxProbeInterval: 50,
          rejoinQuarantine: 0,
          ...opts.health,
        },
        transport: (s) => shareable(servers.get(s.name)!),
      });
      clients.push(c);
      return c;
    },
    /** The replica servers of `key` as seen by `client`, primary first. */
    replicas(client: PairClient, key: string): MemoryTransport[] {
      return client.replicasOf(key).map((n) => servers.get(n)!);
    },
    async close() {
      for (const c of clients) await c.close();
      for (const s of servers.values()) await s.close();
    },
  };
}

/** A view of a shared server whose close()/destroy() leave the server running for the other clients. */
function shareable(t: MemoryTransport): MemoryTransport {
  return new Proxy(t, {
    get(target, prop) {
      if (prop === "close") return async () => undefined;
      if (prop === "destroy") return () => undefined;
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
