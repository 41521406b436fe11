import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { HarnessError } from "./harness-error.js";

/**
 * Where a {@link RawClient} connects. A `MemcachedServer`, `FaultProxy` or `RogueServer` can be passed as is:
 * `socketPath` wins over host/port, `tlsCa` switches to TLS, `auth` makes the client authenticate first.
 */
export interface RawTarget {
  /** @default "127.0.0.1" */
  host?: string;
  port?: number;
  socketPath?: string | undefined;
  /** PEM of the CA to trust; when set the connection uses TLS. */
  tlsCa?: string | undefined;
  /** ASCII-protocol credentials (memcached `-Y`). */
  auth?: { username: string; password: string } | undefined;
}

/** Options of {@link connectRaw}. */
export interface RawConnectOptions {
  /** Milliseconds allowed to connect (and authenticate). @default 2000 */
  timeout?: number;
  /** Send the ASCII auth handshake when the target has `auth`. @default true */
  authenticate?: boolean;
}

/** What `readUntil` waits for: a substring, a pattern, or a predicate over everything received so far. */
export type ReadCondition = string | RegExp | ((received: string) => boolean);

function matches(condition: ReadCondition, text: string): boolean {
  if (typeof condition === "string") return text.includes(condition);
  if (condition instanceof RegExp) return condition.test(text);
  return condition(text);
}

/**
 * A bare socket for talking the memcached text protocol in tests, independent of the client under test. It records
 * every chunk as it arrived, so tests can see how the bytes were split, and never throws on socket errors: they are
 * recorded in `error` and end the connection.
 */
export class RawClient {
  readonly #socket: Socket;
  readonly #chunks: Buffer[] = [];
  #offset = 0;
  #error: Error | undefined;
  #closed = false;
  #waiters = new Set<() => void>();
  /** Resolves when the socket has closed, for any reason. */
  readonly closed: Promise<void>;

