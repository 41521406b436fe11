import diagnostics from "node:diagnostics_channel";
import type { RepairOutcome } from "./read-repair.js";
import type { RewarmProgress } from "./rewarm.js";
import type { ServerState } from "./server-node.js";

/** The engine's own counters (the read-through's are in `ReadThroughCounters`). */
export interface EngineCounters {
  /** Reads answered by the key's primary (first readable replica). */
  hitsPrimary: number;
  /** Reads answered by a later replica after an earlier one missed (each one a database load saved). */
  hitsReplica: number;
  misses: number;
  /** Keys no replica could answer (each one either an error or, with `onUnavailable: "miss"`, a miss). */
  unavailable: number;
  /** Requests added by namespaces and tags (generation reads, creations and bumps). */
  scopeRequests: number;
  /** Reads that skipped the primary because it was down, draining, recovering or hinted. */
  failovers: number;
  repairs: number;
  /** Write-backs refused because a newer write, a delete or another lease got there first (as designed). */
  repairConflicts: number;
  repairFailures: number;
  /** Background repairs skipped because `maxPendingRepairs` were already in flight. */
  repairsDropped: number;
  /** Writes/deletes a replica missed, recorded in its hint log. */
  hintsRecorded: number;
  stateChanges: number;
}

export function createEngineCounters(): EngineCounters {
  return {
    hitsPrimary: 0,
    hitsReplica: 0,
    misses: 0,
    unavailable: 0,
    scopeRequests: 0,
    failovers: 0,
    repairs: 0,
    repairConflicts: 0,
    repairFailures: 0,
    repairsDropped: 0,
    hintsRecorded: 0,
    stateChanges: 0,
  };
}

export interface ClientStats extends EngineCounters {
  /** Loader calls made by `fetch`/`fetchMany` (each one a database query). */
  loads: number;
  /** Values served while marked stale by `invalidate`, during a refresh. */
  staleServed: number;
  /** Polling rounds spent waiting for another caller's refresh. */
  leaseWaits: number;
  /** Waits that ran out of time and loaded without the lease. */
  fetchTimeouts: number;
  /** Loads done without the cache because no replica answered. */
  uncachedLoads: number;
  /** Active rewarms, running or finished. */
  rewarm: RewarmProgress[];
  servers: ServerStatsSnapshot[];
}

export interface ServerStatsSnapshot {
  name: string;
  address: string;
  state: ServerState;
  errors: number;
  hints: number;
  hintsOverflowed: boolean;
}

export interface PairClientEvents {
  /** A server changed health state. */
  stateChange: (e: { server: string; from: ServerState; to: ServerState; reason: string }) => void;
  /** A write-back finished. */
  repair: (e: { key: string; from: string; to: string; outcome: RepairOutcome }) => void;
  /** A server missed more writes than its hint log holds: it will be flushed before it is read again. */
  hintOverflow: (e: { server: string; limit: number }) => void;
  /** A server that was down is read again. */
  rejoin: (e: { server: string; how: "restarted" | "replayed" | "flushed" | "clean" }) => void;
  /** A server fault (it is also counted and may mark the server down). */
  serverError: (e: { server: string; error: unknown }) => void;
}

/**
 * `node:diagnostics_channel` channels, published only when someone subscribes:
 * - `mcpair:server-state` `{ client, server, from, to, reason }`
 * - `mcpair:repair` `{ client, key, from, to, outcome }`
 * - `mcpair:hint-overflow` `{ client, server, limit }`
 */
export const channels = {
  serverState: diagnostics.channel("mcpair:server-state"),
  repair: diagnostics.channel("mcpair:repair"),
  hintOverflow: diagnostics.channel("mcpair:hint-overflow"),
} as const;
