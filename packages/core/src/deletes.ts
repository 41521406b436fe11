/**
 * Deletes and invalidations: what keeps copies from bringing a deleted value back (`copy.ts`).
 *
 * A delete replaces the key on every replica, in parallel, with a *tombstone*: an empty item with reserved flags
 * (`FLAGS.tombstone`) that lives `tombstoneTtl` seconds. Readers treat it as a miss and stop there; a copy never
 * overwrites it (its guard finds a real item). The argument in `copy.ts` needs one property: a tombstone lives longer
 * than the delete takes to reach every replica, so that by the time any tombstone expires every replica has been
 * reached. A request that is not answered within the transport's timeout is not counted as reached (below), so the
 * default (5 s) covers any timeout up to a few seconds.
 *
 * Each replica gets, in one pipelined round trip, `mg k f` (did it hold a value? that is what `delete` resolves)
 * followed by `ms k "" F<tombstone> T<tombstoneTtl>`. A write racing the delete lands before the tombstone (and is
 * replaced: the delete came later) or after it (and stays: the write came later); both are orders a caller could
 * observe. One round trip, whatever the number of replicas (the previous design deleted replica by replica, last
 * first: R round trips, and it did not cover copies towards later replicas or chains of copies).
 *
 * Invalidation (`md k I T<s>`) keeps the value, marked stale, where it exists; where it does not, the same round
 * trip adds a tombstone (`ms ... ME`, only if still absent), so no copy fills that replica with a fresh value while
 * the others are being marked.
 *
 * A timeout keeps the order (trap 10): a request that was not acknowledged (it timed out and may still be applied
 * later, or the replica was skipped as down) leaves a *cascade* hint. When this client's replay of that hint is
 * acknowledged there, the other replicas get the tombstone again (`redeleteOthers`): whenever the late request lands,
 * that second tombstone is the "reached T after" case of the argument. Until then another process may read the old
 * value from the replica that did not acknowledge (this client does not: the hint); the window closes with the
 * replay (see the README, "what a successful write means").
 */
import type { Cluster } from "./cluster.js";
import { FLAGS } from "./codec.js";
import { checkPolicy, onEach } from "./fan-out.js";
import type { Transport, TransportItem } from "./transport.js";

const EMPTY = new Uint8Array(0);

/** One replica's part of a delete: whether it held a value, then the tombstone. Resolves "deleted" or "not_found". */
function tombstone(t: Transport, k: string, ttl: number, signal: AbortSignal | undefined): Promise<string> {
  // Both requests are issued in the same turn, so the transport sends them together, in this order.
  const held = t.get(k, { value: false, signal });
  const stored = t.set(k, EMPTY, { ttl, flags: FLAGS.tombstone, signal });
  return Promise.all([held, stored]).then(([item]) =>
    item !== null && heldValue(item) ? "deleted" : "not_found",
  );
}

/**
 * Whether an item read without its value is (or was, if stale) a value: not a tombstone, not a lease placeholder
 * (flags 0 with its win token handed out; a raw flags-0 item such as a counter has none).
 */
function heldValue(item: TransportItem): boolean {
  if (item.flags === FLAGS.tombstone) return false;
  return !(item.flags === 0 && !item.stale && (item.win || item.lost));
}

/** One replica's part of an invalidation: mark it stale, or add a tombstone where the key is absent. */
function invalidation(
  t: Transport,
  k: string,
  staleTtl: number,
  tombstoneTtl: number,
  signal: AbortSignal | undefined,
): Promise<string> {
  const marked = t.delete(k, { invalidate: staleTtl, signal });
  const added = t.set(k, EMPTY, { mode: "add", ttl: tombstoneTtl, flags: FLAGS.tombstone, signal });
  return Promise.all([marked, added]).then(([result]) => result);
}

/** Deletes mapped key `k` on `list` (default: every replica). Resolves whether any replica held a value. */
export async function deleteKey(
  c: Cluster,
  k: string,
  signal: AbortSignal | undefined,
  what = "delete",
  list: readonly number[] = c.replicas(k),
): Promise<boolean> {
  const ttl = c.options.tombstoneTtl;
  const outcomes = await onEach(c, k, list, (t) => tombstone(t, k, ttl, signal), "cascade");
  checkPolicy(c, what, k, list, outcomes);
  return outcomes.some((o) => o.ok && o.value === "deleted");
}

/** Deletes mapped keys, one pipelined batch per server; per key whether any replica held it, or the error. */
export async function deleteKeys(
  c: Cluster,
  keys: readonly string[],
  signal: AbortSignal | undefined,
): Promise<Array<boolean | Error>> {
  const mapped = [...new Set(keys)];
  const settled = await Promise.all(
    mapped.map((k) =>
      deleteKey(c, k, signal).then(
        (found) => found,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      ),
    ),
  );
  const byKey = new Map(mapped.map((k, j) => [k, settled[j]!]));
  return keys.map((k) => byKey.get(k)!);
}

/**
 * `invalidate(k, staleTtl)`: the value is marked stale on every replica for `staleTtl` seconds (served by `fetch`
 * while one caller refreshes it; a miss for `get`). `staleTtl` 0 deletes.
 */
export async function invalidateKey(
  c: Cluster,
  k: string,
  staleTtl: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  if (staleTtl === 0) return deleteKey(c, k, signal, "invalidate");
  const list = c.replicas(k);
  const ttl = c.options.tombstoneTtl;
  const outcomes = await onEach(c, k, list, (t) => invalidation(t, k, staleTtl, ttl, signal), "cascade");
  checkPolicy(c, "invalidate", k, list, outcomes);
  return outcomes.some((o) => o.ok && o.value === "deleted");
}

/**
 * The cascade of a delete that `from` did not acknowledge (see the module comment): the replay there was acknowledged;
 * now the other replicas get the tombstone again. Failures are hinted (their replay is a later delete).
 */
export async function redeleteOthers(c: Cluster, k: string, from: number): Promise<void> {
  const others = c.replicas(k).filter((i) => i !== from);
  const ttl = c.options.tombstoneTtl;
  if (others.length > 0) await onEach(c, k, others, (t) => tombstone(t, k, ttl, undefined));
}
