// TTLs: the conversion rules (pure functions), then on real servers: millisecond TTLs never become 0 ("forever") and
// never expire early, the TTL cap applies, and Keyv's own expiry check stays exact with memcached's whole seconds.
import { InvalidArgumentError, InvalidTtlError } from "@mcpair/core";
import { useMemcachedCleanup, waitFor } from "@mcpair/test-utils";
import Keyv from "keyv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyvMcpair } from "../src/index.js";
import { fromAbsolute, fromRelative, MIN_ABSOLUTE_EXPIRY, secondsCovering } from "../src/lifetime.js";
import { type Cluster, startCluster, unique } from "./helpers.js";

useMemcachedCleanup();

describe("conversion", () => {
  it("sends the smallest whole-second TTL whose shortest life (n - 1 s) reaches the deadline", () => {
    expect(secondsCovering(1)).toBe(2);
    expect(secondsCovering(999)).toBe(2);
    expect(secondsCovering(1000)).toBe(2);
    expect(secondsCovering(1001)).toBe(3);
    expect(secondsCovering(60_000)).toBe(61);
  });

  it("Keyv 5: relative milliseconds", () => {
    expect(fromRelative(undefined)).toEqual({ expired: false, ttl: undefined });
    expect(fromRelative(0)).toEqual({ expired: false, ttl: undefined });
    expect(fromRelative(Number.POSITIVE_INFINITY)).toEqual({ expired: false, ttl: undefined });
    expect(fromRelative(1)).toEqual({ expired: false, ttl: 2 });
    expect(fromRelative(1500)).toEqual({ expired: false, ttl: 3 });
    expect(fromRelative(-1)).toEqual({ expired: true });
    expect(() => fromRelative(Number.NaN)).toThrow(InvalidTtlError);
    expect(() => fromRelative("60")).toThrow(InvalidTtlError);
  });

  it("Keyv 6: absolute epoch milliseconds", () => {
    const now = 1_800_000_000_000;
    expect(fromAbsolute(undefined, now)).toEqual({ expired: false, ttl: undefined });
    expect(fromAbsolute(Number.POSITIVE_INFINITY, now)).toEqual({ expired: false, ttl: undefined });
    expect(fromAbsolute(now + 1, now)).toEqual({ expired: false, ttl: 2 });
    expect(fromAbsolute(now + 2500, now)).toEqual({ expired: false, ttl: 4 });
    expect(fromAbsolute(now, now)).toEqual({ expired: true });
    expect(fromAbsolute(now - 1, now)).toEqual({ expired: true });
    expect(fromAbsolute(0, now)).toEqual({ expired: true });
    expect(fromAbsolute(Number.NEGATIVE_INFINITY, now)).toEqual({ expired: true });
    expect(() => fromAbsolute(60_000, now)).toThrow(InvalidArgumentError);
    expect(() => fromAbsolute(MIN_ABSOLUTE_EXPIRY - 1, now)).toThrow(/relative TTL/);
    expect(() => fromAbsolute(Number.NaN, now)).toThrow(InvalidTtlError);
  });
});

describe("on real servers", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it("1 ms is neither 0 ('forever') nor dropped at once: alive right after, gone within seconds", async () => {
    const store = new KeyvMcpair(cluster.client, { namespace: unique("ms"), contract: 5 });
    await store.set("k", "v", 1);
    expect(await store.get("k")).toBe("v");
    await waitFor(async () => (await store.get("k")) === undefined, {
      timeout: 5000,
      what: "memcached expiry",
    });
  });

  it("Keyv 5 hides an entry at its millisecond deadline, while memcached (whole seconds) still holds it", async () => {
    const store = new KeyvMcpair(cluster.client);
    const keyv = new Keyv({ store, namespace: unique("exact") });
    const wire = `${keyv.namespace}:k`; // Keyv 5 prefixes keys itself
    const deadline = Date.now() + 100;
    await keyv.set("k", "v", 100);
    await waitFor(() => Date.now() > deadline + 20, { what: "the deadline to pass" });
    const raw = await store.get<string>(wire);
    expect(typeof raw).toBe("string");
    expect(JSON.parse(raw!).expires).toBeLessThan(Date.now());
    expect(await keyv.get("k")).toBeUndefined();
    // Keyv deletes the expired entry it read.
    expect(await store.get(wire)).toBeUndefined();
  });

  it("the TTL cap applies to 'no expiry' and to long TTLs (client maxTtl: 2 s)", async () => {
    const capped = cluster.connect({ maxTtl: 2 });
    const store = new KeyvMcpair(capped, { namespace: unique("cap") });
    const keyv = new Keyv({ store });
    await keyv.set("forever", "v");
    await keyv.set("a-day", "v", 86_400_000);
    expect(await keyv.get("forever")).toBe("v");
    await waitFor(
      async () => (await keyv.get("forever")) === undefined && (await keyv.get("a-day")) === undefined,
      {
        timeout: 6000,
        what: "the cap to expire both",
      },
    );
  });
});
