// @mcpair/prisma: a Prisma 7 query-cache extension on replicated memcached.

export { mcpairCache } from "./extension.js";
export type { CachedReadMethods, CacheModelComponent } from "./model-types.js";
export type {
  CacheArgs,
  CacheErrorContext,
  CachePolicy,
  CacheStrategy,
  McpairCacheOptions,
  ModelCachePolicy,
} from "./options.js";
export type { CacheControl } from "./query-cache.js";
export type { CacheStats } from "./stats.js";
