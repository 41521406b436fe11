import {
  type CacheClient,
  ClientClosedError,
  InvalidArgumentError,
  type NamespaceClient,
} from "@mcpair/core";
import { createClient } from "@mcpair/memcached";
import type { DataSource, EntitySubscriberInterface, QueryRunner } from "typeorm";
import type { QueryResultCache } from "typeorm/cache/QueryResultCache.js";
import type { QueryResultCacheOptions } from "typeorm/cache/QueryResultCacheOptions.js";
import { carrySnapshot, snapshotOf } from "./fill-guard.js";
import { defaultNamespace } from "./namespace.js";
import {
  type McpairQueryResultCacheOptions,
  type ResolvedCacheOptions,
  resolveCacheOptions,
} from "./options.js";
import {
  identifierKey,
  isExpiredAt,
  lookupOf,
  memcachedTtl,
  readEntry,
  type StoredQueryResult,
} from "./stored-entry.js";
import { TableTags, tableList } from "./table-tags.js";
import { WriteInvalidation } from "./write-invalidation.js";

/** Brands instances across copies of this package (no `instanceof` between copies). */
const BRAND = Symbol.for("@mcpair/typeorm.McpairQueryResultCache");

/** Suffixes TypeORM appends to a cache id for the derived entries of `getManyAndCount` and paginated queries. */
const DERIVED_SUFFIXES = ["", "-count", "-pagination"] as const;

/** A key no entry uses, read by `connect()` to check that memcached answers. */
const PROBE_KEY = "probe";

/**
 * A TypeORM `QueryResultCache` on replicated memcached (mcpair).
 *
 * ```ts
 * new DataSource({ ..., cache: { provider: (ds) => new McpairQueryResultCache(ds, { client }), ignoreErrors: true } })
 * ```
 *
 * - Entries live in one namespace (the `namespace` option, by default derived from the connection), under the cache
 *   id or the full SQL; `clear()` empties only that namespace, in every process, without `flush_all`.
 * - Results are served exactly as long as TypeORM's `duration` says (stored time + duration, to the millisecond);
 *   memcached keeps them for the duration rounded up to seconds, plus one.
 * - `remove([id])` also removes `<id>-count` and `<id>-pagination`.
 * - With `invalidateOnWrite`, a committed write through TypeORM stops every process from serving cached queries that
 *   read the written tables (see `WriteInvalidation` for exactly what is covered).
 * - TypeORM's `ignoreErrors` is honoured: cache failures (memcached unreachable) are logged as warnings and queries
 *   run against the database; without it they reject, as with TypeORM's own providers.
 *
 * No stampede protection: TypeORM calls `getFromCache`, runs the query itself, then calls `storeInCache`, so the
 * provider never holds the loader and cannot make concurrent misses wait for one query. Use {@link cachedQuery}
 * (one database query per key across the fleet, on memcached leases) where that matters.
 */
export class McpairQueryResultCache implements QueryResultCache {
  /** The namespace of this cache's entries and tags. */
  readonly namespace: string;
  readonly #dataSource: DataSource;
  readonly #options: ResolvedCacheOptions;
  readonly #tags: TableTags;
  readonly #writes: WriteInvalidation | undefined;
  /** The client the cache owns (created from options in `connect()`), to close in `disconnect()`. */
  #owned: CacheClient | undefined;
  #cache: NamespaceClient | undefined;
  #subscriberInstalled = false;

