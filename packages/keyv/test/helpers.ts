// Shared by the test files: three real memcached processes, a replicas-2 client over them, unique namespaces, and a
// CacheClient wrapper that counts the calls the store makes (to prove batches reach the batch operations).
import type { CacheClient, PairClient } from "@mcpair/core";
import { type ClientOptions, createClient } from "@mcpair/memcached";
import { type MemcachedServer, startMemcached } from "@mcpair/test-utils";

export interface Cluster {
  servers: MemcachedServer[];
  addresses: string[];
  client: PairClient;
  /** Another client over the same servers, as a second process would have. */
  connect(options?: Partial<ClientOptions>): PairClient;
  close(): Promise<void>;
}

/** Three memcached servers and a client with two replicas of every key. */
export async function startCluster(options: Partial<ClientOptions> = {}): Promise<Cluster> {
  const servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  const addresses = servers.map((s) => s.address);
  const clients: PairClient[] = [];
  const connect = (extra: Partial<ClientOptions> = {}): PairClient => {
    const c = createClient({ servers: addresses, replicas: 2, timeout: 5000, ...options, ...extra });
    clients.push(c);
    return c;
  };
  const client = connect();
  return {
    servers,
    addresses,
    client,
    connect,
    close: async () => {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    },
  };
}

let counter = 0;
/** A namespace (or key) no other test uses, so tests never see each other's entries. */
export function unique(label: string): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${++counter}`;
}

/** `cmd_flush` of every server: what `clear()` must never send. */
export async function flushCounts(servers: MemcachedServer[]): Promise<number[]> {
  return Promise.all(servers.map(async (s) => Number((await s.stats()).cmd_flush)));
}

/** Calls to each method of a client and of every namespace client made from it, with the number of keys. */
export interface CallLog {
  calls: Record<string, number>;
  keys: Record<string, number>;
  reset(): void;
}

const COUNTED = new Set(["get", "getMany", "set", "setMany", "delete", "deleteMany", "clear"]);

/** Wraps `client` so that every call the store makes is counted (namespace clients included). */
export function countingClient(client: CacheClient): { client: CacheClient; log: CallLog } {
  const log: CallLog = {
    calls: {},
    keys: {},
    reset() {
      log.calls = {};
      log.keys = {};
    },
  };
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, property, receiver) {
        const value = Reflect.get(t, property, receiver);
        if (typeof value !== "function") return value;
        const name = String(property);
        if (name === "namespace") return (ns: string) => wrap((value as (n: string) => object).call(t, ns));
        if (!COUNTED.has(name)) return value.bind(t);
        return (...args: unknown[]) => {
          log.calls[name] = (log.calls[name] ?? 0) + 1;
          const first = args[0];
          const n =
            typeof first === "string"
              ? 1
              : first === undefined
                ? 0
                : [...(first as Iterable<unknown>)].length;
          log.keys[name] = (log.keys[name] ?? 0) + n;
          return value.apply(t, args);
        };
      },
    });
  return { client: wrap(client), log };
}
