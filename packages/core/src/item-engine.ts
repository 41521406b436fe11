import type { Codec, EncodedValue } from "./codec.js";
import type { FetchOptions, ReadThroughEngine, ResolvedFetchOptions } from "./read-through.js";
import type { TransportItem } from "./transport.js";

/**
 * Internal: the replication engine at the level of memcached items and wire keys, for the layers built on it
 * (namespaces and tags, `scope.ts`). Every call goes through the same replica lists, health, hints, write policy and
 * lease-guarded repair as the public operations; only key mapping and value coding are left to the caller.
 *
 * Not exported from the package index.
 */
export interface ItemEngine {
  /** The client's `keyPrefix` (already validated). */
  readonly keyPrefix: string;
  readonly codec: Codec;
  /** The TTL cap, seconds. */
  readonly maxTtl: number;
  /** A caller's TTL resolved: default applied, fractions rounded up, capped. */
  ttl(ttl: number | undefined): number;
  /** Throws `ValueTooLargeError` when `bytes` cannot be stored under `wireKey`. */
  checkSize(wireKey: string, bytes: number): void;
  /** Reads through the replica lists (failover, read-repair); per key the item, `null` (miss) or the error. */
  read(wireKeys: readonly string[], signal?: AbortSignal): Promise<Array<TransportItem | null | Error>>;
  /** Writes to every replica; per entry `true` (write policy met) or the error (`ReplicationError`). */
  write(entries: readonly WireEntry[], signal?: AbortSignal): Promise<Array<true | Error>>;
  /** `add` on the authority, copied to the other replicas. */
  add(entry: WireEntry, signal?: AbortSignal): Promise<boolean>;
  /** Deletes, last replica first; per key whether any replica held it, or the error. */
  delete(wireKeys: readonly string[], signal?: AbortSignal): Promise<Array<boolean | Error>>;
  invalidate(wireKey: string, staleTtl: number, signal?: AbortSignal): Promise<boolean>;
  touch(wireKey: string, ttl: number, signal?: AbortSignal): Promise<boolean>;
  counter(
    mode: "incr" | "decr",
    wireKey: string,
    delta: number | bigint,
    options: { ttl?: number; initial?: number | bigint; signal?: AbortSignal },
  ): Promise<number | undefined>;
  /** The read-through engine of the client, for `readThrough` with other encode/decode/accept hooks. */
  readThroughEngine(): ReadThroughEngine;
  resolveFetchOptions(options: FetchOptions | undefined): ResolvedFetchOptions;
  /** Counts requests the namespace/tag layer adds (generation reads and writes), for `stats()`. */
  countScopeRequests(n: number): void;
}

export interface WireEntry {
  key: string;
  value: EncodedValue;
  /** Whole seconds, already resolved and capped. */
  ttl: number;
}
