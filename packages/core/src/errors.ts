/**
 * The one error hierarchy of mcpair. Every package throws these (never a bare `Error` for a known condition), each
 * with a stable `code` that callers can switch on, and the underlying `cause` passed through.
 *
 * ```
 * McpairError
 * ├── InvalidArgumentError      bad option or argument          (ERR_MCPAIR_INVALID_ARGUMENT)
 * │   ├── InvalidKeyError        key too long / whitespace / ctl (ERR_MCPAIR_INVALID_KEY)
 * │   ├── InvalidTtlError        NaN, negative, non-finite TTL   (ERR_MCPAIR_INVALID_TTL)
 * │   └── ValueTooLargeError     encoded value over the limit    (ERR_MCPAIR_VALUE_TOO_LARGE)
 * ├── ServerUnavailableError    known down, or connect failed   (ERR_MCPAIR_SERVER_UNAVAILABLE)
 * │   └── ConnectionError        socket reset / closed mid-flight(ERR_MCPAIR_CONNECTION)
 * ├── TimeoutError              no answer in time               (ERR_MCPAIR_TIMEOUT)
 * ├── AbortError                the caller's AbortSignal fired  (ERR_MCPAIR_ABORTED)
 * ├── ProtocolError             malformed / unexpected response (ERR_MCPAIR_PROTOCOL)
 * ├── ServerError               SERVER_ERROR / CLIENT_ERROR     (ERR_MCPAIR_SERVER)
 * ├── QueueFullError            bounded queue exceeded          (ERR_MCPAIR_QUEUE_FULL)
 * ├── CodecError                value could not be (de)coded    (ERR_MCPAIR_CODEC)
 * ├── ReplicationError          write not acknowledged as the write policy requires (ERR_MCPAIR_REPLICATION)
 * └── ClientClosedError         used after close()/destroy()    (ERR_MCPAIR_CLIENT_CLOSED)
 * ```
 *
 * Identity across copies: an application can load two copies of this module (the ESM and the CJS build, or two
 * versions through different dependencies), and an error thrown by one copy is not an instance of the other copy's
 * class in the ordinary sense. As undici does, every class carries a brand, `Symbol.for("mcpair.error.<Name>")`, on
 * its prototype, and a `Symbol.hasInstance` that checks the brand: `err instanceof ServerUnavailableError` is true
 * for a `ServerUnavailableError` (or a subclass) from any copy. Health decisions (`isServerFault`) read the brands.
 */
export class McpairError extends Error {
  /** Stable, documented identifier of the condition. */
  readonly code: string;
  /** The server (`name` or `host:port`) this error concerns, when there is one. */
  readonly server: string | undefined;

  constructor(message: string, options?: { cause?: unknown; server?: string | undefined; code?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "McpairError";
    this.code = options?.code ?? "ERR_MCPAIR";
    this.server = options?.server;
  }
}

type ErrorOptions = { cause?: unknown; server?: string | undefined };

/** A bad option or argument: the message names it and says what is allowed. */
export class InvalidArgumentError extends McpairError {
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super(message, { ...options, code: options?.code ?? "ERR_MCPAIR_INVALID_ARGUMENT" });
    this.name = "InvalidArgumentError";
  }
}

/** A key memcached cannot store as is: over 250 bytes of UTF-8, empty, or with whitespace or control characters. */
export class InvalidKeyError extends InvalidArgumentError {
  readonly key: string;
  constructor(key: string, reason: string) {
    const shown = key.length > 64 ? `${JSON.stringify(key.slice(0, 64))}…` : JSON.stringify(key);
    super(`invalid key ${shown}: ${reason}`, { code: "ERR_MCPAIR_INVALID_KEY" });
    this.name = "InvalidKeyError";
    this.key = key;
  }
}

/** A TTL that is NaN, infinite, negative or otherwise unusable. */
export class InvalidTtlError extends InvalidArgumentError {
  constructor(ttl: unknown, reason: string) {
    super(`invalid ttl ${String(ttl)}: ${reason}`, { code: "ERR_MCPAIR_INVALID_TTL" });
    this.name = "InvalidTtlError";
  }
}

/** The encoded value exceeds the item size limit (memcached's `-I`, 1 MiB by default). */
export class ValueTooLargeError extends InvalidArgumentError {
  readonly size: number;
  readonly limit: number;
  constructor(key: string, size: number, limit: number) {
    super(
      `value for key ${JSON.stringify(key.slice(0, 64))} is ${size} bytes encoded; the limit is ${limit} bytes`,
      {
        code: "ERR_MCPAIR_VALUE_TOO_LARGE",
      },
    );
    this.name = "ValueTooLargeError";
    this.size = size;
    this.limit = limit;
  }
}

/** The server is known to be down (failing fast), or could not be reached. */
export class ServerUnavailableError extends McpairError {
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super(message, { ...options, code: options?.code ?? "ERR_MCPAIR_SERVER_UNAVAILABLE" });
    this.name = "ServerUnavailableError";
  }
}

/** The connection was reset or closed while requests were in flight. */
export class ConnectionError extends ServerUnavailableError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, code: "ERR_MCPAIR_CONNECTION" });
    this.name = "ConnectionError";
  }
}

