import { InvalidArgumentError, InvalidTtlError } from "@mcpair/core";

/**
 * What a write does with the expiry Keyv handed over: store the entry for `ttl` seconds (`undefined`: the client's
 * `defaultTtl`, itself capped by `maxTtl`), or store nothing and delete what was there (`expired`).
 */
export type Lifetime =
  | { readonly expired: true }
  | { readonly expired: false; readonly ttl: number | undefined };

const EXPIRED: Lifetime = Object.freeze({ expired: true });
const DEFAULT: Lifetime = Object.freeze({ expired: false, ttl: undefined });

/**
 * Keyv 6 computes its absolute expiries from `Date.now()`, so none is older than this (2001-09-09). A smaller
 * positive number is a relative TTL handed to the absolute API (a Keyv 5 sharing a store that Keyv 6 adopted): it is
 * refused rather than read as a date in 1970, which would silently delete every entry written.
 */
export const MIN_ABSOLUTE_EXPIRY = 1e12;

/**
 * memcached's clock ticks once a second, and an item stored with a TTL of `n` seconds expires when that clock has
 * advanced `n` times: after somewhere between `n - 1` and `n` seconds of real time (a TTL of 1 can expire at once;
 * measured on 1.6.18). Keyv deadlines are in milliseconds, so the store sends the smallest `n` whose shortest life
 * still reaches the deadline: `ceil(ms / 1000) + 1`. The entry is then never dropped before Keyv's deadline, and Keyv's
 * own expiry check (on by default in both majors) hides it at the exact millisecond, up to 2 s before memcached
 * reclaims it.
 */
export function secondsCovering(ms: number): number {
  return Math.ceil(ms / 1000) + 1;
}

/**
 * Keyv 5's contract: a relative TTL in milliseconds. `undefined` (Keyv 5 maps 0 to it) and `Infinity` mean "no
 * expiry", which mcpair turns into the client's capped `defaultTtl`; a negative TTL is already over.
 */
export function fromRelative(ttl: unknown): Lifetime {
  if (ttl === undefined || ttl === null || ttl === 0 || ttl === Number.POSITIVE_INFINITY) return DEFAULT;
  if (typeof ttl !== "number" || Number.isNaN(ttl)) {
    throw new InvalidTtlError(ttl, "a Keyv TTL must be a number of milliseconds");
  }
  if (ttl < 0) return EXPIRED;
  return { expired: false, ttl: secondsCovering(ttl) };
}

/**
 * Keyv 6's contract: an absolute expiry in epoch milliseconds. `undefined` and `Infinity` mean "no expiry" (the capped
 * `defaultTtl`); a deadline at or before `now` stores nothing.
 */
export function fromAbsolute(expires: unknown, now: number): Lifetime {
  if (expires === undefined || expires === null || expires === Number.POSITIVE_INFINITY) return DEFAULT;
  if (typeof expires !== "number" || Number.isNaN(expires)) {
    throw new InvalidTtlError(expires, "a Keyv 6 expiry must be a number of epoch milliseconds");
  }
  if (expires > 0 && expires < MIN_ABSOLUTE_EXPIRY) {
    throw new InvalidArgumentError(
      `expiry ${expires} is a relative TTL, not epoch milliseconds: this store serves the Keyv 6 contract (absolute expiries); give a Keyv 5 its own store, or construct this one with { contract: 5 }`,
    );
  }
  if (expires <= now) return EXPIRED;
  return { expired: false, ttl: secondsCovering(expires - now) };
}
