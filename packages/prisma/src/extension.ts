import { type CacheClient, InvalidArgumentError, type NamespaceClient } from "@mcpair/core";
import { createClient } from "@mcpair/memcached";
import { Prisma } from "@prisma/client/extension";
import { canonicalize, FORMAT_VERSION, sha256 } from "./cache-key.js";
import type { CacheModelComponent } from "./model-types.js";
import { type McpairCacheOptions, resolveOptions } from "./options.js";
import { type CacheControl, type OperationParams, QueryCache } from "./query-cache.js";
import { parseForeignKeys } from "./referential-actions.js";
import { RelationGraph, type RuntimeDataModel } from "./relations.js";
import { findOriginalTransaction, wrapTransaction } from "./transactions.js";

/**
 * What the extension reads from the Prisma client it is applied to. None of it is public API, and all of it is what
 * Prisma's own extensions read: the data model (relation fields), the schema text (foreign keys and referential
 * actions), the global `omit` (it changes result shapes, so it is part of every key).
 */
interface ClientInternals {
  _runtimeDataModel?: RuntimeDataModel;
  _engineConfig?: { inlineSchema?: unknown };
  _globalOmit?: unknown;
}

/**
 * A Prisma Client extension that caches reads in replicated memcached:
 *
 * ```ts
 * const prisma = new PrismaClient({ adapter }).$extends(
 *   mcpairCache({ client: createClient({ servers: ["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"] }) }),
 * );
 * const users = await prisma.user.findMany({ where: { active: true }, cache: { ttl: 60, swr: 30, tags: ["users"] } });
 * await prisma.$cache.invalidate({ tags: ["users"] });
 * ```
 *
 * Reads with a `cache` (or Accelerate's `cacheStrategy`) argument, or of a model with a default policy, go through
 * core's `fetch`: one database query per key across all processes, however many ask at once. Writes invalidate the
 * cached reads of every model they touch (`invalidateOnWrite`), after the commit inside transactions. Apply it last,
 * after your other extensions, so that cached reads hold their results.
 */
export function mcpairCache(options: McpairCacheOptions) {
  const resolved = resolveOptions(options);
  // One memcached client per mcpairCache() call, shared by every Prisma client it is applied to.
  const root: CacheClient = resolved.client ?? createClient(resolved.clientOptions!);
  const owned = resolved.client === undefined;
  const store: NamespaceClient = root.namespace(resolved.namespace);

  return Prisma.defineExtension((client) => {
    const internals = client as unknown as ClientInternals;
    const dataModel = internals._runtimeDataModel;
    if (dataModel === undefined || dataModel === null || typeof dataModel.models !== "object")
      throw new InvalidArgumentError(
        "mcpairCache: this Prisma client exposes no runtime data model; @mcpair/prisma supports Prisma 7 clients",
      );
    const schema = internals._engineConfig?.inlineSchema;
    const graph = new RelationGraph(
      dataModel,
      typeof schema === "string" ? parseForeignKeys(schema) : undefined,
    );
    const version = sha256(
      `${FORMAT_VERSION}|${canonicalize(dataModel)}|${canonicalize(internals._globalOmit)}`,
    ).slice(0, 12);
    const cache = new QueryCache({
      options: resolved,
      client: store,
      graph,
      version,
      closeClient: () => (owned ? root.close() : Promise.resolve()),
    });

    const clientComponent: { $cache: CacheControl; $transaction?: unknown } = { $cache: cache.control };
    const original = findOriginalTransaction(client);
    if (original !== undefined && resolved.invalidateOnWrite) {
      clientComponent.$transaction = wrapTransaction(original);
    }
    // Types only: the read methods with `cache` (see model-types.ts). At run time no model method is replaced, so
    // Prisma's own methods run, with the fluent API and every other extension's query hooks intact.
    const model = { $allModels: {} } as unknown as CacheModelComponent;

    return client.$extends({
      name: "@mcpair/prisma",
      model,
      client: clientComponent as { $cache: CacheControl },
      query: {
        $allModels: {
          $allOperations: (params) => cache.onModelOperation(params as unknown as OperationParams),
        },
        $executeRaw: (params) => cache.onRawWrite(params as unknown as OperationParams) as never,
        $executeRawUnsafe: (params) => cache.onRawWrite(params as unknown as OperationParams) as never,
      },
    });
  });
}
