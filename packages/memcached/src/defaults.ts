/** Defaults for `SocketTransportOptions`, applied with `??` in `options.ts`. */

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 11211;
export const DEFAULT_CONNECTIONS = 1;
export const DEFAULT_CONNECT_TIMEOUT = 1000;
export const DEFAULT_TIMEOUT = 1000;
export const DEFAULT_KEEP_ALIVE = true;
export const DEFAULT_NO_DELAY = true;
export const DEFAULT_MAX_QUEUE = 10_000;
/** memcached's default item size limit (`-I 1m`). */
export const DEFAULT_MAX_VALUE_SIZE = 1024 * 1024;

/** Bounds enforced on options (inclusive). */
export const MAX_CONNECTIONS = 64;
export const MAX_TIMEOUT = 2_147_483_647;
export const MAX_QUEUE_LIMIT = 10_000_000;
/** memcached refuses `-I` above 1 GiB. */
export const MAX_VALUE_SIZE_LIMIT = 1024 * 1024 * 1024;

/**
 * A `VA` length may exceed `maxValueSize` by this much before it is treated as a corrupt stream: the server's limit
 * counts its item header, so a value read back is never larger, but a slightly misconfigured client should still
 * read what it can write.
 */
export const VALUE_SIZE_SLACK = 64 * 1024;

/** Default reconnect backoff: capped exponential with jitter, between these bounds. */
export const RECONNECT_MIN_DELAY = 50;
export const RECONNECT_MAX_DELAY = 2000;

/**
 * Period of the shared timeout ticker. Deadlines are checked this often, so a request times out between `timeout`
 * and `timeout + TICK_INTERVAL` ms after it was issued.
 */
export const TICK_INTERVAL = 10;

/** Keys and TTLs as memcached accepts them (see the transport contract). */
export const MAX_KEY_BYTES = 250;
export const MAX_TTL = 2_592_000;

/** `lru_crawler metadump` answers `BUSY` while another crawl runs: retry this often until the timeout. */
export const DUMP_BUSY_RETRY = 50;
/** Entries buffered from a dump before the socket is paused until the consumer catches up. */
export const DUMP_HIGH_WATER = 4096;

/**
 * The default `reconnectStrategy`: 50 ms doubling to 2 s, with ±20% jitter so that many clients that lost the same
 * server do not reconnect in lockstep.
 */
export function defaultReconnectStrategy(retries: number): number {
  const base = Math.min(RECONNECT_MAX_DELAY, RECONNECT_MIN_DELAY * 2 ** Math.min(retries, 16));
  const jittered = base * (0.8 + Math.random() * 0.4);
  return Math.round(Math.min(RECONNECT_MAX_DELAY, Math.max(RECONNECT_MIN_DELAY, jittered)));
}
