// @mcpair/keyv: a Keyv store (Keyv 5 and 6) on replicated memcached.

export type { KeyvMcpairCapabilities, KeyvMethodCapability, KeyvStorageMethodName } from "./capabilities.js";
export { createKeyv } from "./create-keyv.js";
export type { KeyvMcpairEntry, KeyvMcpairOpts } from "./keyv-mcpair.js";
export { KeyvMcpair, KeyvMcpair as default } from "./keyv-mcpair.js";
export type { KeyvContract, KeyvMcpairOptions, KeyvMcpairStoreOptions } from "./options.js";
export { DEFAULT_NAMESPACE } from "./options.js";
