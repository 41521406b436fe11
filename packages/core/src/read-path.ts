/**
 * The read path: a key's replicas are read in order, primary first; a miss, an error or a server that is not readable
 * moves on to the next one; a hit found further down is written back to the replicas before it that answered a clean
 * miss (read-repair, lease-guarded: `read-repair.ts`). A miss from a healthy replica beats an error from another: a
 * key is unavailable only when no replica answered at all.
 */
import type { Cluster } from "./cluster.js";
import { ServerUnavailableError } from "./errors.js";
import { isPlaceholder, repairItem, returnStaleToken } from "./read-repair.js";
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
  for (let i = 0; i < list.length; i++) {
    const node = c.nodes[list[i]!]!;
    if (!node.readable(k)) {
      if (i === 0) c.stats.failovers++;
      continue;
    }
    let item: TransportItem | null;
    try {
      item = await c.call(node, node.transport.get(k, signal ? { ...GET, signal } : GET));
    } catch (error) {
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
    // A stale marker (an invalidation in progress) or someone's lease placeholder: not a value, and not ours to
    // fill, so neither returned nor a write-back target.
    if (item.stale || isPlaceholder(item)) {
      returnStaleToken(node, k, item);
      continue;
    }
    if (missed === undefined && i === 0) c.stats.hitsPrimary++;
    else c.stats.hitsReplica++;
    if (missed !== undefined && c.options.repair !== "off") {
      const p = scheduleRepair(c, k, node, item, missed);
      if (p) await p;
    }
    return { item, node };
  }
  if (!answered) {
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

/** Starts the write-backs of `item` to `targets`; returns a promise only in `repair: "await"` mode. */
function scheduleRepair(
  c: Cluster,
  k: string,
  source: ServerNode,
  item: TransportItem,
  targets: ServerNode[],
): Promise<void> | undefined {
  if (c.options.repair === "background" && c.pendingRepairs.size >= c.options.maxPendingRepairs) {
    c.stats.repairsDropped++;
    return undefined;
  }
  const run = (async () => {
    for (const target of targets) {
      const outcome = await repairItem(c.repairCtx, k, source, item, target).catch(() => "failed" as const);
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
