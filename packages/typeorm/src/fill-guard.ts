import { randomBytes } from "node:crypto";
import type { NamespaceClient } from "@mcpair/core";
import type { QueryResultCacheOptions } from "typeorm/cache/QueryResultCacheOptions.js";

/**
 * Keeps a result read before a commit out of the cache when the commit's invalidation lands while it is stored.
 *
 * TypeORM splits a cached query in three calls: `getFromCache` (a miss), the database query, `storeInCache`. Core
 * tags protect an entry whose writer read the tag tokens before the invalidation, but `set` reads them when it
 * stores, after the query: in this interleaving the stale rows would be stored under the new tokens and served,
 * by every process, until their duration ends.
 *
 *     reader (B)                              writer (A)
 *     getFromCache: miss
 *     SELECT ... (old rows)
 *                                             COMMIT; invalidate table:user
 *     storeInCache: set(old rows)             ← alive under the new token
 *
 * So each table tag also has a *write mark*, a random token in the namespace (`w:<tag>`) that the writer replaces
 * *before* it invalidates the tag. On a miss the reader snapshots the marks of its tags (one round trip, before the
 * query), hands the snapshot to `storeInCache` through the expired placeholder TypeORM passes back as `savedCache`,
 * stores, then reads the marks again and deletes its entry if any changed. Why that is enough: if the result is stale,
 * the query ran before the commit, so the snapshot predates the new mark; if the tag invalidation landed before the
 * store read the tag tokens (the entry is alive), the new mark, written before it, is seen by the check that follows
 * the store; otherwise the entry carries the old token and is dead once the invalidation lands. A mark that cannot
 * be read counts as changed: the entry is dropped, never kept on a guess. Deleting may remove a fresh entry written
 * by a concurrent reader: that only costs a miss.
 */

/** Lifetime of a write mark, in seconds: it must outlast the longest query between a snapshot and its check. */
const MARK_TTL = 3600;
const SNAPSHOT = Symbol("mcpair.typeorm.fill-snapshot");
/** Marks that could not be read: never equal to a real one. */
const UNREADABLE = "\u0000unreadable";

/** The write marks of some tags as read before a query. */
export type FillSnapshot = ReadonlyMap<string, string | undefined>;

const markKey = (tag: string): string => `w:${tag}`;

/** Reads the current marks of `tags` (one pipelined round trip). */
export async function snapshotMarks(client: NamespaceClient, tags: readonly string[]): Promise<FillSnapshot> {
  const keys = tags.map(markKey);
  const found = await client.getMany<string>(keys, { onUnavailable: "miss" });
  const unavailable = new Set(found.unavailable);
  return new Map(tags.map((tag, i) => [tag, unavailable.has(keys[i]!) ? UNREADABLE : found.get(keys[i]!)]));
}

/** Whether any mark differs from `snapshot` now (an unreadable mark counts as a change). */
export async function marksChanged(client: NamespaceClient, snapshot: FillSnapshot): Promise<boolean> {
  if (snapshot.size === 0) return false;
  const now = await snapshotMarks(client, [...snapshot.keys()]);
  for (const [tag, token] of snapshot) {
    if (token === UNREADABLE || now.get(tag) !== token) return true;
  }
  return false;
}

/** Replaces the marks of `tags`: call it before invalidating the tags themselves. */
export async function renewMarks(client: NamespaceClient, tags: readonly string[]): Promise<void> {
  await client.setMany(
    tags.map((tag) => [markKey(tag), randomBytes(9).toString("base64url")] as const),
    { ttl: MARK_TTL },
  );
}

/**
 * What `getFromCache` returns on a miss when the entry will carry tags: an entry that `isExpired` reports expired
 * (TypeORM then runs the query, exactly as on `undefined`) and that carries the snapshot to `storeInCache`.
 */
export function missWithSnapshot(snapshot: FillSnapshot): QueryResultCacheOptions {
  const placeholder: QueryResultCacheOptions = { time: 0, duration: 0 };
  Object.defineProperty(placeholder, SNAPSHOT, { value: snapshot });
  return placeholder;
}

/** The snapshot `savedCache` carries, if it is a placeholder from {@link missWithSnapshot}. */
export function snapshotOf(saved: QueryResultCacheOptions | undefined): FillSnapshot | undefined {
  return saved === undefined ? undefined : ((saved as { [SNAPSHOT]?: FillSnapshot })[SNAPSHOT] ?? undefined);
}
