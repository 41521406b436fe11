import { authoritativeStore, type CasToken, casStore } from "./authority.js";
import {
  type CacheClient,
  type CacheFetchOptions,
  type CounterOptions,
  createGetManyResult,
  type GetManyResult,
  type NamespaceClient,
  type OperationOptions,
  type ReadOptions,
  type ScopeSnapshot,
  type WriteOptions,
} from "./cache-client.js";
import { type ClientStats, channels, type PairClientEvents } from "./client-stats.js";
import { Cluster } from "./cluster.js";
import type { EncodedValue } from "./codec.js";
import { arithmetic } from "./counters.js";
import { deleteKey, deleteKeys, invalidateKey, redeleteOthers } from "./deletes.js";
import { Emitter } from "./emitter.js";
import {
  ClientClosedError,
  InvalidArgumentError,
  ReplicationError,
  ServerUnavailableError,
  ValueTooLargeError,
} from "./errors.js";
import { batchResults, touchKey, writeEntries, writeOne } from "./fan-out.js";
import type { ItemEngine, WireEntry } from "./item-engine.js";
import { drain, type ServerStatus, status, undrain } from "./maintenance.js";
import type { PairClientOptions, ResolvedOptions } from "./options.js";
import { readFrom, readItems, scheduleRepair } from "./read-path.js";
import { type ReadThroughEngine, readThrough, resolveFetchOptions } from "./read-through.js";
import {
  AutoRewarm,
  newProgress,
  type RewarmOptions,
  type RewarmProgress,
  resolveRewarm,
  runRewarm,
} from "./rewarm.js";
import { isEnvelope, NamespaceScope, RootScope } from "./scope.js";
import type { ServerNode, ServerState } from "./server-node.js";
import { sharedFlow, withSignal } from "./single-flight.js";
import type { SetMode, TransportItem } from "./transport.js";
import { resolveTtl } from "./ttl.js";

export type { CasToken } from "./authority.js";
export type { CounterOptions, OperationOptions, ReadOptions, WriteOptions } from "./cache-client.js";
export type { ClientStats, PairClientEvents, ServerStatsSnapshot } from "./client-stats.js";
export { channels } from "./client-stats.js";
export type { ServerStatus } from "./maintenance.js";
export type { RewarmOptions, RewarmProgress } from "./rewarm.js";
/** @deprecated use {@link WriteOptions} */
export type SetOptions = WriteOptions;

/**
 * The replication engine: every key lives on an ordered list of `replicas` servers.
 * - Writes go to every replica in parallel; what success means while one cannot take it is the `writePolicy`
 *   (`fan-out.ts`).
 * - Reads go down the list: primary first, then the next replica on a miss, an error, or a server that is not
 *   readable; a hit further down is written back to the replicas that missed, lease-guarded (`read-path.ts`,
 *   `read-repair.ts`).
 * - Deletes go to the replicas in *reverse* order, one after another, which is what makes lease-guarded write-back
 *   unable to resurrect a deleted value (`deletes.ts`).
 * - Lifetimes are capped at `maxTtl`.
 * - Operations with one authoritative copy (`add`, `replace`, `append`, `prepend`, `cas`: `authority.ts`; `incr`,
 *   `decr`: `counters.ts`) run on the first readable replica; when it succeeds, the others are brought in line.
 * - Maintenance: drain and status (`maintenance.ts`), rewarm (`rewarm.ts`).
 *
 * This class is the public surface; the protocols are functions of the shared `Cluster` state (`cluster.ts`).
 */
export class PairClient extends Emitter<PairClientEvents> implements CacheClient {
  readonly options: ResolvedOptions;
  /** The root client has no namespace (see {@link PairClient.namespace}). */
  readonly namespaceName: undefined = undefined;
  readonly #c: Cluster;
  #inflight = new Map<string, Promise<unknown>>();
  #rewarms = new Map<string, RewarmProgress>();
  #auto: AutoRewarm | undefined;

