// Failover on real servers: with one memcached of three killed, Keyv 5 and Keyv 6 over the store keep serving every
// key (each lives on two servers) and keep writing; with all three killed, reads are misses (no throw, no error
// event) and writes report failure (false and an `error` event). Nothing hangs.
import { useMemcachedCleanup } from "@mcpair/test-utils";
import Keyv from "keyv";
import { Keyv as Keyv6 } from "keyv6";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyvMcpair } from "../src/index.js";
import { type Cluster, startCluster, unique } from "./helpers.js";

useMemcachedCleanup();

let cluster: Cluster;
let keyv5: Keyv;
let keyv6: Keyv6;
const errors: unknown[] = [];
const entries = Array.from({ length: 90 }, (_, i) => ({ key: `key-${i}`, value: { i, text: `value ${i}` } }));
const keys = entries.map((e) => e.key);
const values = entries.map((e) => e.value);

beforeAll(async () => {
  cluster = await startCluster();
  keyv5 = new Keyv({ store: new KeyvMcpair(cluster.client), namespace: unique("five") });
  keyv6 = new Keyv6({ store: new KeyvMcpair(cluster.client), namespace: unique("six") });
  keyv5.on("error", (error: unknown) => errors.push(error));
  keyv6.on("error", (error: unknown) => errors.push(error));
  await keyv5.setMany(entries.map((e) => ({ ...e, ttl: 600_000 })));
  await keyv6.setMany(entries.map((e) => ({ ...e, ttl: 600_000 })));
});
afterAll(async () => {
  await cluster?.close();
});

describe("one server of three killed", () => {
  it("every key is still read, through getMany and get, in both Keyv majors", async () => {
    expect(errors).toEqual([]);
    expect(await keyv5.getMany(keys)).toEqual(values);
    expect(await keyv6.getMany(keys)).toEqual(values);
    await cluster.servers[0]!.kill();
    // (errors beside the values: a failure here says whether anything was reported, e.g. timeouts on a slow machine)
    expect({ values: await keyv5.getMany(keys), errors }).toEqual({ values, errors: [] });
    expect({ values: await keyv6.getMany(keys), errors }).toEqual({ values, errors: [] });
    for (const e of entries.slice(0, 30)) {
      expect(await keyv5.get(e.key)).toEqual(e.value);
      expect(await keyv6.get(e.key)).toEqual(e.value);
    }
    expect((await keyv6.hasMany(keys)).every(Boolean)).toBe(true);
    const stats = cluster.client.stats();
    expect(stats.servers.find((s) => s.address === cluster.addresses[0])?.state).toBe("down");
    // Keys whose primary is the dead server were answered by their second replica.
    expect(stats.failovers + stats.hitsReplica).toBeGreaterThan(0);
  });

  it("writes, deletes and clear() keep working", async () => {
    expect(await keyv5.set("written-while-down", "yes", 600_000)).toBe(true);
    expect(await keyv6.set("written-while-down", "yes", 600_000)).toBe(true);
    expect(await keyv5.get("written-while-down")).toBe("yes");
    expect(await keyv6.get("written-while-down")).toBe("yes");
    expect(await keyv6.delete("key-0")).toBe(true);
    expect(await keyv6.get("key-0")).toBeUndefined();
    await keyv6.clear();
    expect(await keyv6.getMany(keys.slice(0, 5))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(await keyv5.getMany(keys.slice(0, 5))).toEqual(values.slice(0, 5));
    expect(errors).toEqual([]);
  });
});

describe("all three servers killed", () => {
  it("reads are misses: no throw and no error event", async () => {
    await Promise.all(cluster.servers.map((s) => s.kill()));
    expect(await keyv5.get("key-1")).toBeUndefined();
    expect(await keyv6.get("key-1")).toBeUndefined();
    expect(await keyv5.getMany(keys.slice(0, 3))).toEqual([undefined, undefined, undefined]);
    expect(await keyv6.getMany(keys.slice(0, 3))).toEqual([undefined, undefined, undefined]);
    expect(await keyv5.has("key-1")).toBe(false);
    expect(await keyv6.hasMany(["key-1", "key-2"])).toEqual([false, false]);
    expect(errors).toEqual([]);
    expect(cluster.client.stats().unavailable).toBeGreaterThan(0);
  });

  it("writes report failure: false, and an error event each", async () => {
    expect(await keyv5.set("k", "v")).toBe(false);
    expect(await keyv6.set("k", "v")).toBe(false);
    expect(
      await keyv6.setMany([
        { key: "a", value: 1 },
        { key: "b", value: 2 },
      ]),
    ).toEqual([false, false]);
    expect(
      await keyv5.setMany([
        { key: "a", value: 1 },
        { key: "b", value: 2 },
      ]),
    ).toEqual([false, false]);
    expect(await keyv6.delete("k")).toBe(false);
    expect(await keyv6.deleteMany(["a", "b"])).toEqual([false, false]);
    expect(await keyv5.delete(["a", "b"])).toBe(false);
    await keyv6.clear();
    expect(errors.length).toBeGreaterThanOrEqual(8);
    for (const error of errors) {
      expect((error as { code?: string }).code).toMatch(
        /^ERR_MCPAIR_(REPLICATION|SERVER_UNAVAILABLE|CONNECTION)$/,
      );
    }
  });
});
