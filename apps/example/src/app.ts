import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { PairClient } from "@mcpair/memcached";
import { type Catalogue, createCatalogue } from "./catalogue.js";
import { createDashboard, type Dashboard } from "./dashboard/dashboard.js";
import type { Database } from "./db/database.js";
import { dispatch, HttpError, idParam, type Route, readJson, sendJson } from "./http.js";
import type { LocalCluster } from "./local-cluster/local-cluster.js";
import { Metrics } from "./metrics.js";

export interface AppOptions {
  /** The mcpair client (from `createClient`); the app does not close it. */
  cache: PairClient;
  /** The database (from `openDatabase`); the app does not close it. */
  db: Database;
  /** Servers this process started: the dashboard can then kill and restart them, not only drain and rewarm. */
  cluster?: LocalCluster | undefined;
  /** @default 0 (any free port) */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
}

export interface App {
  /** `http://host:port` */
  readonly url: string;
  readonly metrics: Metrics;
  readonly catalogue: Catalogue;
  readonly dashboard: Dashboard;
  /** Stops accepting requests and closes open ones (including dashboard streams). */
  close(): Promise<void>;
}

/**
 * The bookshop: a JSON API over the catalogue, and the live dashboard.
 *
 *   GET  /api/books/:id        the hot endpoint, read through mcpair's `fetch`
 *   PUT  /api/books/:id        { "priceCents": 1999 }: database update, then cache invalidation
 *   GET  /dashboard            servers, charts, buttons
 *   GET  /health
 */
export async function startApp(options: AppOptions): Promise<App> {
  const { cache, db } = options;
  const metrics = new Metrics(db, cache);
  const catalogue = createCatalogue(cache, db, (key, loaded) => metrics.read(key, loaded));
  const dashboard = createDashboard({
    cache,
    metrics,
    cluster: options.cluster,
    backend: `${options.cluster?.description ?? `${cache.servers.length} memcached servers`}; database: ${db.kind}`,
  });

  const routes: Route[] = [
    {
      method: "GET",
      path: /^\/api\/books\/([^/]+)$/,
      handler: async (_req, res, [id]) => {
        const book = await catalogue.book(idParam(id));
        if (book === null) throw new HttpError(404, `no book ${id}`);
        sendJson(res, 200, book);
      },
    },
    {
      method: "PUT",
      path: /^\/api\/books\/([^/]+)$/,
      handler: async (req, res, [id]) => {
        const { priceCents } = await readJson(req);
        if (typeof priceCents !== "number" || !Number.isSafeInteger(priceCents) || priceCents < 0)
          throw new HttpError(400, '"priceCents" must be a whole number of cents, 0 or more');
        const book = await catalogue.setPrice(idParam(id), priceCents);
        if (book === null) throw new HttpError(404, `no book ${id}`);
        sendJson(res, 200, book);
      },
    },
    { method: "GET", path: /^\/health$/, handler: (_req, res) => sendJson(res, 200, { ok: true }) },
    ...dashboard.routes,
  ];

  const server = createServer((req, res) => {
    metrics.request();
    void dispatch(routes, req, res);
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  metrics.start();

  let closing: Promise<void> | undefined;
  return {
    url: `http://${address}:${port}`,
    metrics,
    catalogue,
    dashboard,
    close() {
      closing ??= new Promise<void>((resolve) => {
        metrics.stop();
        dashboard.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
