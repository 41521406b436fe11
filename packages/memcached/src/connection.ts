import * as net from "node:net";
import * as tls from "node:tls";
import {
  ClientClosedError,
  ConnectionError,
  type McpairError,
  ServerUnavailableError,
  TimeoutError,
} from "@mcpair/core";
import { CommandsQueue, KIND_AUTH, PendingRequest, type QueueCounter } from "./commands-queue.js";
import { VALUE_SIZE_SLACK } from "./defaults.js";
import { MetaParser } from "./meta-parser.js";
import type { ResolvedOptions } from "./options.js";
import { type Tickable, timerWheel } from "./timer-wheel.js";

/**
 * One socket to the server and its life cycle:
 *
 * ```
 *  IDLE ──construction or a request──▶ CONNECTING ──connected (TLS done)──▶ READY
 *                                       ▲      │                             │ lost after it answered (close,
 *                          timer fires  │      │ failed, or closed before    │ error, timeout, bad bytes):
 *                 WAITING ──────────────┘      │ any reply                   │ back to CONNECTING at once
 *                    ▲                         ▼                             ▼
 *                    └────── a delay ── reconnectStrategy(retries, cause)   CONNECTING
 *  IDLE ◀────────────────── false / Error ──┘
 * ```
 *
 * While CONNECTING, requests are encoded and queued (their own deadlines still run) and leave in one write once
 * the socket is up. While WAITING for a retry, requests fail at once with `ServerUnavailableError`: a cache client
 * must not make its callers wait on a dead server. From IDLE, the next request starts a new attempt.
 */

export const STATE_IDLE = 0;
export const STATE_CONNECTING = 1;
export const STATE_READY = 2;
export const STATE_WAITING = 3;
export const STATE_CLOSED = 4;

/** Opens the socket the options describe (TCP, Unix socket, either over TLS). */
export function openSocket(options: ResolvedOptions): net.Socket {
  if (options.tls !== undefined) {
    const base: tls.ConnectionOptions = { ...options.tls };
    if (options.path !== undefined) base.path = options.path;
    else {
      base.host = options.host;
      base.port = options.port;
      if (base.servername === undefined && net.isIP(options.host) === 0) base.servername = options.host;
    }
    return tls.connect(base);
  }
  return options.path !== undefined
    ? net.connect({ path: options.path })
    : net.connect({ host: options.host, port: options.port });
}

/** The settle functions of the promise being created in `commit` (see `captureSettlers`). */
let capturedResolve: (value: unknown) => void = noop;
let capturedReject: (error: Error) => void = noop;

function captureSettlers(resolve: (value: never) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve as (value: unknown) => void;
  capturedReject = reject;
}

function noop(): void {}

/**
 * Connections with bytes encoded this turn, written together by one `setImmediate` once the poll phase is over.
 *
 * A process talking to several servers receives their replies as separate 'data' events of the same poll phase, and
 * the callers each one resolves issue requests to every server. Flushing each connection at the end of each event's
 * microtasks (as this transport did before) wrote every socket once per event; flushing in the check phase writes
 * each socket once per loop iteration. Measured over three servers, 64 in flight (bench/index.ts, W0 and W1): 8-9
 * operations per socket write before, 15-18 after, and 5-10% less client CPU per operation; on one server the two
 * are the same (one 'data' event per iteration). A request issued outside I/O (a timer, the main script) waits for
 * the same check phase, which comes right after the poll phase: no extra loop iteration.
 */
let dirty: Connection[] = [];
let spare: Connection[] = [];
let flushQueued = false;

function scheduleFlush(connection: Connection): void {
  dirty.push(connection);
  if (!flushQueued) {
    flushQueued = true;
    setImmediate(flushDirty);
  }
}

function flushDirty(): void {
  flushQueued = false;
  const batch = dirty;
  dirty = spare;
  spare = batch;
  for (let i = 0; i < batch.length; i++) batch[i]!.flush();
  batch.length = 0;
}

export class Connection implements Tickable {
  readonly #options: ResolvedOptions;
  readonly queue: CommandsQueue;
  #state = STATE_IDLE;
  #socket: net.Socket | null = null;
  #parser: MetaParser | null = null;
  #socketError: Error | null = null;
  #connectDeadline = 0;
  #connectSuspect = false;
  /** Consecutive failed attempts (passed to the reconnect strategy). */
  #retries = 0;
  /** The current socket has answered at least once. */
  #healthy = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #lastError: Error | null = null;
  #flushScheduled = false;
  /** `Date.now()` shared by every request of the current batch (one clock read per flush, not per request). */
  #batchNow = 0;
  #closing = false;
  /** The overdue head seen by the previous tick (see `tick`). */
  #suspect: PendingRequest | null = null;

  constructor(options: ResolvedOptions, counter: QueueCounter) {
    this.#options = options;
    this.queue = new CommandsQueue(
      {
        address: options.address,
        onFatal: (cause, others) => this.#fail(cause, others),
        onHealthy: () => {
          this.#healthy = true;
          this.#retries = 0;
        },
      },
      counter,
    );
  }

