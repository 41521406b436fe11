/**
 * What the parent and its child processes agree on: the clients, the workloads, and the messages they exchange.
 * Imports no client library, so the parent process never loads one (its RSS and CPU stay out of the measurements).
 *
 * A "client" here is a library on a set of servers. Every mcpair mode is compared with peers on the same servers:
 *
 *   one server     mcpair replicas:1  | memcache-client, memjs, memcached (3rd-Eden), memcache (jaredwray)
 *   three servers  mcpair replicas:1, mcpair replicas:2 | memjs, memcached, memcache (each shards keys over the three)
 *
 * memcache-client has no three-server row: its server list is for redundant servers (memcache-client 1.0.5's
 * `RedundantServers._getNode` sends each command to a random live server; keys are not routed), so on three servers a
 * get would mostly miss what a set wrote elsewhere. It is compared on one server, and through the latency proxy.
 */

export const LIBRARIES = ["mcpair", "memcache-client", "memjs", "memcached", "memcache"] as const;
export type Library = (typeof LIBRARIES)[number];

export const CLIENT_IDS = [
  "mcpair-r1",
  "memcache-client",
  "memjs",
  "memcached",
  "memcache",
  "mcpair-r1x3",
  "mcpair-r2x3",
  "memjs-x3",
  "memcached-x3",
  "memcache-x3",
] as const;
export type ClientId = (typeof CLIENT_IDS)[number];

export interface ClientSpec {
  library: Library;
  /** How many servers it is given (and shards over, or replicates over for replicas:2). */
  servers: 1 | 3;
  /** Copies of each key (mcpair only; 1 for every peer). */
  replicas: 1 | 2;
}

export const CLIENTS: Record<ClientId, ClientSpec> = {
  "mcpair-r1": { library: "mcpair", servers: 1, replicas: 1 },
  "memcache-client": { library: "memcache-client", servers: 1, replicas: 1 },
  memjs: { library: "memjs", servers: 1, replicas: 1 },
  memcached: { library: "memcached", servers: 1, replicas: 1 },
  memcache: { library: "memcache", servers: 1, replicas: 1 },
  "mcpair-r1x3": { library: "mcpair", servers: 3, replicas: 1 },
  "mcpair-r2x3": { library: "mcpair", servers: 3, replicas: 2 },
  "memjs-x3": { library: "memjs", servers: 3, replicas: 1 },
  "memcached-x3": { library: "memcached", servers: 3, replicas: 1 },
  "memcache-x3": { library: "memcache", servers: 3, replicas: 1 },
};

export function isMcpair(id: ClientId): boolean {
  return CLIENTS[id].library === "mcpair";
}

export const PEERS: readonly ClientId[] = CLIENT_IDS.filter((id) => !isMcpair(id));

/** The npm package behind each peer library. */
export const PEER_PACKAGES: Partial<Record<Library, string>> = {
  "memcache-client": "memcache-client",
  memjs: "memjs",
  memcached: "memcached",
  memcache: "memcache",
};

/** How each library is named in the tables; `index.ts` appends the installed version of each peer. */
export const LIBRARY_LABELS: Record<Library, string> = {
  mcpair: "mcpair",
  "memcache-client": "memcache-client",
  memjs: "memjs",
  memcached: "memcached (3rd-Eden)",
  memcache: "memcache (jaredwray)",
};

/** "mcpair replicas:2 ×3", "memjs 1.3.2 ×1". */
export function clientLabel(id: ClientId): string {
  const spec = CLIENTS[id];
  const name = spec.library === "mcpair" ? `mcpair replicas:${spec.replicas}` : LIBRARY_LABELS[spec.library];
  return `${name} ×${spec.servers}`;
}

export type WorkloadId = "w0" | "w1" | "w2" | "w3";

export interface WorkloadSpec {
  id: WorkloadId;
  title: string;
  /** Bytes per value. */
  valueSize: number;
  /** Keys written before measuring; every read targets one of them. */
  keys: number;
  /** Concurrent loops, each awaiting one operation at a time. */
  inflight: number;
  /** `mix`: get or set of one random key; `multi`: a multi-get of `batch` distinct random keys. */
  op: "mix" | "multi";
  /** Share of `mix` operations that are gets (the rest are sets). */
  readShare: number;
  batch: number;
}

