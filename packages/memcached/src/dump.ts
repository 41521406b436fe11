import type * as net from "node:net";
import {
  AbortError,
  ClientClosedError,
  type DumpEntry,
  type McpairError,
  ProtocolError,
  ServerError,
  ServerUnavailableError,
  TimeoutError,
} from "@mcpair/core";
import { CMD_METADUMP } from "./command-writer.js";
import { openSocket } from "./connection.js";
import { DUMP_BUSY_RETRY, DUMP_HIGH_WATER } from "./defaults.js";
import {
  MetaParser,
  type MetaResponse,
  RC_CLIENT_ERROR,
  RC_END,
  RC_ERROR,
  RC_LINE,
  RC_SERVER_ERROR,
  RC_STORED,
  type ResponseSink,
} from "./meta-parser.js";
import type { ResolvedOptions } from "./options.js";
import { type Tickable, timerWheel } from "./timer-wheel.js";

/**
 * `lru_crawler metadump all` on a dedicated, short-lived connection.
 *
 * Why not the shared connections: once the crawler starts streaming, the server writes dump lines on that
 * connection until `END`, so nothing else may be pipelined behind the command; and a slow consumer would stall
 * every cache request queued behind it.
 *
 * Flow control: entries are buffered up to `DUMP_HIGH_WATER`, then the socket is paused until the consumer catches
 * up. `timeout` is an idle timeout (no byte from the server for that long while we wait), not a limit on the whole
 * dump, which may legitimately take long. `BUSY` (another crawl is running) is retried until `timeout` elapses.
 */
export class DumpSession implements ResponseSink, Tickable {
  readonly #options: ResolvedOptions;
  readonly #timeout: number;
  readonly #signal: AbortSignal | undefined;
  #socket: net.Socket | null = null;
  #parser: MetaParser | null = null;
  #entries: DumpEntry[] = [];
  #read = 0;
  #done = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #authPending = false;
  #connected = false;
  #paused = false;
  #lastActivity = 0;
  #connectDeadline = 0;
  #busySince = 0;
  #busyTimer: NodeJS.Timeout | null = null;
  readonly #onAbort = (): void => this.#fail(new AbortError());

  constructor(options: ResolvedOptions, timeout: number, signal: AbortSignal | undefined) {
    this.#options = options;
    this.#timeout = timeout;
    this.#signal = signal;
  }

  start(): void {
    const o = this.#options;
    if (this.#signal !== undefined) {
      if (this.#signal.aborted) {
        this.#fail(new AbortError());
        return;
      }
      this.#signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    const now = Date.now();
    this.#connectDeadline = now + o.connectTimeout;
    this.#lastActivity = now;
    let socket: net.Socket;
    try {
      socket = openSocket(o);
    } catch (err) {
      this.#fail(
        new ServerUnavailableError(`cannot connect to ${o.address}: ${String(err)}`, { cause: err }),
      );
      return;
    }
    this.#socket = socket;
    // The dump lines carry no values; the limit only bounds a corrupt stream.
    const parser = new MetaParser(this, { maxValueSize: 0 });
    this.#parser = parser;
    socket.on(o.tls !== undefined ? "secureConnect" : "connect", () => {
      this.#connected = true;
      this.#lastActivity = Date.now();
      if (o.auth !== undefined) {
        this.#authPending = true;
        const payload = Buffer.from(`${o.auth.username} ${o.auth.password}`);
        socket.write(`set ${o.auth.username} 0 0 ${payload.length}\r\n`);
        socket.write(Buffer.concat([payload, Buffer.from("\r\n")]));
      }
      socket.write(CMD_METADUMP);
    });
    socket.on("data", (chunk: Buffer) => {
      this.#lastActivity = Date.now();
      parser.feed(chunk);
    });
    socket.on("error", (err: Error) => {
      const address = o.address;
      this.#fail(
        this.#connected
          ? new ServerUnavailableError(`dump from ${address} failed: ${err.message}`, {
              server: address,
              cause: err,
            })
          : new ServerUnavailableError(`cannot connect to ${address}: ${err.message}`, {
              server: address,
              cause: err,
            }),
      );
    });
    socket.on("close", () => {
      if (!this.#done)
        this.#fail(new ServerUnavailableError(`the server ${o.address} closed the dump connection`));
    });
    timerWheel.add(this);
  }

