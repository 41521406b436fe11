import type { EncodedValue } from "./codec.js";
import { isPlaceholder, isTombstone, isValue, returnStaleToken } from "./copy.js";
import { AbortError, InvalidArgumentError, ServerUnavailableError } from "./errors.js";
import type { ServerNode } from "./server-node.js";
import type { TransportItem } from "./transport.js";

/**
 * Stampede-free read-through (`fetch`), built on memcached's native leases.
 *
 * One key, one round:
 *   1. `mg k v f c t N<lease>` on the key's first readable replica (the authority).
 *      - a real, fresh item: done.
 *      - our win token `W` (on a fresh placeholder, or on an item an `invalidate` marked stale): we are the one
 *        caller in the fleet that refreshes it.
 *      - someone else's token `Z`: a refresh is under way; serve the stale value if there is one and the caller
 *        allows it, otherwise poll again with backoff. Polls carry `N` too, so when the winner dies its placeholder
 *        expires after `leaseTtl` and the next poll wins: the refresh moves on to another caller.
 *   2. The winner takes leases on the other readable replicas *before* loading (one pipelined round); a fresh item
 *      there (the primary was restarted, say) is used and written back instead of loading.
 *   3. It runs the loader, then stores with `C<cas of our placeholder>`: on the authority first, and on the other
 *      replicas only if the authority accepted.
 * Why a delete that races the loader cannot leave the loader's (older) value behind (deletes reach every replica in
 * two rounds, the second after the first was acknowledged everywhere: `deletes.ts`). Take a replica where we store,
 * under the lease we took there before loading. If a request of the delete reached it after our lease, our lease is
 * gone and that store fails. Otherwise both rounds reached it before our lease, so the first round had reached every
 * replica, which means the database change behind the delete happened before our loader ran: the loaded value is
 * the new one. A copy found on another replica (step 2) is stored only on the authority, whose lease predates the
 * read that found it (the copy primitive's order, `copy.ts`); the other replicas are refilled from there.
 */

export interface FetchOptions {
  /** Lifetime of the stored value in seconds (capped at `maxTtl`). @default the client's defaultTtl */
  ttl?: number;
  /** How long a refresh may hold the lease, in seconds; a dead winner is replaced after this. @default 5 */
  leaseTtl?: number;
  /** Serve a value marked stale by `invalidate` while one caller refreshes it. @default true */
  staleWhileRevalidate?: boolean;
  /** Longest wait for another caller's refresh, in ms; then the loader runs here (its result is not cached). @default 10000 */
  timeout?: number;
  /**
   * What to do when no replica of the key answers: `"load"` runs the loader without caching (the cache never makes
   * the application fail); `"throw"` rejects with `ServerUnavailableError`.
   * @default "load"
   */
  onUnavailable?: "load" | "throw";
  signal?: AbortSignal;
}

export interface ResolvedFetchOptions {
  ttl: number;
  leaseTtl: number;
  swr: boolean;
  timeout: number;
  onUnavailable: "load" | "throw";
}

export const FETCH_DEFAULTS = { leaseTtl: 5, timeout: 10_000 } as const;

export function resolveFetchOptions(o: FetchOptions | undefined, ttl: number): ResolvedFetchOptions {
  const leaseTtl = o?.leaseTtl ?? FETCH_DEFAULTS.leaseTtl;
  if (!Number.isInteger(leaseTtl) || leaseTtl < 1 || leaseTtl > 3600) {
    throw new InvalidArgumentError(
      `fetch option "leaseTtl" must be a whole number of seconds from 1 to 3600, got ${String(leaseTtl)}`,
    );
  }
  const timeout = o?.timeout ?? FETCH_DEFAULTS.timeout;
  if (typeof timeout !== "number" || !(timeout >= 0) || !Number.isFinite(timeout)) {
    throw new InvalidArgumentError(
      `fetch option "timeout" must be a finite number of ms >= 0, got ${String(timeout)}`,
    );
  }
  const onUnavailable = o?.onUnavailable ?? "load";
  if (onUnavailable !== "load" && onUnavailable !== "throw") {
    throw new InvalidArgumentError(
      `fetch option "onUnavailable" must be "load" or "throw", got ${JSON.stringify(onUnavailable)}`,
    );
  }
  return { ttl, leaseTtl, swr: o?.staleWhileRevalidate ?? true, timeout, onUnavailable };
}

