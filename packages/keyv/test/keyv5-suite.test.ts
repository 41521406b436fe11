// The official Keyv 5 conformance suite (@keyv/test-suite 2.1.2, as published) against three real memcached servers
// with two replicas per key: API, values and the namespace tests that @keyv/memcache skips (its clear() flushes the
// whole server). Keyv 5 is what cache-manager 7 and cacheable 2 run on.
import keyvTestSuite from "@keyv/test-suite";
import { useMemcachedCleanup } from "@mcpair/test-utils";
import Keyv, { type KeyvStoreAdapter } from "keyv";
import * as vitest from "vitest";
import { KeyvMcpair } from "../src/index.js";
import { type Cluster, flushCounts, startCluster } from "./helpers.js";

useMemcachedCleanup();

let cluster: Cluster;
vitest.beforeAll(async () => {
  cluster = await startCluster();
});
vitest.afterAll(async () => {
  await cluster?.close();
});

vitest.describe("@keyv/test-suite 2.1.2 keyvTestSuite (Keyv 5.6), 3 servers, replicas 2", () => {
  // The suite asks for a fresh store many times per test; each borrows the one client (no connection per store).
  const store = () => new KeyvMcpair(cluster.client);
  keyvTestSuite(vitest, Keyv, store);

  vitest.it("ran on the servers, served the Keyv 5 contract, and no clear() flushed a server", async () => {
    const s = store();
    // The store type-checks as Keyv 5's adapter type (and as Keyv 6's: keyv6-contract.test.ts).
    const typed: KeyvStoreAdapter = s;
    new Keyv({ store: typed });
    vitest.expect(s.contract).toBe(5);
    const stats = cluster.client.stats();
    vitest.expect(stats.hitsPrimary).toBeGreaterThan(20);
    vitest.expect(stats.misses).toBeGreaterThan(0);
    vitest.expect(await flushCounts(cluster.servers)).toEqual([0, 0, 0]);
  });
});
