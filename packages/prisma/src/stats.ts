/** Counters of one `mcpairCache` extension (`prisma.$cache.stats()`), since it was created. */
export interface CacheStats {
  /** Cached reads answered from memcached, fresh. */
  hits: number;
  /** Cached reads answered from memcached while stale (stale-while-revalidate). */
  staleHits: number;
  /**
   * Cached reads that ran the query in this process (each one Prisma query). Includes the loads core's `fetch` makes
   * without caching when no replica of the key can be read (counted by the memcached client's
   * `stats().uncachedLoads`): during an outage every cached read is a miss, and nothing fails.
   */
  misses: number;
  /** Background refreshes of stale entries this process ran. */
  refreshes: number;
  /** Reads that skipped the cache because they ran inside a transaction. */
  bypassed: number;
  /** Reads that fell back to the database because the cache failed (see `onError`). */
  fallbacks: number;
  /** Tag invalidations sent for writes, raw statements and `$cache.invalidate*` calls. */
  invalidations: number;
  /** Invalidations that failed (see `onError`). */
  invalidationErrors: number;
}

export function emptyStats(): CacheStats {
  return {
    hits: 0,
    staleHits: 0,
    misses: 0,
    refreshes: 0,
    bypassed: 0,
    fallbacks: 0,
    invalidations: 0,
    invalidationErrors: 0,
  };
}
