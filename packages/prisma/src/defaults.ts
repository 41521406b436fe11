/** Every default of `@mcpair/prisma` in one place. */
export const DEFAULTS = {
  /** Namespace of the entries and tags. */
  namespace: "prisma",
  /** Writes invalidate the cached reads of the models they touch. */
  invalidateOnWrite: true,
  /** Reads inside interactive transactions go straight to the database. */
  transactionReads: "bypass",
  /** Raw statements invalidate every model. */
  rawWrites: "invalidateAll",
  /** Seconds of stale-while-revalidate when a policy names none. */
  swr: 0,
  /**
   * Seconds one caller may hold the right to run a query (core's `fetch` lease, and the background-refresh lock)
   * before another caller takes over. Core's own default (`FETCH_DEFAULTS.leaseTtl`).
   */
  leaseTtl: 5,
  /** Longest wait, in ms, for another caller's query before running it here, uncached. Core's `fetch` default. */
  waitTimeout: 10_000,
  /**
   * Seconds added to the memcached lifetime of an entry beyond `ttl + swr`. memcached counts in whole seconds and an
   * item can expire up to one second early (a TTL of 1 can expire at once, measured): the extra second keeps the
   * entry until this package's own clock says it is stale.
   */
  expirySlack: 1,
} as const;
