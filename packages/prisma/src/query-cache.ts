import { InvalidArgumentError, type NamespaceClient } from "@mcpair/core";
import { customKey, queryKey } from "./cache-key.js";
import { cachedRead, type ReadContext } from "./cached-read.js";
import { isReadOperation, isWriteOperation } from "./operations.js";
import {
  type CacheErrorContext,
  type ResolvedOptions,
  type ResolvedPolicy,
  resolvePolicy,
} from "./options.js";
import type { RelationGraph } from "./relations.js";
import { type CacheStats, emptyStats } from "./stats.js";
import { type PendingInvalidation, pendingInvalidation } from "./transactions.js";

/** The tag every cached read of `model` carries (with `invalidateOnWrite`), and that writes to it invalidate. */
export const modelTag = (model: string): string => `model:${model}`;

/** What Prisma passes a `$allOperations` query extension (the parts used here). */
export interface OperationParams {
  model?: string;
  operation: string;
  args: unknown;
  query: (args: unknown) => Promise<unknown>;
  /** Prisma's request: `transaction` (kind "itx" | "batch") and `dataPath` (fluent calls). Not public API. */
  __internalParams?: { transaction?: { kind?: string }; dataPath?: readonly string[] };
}

/** `prisma.$cache`: invalidation by tag, key or model, and the extension's counters. */
export interface CacheControl {
  /**
   * Stops every cached read written with any of `tags` (the `tags` of `cache` / `cacheStrategy`), in every process,
   * once it resolves. Accelerate's `$accelerate.invalidate({ tags })`.
   */
  invalidate(input: { tags: readonly string[] }): Promise<void>;
  /** Removes the entries stored under these custom keys (`cache: { key }`), in every process. */
  invalidateKeys(keys: readonly string[]): Promise<void>;
  /**
   * Stops every cached read of these models (by name, `User`, or client property, `user`): what a write does with
   * `invalidateOnWrite`. For writes the extension cannot see (raw SQL with `rawWrites: "ignore"`, other programs).
   */
  invalidateModels(models: readonly string[]): Promise<void>;
  /** Empties this extension's namespace, for every process. Accelerate's `$accelerate.invalidateAll()`. */
  invalidateAll(): Promise<void>;
  /** A snapshot of the counters. */
  stats(): CacheStats;
  /** Waits for background refreshes, then closes the memcached client if the extension created it. */
  close(): Promise<void>;
}

export interface QueryCacheDeps {
  options: ResolvedOptions;
  client: NamespaceClient;
  graph: RelationGraph;
  /** Fingerprint of the data model and value format, part of every key. */
  version: string;
  /** Closes the memcached client when the extension owns it. */
  closeClient: () => Promise<void>;
}

export class QueryCache {
  readonly #o: ResolvedOptions;
  readonly #client: NamespaceClient;
  readonly #graph: RelationGraph;
  readonly #version: string;
  readonly #closeClient: () => Promise<void>;
  readonly #stats = emptyStats();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #defaults = new Map<string, ResolvedPolicy>();
  readonly #allModelsDefault: ResolvedPolicy | undefined;
  readonly #read: ReadContext;
  readonly control: CacheControl;

