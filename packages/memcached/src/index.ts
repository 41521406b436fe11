// @mcpair/memcached: the meta-protocol socket transport and `createClient`.
// Everything from @mcpair/core is re-exported, so most applications depend on this package alone.

export * from "@mcpair/core";
export type { ClientOptions } from "./create-client.js";
export { createClient } from "./create-client.js";
export type { ReconnectStrategy, SocketTransportAuth, SocketTransportOptions } from "./options.js";
export { createSocketTransport, createSocketTransportFactory, SocketTransport } from "./socket-transport.js";
