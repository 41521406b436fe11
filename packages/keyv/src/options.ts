import { type CacheClient, InvalidArgumentError, isCacheClient } from "@mcpair/core";
import { type ClientOptions, createClient } from "@mcpair/memcached";

/** The Keyv storage contract a store serves: 5 (relative TTLs, Keyv prefixes keys) or 6 (absolute expiries). */
export type KeyvContract = 5 | 6;

/** Options of the store itself, whichever way it gets its client. */
export interface KeyvMcpairStoreOptions {
  /**
   * The namespace the store's entries live in until Keyv sets one. Keyv 5 always sets its own (`"keyv"` unless told
   * otherwise), Keyv 6 only when it was given one, so with Keyv 6 this is how to name the store's namespace.
   * Without any namespace the entries live in {@link DEFAULT_NAMESPACE}: `clear()` never reaches beyond it.
   * @default undefined
   */
  namespace?: string | undefined;
  /**
   * Which storage contract the store serves. `"auto"` serves Keyv 5's until a Keyv 6 adopts the store (Keyv 6 reads
   * `store.capabilities` when it is given a store, and only Keyv 6 does), then Keyv 6's for good. Pin `5` or `6`
   * when the store is used without Keyv or something else reads `capabilities`; a store pinned to 5 declares no
   * capabilities, so Keyv 6 wraps it in its bridge (relative TTLs), which also works.
   * @default "auto"
   */
  contract?: "auto" | KeyvContract;
}

/**
 * Options of a store that creates (and owns) its client: everything `createClient` from `@mcpair/memcached` takes
 * (`servers`, `replicas`, `maxTtl`, `defaultTtl`, `writePolicy`, timeouts, TLS...) plus the store's own options.
 */
export interface KeyvMcpairOptions extends ClientOptions, KeyvMcpairStoreOptions {}

/** The namespace of a store that was given none, by Keyv or by its options (Keyv 5's default namespace too). */
export const DEFAULT_NAMESPACE = "keyv";

/** The store's settings after validation. */
export interface ResolvedStoreOptions {
  readonly client: CacheClient;
  /** The store created the client, so `disconnect()` closes it. */
  readonly owned: boolean;
  readonly namespace: string | undefined;
  readonly contract: "auto" | KeyvContract;
}

/** Validates a namespace given by the options or by Keyv. */
export function validateNamespace(namespace: unknown, where: string): string | undefined {
  if (namespace === undefined || namespace === null) return undefined;
  if (typeof namespace !== "string") {
    throw new InvalidArgumentError(`${where} must be a string or undefined, got ${typeof namespace}`);
  }
  return namespace;
}

function validateStoreOptions(
  options: KeyvMcpairStoreOptions,
): Omit<ResolvedStoreOptions, "client" | "owned"> {
  const contract = options.contract ?? "auto";
  if (contract !== "auto" && contract !== 5 && contract !== 6) {
    throw new InvalidArgumentError(
      `KeyvMcpair: option "contract" must be "auto", 5 or 6, got ${JSON.stringify(contract)}`,
    );
  }
  return { namespace: validateNamespace(options.namespace, 'KeyvMcpair: option "namespace"'), contract };
}

/**
 * `new KeyvMcpair(client, options?)` borrows `client`; `new KeyvMcpair({ servers, ... })` creates a client and owns
 * it. Everything is validated here, before any connection is made.
 */
export function resolveStoreOptions(
  clientOrOptions: CacheClient | KeyvMcpairOptions,
  storeOptions: KeyvMcpairStoreOptions | undefined,
): ResolvedStoreOptions {
  if (isCacheClient(clientOrOptions)) {
    if (storeOptions !== undefined && (storeOptions === null || typeof storeOptions !== "object")) {
      throw new InvalidArgumentError("KeyvMcpair: the second argument must be an options object");
    }
    return { client: clientOrOptions, owned: false, ...validateStoreOptions(storeOptions ?? {}) };
  }
  if (clientOrOptions === null || typeof clientOrOptions !== "object") {
    throw new InvalidArgumentError(
      "KeyvMcpair: pass a CacheClient (e.g. from createClient) or options with `servers`",
    );
  }
  if (storeOptions !== undefined) {
    throw new InvalidArgumentError(
      "KeyvMcpair: with client options, put `namespace` and `contract` in the same object (there is no second argument)",
    );
  }
  const { namespace, contract, ...clientOptions } = clientOrOptions;
  if (!Array.isArray(clientOptions.servers) || clientOptions.servers.length === 0) {
    throw new InvalidArgumentError(
      'KeyvMcpair: option "servers" must be a non-empty array of "host:port" strings or { host, port } objects',
    );
  }
  const resolved = validateStoreOptions({ namespace, contract });
  return { client: createClient(clientOptions), owned: true, ...resolved };
}
