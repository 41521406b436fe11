/**
 * An in-process memcached: the transport contract served from a `Map`, with the meta-protocol semantics of
 * memcached 1.6.18 and fault injection for tests.
 *
 * Every semantic below was checked against a real `memcached 1.6.18` by sending raw meta commands; the quoted
 * answers (`< ...`) are what the server said. The shared conformance suite (`runTransportConformance`) runs the same
 * assertions against this class and against real servers, so the two cannot drift apart.
 *
 * Request life cycle (what a socket would do, minus the bytes):
 *
 * ```
 *  call ──► closed? ClientClosedError · aborted? AbortError · down? ServerUnavailableError   (reject at once)
 *    │
 *    ├─ timeout timer + abort listener armed (they settle the caller's promise, never the server side)
 *    ▼
 *  await gate(op) ──► wait slow(ms) ──► arrival at the "server":
 *                                        hung    → dropped (never applied, never answered)
 *                                        paused  → held; applied in arrival order on resume()
 *                                        up      → applied atomically, answer delivered if still awaited
 * ```
 *
 * Like a real server, the server side does not care whether the caller gave up: a request that timed out or was
 * aborted after it was "sent" is still applied when it arrives (during a pause, on resume).
 */

import {
  AbortError,
  ClientClosedError,
  ConnectionError,
  InvalidArgumentError,
  McpairError,
  ServerError,
  ServerUnavailableError,
  TimeoutError,
} from "./errors.js";
import type {
  DeleteResult,
  DumpEntry,
  RequestOptions,
  StoreResult,
  Transport,
  TransportArithmeticOptions,
  TransportArithmeticResult,
  TransportDeleteOptions,
  TransportGetOptions,
  TransportItem,
  TransportSetOptions,
  TransportStats,
} from "./transport.js";

/** What the `gate` hook is told about a request before the server applies it. */
export interface MemoryTransportOperation {
  /** The transport method: `get`, `set`, `delete`, `arithmetic`, `touch`, `noop`, `version`, `stats`, `flush`, `dump`. */
  op: string;
  /** The key, for keyed operations. */
  key?: string;
  /** The transport's `address`. */
  address: string;
  /**
   * Fails the caller at once with `TimeoutError`, as if its timeout had expired, while the request itself stays in
   * flight: if the gate later releases it, the server still applies it (a request that timed out at the client may
   * still be applied, measured on memcached). For interleaving tests. Not enumerable.
   */
  readonly timeout?: () => void;
}

export interface MemoryTransportOptions {
  /** Label used in errors and stats. @default "memory-N" (N counts instances) */
  address?: string | undefined;
  /** Largest value in bytes that is stored; larger ones reject with `ServerError`. @default 1048576 (1 MiB) */
  maxValueSize?: number | undefined;
  /** Millisecond clock the server's one-second clock is derived from; inject a fake one to test expiry. @default Date.now */
  now?: (() => number) | undefined;
  /** Default per-request timeout in milliseconds (what a hung or paused server costs a caller). @default 1000 */
  timeout?: number | undefined;
  /**
   * Awaited by every request before the server applies it. A test holds requests here and releases them in the
   * order it wants to check an interleaving. If it throws, the request rejects with that error (anything that is not
   * an `McpairError` is wrapped in a `ConnectionError`) and is not applied.
   */
  gate?: ((op: MemoryTransportOperation) => Promise<void> | void) | undefined;
}

/** A side-effect-free view of a stored item, from {@link MemoryTransport.peek}. */
export interface MemoryItemView {
  value: Uint8Array;
  flags: number;
  cas: bigint;
  /** Remaining lifetime in seconds, `-1` for never. */
  ttl: number;
  stale: boolean;
  /** The win token of this item was handed out already (later readers get `lost: true`). */
  tokenSent: boolean;
}

