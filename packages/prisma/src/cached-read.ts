import { type CacheClient, type CacheFetchOptions, CodecError, McpairError } from "@mcpair/core";
import { DEFAULTS } from "./defaults.js";
import type { CacheErrorContext, ResolvedPolicy } from "./options.js";
import { deserializeResult, serializeResult } from "./serialize.js";
import type { CacheStats } from "./stats.js";

/**
 * One cached read, on core's `fetch` (memcached leases: one loader call per key across the fleet, however many
 * processes ask at once).
 *
 * An entry is the text `<fresh until, epoch ms>:<serialized result>`, stored for `ttl + swr` seconds (plus one second
 * of slack: memcached counts whole seconds). Freshness is decided by that timestamp, not by memcached's expiry:
 *
 *   stored ──── ttl ────► fresh until ──── swr ────► memcached drops it
 *   │  hit: served            │ stale: served at once, one background refresh in the fleet
 *
 * A background refresh takes a short lock (`add`), marks the entry stale with core's `invalidate` (so that other
 * callers keep being served the old value by `fetch`'s stale-while-revalidate instead of waiting) and runs `fetch`,
 * which loads under the lease. An entry found past `ttl + swr` (memcached's coarser clock kept it) is refreshed the
 * same way, but the caller waits for the new value.
 *
 * The cache never makes a query fail: when memcached cannot be used, the query runs on the database, uncached, and
 * `onError` is told. A database error is the caller's and passes through unchanged.
 */

export interface ReadContext {
  readonly client: CacheClient;
  readonly stats: CacheStats;
  /** Keys this process is refreshing in the background (one refresh per key per process). */
  readonly refreshing: Set<string>;
  /** Seconds a caller may hold the right to run a query (lease, refresh lock). */
  readonly leaseTtl: number;
  /** Longest wait for another caller's query, in ms. */
  readonly waitTimeout: number;
  /** Registers background work so that `$cache.close()` can wait for it. */
  track(work: Promise<unknown>): void;
  onError(error: unknown, context: CacheErrorContext): void;
}

export interface ReadRequest {
  key: string;
  policy: ResolvedPolicy;
  /** Every tag the entry carries (the policy's and the models'). */
  tags: readonly string[];
  model: string;
  operation: string;
  /** Runs the query on the database. */
  load(): Promise<unknown>;
}

interface Entry {
  freshUntil: number;
  body: string;
}

function encodeEntry(freshUntil: number, result: unknown): string {
  try {
    return `${freshUntil}:${serializeResult(result)}`;
  } catch (cause) {
    throw new CodecError("Prisma result could not be serialized", { cause });
  }
}

function decodeEntry(text: unknown): Entry {
  if (typeof text === "string") {
    const colon = text.indexOf(":");
    const freshUntil = colon > 0 ? Number(text.slice(0, colon)) : Number.NaN;
    if (Number.isFinite(freshUntil)) return { freshUntil, body: text.slice(colon + 1) };
  }
  throw new CodecError("cached Prisma entry is not in the expected format");
}

/** The result stored in an entry; a corrupt one is a `CodecError` (a cache failure, not the query's). */
function revive(entry: Entry): unknown {
  try {
    return deserializeResult(entry.body);
  } catch (cause) {
    throw new CodecError("cached Prisma result could not be revived", { cause });
  }
}

function fetchOptions(
  ctx: ReadContext,
  req: ReadRequest,
  ttl: number,
  staleWhileRevalidate: boolean,
): CacheFetchOptions {
  return {
    ttl,
    staleWhileRevalidate,
    leaseTtl: ctx.leaseTtl,
    timeout: ctx.waitTimeout,
    ...(req.tags.length > 0 ? { tags: req.tags } : {}),
  };
}