/** What the read-through needs from the engine. */
export interface ReadThroughEngine {
  replicaNodes(k: string): ServerNode[];
  encode(k: string, value: unknown): EncodedValue;
  decode(item: TransportItem): unknown;
  /**
   * Whether a found item may still be served (namespaces and tags: its generations are current). An item that may not
   * is dead: it is neither returned nor served stale; the authority's copy is removed (CAS-guarded, so a newer write
   * is untouched) and the key is polled again, which hands out the lease as on a miss.
   */
  validate?(item: TransportItem, k: string): boolean | Promise<boolean>;
  now(): number;
  counters: ReadThroughCounters;
  /** A value was found on the authority (`primary`) or on a later replica. */
  hit(primary: boolean): void;
  /** Copies `k` from `source` to `targets` with the copy primitive (`copy.ts`), in the background. */
  copy?(k: string, source: ServerNode, targets: readonly ServerNode[]): void;
  /** A copy found on a later replica was written back under our lease (`stored`) or refused. */
  repaired(stored: boolean): void;
  /** Tracks a background refresh so `close()` can wait for it. */
  track(p: Promise<unknown>): void;
}

export interface ReadThroughCounters {
  /** Loader calls made by this client (each one a database query). */
  loads: number;
  /** Values served while marked stale, during a refresh. */
  staleServed: number;
  /** Rounds spent waiting for another caller's refresh. */
  leaseWaits: number;
  /** Waits that ran out of time and loaded without the lease. */
  fetchTimeouts: number;
  /** Loads done without the cache because no replica answered. */
  uncachedLoads: number;
}

/** A lease we hold on one replica. */
interface Lease {
  node: ServerNode;
  cas: bigint;
}

type BatchLoader = (keys: string[]) => Promise<Map<string, unknown>>;

/**
 * Resolves `keys` (mapped memcached keys) read-through. `load` receives the keys this caller must load, as one batch
 * per round. Returns a map from mapped key to value; keys the loader did not return are absent.
 */
