import { EventEmitter } from "node:events";
import {
  type CacheClient,
  ClientClosedError,
  InvalidArgumentError,
  type NamespaceClient,
  type ReadOptions,
} from "@mcpair/core";
import { CAPABILITIES, type KeyvMcpairCapabilities } from "./capabilities.js";
import { isPastDeadline } from "./envelope.js";
import { fromAbsolute, fromRelative, type Lifetime } from "./lifetime.js";
import {
  DEFAULT_NAMESPACE,
  type KeyvContract,
  type KeyvMcpairOptions,
  type KeyvMcpairStoreOptions,
  resolveStoreOptions,
  validateNamespace,
} from "./options.js";

/**
 * An entry of `setMany`. Keyv 5 sends `ttl` (relative milliseconds), Keyv 6 sends `expires` (absolute epoch
 * milliseconds): each entry says which it carries, so `setMany` needs no contract detection.
 */
export interface KeyvMcpairEntry {
  key: string;
  value: unknown;
  /** Keyv 5: lifetime in milliseconds from now. */
  ttl?: number | undefined;
  /** Keyv 6: expiry in epoch milliseconds; wins over `ttl` when both are given. */
  expires?: number | undefined;
}

/** The `opts` object Keyv 5 and its test suite expect on a store. Free-form: Keyv and plugins add fields to it. */
export interface KeyvMcpairOpts {
  /** Identifies the adapter (Keyv 5 reads `opts.dialect`). */
  dialect: "mcpair";
  [option: string]: unknown;
}

/** Reads never throw for an unreachable key: it is a miss, as for a key that expired (see README "Errors"). */
const READ: ReadOptions = Object.freeze({ onUnavailable: "miss" });

/**
 * A Keyv store on replicated memcached, for Keyv 5 (cache-manager 7, cacheable 2) and Keyv 6.
 *
 * ```ts
 * const keyv = new Keyv({ store: new KeyvMcpair({ servers: ["10.0.0.1:11211", "10.0.0.2:11211"] }) });
 * ```
 *
 * Every operation goes through `client.namespace(namespace)`: keys of any length and content (hashed when
 * memcached would refuse them, the original checked on read), batches in one round trip per server, and a
 * `clear()` that removes only this namespace's entries, in every process, without `flush_all`.
 */
export class KeyvMcpair extends EventEmitter {
  /** Keyv 5 reads `opts` (its test suite sets `opts.deserialize`); mcpair's options are not in it. */
  readonly opts: KeyvMcpairOpts = { dialect: "mcpair" };

  readonly #client: CacheClient;
  readonly #owned: boolean;
  readonly #pinned: "auto" | KeyvContract;
  #contract: KeyvContract;
  #namespace: string | undefined;
  #scope: NamespaceClient;
  #disconnected = false;

  /**
   * @param client any `CacheClient` (`createClient(...)`, a namespace client, a wrapper). The store borrows it:
   * `disconnect()` leaves it open.
   * @param options the store's namespace and contract.
   */
  constructor(client: CacheClient, options?: KeyvMcpairStoreOptions);
  /**
   * @param options `servers` and any `createClient` option, plus the store's `namespace` and `contract`. The store
   * creates the client and owns it: `disconnect()` closes it.
   */
  constructor(options: KeyvMcpairOptions);
  constructor(clientOrOptions: CacheClient | KeyvMcpairOptions, options?: KeyvMcpairStoreOptions) {
    super();
    const resolved = resolveStoreOptions(clientOrOptions, options);
    this.#client = resolved.client;
    this.#owned = resolved.owned;
    this.#pinned = resolved.contract;
    this.#contract = resolved.contract === 6 ? 6 : 5;
    this.#namespace = resolved.namespace;
    this.#scope = this.#scopeFor(resolved.namespace);
  }

  /** The client the store works through (for `stats()`, `status()`, or direct use). */
  get client(): CacheClient {
    return this.#client;
  }

  /**
   * The contract the store serves now: 5 until a Keyv 6 adopted it (or when pinned with `contract`), then 6.
   * It decides how `set` reads its third argument and what `deleteMany` resolves to.
   */
  get contract(): KeyvContract {
    return this.#contract;
  }

