import { InvalidArgumentError, InvalidTtlError } from "./errors.js";

/**
 * memcached reads a relative expiry above 30 days (2,592,000 s) as an absolute Unix time, so a "35 days" TTL would be
 * read as a date in January 1970 and the item would expire at once. mcpair therefore never sends more than this.
 */
export const MAX_RELATIVE_TTL = 2_592_000;

/** Default cap on every item's lifetime: 23 hours, so a server that comes back is fully rewritten within a day. */
export const DEFAULT_MAX_TTL = 82_800;

/** Validates the `maxTtl` option: a whole number of seconds in 1..2,592,000. */
export function validateMaxTtl(maxTtl: unknown): number {
  if (typeof maxTtl !== "number" || !Number.isInteger(maxTtl) || maxTtl < 1 || maxTtl > MAX_RELATIVE_TTL) {
    throw new InvalidArgumentError(
      `option "maxTtl" must be a whole number of seconds from 1 to ${MAX_RELATIVE_TTL} (30 days: memcached reads larger relative TTLs as Unix times), got ${String(maxTtl)}`,
    );
  }
  return maxTtl;
}

/**
 * Turns a caller's TTL (seconds) into what is sent: `undefined` and `0` mean "as long as allowed" (the cap: mcpair
 * never stores "forever", so a returning server is rewritten within one cap period); fractions round *up* (0.2 s
 * must not become 0 = "never"); anything above the cap is capped. NaN, infinities and negatives are refused.
 * With `jitter` (0..1) the result is reduced by a random share of up to `jitter`, so keys written together do not all
 * expire in the same second.
 */
export function resolveTtl(
  ttl: number | undefined,
  maxTtl: number,
  jitter = 0,
  random: () => number = Math.random,
): number {
  let t: number;
  if (ttl === undefined || ttl === 0) t = maxTtl;
  else {
    if (typeof ttl !== "number" || Number.isNaN(ttl))
      throw new InvalidTtlError(ttl, "must be a number of seconds");
    if (!Number.isFinite(ttl))
      throw new InvalidTtlError(ttl, "must be finite (omit it for the maximum lifetime)");
    if (ttl < 0) throw new InvalidTtlError(ttl, "must not be negative");
    t = Math.min(Math.ceil(ttl), maxTtl);
  }
  if (jitter > 0 && t > 1) t = Math.max(1, t - Math.floor(random() * jitter * t));
  return t;
}

/** Converts a millisecond TTL (Keyv, cache-manager) to whole seconds, rounding up so 1..999 ms never becomes 0. */
export function msToTtl(ms: number | undefined): number | undefined {
  if (ms === undefined) return undefined;
  if (typeof ms !== "number" || Number.isNaN(ms))
    throw new InvalidTtlError(ms, "must be a number of milliseconds");
  if (ms < 0) throw new InvalidTtlError(ms, "must not be negative");
  if (!Number.isFinite(ms)) throw new InvalidTtlError(ms, "must be finite");
  return ms === 0 ? 0 : Math.ceil(ms / 1000);
}

/**
 * The lifetime to give a copy of an item whose source reported `remaining` seconds (`-1`: never expires, written by a
 * foreign client). The copy never outlives the source and never exceeds the cap; `undefined` means "do not copy":
 * the source is about to expire anyway.
 */
export function copyTtl(remaining: number | undefined, maxTtl: number): number | undefined {
  if (remaining === undefined || remaining < 0) return maxTtl;
  if (remaining < 1) return undefined;
  return Math.min(remaining, maxTtl);
}
