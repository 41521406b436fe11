// Input validation: every public entry throws InvalidArgumentError naming what is wrong.
import { InvalidArgumentError, MemoryTransport } from "@mcpair/core";
import { createClient } from "@mcpair/memcached";
import { describe, expect, it } from "vitest";
import { mcpairCache } from "../src/index.js";
import { resolvePolicy } from "../src/options.js";

const transport = () => new MemoryTransport();
const client = createClient({ servers: ["a:1", "b:2"], transport });

describe("mcpairCache options", () => {
  it.each([
    [undefined, /options must be an object/],
    [{}, /option "client" must be a CacheClient/],
    [{ client: { servers: "x" } }, /option "client"/],
    [{ client, namespace: "" }, /option "namespace" must be a non-empty string/],
    [{ client, invalidateOnWrite: "yes" }, /option "invalidateOnWrite" must be a boolean/],
    [{ client, transactionReads: "sometimes" }, /option "transactionReads" must be "bypass" or "cache"/],
    [{ client, rawWrites: "all" }, /option "rawWrites" must be "invalidateAll" or "ignore"/],
    [{ client, onError: 1 }, /option "onError" must be a function/],
    [{ client, leaseTtl: 0 }, /option "leaseTtl" must be a whole number of seconds from 1 to 3600/],
    [{ client, leaseTtl: 1.5 }, /option "leaseTtl"/],
    [{ client, waitTimeout: -1 }, /option "waitTimeout" must be a finite number of ms >= 0/],
    [{ client, defaults: [] }, /option "defaults" must be an object/],
    [{ client, defaults: { User: { ttl: -1 } } }, /defaults.User.ttl must be a finite number/],
    [{ client, defaults: { User: { ttl: 1, key: "k" } } }, /defaults.User cannot have a "key"/],
    [{ client, defaults: { User: { swr: 1 } } }, /defaults.User.ttl is required/],
  ])("rejects %j", (options, message) => {
    const call = () => mcpairCache(options as never);
    expect(call).toThrow(InvalidArgumentError);
    expect(call).toThrow(message);
  });

  it("accepts a CacheClient or createClient options", () => {
    expect(typeof mcpairCache({ client })).toBe("function");
    expect(typeof mcpairCache({ client: { servers: ["a:1"], transport } })).toBe("function");
  });
});

describe("policies", () => {
  it("merge a query's fields over the model default", () => {
    const base = resolvePolicy({ ttl: 60, swr: 5, tags: ["a"] }, "defaults.User", undefined, "cache");
    expect(resolvePolicy({ tags: ["b"] }, "cache", base, "cache")).toEqual({
      ttl: 60,
      swr: 5,
      tags: ["b"],
      key: undefined,
    });
    expect(resolvePolicy({}, "cacheStrategy", undefined, "cacheStrategy")).toEqual({
      ttl: 0,
      swr: 0,
      tags: [],
      key: undefined,
    });
  });

  it.each([
    [{ ttl: Number.NaN }, /ttl must be a finite number/],
    [{ ttl: 1, swr: Number.POSITIVE_INFINITY }, /swr must be a finite number/],
    [{ ttl: 1, tags: "a" }, /tags must be an array/],
    [{ ttl: 1, tags: [""] }, /tags must hold non-empty strings/],
    [{ ttl: 1, key: 7 }, /key must be a non-empty string/],
    [null, /must be an object/],
  ])("rejects %j", (policy, message) => {
    expect(() => resolvePolicy(policy, "cache", undefined, "cache")).toThrow(message);
  });
});
