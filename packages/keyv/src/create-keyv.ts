import type { CacheClient } from "@mcpair/core";
import { isCacheClient } from "@mcpair/core";
import { Keyv, type KeyvOptions } from "keyv";
import { KeyvMcpair } from "./keyv-mcpair.js";
import type { KeyvMcpairOptions } from "./options.js";

/**
 * A `Keyv` over a {@link KeyvMcpair} store, built with the `keyv` package your application has installed (a peer
 * dependency: Keyv 6, or 5.6 and later). With client options the store owns its client, so `keyv.disconnect()`
 * closes it; a `CacheClient` passed in stays open.
 *
 * ```ts
 * const keyv = createKeyv({ servers: ["10.0.0.1:11211", "10.0.0.2:11211"] }, { namespace: "sessions" });
 * await keyv.set("user:1", { name: "Ada" }, 60_000);
 * ```
 *
 * @param clientOrOptions a `CacheClient`, or `createClient` options plus the store's `namespace` and `contract`.
 * @param keyvOptions Keyv's own options (`namespace`, `ttl`, serialization...), except `store`.
 */
export function createKeyv(
  clientOrOptions: CacheClient | KeyvMcpairOptions,
  keyvOptions?: Omit<KeyvOptions, "store">,
): Keyv {
  const store = isCacheClient(clientOrOptions)
    ? new KeyvMcpair(clientOrOptions)
    : new KeyvMcpair(clientOrOptions);
  return new Keyv({ ...keyvOptions, store });
}