/** memcached's default `-I`. */
const DEFAULT_MAX_VALUE_SIZE = 1_048_576;
const DEFAULT_TIMEOUT = 1000;
/** setTimeout's upper bound; larger delays silently become 1 ms. */
const MAX_TIMER_DELAY = 2_147_483_647;
/** Relative TTLs above 30 days are absolute Unix times (memcached's REALTIME_MAXDELTA). */
const REALTIME_MAXDELTA = 2_592_000;
const U64 = 1n << 64n;
const VERSION = "1.6.18";
/** "SERVER_ERROR object too large for cache" is the server's exact answer to an oversized `ms`. */
const TOO_LARGE = "SERVER_ERROR object too large for cache";
/** The server's answer to a key over 250 bytes or an unparsable token. */
const BAD_FORMAT = "CLIENT_ERROR bad command line format";
const NON_NUMERIC = "CLIENT_ERROR cannot increment or decrement non-numeric value";
/** What 1.6.18 answers for a `D`/`J` token that does not fit an unsigned 64-bit number (or is negative). */
const BAD_FLAG = "CLIENT_ERROR invalid or duplicate flag";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

let instances = 0;
/** Fake process ids: unique per instance and per restart, so "the pid changed" means "the server restarted". */
let nextPid = 40_000;

function freshCounters() {
  return {
    cmd_get: 0,
    cmd_set: 0,
    cmd_flush: 0,
    cmd_touch: 0,
    get_hits: 0,
    get_misses: 0,
    delete_hits: 0,
    delete_misses: 0,
    touch_hits: 0,
    touch_misses: 0,
    total_items: 0,
    store_too_large: 0,
  };
}

interface Item {
  value: Uint8Array;
  flags: number;
  cas: bigint;
  /** Absolute expiry in Unix seconds, 0 for never. Expired when `exp !== 0 && exp <= now`. */
  exp: number;
  /** Marked by an invalidating delete (`md k I`): readers see `X`. */
  stale: boolean;
  /** The win token (`W`) was handed out; later readers get `Z` (ITEM_TOKEN_SENT). */
  tokenSent: boolean;
}

type Mode = "up" | "down" | "hung" | "paused";