export async function readThrough(
  engine: ReadThroughEngine,
  keys: readonly string[],
  load: BatchLoader,
  o: ResolvedFetchOptions,
  signal: AbortSignal | undefined,
): Promise<Map<string, unknown>> {
  const result = new Map<string, unknown>();
  const deadline = engine.now() + o.timeout;
  let pending = [...keys];
  let delay = 5;
  let firstRound = true;

  while (pending.length > 0) {
    if (signal?.aborted) throw new AbortError("fetch aborted", { cause: signal.reason });
    const winners: Array<{ k: string; lease: Lease; stale: TransportItem | undefined; mustLoad: boolean }> =
      [];
    const waiting: string[] = [];
    const unavailable: string[] = [];

    // Step 1: poll the authority of every pending key, pipelined.
    const polls = await Promise.all(pending.map((k) => pollAuthority(engine, k, o.leaseTtl)));
    for (let i = 0; i < pending.length; i++) {
      const k = pending[i]!;
      const poll = polls[i]!;
      if (poll.kind === "unavailable") unavailable.push(k);
      else if (poll.kind === "hit") {
        engine.hit(poll.primary);
        // The authority is not the first replica: those before it were skipped. Refill the ones in their rejoin
        // quarantine (written, not read yet), as the read path does (`read-path.ts`).
        if (!poll.primary && engine.copy) {
          const nodes = engine.replicaNodes(k);
          const targets = nodes.filter((n) => n !== poll.node && n.quarantined && n.acceptsCopies(k));
          if (targets.length > 0) engine.copy(k, poll.node, targets);
        }
        result.set(k, engine.decode(poll.item));
      } else if (poll.kind === "win")
        winners.push({ k, lease: poll.lease, stale: poll.stale, mustLoad: poll.mustLoad });
      else if (poll.stale && o.swr) {
        engine.counters.staleServed++;
        result.set(k, engine.decode(poll.stale));
      } else waiting.push(k);
    }

    if (unavailable.length > 0) {
      if (o.onUnavailable === "throw") {
        throw new ServerUnavailableError(`fetch: no replica of ${unavailable.length} key(s) could be read`);
      }
      engine.counters.uncachedLoads += unavailable.length;
      engine.counters.loads++;
      for (const [k, v] of await load(unavailable)) result.set(k, v);
    }

    // Steps 2-3 for the winners. Stale winners serve the stale value now and refresh in the background.
    const foreground = winners.filter((w) => !(w.stale && o.swr));
    const background = winners.filter((w) => w.stale && o.swr);
    for (const w of background) {
      engine.counters.staleServed++;
      result.set(w.k, engine.decode(w.stale!));
    }
    if (background.length > 0) {
      engine.track(refresh(engine, background, load, o).catch(() => undefined));
    }
    if (foreground.length > 0) {
      for (const [k, v] of await refresh(engine, foreground, load, o)) result.set(k, v);
    }

    // Someone else is refreshing the rest. On the first round, a fresh copy on a later replica answers at once.
    pending = waiting;
    if (pending.length === 0) break;
    if (firstRound) {
      firstRound = false;
      const found = await Promise.all(pending.map((k) => readLaterReplicas(engine, k)));
      pending = pending.filter((k, i) => {
        const item = found[i];
        if (item) {
          engine.hit(false);
          result.set(k, engine.decode(item));
        }
        return !item;
      });
      if (pending.length === 0) break;
    }
    if (engine.now() + delay > deadline) {
      // The refresh we wait for is taking too long: load here, without the lease (so without caching).
      engine.counters.fetchTimeouts += pending.length;
      engine.counters.loads++;
      for (const [k, v] of await load(pending)) result.set(k, v);
      break;
    }
    engine.counters.leaseWaits++;
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 100);
  }
  return result;
}

type Poll =
  | { kind: "hit"; item: TransportItem; node: ServerNode; primary: boolean }
  | { kind: "win"; lease: Lease; stale: TransportItem | undefined; mustLoad: boolean }
  | { kind: "wait"; stale: TransportItem | undefined }
  | { kind: "unavailable" };

/** How often a dead item (see `validate`) is removed and the key polled again before we wait like a loser. */
const DEAD_RETRIES = 2;

