import type { Prisma } from "@prisma/client/extension";
import type { CacheArgs } from "./options.js";

/**
 * The read methods as the extended client types them: Prisma's own arguments plus {@link CacheArgs}, and Prisma's own
 * result type. Writes are not listed, so they keep Prisma's exact argument types, which reject `cache` (a type error,
 * as asked). `Prisma.Exact` keeps excess-property checks and literal inference, as in Prisma's documented pattern.
 *
 * These signatures exist for the type checker only: at run time the extension adds no model methods (see
 * `extension.ts`), so every call goes through Prisma's own method and every query extension in the chain.
 * The return type is a `PrismaPromise`: like Accelerate's extension, a cached `findUnique` has no typed fluent API
 * (`.posts()`); the call itself still works at run time.
 */
export type CachedReadMethods = {
  findUnique<T, A>(
    this: T,
    args: Prisma.Exact<A, Prisma.Args<T, "findUnique"> & CacheArgs>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findUnique">>;
  findUniqueOrThrow<T, A>(
    this: T,
    args: Prisma.Exact<A, Prisma.Args<T, "findUniqueOrThrow"> & CacheArgs>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findUniqueOrThrow">>;
  findFirst<T, A>(
    this: T,
    args?: Prisma.Exact<A, Prisma.Args<T, "findFirst"> & CacheArgs>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findFirst">>;
  findFirstOrThrow<T, A>(
    this: T,
    args?: Prisma.Exact<A, Prisma.Args<T, "findFirstOrThrow"> & CacheArgs>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findFirstOrThrow">>;
  findMany<T, A>(
    this: T,
    args?: Prisma.Exact<A, Prisma.Args<T, "findMany"> & CacheArgs>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "findMany">>;
  count<T, A>(
    this: T,
    args?: Prisma.Exact<A, Prisma.Args<T, "count"> & CacheArgs>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "count">>;
  aggregate<T, A>(
    this: T,
    args: Prisma.Exact<A, Prisma.Args<T, "aggregate"> & CacheArgs>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "aggregate">>;
  groupBy<T, A>(
    this: T,
    args: Prisma.Exact<A, Prisma.Args<T, "groupBy"> & CacheArgs>,
  ): Prisma.PrismaPromise<Prisma.Result<T, A, "groupBy">>;
};

/**
 * The model component as the type checker sees it. (Type aliases, not interfaces: Prisma's `$extends` wants an index
 * signature, which only aliases get implicitly.)
 */
export type CacheModelComponent = {
  $allModels: CachedReadMethods;
};
