import type { DataSource } from "typeorm";
import type { McpairQueryResultCacheOptions } from "./options.js";
import { resolveCacheOptions } from "./options.js";
import { McpairQueryResultCache } from "./query-result-cache.js";

/**
 * The one-line setup: a `cache.provider` for TypeORM's DataSource options.
 *
 * ```ts
 * new DataSource({ ..., cache: { provider: mcpairTypeormCache({ client, invalidateOnWrite: true }), ignoreErrors: true } })
 * ```
 *
 * The options are validated here, once, so a mistake surfaces where the DataSource is configured.
 * @throws {InvalidArgumentError} when an option is invalid.
 */
export function mcpairTypeormCache(
  options: McpairQueryResultCacheOptions,
): (dataSource: DataSource) => McpairQueryResultCache {
  resolveCacheOptions(options);
  return (dataSource) => new McpairQueryResultCache(dataSource, options);
}