/** Runs the read through the cache; resolves the query's result (a cached copy or the live one). */
export async function cachedRead(ctx: ReadContext, req: ReadRequest): Promise<unknown> {
  const { policy } = req;
  const ttlMs = policy.ttl * 1000;
  const swrMs = policy.swr * 1000;
  const storeTtl = Math.ceil(policy.ttl + policy.swr) + DEFAULTS.expirySlack;
  const errorContext = { model: req.model, operation: req.operation };

  // The loader keeps the live result: the caller that ran the query returns it as Prisma gave it, even when
  // storing it fails. Only an error of the query itself is the caller's; anything else is the cache's.
  let live: { value: unknown } | undefined;
  let loadError: { error: unknown } | undefined;
  const loader = async (): Promise<string> => {
    let value: unknown;
    try {
      value = await req.load();
    } catch (error) {
      loadError = { error };
      throw error;
    }
    live = { value };
    return encodeEntry(Date.now() + ttlMs, value);
  };

  const fetchEntry = async (staleWhileRevalidate: boolean): Promise<Entry | undefined> => {
    const text = await ctx.client.fetch<string>(
      req.key,
      loader,
      fetchOptions(ctx, req, storeTtl, staleWhileRevalidate),
    );
    return live === undefined ? decodeEntry(text) : undefined;
  };

  try {
    let entry = await fetchEntry(swrMs > 0);
    if (entry !== undefined) {
      const now = Date.now();
      if (now < entry.freshUntil) {
        const result = revive(entry);
        ctx.stats.hits++;
        return result;
      }
      if (now < entry.freshUntil + swrMs) {
        const result = revive(entry);
        ctx.stats.staleHits++;
        refreshInBackground(ctx, req, storeTtl, ttlMs, Math.ceil((entry.freshUntil + swrMs - now) / 1000));
        return result;
      }
      // Past ttl + swr: make it stale and load under the lease (or wait for whoever holds it).
      await ctx.client.invalidate(req.key, ctx.leaseTtl);
      entry = await fetchEntry(false);
      if (entry !== undefined) {
        // Another caller refreshed it meanwhile (or clocks disagree): serve what the fleet agreed on.
        const result = revive(entry);
        ctx.stats.hits++;
        return result;
      }
    }
    ctx.stats.misses++;
    return live!.value;
  } catch (error) {
    // The query's own error, from this caller's loader or from the caller whose flow this one shared (core runs one
    // loader for concurrent calls of a key): the caller's to handle. Cache failures are always McpairErrors.
    if ((loadError !== undefined && loadError.error === error) || !(error instanceof McpairError))
      throw error;
    ctx.stats.fallbacks++;
    ctx.onError(error, { phase: "read", ...errorContext });
    if (error instanceof CodecError && live === undefined) {
      // A corrupt entry would fail every read until its TTL: remove it (best effort).
      ctx.client.delete(req.key).catch(() => undefined);
    }
    if (live !== undefined) {
      // The query ran; only storing its result failed.
      ctx.stats.misses++;
      return live.value;
    }
    return req.load();
  }
}

function refreshInBackground(
  ctx: ReadContext,
  req: ReadRequest,
  storeTtl: number,
  ttlMs: number,
  staleSeconds: number,
): void {
  if (ctx.refreshing.has(req.key)) return;
  ctx.refreshing.add(req.key);
  const lockKey = `r:${req.key}`;
  const work = (async () => {
    // One refresh in the fleet: the lock lives at most leaseTtl seconds if its holder dies.
    if (!(await ctx.client.add(lockKey, "1", { ttl: ctx.leaseTtl }))) return;
    try {
      await ctx.client.invalidate(req.key, Math.max(1, staleSeconds));
      let ran = false;
      await ctx.client.fetch<string>(
        req.key,
        async () => {
          ran = true;
          return encodeEntry(Date.now() + ttlMs, await req.load());
        },
        // This task is the background: it waits for the load itself (with `true`, core would hand back the stale
        // value and refresh in a background of its own, out of this task's sight).
        fetchOptions(ctx, req, storeTtl, false),
      );
      if (ran) ctx.stats.refreshes++;
    } finally {
      await ctx.client.delete(lockKey);
    }
  })()
    .catch((error: unknown) => {
      ctx.onError(error, { phase: "refresh", model: req.model, operation: req.operation });
    })
    .finally(() => ctx.refreshing.delete(req.key));
  ctx.track(work);
}