  constructor(options: PairClientOptions) {
    super();
    const hooks = {
      stateChanged: (node: ServerNode, from: ServerState, to: ServerState, reason: string) => {
        this.#c.stats.stateChanges++;
        this.emit("stateChange", { server: node.name, from, to, reason });
        if (channels.serverState.hasSubscribers)
          channels.serverState.publish({ client: this, server: node.name, from, to, reason });
      },
      hintOverflow: (node: ServerNode) => {
        this.emit("hintOverflow", { server: node.name, limit: node.hints.limit });
        if (channels.hintOverflow.hasSubscribers)
          channels.hintOverflow.publish({ client: this, server: node.name, limit: node.hints.limit });
      },
      rejoined: (node: ServerNode, how: "restarted" | "replayed" | "flushed" | "clean") => {
        // Came back empty: the automatic rewarm refills it (one process in the fleet, see `rewarm.ts`).
        if (how === "restarted" || how === "flushed") this.#auto?.onEmptied(node);
        this.emit("rejoin", { server: node.name, how });
      },
      error: (node: ServerNode, error: unknown) => {
        this.#c.errors[node.index]!++;
        this.emit("serverError", { server: node.name, error });
      },
      cascade: (node: ServerNode, key: string) => {
        this.#c.track(redeleteOthers(this.#c, key, node.index).catch(() => undefined));
      },
    };
    const events = {
      repaired: (
        key: string,
        from: string,
        to: string,
        outcome: Parameters<PairClientEvents["repair"]>[0]["outcome"],
      ) => {
        this.emit("repair", { key, from, to, outcome });
        if (channels.repair.hasSubscribers) channels.repair.publish({ client: this, key, from, to, outcome });
      },
    };
    this.#c = new Cluster(options, hooks, events);
    this.options = this.#c.options;
    if (this.options.rewarm !== false)
      this.#auto = new AutoRewarm(this.#c, this.options.rewarm, this.#rewarms);
    // Learn each server's process id now, so that a later outage can tell "restarted empty" from "kept old data",
    // then keep checking in the background (pid, operator drain marker).
    for (const node of this.#c.nodes) {
      void node.check();
      node.startChecks();
    }
  }

  /** Servers in configuration order with their health. */
  get servers(): ReadonlyArray<{ name: string; address: string; state: ServerState }> {
    return this.#c.nodes.map((n) => ({ name: n.name, address: n.transport.address, state: n.state }));
  }

  /** The names of the servers `key` lives on, primary first (from the configured servers, never from health). */
  replicasOf(key: string): string[] {
    const k = this.options.mapKey(key);
    return this.#c.replicas(k).map((i) => this.#c.nodes[i]!.name);
  }

