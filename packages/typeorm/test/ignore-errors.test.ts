// TypeORM's `ignoreErrors` with memcached down: initialize() still succeeds, queries and writes run against the
// database, and caching resumes when memcached is back. Without it, failures surface as TypeORM's own providers do.
// The cache owns its client here (created from options in connect(), closed in disconnect()).
import { ServerUnavailableError } from "@mcpair/core";
import type { ClientOptions } from "@mcpair/memcached";
import { type MemcachedServer, startMemcached, useMemcachedCleanup, waitFor } from "@mcpair/test-utils";
import { DataSource, type DataSourceOptions } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type McpairQueryResultCache, mcpairTypeormCache } from "../src/index.js";
import { UserEntity } from "./support/entities.js";
import { openDataSource, openTestDatabase, QueryLog, type TestDatabase } from "./support/harness.js";

useMemcachedCleanup();

describe("memcached unreachable", () => {
  let servers: MemcachedServer[];
  let db: TestDatabase;
  let clientOptions: ClientOptions;

  beforeAll(async () => {
    servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    db = await openTestDatabase("sqlite");
    clientOptions = {
      servers: servers.map((s) => s.address),
      replicas: 2,
      timeout: 1000,
      connectTimeout: 1000,
      // One process: no other process needs time to replay hints before this one reads a returning server.
      health: { rejoinQuarantine: 0, probeInterval: 100, maxProbeInterval: 200 },
    };
    await Promise.all(servers.map((s) => s.kill()));
  });
  afterAll(() => db?.dispose());

  it("with ignoreErrors: initialize() succeeds, queries and writes run, caching resumes when memcached is back", async () => {
    const { ds, log } = await openDataSource(
      db,
      {
        provider: mcpairTypeormCache({ client: clientOptions, invalidateOnWrite: true }),
        ignoreErrors: true,
        duration: 60_000,
      },
      { schema: true },
    );
    try {
      expect(log.warnings.some((w) => /not reachable at connect/.test(w))).toBe(true);
      await ds.getRepository(UserEntity).save({ name: "ada" });
      expect(log.warnings.some((w) => /could not invalidate table:user/.test(w))).toBe(true);
      const find = () => ds.getRepository(UserEntity).find({ cache: true });
      const runs = await log.count(async () => [await find(), await find()]);
      expect(runs.reads).toBe(2);
      expect(runs.value.map((r) => r.map((u) => u.name))).toEqual([["ada"], ["ada"]]);

      await Promise.all(servers.map((s) => s.start()));
      // Once the client has probed the servers back, the second of two finds is served from the cache.
      await waitFor(async () => (await log.count(async () => [await find(), await find()])).reads === 1, {
        timeout: 10_000,
        what: "caching to resume",
      });
      expect(await find()).toEqual([expect.objectContaining({ name: "ada" })]);
    } finally {
      await ds.destroy();
    }
    // destroy() closed the client the cache owned.
    expect(() => (ds.queryResultCache as McpairQueryResultCache).client).toThrow(/not connected/);
  });

  it("without ignoreErrors: initialize() rejects while no server answers, as with TypeORM's own providers", async () => {
    await Promise.all(servers.map((s) => s.kill()));
    const ds = new DataSource({
      ...db.options,
      logger: new QueryLog(),
      cache: { provider: mcpairTypeormCache({ client: clientOptions }) },
    } as DataSourceOptions);
    try {
      await expect(ds.initialize()).rejects.toBeInstanceOf(ServerUnavailableError);
    } finally {
      // initialize() opened the database before the cache failed, and does not close it.
      await ds.driver.disconnect();
      await ds.queryResultCache?.disconnect();
    }
  });
});
