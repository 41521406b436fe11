/**
 * Deletes (and invalidations) go to a key's replicas in *reverse* order, one after another: a read-repair that
 * copied from a later replica then always finds the key gone there (see `read-repair.ts`).
 */
import type { Cluster } from "./cluster.js";
import { checkPolicy, type Outcome, onEach } from "./fan-out.js";
import type { TransportDeleteOptions } from "./transport.js";

/** Deletes (or, with `invalidate`, marks stale) mapped key `k`. Resolves whether any replica held it. */
export async function deleteKey(
  c: Cluster,
  k: string,
  opts: TransportDeleteOptions,
  what: string,
): Promise<boolean> {
  const list = c.replicas(k);
  const outcomes: Outcome[] = new Array(list.length);
  for (let i = list.length - 1; i >= 0; i--) {
    outcomes[i] = (await onEach(c, k, [list[i]!], (t) => t.delete(k, opts)))[0]!;
  }
  checkPolicy(c, what, k, list, outcomes);
  return outcomes.some((o) => o.ok && o.value === "deleted");
}

/** Deletes mapped keys, rank by rank from the last replica; per key whether any replica held it, or the error. */
export async function deleteKeys(
  c: Cluster,
  keys: readonly string[],
  signal: AbortSignal | undefined,
): Promise<Array<boolean | Error>> {
  const mapped = [...new Set(keys)];
  const lists = mapped.map((k) => c.replicas(k));
  const outcomes = lists.map((l) => new Array<Outcome>(l.length));
  const ranks = Math.max(0, ...lists.map((l) => l.length));
  for (let rank = ranks - 1; rank >= 0; rank--) {
    await Promise.all(
      mapped.map(async (k, j) => {
        const idx = lists[j]![rank];
        if (idx === undefined) return;
        outcomes[j]![rank] = (await onEach(c, k, [idx], (t) => t.delete(k, { signal })))[0]!;
      }),
    );
  }
  const byKey = new Map<string, boolean | Error>();
  mapped.forEach((k, j) => {
    try {
      checkPolicy(c, "delete", k, lists[j]!, outcomes[j]!);
      byKey.set(
        k,
        outcomes[j]!.some((o) => o.ok && o.value === "deleted"),
      );
    } catch (error) {
      byKey.set(k, error as Error);
    }
  });
  return keys.map((k) => byKey.get(k)!);
}