  /**
   * Keyv 6's handshake. Keyv 6 reads this when it is given a store, and uses the store directly (absolute
   * expiries) when `expires` is true; Keyv 5 never reads it. So reading it switches an `"auto"` store to the Keyv 6
   * contract for good. A store pinned to contract 5 has no capabilities: Keyv 6 then wraps it in its bridge.
   */
  get capabilities(): KeyvMcpairCapabilities | undefined {
    if (this.#pinned === 5) return undefined;
    this.#contract = 6;
    return CAPABILITIES;
  }

  /**
   * The namespace Keyv set (or the `namespace` option). Entries live in the mcpair namespace of that name, or in
   * `"keyv"` when it is undefined or empty. Keyv 5 still prefixes its keys (`ns:key`) on top: harmless.
   * @default the `namespace` option
   */
  get namespace(): string | undefined {
    return this.#namespace;
  }

  set namespace(namespace: string | undefined) {
    const name = validateNamespace(namespace, "KeyvMcpair.namespace");
    // Made here, not on first use: a name the client refuses fails when Keyv sets it, not on every call.
    this.#scope = this.#scopeFor(name);
    this.#namespace = name;
  }

  /**
   * The value stored under `key`, or `undefined` on a miss, when no replica can answer, or past the deadline of
   * Keyv's envelope (memcached, counting whole seconds, may still hold it: see README "TTLs").
   */
  async get<Value = unknown>(key: string): Promise<Value | undefined> {
    assertKey(key, "get");
    try {
      const value = await this.#space().get<Value>(key, READ);
      return value === undefined || isPastDeadline(value, Date.now()) ? undefined : value;
    } catch (error) {
      this.#report(error);
      return undefined;
    }
  }

  /** The values of `keys` in order (`undefined` for misses): one round trip per server. */
  async getMany<Value = unknown>(keys: string[]): Promise<Array<Value | undefined>> {
    assertKeys(keys, "getMany");
    if (keys.length === 0) return [];
    try {
      const hits = await this.#space().getMany<Value>(keys, READ);
      const now = Date.now();
      return keys.map((key) => {
        const value = hits.get(key);
        return value === undefined || isPastDeadline(value, now) ? undefined : value;
      });
    } catch (error) {
      this.#report(error);
      return keys.map(() => undefined);
    }
  }

  /**
   * Whether `key` holds a live value (reads it: memcached has no cheaper existence check that leaves the item alone).
   * Exact to the millisecond for Keyv's envelopes, which matters for Keyv 5: its `has` trusts the store.
   */
  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  /** Whether each of `keys` holds a value: one `getMany`. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    return (await this.getMany(keys)).map((value) => value !== undefined);
  }

  /**
   * Stores `value` under `key`. The third argument is Keyv 5's relative TTL or Keyv 6's absolute expiry, in
   * milliseconds, as {@link contract} says; without one the entry gets the client's `defaultTtl` (mcpair caps every
   * lifetime: 23 h by default). An expiry already past stores nothing and deletes what was there.
   * Rejects when the write fails (Keyv turns that into `false` and an `error` event).
   */
  async set(key: string, value: unknown, ttlOrExpires?: number): Promise<boolean> {
    assertKey(key, "set");
    const life = this.#lifetime(ttlOrExpires);
    const space = this.#space();
    if (life.expired) {
      await space.delete(key);
      return true;
    }
    await space.set(key, value, life.ttl === undefined ? undefined : { ttl: life.ttl });
    return true;
  }

  /**
   * Stores every entry, one pipelined batch per server (per distinct lifetime). Resolves one boolean per entry; the
   * entries that failed are `false` and the cause is emitted as an `error` event.
   */
  setMany(entries: KeyvMcpairEntry[]): Promise<boolean[]>;
  /**
   * Keyv 5's adapter type declares `Promise<void>` (Keyv 5 still returns what the store resolves). This second
   * signature only lets the store type-check where Keyv 5's `KeyvStoreAdapter` is expected (cacheable's
   * `secondary`); calls resolve to the first one.
   */
  setMany(entries: KeyvMcpairEntry[]): Promise<void>;
  async setMany(entries: KeyvMcpairEntry[]): Promise<boolean[] | void> {
    if (!Array.isArray(entries))
      throw new InvalidArgumentError("KeyvMcpair.setMany: entries must be an array");
    const results = entries.map(() => false);
    const now = Date.now();
    // Batches by lifetime in whole seconds: entries Keyv gives one TTL land in one batch (rarely two, when their
    // deadlines straddle a second), and expired entries in a delete batch.
    const batches = new Map<number | "default" | "expired", number[]>();
    let failure: unknown;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      if (entry === null || typeof entry !== "object") {
        throw new InvalidArgumentError(`KeyvMcpair.setMany: entry ${i} must be a { key, value } object`);
      }
      assertKey(entry.key, "setMany");
      let life: Lifetime;
      try {
        life = entry.expires !== undefined ? fromAbsolute(entry.expires, now) : fromRelative(entry.ttl);
      } catch (error) {
        failure ??= error;
        continue;
      }
      const batch = life.expired ? "expired" : (life.ttl ?? "default");
      const indexes = batches.get(batch);
      if (indexes) indexes.push(i);
      else batches.set(batch, [i]);
    }
    const space = this.#space();
    await Promise.all(
      Array.from(batches, async ([batch, indexes]) => {
        const keys = indexes.map((i) => entries[i]!.key);
        try {
          if (batch === "expired") await space.deleteMany(keys);
          else {
            const pairs = indexes.map((i) => [entries[i]!.key, entries[i]!.value] as const);
            await space.setMany(pairs, batch === "default" ? undefined : { ttl: batch });
          }
          for (const i of indexes) results[i] = true;
        } catch (error) {
          failure ??= error;
          const partial = batchResults(error, indexes.length);
          if (partial) for (const [j, i] of indexes.entries()) results[i] = partial[j] === true;
          else if (batch !== "expired" && indexes.length > 1 && isEntryProblem(error)) {
            // One bad value (too large, not encodable) refused the whole batch before anything was sent: store
            // the others one by one, so only the bad entries report false.
            const ttl = batch === "default" ? undefined : { ttl: batch };
            await Promise.all(
              indexes.map(async (i) => {
                try {
                  await space.set(entries[i]!.key, entries[i]!.value, ttl);
                  results[i] = true;
                } catch {
                  // reported through `failure`
                }
              }),
            );
          }
        }
      }),
    );
    if (failure !== undefined) this.#report(failure);
    return results;
  }

