import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Invalidation after commit.
 *
 * A write inside a transaction must not invalidate when it runs: until the commit, other connections still read the
 * old rows, and a read that misses in between would cache them again, for a whole TTL. So the writes of a transaction
 * only record what they change, and the tags are invalidated once `$transaction` has settled (committed, or rolled
 * back: an invalidation too many costs a miss, one too few serves stale data).
 *
 * How the writes find their transaction: the extension replaces the client's `$transaction` with a wrapper that runs
 * Prisma's own `$transaction` inside an `AsyncLocalStorage` scope. Queries made through the transaction client (and
 * the queries of a batch `$transaction([...])`) run in that scope, and Prisma marks them as transactional
 * (`transaction.kind` "itx" or "batch"). A nested `tx.$transaction(...)` (a savepoint) joins the outer scope: only
 * the outermost commit makes its writes visible.
 *
 * Where this cannot work, writes invalidate immediately (before the commit), which is what an extension without this
 * wrapper does:
 * - a transaction started on a client that does not go through this wrapper (another extension applied later that
 *   replaces `$transaction` without calling the one it extends);
 * - a Prisma version whose client no longer exposes the original `$transaction` this wrapper calls (then the wrapper
 *   is not installed at all).
 */

/** What the writes of one transaction changed, invalidated when it settles. */
export interface TransactionScope {
  readonly models: Set<string>;
  /** Raw statements ran: every model is invalidated. */
  raw: boolean;
}

const storage = new AsyncLocalStorage<TransactionScope>();

/** The scope of the transaction the current code runs in, if it was started through the wrapper. */
export function currentTransactionScope(): TransactionScope | undefined {
  return storage.getStore();
}

/** Prisma's marker on interactive transaction clients (nested transactions read it). */
const TRANSACTION_CONTEXT = Symbol.for("prisma.client.transaction.scope_context");

type TransactionFn = (this: unknown, arg: unknown, options?: unknown) => Promise<unknown>;

/**
 * Prisma's own `$transaction`, found on the prototype of the client the extension was applied to. It must be called
 * with the *extended* client as `this`, so that the transaction client it creates keeps every extension (the
 * `$parent` client's `$transaction` would drop them). Undefined when this Prisma version keeps it elsewhere.
 */
export function findOriginalTransaction(client: unknown): TransactionFn | undefined {
  const original = (client as { _originalClient?: unknown })?._originalClient;
  if (original === null || typeof original !== "object") return undefined;
  const fn = (Object.getPrototypeOf(original) as { $transaction?: unknown } | null)?.$transaction;
  return typeof fn === "function" ? (fn as TransactionFn) : undefined;
}

/**
 * The `$transaction` replacement: runs `original` in a scope and, once it settles, `flush(scope)` (which reports its
 * own errors and never rejects).
 */
export function wrapTransaction(
  original: TransactionFn,
  flush: (scope: TransactionScope) => Promise<void>,
): TransactionFn {
  return function $transaction(this: unknown, arg: unknown, options?: unknown): Promise<unknown> {
    const outer = storage.getStore();
    const nested =
      this !== null &&
      typeof this === "object" &&
      (this as Record<symbol, unknown>)[TRANSACTION_CONTEXT] !== undefined;
    if (nested && outer !== undefined) return original.call(this, arg, options);
    const scope: TransactionScope = { models: new Set(), raw: false };
    return storage.run(scope, async () => {
      try {
        return await original.call(this, arg, options);
      } finally {
        if (scope.raw || scope.models.size > 0) await flush(scope);
      }
    });
  };
}