async function pollAuthority(engine: ReadThroughEngine, k: string, leaseTtl: number): Promise<Poll> {
  let deleted = false;
  const nodes = engine.replicaNodes(k);
  // No readable replica: a draining one is a last resort (written all along), and a key's only replica also during
  // its rejoin quarantine (see `read-path.ts`).
  const lastResort = !nodes.some((n) => n.readable(k));
  const usable = (n: ServerNode) =>
    !lastResort
      ? n.readable(k)
      : nodes.length === 1
        ? n.readableAsOnlyReplica(k)
        : n.readableWhileDraining(k);
  for (const node of nodes) {
    if (!usable(node)) continue;
    for (let attempt = 0; ; attempt++) {
      let item: TransportItem | null;
      try {
        item = await node.transport.get(k, { lease: leaseTtl, cas: true, ttl: true });
        node.succeeded();
      } catch (error) {
        node.failed(error);
        break;
      }
      if (item === null) {
        // Only a transport without leases answers a plain miss to N: treat it as a win without a placeholder.
        return { kind: "win", lease: { node, cas: 0n }, stale: undefined, mustLoad: deleted };
      }
      if (isTombstone(item)) {
        // Deleted moments ago (`deletes.ts`): a miss. Remove the tombstone (if still the same) to take the lease as
        // on a miss; then load from the database, never from a copy on another replica, which the delete may not
        // have reached yet.
        deleted = true;
        if (item.stale && item.win) {
          return { kind: "win", lease: { node, cas: item.cas }, stale: undefined, mustLoad: true };
        }
        if (attempt < DEAD_RETRIES && (await removeDead(node, k, item))) continue;
        return { kind: "wait", stale: undefined };
      }
      const real = !isPlaceholder(item);
      const alive = real && (await isAlive(engine, item, k));
      if (!item.stale && real) {
        if (alive) return { kind: "hit", item, node, primary: node === nodes[0] };
        // A dead entry (its namespace was cleared or a tag invalidated): remove it, if still the same, and poll again
        // so that the lease is handed out as on a miss.
        if (attempt < DEAD_RETRIES && (await removeDead(node, k, item))) continue;
        return { kind: "wait", stale: undefined };
      }
      const stale = item.stale && alive ? item : undefined;
      if (item.win) return { kind: "win", lease: { node, cas: item.cas }, stale, mustLoad: deleted };
      return { kind: "wait", stale };
    }
  }
  return { kind: "unavailable" };
}

function isAlive(engine: ReadThroughEngine, item: TransportItem, k: string): boolean | Promise<boolean> {
  return engine.validate === undefined ? true : engine.validate(item, k);
}

/** CAS-guarded delete of a dead item; true when the key may be polled again. */
async function removeDead(node: ServerNode, k: string, item: TransportItem): Promise<boolean> {
  try {
    await node.transport.delete(k, { cas: item.cas });
    node.succeeded();
    return true;
  } catch (error) {
    node.failed(error);
    return false;
  }
}

/** A fresh item on a replica after the authority, or undefined. Errors are not fatal here: we keep waiting. */
async function readLaterReplicas(engine: ReadThroughEngine, k: string): Promise<TransportItem | undefined> {
  const nodes = engine.replicaNodes(k).filter((n) => n.readable(k));
  for (const node of nodes.slice(1)) {
    try {
      const item = await node.transport.get(k, { cas: true, ttl: true });
      node.succeeded();
      if (item && isValue(item) && (await isAlive(engine, item, k))) return item;
      if (item) returnStaleToken(node, k, item);
    } catch (error) {
      node.failed(error);
    }
  }
  return undefined;
}

