import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { InvalidArgumentError } from "@mcpair/core";
import {
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_CONNECTIONS,
  DEFAULT_HOST,
  DEFAULT_KEEP_ALIVE,
  DEFAULT_MAX_QUEUE,
  DEFAULT_MAX_VALUE_SIZE,
  DEFAULT_NO_DELAY,
  DEFAULT_PORT,
  DEFAULT_TIMEOUT,
  defaultReconnectStrategy,
  MAX_CONNECTIONS,
  MAX_KEY_BYTES,
  MAX_QUEUE_LIMIT,
  MAX_TIMEOUT,
  MAX_VALUE_SIZE_LIMIT,
} from "./defaults.js";

/**
 * What to do after a connection attempt failed (or a connection died without ever answering). A connection that
 * worked and then broke is reopened at once, without asking.
 *
 * - a number: wait that many milliseconds, then retry.
 * - a function of the number of consecutive failed attempts so far (0 for the first) and the failure: return a
 *   delay in milliseconds, or `false` / an `Error` to stop retrying. Requests waiting on the failed attempt reject
 *   with `ServerUnavailableError`, whose `cause` is the returned `Error`.
 * - `false`: never retry in the background.
 *
 * While a retry is pending, requests fail at once with `ServerUnavailableError` instead of queueing. Once retrying
 * stopped, the next request starts a new attempt (and the count starts again from 0).
 */
export type ReconnectStrategy = false | number | ((retries: number, cause: Error) => number | false | Error);

/** ASCII authentication (memcached started with `-Y <file>`). */
export interface SocketTransportAuth {
  username: string;
  password: string;
}

export interface SocketTransportOptions {
  /** Server host name or IP address. Ignored when `path` is set. @default "127.0.0.1" */
  host?: string | undefined;
  /** Server TCP port. Ignored when `path` is set. @default 11211 */
  port?: number | undefined;
  /** Unix domain socket path (memcached `-s`). When set, `host` and `port` are ignored. */
  path?: string | undefined;
  /**
   * TLS (memcached `-Z`): `true` for the system CAs, or `tls.connect` options (`ca`, `cert`, `key`, `servername`,
   * `rejectUnauthorized`, ...). @default false
   */
  tls?: boolean | TlsConnectionOptions | undefined;
  /** Credentials for memcached's ASCII authentication (`-Y`), sent first on every connection. */
  auth?: SocketTransportAuth | undefined;
  /** Connections to the server; each request goes to the one with the fewest pending requests. 1..64. @default 1 */
  connections?: number | undefined;
  /** Milliseconds allowed for TCP connect (and the TLS handshake). @default 1000 */
  connectTimeout?: number | undefined;
  /** Default per-request timeout in milliseconds (a request can override it). @default 1000 */
  timeout?: number | undefined;
  /** TCP keep-alive probes on idle connections. @default true */
  keepAlive?: boolean | undefined;
  /** Disable Nagle's algorithm (the transport already coalesces writes). @default true */
  noDelay?: boolean | undefined;
  /** See `ReconnectStrategy`. @default capped exponential backoff with jitter, 50 ms to 2 s */
  reconnectStrategy?: ReconnectStrategy | undefined;
  /**
   * Requests pending on this server (written and not yet answered, or waiting to be written) beyond which new
   * requests reject at once with `QueueFullError`. @default 10000
   */
  maxQueue?: number | undefined;
  /**
   * Largest value in bytes the server stores (its `-I`); larger values reject with `ValueTooLargeError` before
   * anything is sent, and a response announcing a much larger value is treated as a corrupt stream.
   * @default 1048576
   */
  maxValueSize?: number | undefined;
}

/** Options after defaults and validation; frozen. */
export interface ResolvedOptions {
  readonly host: string;
  readonly port: number;
  readonly path: string | undefined;
  readonly tls: TlsConnectionOptions | undefined;
  readonly auth: SocketTransportAuth | undefined;
  readonly connections: number;
  readonly connectTimeout: number;
  readonly timeout: number;
  readonly keepAlive: boolean;
  readonly noDelay: boolean;
  readonly reconnectStrategy: ReconnectStrategy;
  readonly maxQueue: number;
  readonly maxValueSize: number;
  /** `host:port` or the socket path. */
  readonly address: string;
}

function fail(option: string, expected: string, got: unknown): never {
  let shown: string;
  if (typeof got === "string") shown = JSON.stringify(got.length > 64 ? `${got.slice(0, 64)}…` : got);
  else if (typeof got === "function") shown = "a function";
  else if (typeof got === "object" && got !== null) shown = "an object";
  else shown = String(got);
  throw new InvalidArgumentError(`options.${option} must be ${expected}; got ${shown}`);
}

