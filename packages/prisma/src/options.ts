import { type CacheClient, InvalidArgumentError, isCacheClient } from "@mcpair/core";
import type { ClientOptions } from "@mcpair/memcached";
import { DEFAULTS } from "./defaults.js";

/**
 * How one query is cached: the `cache` argument of a read (`findMany({ where, cache: { ttl: 60 } })`), or a model's
 * default policy.
 */
export interface CachePolicy {
  /**
   * Seconds the result is served as fresh. Fractions are allowed; `0` with a `swr` serves every later read stale
   * while it is refreshed.
   */
  ttl: number;
  /**
   * Seconds after `ttl` during which the old result is still served, at once, while one caller in the whole fleet
   * refreshes it in the background. Writes and `$cache.invalidate` are never served stale.
   * @default 0
   */
  swr?: number;
  /** Tags to invalidate the entry with (`prisma.$cache.invalidate({ tags })`), scoped to the namespace. */
  tags?: readonly string[];
  /**
   * Your own key instead of the one computed from the model, the operation and the arguments. Invalidate it with
   * `prisma.$cache.invalidateKeys([key])`. Two different queries must not share a key.
   * @default computed (model, operation, stable hash of the arguments)
   */
  key?: string;
}

/** A model's default policy (`defaults: { User: { ttl: 60 } }`): a {@link CachePolicy} without a custom key. */
export type ModelCachePolicy = Omit<CachePolicy, "key">;

/**
 * Prisma Accelerate's spelling, accepted so that moving from Accelerate is one line: `cacheStrategy: { ttl, swr,
 * tags }` means `cache: { ttl, swr, tags }` (both in seconds, both optional, default 0).
 */
export interface CacheStrategy {
  /** Seconds the result is fresh. @default 0 */
  ttl?: number;
  /** Seconds the result is served stale while it is refreshed. @default 0 */
  swr?: number;
  /** Tags for `$cache.invalidate({ tags })` (Accelerate's `$accelerate.invalidate`). */
  tags?: readonly string[];
}

/** The extra arguments `mcpairCache` adds to `findUnique(OrThrow)`, `findFirst(OrThrow)`, `findMany`, `count`, `aggregate` and `groupBy`. */
export interface CacheArgs {
  /**
   * Cache this read: `{ ttl, swr?, tags?, key? }`. `false` skips the model's default policy for this call.
   * @default the model's entry in `defaults`, else not cached
   */
  cache?: CachePolicy | false;
  /** Accelerate's spelling of `cache` (see {@link CacheStrategy}). */
  cacheStrategy?: CacheStrategy;
}

/** What was being done when a cache operation failed (passed to `onError`). */
export interface CacheErrorContext {
  /** `read`: a cached read fell back to the database; `invalidate`: a write's invalidation failed; `refresh`: a background refresh failed. */
  phase: "read" | "invalidate" | "refresh";
  model: string | undefined;
  operation: string | undefined;
}