/** No answer within the configured time. The request may or may not have been applied by the server. */
export class TimeoutError extends McpairError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, code: "ERR_MCPAIR_TIMEOUT" });
    this.name = "TimeoutError";
  }
}

/** The caller's `AbortSignal` fired before the request completed. */
export class AbortError extends McpairError {
  constructor(message = "the operation was aborted", options?: ErrorOptions) {
    super(message, { ...options, code: "ERR_MCPAIR_ABORTED" });
    this.name = "AbortError";
  }
}

/** The server answered something the protocol does not allow here (malformed, truncated, oversized). */
export class ProtocolError extends McpairError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, code: "ERR_MCPAIR_PROTOCOL" });
    this.name = "ProtocolError";
  }
}

/** The server answered `SERVER_ERROR`, `CLIENT_ERROR` or `ERROR`. */
export class ServerError extends McpairError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, code: "ERR_MCPAIR_SERVER" });
    this.name = "ServerError";
  }
}

/** A bounded queue is full: the caller is told instead of the client slowing down or growing without limit. */
export class QueueFullError extends McpairError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, code: "ERR_MCPAIR_QUEUE_FULL" });
    this.name = "QueueFullError";
  }
}

/** A value could not be encoded or decoded by the codec. */
export class CodecError extends McpairError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, code: "ERR_MCPAIR_CODEC" });
    this.name = "CodecError";
  }
}

/**
 * A write or delete was not acknowledged by the replicas the write policy requires. `failures` lists each replica
 * that did not acknowledge and why; `acknowledged` lists those that did (the value may be on them).
 */
export class ReplicationError extends McpairError {
  readonly failures: ReadonlyArray<{ server: string; error: unknown }>;
  readonly acknowledged: readonly string[];
  /** For batch writes: the caller's keys whose write was not acknowledged as the write policy requires. */
  readonly keys: readonly string[];
  /** For batch writes: one entry per input entry, `true` where it was stored (or deleted) as required. */
  readonly results: readonly boolean[];
  constructor(
    message: string,
    failures: ReadonlyArray<{ server: string; error: unknown }>,
    acknowledged: readonly string[],
    batch?: { keys: readonly string[]; results: readonly boolean[] },
  ) {
    super(message, { code: "ERR_MCPAIR_REPLICATION", cause: failures[0]?.error });
    this.name = "ReplicationError";
    this.failures = failures;
    this.acknowledged = acknowledged;
    this.keys = batch?.keys ?? [];
    this.results = batch?.results ?? [];
  }
}

/** The client or transport was closed. */
export class ClientClosedError extends McpairError {
  constructor(message = "the client is closed", options?: ErrorOptions) {
    super(message, { ...options, code: "ERR_MCPAIR_CLIENT_CLOSED" });
    this.name = "ClientClosedError";
  }
}

// ─── brands ───────────────────────────────────────────────────────────────────────────────────────────────────────

const brands = new Map<string, symbol>();

/** Whether `value` is an mcpair error of class `name` (or a subclass of it), from this copy of mcpair or another. */
export function hasBrand(value: unknown, name: string): boolean {
  const symbol = brands.get(name) ?? Symbol.for(`mcpair.error.${name}`);
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[symbol] === true;
}

function brand(cls: abstract new (...args: never[]) => Error, name: string): void {
  const symbol = Symbol.for(`mcpair.error.${name}`);
  brands.set(name, symbol);
  // On the prototype, not on each instance: inherited by subclasses (a ConnectionError carries the
  // ServerUnavailableError brand too) and invisible to JSON and inspection.
  Object.defineProperty(cls.prototype, symbol, { value: true });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value(this: unknown, instance: unknown): boolean {
      // A class a user derives from ours inherits this static method: give it the ordinary semantics.
      if (this !== cls) return Function.prototype[Symbol.hasInstance].call(this, instance);
      return hasBrand(instance, name);
    },
  });
}

brand(McpairError, "McpairError");
brand(InvalidArgumentError, "InvalidArgumentError");
brand(InvalidKeyError, "InvalidKeyError");
brand(InvalidTtlError, "InvalidTtlError");
brand(ValueTooLargeError, "ValueTooLargeError");
brand(ServerUnavailableError, "ServerUnavailableError");
brand(ConnectionError, "ConnectionError");
brand(TimeoutError, "TimeoutError");
brand(AbortError, "AbortError");
brand(ProtocolError, "ProtocolError");
brand(ServerError, "ServerError");
brand(QueueFullError, "QueueFullError");
brand(CodecError, "CodecError");
brand(ReplicationError, "ReplicationError");
brand(ClientClosedError, "ClientClosedError");

/**
 * True when `err` says the server is unreachable or misbehaving (counts toward marking it down), as opposed to an
 * answer about the request itself (`SERVER_ERROR out of memory`, `CLIENT_ERROR bad data chunk`). Decided by brand,
 * so errors from another copy of mcpair (a transport built against the CJS build, say) count the same.
 */
export function isServerFault(err: unknown): boolean {
  return (
    hasBrand(err, "ServerUnavailableError") || hasBrand(err, "TimeoutError") || hasBrand(err, "ProtocolError")
  );
}
