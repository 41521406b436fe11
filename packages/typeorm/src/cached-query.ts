import { type CacheClient, type FetchOptions, InvalidArgumentError, isCacheClient } from "@mcpair/core";
import type { DataSource } from "typeorm";
import { isMcpairQueryResultCache } from "./query-result-cache.js";
import { tableList, tableTag } from "./table-tags.js";

/** Options of {@link cachedQuery}. */
export interface CachedQueryOptions extends Omit<FetchOptions, "ttl"> {
  /** Lifetime of the cached result, in seconds (fractions round up; capped at the client's `maxTtl`). */
  ttl: number;
  /**
   * Tables the query reads. With a DataSource whose cache has `invalidateOnWrite`, a committed write to any of
   * them through TypeORM stops the result from being served (the same table tags as cached TypeORM queries).
   * @default []
   */
  tables?: Iterable<string>;
  /** More core tags for the result (`invalidateTags` on the same client invalidates it). @default [] */
  tags?: readonly string[];
}

/** Prefix of `cachedQuery` keys in a cache's namespace, apart from TypeORM's `id:`/`q:` entries. */
const KEY_PREFIX = "fetch:";

/**
 * Runs `query` at most once per `key` across every process while its result is cached: concurrent callers in all
 * processes wait for the one that loads (memcached leases, core `fetch`), which TypeORM's provider interface cannot
 * offer (it never hands the provider the query to run).
 *
 * `source` is a DataSource whose `cache.provider` is a {@link McpairQueryResultCache} (the result then lives in the
 * cache's namespace: `clear()` removes it and table writes invalidate it), or any `CacheClient` (its own namespace
 * and tags; `tables` become `table:<name>` tags of that client).
 *
 * The result is stored as JSON: a cached result comes back as plain objects (class instances lose their prototype,
 * `Date`s become strings). Cache rows or plain values (`getRawMany()`, counts, ids) rather than entities, or map the
 * result yourself. A result of `undefined` is returned but not cached. When memcached is unreachable the query runs
 * uncached (`onUnavailable: "load"`, the default).
 *
 * ```ts
 * const top = await cachedQuery(dataSource, "top-authors", () =>
 *   dataSource.getRepository(Post).createQueryBuilder("p").select("p.authorId", "id").addSelect("COUNT(*)", "n")
 *     .groupBy("p.authorId").orderBy("n", "DESC").limit(10).getRawMany(),
 *   { ttl: 60, tables: ["post"] });
 * ```
 *
 * @throws {InvalidArgumentError} for a bad source, key, query or option.
 */
export async function cachedQuery<T>(
  source: DataSource | CacheClient,
  key: string,
  query: () => T | Promise<T>,
  options: CachedQueryOptions,
): Promise<T> {
  if (typeof key !== "string" || key === "")
    throw new InvalidArgumentError("cachedQuery: key must be a non-empty string");
  if (typeof query !== "function") throw new InvalidArgumentError("cachedQuery: query must be a function");
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError("cachedQuery: options must be an object with a `ttl` in seconds");
  const { ttl, tables = [], tags = [], ...fetchOptions } = options;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || !(ttl > 0))
    throw new InvalidArgumentError(
      `cachedQuery: option "ttl" must be a positive number of seconds, got ${ttl}`,
    );
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== "string"))
    throw new InvalidArgumentError('cachedQuery: option "tags" must be an array of strings');
  const tableNames = tableList(tables, 'cachedQuery: option "tables"');

  let client: CacheClient;
  let fullKey: string;
  let allTags: string[];
  if (isCacheClient(source)) {
    client = source;
    fullKey = key;
    allTags = [...tableNames.map(tableTag), ...tags];
  } else {
    const provider = (source as { queryResultCache?: unknown } | null)?.queryResultCache;
    if (!isMcpairQueryResultCache(provider))
      throw new InvalidArgumentError(
        "cachedQuery: source must be a CacheClient or a DataSource whose cache.provider is a McpairQueryResultCache",
      );
    client = provider.client;
    fullKey = KEY_PREFIX + key;
    allTags = [...provider.tagsOfTables(tableNames), ...tags];
  }
  return client.fetch<T>(fullKey, () => query(), {
    ...fetchOptions,
    ttl,
    ...(allTags.length > 0 ? { tags: [...new Set(allTags)] } : {}),
  });
}