/** Options of {@link mcpairCache}. */
export interface McpairCacheOptions {
  /**
   * The memcached client: a `CacheClient` shared with the rest of the application (never closed by the extension),
   * or `createClient` options from `@mcpair/memcached` (the extension creates its own client: close it with
   * `prisma.$cache.close()`).
   */
  client: CacheClient | ClientOptions;
  /**
   * Namespace of this cache's entries and tags. Processes on the same database must share it (to share entries and
   * see each other's invalidations); applications on different databases must not. `$cache.invalidateAll()` empties
   * exactly this namespace.
   * @default "prisma"
   */
  namespace?: string;
  /**
   * Every write (create, update, upsert, delete and their `Many` forms) stops the cached reads of the models it
   * touches, in every process: the written model, the models of nested writes in its arguments, and the models that
   * referential actions (`onDelete: Cascade | SetNull`) change. Cached reads are tagged with every model they read
   * through `include`, `select`, relation filters and `_count`, so a write also stops the reads that include it.
   * Inside a transaction the invalidation runs after the transaction ends.
   * Costs: a cached read also reads one small tag item per model, in the same round trip; a write sends one tag
   * invalidation before it resolves.
   * @default true
   */
  invalidateOnWrite?: boolean;
  /**
   * Default policies by model name (`User`, or the client's `user`), and `$allModels` for every model. With a default,
   * every read of the model is cached; a query's `cache` overrides fields of the default, `cache: false` skips it.
   * @default {} (only reads with a `cache` argument are cached)
   */
  defaults?: Readonly<Record<string, ModelCachePolicy>>;
  /**
   * Reads inside interactive transactions: `"bypass"` runs them on the transaction (they see its own writes and its
   * isolation); `"cache"` serves them from the cache like any read. Batch transactions (`$transaction([...])`)
   * always run every query: Prisma requires it.
   * @default "bypass"
   */
  transactionReads?: "bypass" | "cache";
  /**
   * Seconds one caller may take to run a query while the others wait for its result (memcached lease); after that
   * another caller runs it. Set it above your slowest cached query, or slow queries run twice under load.
   * @default 5
   */
  leaseTtl?: number;
  /**
   * Longest wait, in milliseconds, for another caller's query; then the query runs here, and its result is not
   * cached.
   * @default 10000
   */
  waitTimeout?: number;
  /**
   * Raw statements (`$executeRaw`, `$executeRawUnsafe`) may write any table: `"invalidateAll"` invalidates every
   * model after each one (with `invalidateOnWrite`); `"ignore"` leaves it to you (`$cache.invalidateModels([...])`).
   * `$queryRaw` is never treated as a write.
   * @default "invalidateAll"
   */
  rawWrites?: "invalidateAll" | "ignore";
  /**
   * Called when the cache fails and the extension falls back: a read runs on the database uncached, a write's
   * invalidation is lost (the write itself succeeded and resolves normally; the entries live until their TTL), a
   * background refresh is dropped. The cache never makes a query fail.
   * @default emits a process warning
   */
  onError?: (error: unknown, context: CacheErrorContext) => void;
}

/** The options after validation. */
export interface ResolvedOptions {
  client: CacheClient | undefined;
  clientOptions: ClientOptions | undefined;
  namespace: string;
  invalidateOnWrite: boolean;
  defaults: ReadonlyMap<string, ResolvedPolicy>;
  transactionReads: "bypass" | "cache";
  rawWrites: "invalidateAll" | "ignore";
  leaseTtl: number;
  waitTimeout: number;
  onError: (error: unknown, context: CacheErrorContext) => void;
}

/** A validated policy: seconds, tags and key. */
export interface ResolvedPolicy {
  ttl: number;
  swr: number;
  tags: readonly string[];
  key: string | undefined;
}

function defaultOnError(error: unknown, context: CacheErrorContext): void {
  const where = context.model ? ` (${context.model}.${context.operation ?? "?"})` : "";
  const message = error instanceof Error ? error.message : String(error);
  process.emitWarning(`@mcpair/prisma: cache ${context.phase} failed${where}: ${message}`, {
    code: "MCPAIR_PRISMA_CACHE",
  });
}