function intInRange(option: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    fail(option, `an integer between ${min} and ${max}`, value);
  }
  return value;
}

function bool(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") fail(option, "a boolean", value);
  return value;
}

/** Applies defaults and validates every option eagerly, so a bad configuration fails at construction. */
export function resolveOptions(options: SocketTransportOptions | undefined): ResolvedOptions {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new InvalidArgumentError("options must be an object");
  }
  const o = options ?? {};

  let path: string | undefined;
  if (o.path !== undefined) {
    if (typeof o.path !== "string" || o.path.length === 0) fail("path", "a non-empty string", o.path);
    path = o.path;
  }
  let host = DEFAULT_HOST;
  if (o.host !== undefined) {
    if (typeof o.host !== "string" || o.host.length === 0 || /\s/.test(o.host)) {
      fail("host", "a non-empty host name or IP address", o.host);
    }
    host = o.host;
  }
  const port = intInRange("port", o.port, DEFAULT_PORT, 1, 65535);

  let tls: TlsConnectionOptions | undefined;
  if (o.tls === true) tls = {};
  else if (o.tls === false || o.tls === undefined) tls = undefined;
  else if (typeof o.tls === "object" && o.tls !== null) tls = { ...o.tls };
  else fail("tls", "a boolean or tls.connect options", o.tls);

  let auth: SocketTransportAuth | undefined;
  if (o.auth !== undefined) {
    if (typeof o.auth !== "object" || o.auth === null)
      fail("auth", "an object { username, password }", o.auth);
    const { username, password } = o.auth;
    // The username travels as the key of a `set` line: same rules as a key.
    if (
      typeof username !== "string" ||
      username.length === 0 ||
      Buffer.byteLength(username) > MAX_KEY_BYTES ||
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
      /[\x00-\x20\x7f]/.test(username)
    ) {
      fail("auth.username", `1 to ${MAX_KEY_BYTES} bytes without whitespace or control characters`, username);
    }
    if (typeof password !== "string" || password.length === 0 || /[\r\n]/.test(password)) {
      fail("auth.password", "a non-empty string without line breaks", "(hidden)");
    }
    auth = Object.freeze({ username, password });
  }

  const connections = intInRange("connections", o.connections, DEFAULT_CONNECTIONS, 1, MAX_CONNECTIONS);
  const connectTimeout = intInRange(
    "connectTimeout",
    o.connectTimeout,
    DEFAULT_CONNECT_TIMEOUT,
    1,
    MAX_TIMEOUT,
  );
  const timeout = intInRange("timeout", o.timeout, DEFAULT_TIMEOUT, 1, MAX_TIMEOUT);
  const keepAlive = bool("keepAlive", o.keepAlive, DEFAULT_KEEP_ALIVE);
  const noDelay = bool("noDelay", o.noDelay, DEFAULT_NO_DELAY);

  let reconnectStrategy: ReconnectStrategy = defaultReconnectStrategy;
  const rs = o.reconnectStrategy;
  if (rs !== undefined) {
    if (rs === false || typeof rs === "function") reconnectStrategy = rs;
    else if (typeof rs === "number" && Number.isInteger(rs) && rs >= 0 && rs <= MAX_TIMEOUT)
      reconnectStrategy = rs;
    else {
      fail(
        "reconnectStrategy",
        `false, a delay in ms between 0 and ${MAX_TIMEOUT}, or a function (retries, cause) => number | false | Error`,
        rs,
      );
    }
  }

  const maxQueue = intInRange("maxQueue", o.maxQueue, DEFAULT_MAX_QUEUE, 1, MAX_QUEUE_LIMIT);
  const maxValueSize = intInRange(
    "maxValueSize",
    o.maxValueSize,
    DEFAULT_MAX_VALUE_SIZE,
    1,
    MAX_VALUE_SIZE_LIMIT,
  );

  const address = path ?? (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);
  return Object.freeze({
    host,
    port,
    path,
    tls: tls === undefined ? undefined : Object.freeze(tls),
    auth,
    connections,
    connectTimeout,
    timeout,
    keepAlive,
    noDelay,
    reconnectStrategy,
    maxQueue,
    maxValueSize,
    address,
  });
}

/** Validates a per-request `timeout` override. */
export function requestTimeout(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0) || value > MAX_TIMEOUT) {
    fail("timeout", `a number of milliseconds between 1 and ${MAX_TIMEOUT}`, value);
  }
  return value;
}