/** Steps 2 and 3 for keys whose authority lease we hold. */
async function refresh(
  engine: ReadThroughEngine,
  winners: ReadonlyArray<{ k: string; lease: Lease; mustLoad: boolean }>,
  load: BatchLoader,
  o: ResolvedFetchOptions,
): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  // Step 2: leases on the other readable replicas, all keys at once.
  const others = await Promise.all(
    winners.map(async (w) => {
      const nodes = engine.replicaNodes(w.k).filter((n) => n !== w.lease.node && n.reachable);
      const leases: Lease[] = [];
      let found: TransportItem | undefined;
      await Promise.all(
        nodes.map(async (node) => {
          try {
            const item = await node.transport.get(w.k, { lease: o.leaseTtl, cas: true, ttl: true });
            node.succeeded();
            if (item === null) return;
            if (isValue(item)) {
              if (!w.mustLoad && node.readable(w.k) && (await isAlive(engine, item, w.k))) found ??= item;
            } else if (item.win) leases.push({ node, cas: item.cas });
          } catch (error) {
            node.failed(error);
          }
        }),
      );
      return { leases, found };
    }),
  );

  const toLoad: string[] = [];
  const writes: Array<Promise<void>> = [];
  winners.forEach((w, i) => {
    const found = others[i]!.found;
    if (found) {
      engine.hit(false);
      out.set(w.k, engine.decode(found));
      // A copy keeps the source's remaining lifetime (never more than the caller's TTL). It is stored on the
      // authority only: our lease there was taken (step 1) before the copy was read (step 2), which is the copy
      // primitive's order (`copy.ts`). The other leases were taken *alongside* that read, not before it, so a copy
      // stored under them could land after a delete passed (found on a middle replica, stored on a later one): they
      // are released, and the others are refilled from the authority by the copy primitive.
      const ttl = found.ttl === undefined || found.ttl < 0 ? o.ttl : Math.min(found.ttl, o.ttl);
      const copy = { bytes: found.value, flags: found.flags };
      const leases = others[i]!.leases;
      writes.push(
        storeUnderLeases(w.k, copy, w.lease, [], ttl).then(async (ok) => {
          engine.repaired(ok);
          await Promise.all(leases.map((l) => release(l, w.k)));
          if (ok && engine.copy && leases.length > 0)
            engine.copy(
              w.k,
              w.lease.node,
              leases.map((l) => l.node),
            );
        }),
      );
    } else toLoad.push(w.k);
  });

  if (toLoad.length > 0) {
    engine.counters.loads++;
    let loaded: Map<string, unknown>;
    try {
      loaded = await load(toLoad);
    } catch (error) {
      // Give the leases back at once so the next caller retries instead of waiting for them to expire.
      await Promise.all(
        winners.map((w, i) =>
          toLoad.includes(w.k) ? releaseAll(w.lease, others[i]!.leases, w.k) : undefined,
        ),
      );
      throw error;
    }
    winners.forEach((w, i) => {
      if (!toLoad.includes(w.k)) return;
      if (!loaded.has(w.k)) {
        writes.push(releaseAll(w.lease, others[i]!.leases, w.k));
        return;
      }
      const value = loaded.get(w.k);
      out.set(w.k, value);
      let enc: EncodedValue;
      try {
        enc = engine.encode(w.k, value);
      } catch {
        writes.push(releaseAll(w.lease, others[i]!.leases, w.k));
        return;
      }
      writes.push(storeUnderLeases(w.k, enc, w.lease, others[i]!.leases, o.ttl).then(() => undefined));
    });
  }
  await Promise.all(writes);
  return out;
}

/** Stores on the authority under its lease, then, only if it accepted, on the other leased replicas. */
async function storeUnderLeases(
  k: string,
  enc: EncodedValue,
  authority: Lease,
  others: readonly Lease[],
  ttl: number,
): Promise<boolean> {
  const t = Math.max(1, ttl);
  let ok = false;
  try {
    const r = await authority.node.transport.set(k, enc.bytes, {
      ttl: t,
      flags: enc.flags,
      ...(authority.cas !== 0n ? { cas: authority.cas } : { mode: "add" as const }),
    });
    authority.node.succeeded();
    ok = r === "stored";
  } catch (error) {
    authority.node.failed(error);
  }
  if (!ok) {
    await Promise.all(others.map((l) => release(l, k)));
    return false;
  }
  await Promise.all(
    others.map(async (l) => {
      try {
        await l.node.transport.set(k, enc.bytes, { ttl: t, flags: enc.flags, cas: l.cas });
        l.node.succeeded();
      } catch (error) {
        l.node.failed(error);
      }
    }),
  );
  return true;
}

async function release(lease: Lease, k: string): Promise<void> {
  if (lease.cas === 0n) return;
  try {
    await lease.node.transport.delete(k, { cas: lease.cas });
  } catch {
    // It expires by itself after leaseTtl.
  }
}

async function releaseAll(authority: Lease, others: readonly Lease[], k: string): Promise<void> {
  await Promise.all([release(authority, k), ...others.map((l) => release(l, k))]);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new AbortError("fetch aborted", { cause: signal!.reason }));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
