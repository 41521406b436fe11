import {
  AbortError,
  ClientClosedError,
  type DeleteResult,
  type DumpEntry,
  InvalidArgumentError,
  McpairError,
  QueueFullError,
  type RequestOptions,
  type ServerAddress,
  type StoreResult,
  type Transport,
  type TransportArithmeticOptions,
  type TransportArithmeticResult,
  type TransportDeleteOptions,
  type TransportFactory,
  type TransportGetOptions,
  type TransportItem,
  type TransportSetOptions,
  type TransportStats,
} from "@mcpair/core";
import {
  CMD_FLUSH,
  CMD_NOOP,
  CMD_STATS,
  CMD_VERSION,
  WANT_CAS,
  WANT_TTL,
  WANT_VALUE,
} from "./command-writer.js";
import {
  KIND_ARITH,
  KIND_DELETE,
  KIND_FLUSH,
  KIND_GET,
  KIND_NOOP,
  KIND_SET,
  KIND_STATS,
  KIND_TOUCH,
  KIND_VERSION,
  PendingRequest,
  type QueueCounter,
} from "./commands-queue.js";
import { Connection, STATE_CONNECTING, STATE_IDLE, STATE_READY } from "./connection.js";
import { DumpSession } from "./dump.js";
import {
  type ResolvedOptions,
  requestTimeout,
  resolveOptions,
  type SocketTransportOptions,
} from "./options.js";

/**
 * The memcached transport over TCP, TLS or a Unix socket, speaking the meta protocol.
 *
 * - Requests issued in the same event-loop turn are encoded into one buffer and leave in one `socket.write`;
 *   replies are matched to requests in order (no quiet mode, no opaque tokens needed).
 * - One process-wide timer wheel checks the oldest pending request of each connection; a request past its deadline
 *   rejects with `TimeoutError` and resets its connection (nothing behind it can be answered first).
 * - Keys are checked byte-wise before anything is encoded: no key can inject a command.
 *
 * See `SocketTransportOptions` for the knobs; every method rejects only with `McpairError` subclasses.
 */
export class SocketTransport implements Transport {
  /**
   * `set` also takes a string value and encodes it as UTF-8 straight into the write buffer (see `set`). An engine
   * that sees this may hand short strings over as they are instead of encoding them into a `Uint8Array` first.
   * @default true
   */
  readonly acceptsStringValues = true as const;
  readonly address: string;
  readonly maxValueSize: number;
  readonly #options: ResolvedOptions;
  readonly #connections: Connection[] = [];
  readonly #counter: QueueCounter = { pending: 0 };
  readonly #dumps = new Set<DumpSession>();
  #closed = false;
  #closePromise: Promise<void> | null = null;
  #next = 0;

  constructor(options?: SocketTransportOptions) {
    const o = resolveOptions(options);
    this.#options = o;
    this.address = o.address;
    this.maxValueSize = o.maxValueSize;
    for (let i = 0; i < o.connections; i++) this.#connections.push(new Connection(o, this.#counter));
    // Eager connect: the first request finds the socket up (or the server known down).
    for (const c of this.#connections) c.connect();
  }

  /** Requests pending on this server (all connections), as counted against `maxQueue`. */
  get pending(): number {
    return this.#counter.pending;
  }

  /** The connection for the next request; throws when the request must fail at once. */
  #acquire(): Connection {
    if (this.#closed) {
      throw new ClientClosedError(`the transport to ${this.address} is closed`, { server: this.address });
    }
    if (this.#counter.pending >= this.#options.maxQueue) {
      throw new QueueFullError(
        `${this.#counter.pending} requests are already pending on ${this.address} (maxQueue ${this.#options.maxQueue})`,
        { server: this.address },
      );
    }
    const conns = this.#connections;
    if (conns.length === 1) {
      const c = conns[0]!;
      c.ensureOpen();
      return c;
    }
    // Least pending among the usable connections (ready first, then connecting); ties rotate.
    let best: Connection | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    const start = this.#next++ % conns.length;
    for (let k = 0; k < conns.length; k++) {
      const c = conns[(start + k) % conns.length]!;
      const state = c.state;
      if (state !== STATE_READY && state !== STATE_CONNECTING && state !== STATE_IDLE) continue;
      const score = c.pending + (state === STATE_READY ? 0 : 1_000_000);
      if (score < bestScore) {
        best = c;
        bestScore = score;
      }
    }
    const chosen = best ?? conns[start]!;
    chosen.ensureOpen();
    return chosen;
  }