  /** The next buffered entry, `undefined` when none is buffered. Throws the session's error once it failed. */
  take(): DumpEntry | undefined {
    if (this.#error !== null) throw this.#error;
    if (this.#read < this.#entries.length) {
      const entry = this.#entries[this.#read++]!;
      if (this.#read === this.#entries.length) {
        this.#entries = [];
        this.#read = 0;
        if (this.#paused && this.#socket !== null) {
          this.#paused = false;
          this.#lastActivity = Date.now();
          this.#socket.resume();
        }
      }
      return entry;
    }
    return undefined;
  }

  get done(): boolean {
    return this.#done && this.#read >= this.#entries.length;
  }

  /** Resolves when entries, the end or an error arrive. */
  wait(): Promise<void> {
    if (this.#error !== null || this.#done || this.#read < this.#entries.length) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  #notify(): void {
    const wake = this.#wake;
    if (wake !== null) {
      this.#wake = null;
      wake();
    }
  }

  tick(now: number): void {
    if (this.#done || this.#error !== null || this.#paused) return;
    const address = this.#options.address;
    if (!this.#connected) {
      if (now >= this.#connectDeadline) {
        this.#fail(
          new ServerUnavailableError(
            `cannot connect to ${address}: connect timed out after ${this.#options.connectTimeout} ms`,
            { server: address },
          ),
        );
      }
      return;
    }
    if (this.#busySince !== 0 && now - this.#busySince >= this.#timeout) {
      this.#fail(new ServerError(`dump on ${address}: the LRU crawler stayed busy for ${this.#timeout} ms`));
    } else if (this.#busyTimer === null && now - this.#lastActivity >= this.#timeout) {
      this.#fail(
        new TimeoutError(`dump from ${address}: no data for ${this.#timeout} ms`, { server: address }),
      );
    }
  }

  onProtocolError(error: ProtocolError): void {
    this.#fail(new ProtocolError(`${error.message} (dump from ${this.#options.address})`));
  }

  onResponse(r: MetaResponse): void {
    const address = this.#options.address;
    if (this.#authPending) {
      if (r.code === RC_STORED) {
        this.#authPending = false;
        return;
      }
      this.#fail(
        new ServerUnavailableError(`authentication to ${address} failed: ${r.text}`, { server: address }),
      );
      return;
    }
    if (r.code === RC_LINE) {
      const text = r.text;
      if (text.startsWith("key=")) {
        const entry = parseDumpLine(text);
        if (entry === null) {
          this.#fail(
            new ProtocolError(
              `malformed metadump line from ${address}: ${JSON.stringify(text.slice(0, 80))}`,
            ),
          );
          return;
        }
        this.#busySince = 0;
        this.#entries.push(entry);
        if (this.#entries.length - this.#read >= DUMP_HIGH_WATER && !this.#paused) {
          this.#paused = true;
          this.#socket?.pause();
        }
        this.#notify();
        return;
      }
      if (text.startsWith("BUSY")) {
        if (this.#busySince === 0) this.#busySince = Date.now();
        this.#busyTimer = setTimeout(() => {
          this.#busyTimer = null;
          this.#lastActivity = Date.now();
          this.#socket?.write(CMD_METADUMP);
        }, DUMP_BUSY_RETRY);
        this.#busyTimer.unref();
        return;
      }
    } else if (r.code === RC_END) {
      this.#done = true;
      this.#closeSocket();
      this.#notify();
      return;
    } else if (r.code === RC_ERROR || r.code === RC_CLIENT_ERROR || r.code === RC_SERVER_ERROR) {
      this.#fail(new ServerError(`dump on ${address}: ${r.text || "ERROR"}`, { server: address }));
      return;
    }
    this.#fail(
      new ProtocolError(`unexpected reply to lru_crawler metadump from ${address}`, { server: address }),
    );
  }

  #fail(error: McpairError): void {
    if (this.#error !== null || this.#done) return;
    this.#error = error;
    this.#closeSocket();
    this.#notify();
  }

  #closeSocket(): void {
    this.#parser?.close();
    this.#parser = null;
    this.#socket?.destroy();
    this.#socket = null;
    if (this.#busyTimer !== null) {
      clearTimeout(this.#busyTimer);
      this.#busyTimer = null;
    }
    this.#signal?.removeEventListener("abort", this.#onAbort);
    timerWheel.delete(this);
  }

  /** Ends the session (consumer stopped early, or the transport closes). */
  destroy(error?: McpairError): void {
    if (error !== undefined) this.#fail(error);
    else if (!this.#done && this.#error === null) {
      this.#error = new ClientClosedError("the dump was ended");
      this.#closeSocket();
      this.#notify();
    } else this.#closeSocket();
  }
}

/** `key=<urlencoded> exp=<unix|-1> la=.. cas=.. fetch=.. cls=.. size=..` */
export function parseDumpLine(line: string): DumpEntry | null {
  let key: string | null = null;
  let exp = Number.NaN;
  let size = Number.NaN;
  for (const field of line.split(" ")) {
    const eq = field.indexOf("=");
    if (eq < 0) continue;
    const name = field.slice(0, eq);
    const value = field.slice(eq + 1);
    if (name === "key") key = decodeKey(value);
    else if (name === "exp") exp = Number(value);
    else if (name === "size") size = Number(value);
  }
  if (key === null || !Number.isInteger(exp)) return null;
  return { key, exp: exp < 0 ? -1 : exp, size: Number.isInteger(size) ? size : 0 };
}

/** memcached %-encodes key bytes outside [A-Za-z0-9-._~]; decode to bytes, then UTF-8. */
function decodeKey(encoded: string): string | null {
  if (!encoded.includes("%")) return encoded;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charCodeAt(i);
    if (c === 0x25) {
      const hex = encoded.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else bytes.push(c);
  }
  return Buffer.from(bytes).toString("utf8");
}