  get state(): number {
    return this.#state;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Throws when requests must fail fast; starts a connection when idle. */
  ensureOpen(): void {
    const state = this.#state;
    if (state === STATE_READY || state === STATE_CONNECTING) return;
    if (state === STATE_IDLE) {
      this.#retries = 0;
      this.connect();
      if (this.#state === STATE_CONNECTING) return;
    }
    if (this.#state === STATE_WAITING || this.#state === STATE_IDLE) {
      const cause = this.#lastError;
      throw new ServerUnavailableError(
        `${this.#options.address} is unavailable${cause ? ` (${cause.message})` : ""}; reconnecting`,
        { server: this.#options.address, cause: cause ?? undefined },
      );
    }
    throw new ClientClosedError(`the transport to ${this.#options.address} is closed`, {
      server: this.#options.address,
    });
  }

  /** The clock for a new request's deadline. */
  now(): number {
    if (this.#batchNow === 0) this.#batchNow = Date.now();
    return this.#batchNow;
  }

  /** Queues an encoded request and schedules the flush of this turn's batch. */
  commit<T>(req: PendingRequest, offset: number, signal: AbortSignal | undefined): Promise<T> {
    // A module-level executor, not a closure per request: it hands the settle functions over in two variables.
    const promise = new Promise<T>(captureSettlers);
    req.resolve = capturedResolve;
    req.reject = capturedReject;
    this.queue.push(req, offset);
    if (signal !== undefined) {
      req.signal = signal;
      const onAbort = (): void => this.queue.abort(req);
      req.onAbort = onAbort;
      signal.addEventListener("abort", onAbort, { once: true });
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      scheduleFlush(this);
    }
    return promise;
  }

  /** Writes what this turn encoded (called by the shared flush, see `scheduleFlush`). */
  flush(): void {
    this.#flush();
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    this.#batchNow = 0;
    if (this.#state !== STATE_READY) return;
    const socket = this.#socket!;
    // Backpressure: while the kernel buffer is full, keep coalescing; 'drain' flushes the backlog in one write.
    if (socket.writableNeedDrain) return;
    const bytes = this.queue.writer.take();
    if (bytes === null) return;
    this.queue.markWritten();
    if (!Array.isArray(bytes)) socket.write(bytes);
    else {
      // Large values travel by reference: corked, the pieces leave in one writev.
      socket.cork();
      for (let i = 0; i < bytes.length; i++) socket.write(bytes[i]!);
      socket.uncork();
    }
  };

  connect(): void {
    const o = this.#options;
    this.#state = STATE_CONNECTING;
    this.#healthy = false;
    this.#socketError = null;
    this.#connectDeadline = Date.now() + o.connectTimeout;
    this.#connectSuspect = false;
    let socket: net.Socket;
    try {
      socket = openSocket(o);
    } catch (err) {
      // Synchronous failures (bad TLS options, ...) take the same path as a refused connection.
      const cause = err instanceof Error ? err : new Error(String(err));
      this.#socket = null;
      this.#lastError = new ServerUnavailableError(`cannot connect to ${o.address}: ${cause.message}`, {
        server: o.address,
        cause,
      });
      this.queue.rejectAll(this.#lastError);
      this.#afterFailure(this.#decide(cause), false);
      return;
    }
    this.#socket = socket;
    const parser = new MetaParser(this.queue, { maxValueSize: o.maxValueSize + VALUE_SIZE_SLACK });
    this.#parser = parser;
    if (o.auth !== undefined) {
      // Authentication goes first on the wire; everything queued behind it is pipelined (a failed login makes the
      // server close the connection, which rejects the rest).
      const offset = this.queue.writer.size;
      this.queue.writer.auth(o.auth.username, o.auth.password);
      const deadline = this.#connectDeadline + o.timeout;
      this.queue.push(new PendingRequest(KIND_AUTH, 0, deadline, o.timeout, false), offset);
    }
    socket.on(o.tls !== undefined ? "secureConnect" : "connect", () => this.#onConnect(socket));
    socket.on("data", (chunk: Buffer) => {
      try {
        parser.feed(chunk);
      } catch (err) {
        // Not reachable by design (the parser reports, never throws); a bug must not become an uncaught exception.
        if (socket === this.#socket)
          this.#fail(new ConnectionError(`internal error: ${String(err)}`, { cause: err }));
      }
    });
    socket.on("error", (err: Error) => {
      if (socket === this.#socket) this.#socketError = err;
    });
    socket.on("close", () => {
      if (socket !== this.#socket) return;
      this.#fail(this.#socketError ?? new Error("the server closed the connection"));
    });
    socket.on("drain", () => {
      if (socket === this.#socket) this.#flush();
    });
    timerWheel.add(this);
  }

  #onConnect(socket: net.Socket): void {
    if (socket !== this.#socket) return;
    const o = this.#options;
    if (o.noDelay) socket.setNoDelay(true);
    if (o.keepAlive) socket.setKeepAlive(true, 30_000);
    this.#state = STATE_READY;
    this.#flush();
  }

  /** Timer wheel tick: connect timeout, then request deadlines. */
  tick(now: number): void {
    if (this.#state === STATE_CONNECTING && now >= this.#connectDeadline) {
      // Same grace tick as for requests below: a connect that completed during a long synchronous stretch has its
      // 'connect' event waiting in the poll phase, which runs after this timer.
      if (!this.#connectSuspect) {
        this.#connectSuspect = true;
        return;
      }
      this.#connectSuspect = false;
      this.#fail(
        new TimeoutError(
          `connect to ${this.#options.address} timed out after ${this.#options.connectTimeout} ms`,
        ),
      );
      return;
    }
    if (this.queue.length === 0) {
      this.#suspect = null;
      return;
    }
    const overdue = this.queue.overdueHead(now);
    if (overdue !== this.#suspect) {
      // Grace tick: after a long synchronous stretch the timer phase can run before the poll phase has read replies
      // already sitting in the socket. Decide on the next tick, once pending I/O has been processed.
      this.#suspect = overdue;
      return;
    }
    if (overdue === null) return;
    this.#suspect = null;
    const timeout = this.queue.expire(overdue);
    this.#fail(
      timeout,
      new ConnectionError(`connection to ${this.#options.address} reset: an earlier request timed out`, {
        server: this.#options.address,
        cause: timeout,
      }),
    );
  }

  /**
   * Tears the socket down, rejects everything pending and decides what comes next. `others` is the error for the
   * requests still pending; by default `ConnectionError` if the socket was up, `ServerUnavailableError` if not (with
   * the reconnect strategy's `Error` as cause when it returned one).
   */
  #fail(cause: Error, others?: McpairError): void {
    const socket = this.#socket;
    if (socket === null) return;
    this.#socket = null;
    this.#suspect = null;
    this.#parser?.close();
    this.#parser = null;
    socket.destroy();
    const wasReady = this.#state === STATE_READY;
    // A connection that worked and then broke (server restart, our own reset after a timeout or a protocol error)
    // is retried at once; one that never answered counts as a failed attempt and goes through the strategy.
    const healthy = wasReady && this.#healthy;
    const decision = this.#closing || healthy ? 0 : this.#decide(cause);
    const address = this.#options.address;
    let error: McpairError;
    if (others !== undefined) error = others;
    else if (decision instanceof Error) {
      error = new ServerUnavailableError(`${address}: ${decision.message}`, {
        server: address,
        cause: decision,
      });
    } else if (wasReady) {
      error = new ConnectionError(`connection to ${address} lost: ${cause.message}`, {
        server: address,
        cause,
      });
    } else {
      error = new ServerUnavailableError(`cannot connect to ${address}: ${cause.message}`, {
        server: address,
        cause,
      });
    }
    this.#lastError = error;
    this.queue.rejectAll(error);
    this.#afterFailure(decision, healthy);
  }

  /** Asks the reconnect strategy what to do after a failed attempt. */
  #decide(cause: Error): number | false | Error {
    const strategy = this.#options.reconnectStrategy;
    let decision: number | false | Error;
    if (strategy === false) decision = false;
    else if (typeof strategy === "number") decision = strategy;
    else {
      try {
        decision = strategy(this.#retries, cause);
      } catch (err) {
        decision = err instanceof Error ? err : new Error(String(err));
      }
      if (typeof decision === "number" && !(Number.isFinite(decision) && decision >= 0)) {
        decision = new Error(`reconnectStrategy returned ${decision}, not a delay in ms`);
      } else if (typeof decision !== "number" && decision !== false && !(decision instanceof Error)) {
        decision = new Error(
          `reconnectStrategy returned ${String(decision)}, not a delay, false or an Error`,
        );
      }
    }
    this.#retries++;
    return decision;
  }

  #afterFailure(decision: number | false | Error, healthy: boolean): void {
    if (this.#closing) {
      this.#close();
      return;
    }
    if (healthy) {
      this.#retries = 0;
      if (this.#options.reconnectStrategy !== false) {
        this.connect();
        return;
      }
      this.#state = STATE_IDLE;
      timerWheel.delete(this);
      return;
    }
    // No socket, no pending request: nothing for the timer wheel to watch until the next attempt.
    timerWheel.delete(this);
    if (typeof decision === "number") {
      this.#state = STATE_WAITING;
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = null;
        if (this.#state === STATE_WAITING) this.connect();
      }, decision);
      this.#retryTimer.unref();
      return;
    }
    // The strategy gave up: no background retries. The next request starts a new attempt (see `ensureOpen`).
    this.#state = STATE_IDLE;
  }

  #close(): void {
    this.#state = STATE_CLOSED;
    if (this.#retryTimer !== null) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
    }
    timerWheel.delete(this);
  }

  /** Waits for every pending request to settle, then closes. */
  async close(): Promise<void> {
    this.#closing = true;
    await this.queue.whenEmpty();
    this.destroy(new ClientClosedError(`the transport to ${this.#options.address} is closed`));
  }

  /** Closes at once; everything pending rejects with `error`. */
  destroy(error: McpairError): void {
    this.#closing = true;
    const socket = this.#socket;
    this.#socket = null;
    this.#parser?.close();
    this.#parser = null;
    socket?.destroy();
    this.queue.rejectAll(error);
    this.#close();
  }
}
