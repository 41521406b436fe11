import type { FetchOptions } from "./read-through.js";

/**
 * The contract integrations depend on: the operations a Keyv store, an ORM query cache or an application uses.
 * `PairClient` implements it, and so does every namespace client (`client.namespace(name)`). Adapters type against
 * this interface, never against the class, so they accept wrappers and fakes (as kysely declares the subset of a
 * driver it needs).
 *
 * Keys are the caller's keys: the client validates them (or hashes them, with `hashKeys`) and applies the namespace.
 */
export interface CacheClient {
  /** The namespace this client is scoped to; `undefined` for the root client. */
  readonly namespaceName: string | undefined;

  /**
   * The value of `key`, or `undefined` on a miss. When no replica of the key can be read, rejects with
   * `ServerUnavailableError` (`onUnavailable: "throw"`, the default) or resolves `undefined` (`"miss"`).
   */
  get<T = unknown>(key: string, options?: ReadOptions): Promise<T | undefined>;

  /**
   * The values of `keys` that hit. Keys that no replica could answer are left out and listed in the result's
   * `unavailable`; the call rejects (`ServerUnavailableError`) only when not one key could be read.
   */
  getMany<T = unknown>(keys: Iterable<string>, options?: ReadOptions): Promise<GetManyResult<T>>;

  /** Stores `value` on every replica of `key`. Rejects with `ReplicationError` when the write policy is not met. */
  set(key: string, value: unknown, options?: WriteOptions): Promise<void>;

  /**
   * Stores every entry; one pipelined batch per server. Resolves one `true` per entry; when any entry was not stored
   * (write policy not met, value too large) rejects with `ReplicationError`, whose `keys` names the entries that
   * failed and whose `results` has one boolean per entry (the others *were* stored).
   */
  setMany(entries: Iterable<readonly [string, unknown]>, options?: WriteOptions): Promise<boolean[]>;

  /** Stores only if `key` is absent. Resolves whether it was stored. */
  add(key: string, value: unknown, options?: WriteOptions): Promise<boolean>;

  /** Removes `key` from every replica. Resolves whether any replica held it. */
  delete(key: string, options?: OperationOptions): Promise<boolean>;

  /**
   * Removes every key; one pipelined batch per server per replica rank. Resolves one boolean per key (whether it
   * existed); rejects with `ReplicationError` (`keys`, `results`) when some deletes were not acknowledged.
   */
  deleteMany(keys: Iterable<string>, options?: OperationOptions): Promise<boolean[]>;

  /** Read-through with one loader call per key across the fleet (memcached leases). See `PairClient.fetch`. */
  fetch<T>(key: string, loader: (key: string) => T | Promise<T>, options?: CacheFetchOptions): Promise<T>;

  /** `fetch` for many keys; `loader` gets the keys this caller must load. */
  fetchMany<T>(
    keys: Iterable<string>,
    loader: (
      missing: string[],
    ) => Promise<Map<string, T> | Record<string, T> | Iterable<readonly [string, T]>>,
    options?: CacheFetchOptions,
  ): Promise<Map<string, T>>;

  /** Marks `key` stale for `staleTtl` seconds: `fetch` serves it while one caller refreshes; `get` misses. */
  invalidate(key: string, staleTtl?: number, options?: OperationOptions): Promise<boolean>;

  incr(key: string, delta?: number | bigint, options?: CounterOptions): Promise<number | undefined>;
  decr(key: string, delta?: number | bigint, options?: CounterOptions): Promise<number | undefined>;

  /** Sets a new lifetime on every replica. Resolves whether any replica had the key. */
  touch(key: string, ttl: number, options?: OperationOptions): Promise<boolean>;

  /**
   * A client scoped to `name` (nested under this client's namespace, if any). Its keys cannot collide with other
   * namespaces' and its `clear()` removes only its own entries, for every process, without `flush_all`.
   */
  namespace(name: string): NamespaceClient;

  /**
   * Every entry written with any of `tags` (through this client: tags are scoped to the namespace) stops being
   * served, in every process, once this resolves.
   */
  invalidateTags(tags: Iterable<string>, options?: OperationOptions): Promise<void>;

  /**
   * The current versions of this client's namespace and of `tags`, to store an entry later *as of now*: pass it as
   * `asOf` to `set`/`setMany`, and the entry is dead on arrival if the namespace was cleared or one of the tags
   * invalidated in between. For callers that read the database between a cache miss and the store (an ORM's query
   * cache): take the snapshot with the miss (same round trip), then run the query, then store.
   */
  snapshot(tags?: Iterable<string>, options?: OperationOptions): Promise<ScopeSnapshot>;

