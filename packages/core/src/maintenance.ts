/**
 * Operator-facing maintenance: the drain marker (planned maintenance reaches every client process through the server
 * itself, see `server-node.ts`) and the status of every server.
 */
import type { Cluster } from "./cluster.js";
import { FLAGS } from "./codec.js";
import { DRAIN_KEY, type ServerState } from "./server-node.js";

const utf8 = new TextEncoder();
const utf8Text = new TextDecoder();

/** One server's state as seen by `PairClient.status`. */
export interface ServerStatus {
  name: string;
  address: string;
  /** Health as this client sees it. */
  state: ServerState;
  hints: number;
  reachable: boolean;
  /** The operator's drain marker is on the server. */
  draining: boolean;
  drain?: { reason?: string; since?: string } | undefined;
  items?: number;
  /** get_hits / (get_hits + get_misses) since the server started. */
  hitRatio?: number | undefined;
  pid?: number;
  uptime?: number;
  error?: string;
}

/** Writes the drain marker on `server` (see `PairClient.drain`). */
export async function drain(
  c: Cluster,
  server: string,
  options?: { ttl?: number; reason?: string },
): Promise<void> {
  const node = c.node(server);
  const ttl = c.ttl(options?.ttl ?? 3600);
  const marker = utf8.encode(
    JSON.stringify({
      reason: options?.reason ?? "maintenance",
      since: new Date(c.options.now()).toISOString(),
    }),
  );
  await node.transport.set(DRAIN_KEY, marker, { ttl, flags: FLAGS.json });
  node.setDraining(true);
}

/** Removes the drain marker from `server`. */
export async function undrain(c: Cluster, server: string): Promise<void> {
  const node = c.node(server);
  await node.transport.delete(DRAIN_KEY);
  node.setDraining(false);
}

/** Asks every server for its state: health as this client sees it, drain marker, items, hit ratio, process. */
export function status(c: Cluster): Promise<ServerStatus[]> {
  return Promise.all(
    c.nodes.map(async (node): Promise<ServerStatus> => {
      const base = {
        name: node.name,
        address: node.transport.address,
        state: node.state,
        hints: node.hints.size,
      };
      try {
        const [stats, marker] = await Promise.all([node.transport.stats(), node.transport.get(DRAIN_KEY)]);
        const hits = Number(stats.raw.get_hits ?? 0);
        const misses = Number(stats.raw.get_misses ?? 0);
        let drain: { reason?: string; since?: string } | undefined;
        if (marker && !marker.stale && marker.value.length > 0) {
          try {
            drain = JSON.parse(utf8Text.decode(marker.value)) as { reason?: string; since?: string };
          } catch {
            drain = {};
          }
        }
        return {
          ...base,
          reachable: true,
          draining: drain !== undefined,
          drain,
          items: stats.currItems,
          hitRatio: hits + misses === 0 ? undefined : hits / (hits + misses),
          pid: stats.pid,
          uptime: stats.uptime,
        };
      } catch (error) {
        return { ...base, reachable: false, draining: false, error: (error as Error).message };
      }
    }),
  );
}