/** Validates the options; throws `InvalidArgumentError` naming the option at fault. */
export function resolveOptions(options: McpairCacheOptions): ResolvedOptions {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError("mcpairCache: options must be an object with a `client`");
  const {
    client,
    namespace = DEFAULTS.namespace,
    invalidateOnWrite = DEFAULTS.invalidateOnWrite,
    defaults = {},
    transactionReads = DEFAULTS.transactionReads,
    rawWrites = DEFAULTS.rawWrites,
    leaseTtl = DEFAULTS.leaseTtl,
    waitTimeout = DEFAULTS.waitTimeout,
    onError = defaultOnError,
  } = options;
  if (typeof namespace !== "string" || namespace === "")
    throw new InvalidArgumentError(
      `mcpairCache: option "namespace" must be a non-empty string, got ${JSON.stringify(namespace)}`,
    );
  if (typeof invalidateOnWrite !== "boolean")
    throw new InvalidArgumentError(
      `mcpairCache: option "invalidateOnWrite" must be a boolean, got ${typeof invalidateOnWrite}`,
    );
  if (transactionReads !== "bypass" && transactionReads !== "cache")
    throw new InvalidArgumentError(
      `mcpairCache: option "transactionReads" must be "bypass" or "cache", got ${JSON.stringify(transactionReads)}`,
    );
  if (rawWrites !== "invalidateAll" && rawWrites !== "ignore")
    throw new InvalidArgumentError(
      `mcpairCache: option "rawWrites" must be "invalidateAll" or "ignore", got ${JSON.stringify(rawWrites)}`,
    );
  if (!Number.isInteger(leaseTtl) || leaseTtl < 1 || leaseTtl > 3600)
    throw new InvalidArgumentError(
      `mcpairCache: option "leaseTtl" must be a whole number of seconds from 1 to 3600, got ${String(leaseTtl)}`,
    );
  if (typeof waitTimeout !== "number" || !Number.isFinite(waitTimeout) || waitTimeout < 0)
    throw new InvalidArgumentError(
      `mcpairCache: option "waitTimeout" must be a finite number of ms >= 0, got ${String(waitTimeout)}`,
    );
  if (typeof onError !== "function")
    throw new InvalidArgumentError(`mcpairCache: option "onError" must be a function, got ${typeof onError}`);
  if (defaults === null || typeof defaults !== "object" || Array.isArray(defaults))
    throw new InvalidArgumentError(
      'mcpairCache: option "defaults" must be an object of policies by model name, e.g. { User: { ttl: 60 } }',
    );
  const resolvedDefaults = new Map<string, ResolvedPolicy>();
  for (const [model, policy] of Object.entries(defaults)) {
    if (policy !== null && typeof policy === "object" && "key" in policy)
      throw new InvalidArgumentError(
        `mcpairCache: defaults.${model} cannot have a "key" (a key names one query, not a model)`,
      );
    resolvedDefaults.set(model, resolvePolicy(policy, `defaults.${model}`, undefined, "cache"));
  }
  const base = {
    namespace,
    invalidateOnWrite,
    defaults: resolvedDefaults,
    transactionReads,
    rawWrites,
    leaseTtl,
    waitTimeout,
    onError,
  };
  if (isCacheClient(client)) return { ...base, client, clientOptions: undefined };
  if (client !== null && typeof client === "object" && Array.isArray((client as ClientOptions).servers))
    return { ...base, client: undefined, clientOptions: client as ClientOptions };
  throw new InvalidArgumentError(
    'mcpairCache: option "client" must be a CacheClient (e.g. createClient(...) from @mcpair/memcached) or createClient options with `servers`',
  );
}

function seconds(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw new InvalidArgumentError(`${what} must be a finite number of seconds >= 0, got ${String(value)}`);
  return value;
}

function tagList(value: unknown, what: string): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value))
    throw new InvalidArgumentError(`${what} must be an array of strings, got ${typeof value}`);
  for (const tag of value) {
    if (typeof tag !== "string" || tag === "")
      throw new InvalidArgumentError(`${what} must hold non-empty strings, got ${JSON.stringify(tag)}`);
  }
  return value as readonly string[];
}

/**
 * Validates a policy written as `cache` (ttl required) or `cacheStrategy` (Accelerate: everything optional), merged
 * over a model default. `where` names it in errors.
 */
export function resolvePolicy(
  input: unknown,
  where: string,
  base: ResolvedPolicy | undefined,
  spelling: "cache" | "cacheStrategy",
): ResolvedPolicy {
  if (input === null || typeof input !== "object" || Array.isArray(input))
    throw new InvalidArgumentError(
      `${where} must be an object such as { ttl: 60 }, got ${input === null ? "null" : typeof input}`,
    );
  const p = input as Record<string, unknown>;
  for (const k of Object.keys(p)) {
    const allowed = spelling === "cache" ? ["ttl", "swr", "tags", "key"] : ["ttl", "swr", "tags"];
    if (!allowed.includes(k))
      throw new InvalidArgumentError(`${where} has an unknown field "${k}" (allowed: ${allowed.join(", ")})`);
  }
  let ttl: number;
  if (p.ttl !== undefined) ttl = seconds(p.ttl, `${where}.ttl`);
  else if (base !== undefined) ttl = base.ttl;
  else if (spelling === "cacheStrategy") ttl = 0;
  else throw new InvalidArgumentError(`${where}.ttl is required (seconds the result stays fresh)`);
  const swr = p.swr !== undefined ? seconds(p.swr, `${where}.swr`) : (base?.swr ?? DEFAULTS.swr);
  const tags = p.tags !== undefined ? tagList(p.tags, `${where}.tags`) : (base?.tags ?? []);
  let key: string | undefined;
  if (p.key !== undefined) {
    if (typeof p.key !== "string" || p.key === "")
      throw new InvalidArgumentError(`${where}.key must be a non-empty string, got ${JSON.stringify(p.key)}`);
    key = p.key;
  }
  return { ttl, swr, tags, key };
}