  /** Removes `key`; resolves whether it existed. Rejects when the delete fails. */
  async delete(key: string): Promise<boolean> {
    assertKey(key, "delete");
    return this.#space().delete(key);
  }

  /**
   * Removes every key: one pipelined batch per server. Keyv 6: one boolean per key (whether it existed). Keyv 5:
   * one boolean, whether every key existed (what Keyv 5 computes itself for stores without `deleteMany`).
   */
  deleteMany(keys: string[]): Promise<boolean[] | boolean>;
  /** Keyv 6's adapter type (see {@link contract}); lets the store type-check as a Keyv 6 `KeyvStorageAdapter`. */
  deleteMany(keys: string[]): Promise<boolean[]>;
  /** Keyv 5's adapter type (see {@link contract}); lets the store type-check as a Keyv 5 `KeyvStoreAdapter`. */
  deleteMany(keys: string[]): Promise<boolean>;
  async deleteMany(keys: string[]): Promise<boolean[] | boolean> {
    assertKeys(keys, "deleteMany");
    let results: readonly boolean[] = [];
    if (keys.length > 0) {
      try {
        results = await this.#space().deleteMany(keys);
      } catch (error) {
        const partial = batchResults(error, keys.length);
        if (partial === undefined) throw error;
        this.#report(error);
        results = partial;
      }
    }
    return this.#contract === 6 ? [...results] : results.every(Boolean);
  }

  /**
   * Removes every entry of the store's namespace, for every process, and nothing else: mcpair namespaces are
   * generation-based, so this is one write, never `flush_all`.
   */
  async clear(): Promise<void> {
    await this.#space().clear();
  }

  /** Closes the client if the store created it; a client passed to the constructor stays open. */
  async disconnect(): Promise<void> {
    if (!this.#owned || this.#disconnected) return;
    this.#disconnected = true;
    await this.#client.close();
  }

  #lifetime(ttlOrExpires: unknown): Lifetime {
    return this.#contract === 6 ? fromAbsolute(ttlOrExpires, Date.now()) : fromRelative(ttlOrExpires);
  }

  /** The namespace client for the current namespace (made once per namespace change, not per call). */
  #space(): NamespaceClient {
    // A namespace client made before the close would answer "unavailable" rather than "closed": say what happened.
    if (this.#disconnected) throw new ClientClosedError("KeyvMcpair: the store was disconnected");
    return this.#scope;
  }

  #scopeFor(namespace: string | undefined): NamespaceClient {
    return this.#client.namespace(namespace || DEFAULT_NAMESPACE);
  }

  /**
   * The listeners of `event`. Narrowed from Node's `Function[]` so the store also satisfies Keyv 6's (hookified's)
   * `IEventEmitter` type, which declares callable listeners.
   */
  override listeners(event: string | symbol): Array<(...args: unknown[]) => void> {
    return super.listeners(event) as Array<(...args: unknown[]) => void>;
  }

  /** {@link listeners}, including `once` wrappers. */
  override rawListeners(event: string | symbol): Array<(...args: unknown[]) => void> {
    return super.rawListeners(event) as Array<(...args: unknown[]) => void>;
  }

  /** Emits `error` when someone listens (Keyv always does); a store used alone keeps quiet rather than throw. */
  #report(error: unknown): void {
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }
}

/**
 * The per-entry outcome of a batch that partly failed: core's `ReplicationError` carries `results` (one boolean per
 * entry). Matched by `code`, not `instanceof`, so a second copy of `@mcpair/core` is understood too.
 */
function batchResults(error: unknown, length: number): readonly boolean[] | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const { code, results } = error as { code?: unknown; results?: unknown };
  if (code !== "ERR_MCPAIR_REPLICATION" || !Array.isArray(results) || results.length !== length)
    return undefined;
  return results as boolean[];
}

/** Errors that concern one entry's value, refused before anything was sent (so retrying the others is safe). */
function isEntryProblem(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ERR_MCPAIR_VALUE_TOO_LARGE" || code === "ERR_MCPAIR_CODEC";
}

function assertKey(key: unknown, method: string): asserts key is string {
  if (typeof key !== "string") {
    throw new InvalidArgumentError(`KeyvMcpair.${method}: keys must be strings, got ${typeof key}`);
  }
}

function assertKeys(keys: unknown, method: string): asserts keys is string[] {
  if (!Array.isArray(keys)) throw new InvalidArgumentError(`KeyvMcpair.${method}: keys must be an array`);
  for (const key of keys) assertKey(key, method);
}
