// What one cached TypeORM query costs in memcached requests and round trips: a hit, a miss (get, database query,
// store) and a committed write (its invalidation), with and without `invalidateOnWrite`, for a query on one table and
// on two (a LEFT JOIN). Prints one table.
//
//   npx tsx packages/typeorm/bench/requests.ts [--ops 20] [--latency 20]
//
// Three local memcached servers (replicas 2), each behind a TCP proxy that delays every chunk by `--latency` ms in
// each direction, so one round trip costs about 2 x latency and "round trips" = median time / (2 x latency) (the
// SQLite query runs in process: it adds well under one round trip). Requests are counted twice: by the client
// (`stats()`: keys read, and `scopeRequests`, the generation reads/creations/touches/bumps of namespaces and tags)
// and by the servers (`stats`: get, set, touch and delete commands summed over the three servers, so a write stored
// on two replicas counts twice). Background work a call leaves running is waited for before counting.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { createClient } from "@mcpair/memcached";
import { cleanupAll, type MemcachedServer, startFaultProxy, startMemcached } from "@mcpair/test-utils";
import { DataSource, type DataSourceOptions, EntitySchema } from "typeorm";
import { mcpairTypeormCache } from "../src/index.js";

const { values: args } = parseArgs({
  options: {
    ops: { type: "string", default: "20" },
    latency: { type: "string", default: "20" },
  },
});
const OPS = Number(args.ops);
const LATENCY = Number(args.latency);

interface Author {
  id: number;
  name: string;
  books?: Book[];
}
interface Book {
  id: number;
  title: string;
  authorId: number;
  author?: Author;
}
const AuthorEntity = new EntitySchema<Author>({
  name: "Author",
  tableName: "author",
  columns: { id: { type: "integer", primary: true, generated: "increment" }, name: { type: "varchar" } },
  relations: { books: { type: "one-to-many", target: "Book", inverseSide: "author" } },
});
const BookEntity = new EntitySchema<Book>({
  name: "Book",
  tableName: "book",
  columns: {
    id: { type: "integer", primary: true, generated: "increment" },
    title: { type: "varchar" },
    authorId: { type: "integer" },
  },
  relations: { author: { type: "many-to-one", target: "Author", joinColumn: { name: "authorId" } } },
});

const SERVER_COUNTERS = ["cmd_get", "cmd_set", "cmd_touch", "delete_hits", "delete_misses"] as const;

interface Counts {
  keysRead: number;
  scopeRequests: number;
  server: Record<(typeof SERVER_COUNTERS)[number], number>;
}

const servers: MemcachedServer[] = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
const proxies = await Promise.all(servers.map((s) => startFaultProxy({ host: s.host, port: s.port })));
const client = createClient({ servers: proxies.map((p) => p.address), replicas: 2, timeout: 5000 });
const dir = mkdtempSync(join(tmpdir(), "mcpair-typeorm-requests-"));
const database: DataSourceOptions = {
  type: "better-sqlite3",
  database: join(dir, "requests.sqlite"),
  entities: [AuthorEntity, BookEntity],
};

async function counts(): Promise<Counts> {
  const s = client.stats();
  const server = Object.fromEntries(SERVER_COUNTERS.map((c) => [c, 0])) as Counts["server"];
  for (const st of await Promise.all(servers.map((m) => m.stats()))) {
    for (const c of SERVER_COUNTERS) server[c] += Number(st[c] ?? 0);
  }
  return {
    keysRead: s.hitsPrimary + s.hitsReplica + s.misses + s.unavailable,
    scopeRequests: s.scopeRequests,
    server,
  };
}

/** Counts once nothing changes any more for a few round trips (a call may leave background work running). */
async function settledCounts(): Promise<Counts> {
  let last = JSON.stringify(await counts());
  for (;;) {
    await delay(8 * LATENCY + 50);
    const now = await counts();
    const json = JSON.stringify(now);
    if (json === last) return now;
    last = json;
  }
}