interface Pending {
  op: string;
  key: string | undefined;
  apply: () => unknown;
  /** Bumped by down() and restart(): a request from an older generation never reaches the new server state. */
  generation: number;
  /** The slow() delay in force when the request was issued. */
  delay: number;
  settled: boolean;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

function abortError(signal: AbortSignal, server: string): AbortError {
  return new AbortError("the operation was aborted", { cause: signal.reason, server });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function isSpace(byte: number | undefined): boolean {
  // C isspace(): space, \t, \n, \v, \f, \r
  return byte === 0x20 || (byte !== undefined && byte >= 0x09 && byte <= 0x0d);
}

/**
 * memcached's `safe_strtoull` applied to an item's data, which on the server is followed by "\r\n". Verified:
 * "10" → 10, "  12" → 12, "+12" → 12, "12 34" → 12, "1\r\n2" → 1; "12abc", "-5", "" (a lease placeholder) and
 * "1234567890123456789012345" (ERANGE) → CLIENT_ERROR cannot increment or decrement non-numeric value.
 */
function parseCounter(data: Uint8Array): bigint | undefined {
  let i = 0;
  while (i < data.length && isSpace(data[i])) i++;
  let negative = false;
  if (data[i] === 0x2b || data[i] === 0x2d) {
    negative = data[i] === 0x2d;
    i++;
  }
  const start = i;
  while (i < data.length && data[i]! >= 0x30 && data[i]! <= 0x39) i++;
  if (i === start) return undefined;
  // The byte after the digits must be whitespace; past the end of the data it is the item's trailing "\r".
  if (i < data.length && !isSpace(data[i])) return undefined;
  let value = 0n;
  for (let j = start; j < i; j++) value = value * 10n + BigInt(data[j]! - 0x30);
  if (value >= U64) return undefined;
  if (negative) {
    // strtoull negates in unsigned arithmetic; safe_strtoull then refuses results that look negative as int64.
    value = (U64 - value) % U64;
    if (value >= 1n << 63n) return undefined;
  }
  return value;
}

function checkKey(key: string): void {
  // The engine validates keys; this mirrors what the server itself refuses, so misuse fails like the real thing.
  if (key.length === 0 || Buffer.byteLength(key) > 250 || /\s/.test(key)) throw new ServerError(BAD_FORMAT);
}

function checkInteger(value: number): void {
  if (!Number.isInteger(value)) throw new ServerError(BAD_FORMAT);
}

function checkTimeout(timeout: number, name: string): void {
  if (typeof timeout !== "number" || !(timeout > 0) || timeout > MAX_TIMER_DELAY) {
    throw new InvalidArgumentError(
      `${name} must be a number of milliseconds between 1 and ${MAX_TIMER_DELAY}`,
    );
  }
}

/** An in-process memcached 1.6.18 (meta protocol semantics) with fault injection. See the module comment. */
export class MemoryTransport implements Transport {
  readonly address: string;
  readonly maxValueSize: number;

  readonly #now: () => number;
  readonly #timeout: number;
  readonly #gate: MemoryTransportOptions["gate"];

  #items = new Map<string, Item>();
  #cas = 0n;
  #pid = nextPid++;
  /** memcached's `process_started`: a fresh server reports `uptime 2` (verified), because it starts its clock 2 s back. */
  #startedAt: number;
  #stats = freshCounters();

  #mode: Mode = "up";
  #slowMs = 0;
  #generation = 0;
  #held: Pending[] = [];
  #pending = new Set<Pending>();
  #delays = new Set<ReturnType<typeof setTimeout>>();
  #closing = false;
  #closed = false;
  #closePromise: Promise<void> | undefined;
  #idle: (() => void) | undefined;

  constructor(options: MemoryTransportOptions = {}) {
    instances += 1;
    this.address = options.address ?? `memory-${instances}`;
    this.maxValueSize = options.maxValueSize ?? DEFAULT_MAX_VALUE_SIZE;
    if (!Number.isSafeInteger(this.maxValueSize) || this.maxValueSize < 1) {
      throw new InvalidArgumentError(
        `maxValueSize must be a positive whole number of bytes, got ${String(options.maxValueSize)}`,
      );
    }
    this.#timeout = options.timeout ?? DEFAULT_TIMEOUT;
    checkTimeout(this.#timeout, "timeout");
    if (options.now !== undefined && typeof options.now !== "function") {
      throw new InvalidArgumentError("now must be a function returning the time in milliseconds");
    }
    if (options.gate !== undefined && typeof options.gate !== "function") {
      throw new InvalidArgumentError("gate must be a function");
    }
    this.#now = options.now ?? Date.now;
    this.#gate = options.gate;
    this.#startedAt = this.#clock() - 2;
  }

  // ─── fault injection ───────────────────────────────────────────────────────────────────────────────────────────

  /** Items currently stored (expired ones excluded; lease placeholders and stale items included). */
  get size(): number {
    this.#purgeExpired();
    return this.#items.size;
  }

  /** The current fake process id; changes on {@link restart}. */
  get pid(): number {
    return this.#pid;
  }

  /**
   * The server becomes unreachable: new requests reject at once with `ServerUnavailableError`, requests in flight
   * reject with `ConnectionError` and are not applied. Data is kept.
   */
  down(): void {
    this.#mode = "down";
    this.#dropInFlight("the connection was reset");
  }

  /** Back to normal after {@link down}, {@link hang} or {@link pause} (held requests are applied as by resume()). */
  up(): void {
    this.#wake();
  }

  /**
   * The server stops answering (a blackholed network, a wedged process): requests that reach it are neither applied
   * nor answered; callers get `TimeoutError` after their timeout or `AbortError` from their signal.
   */
  hang(): void {
    this.#mode = "hung";
  }

  /**
   * Every request issued from now on is delayed by `ms` before it reaches the server (0 turns it off). Orthogonal to
   * up/down/hang/pause.
   */
  slow(ms: number): void {
    if (typeof ms !== "number" || !(ms >= 0) || ms > MAX_TIMER_DELAY) {
      throw new InvalidArgumentError(
        `slow(ms) takes a number of milliseconds between 0 and ${MAX_TIMER_DELAY}`,
      );
    }
    this.#slowMs = ms;
  }

  /**
   * Like SIGSTOP: requests reaching the server are held, data is kept. On {@link resume} they are applied in arrival
   * order, including those whose caller timed out meanwhile (a stopped server still reads them from its socket).
   */
  pause(): void {
    this.#mode = "paused";
  }

  /** Ends {@link pause}: held requests are applied in order and answered if their caller still waits. */
  resume(): void {
    this.#wake();
  }

  /**
   * A new server process: data gone, new pid, uptime and the CAS counter start over (a fresh memcached hands out
   * `c1` again). Requests in flight or held reject with `ConnectionError` and are not applied. A transport that is
   * {@link down} stays down until {@link up}.
   */
  restart(): void {
    this.#dropInFlight("the server restarted");
    this.#items = new Map();
    this.#cas = 0n;
    this.#pid = nextPid++;
    this.#startedAt = this.#clock() - 2;
    this.#stats = freshCounters();
    if (this.#mode !== "down") this.#mode = "up";
  }

  /**
   * The item as the server holds it, without the side effects of a read (no win token handed out, no lazy expiry
   * bookkeeping). `undefined` when missing or expired.
   */
  peek(key: string): MemoryItemView | undefined {
    const item = this.#items.get(key);
    if (item === undefined || this.#expired(item)) return undefined;
    return {
      value: item.value.slice(),
      flags: item.flags,
      cas: item.cas,
      ttl: this.#ttl(item),
      stale: item.stale,
      tokenSent: item.tokenSent,
    };
  }

  // ─── the transport contract ────────────────────────────────────────────────────────────────────────────────────

  get(key: string, options?: TransportGetOptions): Promise<TransportItem | null> {
    return this.#request("get", key, options, () => this.#get(key, options));
  }

  set(key: string, value: Uint8Array, options: TransportSetOptions): Promise<StoreResult> {
    // The bytes are "on the wire" from here on: later changes by the caller must not reach the server.
    const data = value.slice();
    return this.#request("set", key, options, () => this.#set(key, data, options));
  }

  delete(key: string, options?: TransportDeleteOptions): Promise<DeleteResult> {
    return this.#request("delete", key, options, () => this.#delete(key, options));
  }

  arithmetic(key: string, options?: TransportArithmeticOptions): Promise<TransportArithmeticResult | null> {
    return this.#request("arithmetic", key, options, () => this.#arithmetic(key, options));
  }

  touch(key: string, ttl: number, options?: RequestOptions): Promise<boolean> {
    return this.#request("touch", key, options, () => this.#touch(key, ttl));
  }

  noop(options?: RequestOptions): Promise<void> {
    return this.#request("noop", undefined, options, () => undefined);
  }

  version(options?: RequestOptions): Promise<string> {
    return this.#request("version", undefined, options, () => VERSION);
  }

  stats(options?: RequestOptions): Promise<TransportStats> {
    return this.#request("stats", undefined, options, () => this.#statsNow());
  }

  flush(options?: RequestOptions): Promise<void> {
    return this.#request("flush", undefined, options, () => {
      // flush_all → OK. The CAS counter is not reset (only a restart does that).
      this.#items.clear();
      this.#stats.cmd_flush += 1;
    });
  }

  async *dump(options?: RequestOptions): AsyncIterable<DumpEntry> {
    const entries = await this.#request("dump", undefined, options, () => this.#dumpNow());
    yield* entries;
  }

  close(): Promise<void> {
    if (this.#closePromise === undefined) {
      this.#closing = true;
      this.#closePromise = (async () => {
        if (this.#pending.size > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
        this.#shutdown();
      })();
    }
    return this.#closePromise;
  }

  destroy(cause?: Error): void {
    this.#closing = true;
    for (const request of [...this.#pending]) {
      this.#fail(
        request,
        cause ?? new ClientClosedError("the transport was destroyed", { server: this.address }),
      );
    }
    this.#shutdown();
    this.#closePromise ??= Promise.resolve();
  }

  // ─── request plumbing ──────────────────────────────────────────────────────────────────────────────────────────

  #request<T>(
    op: string,
    key: string | undefined,
    options: RequestOptions | undefined,
    apply: () => T,
  ): Promise<T> {
    if (this.#closing)
      return Promise.reject(new ClientClosedError("the transport is closed", { server: this.address }));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal, this.address));
    const timeout = options?.timeout ?? this.#timeout;
    try {
      checkTimeout(timeout, "timeout");
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#mode === "down") {
      return Promise.reject(new ServerUnavailableError(`${this.address} is down`, { server: this.address }));
    }
    return new Promise<T>((resolve, reject) => {
      const request: Pending = {
        op,
        key,
        apply,
        generation: this.#generation,
        delay: this.#slowMs,
        settled: false,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer: undefined,
        signal,
        onAbort: undefined,
      };
      this.#pending.add(request);
      request.timer = setTimeout(() => {
        this.#fail(
          request,
          new TimeoutError(`${op} timed out after ${timeout} ms`, { server: this.address }),
        );
      }, timeout);
      if (signal !== undefined) {
        request.onAbort = () => this.#fail(request, abortError(signal, this.address));
        signal.addEventListener("abort", request.onAbort, { once: true });
      }
      // Requests sent while hung vanish: they are never applied, even if the server is up() before they time out.
      if (this.#mode !== "hung") void this.#dispatch(request);
    });
  }

