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
   * How long (seconds) one process holds the right to refresh a stale entry; another takes over after it. Equal to
   * core's `fetch` lease (`FETCH_DEFAULTS.leaseTtl`), which bounds the refresh the same way.
   */
  refreshLockTtl: 5,
  /**
   * Seconds added to the memcached lifetime of an entry beyond `ttl + swr`. memcached counts in whole seconds and an
   * item can expire up to one second early (a TTL of 1 can expire at once, measured): the extra second keeps the
   * entry until this package's own clock says it is stale.
   */
  expirySlack: 1,
} as const;
