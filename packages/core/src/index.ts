// @mcpair/core: the replication engine and everything it stands on. No sockets, no ORM.
// What applications and integrations use. Building blocks for transports and tools (the ring, TTL arithmetic, the
// drain marker, defaults) are in `@mcpair/core/internal`, which follows no semver promise.

import type { PairClientOptions } from "./options.js";
import { PairClient } from "./pair-client.js";

export type {
  CacheClient,
  CacheFetchOptions,
  GetManyResult,
  NamespaceClient,
  ReadOptions,
  ScopeSnapshot,
  WriteOptions,
} from "./cache-client.js";
export { isCacheClient } from "./cache-client.js";

export type { Codec, CodecOptions, EncodedValue } from "./codec.js";
export { createDefaultCodec, FLAGS } from "./codec.js";
export {
  AbortError,
  ClientClosedError,
  CodecError,
  ConnectionError,
  InvalidArgumentError,
  InvalidKeyError,
  InvalidTtlError,
  McpairError,
  ProtocolError,
  QueueFullError,
  ReplicationError,
  ServerError,
  ServerUnavailableError,
  TimeoutError,
  ValueTooLargeError,
} from "./errors.js";
export type { KeyHashing } from "./keys.js";
export { assertValidKey, keyProblem, MAX_KEY_BYTES } from "./keys.js";
export type { MemoryCluster, MemoryClusterOptions } from "./memory-cluster.js";
export { createMemoryCluster } from "./memory-cluster.js";
export type { MemoryItemView, MemoryTransportOperation, MemoryTransportOptions } from "./memory-transport.js";
export { MemoryTransport } from "./memory-transport.js";
export type { HealthOptions, PairClientOptions, RepairMode, WritePolicy } from "./options.js";
export type {
  CasToken,
  ClientStats,
  CounterOptions,
  OperationOptions,
  PairClientEvents,
  RewarmOptions,
  RewarmProgress,
  ServerStatsSnapshot,
  ServerStatus,
  SetOptions,
} from "./pair-client.js";
export { channels, PairClient } from "./pair-client.js";
export type { RepairOutcome } from "./read-repair.js";
export type { FetchOptions } from "./read-through.js";
export type { RingKind } from "./ring.js";
export type { ServerState } from "./server-node.js";
export type { ServerSpec } from "./servers.js";
export type {
  DeleteResult,
  DumpEntry,
  RequestOptions,
  ServerAddress,
  SetMode,
  StoreResult,
  Transport,
  TransportArithmeticOptions,
  TransportArithmeticResult,
  TransportDeleteOptions,
  TransportFactory,
  TransportGetOptions,
  TransportItem,
  TransportSetOptions,
  TransportStats,
} from "./transport.js";
export { DEFAULT_MAX_TTL, MAX_RELATIVE_TTL } from "./ttl.js";

/** Creates the replication engine. Most users call `createClient` from `@mcpair/memcached` instead. */
export function createPairClient(options: PairClientOptions): PairClient {
  return new PairClient(options);
}