  /**
   * @param dataSource the DataSource TypeORM passes to `cache.provider`.
   * @param options the client, `invalidateOnWrite` and `namespace`.
   * @throws {InvalidArgumentError} when an option is invalid.
   */
  constructor(dataSource: DataSource, options: McpairQueryResultCacheOptions) {
    this.#options = resolveCacheOptions(options);
    if (dataSource === null || typeof dataSource !== "object" || typeof dataSource.options !== "object")
      throw new InvalidArgumentError("McpairQueryResultCache: the first argument must be the DataSource");
    Object.defineProperty(this, BRAND, { value: true });
    this.#dataSource = dataSource;
    this.namespace = this.#options.namespace ?? defaultNamespace(dataSource.options);
    this.#tags = new TableTags(dataSource);
    this.#writes = this.#options.invalidateOnWrite
      ? new WriteInvalidation(this.#tags, (tags, qr) => this.#invalidate(tags, qr))
      : undefined;
    if (this.#options.client !== undefined) this.#cache = this.#options.client.namespace(this.namespace);
  }

  /**
   * The namespace client holding this cache's entries: use it for entries of your own that `clear()` should remove
   * and that table tags (`tagsOfTables`) should invalidate.
   * @throws {ClientClosedError} when the cache owns its client and is not connected.
   */
  get client(): NamespaceClient {
    if (this.#cache === undefined)
      throw new ClientClosedError(
        "McpairQueryResultCache is not connected: its memcached client is created by connect() (dataSource.initialize()) " +
          "and closed by disconnect() (dataSource.destroy())",
      );
    return this.#cache;
  }

  /**
   * Called by `dataSource.initialize()`: creates the client when the cache owns it, registers the write subscriber,
   * and reads one key to check that memcached answers. With TypeORM's `ignoreErrors`, a failure is logged and
   * initialisation goes on (queries then run against the database until memcached is back).
   */
  async connect(): Promise<void> {
    this.#installSubscriber();
    try {
      if (this.#cache === undefined && this.#options.clientOptions !== undefined) {
        this.#owned = createClient(this.#options.clientOptions);
        this.#cache = this.#owned.namespace(this.namespace);
      }
      await this.client.get(PROBE_KEY);
    } catch (error) {
      if (!this.#ignoreErrors()) throw error;
      this.#warn(`memcached is not reachable at connect (${describe(error)}); queries will run uncached`);
    }
  }

  /** Called by `dataSource.destroy()`: closes the client if the cache created it (a shared client is left open). */
  async disconnect(): Promise<void> {
    const owned = this.#owned;
    this.#owned = undefined;
    if (owned !== undefined) {
      this.#cache = undefined;
      await owned.close();
    }
  }

  /** Nothing to create: memcached has no schema. */
  async synchronize(_queryRunner?: QueryRunner): Promise<void> {}

  /**
   * The entry stored for this query's cache id (or SQL), if it was written for exactly that id (or SQL) and its
   * tables were not written since. Inside a transaction that wrote one of the query's tables, nothing is served.
   * For a query with table tags, also takes a snapshot of the tables' tokens in the same turn as the read, and on a
   * miss returns an already expired placeholder instead of `undefined` (TypeORM treats both alike and hands it back to
   * `storeInCache`) once the snapshot is taken: see `fill-guard.ts`.
   */
  async getFromCache(
    options: QueryResultCacheOptions,
    queryRunner?: QueryRunner,
  ): Promise<QueryResultCacheOptions | undefined> {
    this.#installSubscriber();
    assertCacheOptions(options, "getFromCache");
    const lookup = lookupOf(options);
    if (lookup === undefined) return undefined;
    const tags = this.#queryTags(options);
    if (tags !== undefined && this.#writtenInTransaction(tags, queryRunner)) return undefined;
    const client = this.client;
    if (tags === undefined) return readEntry(await client.get(lookup.key), lookup);
    // Both requests leave in this turn: the snapshot costs the miss no extra round trip before the query.
    const snapshot = client.snapshot(tags);
    // Handled here so that a failure while the read is pending is no unhandled rejection; awaiting it still throws.
    snapshot.catch(() => undefined);
    const entry = readEntry(await client.get(lookup.key, { tags }), lookup);
    // A hit does not wait for the snapshot: it is only needed if TypeORM finds the entry expired after all.
    if (entry !== undefined && !isExpiredAt(entry, Date.now())) return carrySnapshot(entry, snapshot);
    // TypeORM runs the query once this resolves: the tokens must have been read by then.
    await snapshot;
    return carrySnapshot(undefined, snapshot);
  }

  /**
   * Stores a result with its table tags (with `invalidateOnWrite`), for the duration rounded up to seconds plus one.
   * Skipped inside a transaction that wrote one of the query's tables (uncommitted data stays out of the cache), and
   * for a result too large for memcached (logged). A tagged result is stored as of the snapshot `getFromCache` took
   * before the query (carried by `savedCache`): dead on arrival if one of its tables was written, or the namespace
   * cleared, while the query ran (see `fill-guard.ts`). Without that `savedCache` (a direct call), it is sealed with
   * the tokens current when it is stored, like any core `set` with tags.
   */
  async storeInCache(
    options: QueryResultCacheOptions,
    savedCache: QueryResultCacheOptions | undefined,
    queryRunner?: QueryRunner,
  ): Promise<void> {
    assertCacheOptions(options, "storeInCache");
    const lookup = lookupOf(options);
    if (lookup === undefined) return;
    const duration = options.duration;
    if (typeof duration !== "number" || !(duration > 0) || !Number.isFinite(duration)) return;
    const tags = this.#queryTags(options);
    if (tags !== undefined && this.#writtenInTransaction(tags, queryRunner)) return;
    const carried = tags === undefined ? undefined : snapshotOf(savedCache);
    // Rejects (as the store would have) when the snapshot could not be taken: no entry without its tokens.
    const asOf = carried === undefined ? undefined : await carried;
    const entry: StoredQueryResult = {
      v: 1,
      time: typeof options.time === "number" ? options.time : Date.now(),
      duration,
      result: options.result,
    };
    if (lookup.identifier !== undefined) entry.identifier = lookup.identifier;
    if (options.query !== undefined) entry.query = options.query;
    try {
      // With `asOf`, core checks that `tags` are the snapshot's (the same SQL, so the same tables).
      await this.client.set(lookup.key, entry, {
        ttl: memcachedTtl(duration),
        ...(tags === undefined ? {} : { tags }),
        ...(asOf === undefined ? {} : { asOf }),
      });
    } catch (error) {
      // A big result is a reason not to cache it, never a reason to fail the query.
      if ((error as { code?: unknown } | null)?.code !== "ERR_MCPAIR_VALUE_TOO_LARGE") throw error;
      this.#warn(`query result not cached: ${describe(error)}`, queryRunner);
    }
  }

  /** TypeORM's rule, from the stored time and duration: expired once `time + duration` is in the past. */
  isExpired(savedCache: QueryResultCacheOptions): boolean {
    return isExpiredAt(savedCache, Date.now());
  }

  /**
   * Removes every entry of this namespace, for every process, without `flush_all`: other namespaces (other
   * DataSources, other apps) on the same servers keep theirs.
   */
  async clear(_queryRunner?: QueryRunner): Promise<void> {
    await this.client.clear();
  }

  /** Removes the entries of these cache ids, with their derived `<id>-count` and `<id>-pagination` entries. */
  async remove(identifiers: string[], _queryRunner?: QueryRunner): Promise<void> {
    if (!Array.isArray(identifiers))
      throw new InvalidArgumentError("remove: identifiers must be an array of cache ids");
    const keys: string[] = [];
    for (const id of identifiers) {
      if (typeof id !== "string" || id === "") continue;
      for (const suffix of DERIVED_SUFFIXES) keys.push(identifierKey(id + suffix));
    }
    if (keys.length > 0) await this.client.deleteMany(keys);
  }

  /**
   * Stops every process from serving cached queries that read any of `tables` (and entries tagged with
   * `tagsOfTables(tables)`). Call it after writes TypeORM does not report: raw `query()`, TRUNCATE, triggers,
   * other applications. Works whether or not `invalidateOnWrite` is on.
   */
  async invalidateTables(tables: Iterable<string>): Promise<void> {
    const tags = this.tagsOfTables(tableList(tables, "invalidateTables: tables"));
    if (tags.length > 0) await this.client.invalidateTags(tags);
  }

  /** The core tags of `tables` (`table:<name>`, views expanded into the tables they read). */
  tagsOfTables(tables: Iterable<string>): readonly string[] {
    return this.#tags.forTables(tableList(tables, "tagsOfTables: tables"));
  }

  /** The tags a query's entry carries: its tables', with `invalidateOnWrite`. */
  #queryTags(options: QueryResultCacheOptions): readonly string[] | undefined {
    if (this.#writes === undefined || typeof options.query !== "string") return undefined;
    const tags = this.#tags.forQuery(options.query);
    return tags.length === 0 ? undefined : tags;
  }

  #writtenInTransaction(tags: readonly string[], queryRunner: QueryRunner | undefined): boolean {
    const pending = this.#writes?.pendingTags(queryRunner);
    return pending !== undefined && tags.some((t) => pending.has(t));
  }

  /** The write subscriber's invalidation: errors are logged under `ignoreErrors`, thrown otherwise. */
  async #invalidate(tags: readonly string[], queryRunner: QueryRunner | undefined): Promise<void> {
    try {
      await this.client.invalidateTags(tags);
    } catch (error) {
      if (!this.#ignoreErrors()) throw error;
      this.#warn(`could not invalidate ${tags.join(", ")}: ${describe(error)}`, queryRunner);
    }
  }

  /**
   * Registers the write subscriber. `initialize()` calls `connect()` *before* it rebuilds `dataSource.subscribers`
   * from the options (a subscriber pushed in `connect()` is silently dropped), and a process that only writes would
   * never reach a lazy registration on first read. So the property itself is wrapped: whatever array TypeORM
   * assigns to it (now, at every `initialize()`) gets this subscriber appended.
   */
  #installSubscriber(): void {
    const writes = this.#writes;
    if (writes === undefined) return;
    const ds = this.#dataSource as unknown as { subscribers: EntitySubscriberInterface[] };
    const subscriber = writes as EntitySubscriberInterface;
    if (this.#subscriberInstalled) {
      // Someone replaced the property since: fall back to appending to whatever list is there.
      if (Array.isArray(ds.subscribers) && !ds.subscribers.includes(subscriber))
        ds.subscribers.push(subscriber);
      return;
    }
    this.#subscriberInstalled = true;
    let current: EntitySubscriberInterface[] = Array.isArray(ds.subscribers) ? ds.subscribers : [];
    if (!current.includes(subscriber)) current.push(subscriber);
    Object.defineProperty(ds, "subscribers", {
      configurable: true,
      enumerable: true,
      get: () => current,
      set: (next: EntitySubscriberInterface[]) => {
        current = next;
        if (Array.isArray(next) && !next.includes(subscriber)) next.push(subscriber);
      },
    });
  }

  #ignoreErrors(): boolean {
    const cache = this.#dataSource.options.cache;
    return typeof cache === "object" && cache !== null && cache.ignoreErrors === true;
  }

  #warn(message: string, queryRunner?: QueryRunner): void {
    this.#dataSource.logger?.log("warn", `@mcpair/typeorm: ${message}`, queryRunner);
  }
}

/** Whether `value` is a {@link McpairQueryResultCache} (of any copy of this package). */
export function isMcpairQueryResultCache(value: unknown): value is McpairQueryResultCache {
  return value !== null && typeof value === "object" && (value as Record<symbol, unknown>)[BRAND] === true;
}

function assertCacheOptions(options: unknown, method: string): void {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError(`${method}: options must be TypeORM's QueryResultCacheOptions object`);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