  /** The timeout of a request: the caller's, checked, or the transport's. Throws `AbortError` if already aborted. */
  #timeoutOf(options: RequestOptions | undefined): number {
    if (options === undefined) return this.#options.timeout;
    if (options.signal?.aborted) throw new AbortError();
    return options.timeout === undefined ? this.#options.timeout : requestTimeout(options.timeout, 0);
  }

  /** Queues the request whose bytes were just encoded at `offset` on `conn`. */
  #enqueue<T>(
    conn: Connection,
    kind: number,
    want: number,
    offset: number,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const req = new PendingRequest(
      kind,
      want,
      conn.now() + timeout,
      timeout,
      timeout !== this.#options.timeout,
    );
    return conn.commit<T>(req, offset, signal);
  }

  /** The rarer requests. `get`, `set` and `delete` encode inline instead: no closure per call on the hot path. */
  #request<T>(
    kind: number,
    want: number,
    options: RequestOptions | undefined,
    encode: (conn: Connection) => void,
  ): Promise<T> {
    try {
      const timeout = this.#timeoutOf(options);
      const conn = this.#acquire();
      const offset = conn.queue.writer.size;
      encode(conn);
      return this.#enqueue<T>(conn, kind, want, offset, timeout, options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  get(key: string, options?: TransportGetOptions): Promise<TransportItem | null> {
    try {
      const timeout = this.#timeoutOf(options);
      let want = WANT_VALUE;
      if (options !== undefined) {
        if (options.value === false) want = 0;
        if (options.cas === true) want |= WANT_CAS;
        if (options.ttl === true) want |= WANT_TTL;
      }
      const conn = this.#acquire();
      const offset = conn.queue.writer.size;
      conn.queue.writer.get(key, want, options?.lease);
      return this.#enqueue(conn, KIND_GET, want, offset, timeout, options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Stores `value` (see the transport contract). Besides bytes, this transport takes a string and writes its UTF-8
   * bytes straight into the connection's write buffer, without the intermediate `Buffer` a codec would allocate; the
   * stored bytes are exactly `Buffer.from(value)`'s. A `Uint8Array` of 8 KiB or more is written by reference (no
   * copy) in this turn's write: do not modify it before the returned promise settles.
   */
  set(key: string, value: Uint8Array | string, options: TransportSetOptions): Promise<StoreResult> {
    // `quiet` is accepted but the reply is still awaited: error lines carry no opaque token, so a suppressed
    // success cannot be told apart from a failure reply belonging to a neighbour. Pipelining already makes the
    // round trip shared.
    try {
      if (options === undefined || options === null)
        throw new InvalidArgumentError("set: options with a ttl are required");
      const timeout = this.#timeoutOf(options);
      const conn = this.#acquire();
      const writer = conn.queue.writer;
      const offset = writer.size;
      writer.set(key, value, options.ttl, options.flags, options.cas, options.mode, this.maxValueSize);
      return this.#enqueue(conn, KIND_SET, 0, offset, timeout, options.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  delete(key: string, options?: TransportDeleteOptions): Promise<DeleteResult> {
    try {
      const timeout = this.#timeoutOf(options);
      const conn = this.#acquire();
      const offset = conn.queue.writer.size;
      conn.queue.writer.delete(key, options?.cas, options?.invalidate);
      return this.#enqueue(conn, KIND_DELETE, 0, offset, timeout, options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  arithmetic(key: string, options?: TransportArithmeticOptions): Promise<TransportArithmeticResult | null> {
    return this.#request(KIND_ARITH, 0, options, (c) => {
      const mode = options?.mode;
      if (mode !== undefined && mode !== "incr" && mode !== "decr") {
        throw new InvalidArgumentError(
          `arithmetic: options.mode must be "incr" or "decr"; got ${String(mode)}`,
        );
      }
      c.queue.writer.arithmetic(key, mode === "decr", options?.delta, options?.initial, options?.ttl);
    });
  }

  touch(key: string, ttl: number, options?: RequestOptions): Promise<boolean> {
    return this.#request(KIND_TOUCH, 0, options, (c) => c.queue.writer.touch(key, ttl));
  }

  noop(options?: RequestOptions): Promise<void> {
    return this.#request(KIND_NOOP, 0, options, (c) => c.queue.writer.raw(CMD_NOOP));
  }

  version(options?: RequestOptions): Promise<string> {
    return this.#request(KIND_VERSION, 0, options, (c) => c.queue.writer.raw(CMD_VERSION));
  }

  stats(options?: RequestOptions): Promise<TransportStats> {
    return this.#request(KIND_STATS, 0, options, (c) => c.queue.writer.raw(CMD_STATS));
  }

  flush(options?: RequestOptions): Promise<void> {
    return this.#request(KIND_FLUSH, 0, options, (c) => c.queue.writer.raw(CMD_FLUSH));
  }

  async *dump(options?: RequestOptions): AsyncGenerator<DumpEntry, void, undefined> {
    if (this.#closed) {
      throw new ClientClosedError(`the transport to ${this.address} is closed`, { server: this.address });
    }
    const timeout = requestTimeout(options?.timeout, this.#options.timeout);
    const session = new DumpSession(this.#options, timeout, options?.signal);
    this.#dumps.add(session);
    try {
      session.start();
      for (;;) {
        const entry = session.take();
        if (entry !== undefined) {
          yield entry;
          continue;
        }
        if (session.done) return;
        await session.wait();
      }
    } finally {
      this.#dumps.delete(session);
      session.destroy();
    }
  }

  close(): Promise<void> {
    if (this.#closePromise !== null) return this.#closePromise;
    this.#closed = true;
    this.#closePromise = (async () => {
      await Promise.all(this.#connections.map((c) => c.close()));
      const error = new ClientClosedError(`the transport to ${this.address} is closed`, {
        server: this.address,
      });
      for (const d of this.#dumps) d.destroy(error);
      this.#dumps.clear();
    })();
    return this.#closePromise;
  }

  destroy(cause?: Error): void {
    this.#closed = true;
    const error =
      cause instanceof McpairError
        ? cause
        : new ClientClosedError(`the transport to ${this.address} was destroyed`, {
            server: this.address,
            cause,
          });
    for (const c of this.#connections) c.destroy(error);
    for (const d of this.#dumps) d.destroy(error);
    this.#dumps.clear();
    if (this.#closePromise === null) this.#closePromise = Promise.resolve();
  }
}

/** Creates a `SocketTransport`; see `SocketTransportOptions`. */
export function createSocketTransport(options?: SocketTransportOptions): SocketTransport {
  return new SocketTransport(options);
}

/**
 * A `TransportFactory` for the engine: one `SocketTransport` per configured server, sharing `options` (everything
 * but the address).
 */
export function createSocketTransportFactory(
  options?: Omit<SocketTransportOptions, "host" | "port" | "path">,
): TransportFactory {
  // Validate the shared options once, eagerly.
  resolveOptions(options);
  return (server: ServerAddress) =>
    new SocketTransport({ ...options, host: server.host, port: server.port, path: server.path });
}