  async #dispatch(request: Pending): Promise<void> {
    try {
      // Always at least one hop: nothing is applied synchronously inside the call, as with a socket.
      let op: MemoryTransportOperation | undefined;
      if (this.#gate !== undefined) {
        op =
          request.key === undefined
            ? { op: request.op, address: this.address }
            : { op: request.op, key: request.key, address: this.address };
        Object.defineProperty(op, "timeout", {
          value: () =>
            this.#fail(
              request,
              new TimeoutError(`${request.op} timed out (forced by the gate)`, { server: this.address }),
            ),
        });
      }
      await (op === undefined ? undefined : this.#gate?.(op));
    } catch (err) {
      this.#fail(
        request,
        err instanceof McpairError
          ? err
          : new ConnectionError(`${request.op} failed in the gate`, { cause: err, server: this.address }),
      );
      return;
    }
    if (request.delay > 0) {
      const ms = request.delay;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#delays.delete(timer);
          resolve();
        }, ms);
        // The caller's timeout timer keeps the process alive while anyone waits; a late arrival should not.
        timer.unref();
        this.#delays.add(timer);
      });
    }
    this.#arrive(request);
  }

  #arrive(request: Pending): void {
    if (this.#closed || request.generation !== this.#generation) return;
    if (this.#mode === "hung" || this.#mode === "down") return;
    if (this.#mode === "paused") {
      this.#held.push(request);
      return;
    }
    this.#execute(request);
  }

  #execute(request: Pending): void {
    let result: unknown;
    try {
      result = request.apply();
    } catch (err) {
      this.#fail(request, err);
      return;
    }
    if (request.settled) return;
    this.#settle(request);
    request.resolve(result);
  }

  #fail(request: Pending, error: unknown): void {
    if (request.settled) return;
    this.#settle(request);
    request.reject(error);
  }

  #settle(request: Pending): void {
    request.settled = true;
    if (request.timer !== undefined) clearTimeout(request.timer);
    if (request.onAbort !== undefined) request.signal?.removeEventListener("abort", request.onAbort);
    this.#pending.delete(request);
    if (this.#pending.size === 0 && this.#idle !== undefined) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }

  #wake(): void {
    this.#mode = "up";
    const held = this.#held;
    this.#held = [];
    for (const request of held) {
      if (!this.#closed && request.generation === this.#generation) this.#execute(request);
    }
  }

  #dropInFlight(reason: string): void {
    this.#generation += 1;
    this.#held = [];
    for (const request of [...this.#pending]) {
      this.#fail(request, new ConnectionError(`${request.op} failed: ${reason}`, { server: this.address }));
    }
  }

  #shutdown(): void {
    this.#closed = true;
    this.#held = [];
    for (const timer of this.#delays) clearTimeout(timer);
    this.#delays.clear();
  }

  // ─── the server ────────────────────────────────────────────────────────────────────────────────────────────────

  /** memcached's clock: whole seconds, so a TTL of 1 ends at the next second boundary (it can expire at once). */
  #clock(): number {
    return Math.floor(this.#now() / 1000);
  }

  #expired(item: Item): boolean {
    return item.exp !== 0 && item.exp <= this.#clock();
  }

  /** What `t` reports: `t-1` for no expiry, else seconds left (`ms T2` → t2, t1, then EN). */
  #ttl(item: Item): number {
    return item.exp === 0 ? -1 : item.exp - this.#clock();
  }

  /**
   * memcached's realtime(): 0 = never; negative = already expired (1.6.18 maps it to a time before the process
   * started); above 30 days = an absolute Unix time (in the past: expired); otherwise relative to now.
   */
  #expiry(ttl: number): number {
    checkInteger(ttl);
    if (ttl === 0) return 0;
    if (ttl < 0) return 1;
    if (ttl > REALTIME_MAXDELTA) return ttl <= this.#startedAt ? 1 : ttl;
    return this.#clock() + ttl;
  }

  #nextCas(): bigint {
    this.#cas += 1n;
    return this.#cas;
  }

  /** The live item, or undefined (an expired one is unlinked on access, as memcached does). */
  #lookup(key: string): Item | undefined {
    const item = this.#items.get(key);
    if (item === undefined) return undefined;
    if (this.#expired(item)) {
      this.#items.delete(key);
      return undefined;
    }
    return item;
  }

  #link(key: string, item: Item): void {
    this.#items.set(key, item);
    this.#stats.total_items += 1;
  }

  #purgeExpired(): void {
    for (const [key, item] of this.#items) if (this.#expired(item)) this.#items.delete(key);
  }

  /**
   * `mg <key> [v] [f] [c] [t] [N<lease>]`.
   *
   * - Miss without N: `EN` (null). Miss with `N30`: an empty placeholder is created, flags 0, living 30 s, and the
   *   creating caller wins: `mg L1 v c N30 t` < `VA 0 c4 t30 W`. Every later reader, with or without N, loses and
   *   sees the placeholder: < `VA 0 c4 t30 f0 Z` (an existing placeholder's TTL is not changed by another N).
   *   Caution: the server evaluates flags left to right and the placeholder gets its TTL when `N` is reached, so
   *   `mg k t N30` answers `t-1 W`; a socket transport must send `N` before `t` to report the lease's TTL.
   * - Hit of a stale item (after `md k I`): the first reader gets `X W` (< `VA 3 c14 t30 f7 X W`), later ones `Z X`.
   * - A plain hit gets neither W nor Z, with or without N (< `VA 3 c330 t100`).
   */
  #get(key: string, options: TransportGetOptions | undefined): TransportItem | null {
    checkKey(key);
    this.#stats.cmd_get += 1;
    const wantValue = options?.value ?? true;
    const wantCas = options?.cas ?? false;
    const wantTtl = options?.ttl ?? false;
    const leaseExp = options?.lease === undefined ? undefined : this.#expiry(options.lease);
    const item = this.#lookup(key);
    if (item === undefined) {
      this.#stats.get_misses += 1;
      if (leaseExp === undefined) return null;
      const placeholder: Item = {
        value: EMPTY,
        flags: 0,
        cas: this.#nextCas(),
        exp: leaseExp,
        stale: false,
        tokenSent: true,
      };
      this.#link(key, placeholder);
      return {
        value: new Uint8Array(0),
        flags: 0,
        cas: wantCas ? placeholder.cas : 0n,
        ttl: wantTtl ? this.#ttl(placeholder) : undefined,
        stale: false,
        win: true,
        lost: false,
      };
    }
    this.#stats.get_hits += 1;
    let win = false;
    let lost = false;
    if (item.tokenSent) {
      lost = true;
    } else if (item.stale) {
      win = true;
      item.tokenSent = true;
    }
    return {
      value: wantValue ? item.value.slice() : new Uint8Array(0),
      flags: item.flags,
      cas: wantCas ? item.cas : 0n,
      ttl: wantTtl ? this.#ttl(item) : undefined,
      stale: item.stale,
      win,
      lost,
    };
  }

  /**
   * `ms <key> <len> T<ttl> F<flags> [C<cas>] [M<mode>]`. Verified results:
   * - set: HD; with C: missing → NF, other CAS → EX, same CAS → HD (also on a stale item: `ms S2 3 C17` → HD and
   *   the stale mark and win token are gone; the CAS from before `md I` → EX).
   * - add (ME): missing → HD (a C is ignored: `ms MX 1 C5 ME` → HD); existing, stale or placeholder → NS.
   * - replace (MR): missing → NS, or NF with C; existing → HD, EX on a CAS mismatch.
   * - append/prepend (MA/MP): missing → NS (with or without C); existing → HD keeping the item's flags and TTL
   *   (`MA F9 T5` on f4 t200 → f4 t200), EX on a CAS mismatch; the result clears a stale mark (new item).
   * - Every successful store gets a new CAS from one server-wide counter (c1, c2, ...). A failed one takes none.
   * - Too large: `SERVER_ERROR object too large for cache` in every mode, and the key's existing item is removed
   *   (`ms big2 2000000` after `ms big2 1` → then `mg big2` EN). An append whose result is too large → NS.
   * - F is read as an unsigned 64-bit number and truncated: `F4294967296` stores f0.
   */
  #set(key: string, value: Uint8Array, options: TransportSetOptions): StoreResult {
    checkKey(key);
    this.#stats.cmd_set += 1;
    const flags = options.flags ?? 0;
    if (!Number.isSafeInteger(flags) || flags < 0) throw new ServerError(BAD_FORMAT);
    const exp = this.#expiry(options.ttl);
    if (value.length > this.maxValueSize) {
      this.#stats.store_too_large += 1;
      this.#items.delete(key);
      throw new ServerError(TOO_LARGE, { server: this.address });
    }
    const cas = options.cas;
    const existing = this.#lookup(key);
    const mode = options.mode ?? "set";
    switch (mode) {
      case "set":
        if (cas !== undefined) {
          if (existing === undefined) return "not_found";
          if (existing.cas !== cas) return "exists";
        }
        break;
      case "add":
        if (existing !== undefined) return "not_stored";
        break;
      case "replace":
        if (existing === undefined) return cas === undefined ? "not_stored" : "not_found";
        if (cas !== undefined && existing.cas !== cas) return "exists";
        break;
      case "append":
      case "prepend": {
        if (existing === undefined) return "not_stored";
        if (cas !== undefined && existing.cas !== cas) return "exists";
        const joined = mode === "append" ? concat(existing.value, value) : concat(value, existing.value);
        if (joined.length > this.maxValueSize) return "not_stored";
        this.#link(key, {
          value: joined,
          flags: existing.flags,
          cas: this.#nextCas(),
          exp: existing.exp,
          stale: false,
          tokenSent: false,
        });
        return "stored";
      }
      default:
        throw new ServerError(`CLIENT_ERROR invalid mode for ms STORE: ${String(mode)}`);
    }
    this.#link(key, {
      value,
      flags: flags % 2 ** 32,
      cas: this.#nextCas(),
      exp,
      stale: false,
      tokenSent: false,
    });
    return "stored";
  }

  /**
   * `md <key> [C<cas>] [I T<s>]`. Verified: missing → NF (also with I: the key stays missing); CAS mismatch → EX;
   * otherwise HD. With `I T30` the item stays, marked stale, its TTL set to 30 (even if it had less), its win token
   * reset, and its CAS changed: `ms S1 .. → c13`, `md S1 I T30`, `mg S1 c` < `c14 X W`. Invalidating again bumps
   * the CAS again and hands out a new win token (`md S5 I T30` twice → c24 X W, then c25 X W).
   */
  #delete(key: string, options: TransportDeleteOptions | undefined): DeleteResult {
    checkKey(key);
    const invalidate = options?.invalidate;
    const exp = invalidate === undefined ? undefined : this.#expiry(invalidate);
    const item = this.#lookup(key);
    if (item === undefined) {
      this.#stats.delete_misses += 1;
      return "not_found";
    }
    if (options?.cas !== undefined && item.cas !== options.cas) return "exists";
    this.#stats.delete_hits += 1;
    if (exp === undefined) {
      this.#items.delete(key);
    } else {
      item.stale = true;
      item.tokenSent = false;
      item.cas = this.#nextCas();
      item.exp = exp;
    }
    return "deleted";
  }

  /**
   * `ma <key> [N<ttl> J<initial>] [D<delta>] [MI|MD] v c`. Verified:
   * - missing → NF (null); with N/J the counter is created holding J, the delta not applied (`ma A6 N100 J7 MD`
   *   → 7), flags 0, TTL N (N0: never). An existing counter's TTL is not changed by N.
   * - incr wraps modulo 2^64 (18446744073709551615 + 1 → 0); decr stops at 0.
   * - non-numeric data (also an empty lease placeholder) → CLIENT_ERROR cannot increment or decrement non-numeric
   *   value; a D or J outside 0..2^64-1 → CLIENT_ERROR invalid or duplicate flag.
   * - every update takes a new CAS. A result no longer than the old data is written in place, padded with spaces:
   *   "10" decr 3 → 7, then `mg` < `VA 2` "7 ". In place, the flags, TTL, stale mark and win token are kept; a
   *   longer result is a new item that keeps flags and TTL but is no longer stale (`ms G1 9`, `md G1 I`, incr → 10,
   *   `mg` shows no X).
   */
  #arithmetic(
    key: string,
    options: TransportArithmeticOptions | undefined,
  ): TransportArithmeticResult | null {
    checkKey(key);
    const delta = options?.delta ?? 1n;
    const initial = options?.initial;
    const mode = options?.mode ?? "incr";
    if (mode !== "incr" && mode !== "decr")
      throw new ServerError(`CLIENT_ERROR invalid mode for ma: ${String(mode)}`);
    const createExp = this.#expiry(options?.ttl ?? 0);
    if (delta < 0n || delta >= U64 || (initial !== undefined && (initial < 0n || initial >= U64))) {
      throw new ServerError(BAD_FLAG);
    }
    const item = this.#lookup(key);
    if (item === undefined) {
      if (initial === undefined) return null;
      const created: Item = {
        value: encoder.encode(initial.toString()),
        flags: 0,
        cas: this.#nextCas(),
        exp: createExp,
        stale: false,
        tokenSent: false,
      };
      this.#link(key, created);
      return { value: initial, cas: created.cas };
    }
    const current = parseCounter(item.value);
    if (current === undefined) throw new ServerError(NON_NUMERIC, { server: this.address });
    const next = mode === "incr" ? (current + delta) % U64 : current > delta ? current - delta : 0n;
    const digits = next.toString();
    if (digits.length <= item.value.length) {
      const value = new Uint8Array(item.value.length).fill(0x20);
      encoder.encodeInto(digits, value);
      item.value = value;
      item.cas = this.#nextCas();
      return { value: next, cas: item.cas };
    }
    const replaced: Item = {
      value: encoder.encode(digits),
      flags: item.flags,
      cas: this.#nextCas(),
      exp: item.exp,
      stale: false,
      tokenSent: false,
    };
    this.#link(key, replaced);
    return { value: next, cas: replaced.cas };
  }

  /**
   * Classic `touch <key> <ttl>`: TOUCHED / NOT_FOUND. The CAS is unchanged, a stale item stays stale and keeps its
   * win token for the next reader. (`mg k T<s>` would also touch, but it hands the stale item's win token to the
   * toucher: `md H2 I T30`, `mg H2 T60` < `HD X W`. A socket transport must use `touch`.)
   */
  #touch(key: string, ttl: number): boolean {
    checkKey(key);
    this.#stats.cmd_touch += 1;
    const exp = this.#expiry(ttl);
    const item = this.#lookup(key);
    if (item === undefined) {
      this.#stats.touch_misses += 1;
      return false;
    }
    this.#stats.touch_hits += 1;
    item.exp = exp;
    return true;
  }

  /** `stats`: pid, uptime (2 on a fresh server), time (Unix seconds), curr_items (expired items excluded here). */
  #statsNow(): TransportStats {
    this.#purgeExpired();
    const time = this.#clock();
    let bytes = 0;
    for (const [key, item] of this.#items) bytes += this.#itemSize(key, item);
    const raw: Record<string, string> = {
      pid: String(this.#pid),
      uptime: String(time - this.#startedAt),
      time: String(time),
      version: VERSION,
      pointer_size: "64",
      curr_connections: "1",
      limit_maxbytes: "67108864",
      item_size_max: String(this.maxValueSize),
      curr_items: String(this.#items.size),
      bytes: String(bytes),
    };
    for (const [name, value] of Object.entries(this.#stats)) raw[name] = String(value);
    return {
      pid: this.#pid,
      uptime: time - this.#startedAt,
      time,
      currItems: this.#items.size,
      raw,
    };
  }

  /**
   * `lru_crawler metadump all` lines look like `key=d%2F%C3%BC exp=1795467617 la=.. cas=85 fetch=no cls=1 size=66`
   * (key URL-encoded, exp absolute or -1, each line ending in a bare "\n", then `END\r\n`); expired and flushed
   * items are not listed. Entries here carry the decoded key.
   */
  #dumpNow(): DumpEntry[] {
    this.#purgeExpired();
    const entries: DumpEntry[] = [];
    for (const [key, item] of this.#items) {
      entries.push({ key, exp: item.exp === 0 ? -1 : item.exp, size: this.#itemSize(key, item) });
    }
    return entries;
  }

  /**
   * memcached's item size (ITEM_ntotal, 64-bit build with CAS): a 56-byte header, the key and its NUL, the data
   * and its "\r\n", and 4 bytes of client flags when they are not 0. Verified for small items: key "a2", 2 bytes of
   * data, flags 0 → size=63; key "B9", 2 bytes, flags 5 → size=67. (Chunked items over 512 KiB differ slightly.)
   */
  #itemSize(key: string, item: Item): number {
    return 56 + Buffer.byteLength(key) + 1 + item.value.length + 2 + (item.flags === 0 ? 0 : 4);
  }
}
