// @mcpair/prisma/next: EXPERIMENTAL store for Prisma Next's cache middleware (no semver promise).

export type {
  PrismaNextCachedEntry,
  PrismaNextCacheStore,
  PrismaNextCacheStoreOptions,
} from "./prisma-next.js";
export { createPrismaNextCacheStore } from "./prisma-next.js";
