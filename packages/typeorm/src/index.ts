// @mcpair/typeorm: a TypeORM 1.x query-result cache on replicated memcached, with invalidation on write.

export type { CachedQueryOptions } from "./cached-query.js";
export { cachedQuery } from "./cached-query.js";
export { mcpairTypeormCache } from "./factory.js";
export { defaultNamespace } from "./namespace.js";
export type { McpairQueryResultCacheOptions } from "./options.js";
export { isMcpairQueryResultCache, McpairQueryResultCache } from "./query-result-cache.js";
export type { TableReference } from "./sql-tables.js";
export { tablesOfQuery } from "./sql-tables.js";
export { TABLE_TAG_PREFIX, tableTag } from "./table-tags.js";
