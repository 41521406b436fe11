import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { PairClient } from "@mcpair/memcached";
import { type Authors, createAuthors } from "./authors.js";
import { type Catalogue, createCatalogue } from "./catalogue.js";
import { createDashboard, type Dashboard } from "./dashboard/dashboard.js";
import type { Database } from "./db/database.js";
import { dispatch, HttpError, idParam, type Route, readJson, sendJson } from "./http.js";
import type { LocalCluster } from "./local-cluster/local-cluster.js";
import { Metrics } from "./metrics.js";
import { createReviews, type Reviews } from "./reviews.js";
import { createSessions, type Sessions } from "./sessions.js";

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
  /** Writes (price updates, sessions) per client and minute; then 429. @default 120 */
  writesPerMinute?: number;
}

export interface App {
  /** `http://host:port` */
  readonly url: string;
  readonly metrics: Metrics;
  readonly catalogue: Catalogue;
  readonly sessions: Sessions;
  readonly authors: Authors;
  readonly reviews: Reviews;
  readonly dashboard: Dashboard;
  /** Stops accepting requests and closes open ones (including dashboard streams). */
  close(): Promise<void>;
}

/**
 * The bookshop: a JSON API over the catalogue, and the live dashboard.
 *
 *   GET  /api/books/:id        the hot endpoint, read through mcpair's `fetch`
 *   PUT  /api/books/:id        { "priceCents": 1999 }: database update, then cache invalidation
 *   GET  /api/authors/:id      an author and their titles, through TypeORM (mcpair query-result cache)
 *   PUT  /api/authors/:id      { "bio": "..." }: through TypeORM, which invalidates the cached author queries
 *   GET  /api/books/:id/reviews  the latest reviews, through Prisma (mcpair cache extension)
 *   POST /api/books/:id/reviews  { "rating": 5, "body": "..." }: through Prisma, which invalidates them
 *   POST /api/session          { "name": "Ada" }: a session in Keyv (cookie `sid`)
 *   GET  /api/session          the session of the `sid` cookie
 *   POST /api/cart             { "bookId": 12 }: into the session's cart
 * Writes are rate-limited per client (Keyv).
 *   GET  /dashboard            servers, charts, buttons
 *   GET  /health
 */
export async function startApp(options: AppOptions): Promise<App> {
  const { cache, db } = options;
  const metrics = new Metrics(db, cache);
  const catalogue = createCatalogue(cache, db, (loaded) => metrics.read(loaded));
  const sessions = createSessions(cache, { writesPerMinute: options.writesPerMinute });
  const authors = await createAuthors(cache, db);
  const reviews = createReviews(cache, db);
  const limitWrites = async (req: IncomingMessage) => {
    if (!(await sessions.allowWrite(req.socket.remoteAddress ?? "unknown")))
      throw new HttpError(429, "too many writes from this client: try again next minute");
  };
  const sessionOf = async (req: IncomingMessage) => {
    const sid = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
    const session = sid ? await sessions.get(decodeURIComponent(sid)) : undefined;
    if (!sid || !session) throw new HttpError(401, "no session: POST /api/session first");
    return { sid: decodeURIComponent(sid), session };
  };
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
        await limitWrites(req);
        const { priceCents } = await readJson(req);
        if (typeof priceCents !== "number" || !Number.isSafeInteger(priceCents) || priceCents < 0)
          throw new HttpError(400, '"priceCents" must be a whole number of cents, 0 or more');
        const book = await catalogue.setPrice(idParam(id), priceCents);
        if (book === null) throw new HttpError(404, `no book ${id}`);
        sendJson(res, 200, book);
      },
    },
    {
      method: "GET",
      path: /^\/api\/authors\/([^/]+)$/,
      handler: async (_req, res, [id]) => {
        const page = await authors.page(idParam(id));
        if (page === null) throw new HttpError(404, `no author ${id}`);
        sendJson(res, 200, page);
      },
    },
    {
      method: "PUT",
      path: /^\/api\/authors\/([^/]+)$/,
      handler: async (req, res, [id]) => {
        await limitWrites(req);
        const { bio } = await readJson(req);
        if (typeof bio !== "string" || bio.length > 2000)
          throw new HttpError(400, '"bio" must be a string of at most 2000 characters');
        const author = await authors.setBio(idParam(id), bio);
        if (author === null) throw new HttpError(404, `no author ${id}`);
        sendJson(res, 200, author);
      },
    },
    {
      method: "GET",
      path: /^\/api\/books\/([^/]+)\/reviews$/,
      handler: async (_req, res, [id]) => sendJson(res, 200, await reviews.latest(idParam(id))),
    },
    {
      method: "POST",
      path: /^\/api\/books\/([^/]+)\/reviews$/,
      handler: async (req, res, [id]) => {
        await limitWrites(req);
        const bookId = idParam(id);
        const { rating, body } = await readJson(req);
        if (typeof rating !== "number" || !Number.isInteger(rating) || rating < 1 || rating > 5)
          throw new HttpError(400, '"rating" must be a whole number from 1 to 5');
        if (typeof body !== "string" || body.length === 0 || body.length > 2000)
          throw new HttpError(400, '"body" must be a string of 1 to 2000 characters');
        if ((await catalogue.book(bookId)) === null) throw new HttpError(404, `no book ${bookId}`);
        sendJson(res, 201, await reviews.add(bookId, rating, body));
      },
    },
    {
      method: "POST",
      path: /^\/api\/session$/,
      handler: async (req, res) => {
        await limitWrites(req);
        const { name } = await readJson(req);
        if (typeof name !== "string" || name.length === 0 || name.length > 100)
          throw new HttpError(400, '"name" must be a string of 1 to 100 characters');
        const { id, session } = await sessions.create(name);
        res.setHeader("set-cookie", `sid=${encodeURIComponent(id)}; HttpOnly; SameSite=Lax; Path=/`);
        sendJson(res, 201, session);
      },
    },
    {
      method: "GET",
      path: /^\/api\/session$/,
      handler: async (req, res) => sendJson(res, 200, (await sessionOf(req)).session),
    },
    {
      method: "POST",
      path: /^\/api\/cart$/,
      handler: async (req, res) => {
        const { sid } = await sessionOf(req);
        const { bookId } = await readJson(req);
        const id = idParam(String(bookId));
        if ((await catalogue.book(id)) === null) throw new HttpError(404, `no book ${id}`);
        sendJson(res, 200, await sessions.addToCart(sid, id));
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
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
    });
  } catch (error) {
    // Port taken, say: release what was opened before failing.
    dashboard.close();
    await Promise.allSettled([authors.close(), reviews.close()]);
    throw error;
  }
  const { address, port } = server.address() as AddressInfo;
  metrics.start();

  let closing: Promise<void> | undefined;
  return {
    url: `http://${address}:${port}`,
    metrics,
    catalogue,
    sessions,
    authors,
    reviews,
    dashboard,
    close() {
      closing ??= (async () => {
        metrics.stop();
        dashboard.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await Promise.allSettled([authors.close(), reviews.close()]);
      })();
      return closing;
    },
  };
}
