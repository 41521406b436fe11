/**
 * The read path: a key's replicas are read in order, primary first; a miss, an error or a server that is not readable
 * moves on to the next one; a hit found further down is copied back to the replicas before it that answered a clean
 * miss (read-repair: `copy.ts`). A miss from a healthy replica beats an error from another: a key is unavailable only
 * when no replica answered at all.
 *
 * A replica in its rejoin quarantine (it came back and is written, but not read yet, see `server-node.ts`) is not
 * read, but every hit is also copied to it, wherever it is in the list: a restarted server is refilled by the reads
 * of its first seconds instead of staying empty until its quarantine ends, and a restarted *secondary* (which reads
 * never reach while the primary answers) is refilled too. A copy never overwrites anything (`copy.ts`), so this is
 * safe whatever the quarantined server holds.
 */
import type { Cluster } from "./cluster.js";
import { copyItem, isPlaceholder, isTombstone, isValue, returnStaleToken } from "./copy.js";
import { ServerUnavailableError } from "./errors.js";
import type { ServerNode } from "./server-node.js";
import type { TransportGetOptions, TransportItem } from "./transport.js";

// One request shape, allocated once. Every read asks for the CAS and the remaining TTL besides value and flags: a
// write-back needs both from its source, and a reader that is handed a stale item's refresh token needs both to give
// it back (`returnStaleToken`).
export const GET: TransportGetOptions = Object.freeze({ cas: true, ttl: true });

/** A hit and the replica that answered it. */
export interface Hit {
  item: TransportItem;
  node: ServerNode;
}

/**
 * Walks the replica list of `k`. A clean miss from a readable replica makes it a write-back target; an error does
 * not (and counts toward marking the server down). Rejects with `ServerUnavailableError` only when no replica
 * answered.
 */
export async function readFrom(c: Cluster, k: string, signal: AbortSignal | undefined): Promise<Hit | null> {
  const list = c.replicas(k);
  let missed: ServerNode[] | undefined;
  let lastError: unknown;
  let answered = false;
  let refill: ServerNode[] | undefined;
  for (let i = 0; i < list.length; i++) {
    const node = c.nodes[list[i]!]!;
    if (!node.readable(k)) {
      if (i === 0) c.stats.failovers++;
      if (node.quarantined && node.acceptsCopies(k)) {
        if (refill === undefined) refill = [node];
        else refill.push(node);
      }
      continue;
    }
    let item: TransportItem | null;
    try {
      item = await node.transport.get(k, signal ? { ...GET, signal } : GET);
      node.succeeded();
    } catch (error) {
      node.failed(error);
      if (signal?.aborted) throw error;
      lastError = error;
      if (i === 0) c.stats.failovers++;
      continue;
    }
    answered = true;
    if (item === null) {
      if (missed === undefined) missed = [node];
      else missed.push(node);
      continue;
    }
    // A tombstone: the key was deleted moments ago (`deletes.ts`). A miss, and the answer: a later replica may still
    // hold the value if the delete has not reached it yet, or if its request there timed out.
    if (isTombstone(item)) {
      c.stats.misses++;
      return null;
    }
    // A stale marker (an invalidation in progress) or someone's lease placeholder: not a value, and not ours to
    // fill, so neither returned nor a write-back target.
    if (item.stale || isPlaceholder(item)) {
      returnStaleToken(node, k, item);
      continue;
    }
    if (missed === undefined && i === 0) c.stats.hitsPrimary++;
    else c.stats.hitsReplica++;
    if (c.options.repair !== "off") {
      // Quarantined replicas after this one were not visited: they are refilled too.
      for (let j = i + 1; j < list.length; j++) {
        const later = c.nodes[list[j]!]!;
        if (later.quarantined && later.acceptsCopies(k)) {
          if (refill === undefined) refill = [later];
          else refill.push(later);
        }
      }
      const targets = missed === undefined ? refill : refill === undefined ? missed : [...missed, ...refill];
      if (targets !== undefined) {
        const p = scheduleRepair(c, k, node, targets);
        if (p) await p;
      }
    }
    return { item, node };
  }
  if (!answered) {
    // Last resort: a draining replica. Draining is planned maintenance announced before the server stops: it is
    // written all along and holds every value, so reading it is better than no answer (with one replica, a drain
    // would otherwise send every read of its keys to the database until the reboot). A key's only replica is also
    // read during its rejoin quarantine (see `ServerNode.readableAsOnlyReplica`).
    for (const i of list) {
      const node = c.nodes[i]!;
      if (!(list.length === 1 ? node.readableAsOnlyReplica(k) : node.readableWhileDraining(k))) continue;
      try {
        const item = await node.transport.get(k, signal ? { ...GET, signal } : GET);
        node.succeeded();
        if (item === null || !isValue(item)) {
          if (item !== null) returnStaleToken(node, k, item);
          c.stats.misses++;
          return null;
        }
        c.stats.hitsReplica++;
        return { item, node };
      } catch (error) {
        node.failed(error);
        if (signal?.aborted) throw error;
        lastError = error;
      }
    }
    throw new ServerUnavailableError(`no replica of key ${JSON.stringify(k.slice(0, 64))} could be read`, {
      cause: lastError,
    });
  }
  c.stats.misses++;
  return null;
}

/**
 * Reads mapped keys through their replica lists, all at once (the transport coalesces each server's requests of
 * one turn into one write). Per key: the item, `null` for a miss, or the error when no replica could answer. An
 * abort rejects the whole call.
 */
export async function readItems(
  c: Cluster,
  mapped: readonly string[],
  signal: AbortSignal | undefined,
): Promise<Array<TransportItem | null | Error>> {
  const settled = await Promise.allSettled(mapped.map((k) => readFrom(c, k, signal)));
  const out: Array<TransportItem | null | Error> = new Array(settled.length);
  for (let i = 0; i < settled.length; i++) {
    const r = settled[i]!;
    if (r.status === "fulfilled") out[i] = r.value === null ? null : r.value.item;
    else {
      if (signal?.aborted || !(r.reason instanceof ServerUnavailableError)) throw r.reason;
      c.stats.unavailable++;
      out[i] = r.reason;
    }
  }
  return out;
}

/** Starts the copies of `k` from `source` to `targets`; returns a promise only in `repair: "await"` mode. */
export function scheduleRepair(
  c: Cluster,
  k: string,
  source: ServerNode,
  targets: readonly ServerNode[],
): Promise<void> | undefined {
  if (c.options.repair === "background" && c.pendingRepairs.size >= c.options.maxPendingRepairs) {
    c.stats.repairsDropped++;
    return undefined;
  }
  const run = (async () => {
    for (const target of targets) {
      const outcome = await copyItem(c.repairCtx, k, source, target).catch(() => "failed" as const);
      if (outcome === "repaired") c.stats.repairs++;
      else if (outcome === "conflict") c.stats.repairConflicts++;
      else if (outcome === "failed") c.stats.repairFailures++;
      c.events.repaired(k, source.name, target.name, outcome);
    }
  })();
  c.pendingRepairs.add(run);
  void run.finally(() => c.pendingRepairs.delete(run));
  return c.options.repair === "await" ? run : undefined;
}
