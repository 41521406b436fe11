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

/** What one extension's writes in a transaction changed, and how that extension invalidates it. */
export interface PendingInvalidation {
  readonly models: Set<string>;
  /** Raw statements ran: every model is invalidated. */
  raw: boolean;
  readonly flush: (pending: PendingInvalidation) => Promise<void>;
}

/**
 * One transaction's pending invalidations, by extension: when `mcpairCache` is applied twice (two namespaces), only
 * the outer wrapper runs, and it flushes the inner extension's invalidations too, each into its own namespace.
 */
interface TransactionScope {
  readonly pending: Map<object, PendingInvalidation>;
}

const storage = new AsyncLocalStorage<TransactionScope>();

/**
 * The pending invalidations of `owner` (one extension instance) in the transaction the current code runs in, created
 * on first use; undefined outside a transaction started through the wrapper.
 */
export function pendingInvalidation(
  owner: object,
  flush: (pending: PendingInvalidation) => Promise<void>,
): PendingInvalidation | undefined {
  const scope = storage.getStore();
  if (scope === undefined) return undefined;
  let pending = scope.pending.get(owner);
  if (pending === undefined) {
    pending = { models: new Set(), raw: false, flush };
    scope.pending.set(owner, pending);
  }
  return pending;
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
 * The `$transaction` replacement: runs `original` in a scope and, once it settles, flushes every pending
 * invalidation recorded in it (each flush reports its own errors and never rejects).
 */
export function wrapTransaction(original: TransactionFn): TransactionFn {
  return function $transaction(this: unknown, arg: unknown, options?: unknown): Promise<unknown> {
    const outer = storage.getStore();
    const nested =
      this !== null &&
      typeof this === "object" &&
      (this as Record<symbol, unknown>)[TRANSACTION_CONTEXT] !== undefined;
    if (nested && outer !== undefined) return original.call(this, arg, options);
    const scope: TransactionScope = { pending: new Map() };
    return storage.run(scope, async () => {
      try {
        return await original.call(this, arg, options);
      } finally {
        await Promise.all([...scope.pending.values()].map((pending) => pending.flush(pending)));
      }
    });
  };
}
