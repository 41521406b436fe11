/**
 * One thin adapter per client under test. The adapters return each library's own promise untouched (hits are judged
 * afterwards by `isHit` / `countHits`), so the harness adds no promise or closure of its own per operation except
 * where the library only has a callback API (3rd-Eden `memcached`), whose users must wrap it the same way.
 * Each library is imported only when its client is opened, so a child process holds one library's code, not six.
 */
import type { PairClient } from "@mcpair/memcached";
import { CLIENTS, type ClientId, type Servers } from "./config.js";

/** Lifetime of every benchmark item, in seconds. */
export const TTL = 3600;

export interface BenchClient {
  /** The multi-key read used for W2, as written in the table. */
  readonly multiGet: string;
  /** Resolves once the client can serve requests. */
  ready(): Promise<void>;
  get(key: string): Promise<unknown>;
  /** Whether a `get` result is a hit. */
  isHit(result: unknown): boolean;
  /** A `get` result as a string, `undefined` on a miss (for verification and the naive read-through). */
  text(result: unknown): string | undefined;
  set(key: string, value: string): Promise<unknown>;
  getMany(keys: string[]): Promise<unknown>;
  /** Number of hits in a `getMany` result. */
  countHits(result: unknown): number;
  delete(key: string): Promise<unknown>;
  close(): Promise<void>;
  /** The mcpair engine, for the storm and for its counters. */
  readonly pair?: PairClient;
}

/** Timeout given to every client that has one, so no client fails a benchmark only because its default is short. */
const TIMEOUT_MS = 5000;

export async function openClient(id: ClientId, servers: Servers): Promise<BenchClient> {
  const client = await build(id, servers);
  await client.ready();
  return client;
}

async function build(id: ClientId, servers: Servers): Promise<BenchClient> {
  const spec = CLIENTS[id];
  const list = spec.servers === 1 ? [servers.one] : servers.three;
  switch (spec.library) {
    case "mcpair": {
      // MCPAIR_BENCH_MEMCACHED: another build of @mcpair/memcached (a path to its dist/index.js), to compare two builds
      // of the transport in the same run of the harness (see index.ts).
      const { createClient } = (await import(
        process.env.MCPAIR_BENCH_MEMCACHED ?? "@mcpair/memcached"
      )) as typeof import("@mcpair/memcached");
      return mcpair(createClient({ servers: list, replicas: spec.replicas, timeout: TIMEOUT_MS }));
    }
    case "memcache-client":
      if (list.length !== 1)
        throw new Error("memcache-client's server list is for redundant servers, not sharding");
      return memcacheClient(list[0]!);
    case "memjs":
      return memjsClient(list);
    case "memcached":
      return memcached3rdEden(list);
    case "memcache":
      return memcacheJaredwray(list);
  }
}

const MCPAIR_SET = Object.freeze({ ttl: TTL });

function mcpair(client: PairClient): BenchClient {
  return {
    multiGet: "getMany",
    pair: client,
    // The first request connects; a version round trip per server is what `ready` waits for.
    ready: async () => {
      await client.set("bench:ready", "1", MCPAIR_SET);
      await client.get("bench:ready");
    },
    get: (key) => client.get(key),
    isHit: (r) => r !== undefined,
    text: (r) => (r === undefined ? undefined : String(r)),
    set: (key, value) => client.set(key, value, MCPAIR_SET),
    getMany: (keys) => client.getMany(keys),
    countHits: (r) => (r as Map<string, unknown>).size,
    delete: (key) => client.delete(key),
    close: () => client.close(),
  };
}

type McRetrieval = { value: unknown } | undefined;
// Not frozen: memcache-client writes `ignoreNotStored` into the options object it is given.
const MC_SET = { lifetime: TTL };

