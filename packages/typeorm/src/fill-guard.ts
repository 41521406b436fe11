import type { ScopeSnapshot } from "@mcpair/core";
import type { QueryResultCacheOptions } from "typeorm/cache/QueryResultCacheOptions.js";

/**
 * Keeps a result read before a commit out of the cache when the commit's invalidation lands while the query runs.
 *
 * TypeORM splits a cached query in three calls: `getFromCache` (a miss), the database query, `storeInCache`. A core
 * `set(..., { tags })` seals the entry with the tag tokens it reads when it stores, after the query: in this
 * interleaving the stale rows would be stored under the new tokens and served, by every process, until their
 * duration ends.
 *
 *     reader (B)                                    writer (A)
 *     getFromCache: get ∥ snapshot(tags) → miss
 *     SELECT ... (old rows)
 *                                                   COMMIT; invalidateTags(table:user)
 *     storeInCache: set(old rows, { asOf })         ← dead on arrival: sealed with the pre-commit token
 *
 * So `getFromCache` takes core's `snapshot(tags)` (the namespace's and the tables' current tokens, created if
 * missing) in the same turn as the read, waits for it on a miss *before* returning (TypeORM runs the query only
 * after that), and `storeInCache` stores with `asOf: snapshot`: the entry carries the tokens read before the query.
 *
 * Why that is enough: if the stored rows miss a commit, the query read before that commit, so the commit's
 * invalidation (sent after the commit, see `write-invalidation.ts`) replaced the tag's token after the snapshot read
 * it; the entry carries the replaced token, and every read that starts after the invalidation resolved sees the new
 * one (core's "no going back" for generation items) and refuses the entry. If instead the invalidation landed before
 * the snapshot read the token, the commit preceded the query, which then saw it: the rows are fresh. A missing token
 * is created by the snapshot with `add`, so a concurrent invalidation either wins (the snapshot reads its token: the
 * commit came first) or overwrites it later (the entry is dead). The namespace's token is in the snapshot too, so a
 * `clear()` that lands while the query runs also leaves the entry dead. An invalidation that lands after the
 * snapshot but before the query read the database only costs a miss (the fresh rows are refused too): safe.
 *
 * What the argument assumes: the query reads the database as of no earlier than its own start. That holds for a
 * statement outside a transaction and under READ COMMITTED. A REPEATABLE READ or SERIALIZABLE transaction (and
 * SQLite's, from its first read) reads as of its start, which may precede the snapshot: a cached query inside such a
 * transaction can store rows that missed a commit made after the transaction began (as it could before this guard).
 *
 * Why a placeholder: TypeORM offers no channel from `getFromCache` to `storeInCache` but the value `getFromCache`
 * returns, which it hands back as `savedCache`. On a miss the provider returns an entry that `isExpired` reports
 * expired (TypeORM runs the query exactly as on `undefined`) carrying the snapshot in a symbol property. A hit carries
 * it too, unawaited: TypeORM re-checks expiry a moment later and may run the query after all; then `storeInCache`
 * waits for it. A map keyed by query in the provider would not do: two concurrent misses of one query would share it,
 * and an entry would leak whenever the query failed and `storeInCache` never came.
 */

const SNAPSHOT = Symbol("mcpair.typeorm.fill-snapshot");

/** A snapshot being taken (or taken), as `getFromCache` hands it to `storeInCache`. */
export type PendingSnapshot = Promise<ScopeSnapshot>;

/**
 * `saved` (a hit) with `snapshot` attached, or on a miss (`undefined`) an already expired placeholder carrying it.
 * A rejected `snapshot` rethrows where `storeInCache` awaits it (the caller must have handled it meanwhile).
 */
export function carrySnapshot(
  saved: QueryResultCacheOptions | undefined,
  snapshot: PendingSnapshot,
): QueryResultCacheOptions {
  const carrier: QueryResultCacheOptions = saved ?? { time: 0, duration: 0 };
  Object.defineProperty(carrier, SNAPSHOT, { value: snapshot });
  return carrier;
}

/** The snapshot `savedCache` carries, if it came from {@link carrySnapshot}. */
export function snapshotOf(saved: QueryResultCacheOptions | undefined): PendingSnapshot | undefined {
  return saved === undefined ? undefined : (saved as { [SNAPSHOT]?: PendingSnapshot })[SNAPSHOT];
}