  /** @internal use {@link connectRaw} */
  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#notify();
    });
    socket.on("error", (err) => {
      this.#error = err;
      this.#notify();
    });
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.#closed = true;
        this.#notify();
        resolve();
      });
    });
  }

  #notify(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** Every chunk received since the connection opened, as the socket delivered them. */
  get chunks(): readonly Buffer[] {
    return this.#chunks;
  }

  /** Everything received since the last {@link clear} (UTF-8). */
  get received(): string {
    return this.receivedBuffer.toString("utf8");
  }

  /** Everything received since the last {@link clear}. */
  get receivedBuffer(): Buffer {
    return Buffer.concat(this.#chunks).subarray(this.#offset);
  }

  /** The socket error, if one happened (e.g. `ECONNRESET`). */
  get error(): (Error & { code?: string }) | undefined {
    return this.#error;
  }

  /** True once the socket has closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Forgets what was received so far (for `received` and `readUntil`). */
  clear(): void {
    this.#offset = Buffer.concat(this.#chunks).length;
  }

  send(data: string | Buffer): void {
    this.#socket.write(data);
  }

  /**
   * Resolves with everything received (since the last `clear`) once it satisfies `condition`.
   *
   * @throws {HarnessError} when the time runs out or the connection closes first; the message shows what arrived.
   */
  readUntil(condition: ReadCondition, timeout = 2000): Promise<string> {
    return new Promise((resolve, reject) => {
      const finish = (err?: HarnessError): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (err) reject(err);
        else resolve(this.received);
      };
      const fail = (why: string): void =>
        finish(
          new HarnessError(`${why}; received so far: ${JSON.stringify(this.received)}`, {
            code: "ERR_MCPAIR_TEST_RAW_READ",
            cause: this.#error,
          }),
        );
      const check = (): void => {
        if (matches(condition, this.received)) finish();
        else if (this.#closed)
          fail(
            `connection closed${this.#error ? ` (${this.#error.message})` : ""} before ${String(condition)}`,
          );
      };
      const timer = setTimeout(() => fail(`no ${String(condition)} within ${timeout} ms`), timeout);
      this.#waiters.add(check);
      check();
    });
  }

  /** Clears what was received, sends `data` and waits for `until` (by default a first complete line). */
  request(data: string | Buffer, until: ReadCondition = "\r\n", timeout = 2000): Promise<string> {
    this.clear();
    this.send(data);
    return this.readUntil(until, timeout);
  }

  /**
   * Resolves after `ms` milliseconds if nothing arrived and the connection stayed open in that time; rejects as
   * soon as a byte arrives or the connection closes. This is the condition "no answer within `ms`", not a sleep.
   */
  expectSilence(ms: number): Promise<void> {
    const before = Buffer.concat(this.#chunks).length;
    return new Promise((resolve, reject) => {
      const finish = (err?: HarnessError): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        const all = Buffer.concat(this.#chunks);
        if (all.length > before)
          finish(
            new HarnessError(
              `expected silence for ${ms} ms, got ${JSON.stringify(all.subarray(before).toString())}`,
              {
                code: "ERR_MCPAIR_TEST_RAW_READ",
              },
            ),
          );
        else if (this.#closed)
          finish(
            new HarnessError(`expected silence for ${ms} ms, but the connection closed`, {
              code: "ERR_MCPAIR_TEST_RAW_READ",
            }),
          );
      };
      const timer = setTimeout(() => finish(), ms);
      this.#waiters.add(check);
      check();
    });
  }

  /** Half-closes (FIN) the connection. */
  end(): void {
    this.#socket.end();
  }

  /** Destroys the connection and waits until it has closed. */
  close(): Promise<void> {
    this.#socket.destroy();
    return this.closed;
  }
}

/**
 * Opens a {@link RawClient} to `target` (TCP, Unix socket or TLS), authenticating first when the target has `auth`.
 *
 * @throws the socket error (e.g. `ECONNREFUSED`) when the connection fails, or a `HarnessError` on timeout.
 */
export function connectRaw(target: RawTarget, options: RawConnectOptions = {}): Promise<RawClient> {
  const timeout = options.timeout ?? 2000;
  const host = target.host ?? "127.0.0.1";
  return new Promise<RawClient>((resolve, reject) => {
    let socket: Socket;
    const connected = (): void => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve(new RawClient(socket));
    };
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    if (target.tlsCa !== undefined) {
      const tlsOptions = { ca: target.tlsCa };
      socket =
        target.socketPath !== undefined
          ? tlsConnect({ ...tlsOptions, path: target.socketPath, servername: "localhost" }, connected)
          : tlsConnect({ ...tlsOptions, host, port: target.port ?? 0 }, connected);
    } else {
      socket =
        target.socketPath !== undefined
          ? netConnect({ path: target.socketPath }, connected)
          : netConnect({ host, port: target.port ?? 0 }, connected);
    }
    socket.once("error", onError);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new HarnessError(`could not connect to ${describeTarget(target)} within ${timeout} ms`, {
          code: "ERR_MCPAIR_TEST_RAW_CONNECT",
        }),
      );
    }, timeout);
  }).then(async (client) => {
    if (target.auth !== undefined && options.authenticate !== false) {
      try {
        const answer = await client.request(authRequest(target.auth), "\r\n", timeout);
        if (answer !== "STORED\r\n")
          throw new HarnessError(
            `authentication as ${target.auth.username} failed: ${JSON.stringify(answer)}`,
            {
              code: "ERR_MCPAIR_TEST_AUTH",
            },
          );
        client.clear();
      } catch (err) {
        await client.close();
        throw err;
      }
    }
    return client;
  });
}

/**
 * The ASCII-protocol authentication request memcached (`-Y`) expects as the first command: a `set` of any key whose
 * value is `<username> <password>`. It answers `STORED` on success, `CLIENT_ERROR authentication failure` otherwise.
 */
export function authRequest(auth: { username: string; password: string }): string {
  const token = `${auth.username} ${auth.password}`;
  return `set mcpair-auth 0 0 ${Buffer.byteLength(token)}\r\n${token}\r\n`;
}

export function describeTarget(target: RawTarget): string {
  return target.socketPath ?? `${target.host ?? "127.0.0.1"}:${target.port ?? 0}`;
}