interface Row {
  variant: string;
  operation: string;
  ms: number;
  keysRead: number;
  scopeRequests: number;
  server: Counts["server"];
}

async function measure(
  variant: string,
  operation: string,
  op: (i: number) => Promise<unknown>,
): Promise<Row> {
  const before = await settledCounts();
  const times: number[] = [];
  for (let i = 0; i < OPS; i++) {
    const t = performance.now();
    await op(i);
    times.push(performance.now() - t);
  }
  const after = await settledCounts();
  times.sort((x, y) => x - y);
  const per = (a: number, b: number) => (a - b) / OPS;
  return {
    variant,
    operation,
    ms: times[Math.floor(times.length / 2)]!,
    keysRead: per(after.keysRead, before.keysRead),
    scopeRequests: per(after.scopeRequests, before.scopeRequests),
    server: Object.fromEntries(
      SERVER_COUNTERS.map((c) => [c, per(after.server[c], before.server[c])]),
    ) as Counts["server"],
  };
}

async function open(cache: DataSourceOptions["cache"], schema = false): Promise<DataSource> {
  const ds = new DataSource({
    ...database,
    cache,
    synchronize: schema,
    dropSchema: schema,
  } as DataSourceOptions);
  await ds.initialize();
  return ds;
}

const rows: Row[] = [];
try {
  const setup = await open(undefined, true);
  const authors = await setup
    .getRepository(AuthorEntity)
    .save(Array.from({ length: 4 * OPS }, (_, i) => ({ name: `author ${i}` })));
  await setup.getRepository(BookEntity).save(authors.map((a) => ({ title: "book", authorId: a.id })));
  await setup.destroy();
  for (const p of proxies) p.setLatency(LATENCY);

  const shapes = [
    { name: "1 table", relations: {} },
    { name: "2 tables", relations: { books: true } },
  ] as const;
  let block = 0;
  for (const invalidateOnWrite of [false, true]) {
    for (const shape of shapes) {
      const variant = `${invalidateOnWrite ? "invalidateOnWrite" : "plain"}, ${shape.name}`;
      const ds = await open({
        provider: mcpairTypeormCache({ client, invalidateOnWrite, namespace: `requests-${block}` }),
        duration: 60_000,
      });
      // Fresh ids per block, so the first pass is all misses; the warm-up creates the namespace and tag items.
      const base = block * OPS;
      block++;
      const repo = ds.getRepository(AuthorEntity);
      const find = (i: number) =>
        repo.find({ where: { id: authors[base + i]!.id }, relations: shape.relations, cache: true });
      await repo.find({ where: { id: authors[0]!.id }, relations: shape.relations, cache: true });
      await repo.update({ id: authors[0]!.id }, { name: "warm-up" });
      rows.push(await measure(variant, "miss", find));
      rows.push(await measure(variant, "hit", find));
      rows.push(
        await measure(variant, "write (update)", (i) =>
          repo.update({ id: authors[base + i]!.id }, { name: `renamed ${i}` }),
        ),
      );
      await ds.destroy();
    }
  }
} finally {
  await client.close();
  await Promise.all(proxies.map((p) => p.close()));
  await cleanupAll();
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
console.log(
  `\nPer operation, ${OPS} sequential operations each, ${LATENCY} ms added each way (round trip ≈ ${2 * LATENCY} ms)\n`,
);
console.log(
  "| variant | operation | median ms | ≈ round trips | client: keys read | client: scopeRequests | servers: get | set | touch | delete |",
);
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  const s = r.server;
  console.log(
    `| ${r.variant} | ${r.operation} | ${r.ms.toFixed(1)} | ${(r.ms / (2 * LATENCY)).toFixed(1)} | ${fmt(r.keysRead)} | ${fmt(r.scopeRequests)} | ${fmt(s.cmd_get)} | ${fmt(s.cmd_set)} | ${fmt(s.cmd_touch)} | ${fmt(s.delete_hits + s.delete_misses)} |`,
  );
}
