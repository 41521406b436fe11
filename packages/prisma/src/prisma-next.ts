import { type CacheClient, InvalidArgumentError, isCacheClient, type NamespaceClient } from "@mcpair/core";
import type { ClientOptions } from "@mcpair/memcached";
import { createClient } from "@mcpair/memcached";
import { deserializeResult, serializeResult } from "./serialize.js";

/**
 * EXPERIMENTAL: a store for Prisma Next's cache middleware (`@prisma-next/middleware-cache`, `createCacheMiddleware({
 * store })`), on replicated memcached. Prisma Next is pre-1.0 and its cache middleware is not published yet: the
 * interface below is declared here (the subset the middleware calls, as kysely declares a driver's), from its
 * `CacheStore` in the Prisma Next sources, and may change with it. No semver promise.
 *
 * - `get`/`set`: entries (raw rows as the driver returned them) round-trip exactly (Date, Buffer, Uint8Array, BigInt,
 *   null vs. missing), under keys of any length (the middleware's BLAKE2b digests, or the user's own key).
 * - `delByTag`: on core's tags, so every process stops serving the tagged entries once it resolves; no key listing.
 * - `del`, `incr` (and the middleware's generation keys, `__prisma_next_cache:generation:*`, kept as memcached counters).
 * - No `list`: memcached cannot enumerate keys cheaply, so the middleware's `uncacheOnMutation` and
 *   `uncacheAnnotation` (which need it) are not supported; use tags.
 * - The store never rejects a `get` or `set` because of memcached: a failed read is a miss and a failed write is
 *   dropped (`onError` is told), so the cache never fails a query.
 */

/** A cached execution, as Prisma Next's cache middleware stores it. */
export interface PrismaNextCachedEntry {
  readonly rows: readonly Record<string, unknown>[];
  readonly storedAt: number;
  readonly tags?: readonly string[] | undefined;
}

/** Prisma Next's `CacheStore` (the middleware's pluggable backend), less `list`. */
export interface PrismaNextCacheStore {
  get(key: string): Promise<PrismaNextCachedEntry | undefined>;
  set(key: string, entry: PrismaNextCachedEntry, ttlMs: number): Promise<void>;
  del(key: string): Promise<void>;
  delByTag(tags: readonly string[]): Promise<void>;
  incr(key: string, delta?: number): Promise<number>;
}

/** Options of {@link createPrismaNextCacheStore}. */
export interface PrismaNextCacheStoreOptions {
  /** A `CacheClient` (never closed by the store) or `createClient` options (the store creates its own client). */
  client: CacheClient | ClientOptions;
  /**
   * Namespace of the entries, counters and tags. Processes on the same database share it.
   * @default "prisma-next"
   */
  namespace?: string;
  /**
   * Called when memcached fails and the store answers a miss (`get`) or drops the write (`set`).
   * @default emits a process warning
   */
  onError?: (error: unknown, operation: "get" | "set") => void;
}

/** Prisma Next's prefix for generation counters (`CACHE_INTERNAL_GENERATION_PREFIX`). */
const GENERATION_PREFIX = "__prisma_next_cache:generation:";

function defaultOnError(error: unknown, operation: "get" | "set"): void {
  const message = error instanceof Error ? error.message : String(error);
  process.emitWarning(`@mcpair/prisma (Prisma Next store): ${operation} failed: ${message}`, {
    code: "MCPAIR_PRISMA_NEXT_CACHE",
  });
}

/** EXPERIMENTAL. See the module comment. */
export function createPrismaNextCacheStore(
  options: PrismaNextCacheStoreOptions,
): PrismaNextCacheStore & { close(): Promise<void> } {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError("createPrismaNextCacheStore: options must be an object with a `client`");
  const { client, namespace = "prisma-next", onError = defaultOnError } = options;
  if (typeof namespace !== "string" || namespace === "")
    throw new InvalidArgumentError(
      `createPrismaNextCacheStore: option "namespace" must be a non-empty string, got ${JSON.stringify(namespace)}`,
    );
  if (typeof onError !== "function")
    throw new InvalidArgumentError('createPrismaNextCacheStore: option "onError" must be a function');
  let root: CacheClient;
  if (isCacheClient(client)) root = client;
  else if (client !== null && typeof client === "object" && Array.isArray((client as ClientOptions).servers))
    root = createClient(client as ClientOptions);
  else
    throw new InvalidArgumentError(
      'createPrismaNextCacheStore: option "client" must be a CacheClient or createClient options with `servers`',
    );
  const owned = root !== client;
  const ns: NamespaceClient = root.namespace(namespace);
  const report = (error: unknown, operation: "get" | "set") => {
    try {
      onError(error, operation);
    } catch {
      // A throwing onError must not fail the query.
    }
  };
  const key = (k: unknown, what: string): string => {
    if (typeof k !== "string" || k === "")
      throw new InvalidArgumentError(`PrismaNextCacheStore.${what}: key must be a non-empty string`);
    return k;
  };

  return {
    async get(k) {
      key(k, "get");
      try {
        if (k.startsWith(GENERATION_PREFIX)) {
          // `incr` by 0 reads a counter (and resolves undefined when there is none).
          const value = await ns.incr(k, 0);
          return value === undefined ? undefined : { rows: [], storedAt: value };
        }
        const text = await ns.get<string>(k, { onUnavailable: "miss" });
        if (typeof text !== "string") return undefined;
        return deserializeResult(text) as PrismaNextCachedEntry;
      } catch (error) {
        report(error, "get");
        return undefined;
      }
    },

    async set(k, entry, ttlMs) {
      key(k, "set");
      if (entry === null || typeof entry !== "object" || !Array.isArray(entry.rows))
        throw new InvalidArgumentError("PrismaNextCacheStore.set: entry must be { rows: [...], storedAt }");
      if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs < 0)
        throw new InvalidArgumentError(
          `PrismaNextCacheStore.set: ttlMs must be a finite number >= 0, got ${ttlMs}`,
        );
      // A zero lifetime stores nothing (core would read 0 as "the default TTL").
      if (ttlMs === 0) return;
      try {
        if (k.startsWith(GENERATION_PREFIX)) {
          await ns.delete(k);
          await ns.incr(k, 0, { initial: entry.storedAt, ttl: ttlMs / 1000 });
          return;
        }
        const tags = entry.tags !== undefined && entry.tags.length > 0 ? { tags: entry.tags } : {};
        // Core rounds fractional seconds up, so a 1 ms TTL is one second, never "forever".
        await ns.set(k, serializeResult(entry), { ttl: ttlMs / 1000, ...tags });
      } catch (error) {
        report(error, "set");
      }
    },

    async del(k) {
      await ns.delete(key(k, "del"));
    },

    async delByTag(tags) {
      if (!Array.isArray(tags) || tags.some((t) => typeof t !== "string" || t === ""))
        throw new InvalidArgumentError(
          "PrismaNextCacheStore.delByTag: tags must be an array of non-empty strings",
        );
      if (tags.length > 0) await ns.invalidateTags(tags);
    },

    async incr(k, delta = 1) {
      if (!Number.isSafeInteger(delta))
        throw new InvalidArgumentError(
          `PrismaNextCacheStore.incr: delta must be a safe integer, got ${delta}`,
        );
      // memcached counters only go up with incr and stop at 0 with decr.
      const value =
        delta >= 0
          ? await ns.incr(key(k, "incr"), delta, { initial: delta })
          : await ns.decr(key(k, "incr"), -delta, { initial: 0 });
      return value ?? 0;
    },

    async close() {
      if (owned) await root.close();
    },
  };
}
