// Namespaces and keys on real servers: clear() of one namespace leaves every other namespace intact, in this process
// and in another one, and never sends flush_all (cmd_flush stays 0 on every server); keys of any length and content
// work and cannot collide.
import { useMemcachedCleanup } from "@mcpair/test-utils";
import Keyv from "keyv";
import { Keyv as Keyv6 } from "keyv6";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_NAMESPACE, KeyvMcpair } from "../src/index.js";
import { type Cluster, flushCounts, startCluster, unique } from "./helpers.js";

useMemcachedCleanup();

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.close();
});

describe("clear()", () => {
  it("clears one namespace; the others keep their keys, in this process and another; no flush_all", async () => {
    const [a, b, c] = [unique("a"), unique("b"), unique("c")];
    const other = cluster.connect(); // a second process's client
    const a5 = new Keyv({ store: new KeyvMcpair(cluster.client), namespace: a });
    const b6 = new Keyv6({ store: new KeyvMcpair(cluster.client), namespace: b });
    const c6 = new Keyv6({ store: new KeyvMcpair(cluster.client, { namespace: c }) });
    const aElsewhere = new Keyv({ store: new KeyvMcpair(other), namespace: a });
    const list = Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: i }));
    const keys = list.map((e) => e.key);
    await Promise.all([a5.setMany(list), b6.setMany(list), c6.setMany(list)]);
    expect(await aElsewhere.getMany(keys)).toEqual(list.map((e) => e.value));

    await a5.clear();
    expect((await a5.getMany(keys)).every((v) => v === undefined)).toBe(true);
    expect((await aElsewhere.getMany(keys)).every((v) => v === undefined)).toBe(true);
    expect(await b6.getMany(keys)).toEqual(list.map((e) => e.value));
    expect(await c6.getMany(keys)).toEqual(list.map((e) => e.value));

    // Writes after the clear are live again, everywhere.
    await aElsewhere.set("k1", "again");
    expect(await a5.get("k1")).toBe("again");

    await c6.clear();
    expect(await c6.get("k0")).toBeUndefined();
    expect(await b6.get("k0")).toBe(0);
    expect(await flushCounts(cluster.servers)).toEqual([0, 0, 0]);
  });

  it("without any namespace the store clears its own default namespace only", async () => {
    const named = new Keyv6({ store: new KeyvMcpair(cluster.client), namespace: unique("named") });
    const plain = new Keyv6({ store: new KeyvMcpair(cluster.client) });
    expect(plain.store.namespace).toBeUndefined();
    await named.set("shared-key", "named");
    await plain.set("shared-key", "plain");
    // The default namespace is an ordinary mcpair namespace: a client can look at it directly.
    expect(await cluster.client.namespace(DEFAULT_NAMESPACE).get("shared-key")).toBeTypeOf("string");
    await plain.clear();
    expect(await plain.get("shared-key")).toBeUndefined();
    expect(await named.get("shared-key")).toBe("named");
    expect(await flushCounts(cluster.servers)).toEqual([0, 0, 0]);
  });

  it("Keyv 5 with useKeyPrefix: false is still scoped by the store", async () => {
    const one = new Keyv({
      store: new KeyvMcpair(cluster.client),
      namespace: unique("p1"),
      useKeyPrefix: false,
    });
    const two = new Keyv({
      store: new KeyvMcpair(cluster.client),
      namespace: unique("p2"),
      useKeyPrefix: false,
    });
    await one.set("k", 1);
    await two.set("k", 2);
    await one.clear();
    expect(await one.get("k")).toBeUndefined();
    expect(await two.get("k")).toBe(2);
  });
});

describe("keys", () => {
  it("any length and content round-trips: long, whitespace, control characters, unicode, '#', protocol lookalikes", async () => {
    const keyv = new Keyv6({ store: new KeyvMcpair(cluster.client), namespace: unique("keys") });
    const long = "x".repeat(5000);
    const odd = [
      long,
      `${long}y`,
      "with space",
      "line\r\nbreak",
      "mg injected v\r\nms x 1\r\n",
      "tab\there",
      "\u0000nul",
      "日本語のキー",
      "#looks-hashed",
      "é".repeat(200),
      ":",
    ];
    await keyv.setMany(odd.map((key, i) => ({ key, value: i })));
    expect(await keyv.getMany(odd)).toEqual(odd.map((_, i) => i));
    for (const [i, key] of odd.entries()) expect(await keyv.get(key)).toBe(i);
    expect(await keyv.deleteMany([long, "with space"])).toEqual([true, true]);
    expect(await keyv.get(`${long}y`)).toBe(1);
  });

  it("Keyv 5 prefixes keys itself; with a long namespace and long keys it still works", async () => {
    const keyv = new Keyv({ store: new KeyvMcpair(cluster.client), namespace: unique("n".repeat(300)) });
    await keyv.set("k".repeat(400), "v");
    expect(await keyv.get("k".repeat(400))).toBe("v");
    expect(await keyv.get("k".repeat(399))).toBeUndefined();
  });
});
