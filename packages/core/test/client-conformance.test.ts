// The client conformance suite on in-process servers: the root client, a namespace client, and replicas 1 and 2.
// The same suite runs on real memcached in packages/memcached/test/client-conformance.test.ts.
import { createMemoryCluster } from "../src/memory-cluster.js";
import { runCacheClientConformance } from "../src/testing.js";

const quiet = { health: { checkInterval: 0 } };

runCacheClientConformance("PairClient on a memory cluster (replicas 2)", async () => {
  const cluster = createMemoryCluster(3);
  return { client: cluster.client(quiet), close: () => cluster.close() };
});

runCacheClientConformance("PairClient on a memory cluster (replicas 1)", async () => {
  const cluster = createMemoryCluster(3);
  return { client: cluster.client({ ...quiet, replicas: 1 }), close: () => cluster.close() };
});

runCacheClientConformance("namespace client on a memory cluster", async () => {
  const cluster = createMemoryCluster(3);
  return { client: cluster.client(quiet).namespace("conformance"), close: () => cluster.close() };
});
