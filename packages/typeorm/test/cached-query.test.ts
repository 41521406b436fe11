// cachedQuery: one database query per key across processes (core fetch, memcached leases), invalidated by TypeORM
// writes to the tables it names and by clear(). Real memcached (3 servers, replicas 2), real SQLite file.
import { setTimeout as delay } from "node:timers/promises";
import type { PairClient } from "@mcpair/core";
import { createClient } from "@mcpair/memcached";
import { type MemcachedServer, startMemcached, useMemcachedCleanup } from "@mcpair/test-utils";
import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cachedQuery, type McpairQueryResultCache, mcpairTypeormCache } from "../src/index.js";
import { type User, UserEntity } from "./support/entities.js";
import { openDataSource, openTestDatabase, type QueryLog, type TestDatabase } from "./support/harness.js";

useMemcachedCleanup();

describe("cachedQuery", () => {
  let servers: MemcachedServer[];
  let db: TestDatabase;
  const clients: PairClient[] = [];
  const nodes: Array<{ ds: DataSource; log: QueryLog }> = [];

  async function node(schema: boolean) {
    const client = createClient({ servers: servers.map((s) => s.address), replicas: 2, timeout: 2000 });
    clients.push(client);
    const opened = await openDataSource(
      db,
      { provider: mcpairTypeormCache({ client, invalidateOnWrite: true }), duration: 60_000 },
      { schema },
    );
    nodes.push(opened);
    return opened;
  }

  beforeAll(async () => {
    servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    db = await openTestDatabase("sqlite");
  });
  afterAll(async () => {
    for (const n of nodes) await n.ds.destroy();
    await Promise.all(clients.map((c) => c.close()));
    db?.dispose();
  });

  it("runs the query once for 20 concurrent callers in two processes; a TypeORM write or clear() reloads it", async () => {
    const a = await node(true);
    const b = await node(false);
    await a.ds.getRepository(UserEntity).save([{ name: "ada" }, { name: "bob" }]);
    let loads = 0;
    /** A query slow enough (50 ms) that every caller arrives while it runs. */
    const loader = (ds: DataSource) => async () => {
      loads++;
      const users = await ds.getRepository(UserEntity).find({ order: { id: "ASC" } });
      await delay(50);
      return users.map((u: User) => u.name);
    };
    const call = (n: { ds: DataSource }) =>
      cachedQuery(n.ds, "user-names", loader(n.ds), { ttl: 60, tables: ["user"] });

    const readsBefore = a.log.reads() + b.log.reads();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call(i % 2 === 0 ? a : b)));
    expect(loads).toBe(1);
    expect(a.log.reads() + b.log.reads() - readsBefore).toBe(1);
    for (const r of results) expect(r).toEqual(["ada", "bob"]);

    await b.ds.getRepository(UserEntity).save({ name: "cy" });
    expect(await call(a)).toEqual(["ada", "bob", "cy"]);
    expect(loads).toBe(2);
    expect(await call(b)).toEqual(["ada", "bob", "cy"]);
    expect(loads).toBe(2);

    await (a.ds.queryResultCache as McpairQueryResultCache).clear();
    await call(b);
    expect(loads).toBe(3);
  });

  it("works on a plain CacheClient: tables become that client's table tags", async () => {
    const ns = clients[0]!.namespace("reports");
    let loads = 0;
    const load = async () => {
      loads++;
      return { total: 42 };
    };
    expect(await cachedQuery(ns, "total", load, { ttl: 60, tables: ["Orders"], tags: ["report"] })).toEqual({
      total: 42,
    });
    expect(await cachedQuery(ns, "total", load, { ttl: 60, tables: ["Orders"], tags: ["report"] })).toEqual({
      total: 42,
    });
    expect(loads).toBe(1);
    await ns.invalidateTags(["table:orders"]);
    await cachedQuery(ns, "total", load, { ttl: 60, tables: ["Orders"], tags: ["report"] });
    expect(loads).toBe(2);
    await ns.invalidateTags(["report"]);
    await cachedQuery(ns, "total", load, { ttl: 60, tables: ["Orders"], tags: ["report"] });
    expect(loads).toBe(3);
  });
});
