// `npm start -w @mcpair/example`: the bookshop alone, without the scenario.
//   MEMCACHED_SERVERS=10.0.0.1:11211,10.0.0.2:11211,10.0.0.3:11211   your servers (default: three local ones)
//   DATABASE_URL=postgres://...                                      PostgreSQL (default: an SQLite file)
//   PORT=3000                                                        (default: 3000)
import { createClient } from "@mcpair/memcached";
import { startApp } from "../app.js";
import { openDatabase } from "../db/open.js";
import type { LocalCluster } from "../local-cluster/local-cluster.js";
import { startLocalCluster } from "../local-cluster/start-local-cluster.js";

const servers = process.env.MEMCACHED_SERVERS?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);
let cluster: LocalCluster | undefined;
if (!servers?.length) {
  cluster = await startLocalCluster(3);
  console.log(`cache: ${cluster.description}`);
}
// mcpair's defaults: every key on a pair of servers, lifetimes capped at 23 h. One process of the fleet rewarms a
// server that comes back empty.
const cache = cluster
  ? cluster.createClient({ rewarm: {} })
  : createClient({ servers: servers!, rewarm: {} });
const db = await openDatabase();
const app = await startApp({ cache, db, cluster, port: Number(process.env.PORT ?? 3000) });
console.log(`bookshop: ${app.url}/api/books/1  dashboard: ${app.url}/dashboard  (database: ${db.kind})`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    await app.close();
    await cache.close();
    await db.close();
    await cluster?.close();
    process.exit(0);
  });
}
