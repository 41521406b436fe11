/**
 * What the harness throws when it cannot give a test what it asked for (no binary, a server that will not start, a
 * condition that never came true). Deliberately *not* an `McpairError`: a test asserting that the client raised, say,
 * `ServerUnavailableError` must never pass because the harness itself failed.
 */
export class HarnessError extends Error {
  /** Stable identifier of the condition, e.g. `ERR_MCPAIR_TEST_MEMCACHED_NOT_FOUND`. */
  readonly code: string;

  constructor(message: string, options: { code: string; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HarnessError";
    this.code = options.code;
  }
}
