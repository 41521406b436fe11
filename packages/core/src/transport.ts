/**
 * The transport contract: what the engine needs from one memcached server. One transport instance talks to one
 * server. The contract is shaped after memcached's meta protocol (mg/ms/md/ma/mn) because that is what makes safe
 * read-repair possible (leases, stale markers, CAS-guarded stores).
 *
 * Batching: the engine issues every request of one step (for example all primaries of a `getMany`) in the same
 * event-loop turn without awaiting in between. A socket transport is expected to coalesce requests issued in the same
 * turn into one write and match responses in order, so "one batch per server per step" costs one round trip.
 *
 * Errors: every method rejects only with `McpairError` subclasses: `TimeoutError`, `ServerUnavailableError` /
 * `ConnectionError`, `ProtocolError`, `ServerError`, `AbortError`, `QueueFullError`, `ClientClosedError`.
 * A *miss* is never an error: it resolves to `null` / `"not_found"`.
 *
 * Keys handed to a transport are already validated by the engine (1-250 bytes of UTF-8, no whitespace or control
 * characters); TTLs are whole seconds between 1 and 2,592,000 (30 days), so memcached never reads them as an absolute
 * Unix time; 0 is never sent (mcpair caps every lifetime).
 */

/** Per-request controls accepted by every transport method. */
export interface RequestOptions {
  /** Aborts the request (rejects with `AbortError`); the server may still apply it. */
  signal?: AbortSignal | undefined;
  /** Per-request timeout in milliseconds, overriding the transport's default. */
  timeout?: number | undefined;
}

export interface TransportGetOptions extends RequestOptions {
  /**
   * Lease (meta `N<s>`): on a miss, create an empty placeholder item living `lease` seconds and hand the win token
   * (`win: true`) to this caller; later callers see the placeholder with `lost: true` until it is replaced or expires.
   * On a hit of a stale item the first caller also gets `win: true`.
   */
  lease?: number | undefined;
  /** Also return the CAS token (meta `c`). @default false */
  cas?: boolean | undefined;
  /** Also return the remaining TTL (meta `t`). @default false */
  ttl?: boolean | undefined;
  /** Return the value (meta `v`). When false, only metadata is returned. @default true */
  value?: boolean | undefined;
}

/** A hit. */
export interface TransportItem {
  /** The stored bytes (empty for a lease placeholder or when `value: false` was asked). */
  value: Uint8Array;
  /** The 32-bit client flags stored with the item (0 for a lease placeholder). */
  flags: number;
  /** CAS token; `0n` when not requested. */
  cas: bigint;
  /** Remaining lifetime in seconds, `-1` for "never expires", `undefined` when not requested. */
  ttl: number | undefined;
  /** The item was marked stale by an invalidating delete (meta `X`). */
  stale: boolean;
  /** This caller won the right to (re)fill the item (meta `W`). */
  win: boolean;
  /** Another caller already holds the win token (meta `Z`). */
  lost: boolean;
}

export type SetMode = "set" | "add" | "replace" | "append" | "prepend";

export interface TransportSetOptions extends RequestOptions {
  /** @default "set" */
  mode?: SetMode | undefined;
  /** Lifetime in whole seconds, 1..2,592,000. */
  ttl: number;
  /** Client flags stored with the item. @default 0 */
  flags?: number | undefined;
  /** Store only if the item's CAS still equals this (meta `C`). */
  cas?: bigint | undefined;
  /** When true, the response is not awaited by the server's client protocol (quiet mode). @default false */
  quiet?: boolean | undefined;
}

/**
 * - `stored`: written.
 * - `not_stored`: add on an existing item, replace/append/prepend on a missing one (meta `NS`).
 * - `exists`: the CAS did not match (meta `EX`).
 * - `not_found`: a CAS store on a missing item (meta `NF`).
 */
export type StoreResult = "stored" | "not_stored" | "exists" | "not_found";

