import { InvalidArgumentError } from "./errors.js";
import { MemoryTransport, type MemoryTransportOptions } from "./memory-transport.js";
import type { PairClientOptions } from "./options.js";
import { PairClient } from "./pair-client.js";
import type { TransportFactory } from "./transport.js";

/** Options of {@link createMemoryCluster}. */
export interface MemoryClusterOptions extends Omit<MemoryTransportOptions, "address"> {
  /**
   * Server names (each `host:port`-shaped name places a server on the ring). A bare name gets `:11211`.
   * @default "mem-1:11211", "mem-2:11211", …
   */
  names?: readonly string[];
}

/** n in-process memcached servers that any number of clients share, with fault controls. */
export interface MemoryCluster {
  /** Server names, as clients list them in `servers`. */
  readonly names: readonly string[];
  /** Every server, by name: `down()`, `up()`, `pause()`, `resume()`, `hang()`, `slow(ms)`, `restart()`, `peek(key)`. */
  readonly servers: ReadonlyMap<string, MemoryTransport>;
  /** The server named `name` (a bare name or `host:port`). Throws `InvalidArgumentError` for an unknown one. */
  server(name: string): MemoryTransport;
  /**
   * A transport factory for `createClient({ servers: cluster.names, transport: cluster.transport })`: every client
   * gets a view of the shared servers whose `close()` leaves them running for the others.
   */
  readonly transport: TransportFactory;
  /** A new client on these servers (closed by `close()`). `servers` and `transport` are filled in. */
  client(options?: Partial<PairClientOptions>): PairClient;
  /** Closes every client made by `client()`, then every server. */
  close(): Promise<void>;
}

/**
 * Creates n in-process servers that several clients share, as real servers are shared by processes: for tests of
 * code that uses mcpair, for demos without a `memcached` binary, and for reproducing failover with the
 * `MemoryTransport` fault controls. Semantics follow memcached 1.6 (leases, stale markers, CAS, metadump); the same
 * conformance suite runs on it and on real servers.
 *
 * ```ts
 * const cluster = createMemoryCluster(3);
 * const a = cluster.client();
 * const b = cluster.client();            // another "process" on the same servers
 * cluster.server(cluster.names[0]).down(); // one server unreachable
 * await cluster.close();
 * ```
 */
export function createMemoryCluster(
  n: number | readonly string[],
  options: MemoryClusterOptions = {},
): MemoryCluster {
  const given = typeof n === "number" ? options.names : n;
  if (typeof n === "number" && (!Number.isInteger(n) || n < 1 || n > 64)) {
    throw new InvalidArgumentError(
      `createMemoryCluster: the number of servers must be from 1 to 64, got ${String(n)}`,
    );
  }
  const count = typeof n === "number" ? n : n.length;
  if (given !== undefined && given.length !== count) {
    throw new InvalidArgumentError(`createMemoryCluster: ${count} servers but ${given.length} names`);
  }
  const names = Array.from({ length: count }, (_, i) => {
    const name = given?.[i] ?? `mem-${i + 1}`;
    if (typeof name !== "string" || name.length === 0) {
      throw new InvalidArgumentError("createMemoryCluster: server names must be non-empty strings");
    }
    return name.includes(":") || name.startsWith("/") ? name : `${name}:11211`;
  });
  if (new Set(names).size !== names.length)
    throw new InvalidArgumentError("createMemoryCluster: names must be unique");
  const { names: _names, ...transportOptions } = options;
  const servers = new Map(
    names.map((name) => [name, new MemoryTransport({ ...transportOptions, address: name })]),
  );
  const clients: PairClient[] = [];
  const server = (name: string): MemoryTransport => {
    const s = servers.get(name) ?? servers.get(`${name}:11211`);
    if (!s)
      throw new InvalidArgumentError(`unknown server ${JSON.stringify(name)}; servers: ${names.join(", ")}`);
    return s;
  };
  const transport: TransportFactory = (address) => shared(server(address.name));
  return {
    names,
    servers,
    server,
    transport,
    client(clientOptions = {}) {
      const c = new PairClient({ servers: names, ...clientOptions, transport });
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await Promise.allSettled([...servers.values()].map((s) => s.close()));
    },
  };
}

/** A view of a shared server whose `close()`/`destroy()` leave it running for the other clients. */
function shared(t: MemoryTransport): MemoryTransport {
  return new Proxy(t, {
    get(target, prop) {
      if (prop === "close") return async () => undefined;
      if (prop === "destroy") return () => undefined;
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
