/**
 * `@mcpair/core/internal`: building blocks for mcpair's own packages (the socket transport, the CLI, benchmarks) and
 * for tools that need the exact placement or TTL arithmetic. No semver promise: anything here may change in a minor
 * release. Applications use `@mcpair/core` (or `@mcpair/memcached`).
 */
export { isServerFault } from "./errors.js";
export { DEFAULTS } from "./options.js";
export { FETCH_DEFAULTS } from "./read-through.js";
export type { Ring } from "./ring.js";
export { createRing } from "./ring.js";
export { DRAIN_KEY } from "./server-node.js";
export { parseServers } from "./servers.js";
export { copyTtl, msToTtl, resolveTtl } from "./ttl.js";
