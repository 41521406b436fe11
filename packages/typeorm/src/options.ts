import { type CacheClient, InvalidArgumentError, isCacheClient } from "@mcpair/core";
import type { ClientOptions } from "@mcpair/memcached";

/** Options of {@link McpairQueryResultCache} and {@link mcpairTypeormCache}. */
export interface McpairQueryResultCacheOptions {
  /**
   * The memcached client: a `CacheClient` shared with the rest of the application (the cache never closes it), or
   * `createClient` options from `@mcpair/memcached` (the cache creates its own client in `connect()`, that is during
   * `dataSource.initialize()`, and closes it in `disconnect()`, during `dataSource.destroy()`).
   */
  client: CacheClient | ClientOptions;
  /**
   * Invalidate, on commit, every cached query that read a table written through TypeORM (entity events and
   * QueryBuilder writes on entities), in every process. Raw `query()` writes are not seen: call
   * `invalidateTables()` after them. Costs: each cached read also reads one small tag item per table with the entry,
   * and takes a snapshot of the namespace's and tables' tokens in parallel (no extra round trip on a hit; on a miss
   * the query waits for it, so that a write committed meanwhile leaves the stored result dead); each committed write
   * sends one tag invalidation (one round trip).
   * @default false
   */
  invalidateOnWrite?: boolean;
  /**
   * The namespace of this cache's entries and tags. Processes that share a database must share it (to share
   * entries and see each other's invalidations); apps on different databases must not. `clear()` empties exactly
   * this namespace.
   * @default "typeorm:<type>:<host>:<port>:<database>:<schema>" from the DataSource options (see `defaultNamespace`)
   */
  namespace?: string;
}

/** The options after validation. */
export interface ResolvedCacheOptions {
  client: CacheClient | undefined;
  clientOptions: ClientOptions | undefined;
  invalidateOnWrite: boolean;
  namespace: string | undefined;
}

/** Validates the options; throws `InvalidArgumentError` naming the option at fault. */
export function resolveCacheOptions(options: McpairQueryResultCacheOptions): ResolvedCacheOptions {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError("McpairQueryResultCache: options must be an object with a `client`");
  const { client, invalidateOnWrite = false, namespace } = options;
  if (typeof invalidateOnWrite !== "boolean")
    throw new InvalidArgumentError(
      `McpairQueryResultCache: option "invalidateOnWrite" must be a boolean, got ${typeof invalidateOnWrite}`,
    );
  if (namespace !== undefined && (typeof namespace !== "string" || namespace === ""))
    throw new InvalidArgumentError(
      `McpairQueryResultCache: option "namespace" must be a non-empty string, got ${JSON.stringify(namespace)}`,
    );
  if (isCacheClient(client)) return { client, clientOptions: undefined, invalidateOnWrite, namespace };
  if (
    client === null ||
    typeof client !== "object" ||
    !Array.isArray((client as ClientOptions).servers) ||
    (client as ClientOptions).servers.length === 0
  )
    throw new InvalidArgumentError(
      'McpairQueryResultCache: option "client" must be a CacheClient (e.g. from createClient) or createClient ' +
        'options with a non-empty "servers" list',
    );
  return { client: undefined, clientOptions: client as ClientOptions, invalidateOnWrite, namespace };
}
