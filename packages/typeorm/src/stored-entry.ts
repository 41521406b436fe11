import type { QueryResultCacheOptions } from "typeorm/cache/QueryResultCacheOptions.js";

/**
 * What one cached query looks like in memcached, and how it is found.
 *
 * TypeORM looks a cached query up by the user's cache id when there is one, otherwise by its SQL followed by
 * `-- PARAMETERS: [...]` (of any length). The two kinds get distinct prefixes so an id can never equal a query. The
 * namespace client accepts keys of any length (it hashes those memcached would refuse, and verifies the original
 * on read); the entry also stores the id or query it was written for, checked again on read, so a lookup never
 * returns an entry written for another query.
 */
export interface StoredQueryResult {
  /** Format version. */
  v: 1;
  identifier?: string;
  query?: string;
  /** When TypeORM ran the query (epoch ms). */
  time: number;
  /** How long the result may be served (ms), as TypeORM asked. */
  duration: number;
  /** The rows as TypeORM serialised them (a JSON string). */
  result: unknown;
}

/** The id TypeORM uses for `options`, or `undefined` when it gave neither an id nor a query. */
export function lookupOf(
  options: Pick<QueryResultCacheOptions, "identifier" | "query">,
): { key: string; identifier?: string; query?: string } | undefined {
  // TypeORM's own providers treat an empty identifier as none.
  if (typeof options.identifier === "string" && options.identifier !== "")
    return { key: `id:${options.identifier}`, identifier: options.identifier };
  if (typeof options.query === "string" && options.query !== "")
    return { key: `q:${options.query}`, query: options.query };
  return undefined;
}

/** The key of a cache id (for `remove`). */
export const identifierKey = (identifier: string): string => `id:${identifier}`;

/** The entry as TypeORM expects it back, if `value` is one and was written for `lookup`. */
export function readEntry(
  value: unknown,
  lookup: { identifier?: string; query?: string },
): QueryResultCacheOptions | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const e = value as Partial<StoredQueryResult>;
  if (e.v !== 1 || typeof e.time !== "number" || typeof e.duration !== "number") return undefined;
  if (lookup.identifier !== undefined ? e.identifier !== lookup.identifier : e.query !== lookup.query)
    return undefined;
  const out: QueryResultCacheOptions = { time: e.time, duration: e.duration, result: e.result };
  if (e.identifier !== undefined) out.identifier = e.identifier;
  if (e.query !== undefined) out.query = e.query;
  return out;
}

/**
 * The memcached lifetime, in whole seconds, of a result TypeORM may serve for `durationMs`: the duration rounded up,
 * plus one second. memcached's clock ticks once a second, so an item stored at x.9 s with a TTL of 1 can be gone
 * 0.1 s later (measured: "a TTL of 1 second can expire at once"); the extra second keeps the item for at least its
 * duration, and `isExpired` (from the stored time and duration) decides to the millisecond. The client caps it at
 * its `maxTtl`.
 */
export function memcachedTtl(durationMs: number): number {
  return Math.max(1, Math.ceil(durationMs / 1000)) + 1;
}

/** TypeORM's expiry rule, from the stored time and duration: served while `time + duration >= now`. */
export function isExpiredAt(saved: Pick<QueryResultCacheOptions, "time" | "duration">, now: number): boolean {
  if (typeof saved.time !== "number" || typeof saved.duration !== "number") return true;
  return saved.time + saved.duration < now;
}
