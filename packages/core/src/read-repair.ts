import type { ServerNode } from "./server-node.js";
import type { TransportItem } from "./transport.js";
import { copyTtl } from "./ttl.js";

/**
 * Lease-guarded write-back ("read-repair"): copies an item found on a later replica (`source`) to an earlier replica
 * that answered a clean miss (`target`), such that the copy can neither resurrect a deleted value nor replace a newer
 * one (design note, traps 1 and 2).
 *
 * The protocol, three pipelined round trips off the read's critical path:
 *   1. LEASE   `mg k c N<lease>` on the target. A miss creates an empty placeholder and hands us the win token `W`
 *              with its CAS. Anything else (a real item, a stale marker, someone else's placeholder `Z`) means another
 *              writer got there first: abort.
 *   2. VERIFY  `mg k c` on the source: the item must still be there with the CAS we read the value with. If it was
 *              deleted or replaced since our read, abort.
 *   3. STORE   `ms k C<placeholder cas> T<source's remaining ttl, capped>` on the target: stores only if the
 *              placeholder is untouched. A set or delete that reached the target after step 1 replaced or removed it,
 *              and the store answers `EX`/`NF`.
 *
 * Why this is safe, given that deletes are applied to later replicas before earlier ones (`PairClient.delete`) and that
 * each server applies requests one at a time:
 *   - If the delete reached the target *after* step 1, it removed our placeholder, so step 3 fails.
 *   - If it reached the target *before* step 1, it had already reached the source (later replicas first), which is
 *     before step 2, so step 2 sees the key gone and we abort. (Without step 2 a reader that stalled between its read
 *     and step 1 would write the deleted value back into the now-empty target.)
 *   - A racing set reaches the target either before step 1 (step 1 finds a real item: abort) or after (step 3: `EX`).
 * The copy keeps the source's remaining lifetime (capped), never "no expiry".
 *
 * On abort the placeholder is released (`md k C<cas>`: only if still ours) so it does not stand in for a value.
 */
export type RepairOutcome = "repaired" | "conflict" | "skipped" | "failed";

/**
 * A memcached lease placeholder: memcached creates it with flags 0 and no value. mcpair's codec never writes flags 0,
 * so such an item is someone's lease, not a value.
 */
export function isPlaceholder(item: TransportItem): boolean {
  return item.flags === 0 && item.value.length === 0;
}

/**
 * memcached hands the refresh token of a stale item (`X W`) to its *first reader*, with or without `N`. A reader that
 * is not going to refresh it (a plain `get`, a repair step, a rewarm scan) must hand the token back, or the callers
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

export interface RepairContext {
  maxTtl: number;
  leaseTtl: number;
}

export async function repairItem(
  ctx: RepairContext,
  key: string,
  source: ServerNode,
  item: TransportItem,
  target: ServerNode,
): Promise<RepairOutcome> {
  const ttl = copyTtl(item.ttl, ctx.maxTtl);
  if (ttl === undefined) return "skipped";
  if (!target.reachable || !source.reachable) return "skipped";
  let lease: TransportItem | null;
  try {
    lease = await target.transport.get(key, { lease: ctx.leaseTtl, cas: true, ttl: true, value: false });
    target.succeeded();
  } catch (error) {
    target.failed(error);
    return "failed";
  }
  if (lease === null || !lease.win || lease.stale || lease.flags !== 0) {
    // A real item, a stale marker, or someone else's lease: another writer owns this key on the target now.
    if (lease !== null) returnStaleToken(target, key, lease);
    return "conflict";
  }
  const placeholderCas = lease.cas;
  const release = async () => {
    try {
      await target.transport.delete(key, { cas: placeholderCas });
    } catch {
      // The placeholder expires by itself after the lease TTL.
    }
  };
  let current: TransportItem | null;
  try {
    current = await source.transport.get(key, { cas: true, ttl: true, value: false });
    source.succeeded();
  } catch (error) {
    source.failed(error);
    await release();
    return "failed";
  }
  if (current === null || current.stale || current.cas !== item.cas) {
    if (current !== null) returnStaleToken(source, key, current);
    await release();
    return "conflict";
  }
  try {
    const result = await target.transport.set(key, item.value, {
      ttl,
      flags: item.flags,
      cas: placeholderCas,
    });
    target.succeeded();
    return result === "stored" ? "repaired" : "conflict";
  } catch (error) {
    target.failed(error);
    return "failed";
  }
}