  /** Releases resources: the root client closes its connections; a namespace client does nothing. */
  close(): Promise<void>;
}

/** A client scoped to one namespace: everything of {@link CacheClient}, plus `clear()`. */
export interface NamespaceClient extends CacheClient {
  readonly namespaceName: string;
  /**
   * Removes every entry of this namespace (and of namespaces nested in it) for every process at once: a read that
   * starts after this resolved, in any process, never returns an entry written before it. No `flush_all`: other
   * namespaces on the same servers keep their entries.
   */
  clear(options?: OperationOptions): Promise<void>;
}

/** Per-call controls. */
export interface OperationOptions {
  /** Aborts the call's pending requests (rejects with `AbortError`). */
  signal?: AbortSignal;
}

export interface ReadOptions extends OperationOptions {
  /**
   * When no replica of a key can be read: `"throw"` rejects with `ServerUnavailableError` (for `getMany`: only when
   * no key at all could be read); `"miss"` treats it as a miss (it is still counted in `stats().unavailable`).
   * @default the client's `onUnavailable` ("throw")
   */
  onUnavailable?: "throw" | "miss";
  /**
   * The tags the caller expects the entry to carry. Not a filter: a hint that lets the client read their current
   * versions in parallel with the entry (no extra round trip). Tags the entry has that are not listed here cost one
   * more pipelined round trip.
   */
  tags?: readonly string[];
}

export interface WriteOptions extends OperationOptions {
  /**
   * Lifetime in seconds. Omitted or 0: the client's `defaultTtl`. Capped at `maxTtl`; fractions round up.
   * @default defaultTtl
   */
  ttl?: number;
  /** The entry stops being served after `invalidateTags` of any of these. */
  tags?: readonly string[];
  /**
   * Store the entry as of this snapshot (from `snapshot(tags)` on the same client): it carries the versions read then,
   * so a `clear()` or `invalidateTags` since makes it dead on arrival. Its tags are the snapshot's (`tags`, if given,
   * must be the same).
   */
  asOf?: ScopeSnapshot;
}

/** Opaque: the versions of a namespace and of some tags at one moment (see {@link CacheClient.snapshot}). */
export interface ScopeSnapshot {
  /** The namespace path it was taken in (`""` for the root client). */
  readonly scope: string;
  readonly tags: readonly string[];
}

export interface CounterOptions extends OperationOptions {
  /** Lifetime in seconds of a counter this call creates. @default defaultTtl */
  ttl?: number;
  /** Create a missing counter with this value (no delta applied) instead of resolving to `undefined`. */
  initial?: number | bigint;
}

/** `fetch` options, plus the tags the stored value carries. */
export interface CacheFetchOptions extends FetchOptions {
  tags?: readonly string[];
}

/**
 * The hits of a `getMany`, keyed by the caller's keys: a plain `Map` (so code and tests that expect a Map keep
 * working), plus `unavailable`, the keys no replica could answer (down, draining, quarantined, or failed): neither
 * hits nor known misses.
 */
export type GetManyResult<T> = Map<string, T> & { readonly unavailable: string[] };

/** A new, empty {@link GetManyResult} (`unavailable` is a non-enumerable property of the Map). */
export function createGetManyResult<T>(): GetManyResult<T> {
  const map = new Map<string, T>();
  Object.defineProperty(map, "unavailable", { value: [], enumerable: false });
  return map as GetManyResult<T>;
}

const CLIENT_METHODS = [
  "get",
  "getMany",
  "set",
  "setMany",
  "add",
  "delete",
  "deleteMany",
  "fetch",
  "fetchMany",
  "invalidate",
  "incr",
  "decr",
  "touch",
  "namespace",
  "invalidateTags",
  "snapshot",
  "close",
] as const satisfies ReadonlyArray<keyof CacheClient>;

/**
 * Whether `value` is a {@link CacheClient}, checked by shape (every method present), not by class: wrappers, fakes
 * and clients from another loaded copy of `@mcpair/core` qualify. Integrations use it to tell a client from options.
 */
export function isCacheClient(value: unknown): value is CacheClient {
  if (value === null || typeof value !== "object") return false;
  const record = value as Record<string, unknown>;
  return CLIENT_METHODS.every((name) => typeof record[name] === "function");
}
