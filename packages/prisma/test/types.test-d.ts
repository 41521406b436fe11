// Type tests (vitest typecheck, tsc): `cache` and `cacheStrategy` are accepted on every read method, rejected on
// every write, and the result types are exactly Prisma's own. Never executed.
import type { CacheClient } from "@mcpair/core";
import { describe, expectTypeOf, it } from "vitest";
import { type CacheControl, type CacheStats, mcpairCache } from "../src/index.js";
import type { PrismaClient, User } from "./generated/sqlite/client.js";

declare const base: PrismaClient;
declare const client: CacheClient;
const prisma = base.$extends(mcpairCache({ client }));
const cache = { ttl: 60, swr: 30, tags: ["users"], key: "k" };

describe("read methods accept cache and keep their result types", () => {
  it("findMany, with and without select/include", async () => {
    expectTypeOf(await prisma.user.findMany({ where: { name: "a" }, cache })).toEqualTypeOf(
      await base.user.findMany({ where: { name: "a" } }),
    );
    expectTypeOf(await prisma.user.findMany({ cache: { ttl: 1 } })).toEqualTypeOf<User[]>();
    const included = await prisma.user.findMany({
      include: { posts: { include: { comments: true } } },
      cache,
    });
    expectTypeOf(included).toEqualTypeOf(
      await base.user.findMany({ include: { posts: { include: { comments: true } } } }),
    );
    expectTypeOf(included[0]!.posts[0]!.comments[0]!.body).toEqualTypeOf<string>();
    const selected = await prisma.user.findMany({ select: { id: true, balance: true, _count: true }, cache });
    expectTypeOf(selected).toEqualTypeOf(
      await base.user.findMany({ select: { id: true, balance: true, _count: true } }),
    );
    const omitted = await prisma.user.findMany({ omit: { avatar: true }, cache });
    expectTypeOf(omitted).toEqualTypeOf(await base.user.findMany({ omit: { avatar: true } }));
  });

  it("findUnique(OrThrow) and findFirst(OrThrow)", async () => {
    expectTypeOf(await prisma.user.findUnique({ where: { id: 1 }, cache })).toEqualTypeOf<User | null>();
    expectTypeOf(await prisma.user.findUniqueOrThrow({ where: { id: 1 }, cache })).toEqualTypeOf<User>();
    expectTypeOf(await prisma.user.findFirst({ cache })).toEqualTypeOf<User | null>();
    expectTypeOf(await prisma.user.findFirstOrThrow({ where: { email: "e" }, cache })).toEqualTypeOf<User>();
    expectTypeOf(
      await prisma.post.findUnique({
        where: { id: 1 },
        select: { author: { select: { email: true } } },
        cache,
      }),
    ).toEqualTypeOf(
      await base.post.findUnique({ where: { id: 1 }, select: { author: { select: { email: true } } } }),
    );
  });

  it("count, aggregate and groupBy", async () => {
    expectTypeOf(await prisma.user.count({ cache })).toEqualTypeOf<number>();
    expectTypeOf(await prisma.user.count({ select: { _all: true, name: true }, cache })).toEqualTypeOf(
      await base.user.count({ select: { _all: true, name: true } }),
    );
    expectTypeOf(await prisma.user.aggregate({ _sum: { balance: true }, _count: true, cache })).toEqualTypeOf(
      await base.user.aggregate({ _sum: { balance: true }, _count: true }),
    );
    const groups = await prisma.post.groupBy({
      by: ["authorId"],
      _count: { _all: true },
      orderBy: { authorId: "asc" },
      cache,
    });
    expectTypeOf(groups).toEqualTypeOf(
      await base.post.groupBy({ by: ["authorId"], _count: { _all: true }, orderBy: { authorId: "asc" } }),
    );
  });

  it("Accelerate's cacheStrategy, cache: false, and no cache at all", async () => {
    expectTypeOf(
      await prisma.user.findMany({ cacheStrategy: { ttl: 60, swr: 10, tags: ["t"] } }),
    ).toEqualTypeOf<User[]>();
    expectTypeOf(await prisma.user.findMany({ cacheStrategy: { swr: 10 } })).toEqualTypeOf<User[]>();
    expectTypeOf(await prisma.user.findMany({ cache: false })).toEqualTypeOf<User[]>();
    expectTypeOf(await prisma.user.findMany()).toEqualTypeOf<User[]>();
  });
});

describe("transaction clients", () => {
  it("accept cache on reads and reject it on writes", async () => {
    await prisma.$transaction(async (tx) => {
      expectTypeOf(await tx.user.findMany({ where: { name: "a" }, cache })).toEqualTypeOf<User[]>();
      expectTypeOf(await tx.user.count({ cacheStrategy: { ttl: 1 } })).toEqualTypeOf<number>();
      // @ts-expect-error writes take no cache
      await tx.user.update({ where: { id: 1 }, data: {}, cache });
    });
  });
});

describe("cache is rejected where it does not belong", () => {
  it("on every write", () => {
    // @ts-expect-error writes take no cache
    void prisma.user.create({ data: { email: "e" }, cache });
    // @ts-expect-error writes take no cache
    void prisma.user.createMany({ data: [{ email: "e" }], cache });
    // @ts-expect-error writes take no cache
    void prisma.user.createManyAndReturn({ data: [{ email: "e" }], cache });
    // @ts-expect-error writes take no cache
    void prisma.user.update({ where: { id: 1 }, data: { name: "n" }, cache });
    // @ts-expect-error writes take no cache
    void prisma.user.updateMany({ data: { name: "n" }, cache });
    // @ts-expect-error writes take no cache
    void prisma.user.updateManyAndReturn({ data: { name: "n" }, cache });
    // @ts-expect-error writes take no cache
    void prisma.user.upsert({ where: { id: 1 }, create: { email: "e" }, update: {}, cache });
    // @ts-expect-error writes take no cache
    void prisma.user.delete({ where: { id: 1 }, cache });
    // @ts-expect-error writes take no cache
    void prisma.user.deleteMany({ cache });
    // @ts-expect-error nor Accelerate's spelling
    void prisma.user.update({ where: { id: 1 }, data: {}, cacheStrategy: { ttl: 1 } });
  });

  it("malformed policies", () => {
    // @ts-expect-error ttl is a number of seconds
    void prisma.user.findMany({ cache: { ttl: "60" } });
    // @ts-expect-error ttl is required in `cache`
    void prisma.user.findMany({ cache: { swr: 1 } });
    // @ts-expect-error unknown field
    void prisma.user.findMany({ cache: { ttl: 1, tag: ["x"] } });
    // @ts-expect-error Accelerate's spelling has no key
    void prisma.user.findMany({ cacheStrategy: { ttl: 1, key: "k" } });
    // @ts-expect-error Prisma's own argument checks still apply
    void prisma.user.findMany({ where: { nope: 1 }, cache });
  });
});

describe("$cache", () => {
  it("is typed", () => {
    expectTypeOf(prisma.$cache).toEqualTypeOf<CacheControl>();
    expectTypeOf(prisma.$cache.invalidate({ tags: ["users"] })).toEqualTypeOf<Promise<void>>();
    expectTypeOf(prisma.$cache.stats()).toEqualTypeOf<CacheStats>();
    // @ts-expect-error tags are strings
    void prisma.$cache.invalidate({ tags: [1] });
  });
});
