// Input validation, the default namespace, TTL and expiry arithmetic. No memcached needed: the client runs on the
// in-memory transport.
import { InvalidArgumentError, MemoryTransport } from "@mcpair/core";
import { createClient } from "@mcpair/memcached";
import { DataSource, type DataSourceOptions } from "typeorm";
import { afterAll, describe, expect, it } from "vitest";
import {
  cachedQuery,
  defaultNamespace,
  isMcpairQueryResultCache,
  McpairQueryResultCache,
  mcpairTypeormCache,
} from "../src/index.js";
import { isExpiredAt, memcachedTtl } from "../src/stored-entry.js";

const client = createClient({ servers: ["memory:1"], replicas: 1, transport: () => new MemoryTransport() });
afterAll(() => client.close());

/** The client's methods, bound, as own properties: a wrapper of the same shape. */
const methodsOf = (c: object): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (let p = c; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p))
    for (const name of Object.getOwnPropertyNames(p))
      if (!(name in out) && typeof (c as Record<string, unknown>)[name] === "function")
        out[name] = ((c as Record<string, unknown>)[name] as (...a: unknown[]) => unknown).bind(c);
  return out;
};

const dataSource = (options: Partial<DataSourceOptions> = {}) =>
  new DataSource({ type: "better-sqlite3", database: ":memory:", ...options } as DataSourceOptions);

describe("options", () => {
  it("rejects bad options with InvalidArgumentError naming the option", () => {
    const ds = dataSource();
    const bad: Array<[unknown, RegExp]> = [
      [undefined, /options must be an object/],
      [{}, /option "client" must be a CacheClient/],
      [{ client: { servers: [] } }, /non-empty "servers"/],
      [{ client: { get() {} } }, /option "client"/],
      // A client from a core without snapshot(): stores could not be made safe against a racing commit.
      [{ client: { ...methodsOf(client), snapshot: undefined } }, /option "client" must be a CacheClient/],
      [{ client, invalidateOnWrite: "yes" }, /"invalidateOnWrite" must be a boolean/],
      [{ client, namespace: "" }, /"namespace" must be a non-empty string/],
      [{ client, namespace: 7 }, /"namespace" must be a non-empty string/],
    ];
    for (const [options, message] of bad) {
      const make = () => new McpairQueryResultCache(ds, options as never);
      expect(make).toThrow(InvalidArgumentError);
      expect(make).toThrow(message);
      expect(() => mcpairTypeormCache(options as never)).toThrow(message);
    }
    // The same wrapper with snapshot() is accepted.
    expect(() => new McpairQueryResultCache(ds, { client: methodsOf(client) as never })).not.toThrow();
    expect(() => new McpairQueryResultCache(undefined as never, { client })).toThrow(
      /must be the DataSource/,
    );
  });

  it("accepts a CacheClient or client options; the helper returns a provider for DataSource options", () => {
    const provider = mcpairTypeormCache({ client, invalidateOnWrite: true, namespace: "app" });
    const ds = dataSource({ cache: { provider } });
    expect(isMcpairQueryResultCache(ds.queryResultCache)).toBe(true);
    const cache = ds.queryResultCache as McpairQueryResultCache;
    expect(cache.namespace).toBe("app");
    expect(cache.client.namespaceName).toBe("app");
    // Client options: the cache creates its client in connect(), so it has none before.
    const owned = new McpairQueryResultCache(ds, { client: { servers: ["127.0.0.1:1"] } });
    expect(() => owned.client).toThrow(/not connected/);
    expect(isMcpairQueryResultCache({})).toBe(false);
    expect(() => cache.tagsOfTables("user")).toThrow(InvalidArgumentError);
    expect(cache.tagsOfTables(["public.User", "post"])).toEqual(["table:user", "table:post"]);
  });

  it("provider methods validate what TypeORM (or a caller) hands them", async () => {
    const cache = new McpairQueryResultCache(dataSource(), { client });
    await expect(cache.getFromCache(null as never)).rejects.toThrow(InvalidArgumentError);
    await expect(cache.storeInCache(undefined as never, undefined)).rejects.toThrow(
      /QueryResultCacheOptions/,
    );
    await expect(cache.remove("id" as never)).rejects.toThrow(/identifiers must be an array/);
    await expect(cache.invalidateTables("user")).rejects.toThrow(/invalidateTables: tables/);
  });

  it("cachedQuery validates its arguments", async () => {
    const ok = () => Promise.resolve(1);
    await expect(cachedQuery(client, "", ok, { ttl: 1 })).rejects.toThrow(/key must be a non-empty string/);
    await expect(cachedQuery(client, "k", "x" as never, { ttl: 1 })).rejects.toThrow(
      /query must be a function/,
    );
    await expect(cachedQuery(client, "k", ok, undefined as never)).rejects.toThrow(/`ttl` in seconds/);
    await expect(cachedQuery(client, "k", ok, { ttl: 0 })).rejects.toThrow(/"ttl" must be a positive number/);
    await expect(cachedQuery(client, "k", ok, { ttl: 1, tags: "t" as never })).rejects.toThrow(/"tags"/);
    await expect(cachedQuery(client, "k", ok, { ttl: 1, tables: [""] })).rejects.toThrow(/"tables"/);
    await expect(cachedQuery(client, "k", ok, { ttl: 1, tables: "user" })).rejects.toThrow(
      /array of non-empty/,
    );
    await expect(cachedQuery(dataSource(), "k", ok, { ttl: 1 })).rejects.toThrow(
      /DataSource whose cache.provider is a McpairQueryResultCache/,
    );
  });
});

