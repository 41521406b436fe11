import {
  AbortError,
  type McpairError,
  ProtocolError,
  ServerError,
  ServerUnavailableError,
  type StoreResult,
  TimeoutError,
  type TransportItem,
  type TransportStats,
} from "@mcpair/core";
import { CommandWriter, WANT_CAS, WANT_TTL, WANT_VALUE } from "./command-writer.js";
import {
  codeName,
  type MetaResponse,
  RC_EN,
  RC_END,
  RC_ERROR,
  RC_EX,
  RC_HD,
  RC_LINE,
  RC_MN,
  RC_NF,
  RC_NOT_FOUND,
  RC_NS,
  RC_OK,
  RC_SERVER_ERROR,
  RC_STAT,
  RC_STORED,
  RC_TOUCHED,
  RC_VA,
  RC_VERSION,
  type ResponseSink,
} from "./meta-parser.js";

/**
 * The requests of one connection, node-redis style: bytes waiting to be written live in the `CommandWriter`, and
 * every request (written or not) sits in one FIFO in request order. Requests with `seq <= writtenSeq` have been
 * handed to the socket and wait for a reply; the rest are still in the writer (connect in progress, or the socket
 * asked us to wait for `drain`).
 *
 * ```
 *   FIFO:  [ r1  r2  r3 | r4  r5 ]      writer: [ bytes of r4 r5 ]
 *           waiting for   to write
 *           a reply  ^writtenSeq
 * ```
 *
 * A request that settles early (aborted, or its own shorter timeout) stays in the FIFO as a "zombie" when it was
 * already written: its reply still arrives and must be consumed to keep the stream in step. One not yet written is
 * cut out of the FIFO and out of the writer, so it never reaches the server.
 */

export const KIND_GET = 1;
export const KIND_SET = 2;
export const KIND_DELETE = 3;
export const KIND_ARITH = 4;
export const KIND_TOUCH = 5;
export const KIND_NOOP = 6;
export const KIND_VERSION = 7;
export const KIND_STATS = 8;
export const KIND_FLUSH = 9;
export const KIND_AUTH = 10;

const KIND_NAMES = [
  "",
  "get",
  "set",
  "delete",
  "arithmetic",
  "touch",
  "noop",
  "version",
  "stats",
  "flush",
  "auth",
];

const EMPTY = Buffer.alloc(0);

export class PendingRequest {
  kind: number;
  /** `WANT_*` bits for a get. */
  want: number;
  seq = 0;
  deadline: number;
  timeout: number;
  /** Position of this request's bytes in the writer's pending region (meaningful until written). */
  offset = 0;
  length = 0;
  settled = false;
  /** Its timeout differs from the connection default, so FIFO order is not deadline order. */
  irregular: boolean;
  resolve: (value: unknown) => void = noop;
  reject: (error: Error) => void = noop;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  /** `STAT` lines collected so far. */
  stats: Record<string, string> | null = null;

  constructor(kind: number, want: number, deadline: number, timeout: number, irregular: boolean) {
    this.kind = kind;
    this.want = want;
    this.deadline = deadline;
    this.timeout = timeout;
    this.irregular = irregular;
  }
}

function noop(): void {}

/** A power-of-two ring buffer: O(1) push/shift without `Array#shift`'s copying. */
export class Fifo<T> {
  #items: Array<T | undefined>;
  #head = 0;
  #size = 0;
  #mask: number;

  constructor(capacity = 64) {
    this.#items = new Array<T | undefined>(capacity);
    this.#mask = capacity - 1;
  }

