import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import type { DataSourceOptions } from "typeorm";

/** Drivers whose `database` option is a file (or `:memory:`) on this machine. */
const FILE_DRIVERS = new Set([
  "sqlite",
  "better-sqlite3",
  "sqljs",
  "capacitor",
  "cordova",
  "expo",
  "nativescript",
]);

/** Default ports, so that `host: "db"` and `host: "db", port: 5432` name the same database. */
const DEFAULT_PORTS: Record<string, number> = {
  postgres: 5432,
  "aurora-postgres": 5432,
  cockroachdb: 26257,
  mysql: 3306,
  mariadb: 3306,
  "aurora-mysql": 3306,
  mssql: 1433,
  oracle: 1521,
  sap: 30015,
};

/**
 * The namespace a cache uses when the `namespace` option is not set: `typeorm:` followed by the connection's identity
 * (driver type, host, port, database, schema). Every process connected to the same database shares it, so they share
 * cached queries and see each other's invalidations; an app on another database gets another namespace.
 *
 * TypeORM 1.x DataSources have no name, so two DataSources with the same options get the same namespace (which is
 * right when they read the same data). A `:memory:` SQLite database is private to its DataSource: it gets a namespace
 * of its own. Identities are taken from the options as written: `localhost` and `127.0.0.1` differ, so do two
 * processes that set `schema` differently. Set the `namespace` option to be explicit.
 */
export function defaultNamespace(options: DataSourceOptions): string {
  const o = options as unknown as Record<string, unknown>;
  const type = String(o.type ?? "unknown");
  if (FILE_DRIVERS.has(type)) {
    const file =
      typeof o.database === "string" ? o.database : typeof o.location === "string" ? o.location : "";
    if (file === "" || file === ":memory:") return `typeorm:${type}:memory:${randomUUID()}`;
    return `typeorm:${type}:${resolve(file)}`;
  }
  // With replication, the master is where writes (and so invalidations) happen.
  const replication = o.replication as { master?: Record<string, unknown> } | undefined;
  const source = replication?.master !== undefined ? { ...o, ...replication.master } : o;
  let host = source.host;
  let port = source.port;
  let database = source.database ?? source.sid ?? source.serviceName;
  if (typeof source.url === "string") {
    try {
      const url = new URL(source.url);
      host ??= url.hostname;
      if (url.port !== "") port ??= Number(url.port);
      if (url.pathname.length > 1) database ??= decodeURIComponent(url.pathname.slice(1));
    } catch {
      // An unparsable URL: the driver will say so; the identity just lacks these parts.
    }
  }
  port ??= DEFAULT_PORTS[type];
  const schema = source.schema ?? "";
  return [
    "typeorm",
    type,
    String(host ?? ""),
    String(port ?? ""),
    String(database ?? ""),
    String(schema),
  ].join(":");
}
