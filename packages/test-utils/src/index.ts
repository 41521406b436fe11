export { memcachedBinary, memcachedSupportsTls } from "./binary.js";
export type { FaultProxy } from "./fault-proxy.js";
export { startFaultProxy } from "./fault-proxy.js";
export { freePort } from "./free-port.js";
export { HarnessError } from "./harness-error.js";
export type { MemcachedOptions, MemcachedServer } from "./memcached-server.js";
export { startMemcached } from "./memcached-server.js";
export type { RawConnectOptions, RawTarget, ReadCondition } from "./raw-client.js";
export { authRequest, connectRaw, RawClient } from "./raw-client.js";
export { cleanupAll } from "./registry.js";
export {
  OVERSIZED_LENGTH,
  plausibleResponse,
  ROGUE_VALUE,
  ROGUE_VERSION,
  rogue,
} from "./rogue-responders.js";
export type { RogueAction, RogueResponder, RogueServer } from "./rogue-server.js";
export { startRogueServer } from "./rogue-server.js";
export type { TestCertificate } from "./tls-cert.js";
export { createTestCertificate, testCertificate } from "./tls-cert.js";
export { useMemcachedCleanup } from "./vitest-hooks.js";
export type { WaitForOptions } from "./wait-for.js";
export { waitFor } from "./wait-for.js";