  constructor(deps: QueryCacheDeps) {
    this.#o = deps.options;
    this.#client = deps.client;
    this.#graph = deps.graph;
    this.#version = deps.version;
    this.#closeClient = deps.closeClient;
    for (const [name, policy] of deps.options.defaults) {
      if (name === "$allModels") continue;
      const model = deps.graph.modelNamed(name);
      if (model === undefined)
        throw new InvalidArgumentError(
          `mcpairCache: defaults.${name} names no model of this client (models: ${[...deps.graph.models].join(", ")})`,
        );
      this.#defaults.set(model, policy);
    }
    this.#allModelsDefault = deps.options.defaults.get("$allModels");
    this.#read = {
      client: deps.client,
      stats: this.#stats,
      refreshing: new Set(),
      leaseTtl: deps.options.leaseTtl,
      waitTimeout: deps.options.waitTimeout,
      track: (work) => this.#track(work),
      onError: (error, context) => this.#report(error, context),
    };
    this.control = this.#makeControl();
  }

  /** The `$allModels.$allOperations` query extension. */
  async onModelOperation(params: OperationParams): Promise<unknown> {
    const { model, operation, query } = params;
    if (model === undefined) return query(params.args);
    if (isReadOperation(operation)) return this.#onRead(params, model);
    if (isWriteOperation(operation)) return this.#onWrite(params, model);
    return query(params.args);
  }

  /** The `$executeRaw` / `$executeRawUnsafe` query extensions: the statement may write any table. */
  async onRawWrite(params: OperationParams): Promise<unknown> {
    if (!this.#o.invalidateOnWrite || this.#o.rawWrites === "ignore") return params.query(params.args);
    try {
      return await params.query(params.args);
    } finally {
      const pending = this.#pendingInTransaction(params);
      if (pending !== undefined) pending.raw = true;
      else await this.#invalidateModels(this.#graph.models, undefined, params.operation);
    }
  }

  /** Invalidates what a transaction's writes changed (called by the `$transaction` wrapper once it settles). */
  readonly #flushTransaction = async (pending: PendingInvalidation): Promise<void> => {
    await this.#invalidateModels(
      pending.raw ? this.#graph.models : pending.models,
      undefined,
      "$transaction",
    );
  };

  /** This extension's pending invalidations when the query runs in a transaction started through the wrapper. */
  #pendingInTransaction(params: OperationParams): PendingInvalidation | undefined {
    return params.__internalParams?.transaction
      ? pendingInvalidation(this, this.#flushTransaction)
      : undefined;
  }

  #policyFor(model: string, args: Record<string, unknown>): ResolvedPolicy | undefined {
    const base = this.#defaults.get(model) ?? this.#allModelsDefault;
    const { cache, cacheStrategy } = args;
    if (cache !== undefined && cacheStrategy !== undefined)
      throw new InvalidArgumentError(`${model}: pass either "cache" or "cacheStrategy", not both`);
    if (cache === false) return undefined;
    if (cache !== undefined) return resolvePolicy(cache, "cache", base, "cache");
    if (cacheStrategy !== undefined)
      return resolvePolicy(cacheStrategy, "cacheStrategy", base, "cacheStrategy");
    return base;
  }

  async #onRead(params: OperationParams, model: string): Promise<unknown> {
    const { operation, query } = params;
    const args = (params.args ?? {}) as Record<string, unknown>;
    const { cache: _cache, cacheStrategy: _strategy, ...rest } = args;
    const policy = this.#policyFor(model, args);
    if (policy === undefined || policy.ttl + policy.swr === 0) return query(rest);
    const transaction = params.__internalParams?.transaction;
    // A batch transaction waits for every one of its queries: each must reach the database.
    if (transaction !== undefined && (transaction.kind !== "itx" || this.#o.transactionReads === "bypass")) {
      this.#stats.bypassed++;
      return query(rest);
    }
    const tags = this.#o.invalidateOnWrite
      ? [...policy.tags, ...[...this.#graph.readModels(model, rest)].map(modelTag)]
      : policy.tags;
    const key =
      policy.key !== undefined
        ? customKey(this.#version, policy.key)
        : queryKey(this.#version, model, operation, rest, params.__internalParams?.dataPath);
    return cachedRead(this.#read, { key, policy, tags, model, operation, load: () => query(rest) });
  }

  async #onWrite(params: OperationParams, model: string): Promise<unknown> {
    const { operation, args, query } = params;
    if (args !== null && typeof args === "object" && ("cache" in args || "cacheStrategy" in args))
      throw new InvalidArgumentError(
        `${model}.${operation}: "cache" and "cacheStrategy" are accepted on reads only (findUnique(OrThrow), findFirst(OrThrow), findMany, count, aggregate, groupBy)`,
      );
    if (!this.#o.invalidateOnWrite) return query(args);
    const models = this.#graph.writtenModels(model, operation, args);
    try {
      return await query(args);
    } finally {
      // Also after a failed write: it may have been applied (a timeout), and a needless invalidation costs one miss.
      const pending = this.#pendingInTransaction(params);
      if (pending !== undefined) for (const m of models) pending.models.add(m);
      else await this.#invalidateModels(models, model, operation);
    }
  }

  /** Invalidates the models' tags; a failure is reported, never thrown (the write itself succeeded). */
  async #invalidateModels(
    models: Iterable<string>,
    model: string | undefined,
    operation: string | undefined,
  ): Promise<void> {
    const tags = [...models].map(modelTag);
    if (tags.length === 0) return;
    this.#stats.invalidations++;
    try {
      await this.#client.invalidateTags(tags);
    } catch (error) {
      this.#stats.invalidationErrors++;
      this.#report(error, { phase: "invalidate", model, operation });
    }
  }

  #report(error: unknown, context: CacheErrorContext): void {
    try {
      this.#o.onError(error, context);
    } catch {
      // An onError that throws must not turn a handled cache failure into a failed query.
    }
  }

  #track(work: Promise<unknown>): void {
    this.#pending.add(work);
    void work.finally(() => this.#pending.delete(work));
  }

  #makeControl(): CacheControl {
    const strings = (value: unknown, what: string): readonly string[] => {
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v === ""))
        throw new InvalidArgumentError(`$cache.${what} must be an array of non-empty strings`);
      return value as readonly string[];
    };
    return {
      invalidate: async (input) => {
        if (input === null || typeof input !== "object")
          throw new InvalidArgumentError("$cache.invalidate expects { tags: string[] }");
        const tags = strings(input.tags, "invalidate: tags");
        if (tags.length === 0) return;
        this.#stats.invalidations++;
        await this.#client.invalidateTags(tags);
      },
      invalidateKeys: async (keys) => {
        const list = strings(keys, "invalidateKeys: keys");
        if (list.length === 0) return;
        await this.#client.deleteMany(list.map((k) => customKey(this.#version, k)));
      },
      invalidateModels: async (models) => {
        const names = strings(models, "invalidateModels: models").map((name) => {
          const model = this.#graph.modelNamed(name);
          if (model === undefined)
            throw new InvalidArgumentError(
              `$cache.invalidateModels: ${JSON.stringify(name)} names no model (models: ${[...this.#graph.models].join(", ")})`,
            );
          return modelTag(model);
        });
        if (names.length === 0) return;
        this.#stats.invalidations++;
        await this.#client.invalidateTags(names);
      },
      invalidateAll: async () => {
        await this.#client.clear();
      },
      stats: () => ({ ...this.#stats }),
      close: async () => {
        await Promise.allSettled([...this.#pending]);
        await this.#closeClient();
      },
    };
  }
}
