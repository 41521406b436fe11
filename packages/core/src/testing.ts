/**
 * Test helpers, published as `@mcpair/core/testing` (a separate entry so the main one never imports vitest).
 */

import type { ConformanceHarness } from "./conformance.js";
import { MemoryTransport, type MemoryTransportOptions } from "./memory-transport.js";

export {
  type CacheClientConformanceParts,
  type CacheClientHarness,
  runCacheClientConformance,
} from "./client-conformance.js";
export { type ConformanceHarness, runTransportConformance } from "./conformance.js";

/** A conformance harness around a {@link MemoryTransport} whose clock only moves when `advance` is called. */
export interface MemoryHarness extends ConformanceHarness {
  transport: MemoryTransport;
  /** The fake clock in milliseconds. */
  now(): number;
  restart(): Promise<void>;
}

/**
 * Builds a {@link MemoryTransport} on a fake clock starting at the real time: `advance(seconds)` moves it, so expiry
 * is tested without waiting. Every option but `now` is passed through.
 */
export function createMemoryHarness(options: Omit<MemoryTransportOptions, "now"> = {}): MemoryHarness {
  let clock = Date.now();
  const transport = new MemoryTransport({ ...options, now: () => clock });
  return {
    transport,
    now: () => clock,
    advance: async (seconds) => {
      clock += seconds * 1000;
    },
    restart: async () => transport.restart(),
    close: () => transport.close(),
  };
}
