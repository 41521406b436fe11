// The bookshop's API end to end, on three real memcached servers, with SQLite and with PostgreSQL: what each
// endpoint caches (measured by the database's own statement counter), that every write path invalidates what it
// must (the hot endpoint by hand, TypeORM and Prisma by their integrations), sessions and the rate limit in Keyv,
// and input validation.

import { createClient, type PairClient } from "@mcpair/memcached";
import { type MemcachedServer, startMemcached, useMemcachedCleanup } from "@mcpair/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, startApp } from "../src/app.js";
import type { Database } from "../src/db/database.js";
import { openDatabase } from "../src/db/open.js";
import { call } from "./support/http.js";
import { POSTGRES_URL } from "./support/postgres.js";

useMemcachedCleanup();

describe.each(["sqlite", "postgres"] as const)("bookshop API on %s", (kind) => {
  let servers: MemcachedServer[];
  let cache: PairClient;
  let db: Database;
  let app: App;
  const reads = () => db.queries.reads;
  const get = (path: string, headers?: Record<string, string>) =>
    call(app.url, "GET", path, undefined, headers);

  beforeAll(async () => {
    servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    cache = createClient({ servers: servers.map((s) => s.address) });
    db = await openDatabase({ books: 300, url: kind === "postgres" ? POSTGRES_URL : undefined });
    app = await startApp({ cache, db, writesPerMinute: 1000 });
  });

  afterAll(async () => {
    await app?.close();
    await cache?.close();
    await db?.close();
  });

  it("serves a book from the cache after the first read, and a price update is read back at once", async () => {
    const id = 1 + Math.floor(Math.random() * 300);
    const before = reads();
    const first = await get(`/api/books/${id}`);
    expect(first.status).toBe(200);
    expect(reads() - before).toBe(1);
    const again = await get(`/api/books/${id}`);
    expect(again.body).toEqual(first.body);
    expect(reads() - before).toBe(1);

    const updated = await call(app.url, "PUT", `/api/books/${id}`, { priceCents: 4321 });
    expect(updated.status).toBe(200);
    expect(updated.body.version).toBe((first.body.version as number) + 1);
    const after = await get(`/api/books/${id}`);
    expect(after.body).toMatchObject({ id, priceCents: 4321, version: updated.body.version });
    // Both replicas were invalidated: the read after the write went to the database once, then it is cached again.
    await get(`/api/books/${id}`);
    expect(reads() - before).toBe(2);
  });

  it("caches author pages through TypeORM and invalidates them when TypeORM writes the author", async () => {
    const before = reads();
    const page = await get("/api/authors/3");
    expect(page.status).toBe(200);
    expect((page.body.books as unknown[]).length).toBeGreaterThan(0);
    const afterFirst = reads();
    expect(afterFirst - before).toBeGreaterThanOrEqual(1);
    await get("/api/authors/3");
    expect(reads()).toBe(afterFirst);

    const bio = `bio ${Date.now()}`;
    expect((await call(app.url, "PUT", "/api/authors/3", { bio })).status).toBe(200);
    const changed = await get("/api/authors/3");
    expect(changed.body.bio).toBe(bio);
    expect(changed.body.books).toEqual(page.body.books);
  });

  it("caches reviews through Prisma and invalidates them when Prisma writes one", async () => {
    const id = 1 + Math.floor(Math.random() * 300);
    const first = await get(`/api/books/${id}/reviews`);
    expect(first.status).toBe(200);
    const afterFirst = reads();
    await get(`/api/books/${id}/reviews`);
    expect(reads()).toBe(afterFirst);

    const body = `review ${Date.now()}`;
    const created = await call(app.url, "POST", `/api/books/${id}/reviews`, { rating: 4, body });
    expect(created.status).toBe(201);
    const latest = await get(`/api/books/${id}/reviews`);
    expect(latest.body[0]).toMatchObject({ id: created.body.id, bookId: id, rating: 4, body });
  });

  it("keeps sessions and carts in Keyv", async () => {
    const login = await call(app.url, "POST", "/api/session", { name: "Ada" });
    expect(login.status).toBe(201);
    const cookie = login.cookie!.split(";")[0]!;
    expect(cookie).toMatch(/^sid=/);
    expect((await call(app.url, "POST", "/api/cart", { bookId: 12 }, { cookie })).body.cart).toEqual([12]);
    expect((await get("/api/session", { cookie })).body).toMatchObject({ name: "Ada", cart: [12] });
    expect((await get("/api/session", { cookie: "sid=unknown" })).status).toBe(401);
    expect((await get("/api/session")).status).toBe(401);
  });

  it("rejects bad input with a message that says what is wrong", async () => {
    expect(await call(app.url, "PUT", "/api/books/abc", { priceCents: 1 })).toMatchObject({
      status: 400,
      body: { error: 'not an id: "abc"' },
    });
    expect((await call(app.url, "PUT", "/api/books/1", { priceCents: -5 })).body.error).toMatch(/priceCents/);
    expect((await call(app.url, "POST", "/api/books/1/reviews", { rating: 9, body: "x" })).status).toBe(400);
    expect((await get("/api/books/999999")).status).toBe(404);
    expect((await get("/api/nothing")).status).toBe(404);
  });
});

describe("write rate limit (Keyv)", () => {
  it("answers 429 once a client used its writes of the minute", async () => {
    const servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    const cache = createClient({ servers: servers.map((s) => s.address) });
    const db = await openDatabase({ books: 20 });
    const app = await startApp({ cache, db, writesPerMinute: 3 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await call(app.url, "PUT", "/api/books/1", { priceCents: 100 + i })).status);
      // A minute boundary may fall between two writes and reset the window: at least the 4th or 5th is refused.
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses.slice(3)).toContain(429);
    } finally {
      await app.close();
      await cache.close();
      await db.close();
    }
  });
});
