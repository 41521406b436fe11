// TTLs: the conversion rules (pure functions), then on real servers: millisecond TTLs never become 0 ("forever") and
// never expire early, the TTL cap applies, and Keyv's own expiry check stays exact with memcached's whole seconds.
import { InvalidArgumentError, InvalidTtlError } from "@mcpair/core";
import { useMemcachedCleanup, waitFor } from "@mcpair/test-utils";
import Keyv from "keyv";
import { Keyv as Keyv6, KeyvJsonSerializer } from "keyv6";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deadlineOf } from "../src/envelope.js";
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

describe("reading Keyv's deadline back", () => {
  it("from both majors' JSON envelopes and from the object envelope, never from the value", async () => {
    const v5 = new Keyv().serialize!;
    const v6 = new KeyvJsonSerializer();
    const values: unknown[] = [
      "text",
      0,
      null,
      { expires: 5 },
      ["expires", 5],
      ',"expires":5}',
      { a: { expires: 7 } },
    ];
    for (const value of values) {
      for (const serialize of [v5, (d: object) => v6.stringify(d) as string]) {
        expect(deadlineOf(await serialize({ value, expires: 1_800_000_000_123 }))).toBe(1_800_000_000_123);
        expect(deadlineOf(await serialize({ value, expires: undefined }))).toBeUndefined();
      }
    }
    expect(deadlineOf(`{"value":"${"x".repeat(10_000)}","expires":1800000000000.5}`)).toBe(
      1_800_000_000_000.5,
    );
    expect(deadlineOf({ value: 1, expires: 42 })).toBe(42);
    expect(deadlineOf({ value: 1 })).toBeUndefined();
    expect(deadlineOf("compressed:…")).toBeUndefined();
    expect(deadlineOf(Buffer.from('{"value":1,"expires":5}'))).toBeUndefined();
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

  it("an entry is hidden at its millisecond deadline while memcached (whole seconds) still holds it", async () => {
    const ns = unique("exact");
    const keyv = new Keyv({ store: new KeyvMcpair(cluster.client), namespace: ns });
    const deadline = Date.now() + 100;
    await keyv.set("k", "v", 100);
    await keyv.set("long", "v", 60_000);
    expect(await keyv.has("k")).toBe(true);
    await waitFor(() => Date.now() > deadline + 20, { what: "the deadline to pass" });
    // Keyv 5's has() asks the store and does no expiry check of its own: the store reads Keyv's envelope.
    expect(await keyv.has("k")).toBe(false);
    expect(await keyv.hasMany(["k", "long"])).toEqual([false, true]);
    expect(await keyv.get("k")).toBeUndefined();
    // memcached still has the item (Keyv 5 prefixes its keys): only the deadline hides it.
    const raw = await cluster.client.namespace(ns).get<string>(`${ns}:k`);
    expect(JSON.parse(raw!).expires).toBeLessThan(Date.now());
  });

  it("Keyv 6 with checkExpired: false (it trusts the store) still never sees an entry past its deadline", async () => {
    const keyv = new Keyv6({
      store: new KeyvMcpair(cluster.client),
      namespace: unique("trust"),
      checkExpired: false,
    });
    const raw = new Keyv6({
      store: new KeyvMcpair(cluster.client),
      serialization: false,
      checkExpired: false,
    });
    raw.namespace = keyv.namespace;
    const deadline = Date.now() + 100;
    await keyv.set("k", "v", 100);
    await raw.set("o", { n: 1 }, 100);
    expect(await keyv.get("k")).toBe("v");
    expect(await raw.get("o")).toEqual({ n: 1 });
    await waitFor(() => Date.now() > deadline + 20, { what: "the deadline to pass" });
    expect(await keyv.get("k")).toBeUndefined();
    expect(await keyv.has("k")).toBe(false);
    expect(await keyv.getMany(["k"])).toEqual([undefined]);
    expect(await raw.get("o")).toBeUndefined();
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
