/**
 * What the parent and its child processes agree on: client ids, workload definitions, and the messages they exchange.
 * Imports no client library, so the parent process never loads one (its RSS and CPU stay out of the measurements).
 */

export const CLIENT_IDS = [
  "mcpair-r1",
  "mcpair-r2",
  "memcache-client",
  "memjs",
  "memcached",
  "memcache",
] as const;
export type ClientId = (typeof CLIENT_IDS)[number];

export const PEERS: readonly ClientId[] = ["memcache-client", "memjs", "memcached", "memcache"];

export function isMcpair(id: ClientId): boolean {
  return id === "mcpair-r1" || id === "mcpair-r2";
}

/** How each client is named in the tables; `index.ts` appends the installed version of each peer. */
export const LABELS: Record<ClientId, string> = {
  "mcpair-r1": "mcpair replicas:1 (1 server)",
  "mcpair-r2": "mcpair replicas:2 (3 servers)",
  "memcache-client": "memcache-client",
  memjs: "memjs",
  memcached: "memcached (3rd-Eden)",
  memcache: "memcache (jaredwray)",
};

/** The npm package behind each peer. */
export const PEER_PACKAGES: Partial<Record<ClientId, string>> = {
  "memcache-client": "memcache-client",
  memjs: "memjs",
  memcached: "memcached",
  memcache: "memcache",
};

export type WorkloadId = "w1" | "w2" | "w3";

export interface WorkloadSpec {
  id: WorkloadId;
  title: string;
  /** Bytes per value. */
  valueSize: number;
  /** Keys written before measuring; every read targets one of them. */
  keys: number;
  /** Concurrent loops, each awaiting one operation at a time. */
  inflight: number;
  /** `mix`: 50/50 get/set of one key; `multi`: a multi-get of `batch` distinct random keys. */
  op: "mix" | "multi";
  batch: number;
}

export const WORKLOADS: Record<WorkloadId, WorkloadSpec> = {
  w1: {
    id: "w1",
    title: "W1: 100-byte values, 10k keys, 50/50 get/set, 64 in flight",
    valueSize: 100,
    keys: 10_000,
    inflight: 64,
    op: "mix",
    batch: 1,
  },
  w2: {
    id: "w2",
    title: "W2: multi-get of 100 random keys (100-byte values, 10k keys), 16 in flight",
    valueSize: 100,
    keys: 10_000,
    inflight: 16,
    op: "multi",
    batch: 100,
  },
  w3: {
    id: "w3",
    title: "W3: 16 KB values, 10k keys, 50/50 get/set, 64 in flight",
    valueSize: 16 * 1024,
    keys: 10_000,
    inflight: 64,
    op: "mix",
    batch: 1,
  },
};

export interface Servers {
  /** `host:port` of the server the peers and mcpair replicas:1 use. */
  single: string;
  /** The three servers mcpair replicas:2 uses. */
  trio: string[];
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
  | { type: "result"; result: JobResult }
  | { type: "failed"; error: string };
