// Generation items (namespaces and tags) are kept alive without a touch on every write: one read per write, a touch
// only when the generation would otherwise expire before the entry.
import { afterEach, expect, it } from "vitest";
import { createMemoryCluster, type MemoryCluster } from "../src/memory-cluster.js";

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

it("writes and snapshots read the generations once each and do not touch them while they outlive the entry", async () => {
  cluster = createMemoryCluster(3);
  const c = cluster.client({ health: { checkInterval: 0 } });
  const ns = c.namespace("gen");
  await ns.set("first", 1, { tags: ["t"] }); // reads 2 generations, creates both
  let before = c.stats().scopeRequests;
  for (let i = 0; i < 10; i++) await ns.set(`k${i}`, i, { tags: ["t"] });
  expect(c.stats().scopeRequests - before).toBe(20); // 2 reads per write, no touch
  before = c.stats().scopeRequests;
  for (let i = 0; i < 10; i++) await ns.snapshot(["t"]);
  expect(c.stats().scopeRequests - before).toBe(20);
  // A fresh namespace object learns the lifetime from the read itself.
  before = c.stats().scopeRequests;
  await c.namespace("gen").set("again", 1, { tags: ["t"] });
  expect(c.stats().scopeRequests - before).toBe(2);
  // The generation lives longer than the TTL cap (so that it outlives every entry).
  const gen = cluster.server(c.replicasOf("mcpair:g:gen")[0]!).peek("mcpair:g:gen");
  expect(gen?.ttl).toBeGreaterThan(c.options.maxTtl);
});