async function memcacheClient(server: string): Promise<BenchClient> {
  const { MemcacheClient } = await import("memcache-client");
  const client = new MemcacheClient({ server, cmdTimeout: TIMEOUT_MS });
  return {
    multiGet: "get([...keys])",
    ready: async () => {
      await client.version();
    },
    get: (key) => client.get(key),
    isHit: (r) => r !== undefined && (r as McRetrieval)?.value !== undefined,
    text: (r) => {
      const v = (r as McRetrieval)?.value;
      return v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString() : String(v);
    },
    set: (key, value) => client.set(key, value, MC_SET),
    getMany: (keys) => client.get(keys),
    countHits: (r) => (r === undefined ? 0 : Object.keys(r as object).length),
    delete: (key) => client.delete(key),
    close: async () => client.shutdown(),
  };
}

const MEMJS_SET = { expires: TTL };

async function memjsClient(servers: string[]): Promise<BenchClient> {
  const { default: memjs } = await import("memjs");
  // Several servers: memjs shards keys over them (hash of the key modulo the server count).
  // memjs logs every failure to the console by default; `timeout` is in seconds (default 0.5).
  const client = memjs.Client.create(servers.join(","), {
    timeout: TIMEOUT_MS / 1000,
    logger: { log: () => {} },
  });
  return {
    multiGet: "none: Promise.all(get × N)",
    ready: async () => {
      await client.set("bench:ready", "1", MEMJS_SET);
    },
    get: (key) => client.get(key),
    isHit: (r) => (r as { value: Buffer | null }).value !== null,
    text: (r) => (r as { value: Buffer | null }).value?.toString(),
    set: (key, value) => client.set(key, value, MEMJS_SET),
    getMany: (keys) => {
      const gets = new Array<Promise<{ value: Buffer | null }>>(keys.length);
      for (let i = 0; i < keys.length; i++) gets[i] = client.get(keys[i]!);
      return Promise.all(gets);
    },
    countHits: (r) => {
      let hits = 0;
      for (const item of r as Array<{ value: Buffer | null }>) if (item.value !== null) hits++;
      return hits;
    },
    delete: (key) => client.delete(key),
    close: async () => client.close(),
  };
}

async function memcached3rdEden(servers: string[]): Promise<BenchClient> {
  const { default: Memcached } = await import("memcached");
  // Defaults kept (poolSize 10 connections per server, no pipelining, keys sharded with hashring over several
  // servers); `retries: 0` so a failure surfaces instead of stalling.
  const client = new Memcached(servers.length === 1 ? servers[0]! : servers, {
    timeout: TIMEOUT_MS,
    retries: 0,
  });
  const call = <T>(fn: (cb: (err: unknown, data: T) => void) => void): Promise<T> =>
    new Promise((resolve, reject) => fn((err, data) => (err ? reject(err) : resolve(data))));
  return {
    multiGet: "getMulti",
    ready: () => call<unknown>((cb) => client.version(cb)).then(() => undefined),
    get: (key) => call((cb) => client.get(key, cb)),
    isHit: (r) => r !== undefined && r !== false,
    text: (r) => (r === undefined || r === false ? undefined : Buffer.isBuffer(r) ? r.toString() : String(r)),
    set: (key, value) => call((cb) => client.set(key, value, TTL, cb)),
    getMany: (keys) => call((cb) => client.getMulti(keys, cb)),
    countHits: (r) => (r === undefined ? 0 : Object.keys(r as object).length),
    delete: (key) => call((cb) => client.del(key, cb)),
    close: async () => client.end(),
  };
}

async function memcacheJaredwray(servers: string[]): Promise<BenchClient> {
  const { Memcache } = await import("memcache");
  // Several nodes: its default KetamaHash shards keys over them.
  const client = new Memcache({ nodes: servers, timeout: TIMEOUT_MS });
  return {
    multiGet: "gets([...keys])",
    ready: () => client.connect(),
    get: (key) => client.get(key),
    isHit: (r) => r !== undefined,
    text: (r) => (r === undefined ? undefined : String(r)),
    set: (key, value) => client.set(key, value, TTL),
    getMany: (keys) => client.gets(keys),
    countHits: (r) => (r as Map<string, string>).size,
    delete: (key) => client.delete(key),
    close: () => client.disconnect(),
  };
}