export const WORKLOADS: Record<WorkloadId, WorkloadSpec> = {
  w0: {
    id: "w0",
    title: "W0: 100-byte values, 10k keys, 90/10 get/set, 64 in flight",
    valueSize: 100,
    keys: 10_000,
    inflight: 64,
    op: "mix",
    readShare: 0.9,
    batch: 1,
  },
  w1: {
    id: "w1",
    title: "W1: 100-byte values, 10k keys, 50/50 get/set, 64 in flight",
    valueSize: 100,
    keys: 10_000,
    inflight: 64,
    op: "mix",
    readShare: 0.5,
    batch: 1,
  },
  w2: {
    id: "w2",
    title: "W2: multi-get of 100 random keys (100-byte values, 10k keys), 16 in flight",
    valueSize: 100,
    keys: 10_000,
    inflight: 16,
    op: "multi",
    readShare: 1,
    batch: 100,
  },
  w3: {
    id: "w3",
    title: "W3: 16 KB values, 10k keys, 50/50 get/set, 64 in flight",
    valueSize: 16 * 1024,
    keys: 10_000,
    inflight: 64,
    op: "mix",
    readShare: 0.5,
    batch: 1,
  },
};

/**
 * Requests the servers see per operation: a get is one request (a hit on the primary, as every key is prefilled),
 * a set one per replica, a multi-get one per key. The ratio of two clients' figures bounds the ratio of their
 * throughput when the requests are what costs.
 */
export function requestsPerOp(workload: WorkloadSpec, replicas: number): number {
  if (workload.op === "multi") return workload.batch;
  return workload.readShare + (1 - workload.readShare) * replicas;
}

export interface Servers {
  /** `host:port` of the one-server rows. */
  one: string;
  /** The three servers of the three-server rows. */
  three: string[];
}

/** The storm's three contenders. */
export type StormMode = "mcpair-invalidate" | "mcpair-delete" | "naive";

export const STORM_KEY = "bench:storm:hot";
export const STORM_INTERVAL_MS = 100;
export const STORM_LOADER_MS = 1;

export type Job =
  | { kind: "baseline"; workload: WorkloadSpec }
  | {
      kind: "workload";
      workload: WorkloadSpec;
      client: ClientId;
      servers: Servers;
      warmupMs: number;
      measureMs: number;
    }
  | {
      kind: "storm-reader";
      mode: StormMode;
      client: ClientId;
      servers: Servers;
      readers: number;
      measureMs: number;
    }
  | {
      kind: "storm-writer";
      mode: StormMode;
      client: ClientId;
      servers: Servers;
      measureMs: number;
    };

export interface HistogramData {
  counts: number[];
  count: number;
  maxUs: number;
}

/** mcpair's own counters (`client.stats()`), the ones that say whether reads hit. */
export interface McpairCounters {
  hitsPrimary: number;
  hitsReplica: number;
  misses: number;
  repairs: number;
  loads: number;
  staleServed: number;
  leaseWaits: number;
  fetchTimeouts: number;
  uncachedLoads: number;
  errors: number;
}

export interface CommonResult {
  errors: number;
  firstError: string | undefined;
  /** Peak RSS of the child in kB (Linux `VmHWM`, see `readPeakRssKb` in child.ts), taken before the client is closed. */
  peakRssKb: number;
  /** Milliseconds `close()` took; `null` when it did not finish within 5 s. */
  closeMs: number | null;
  mcpair: McpairCounters | undefined;
}

export interface WorkloadResult extends CommonResult {
  kind: "workload";
  ops: number;
  seconds: number;
  /** CPU time (user + system) the child spent during the measurement, in microseconds. */
  cpuUs: number;
  hits: number;
  misses: number;
  /** null when a key read back equals what was written; otherwise what was wrong. */
  verifyProblem: string | null;
  prefillMs: number;
  multiGet: string;
  hist: HistogramData;
}

export interface StormReaderResult extends CommonResult {
  kind: "storm-reader";
  reads: number;
  seconds: number;
  loads: number;
  /** Reads that resolved to nothing or to something other than a value the loader returns. */
  wrong: number;
  hist: HistogramData;
}

export interface StormWriterResult extends CommonResult {
  kind: "storm-writer";
  writes: number;
  seconds: number;
}

/** A child that builds the harness's data (keys, values, histogram) and opens no client: the RSS floor. */
export interface BaselineResult {
  kind: "baseline";
  keys: number;
  valueSize: number;
  peakRssKb: number;
}

export type JobResult = WorkloadResult | StormReaderResult | StormWriterResult | BaselineResult;

export type ToChild = { type: "run"; job: Job } | { type: "go" };
export type FromChild =
  | { type: "ready" }
  /** The measured window opens or closes (the parent snapshots the servers' counters). */
  | { type: "window"; edge: "start" | "end" }
  | { type: "result"; result: JobResult }
  | { type: "failed"; error: string };