  get length(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) & this.#mask] = item;
    this.#size++;
  }

  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#size--;
    return item;
  }

  at(index: number): T | undefined {
    return index < 0 || index >= this.#size ? undefined : this.#items[(this.#head + index) & this.#mask];
  }

  /** O(n): only for cancellations. */
  removeAt(index: number): void {
    const items = this.#items;
    const mask = this.#mask;
    for (let i = index; i < this.#size - 1; i++) {
      items[(this.#head + i) & mask] = items[(this.#head + i + 1) & mask];
    }
    items[(this.#head + this.#size - 1) & mask] = undefined;
    this.#size--;
  }

  #grow(): void {
    const old = this.#items;
    const items = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#size; i++) items[i] = old[(this.#head + i) & this.#mask];
    this.#items = items;
    this.#head = 0;
    this.#mask = items.length - 1;
  }
}

/** Shared between a transport and its connections: the bounded per-server queue. */
export interface QueueCounter {
  pending: number;
}

export interface QueueHost {
  readonly address: string;
  /** The stream can no longer be trusted (or auth failed): reset the connection; every other request fails. */
  onFatal(cause: McpairError, othersError?: McpairError): void;
  /** A reply arrived: the connection works. */
  onHealthy(): void;
}

export class CommandsQueue implements ResponseSink {
  readonly writer = new CommandWriter();
  readonly #fifo = new Fifo<PendingRequest>();
  readonly #counter: QueueCounter;
  readonly #host: QueueHost;
  #nextSeq = 1;
  #writtenSeq = 0;
  #irregular = 0;
  #emptyWaiters: Array<() => void> = [];

  constructor(host: QueueHost, counter: QueueCounter) {
    this.#host = host;
    this.#counter = counter;
  }

  get length(): number {
    return this.#fifo.length;
  }

  /** Requests not yet handed to the socket. */
  get unwritten(): number {
    return this.#nextSeq - 1 - this.#writtenSeq;
  }

  /** Queues a request whose bytes were just encoded (`offset`/`length` within the writer's pending region). */
  push(req: PendingRequest, offset: number): void {
    req.seq = this.#nextSeq++;
    req.offset = offset;
    req.length = this.writer.size - offset;
    if (req.irregular) this.#irregular++;
    this.#fifo.push(req);
    this.#counter.pending++;
  }

  /** Everything queued so far was handed to the socket. */
  markWritten(): void {
    this.#writtenSeq = this.#nextSeq - 1;
  }

  /** Resolves once no request is pending. */
  whenEmpty(): Promise<void> {
    if (this.#fifo.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#emptyWaiters.push(resolve));
  }

  #removed(req: PendingRequest): void {
    this.#counter.pending--;
    if (req.irregular) this.#irregular--;
    if (this.#fifo.length === 0 && this.#emptyWaiters.length > 0) {
      const waiters = this.#emptyWaiters;
      this.#emptyWaiters = [];
      for (const w of waiters) w();
    }
  }

  #settle(req: PendingRequest): void {
    req.settled = true;
    if (req.onAbort !== undefined) {
      req.signal?.removeEventListener("abort", req.onAbort);
      req.onAbort = undefined;
    }
  }

  #resolve(req: PendingRequest, value: unknown): void {
    if (req.settled) return;
    this.#settle(req);
    req.resolve(value);
  }

  #reject(req: PendingRequest, error: Error): void {
    if (req.settled) return;
    this.#settle(req);
    req.reject(error);
  }

  /** Rejects every request (connection lost or closed) and drops unwritten bytes. */
  rejectAll(error: Error): void {
    const fifo = this.#fifo;
    let req = fifo.shift();
    while (req !== undefined) {
      this.#reject(req, error);
      this.#removed(req);
      req = fifo.shift();
    }
    this.writer.reset();
    this.#writtenSeq = this.#nextSeq - 1;
    this.#irregular = 0;
  }

  /** The caller's signal fired. */
  abort(req: PendingRequest): void {
    if (req.settled) return;
    if (req.seq > this.#writtenSeq) this.#cancelUnwritten(req, new AbortError());
    else this.#reject(req, new AbortError()); // written: the reply slot stays, as a zombie
  }

  #cancelUnwritten(req: PendingRequest, error: Error): void {
    const fifo = this.#fifo;
    let index = -1;
    for (let i = fifo.length - 1; i >= 0; i--) {
      if (fifo.at(i) === req) {
        index = i;
        break;
      }
    }
    if (index < 0) return;
    fifo.removeAt(index);
    this.writer.remove(req.offset, req.length);
    for (let i = index; i < fifo.length; i++) {
      const later = fifo.at(i)!;
      later.offset -= req.length;
    }
    this.#reject(req, error);
    this.#removed(req);
  }

  #timeoutError(req: PendingRequest): TimeoutError {
    return new TimeoutError(
      `${KIND_NAMES[req.kind]} on ${this.#host.address} got no answer within ${req.timeout} ms`,
      { server: this.#host.address },
    );
  }

  /**
   * Deadline check, called by the timer wheel. Returns the oldest written request when it is overdue: replies come
   * in order, so nothing behind it can be answered first and the connection must be reset (`expire`). Overdue
   * requests elsewhere in the FIFO (shorter custom timeouts, or still unwritten while connecting) settle here.
   */
  overdueHead(now: number): PendingRequest | null {
    const head = this.#fifo.peek();
    if (head === undefined) return null;
    if (this.#irregular > 0 || head.deadline <= now) this.#scan(now);
    const first = this.#fifo.peek();
    return first !== undefined && first.deadline <= now && first.seq <= this.#writtenSeq ? first : null;
  }

  /** Rejects the overdue head with `TimeoutError` (unless it already settled) and returns that error. */
  expire(head: PendingRequest): TimeoutError {
    const error = this.#timeoutError(head);
    this.#reject(head, error);
    return error;
  }

  /** Settles every overdue request but a written head (custom timeouts, or unwritten while connecting). */
  #scan(now: number): void {
    const fifo = this.#fifo;
    for (let i = fifo.length - 1; i >= 0; i--) {
      const req = fifo.at(i)!;
      if (req.settled || req.deadline > now || req.kind === KIND_AUTH) continue;
      // A written head is the caller's: overdue, it resets the connection (after a grace tick).
      if (i === 0 && req.seq <= this.#writtenSeq) continue;
      if (req.seq > this.#writtenSeq) this.#cancelUnwritten(req, this.#timeoutError(req));
      else this.#reject(req, this.#timeoutError(req));
    }
  }

  // ---- replies ------------------------------------------------------------------------------------------------

  onProtocolError(error: ProtocolError): void {
    const err = new ProtocolError(`${error.message} (from ${this.#host.address})`, {
      server: this.#host.address,
    });
    const head = this.#fifo.peek();
    if (head !== undefined && head.seq <= this.#writtenSeq) this.#reject(head, err);
    this.#host.onFatal(err);
  }

  #unexpected(req: PendingRequest | undefined, r: MetaResponse): void {
    const what = req === undefined ? "no request" : KIND_NAMES[req.kind];
    const got = r.code === RC_LINE ? JSON.stringify(r.text.slice(0, 80)) : codeName(r.code);
    const err = new ProtocolError(`unexpected ${got} from ${this.#host.address} in reply to ${what}`, {
      server: this.#host.address,
    });
    if (req !== undefined) this.#reject(req, err);
    this.#host.onFatal(err);
  }

  onResponse(r: MetaResponse): void {
    const fifo = this.#fifo;
    const req = fifo.peek();
    if (req === undefined || req.seq > this.#writtenSeq) {
      this.#unexpected(undefined, r);
      return;
    }
    const code = r.code;
    if (req.kind === KIND_STATS && code === RC_STAT) {
      const sp = r.text.indexOf(" ");
      const stats = req.stats ?? Object.create(null);
      req.stats = stats;
      if (sp < 0) stats[r.text] = "";
      else stats[r.text.slice(0, sp)] = r.text.slice(sp + 1);
      return;
    }
    fifo.shift();
    this.#removed(req);
    if (code >= RC_ERROR && code <= RC_SERVER_ERROR) {
      this.#serverError(req, r);
      return;
    }
    switch (req.kind) {
      case KIND_GET:
        if (code === RC_EN) this.#resolve(req, null);
        else if (code === ((req.want & WANT_VALUE) !== 0 ? RC_VA : RC_HD)) {
          const item: TransportItem = {
            value: r.value ?? EMPTY,
            flags: r.clientFlags,
            cas: (req.want & WANT_CAS) !== 0 && r.hasCas ? r.casValue() : 0n,
            ttl: (req.want & WANT_TTL) !== 0 && r.hasTtl ? r.ttl : undefined,
            stale: r.stale,
            win: r.win,
            lost: r.lost,
          };
          this.#resolve(req, item);
        } else {
          this.#unexpected(req, r);
          return;
        }
        break;
      case KIND_SET: {
        let result: StoreResult;
        if (code === RC_HD) result = "stored";
        else if (code === RC_NS) result = "not_stored";
        else if (code === RC_EX) result = "exists";
        else if (code === RC_NF) result = "not_found";
        else {
          this.#unexpected(req, r);
          return;
        }
        this.#resolve(req, result);
        break;
      }
      case KIND_DELETE:
        if (code === RC_HD) this.#resolve(req, "deleted");
        else if (code === RC_NF) this.#resolve(req, "not_found");
        else if (code === RC_EX) this.#resolve(req, "exists");
        else {
          this.#unexpected(req, r);
          return;
        }
        break;
      case KIND_ARITH:
        if (code === RC_VA) {
          const value = parseCounter(r.value ?? EMPTY);
          if (value === null) {
            this.#unexpected(req, r);
            return;
          }
          this.#resolve(req, { value, cas: r.hasCas ? r.casValue() : 0n });
        } else if (code === RC_NF) this.#resolve(req, null);
        else if (code === RC_NS) {
          this.#reject(
            req,
            new ServerError(`arithmetic on ${this.#host.address}: the counter could not be created (NS)`, {
              server: this.#host.address,
            }),
          );
        } else {
          this.#unexpected(req, r);
          return;
        }
        break;
      case KIND_TOUCH:
        if (code === RC_TOUCHED) this.#resolve(req, true);
        else if (code === RC_NOT_FOUND) this.#resolve(req, false);
        else {
          this.#unexpected(req, r);
          return;
        }
        break;
      case KIND_NOOP:
        if (code !== RC_MN) {
          this.#unexpected(req, r);
          return;
        }
        this.#resolve(req, undefined);
        break;
      case KIND_VERSION:
        if (code !== RC_VERSION) {
          this.#unexpected(req, r);
          return;
        }
        this.#resolve(req, r.text);
        break;
      case KIND_STATS: {
        if (code !== RC_END) {
          this.#unexpected(req, r);
          return;
        }
        const raw: Record<string, string> = req.stats ?? Object.create(null);
        const stats: TransportStats = {
          pid: Number(raw.pid ?? Number.NaN),
          uptime: Number(raw.uptime ?? Number.NaN),
          time: Number(raw.time ?? Number.NaN),
          currItems: Number(raw.curr_items ?? Number.NaN),
          raw,
        };
        this.#resolve(req, stats);
        break;
      }
      case KIND_FLUSH:
        if (code !== RC_OK) {
          this.#unexpected(req, r);
          return;
        }
        this.#resolve(req, undefined);
        break;
      case KIND_AUTH:
        if (code !== RC_STORED) {
          this.#unexpected(req, r);
          return;
        }
        this.#resolve(req, undefined);
        break;
    }
    this.#host.onHealthy();
  }

  #serverError(req: PendingRequest, r: MetaResponse): void {
    const address = this.#host.address;
    if (req.kind === KIND_AUTH) {
      // memcached answers a failed login with CLIENT_ERROR and closes the connection.
      const err = new ServerUnavailableError(
        `authentication to ${address} failed: ${r.text || codeName(r.code)}`,
        {
          server: address,
        },
      );
      this.#reject(req, err);
      this.#host.onFatal(err, err);
      return;
    }
    const line = r.text === "" ? codeName(r.code) : `${codeName(r.code)} ${r.text}`;
    const err = new ServerError(`${KIND_NAMES[req.kind]} on ${address}: ${line}`, { server: address });
    this.#reject(req, err);
    // A CLIENT_ERROR or ERROR to a store can mean the server did not frame our data block as data ("bad data
    // chunk" is followed by a stray ERROR): what comes next can no longer be matched, so start over.
    if (req.kind === KIND_SET && r.code !== RC_SERVER_ERROR) {
      this.#host.onFatal(new ProtocolError(`stream out of step after ${line}`, { server: address }));
      return;
    }
    this.#host.onHealthy();
  }
}

/** The decimal counter `ma ... v` returns (memcached may pad it with spaces). */
function parseCounter(buf: Buffer): bigint | null {
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0x20) end--;
  if (end === 0 || end > 20) return null;
  let n = 0;
  for (let i = 0; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  if (end <= 15) return BigInt(n);
  const big = BigInt(buf.toString("latin1", 0, end));
  return big > 0xffffffffffffffffn ? null : big;
}