export interface TransportDeleteOptions extends RequestOptions {
  /** Delete only if the CAS still equals this. */
  cas?: bigint | undefined;
  /**
   * Instead of removing the item, mark it stale for this many seconds (meta `I T<s>`): readers see it with
   * `stale: true` and the first reader wins the right to refill it. A missing item stays missing.
   */
  invalidate?: number | undefined;
}

/** - `deleted`; `not_found`; `exists`: the CAS did not match. */
export type DeleteResult = "deleted" | "not_found" | "exists";

export interface TransportArithmeticOptions extends RequestOptions {
  /** @default "incr" */
  mode?: "incr" | "decr" | undefined;
  /** Non-negative amount. @default 1n */
  delta?: bigint | undefined;
  /** When set, a missing counter is created with this value (and `ttl`) instead of resolving to `null`. */
  initial?: bigint | undefined;
  /** Lifetime in seconds for an auto-created counter. */
  ttl?: number | undefined;
}

export interface TransportArithmeticResult {
  /** The value after the operation (memcached counters are unsigned 64-bit; decr stops at 0). */
  value: bigint;
  cas: bigint;
}

/** One line of `lru_crawler metadump`: a key the server holds, with its absolute expiry. */
export interface DumpEntry {
  key: string;
  /** Absolute expiry as a Unix time in seconds, or `-1` for "never". */
  exp: number;
  size: number;
}

/** What a transport can say about its server. */
export interface TransportStats {
  /** Server process id; changes when the server restarts. */
  pid: number;
  /** Seconds since the server process started. */
  uptime: number;
  /** The server's current Unix time in seconds. */
  time: number;
  /** Items currently stored. */
  currItems: number;
  /** Every raw `stats` field as the server reported it. */
  raw: Record<string, string>;
}

/** The transport contract: one instance per server. See the module comment for batching and error rules. */
export interface Transport {
  /** A label for messages and stats (`host:port`, socket path or a test name). */
  readonly address: string;
  /** The largest value in bytes the server stores (memcached's `-I`). */
  readonly maxValueSize: number;

  get(key: string, options?: TransportGetOptions): Promise<TransportItem | null>;
  set(key: string, value: Uint8Array, options: TransportSetOptions): Promise<StoreResult>;
  delete(key: string, options?: TransportDeleteOptions): Promise<DeleteResult>;
  /** Resolves to `null` when the counter does not exist and no `initial` was given. */
  arithmetic(key: string, options?: TransportArithmeticOptions): Promise<TransportArithmeticResult | null>;
  /** Sets a new TTL; resolves to false on a miss. */
  touch(key: string, ttl: number, options?: RequestOptions): Promise<boolean>;
  /** A round trip that does nothing (meta `mn`); used as a health probe. */
  noop(options?: RequestOptions): Promise<void>;
  version(options?: RequestOptions): Promise<string>;
  stats(options?: RequestOptions): Promise<TransportStats>;
  /** Invalidates every item on the server (`flush_all`). */
  flush(options?: RequestOptions): Promise<void>;
  /** Streams the keys the server holds with their expiry (`lru_crawler metadump all`). */
  dump(options?: RequestOptions): AsyncIterable<DumpEntry>;
  /** Waits for in-flight requests, then closes. Later calls reject with `ClientClosedError`. */
  close(): Promise<void>;
  /** Closes at once; everything pending rejects with `ClientClosedError` (or `cause`). */
  destroy(cause?: Error): void;
}

/** Builds the transport for one configured server. */
export type TransportFactory = (server: ServerAddress) => Transport;

/** A configured server, as the ring and the transports see it. */
export interface ServerAddress {
  /** Stable identity on the ring: keys stay put when the server moves to a new address under the same name. */
  name: string;
  host: string;
  port: number;
  /** Unix socket path, when the server is reached through one. */
  path?: string | undefined;
  /** Relative share of keys. @default 1 */
  weight: number;
}
