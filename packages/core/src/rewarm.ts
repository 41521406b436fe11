/**
 * Active rewarm: copies to a server that came back empty the keys it should hold, read from its partners'
 * `lru_crawler metadump`, rate-limited. Each copy is a lease-guarded write-back (see `read-repair.ts`) with the
 * source's remaining TTL.
 */
import type { Cluster } from "./cluster.js";
import { InvalidArgumentError } from "./errors.js";
import { GET } from "./read-path.js";
import { isPlaceholder, repairItem, returnStaleToken } from "./read-repair.js";
import { DRAIN_KEY } from "./server-node.js";
import type { TransportItem } from "./transport.js";

export interface RewarmOptions {
  /** Keys copied per second at most. @default 1000 */
  rate?: number;
  /** Copies in flight at most. @default 16 */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface RewarmProgress {
  server: string;
  /** Keys listed by the partners' metadump. */
  scanned: number;
  /** Keys the rewarmed server should hold. */
  candidates: number;
  copied: number;
  /** Already there, or changed meanwhile (newer data is never overwritten). */
  conflicts: number;
  skipped: number;
  failed: number;
  startedAt: number;
  finishedAt: number | undefined;
}

/** Keys a rewarm lists from one partner before copying (about 100 MB of key strings at most). */
const MAX_REWARM_KEYS = 1_000_000;

/** Runs one rewarm of `server`; `progress` is updated as it goes (`stats().rewarm`). */
export async function rewarm(
  c: Cluster,
  server: string,
  options: RewarmOptions | undefined,
  progresses: Map<string, RewarmProgress>,
): Promise<RewarmProgress> {
  const target = c.node(server);
  const rate = options?.rate ?? 1000;
  const concurrency = options?.concurrency ?? 16;
  if (!(rate > 0) || !Number.isFinite(rate))
    throw new InvalidArgumentError(
      `rewarm: "rate" must be a positive number of keys per second, got ${String(rate)}`,
    );
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
    throw new InvalidArgumentError(
      `rewarm: "concurrency" must be a whole number from 1 to 1024, got ${String(concurrency)}`,
    );
  }
  const progress: RewarmProgress = {
    server: target.name,
    scanned: 0,
    candidates: 0,
    copied: 0,
    conflicts: 0,
    skipped: 0,
    failed: 0,
    startedAt: c.options.now(),
    finishedAt: undefined,
  };
  progresses.set(target.name, progress);
  const inflight = new Set<Promise<void>>();
  const interval = 1000 / rate;
  let nextAt = c.options.now();
  for (const source of c.nodes) {
    if (source === target || !source.reachable) continue;
    // Read the partner's whole key list first, then copy at the rate: memcached's LRU crawler is not a snapshot,
    // and a dump consumed at copy speed under live traffic was measured to miss keys as items moved in the LRU.
    const keys: string[] = [];
    for await (const entry of source.transport.dump()) {
      if (c.closed || options?.signal?.aborted) break;
      progress.scanned++;
      const k = entry.key;
      if (k === DRAIN_KEY) continue;
      const list = c.replicas(k);
      // Copy only keys the target should hold, and only from the first partner that holds them (no duplicate work).
      if (!list.includes(target.index)) continue;
      const firstSource = list.find((i) => i !== target.index && c.nodes[i]!.reachable);
      if (firstSource !== source.index) continue;
      if (keys.length >= MAX_REWARM_KEYS) break;
      keys.push(k);
    }
    progress.candidates += keys.length;
    for (const k of keys) {
      if (c.closed || options?.signal?.aborted) break;
      // Pace in steps of at least 5 ms: timers cannot sleep less than about 1 ms, so sleeping whenever we are a
      // fraction of a millisecond ahead would cap the rate near 1,000 keys/s whatever `rate` says.
      const wait = nextAt - c.options.now();
      if (wait >= 5) await new Promise((r) => setTimeout(r, wait));
      nextAt = Math.max(nextAt, c.options.now() - 5) + interval;
      while (inflight.size >= concurrency) await Promise.race(inflight);
      const job = (async () => {
        let item: TransportItem | null;
        try {
          item = await source.transport.get(k, GET);
        } catch {
          progress.failed++;
          return;
        }
        if (item === null || item.stale || isPlaceholder(item)) {
          if (item !== null) returnStaleToken(source, k, item);
          progress.skipped++;
          return;
        }
        const outcome = await repairItem(c.repairCtx, k, source, item, target).catch(() => "failed" as const);
        if (outcome === "repaired") progress.copied++;
        else if (outcome === "conflict") progress.conflicts++;
        else if (outcome === "failed") progress.failed++;
        else progress.skipped++;
      })();
      inflight.add(job);
      void job.finally(() => inflight.delete(job));
    }
  }
  await Promise.all(inflight);
  progress.finishedAt = c.options.now();
  return { ...progress };
}
