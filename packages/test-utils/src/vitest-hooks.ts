import { afterAll } from "vitest";
import { cleanupAll } from "./registry.js";

/**
 * Registers `afterAll(cleanupAll)` in the calling test file (or setup file), so every memcached, proxy and rogue
 * server it started is gone when the file ends.
 */
export function useMemcachedCleanup(): void {
  afterAll(cleanupAll);
}
