/**
 * The one copy primitive. Every copy of an item from one replica to another goes through `copyItem`: read-repair
 * (a hit found after a miss), rewarm (a returned server refilled from its partners), the refill of quarantined
 * servers, the counter copy-back, and the copies that follow an authoritative operation (`authority.ts`). `fetch`
 * stores under leases of its own (`read-through.ts`) by the same argument.
 *
 * The protocol, three round trips:
 *   1. GUARD  `mg k c N<lease>` on the target. A miss creates an empty placeholder and hands us its win token `W`
 *             (with its CAS). Anything else (a real item, a stale marker, someone else's placeholder `Z`) means the
 *             target already has something newer than a copy: stop (a copy only *fills*, it never overwrites).
 *   2. READ   `mg k v f c t` on the source, *after* the guard: the item to copy is whatever the source holds now
 *             (a stale marker, a placeholder or a miss: stop).
 *   3. STORE  `ms k C<placeholder cas> T<source's remaining ttl, capped>` on the target: stored only if the
 *             placeholder is untouched. Any write or delete that reached the target after step 1 replaced or removed
 *             it, and the store answers `EX`/`NF`.
 *
 * Why a copy cannot bring back a deleted value, in either direction and along chains of copies (design note, traps
 * 1, 2, 9, 10). A delete replaces the key on every replica with a *tombstone* (`deletes.ts`), a real item that lives
 * longer than the delete takes to reach all replicas. Take a copy from S to T of a value the delete removed:
 *   - if the delete's tombstone reached T after step 1, it replaced our placeholder (or the value we stored): the
 *     store fails, or the value is gone;
 *   - if it reached T before step 1, step 1 finds the tombstone (a real item) while it lives: no copy. After it
 *     expired, every replica had been reached (the tombstone outlives the delete's spread), so step 2 reads S after
 *     S's tombstone: nothing to copy. By induction over time no copy deposits the value anywhere after the delete
 *     reached it, so chains of copies (S to T, then T to U) are covered too.
 * A delete that was not acknowledged on S (a timeout: it may still be applied later, or the replica was down) keeps
 * its order through its hint: once this client's replay there is acknowledged, the other replicas get the tombstone
 * again (cascade, `hints.ts`). A set racing a copy reaches T either before step 1 (step 1 finds a real item: stop)
 * or after (step 3: `EX`), so a copy never replaces a newer value. The copy keeps the source's remaining lifetime
 * (capped), never more, so it cannot outlive the original (trap 12).
 *
 * On a stop after step 1 the placeholder is released (`md k C<cas>`: only if still ours) so it does not stand in
 * for a value; it also expires by itself after the lease TTL.
 */
import { FLAGS } from "./codec.js";
import type { ServerNode } from "./server-node.js";
import type { TransportGetOptions, TransportItem } from "./transport.js";
import { copyTtl } from "./ttl.js";

/** How a copy ended: stored; refused because something newer got there first (as designed); nothing to copy; error. */
export type RepairOutcome = "repaired" | "conflict" | "skipped" | "failed";

export interface CopyContext {
  maxTtl: number;
  /** Lifetime of the guard placeholder, seconds. */
  leaseTtl: number;
}

/**
 * A memcached lease placeholder: memcached creates it with flags 0 and no value. mcpair's codec never writes flags 0,
 * so such an item is someone's lease, not a value.
 */
export function isPlaceholder(item: TransportItem): boolean {
  return item.flags === 0 && item.value.length === 0;
}

/** A delete's tombstone (`deletes.ts`): the key was deleted moments ago. Not a value; a miss for readers. */
export function isTombstone(item: TransportItem): boolean {
  return item.flags === FLAGS.tombstone;
}

/** A real value: neither a placeholder, a stale marker nor a tombstone. */
export function isValue(item: TransportItem): boolean {
  return !item.stale && !isPlaceholder(item) && !isTombstone(item);
}

/**
 * memcached hands the refresh token of a stale item (`X W`) to its *first reader*, with or without `N`. A reader that
 * is not going to refresh it (a plain `get`, a copy step, a rewarm scan) must hand the token back, or the callers
 * that would refresh it (`fetch`) all see `Z` and serve the stale value until it expires. Invalidating it again does
 * that: it resets the token (and bumps the CAS). The CAS guard leaves a refresh that already stored untouched.
 */
export function returnStaleToken(node: ServerNode, key: string, item: TransportItem): void {
  if (!item.stale || !item.win) return;
  node.transport.delete(key, { cas: item.cas, invalidate: Math.max(1, item.ttl ?? 30) }).then(
    () => node.succeeded(),
    () => undefined,
  );
}

const READ: TransportGetOptions = Object.freeze({ cas: true, ttl: true });

/** Copies `key`'s current item from `source` to `target` if the target has nothing for it (see the module comment). */
export async function copyItem(
  ctx: CopyContext,
  key: string,
  source: ServerNode,
  target: ServerNode,
): Promise<RepairOutcome> {
  if (!target.reachable || !source.reachable || source === target) return "skipped";
  let guard: TransportItem | null;
  try {
    guard = await target.transport.get(key, { lease: ctx.leaseTtl, cas: true, value: false });
    target.succeeded();
  } catch (error) {
    target.failed(error);
    return "failed";
  }
  if (guard === null || !guard.win || guard.stale) {
    // A real item, a stale marker, or someone else's lease: the target has something newer than our copy would be.
    if (guard !== null) returnStaleToken(target, key, guard);
    return "conflict";
  }
  const placeholder = guard.cas;
  const release = async () => {
    try {
      await target.transport.delete(key, { cas: placeholder });
    } catch {
      // The placeholder expires by itself after the lease TTL.
    }
  };
  let item: TransportItem | null;
  try {
    item = await source.transport.get(key, READ);
    source.succeeded();
  } catch (error) {
    source.failed(error);
    await release();
    return "failed";
  }
  if (item === null || !isValue(item)) {
    if (item !== null) returnStaleToken(source, key, item);
    await release();
    return item === null || isTombstone(item) ? "skipped" : "conflict";
  }
  const ttl = copyTtl(item.ttl, ctx.maxTtl);
  if (ttl === undefined) {
    await release();
    return "skipped";
  }
  try {
    const result = await target.transport.set(key, item.value, { ttl, flags: item.flags, cas: placeholder });
    target.succeeded();
    return result === "stored" ? "repaired" : "conflict";
  } catch (error) {
    target.failed(error);
    return "failed";
  }
}
