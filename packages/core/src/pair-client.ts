import diagnostics from "node:diagnostics_channel";
import {
  type CacheClient,
  type CacheFetchOptions,
  type CounterOptions,
  createGetManyResult,
  type GetManyResult,
  type NamespaceClient,
  type OperationOptions,
  type ReadOptions,
  type WriteOptions,
} from "./cache-client.js";
import { type EncodedValue, FLAGS } from "./codec.js";
import { Emitter } from "./emitter.js";
import {
  AbortError,
  ClientClosedError,
  InvalidArgumentError,
  ReplicationError,
  ServerError,
  ServerUnavailableError,
  ValueTooLargeError,
} from "./errors.js";
import type { ItemEngine, WireEntry } from "./item-engine.js";
import { type PairClientOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import {
  isPlaceholder,
  type RepairContext,
  type RepairOutcome,
  repairItem,
  returnStaleToken,
} from "./read-repair.js";
import {
  type ReadThroughCounters,
  type ReadThroughEngine,
  readThrough,
  resolveFetchOptions,
} from "./read-through.js";
import { createRing, type Ring } from "./ring.js";
import { isEnvelope, NamespaceScope, RootScope } from "./scope.js";
import { DRAIN_KEY, ServerNode, type ServerState } from "./server-node.js";
import { parseServers } from "./servers.js";
import type {
  SetMode,
  Transport,
  TransportArithmeticOptions,
  TransportDeleteOptions,
  TransportGetOptions,
  TransportItem,
} from "./transport.js";
import { resolveTtl } from "./ttl.js";

export type { CounterOptions, OperationOptions, ReadOptions, WriteOptions } from "./cache-client.js";
/** @deprecated use {@link WriteOptions} */
export type SetOptions = WriteOptions;

/** Opaque token from {@link PairClient.gets}: which replica's CAS value it is. */
export interface CasToken {
  readonly server: string;
  readonly cas: bigint;
}

export interface ClientStats {
  /** Reads answered by the key's primary (first readable replica). */
  hitsPrimary: number;
  /** Reads answered by a later replica after an earlier one missed (each one a database load saved). */
  hitsReplica: number;
  misses: number;
  /** Keys no replica could answer (each one either an error or, with `onUnavailable: "miss"`, a miss). */
  unavailable: number;
  /** Requests added by namespaces and tags (generation reads, creations and bumps). */
  scopeRequests: number;
  /** Reads that skipped the primary because it was down, draining, recovering or hinted. */
  failovers: number;
  repairs: number;
  /** Write-backs refused because a newer write, a delete or another lease got there first (as designed). */
  repairConflicts: number;
  repairFailures: number;
  /** Background repairs skipped because `maxPendingRepairs` were already in flight. */
  repairsDropped: number;
  /** Writes/deletes a replica missed, recorded in its hint log. */
  hintsRecorded: number;
  /** Loader calls made by `fetch`/`fetchMany` (each one a database query). */
  loads: number;
  /** Values served while marked stale by `invalidate`, during a refresh. */
  staleServed: number;
  /** Polling rounds spent waiting for another caller's refresh. */
  leaseWaits: number;
  /** Waits that ran out of time and loaded without the lease. */
  fetchTimeouts: number;
  /** Loads done without the cache because no replica answered. */
  uncachedLoads: number;
  stateChanges: number;
  /** Active rewarms, running or finished. */
  rewarm: RewarmProgress[];
  servers: ServerStatsSnapshot[];
}

export interface RewarmOptions {
  /** Keys copied per second at most. @default 1000 */
  rate?: number;
  /** Copies in flight at most. @default 16 */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface RewarmProgress {
  server: string;
  /** Keys listed by the partners' metadump. */
  scanned: number;
  /** Keys the rewarmed server should hold. */
  candidates: number;
  copied: number;
  /** Already there, or changed meanwhile (newer data is never overwritten). */
  conflicts: number;
  skipped: number;
  failed: number;
  startedAt: number;
  finishedAt: number | undefined;
}

/** One server's state as seen by {@link PairClient.status}. */
export interface ServerStatus {
  name: string;
  address: string;
  /** Health as this client sees it. */
  state: ServerState;
  hints: number;
  reachable: boolean;
  /** The operator's drain marker is on the server. */
  draining: boolean;
  drain?: { reason?: string; since?: string } | undefined;
  items?: number;
  /** get_hits / (get_hits + get_misses) since the server started. */
  hitRatio?: number | undefined;
  pid?: number;
  uptime?: number;
  error?: string;
}

export interface ServerStatsSnapshot {
  name: string;
  address: string;
  state: ServerState;
  errors: number;
  hints: number;
  hintsOverflowed: boolean;
}

export interface PairClientEvents {
  /** A server changed health state. */
  stateChange: (e: { server: string; from: ServerState; to: ServerState; reason: string }) => void;
  /** A write-back finished. */
  repair: (e: { key: string; from: string; to: string; outcome: RepairOutcome }) => void;
  /** A server missed more writes than its hint log holds: it will be flushed before it is read again. */
  hintOverflow: (e: { server: string; limit: number }) => void;
  /** A server that was down is read again. */
  rejoin: (e: { server: string; how: "restarted" | "replayed" | "flushed" | "clean" }) => void;
  /** A server fault (it is also counted and may mark the server down). */
  serverError: (e: { server: string; error: unknown }) => void;
}

/**
 * `node:diagnostics_channel` channels, published only when someone subscribes:
 * - `mcpair:server-state` `{ client, server, from, to, reason }`
 * - `mcpair:repair` `{ client, key, from, to, outcome }`
 * - `mcpair:hint-overflow` `{ client, server, limit }`
 */
export const channels = {
  serverState: diagnostics.channel("mcpair:server-state"),
  repair: diagnostics.channel("mcpair:repair"),
  hintOverflow: diagnostics.channel("mcpair:hint-overflow"),
} as const;

// One request shape, allocated once. Every read asks for the CAS and the remaining TTL besides value and flags: a
// write-back needs both from its source, and a reader that is handed a stale item's refresh token needs both to give
// it back (`returnStaleToken`).
/** Bytes of a memcached item that are not data, key excluded (measured on 1.6.18: 56 + 1 + 2 + 4 for flags + CAS slack). */
const ITEM_OVERHEAD = 72;

const GET: TransportGetOptions = Object.freeze({ cas: true, ttl: true });

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown } | { ok: false; skipped: true };
const SKIPPED: Outcome = Object.freeze({ ok: false, skipped: true });
const noop = () => undefined;
const utf8 = new TextEncoder();
const utf8Text = new TextDecoder();
/** Keys a rewarm lists from one partner before copying (about 100 MB of key strings at most). */
const MAX_REWARM_KEYS = 1_000_000;

/**
 * The replication engine: every key lives on an ordered list of `replicas` servers.
 * - Writes go to every replica in parallel; what success means while one cannot take it is the `writePolicy`.
 * - Reads go down the list: primary first, then the next replica on a miss, an error, or a server that is not
 *   readable; a hit further down is written back to the replicas that missed, lease-guarded (see `read-repair.ts`).
 * - Deletes go to the replicas in *reverse* order, one after another, which is what makes lease-guarded write-back
 *   unable to resurrect a deleted value.
 * - Lifetimes are capped at `maxTtl`.
 * - Operations with one authoritative copy (`add`, `replace`, `append`, `prepend`, `incr`, `decr`, `cas`) run on the
 *   first readable replica; when it succeeds, the others are brought in line.
 */
export class PairClient extends Emitter<PairClientEvents> implements CacheClient {
  readonly options: ResolvedOptions;
  /** The root client has no namespace (see {@link PairClient.namespace}). */
  readonly namespaceName: undefined = undefined;
  readonly #ring: Ring;
  readonly #nodes: ServerNode[];
  readonly #byName: Map<string, ServerNode>;
  readonly #maxValueSize: number;
  readonly #errors: number[];
  #stats = {
    hitsPrimary: 0,
    hitsReplica: 0,
    misses: 0,
    unavailable: 0,
    scopeRequests: 0,
    failovers: 0,
    repairs: 0,
    repairConflicts: 0,
    repairFailures: 0,
    repairsDropped: 0,
    hintsRecorded: 0,
    stateChanges: 0,
  };
  #readThrough: ReadThroughCounters = {
    loads: 0,
    staleServed: 0,
    leaseWaits: 0,
    fetchTimeouts: 0,
    uncachedLoads: 0,
  };
  #inflight = new Map<string, Promise<unknown>>();
  #background = new Set<Promise<unknown>>();
  readonly #repairCtx: RepairContext;
  #pendingRepairs = new Set<Promise<void>>();
  #rewarms = new Map<string, RewarmProgress>();
  #closed = false;

  constructor(options: PairClientOptions) {
    super();
    this.options = resolveOptions(options);
    this.#repairCtx = Object.freeze({ maxTtl: this.options.maxTtl, leaseTtl: this.options.repairLeaseTtl });
    const servers = parseServers(options.servers);
    this.#ring = createRing(servers, this.options.ring);
    const hooks = {
      stateChanged: (node: ServerNode, from: ServerState, to: ServerState, reason: string) => {
        this.#stats.stateChanges++;
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
        this.emit("rejoin", { server: node.name, how });
      },
      error: (node: ServerNode, error: unknown) => {
        this.#errors[node.index]!++;
        this.emit("serverError", { server: node.name, error });
      },
    };
    const clock = { now: this.options.now, random: this.options.random };
    this.#nodes = servers.map(
      (s, i) =>
        new ServerNode(i, s, options.transport(s), this.options.health, this.options.maxHints, hooks, clock),
    );
    this.#byName = new Map(this.#nodes.map((n) => [n.name, n]));
    this.#errors = this.#nodes.map(() => 0);
    this.#maxValueSize =
      this.options.maxValueSize ?? Math.min(...this.#nodes.map((n) => n.transport.maxValueSize));
    // Learn each server's process id now, so that a later outage can tell "restarted empty" from "kept old data",
    // then keep checking in the background (pid, operator drain marker).
    for (const node of this.#nodes) {
      void node.check();
      node.startChecks();
    }
    if (options.rewarm) {
      const rewarm = options.rewarm;
      this.on("rejoin", (e) => {
        if (e.how === "restarted" || e.how === "flushed")
          void this.rewarm(e.server, rewarm).catch(() => undefined);
      });
    }
  }

  /** Servers in configuration order with their health. */
  get servers(): ReadonlyArray<{ name: string; address: string; state: ServerState }> {
    return this.#nodes.map((n) => ({ name: n.name, address: n.transport.address, state: n.state }));
  }

  /** The names of the servers `key` lives on, primary first (from the configured servers, never from health). */
  replicasOf(key: string): string[] {
    const k = this.options.mapKey(key);
    return this.#ring.replicas(k, this.options.replicas).map((i) => this.#nodes[i]!.name);
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
    const [item] = await this.#readItems([k], options?.signal);
    if (item instanceof Error) {
      if (this.#unavailableMode(options) === "miss") return undefined;
      throw item;
    }
    if (item === null || item === undefined) return undefined;
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
    const items = await this.#readItems(mapped, options?.signal);
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

  /**
   * Reads mapped keys through their replica lists, all at once (the transport coalesces each server's requests of
   * one turn into one write). Per key: the item, `null` for a miss, or the error when no replica could answer. An
   * abort rejects the whole call.
   */
  async #readItems(
    mapped: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<Array<TransportItem | null | Error>> {
    const settled = await Promise.allSettled(mapped.map((k) => this.#read(k, signal)));
    const out: Array<TransportItem | null | Error> = new Array(settled.length);
    for (let i = 0; i < settled.length; i++) {
      const r = settled[i]!;
      if (r.status === "fulfilled") out[i] = r.value;
      else {
        if (signal?.aborted || !(r.reason instanceof ServerUnavailableError)) throw r.reason;
        this.#stats.unavailable++;
        out[i] = r.reason;
      }
    }
    return out;
  }

  /** Like `get`, with a CAS token for a later {@link PairClient.cas}. */
  async gets<T = unknown>(
    key: string,
    options?: OperationOptions,
  ): Promise<{ value: T; token: CasToken } | undefined> {
    this.#assertOpen();
    const k = this.options.mapKey(key);
    const hit = await this.#readFrom(k, options?.signal);
    if (hit === null) return undefined;
    return {
      value: this.options.codec.decode(hit.item.value, hit.item.flags) as T,
      token: Object.freeze({ server: hit.node.name, cas: hit.item.cas }),
    };
  }

  async #read(k: string, signal: AbortSignal | undefined): Promise<TransportItem | null> {
    const hit = await this.#readFrom(k, signal);
    return hit === null ? null : hit.item;
  }

  /**
   * Walks the replica list. A clean miss from a readable replica makes it a write-back target; an error does not
   * (and counts toward marking the server down). A miss from a healthy replica beats an error from another: the
   * call rejects only when no replica answered at all.
   */
  async #readFrom(
    k: string,
    signal: AbortSignal | undefined,
  ): Promise<{ item: TransportItem; node: ServerNode } | null> {
    const list = this.#ring.replicas(k, this.options.replicas);
    let missed: ServerNode[] | undefined;
    let lastError: unknown;
    let answered = false;
    for (let i = 0; i < list.length; i++) {
      const node = this.#nodes[list[i]!]!;
      if (!node.readable(k)) {
        if (i === 0) this.#stats.failovers++;
        continue;
      }
      let item: TransportItem | null;
      try {
        item = await node.transport.get(k, signal ? { ...GET, signal } : GET);
        node.succeeded();
      } catch (error) {
        if (signal?.aborted) throw error;
        node.failed(error);
        lastError = error;
        if (i === 0) this.#stats.failovers++;
        continue;
      }
      answered = true;
      if (item === null) {
        if (missed === undefined) missed = [node];
        else missed.push(node);
        continue;
      }
      // A stale marker (an invalidation in progress) or someone's lease placeholder: not a value, and not ours to
      // fill, so neither returned nor a write-back target.
      if (item.stale || isPlaceholder(item)) {
        returnStaleToken(node, k, item);
        continue;
      }
      if (missed === undefined && i === 0) this.#stats.hitsPrimary++;
      else this.#stats.hitsReplica++;
      if (missed !== undefined && this.options.repair !== "off") {
        const p = this.#scheduleRepair(k, node, item, missed);
        if (p) await p;
      }
      return { item, node };
    }
    if (!answered) {
      throw new ServerUnavailableError(`no replica of key ${JSON.stringify(k.slice(0, 64))} could be read`, {
        cause: lastError,
      });
    }
    this.#stats.misses++;
    return null;
  }

  /** Starts the write-backs of `item` to `targets`; returns a promise only in `repair: "await"` mode. */
  #scheduleRepair(
    k: string,
    source: ServerNode,
    item: TransportItem,
    targets: ServerNode[],
  ): Promise<void> | undefined {
    if (this.options.repair === "background" && this.#pendingRepairs.size >= this.options.maxPendingRepairs) {
      this.#stats.repairsDropped++;
      return undefined;
    }
    const run = (async () => {
      for (const target of targets) {
        const outcome = await repairItem(this.#repairCtx, k, source, item, target).catch(
          () => "failed" as const,
        );
        if (outcome === "repaired") this.#stats.repairs++;
        else if (outcome === "conflict") this.#stats.repairConflicts++;
        else if (outcome === "failed") this.#stats.repairFailures++;
        this.emit("repair", { key: k, from: source.name, to: target.name, outcome });
        if (channels.repair.hasSubscribers) {
          channels.repair.publish({ client: this, key: k, from: source.name, to: target.name, outcome });
        }
      }
    })();
    this.#pendingRepairs.add(run);
    void run.finally(() => this.#pendingRepairs.delete(run));
    return this.options.repair === "await" ? run : undefined;
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
      const o = resolveFetchOptions(options, this.#ttl(options?.ttl));
      // Concurrent calls for the same key (with the same options) share one flow and the first caller's loader. The
      // flow runs without any caller's signal: each caller races its own signal against it, so one caller giving up
      // does not fail the others (the flow itself is bounded by its timeout and lease).
      const flowKey = `${k}\u0000${o.swr}\u0000${o.onUnavailable}\u0000${options?.ttl ?? ""}\u0000${o.leaseTtl}\u0000${o.timeout}`;
      let flow = this.#inflight.get(flowKey) as Promise<T> | undefined;
      if (!flow) {
        const load = async (): Promise<Map<string, unknown>> => {
          const v = await loader(key);
          return v === undefined ? new Map() : new Map([[k, v]]);
        };
        const p = readThrough(this.#engine(), [k], load, o, undefined).then((m) => m.get(k) as T);
        this.#inflight.set(flowKey, p);
        const clear = () => {
          if (this.#inflight.get(flowKey) === p) this.#inflight.delete(flowKey);
        };
        p.then(clear, clear);
        flow = p;
      }
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
    const o = resolveFetchOptions(options, this.#ttl(options?.ttl));
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
   * @param staleTtl how long the stale value may be served, in seconds. @default 30
   */
  async invalidate(key: string, staleTtl = 30, options?: OperationOptions): Promise<boolean> {
    this.#assertOpen();
    const k = this.options.mapKey(key);
    const t = this.#ttl(staleTtl);
    return this.#deleteOne(k, { invalidate: t, signal: options?.signal }, "invalidate");
  }

  #engineCache: ReadThroughEngine | undefined;

  #engine(): ReadThroughEngine {
    if (this.#engineCache) return this.#engineCache;
    this.#engineCache = {
      replicaNodes: (k) => this.#ring.replicas(k, this.options.replicas).map((i) => this.#nodes[i]!),
      encode: (k, v) => this.#encode(k, v),
      // Entries written with tags are envelopes: served only while their tags are current (checked by `validate`).
      decode: (item) =>
        isEnvelope(item) ? this.#scope().unwrap(item) : this.options.codec.decode(item.value, item.flags),
      validate: (item) => (isEnvelope(item) ? this.#scope().isCurrent(item) : true),
      now: this.options.now,
      counters: this.#readThrough,
      hit: (primary) => {
        if (primary) this.#stats.hitsPrimary++;
        else this.#stats.hitsReplica++;
      },
      repaired: (stored) => {
        if (stored) this.#stats.repairs++;
        else this.#stats.repairConflicts++;
      },
      track: (p) => {
        this.#background.add(p);
        void p.finally(() => this.#background.delete(p));
      },
    };
    return this.#engineCache;
  }

  // ─── writes ───────────────────────────────────────────────────────────────────────────────────────────────────────

  /** Stores `value` on every replica of `key`. With `tags`, the entry stops being served after `invalidateTags`. */
  async set(key: string, value: unknown, options?: WriteOptions): Promise<void> {
    this.#assertOpen();
    if (options?.tags !== undefined) return this.#scope().set(key, value, options);
    const k = this.options.mapKey(key);
    const ttl = this.#ttl(options?.ttl);
    const enc = this.#encode(k, value);
    const list = this.#ring.replicas(k, this.options.replicas);
    const outcomes = await this.#onEach(k, list, (t) =>
      t.set(k, enc.bytes, { ttl, flags: enc.flags, signal: options?.signal }),
    );
    this.#checkPolicy("set", k, list, outcomes);
  }

  /**
   * Stores every entry on every replica of its key; one pipelined batch per server. Resolves one `true` per entry.
   * When some entries were not stored as the write policy requires, rejects with `ReplicationError` whose `keys`
   * names them and whose `results` has one boolean per entry (the others were stored).
   */
  async setMany(entries: Iterable<readonly [string, unknown]>, options?: WriteOptions): Promise<boolean[]> {
    this.#assertOpen();
    if (options?.tags !== undefined) return this.#scope().setMany(entries, options);
    const ttl = this.#ttl(options?.ttl);
    const keys: string[] = [];
    const wire: WireEntry[] = [];
    for (const [key, value] of entries) {
      const k = this.options.mapKey(key);
      keys.push(key);
      wire.push({ key: k, value: this.#encode(k, value), ttl });
    }
    const outcomes = await this.#writeEntries(wire, options?.signal);
    return batchResults("setMany", "writes", keys, outcomes);
  }

  /** Writes entries to every replica (one pipelined batch per server); per entry `true` or the policy's error. */
  async #writeEntries(
    entries: readonly WireEntry[],
    signal: AbortSignal | undefined,
  ): Promise<Array<true | Error>> {
    return Promise.all(
      entries.map(async ({ key: k, value: enc, ttl }) => {
        const list = this.#ring.replicas(k, this.options.replicas);
        const outcomes = await this.#onEach(k, list, (t) =>
          t.set(k, enc.bytes, { ttl, flags: enc.flags, signal }),
        );
        try {
          this.#checkPolicy("set", k, list, outcomes);
          return true as const;
        } catch (error) {
          return error as Error;
        }
      }),
    );
  }

  /** Stores only if `key` is absent (checked on the first readable replica). Resolves whether it was stored. */
  add(key: string, value: unknown, options?: WriteOptions): Promise<boolean> {
    return this.#authoritativeStore("add", key, value, options);
  }

  /** Stores only if `key` exists (checked on the first readable replica). Resolves whether it was stored. */
  replace(key: string, value: unknown, options?: WriteOptions): Promise<boolean> {
    return this.#authoritativeStore("replace", key, value, options);
  }

  /** Appends raw bytes/text to an existing value (only meaningful for string/bytes values). */
  append(key: string, value: string | Uint8Array, options?: OperationOptions): Promise<boolean> {
    return this.#authoritativeStore("append", key, value, options);
  }

  /** Prepends raw bytes/text to an existing value. */
  prepend(key: string, value: string | Uint8Array, options?: OperationOptions): Promise<boolean> {
    return this.#authoritativeStore("prepend", key, value, options);
  }

  /**
   * Stores `value` only if the item is unchanged since {@link PairClient.gets} returned `token`. CAS is checked on the
   * replica the token came from (the primary unless it was unreadable); when it succeeds, the other replicas get a
   * plain copy. Resolves false when the item changed or vanished.
   */
  async cas(key: string, value: unknown, token: CasToken, options?: WriteOptions): Promise<boolean> {
    this.#assertOpen();
    const k = this.options.mapKey(key);
    if (!token || typeof token.cas !== "bigint" || typeof token.server !== "string") {
      throw new InvalidArgumentError("cas: token must be the token returned by gets()");
    }
    const node = this.#byName.get(token.server);
    if (!node)
      throw new InvalidArgumentError(`cas: token names unknown server ${JSON.stringify(token.server)}`);
    const ttl = this.#ttl(options?.ttl);
    const enc = this.#encode(k, value);
    if (!node.reachable) throw node.unavailable();
    let result: string;
    try {
      result = await node.transport.set(k, enc.bytes, {
        ttl,
        flags: enc.flags,
        cas: token.cas,
        signal: options?.signal,
      });
      node.succeeded();
    } catch (error) {
      node.failed(error);
      node.hint(k);
      throw error;
    }
    if (result !== "stored") return false;
    const others = this.#ring.replicas(k, this.options.replicas).filter((i) => i !== node.index);
    await this.#onEach(k, others, (t) => t.set(k, enc.bytes, { ttl, flags: enc.flags }));
    return true;
  }

  async #authoritativeStore(
    mode: SetMode,
    key: string,
    value: unknown,
    options?: WriteOptions,
  ): Promise<boolean> {
    this.#assertOpen();
    const k = this.options.mapKey(key);
    const ttl = this.#ttl(options?.ttl);
    const enc: EncodedValue =
      mode === "append" || mode === "prepend" ? this.#rawBytes(k, value) : this.#encode(k, value);
    const auth = this.#authority(k, this.#ring.replicas(k, this.options.replicas));
    return this.#authoritativeStoreOn(auth, mode, k, enc, ttl, options?.signal);
  }

  /** Runs a conditional store on the authority; when it succeeds, brings the other replicas in line. */
  async #authoritativeStoreOn(
    auth: ServerNode,
    mode: SetMode,
    k: string,
    enc: EncodedValue,
    ttl: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const list = this.#ring.replicas(k, this.options.replicas);
    let result: string;
    try {
      result = await auth.transport.set(k, enc.bytes, {
        mode,
        ttl,
        flags: enc.flags,
        signal,
      });
      if (result === "not_stored" && mode === "add") {
        // A lease placeholder or a stale marker is not a value: `add` wins over it (the lease holder's CAS-guarded
        // store then fails, which is what a lease is for).
        const current = await auth.transport.get(k, {
          cas: true,
          ttl: true,
          value: false,
          signal,
        });
        if (current !== null && (isPlaceholder(current) || current.stale)) {
          const opts = { ttl, flags: enc.flags, cas: current.cas, signal };
          result = await auth.transport.set(k, enc.bytes, opts);
        }
      }
      auth.succeeded();
    } catch (error) {
      auth.failed(error);
      auth.hint(k);
      throw error;
    }
    if (result !== "stored") return false;
    // The authority accepted: bring the others in line. add/replace copy the value (whatever the others held is now
    // older); append/prepend apply the same edit (a replica without the item stays without it).
    const others = list.filter((i) => i !== auth.index);
    const copyMode: SetMode = mode === "append" || mode === "prepend" ? mode : "set";
    await this.#onEach(k, others, (t) => t.set(k, enc.bytes, { mode: copyMode, ttl, flags: enc.flags }));
    return true;
  }

  /** The first readable replica: operations with one authoritative copy run there. */
  #authority(k: string, list: readonly number[]): ServerNode {
    for (const i of list) {
      const node = this.#nodes[i]!;
      if (node.readable(k)) return node;
    }
    throw new ServerUnavailableError(`no replica of key ${JSON.stringify(k.slice(0, 64))} is readable`);
  }

  /**
   * Increments a counter. Counters are authoritative on the first readable replica: the increment runs there and
   * the resulting value is copied to the other replicas (with the call's TTL). A replica's copy may lag by the
   * increments in flight, so when the authority is lost a counter can step back by those.
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
    return this.#arithmeticOn(mode, this.options.mapKey(key), delta, options ?? {});
  }

  async #arithmeticOn(
    mode: "incr" | "decr",
    k: string,
    delta: number | bigint,
    options: CounterOptions,
  ): Promise<number | undefined> {
    const d = toCounter("delta", delta);
    const initial = options?.initial === undefined ? undefined : toCounter("initial", options.initial);
    const ttl = this.#ttl(options?.ttl);
    const list = this.#ring.replicas(k, this.options.replicas);
    const auth = this.#authority(k, list);
    let r: { value: bigint } | null;
    try {
      const op = { mode, delta: d, initial, ttl, signal: options?.signal };
      r = await this.#counterOp(auth, k, op);
      if (r === null) {
        // The authority lost the counter (restarted, say) but a later replica may still hold it: copy it back with
        // the lease-guarded write-back first, so a failover does not reset counters.
        for (const i of list) {
          const node = this.#nodes[i]!;
          if (node === auth || !node.readable(k)) continue;
          const item = await node.transport.get(k, GET).catch(() => null);
          if (item === null || item.stale || isPlaceholder(item)) continue;
          await repairItem(this.#repairCtx, k, node, item, auth);
          r = await this.#counterOp(auth, k, op);
          break;
        }
      }
      auth.succeeded();
    } catch (error) {
      auth.failed(error);
      auth.hint(k);
      throw error;
    }
    if (r === null) return undefined;
    const text = utf8.encode(r.value.toString());
    const others = list.filter((i) => i !== auth.index);
    // Raw decimal with flags 0, as memcached itself stores counters, so incr keeps working on every copy.
    await this.#onEach(k, others, (t) => t.set(k, text, { ttl, flags: 0 }));
    return Number(r.value);
  }

  /** `ma` on the authority; a lease placeholder there counts as a miss (it is removed if still the same). */
  async #counterOp(
    auth: ServerNode,
    k: string,
    op: TransportArithmeticOptions,
  ): Promise<{ value: bigint } | null> {
    try {
      return await auth.transport.arithmetic(k, op);
    } catch (error) {
      if (!(error instanceof ServerError)) throw error;
      const current = await auth.transport.get(k, { cas: true, value: false, signal: op.signal });
      if (current === null || !isPlaceholder(current)) throw error;
      await auth.transport.delete(k, { cas: current.cas, signal: op.signal });
      return auth.transport.arithmetic(k, op);
    }
  }

  /** Sets a new lifetime on every replica. Resolves whether any replica had the key. */
  async touch(key: string, ttl: number, options?: OperationOptions): Promise<boolean> {
    this.#assertOpen();
    return this.#touch(this.options.mapKey(key), this.#ttl(ttl), options?.signal);
  }

  async #touch(k: string, t: number, signal: AbortSignal | undefined): Promise<boolean> {
    const list = this.#ring.replicas(k, this.options.replicas);
    const outcomes = await this.#onEach(k, list, (tr) => tr.touch(k, t, { signal }), false);
    return outcomes.some((o) => o.ok && o.value === true);
  }

  /**
   * Removes `key` from every replica, last replica first, one after another: a read-repair that copied from a later
   * replica then always finds the key gone there (see `read-repair.ts`). Resolves whether any replica held it.
   */
  async delete(key: string, options?: OperationOptions): Promise<boolean> {
    this.#assertOpen();
    const k = this.options.mapKey(key);
    return this.#deleteOne(k, { signal: options?.signal }, "delete");
  }

  async #deleteOne(k: string, opts: TransportDeleteOptions, what: string): Promise<boolean> {
    const list = this.#ring.replicas(k, this.options.replicas);
    const outcomes: Outcome[] = new Array(list.length);
    for (let i = list.length - 1; i >= 0; i--) {
      outcomes[i] = (await this.#onEach(k, [list[i]!], (t) => t.delete(k, opts)))[0]!;
    }
    this.#checkPolicy(what, k, list, outcomes);
    return outcomes.some((o) => o.ok && o.value === "deleted");
  }

  /**
   * Deletes many keys: one pipelined batch per server per replica rank, last rank first. Resolves one boolean per key
   * (whether any replica held it). When some deletes were not acknowledged as the write policy requires, rejects with
   * `ReplicationError` whose `keys` names them and whose `results` says, per key, whether its delete succeeded.
   */
  async deleteMany(keys: Iterable<string>, options?: OperationOptions): Promise<boolean[]> {
    this.#assertOpen();
    const input = [...keys];
    const outcomes = await this.#deleteKeys(
      input.map((k) => this.options.mapKey(k)),
      options?.signal,
    );
    return batchResults("deleteMany", "deletes", input, outcomes);
  }

  /** Deletes mapped keys, rank by rank from the last replica; per key whether any replica held it, or the error. */
  async #deleteKeys(
    keys: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<Array<boolean | Error>> {
    const mapped = [...new Set(keys)];
    const lists = mapped.map((k) => this.#ring.replicas(k, this.options.replicas));
    const outcomes = lists.map((l) => new Array<Outcome>(l.length));
    const ranks = Math.max(0, ...lists.map((l) => l.length));
    for (let rank = ranks - 1; rank >= 0; rank--) {
      await Promise.all(
        mapped.map(async (k, j) => {
          const idx = lists[j]![rank];
          if (idx === undefined) return;
          outcomes[j]![rank] = (await this.#onEach(k, [idx], (t) => t.delete(k, { signal })))[0]!;
        }),
      );
    }
    const byKey = new Map<string, boolean | Error>();
    mapped.forEach((k, j) => {
      try {
        this.#checkPolicy("delete", k, lists[j]!, outcomes[j]!);
        byKey.set(
          k,
          outcomes[j]!.some((o) => o.ok && o.value === "deleted"),
        );
      } catch (error) {
        byKey.set(k, error as Error);
      }
    });
    return keys.map((k) => byKey.get(k)!);
  }

  /**
   * DANGEROUS: invalidates every item on every server (`flush_all`): every key misses until refilled from the
   * database. Meant for tests and emergencies, never for routine invalidation.
   */
  async flush(): Promise<void> {
    this.#assertOpen();
    const results = await Promise.allSettled(this.#nodes.map((n) => n.transport.flush()));
    const failures = results.flatMap((r, i) =>
      r.status === "rejected" ? [{ server: this.#nodes[i]!.name, error: r.reason as unknown }] : [],
    );
    if (failures.length > 0) {
      throw new ReplicationError(`flush: ${failures.length} servers were not flushed`, failures, []);
    }
  }

  /**
   * Runs `op` on the replicas `list` in parallel; replicas that are down or fail get a hint for `k`. Every request is
   * issued before the first await (so they share one pipelined write per server), then awaited in order: cheaper on
   * the hot path than `Promise.all` with two closures per replica.
   */
  async #onEach(
    k: string,
    list: readonly number[],
    op: (t: Transport) => Promise<unknown>,
    hintOnFailure = true,
  ): Promise<Outcome[]> {
    const n = list.length;
    const pending: Array<Promise<unknown> | undefined> = new Array(n);
    for (let j = 0; j < n; j++) {
      const node = this.#nodes[list[j]!]!;
      if (!node.reachable) continue;
      const p = op(node.transport);
      // A later replica can fail while we still await an earlier one: mark its rejection handled now, or Node
      // reports it as unhandled (and exits, by default) before our await reaches it.
      p.catch(noop);
      pending[j] = p;
    }
    const outcomes: Outcome[] = new Array(n);
    for (let j = 0; j < n; j++) {
      const node = this.#nodes[list[j]!]!;
      const p = pending[j];
      if (p === undefined) outcomes[j] = SKIPPED;
      else {
        try {
          const value = await p;
          node.succeeded();
          outcomes[j] = { ok: true, value };
        } catch (error) {
          node.failed(error);
          outcomes[j] = { ok: false, error };
        }
      }
      if (hintOnFailure && !outcomes[j]!.ok) {
        node.hint(k);
        this.#stats.hintsRecorded++;
      }
    }
    return outcomes;
  }

  #checkPolicy(what: string, k: string, list: readonly number[], outcomes: readonly Outcome[]): void {
    let acked = 0;
    for (const o of outcomes) if (o.ok) acked++;
    if (acked === outcomes.length) return;
    if (acked > 0 && this.options.writePolicy === "one") return;
    const failures: Array<{ server: string; error: unknown }> = [];
    const acknowledged: string[] = [];
    outcomes.forEach((o, j) => {
      const node = this.#nodes[list[j]!]!;
      if (o.ok) acknowledged.push(node.name);
      else failures.push({ server: node.name, error: "error" in o ? o.error : node.unavailable() });
    });
    throw new ReplicationError(
      `${what} of key ${JSON.stringify(k.slice(0, 64))} was acknowledged by ${acked} of ${outcomes.length} replicas (writePolicy "${this.options.writePolicy}")`,
      failures,
      acknowledged,
    );
  }

  #ttl(ttl: number | undefined): number {
    return resolveTtl(
      ttl === undefined || ttl === 0 ? this.options.defaultTtl : ttl,
      this.options.maxTtl,
      this.options.ttlJitter,
      this.options.random,
    );
  }

  #encode(k: string, value: unknown): EncodedValue {
    const enc = this.options.codec.encode(value);
    if (enc.flags === 0)
      throw new InvalidArgumentError("codec returned flags 0, which mcpair reserves for lease placeholders");
    if (enc.bytes.length > this.#maxValueSize)
      throw new ValueTooLargeError(k, enc.bytes.length, this.#maxValueSize);
    return enc;
  }

  /**
   * memcached's item size limit (`-I`, 1 MiB) covers the whole item: a header of about 56 bytes, the CAS, the key,
   * the flags and the data's CRLF. A value that passes a data-only check but not the server's would fail as a
   * replication error on every replica; checking with the overhead turns it into a `ValueTooLargeError` up front.
   */
  #valueLimit(k: string): number {
    return this.#maxValueSize - ITEM_OVERHEAD - k.length;
  }

  #rawBytes(k: string, value: unknown): EncodedValue {
    if (typeof value !== "string" && !(value instanceof Uint8Array)) {
      throw new InvalidArgumentError("append/prepend take a string or bytes");
    }
    const bytes = typeof value === "string" ? utf8.encode(value) : value;
    if (bytes.length > this.#valueLimit(k))
      throw new ValueTooLargeError(k, bytes.length, this.#valueLimit(k));
    return { bytes, flags: 0 };
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
    this.#itemEngine = {
      keyPrefix: o.keyPrefix,
      codec: o.codec,
      maxTtl: o.maxTtl,
      ttl: (ttl) => this.#ttl(ttl),
      checkSize: (k, bytes) => {
        if (bytes > this.#valueLimit(k)) throw new ValueTooLargeError(k, bytes, this.#valueLimit(k));
      },
      read: (keys, signal) => this.#readItems(keys, signal),
      write: (entries, signal) => this.#writeEntries(entries, signal),
      add: async (e, signal) => {
        const auth = this.#authority(e.key, this.#ring.replicas(e.key, o.replicas));
        return this.#authoritativeStoreOn(auth, "add", e.key, e.value, e.ttl, signal);
      },
      delete: (keys, signal) => this.#deleteKeys(keys, signal),
      invalidate: (k, staleTtl, signal) => this.#deleteOne(k, { invalidate: staleTtl, signal }, "invalidate"),
      touch: (k, ttl, signal) => this.#touch(k, ttl, signal),
      counter: (mode, k, delta, opts) => this.#arithmeticOn(mode, k, delta, opts),
      readThroughEngine: () => this.#engine(),
      resolveFetchOptions: (options) => resolveFetchOptions(options, this.#ttl(options?.ttl)),
      countScopeRequests: (n) => {
        this.#stats.scopeRequests += n;
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
    const node = this.#node(server);
    const ttl = this.#ttl(options?.ttl ?? 3600);
    const marker = utf8.encode(
      JSON.stringify({
        reason: options?.reason ?? "maintenance",
        since: new Date(this.options.now()).toISOString(),
      }),
    );
    await node.transport.set(DRAIN_KEY, marker, { ttl, flags: FLAGS.json });
    node.setDraining(true);
  }

  /** Removes the drain marker: clients read the server again after their next check. */
  async undrain(server: string): Promise<void> {
    this.#assertOpen();
    const node = this.#node(server);
    await node.transport.delete(DRAIN_KEY);
    node.setDraining(false);
  }

  /** Asks every server for its state: health as this client sees it, drain marker, items, hit ratio, process. */
  async status(): Promise<ServerStatus[]> {
    this.#assertOpen();
    return Promise.all(
      this.#nodes.map(async (node): Promise<ServerStatus> => {
        const base = {
          name: node.name,
          address: node.transport.address,
          state: node.state,
          hints: node.hints.size,
        };
        try {
          const [stats, marker] = await Promise.all([node.transport.stats(), node.transport.get(DRAIN_KEY)]);
          const hits = Number(stats.raw.get_hits ?? 0);
          const misses = Number(stats.raw.get_misses ?? 0);
          let drain: { reason?: string; since?: string } | undefined;
          if (marker && !marker.stale && marker.value.length > 0) {
            try {
              drain = JSON.parse(utf8Text.decode(marker.value)) as {
                reason?: string;
                since?: string;
              };
            } catch {
              drain = {};
            }
          }
          return {
            ...base,
            reachable: true,
            draining: drain !== undefined,
            drain,
            items: stats.currItems,
            hitRatio: hits + misses === 0 ? undefined : hits / (hits + misses),
            pid: stats.pid,
            uptime: stats.uptime,
          };
        } catch (error) {
          return { ...base, reachable: false, draining: false, error: (error as Error).message };
        }
      }),
    );
  }

  /**
   * Copies to `server` exactly the keys it should hold, read from its partners' `lru_crawler metadump`, at most
   * `rate` keys per second. Each copy is a lease-guarded write-back (see `read-repair.ts`) with the source's remaining
   * TTL, so it never overwrites newer data or resurrects a deleted key. Progress is in `stats().rewarm`.
   */
  async rewarm(server: string, options?: RewarmOptions): Promise<RewarmProgress> {
    this.#assertOpen();
    const target = this.#node(server);
    const rate = options?.rate ?? 1000;
    const concurrency = options?.concurrency ?? 16;
    if (!(rate > 0) || !Number.isFinite(rate))
      throw new InvalidArgumentError(
        `rewarm: "rate" must be a positive number of keys per second, got ${String(rate)}`,
      );
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
      throw new InvalidArgumentError(
        `rewarm: "concurrency" must be a whole number from 1 to 1024, got ${String(concurrency)}`,
      );
    }
    const progress: RewarmProgress = {
      server: target.name,
      scanned: 0,
      candidates: 0,
      copied: 0,
      conflicts: 0,
      skipped: 0,
      failed: 0,
      startedAt: this.options.now(),
      finishedAt: undefined,
    };
    this.#rewarms.set(target.name, progress);
    const inflight = new Set<Promise<void>>();
    const interval = 1000 / rate;
    let nextAt = this.options.now();
    for (const source of this.#nodes) {
      if (source === target || !source.reachable) continue;
      // Read the partner's whole key list first, then copy at the rate: memcached's LRU crawler is not a snapshot,
      // and a dump consumed at copy speed under live traffic was measured to miss keys as items moved in the LRU.
      const keys: string[] = [];
      for await (const entry of source.transport.dump()) {
        if (this.#closed || options?.signal?.aborted) break;
        progress.scanned++;
        const k = entry.key;
        if (k === DRAIN_KEY) continue;
        const list = this.#ring.replicas(k, this.options.replicas);
        // Copy only keys the target should hold, and only from the first partner that holds them (no duplicate work).
        if (!list.includes(target.index)) continue;
        const firstSource = list.find((i) => i !== target.index && this.#nodes[i]!.reachable);
        if (firstSource !== source.index) continue;
        if (keys.length >= MAX_REWARM_KEYS) break;
        keys.push(k);
      }
      progress.candidates += keys.length;
      for (const k of keys) {
        if (this.#closed || options?.signal?.aborted) break;
        // Pace in steps of at least 5 ms: timers cannot sleep less than about 1 ms, so sleeping whenever we are a
        // fraction of a millisecond ahead would cap the rate near 1,000 keys/s whatever `rate` says.
        const wait = nextAt - this.options.now();
        if (wait >= 5) await new Promise((r) => setTimeout(r, wait));
        nextAt = Math.max(nextAt, this.options.now() - 5) + interval;
        while (inflight.size >= concurrency) await Promise.race(inflight);
        const job = (async () => {
          let item: TransportItem | null;
          try {
            item = await source.transport.get(k, GET);
          } catch {
            progress.failed++;
            return;
          }
          if (item === null || item.stale || isPlaceholder(item)) {
            if (item !== null) returnStaleToken(source, k, item);
            progress.skipped++;
            return;
          }
          const outcome = await repairItem(this.#repairCtx, k, source, item, target).catch(
            () => "failed" as const,
          );
          if (outcome === "repaired") progress.copied++;
          else if (outcome === "conflict") progress.conflicts++;
          else if (outcome === "failed") progress.failed++;
          else progress.skipped++;
        })();
        inflight.add(job);
        void job.finally(() => inflight.delete(job));
      }
    }
    await Promise.all(inflight);
    progress.finishedAt = this.options.now();
    return { ...progress };
  }

  #node(server: string): ServerNode {
    const node = this.#byName.get(server) ?? this.#nodes.find((n) => n.transport.address === server);
    if (!node) {
      throw new InvalidArgumentError(
        `unknown server ${JSON.stringify(server)}; configured: ${this.#nodes.map((n) => n.name).join(", ")}`,
      );
    }
    return node;
  }

  // ─── lifecycle and observability ─────────────────────────────────────────────────────────────────────────────────

  /** Counters since the client was created, plus each server's health. */
  stats(): ClientStats {
    return {
      ...this.#stats,
      ...this.#readThrough,
      rewarm: [...this.#rewarms.values()].map((r) => ({ ...r })),
      servers: this.#nodes.map((n) => ({
        name: n.name,
        address: n.transport.address,
        state: n.state,
        errors: this.#errors[n.index]!,
        hints: n.hints.size,
        hintsOverflowed: n.hints.overflowed,
      })),
    };
  }

  /** Waits for background write-backs, then closes every transport gracefully. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const n of this.#nodes) n.close();
    await Promise.allSettled([...this.#pendingRepairs, ...this.#background]);
    await Promise.allSettled(this.#nodes.map((n) => n.transport.close()));
  }

  /** Closes at once: everything pending rejects with `ClientClosedError`. */
  destroy(): void {
    this.#closed = true;
    for (const n of this.#nodes) {
      n.close();
      n.transport.destroy(new ClientClosedError());
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClientClosedError();
  }
}

/** `p`, or an `AbortError` as soon as `signal` fires (the work behind `p` goes on for its other waiters). */
function withSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new AbortError("fetch aborted", { cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortError("fetch aborted", { cause: signal.reason }));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function toCounter(name: string, v: number | bigint): bigint {
  if (typeof v === "bigint") {
    if (v < 0n || v > 0xffff_ffff_ffff_ffffn)
      throw new InvalidArgumentError(`${name} must be from 0 to 2^64-1`);
    return v;
  }
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new InvalidArgumentError(
      `${name} must be a non-negative safe integer or a bigint, got ${String(v)}`,
    );
  }
  return BigInt(v);
}

/**
 * Turns per-entry outcomes into the batch result: the values when every entry succeeded, otherwise a
 * `ReplicationError` naming the failed keys, with one boolean per entry.
 */
function batchResults<R>(
  what: string,
  noun: string,
  keys: readonly string[],
  outcomes: ReadonlyArray<R | Error>,
): Array<Exclude<R, Error>> {
  const failed: string[] = [];
  const failures: Array<{ server: string; error: unknown }> = [];
  outcomes.forEach((o, i) => {
    if (o instanceof Error) {
      failed.push(keys[i]!);
      if (o instanceof ReplicationError) failures.push(...o.failures);
      else failures.push({ server: "", error: o });
    }
  });
  if (failed.length > 0) {
    throw new ReplicationError(
      `${what}: ${failed.length} of ${keys.length} ${noun} were not acknowledged as the write policy requires`,
      failures,
      [],
      { keys: failed, results: outcomes.map((o) => !(o instanceof Error)) },
    );
  }
  return outcomes as Array<Exclude<R, Error>>;
}
