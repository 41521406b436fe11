// createKeyv when the application has Keyv 6 installed: the `keyv` import of the source resolves to keyv 6.1 here
// (this workspace installs 5.6 as `keyv` and 6.1 as `keyv6`), and the store serves the Keyv 6 contract by handshake.
import { useMemcachedCleanup } from "@mcpair/test-utils";
import { Keyv as Keyv6 } from "keyv6";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { createKeyv, KeyvMcpair } from "../src/index.js";
import { type Cluster, startCluster, unique } from "./helpers.js";

vi.mock("keyv", async () => await import("keyv6"));

useMemcachedCleanup();

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.close();
});

it("returns a Keyv 6 that uses the store directly, with absolute expiries and store-side namespacing", async () => {
  const keyv = createKeyv({ servers: cluster.addresses, replicas: 2 }, { namespace: unique("ck6") });
  expect(keyv).toBeInstanceOf(Keyv6);
  const store = keyv.store as unknown as KeyvMcpair;
  expect(store).toBeInstanceOf(KeyvMcpair);
  expect(store.contract).toBe(6);
  expect(store.namespace).toBe(keyv.namespace);
  await keyv.set("k", "v", 60_000);
  expect(await keyv.get("k")).toBe("v");
  expect(await store.get<string>("k")).toBeTypeOf("string"); // unprefixed: the store namespaces
  expect(await keyv.deleteMany(["k", "nope"])).toEqual([true, false]);
  await keyv.disconnect();
  await expect(store.client.get("x")).rejects.toMatchObject({ code: "ERR_MCPAIR_CLIENT_CLOSED" });
});