  // ─── reads ────────────────────────────────────────────────────────────────────────────────────────────────────────
  /**
   * The value of `key`, or `undefined` on a miss. When no replica could answer: rejects with
   * `ServerUnavailableError`, or resolves `undefined` with `onUnavailable: "miss"` (per call or client option).
   * An entry written with tags that were invalidated since is a miss.
   */
  async get<T = unknown>(key: string, options?: ReadOptions): Promise<T | undefined> {
    this.#assertOpen();
    if (options?.tags !== undefined) return this.#scope().get<T>(key, options);
    const k = this.options.mapKey(key);
    const signal = options?.signal;
    let hit: Awaited<ReturnType<typeof readFrom>>;
    try {
      hit = await readFrom(this.#c, k, signal);
    } catch (error) {
      if (signal?.aborted || !(error instanceof ServerUnavailableError)) throw error;
      this.#c.stats.unavailable++;
      if (this.#unavailableMode(options) === "miss") return undefined;
      throw error;
    }
    if (hit === null) return undefined;
    const item = hit.item;
    if (isEnvelope(item)) return this.#scope().openOne<T>(key, item, options);
    return this.options.codec.decode(item.value, item.flags) as T;
  }

  /**
   * The values of `keys` that hit, as a Map keyed by the caller's keys. One pipelined batch per server per step:
   * primaries first, then the next replicas of the keys that missed, then the write-backs.
   *
   * Keys that no replica could answer (their servers down, draining or quarantined) are not hits and not misses: they
   * are listed in the result's `unavailable`. The call rejects with `ServerUnavailableError` only when not a single
   * key could be read (and `onUnavailable` is `"throw"`, the default): one server down costs only its share.
   */
  async getMany<T = unknown>(keys: Iterable<string>, options?: ReadOptions): Promise<GetManyResult<T>> {
    this.#assertOpen();
    if (options?.tags !== undefined) return this.#scope().getMany<T>(keys, options);
    const unique = [...new Set(keys)];
    const mapped = unique.map((k) => this.options.mapKey(k));
    const items = await readItems(this.#c, mapped, options?.signal);
    const out = createGetManyResult<T>();
    const envelopes: Array<{ key: string; item: TransportItem }> = [];
    let firstError: Error | undefined;
    for (let i = 0; i < unique.length; i++) {
      const item = items[i];
      if (item === null || item === undefined) continue;
      if (item instanceof Error) {
        firstError ??= item;
        out.unavailable.push(unique[i]!);
      } else if (isEnvelope(item)) envelopes.push({ key: unique[i]!, item });
      else out.set(unique[i]!, this.options.codec.decode(item.value, item.flags) as T);
    }
    if (
      firstError !== undefined &&
      out.unavailable.length === unique.length &&
      this.#unavailableMode(options) === "throw"
    ) {
      throw new ServerUnavailableError(`getMany: none of the ${unique.length} keys could be read`, {
        cause: firstError,
      });
    }
    if (envelopes.length > 0) await this.#scope().openInto(out, envelopes, options);
    return out;
  }

  #unavailableMode(options: ReadOptions | undefined): "throw" | "miss" {
    const mode = options?.onUnavailable ?? this.options.onUnavailable;
    if (mode !== "throw" && mode !== "miss") {
      throw new InvalidArgumentError(
        `option "onUnavailable" must be "throw" or "miss", got ${JSON.stringify(mode)}`,
      );
    }
    return mode;
  }

  /** Like `get`, with a CAS token for a later {@link PairClient.cas}. */
  async gets<T = unknown>(
    key: string,
    options?: OperationOptions,
  ): Promise<{ value: T; token: CasToken } | undefined> {
    this.#assertOpen();
    const k = this.options.mapKey(key);
    const hit = await readFrom(this.#c, k, options?.signal);
    if (hit === null) return undefined;
    return {
      value: this.options.codec.decode(hit.item.value, hit.item.flags) as T,
      token: Object.freeze({ server: hit.node.name, cas: hit.item.cas }),
    };
  }

  // ─── read-through ─────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * The cached value of `key`; on a miss, exactly one caller in the whole fleet runs `loader` and stores its result
   * on every replica, while the others wait for it (see `read-through.ts`). A `loader` result of `undefined` is
   * returned but not cached. A loader error rejects this call only: the lease is released so the next caller retries.
   * Concurrent calls for the same key in this process share one flow.
   */
  fetch<T>(key: string, loader: (key: string) => T | Promise<T>, options?: CacheFetchOptions): Promise<T> {
    try {
      this.#assertOpen();
      if (typeof loader !== "function") throw new InvalidArgumentError("fetch: loader must be a function");
      if (options?.tags !== undefined) return this.#scope().fetch(key, loader, options);
      const k = this.options.mapKey(key);
      const o = resolveFetchOptions(options, this.#c.ttl(options?.ttl));
      // Concurrent calls for the same key (with the same options) share one flow and the first caller's loader. The
      // flow runs without any caller's signal: each caller races its own signal against it, so one caller giving up
      // does not fail the others (the flow itself is bounded by its timeout and lease).
      const flowKey = `${k}\u0000${o.swr}\u0000${o.onUnavailable}\u0000${options?.ttl ?? ""}\u0000${o.leaseTtl}\u0000${o.timeout}`;
      const flow = sharedFlow(this.#inflight, flowKey, () => {
        const load = async (): Promise<Map<string, unknown>> => {
          const v = await loader(key);
          return v === undefined ? new Map() : new Map([[k, v]]);
        };
        return readThrough(this.#engine(), [k], load, o, undefined).then((m) => m.get(k) as T);
      });
      return withSignal(flow, options?.signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * `fetch` for many keys: `loader` receives the keys this caller must load (one batch per round) and returns their
   * values as a Map, a plain object or an iterable of entries. Resolves a Map of the keys that have a value.
   */
  async fetchMany<T>(
    keys: Iterable<string>,
    loader: (
      missing: string[],
    ) => Promise<Map<string, T> | Record<string, T> | Iterable<readonly [string, T]>>,
    options?: CacheFetchOptions,
  ): Promise<Map<string, T>> {
    this.#assertOpen();
    if (typeof loader !== "function") throw new InvalidArgumentError("fetchMany: loader must be a function");
    if (options?.tags !== undefined) return this.#scope().fetchMany(keys, loader, options);
    const unique = [...new Set(keys)];
    const toUser = new Map<string, string>();
    for (const key of unique) toUser.set(this.options.mapKey(key), key);
    const o = resolveFetchOptions(options, this.#c.ttl(options?.ttl));
    const load = async (mapped: string[]): Promise<Map<string, unknown>> => {
      const users = mapped.map((m) => toUser.get(m)!);
      const got = await loader(users);
      const entries: Iterable<readonly [string, unknown]> =
        got instanceof Map ||
        (got != null && typeof (got as Iterable<unknown>)[Symbol.iterator] === "function")
          ? (got as Iterable<readonly [string, unknown]>)
          : Object.entries(got as Record<string, unknown>);
      const out = new Map<string, unknown>();
      const wanted = new Set(users);
      for (const [user, v] of entries) {
        if (v !== undefined && wanted.has(user)) out.set(this.options.mapKey(user), v);
      }
      return out;
    };
    const byMapped = await readThrough(this.#engine(), [...toUser.keys()], load, o, options?.signal);
    const out = new Map<string, T>();
    for (const [m, v] of byMapped) out.set(toUser.get(m)!, v as T);
    return out;
  }

  /**
   * Marks `key` stale on every replica for `staleTtl` seconds instead of removing it: `fetch` callers are served the
   * stale value (unless they opt out) while exactly one of them refreshes it; `get` treats it as a miss.
   * Use `delete` when the old value must never be served again.
   * @param staleTtl how long the stale value may be served, in seconds; 0 deletes the key (never served again).
   * @default 30
   */
  async invalidate(key: string, staleTtl = 30, options?: OperationOptions): Promise<boolean> {
    this.#assertOpen();
    const k = this.options.mapKey(key);
    // 0 means "never serve it again": a delete (memcached would read `T0` as "stale forever", and a caller's 0
    // elsewhere means "the default lifetime", which here would be a 23-hour stale window).
    const t = staleTtl === 0 ? 0 : resolveTtl(staleTtl, this.options.maxTtl);
    return invalidateKey(this.#c, k, t, options?.signal);
  }

  #engineCache: ReadThroughEngine | undefined;

  #engine(): ReadThroughEngine {
    if (this.#engineCache) return this.#engineCache;
    this.#engineCache = {
      replicaNodes: (k) => this.#c.replicaNodes(k),
      encode: (k, v) => this.#c.encode(k, v),
      // Entries written with tags are envelopes: served only while their tags are current (checked by `validate`).
      decode: (item) =>
        isEnvelope(item) ? this.#scope().unwrap(item) : this.options.codec.decode(item.value, item.flags),
      validate: (item) => (isEnvelope(item) ? this.#scope().isCurrent(item) : true),
      now: this.options.now,
      counters: this.#c.readThrough,
      hit: (primary) => {
        if (primary) this.#c.stats.hitsPrimary++;
        else this.#c.stats.hitsReplica++;
      },
      repaired: (stored) => {
        if (stored) this.#c.stats.repairs++;
        else this.#c.stats.repairConflicts++;
      },
      track: (p) => this.#c.track(p),
      copy: (k, source, targets) => void scheduleRepair(this.#c, k, source, targets),
    };
    return this.#engineCache;
  }

  // ─── writes ───────────────────────────────────────────────────────────────────────────────────────────────────────

  /** Stores `value` on every replica of `key`. With `tags`, the entry stops being served after `invalidateTags`. */
  async set(key: string, value: unknown, options?: WriteOptions): Promise<void> {
    this.#assertOpen();
    if (options?.tags !== undefined || options?.asOf !== undefined)
      return this.#scope().set(key, value, options);
    const k = this.options.mapKey(key);
    const ttl = this.#c.ttl(options?.ttl);
    // Short strings go as they are to transports that encode them straight into their write buffer.
    const text = this.#c.sendsText ? this.options.codec.encodeText?.(value) : undefined;
    let outcome: true | Error;
    if (text !== undefined && text.text.length * 3 <= this.#c.maxValueSize) {
      outcome = await writeOne(this.#c, k, text.text, text.flags, ttl, options?.signal);
    } else {
      const enc = this.#c.encode(k, value);
      outcome = await writeOne(this.#c, k, enc.bytes, enc.flags, ttl, options?.signal);
    }
    if (outcome !== true) throw outcome;
  }

  /**
   * Stores every entry on every replica of its key; one pipelined batch per server. Resolves one `true` per entry.
   * When some entries were not stored as the write policy requires, rejects with `ReplicationError` whose `keys`
   * names them and whose `results` has one boolean per entry (the others were stored).
   */
  async setMany(entries: Iterable<readonly [string, unknown]>, options?: WriteOptions): Promise<boolean[]> {
    this.#assertOpen();
    if (options?.tags !== undefined || options?.asOf !== undefined)
      return this.#scope().setMany(entries, options);
    const ttl = this.#c.ttl(options?.ttl);
    const keys: string[] = [];
    const wire: WireEntry[] = [];
    // A value too large for the servers fails its own entry, not the batch; a bad key or TTL is a bad call.
    const tooLarge = new Map<number, Error>();
    for (const [key, value] of entries) {
      const k = this.options.mapKey(key);
      try {
        wire.push({ key: k, value: this.#c.encode(k, value), ttl });
      } catch (error) {
        if (!(error instanceof ValueTooLargeError)) throw error;
        tooLarge.set(keys.length, error);
      }
      keys.push(key);
    }
    const written = await writeEntries(this.#c, wire, options?.signal);
    let w = 0;
    const outcomes = keys.map((_, i) => tooLarge.get(i) ?? written[w++]!);
    return batchResults("setMany", "writes", keys, outcomes);
  }

  /** Stores only if `key` is absent (checked on the first readable replica). Resolves whether it was stored. */
  add(key: string, value: unknown, options?: WriteOptions): Promise<boolean> {
    return this.#authoritative("add", key, value, options);
  }

  /** Stores only if `key` exists (checked on the first readable replica). Resolves whether it was stored. */
  replace(key: string, value: unknown, options?: WriteOptions): Promise<boolean> {
    return this.#authoritative("replace", key, value, options);
  }

  /** Appends raw bytes/text to an existing value (only meaningful for string/bytes values). */
  append(key: string, value: string | Uint8Array, options?: OperationOptions): Promise<boolean> {
    return this.#authoritative("append", key, value, options);
  }

  /** Prepends raw bytes/text to an existing value. */
  prepend(key: string, value: string | Uint8Array, options?: OperationOptions): Promise<boolean> {
    return this.#authoritative("prepend", key, value, options);
  }

  /**
   * Stores `value` only if the item is unchanged since {@link PairClient.gets} returned `token`. CAS is checked on the
   * replica the token came from (the primary unless it was unreadable); when it succeeds, the other replicas get a
   * copy. Resolves false when the item changed or vanished.
   */
  async cas(key: string, value: unknown, token: CasToken, options?: WriteOptions): Promise<boolean> {
    this.#assertOpen();
    const k = this.options.mapKey(key);
    if (!token || typeof token.cas !== "bigint" || typeof token.server !== "string") {
      throw new InvalidArgumentError("cas: token must be the token returned by gets()");
    }
    const ttl = this.#c.ttl(options?.ttl);
    const enc = this.#c.encode(k, value);
    return casStore(this.#c, k, enc, ttl, token, options?.signal);
  }

  async #authoritative(mode: SetMode, key: string, value: unknown, options?: WriteOptions): Promise<boolean> {
    this.#assertOpen();
    const k = this.options.mapKey(key);
    const ttl = this.#c.ttl(options?.ttl);
    const enc: EncodedValue =
      mode === "append" || mode === "prepend" ? this.#c.rawBytes(k, value) : this.#c.encode(k, value);
    const auth = this.#c.authority(k, this.#c.replicas(k));
    return authoritativeStore(this.#c, auth, mode, k, enc, ttl, options?.signal);
  }

  /**
   * Increments a counter. Counters are authoritative on the first readable replica: the increment runs there and
   * the resulting value is copied to the other replicas. A replica's copy may lag by the increments in flight, so
   * when the authority is lost a counter can step back by those.
   * Resolves the new value, or `undefined` when the counter does not exist and no `initial` was given.
   */
  incr(key: string, delta: number | bigint = 1, options?: CounterOptions): Promise<number | undefined> {
    return this.#arithmetic("incr", key, delta, options);
  }

  /** Decrements a counter (memcached stops at 0). See {@link PairClient.incr}. */
  decr(key: string, delta: number | bigint = 1, options?: CounterOptions): Promise<number | undefined> {
    return this.#arithmetic("decr", key, delta, options);
  }

  async #arithmetic(
    mode: "incr" | "decr",
    key: string,
    delta: number | bigint,
    options?: CounterOptions,
  ): Promise<number | undefined> {
    this.#assertOpen();
    return arithmetic(this.#c, mode, this.options.mapKey(key), delta, options ?? {});
  }

  /** Sets a new lifetime on every replica. Resolves whether any replica had the key. */
  async touch(key: string, ttl: number, options?: OperationOptions): Promise<boolean> {
    this.#assertOpen();
    return touchKey(this.#c, this.options.mapKey(key), this.#c.ttl(ttl), options?.signal);
  }

  /**
   * Removes `key` from every replica (one round trip: each gets a short-lived tombstone that keeps copies from
   * refilling it, see `deletes.ts`). Resolves whether any replica held it.
   */
  async delete(key: string, options?: OperationOptions): Promise<boolean> {
    this.#assertOpen();
    return deleteKey(this.#c, this.options.mapKey(key), options?.signal);
  }

  /**
   * Deletes many keys: one pipelined batch per server. Resolves one boolean per key
   * (whether any replica held it). When some deletes were not acknowledged as the write policy requires, rejects with
   * `ReplicationError` whose `keys` names them and whose `results` says, per key, whether its delete succeeded.
   */
  async deleteMany(keys: Iterable<string>, options?: OperationOptions): Promise<boolean[]> {
    this.#assertOpen();
    const input = [...keys];
    const outcomes = await deleteKeys(
      this.#c,
      input.map((k) => this.options.mapKey(k)),
      options?.signal,
    );
    return batchResults("deleteMany", "deletes", input, outcomes);
  }

  /**
   * DANGEROUS: invalidates every item on every server (`flush_all`): every key misses until refilled from the
   * database. Meant for tests and emergencies, never for routine invalidation.
   */
  async flush(): Promise<void> {
    this.#assertOpen();
    const nodes = this.#c.nodes;
    const results = await Promise.allSettled(nodes.map((n) => n.transport.flush()));
    const failures = results.flatMap((r, i) =>
      r.status === "rejected" ? [{ server: nodes[i]!.name, error: r.reason as unknown }] : [],
    );
    if (failures.length > 0) {
      throw new ReplicationError(`flush: ${failures.length} servers were not flushed`, failures, []);
    }
  }

  // ─── namespaces and tags (see scope.ts) ─────────────────────────────────────────────────────────────────────────

  /**
   * A client scoped to the namespace `name`: its keys (any string: hashed when memcached would refuse them, the
   * original verified on read) cannot collide with other namespaces', and its `clear()` removes only its entries, for
   * every process at once, without `flush_all`. Costs one more key read per read, in parallel (no extra round trip).
   */
  namespace(name: string): NamespaceClient {
    this.#assertOpen();
    return new NamespaceScope(this.#items(), [name], this);
  }

  /**
   * Every entry written with any of `tags` through this (root) client stops being served, in every process, once
   * this resolves. Namespace clients have their own tags.
   */
  async invalidateTags(tags: Iterable<string>, options?: OperationOptions): Promise<void> {
    this.#assertOpen();
    await this.#scope().invalidateTags(tags, options);
  }

  /** See {@link CacheClient.snapshot}. */
  snapshot(tags?: Iterable<string>, options?: OperationOptions): Promise<ScopeSnapshot> {
    try {
      this.#assertOpen();
      return this.#scope().snapshot(tags, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #rootScope: RootScope | undefined;

  #scope(): RootScope {
    this.#rootScope ??= new RootScope(this.#items(), this);
    return this.#rootScope;
  }

  #itemEngine: ItemEngine | undefined;

  /** The engine at the level of wire keys and encoded items, for the namespace/tag layer (`item-engine.ts`). */
  #items(): ItemEngine {
    if (this.#itemEngine) return this.#itemEngine;
    const o = this.options;
    const c = this.#c;
    this.#itemEngine = {
      keyPrefix: o.keyPrefix,
      codec: o.codec,
      maxTtl: o.maxTtl,
      ttl: (ttl) => c.ttl(ttl),
      checkSize: (k, bytes) => {
        if (bytes > c.valueLimit(k)) throw new ValueTooLargeError(k, bytes, c.valueLimit(k));
      },
      // Every entry point checks the root client is open, so a namespace client outliving its root's close() says
      // "closed" (ClientClosedError), not "servers unavailable".
      read: async (keys, signal) => {
        this.#assertOpen();
        return readItems(c, keys, signal);
      },
      write: async (entries, signal) => {
        this.#assertOpen();
        return writeEntries(c, entries, signal);
      },
      add: async (e, signal) => {
        this.#assertOpen();
        const auth = c.authority(e.key, c.replicas(e.key));
        return authoritativeStore(c, auth, "add", e.key, e.value, e.ttl, signal);
      },
      delete: async (keys, signal) => {
        this.#assertOpen();
        return deleteKeys(c, keys, signal);
      },
      invalidate: async (k, staleTtl, signal) => {
        this.#assertOpen();
        return invalidateKey(c, k, staleTtl, signal);
      },
      touch: async (k, ttl, signal) => {
        this.#assertOpen();
        return touchKey(c, k, ttl, signal);
      },
      counter: async (mode, k, delta, opts) => {
        this.#assertOpen();
        return arithmetic(c, mode, k, delta, opts);
      },
      readThroughEngine: () => this.#engine(),
      resolveFetchOptions: (options) => resolveFetchOptions(options, c.ttl(options?.ttl)),
      countScopeRequests: (n) => {
        c.stats.scopeRequests += n;
      },
    };
    return this.#itemEngine;
  }

  // ─── maintenance: drain, status, rewarm ─────────────────────────────────────────────────────────────────────────

  /**
   * Announces maintenance of `server` to every client process: writes the drain marker on the server itself. Each
   * client stops reading it within its `health.checkInterval` (writes continue, so an aborted maintenance leaves no
   * stale data). The drain ends by itself when the server comes back empty from its reboot, or after `ttl` seconds.
   */
  async drain(server: string, options?: { ttl?: number; reason?: string }): Promise<void> {
    this.#assertOpen();
    await drain(this.#c, server, options);
  }

  /** Removes the drain marker: clients read the server again after their next check. */
  async undrain(server: string): Promise<void> {
    this.#assertOpen();
    await undrain(this.#c, server);
  }

  /** Asks every server for its state: health as this client sees it, drain marker, items, hit ratio, process. */
  async status(): Promise<ServerStatus[]> {
    this.#assertOpen();
    return status(this.#c);
  }

  /**
   * Copies to `server` exactly the keys it should hold (as primary and as secondary), read from its partners'
   * `lru_crawler metadump`, at most `rate` keys per second, now, without the fleet-wide lock of the automatic rewarm
   * (`rewarm.ts`). Each copy is the copy primitive (`copy.ts`) with the source's remaining TTL, so it never overwrites
   * newer data or brings back a deleted key. Progress is in `stats().rewarm`.
   */
  async rewarm(server: string, options?: RewarmOptions): Promise<RewarmProgress> {
    this.#assertOpen();
    const target = this.#c.node(server);
    const settings = resolveRewarm(
      {
        ...(this.options.rewarm === false ? {} : this.options.rewarm),
        ...(options?.rate === undefined ? {} : { rate: options.rate }),
        ...(options?.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      },
      "rewarm",
    );
    const progress = newProgress(target.name, this.options.now());
    this.#rewarms.set(target.name, progress);
    await runRewarm(this.#c, target, settings, progress, options?.signal);
    return { ...progress };
  }

  // ─── lifecycle and observability ─────────────────────────────────────────────────────────────────────────────────

  /** Counters since the client was created, plus each server's health. */
  stats(): ClientStats {
    const c = this.#c;
    return {
      ...c.stats,
      ...c.readThrough,
      rewarm: [...this.#rewarms.values()].map((r) => ({ ...r })),
      servers: c.nodes.map((n) => ({
        name: n.name,
        address: n.transport.address,
        state: n.state,
        errors: c.errors[n.index]!,
        hints: n.hints.size,
        hintsOverflowed: n.hints.overflowed,
      })),
    };
  }

  /** Waits for background write-backs, then closes every transport gracefully. */
  async close(): Promise<void> {
    const c = this.#c;
    if (c.closed) return;
    c.closed = true;
    this.#auto?.close();
    for (const n of c.nodes) n.close();
    await Promise.allSettled([...c.pendingRepairs, ...c.background]);
    await Promise.allSettled(c.nodes.map((n) => n.transport.close()));
  }

  /** Closes at once: everything pending rejects with `ClientClosedError`. */
  destroy(): void {
    this.#c.closed = true;
    this.#auto?.close();
    for (const n of this.#c.nodes) {
      n.close();
      n.transport.destroy(new ClientClosedError());
    }
  }

  #assertOpen(): void {
    if (this.#c.closed) throw new ClientClosedError();
  }
}
