import {
  InvalidArgumentError,
  PairClient,
  type PairClientOptions,
  type ServerSpec,
  type TransportFactory,
} from "@mcpair/core";
import type { SocketTransportOptions } from "./options.js";
import { createSocketTransportFactory } from "./socket-transport.js";

/** The connection settings `createClient` passes to every server's socket transport. */
type SocketSettings = Omit<SocketTransportOptions, "host" | "port" | "path" | "maxValueSize">;

/**
 * Options of {@link createClient}: the engine's options (replicas, TTL cap, write policy, health...) and the socket
 * settings (timeouts, TLS, auth, pool size, queue bound) in one object.
 */
export interface ClientOptions extends Omit<PairClientOptions, "transport" | "servers">, SocketSettings {
  /**
   * The memcached servers: `"host:port"`, `"host:port:weight"`, `"/path/to.sock"` or `{ host, port, weight, name }`.
   * `name` (default `"host:port"`) places a server on the ring, so a server can move to a new address under its old
   * name without moving keys.
   */
  servers: readonly ServerSpec[];
  /** Replaces the socket transport (e.g. `MemoryTransport` for tests and demos). @default meta-protocol sockets */
  transport?: TransportFactory;
}

const SOCKET_KEYS = [
  "tls",
  "auth",
  "connections",
  "connectTimeout",
  "timeout",
  "keepAlive",
  "noDelay",
  "reconnectStrategy",
  "maxQueue",
] as const satisfies ReadonlyArray<keyof SocketSettings>;

/**
 * Creates a replicated memcached client: every key on an ordered pair of servers (by default), written to both, read
 * from the first and repaired from the second, lifetimes capped at 23 hours.
 *
 * ```ts
 * const cache = createClient({ servers: ["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"] });
 * await cache.set("user:1", { name: "Ada" }, { ttl: 300 });
 * const user = await cache.get("user:1");
 * await cache.close();
 * ```
 */
export function createClient(options: ClientOptions): PairClient {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError("createClient: options must be an object");
  const socket: SocketSettings = {};
  for (const key of SOCKET_KEYS) {
    if (options[key] !== undefined) (socket as Record<string, unknown>)[key] = options[key];
  }
  const transport =
    options.transport ??
    createSocketTransportFactory(
      options.maxValueSize === undefined ? socket : { ...socket, maxValueSize: options.maxValueSize },
    );
  const engine: PairClientOptions = { ...options, transport };
  for (const key of SOCKET_KEYS) delete (engine as unknown as Record<string, unknown>)[key];
  return new PairClient(engine);
}