describe("defaultNamespace", () => {
  it("names the connection: driver, host, port (default filled in), database, schema", () => {
    expect(
      defaultNamespace({
        type: "postgres",
        host: "db",
        database: "shop",
        schema: "sales",
      } as DataSourceOptions),
    ).toBe("typeorm:postgres:db:5432:shop:sales");
    expect(
      defaultNamespace({ type: "postgres", host: "db", port: 5432, database: "shop" } as DataSourceOptions),
    ).toBe("typeorm:postgres:db:5432:shop:");
    expect(
      defaultNamespace({ type: "mysql", url: "mysql://u:secret@db:3307/shop" } as DataSourceOptions),
    ).toBe("typeorm:mysql:db:3307:shop:");
    expect(
      defaultNamespace({
        type: "postgres",
        replication: { master: { host: "primary", database: "shop" }, slaves: [{ host: "replica" }] },
      } as DataSourceOptions),
    ).toBe("typeorm:postgres:primary:5432:shop:");
  });

  it("is the same for the same SQLite file and private for each in-memory database", () => {
    const file = { type: "better-sqlite3", database: "./data/app.sqlite" } as DataSourceOptions;
    expect(defaultNamespace(file)).toBe(defaultNamespace({ ...file }));
    expect(defaultNamespace(file)).toMatch(/^typeorm:better-sqlite3:\/.*\/data\/app\.sqlite$/);
    const memory = { type: "better-sqlite3", database: ":memory:" } as DataSourceOptions;
    expect(defaultNamespace(memory)).not.toBe(defaultNamespace(memory));
  });
});

describe("lifetimes", () => {
  it("keeps an item in memcached for the duration rounded up to seconds, plus one", () => {
    expect(memcachedTtl(1)).toBe(2);
    expect(memcachedTtl(1000)).toBe(2);
    expect(memcachedTtl(1001)).toBe(3);
    expect(memcachedTtl(60_000)).toBe(61);
  });

  it("expires exactly after time + duration", () => {
    expect(isExpiredAt({ time: 1000, duration: 500 }, 1500)).toBe(false);
    expect(isExpiredAt({ time: 1000, duration: 500 }, 1501)).toBe(true);
    expect(isExpiredAt({ duration: 500 }, 0)).toBe(true);
  });
});
