/**
 * Operator-facing maintenance: the drain marker (planned maintenance reaches every client process through the server
 * itself, see `server-node.ts`) and the status of every server.
 */
import type { Cluster } from "./cluster.js";
import { FLAGS } from "./codec.js";
import { readMarker } from "./rewarm.js";
import { DRAIN_KEY, type ServerState } from "./server-node.js";

const utf8 = new TextEncoder();
const utf8Text = new TextDecoder();

/**
 * What `status()` says about a server, for operators: the client's health state, or
 * - `"rewarming"`: an automatic rewarm is copying keys to it (see `rewarm`);
 * - `"starting"`: it started less than {@link STARTING_SECONDS} s ago and no rewarm has run on it yet: the clients may
 *   not have noticed the restart (a new pool shows it too, for its first seconds). Wait.
 * The rolling-restart runbook's "wait until every server is up" means: until none is anything but `up`.
 */
export type ServerStatusState = ServerState | "rewarming" | "starting";

/** A server younger than this, with no rewarm marker, shows as `starting`. */
export const STARTING_SECONDS = 30;

/** One server's state as seen by `PairClient.status`. */
export interface ServerStatus {
  name: string;
  address: string;
  /** Health as this client sees it, or `rewarming`/`starting` (see {@link ServerStatusState}). */
  state: ServerStatusState;
  /** The automatic rewarm of this server, when one ran since it started. */
  rewarm?:
    | { state: "running" | "done"; progress: number; copied: number; candidates: number; since: string }
    | undefined;
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
export async function status(c: Cluster): Promise<ServerStatus[]> {
  const statuses = await Promise.all(
    c.nodes.map(async (node): Promise<ServerStatus> => {
      const base = {
        name: node.name,
        address: node.transport.address,
        state: node.state,
        hints: node.hints.size,
      };
      try {
        const [stats, marker, rewarm] = await Promise.all([
          node.transport.stats(),
          node.transport.get(DRAIN_KEY),
          readMarker(node).catch(() => null),
        ]);
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
        let state: ServerStatusState = base.state;
        if (state === "up" && drain !== undefined) state = "draining";
        if ((state === "up" || state === "recovering") && rewarm?.marker.state === "running")
          state = "rewarming";
        return {
          ...base,
          state,
          reachable: true,
          draining: drain !== undefined,
          drain,
          rewarm:
            rewarm === null
              ? undefined
              : {
                  state: rewarm.marker.state,
                  progress: rewarm.marker.progress,
                  copied: rewarm.marker.copied,
                  candidates: rewarm.marker.candidates,
                  since: new Date(rewarm.marker.startedAt).toISOString(),
                },
          items: stats.currItems,
          hitRatio: hits + misses === 0 ? undefined : hits / (hits + misses),
          pid: stats.pid,
          uptime: stats.uptime,
        };
      } catch (error) {
        return { ...base, state: "down", reachable: false, draining: false, error: (error as Error).message };
      }
    }),
  );
  // A restarted server the clients may not have noticed yet: young and never rewarmed. The clients notice within a
  // probe or a background check (seconds) and the automatic rewarm puts its marker there, so this is only the gap.
  for (const s of statuses) {
    if (s.state !== "up" && s.state !== "recovering") continue;
    if (s.rewarm === undefined && s.uptime !== undefined && s.uptime < STARTING_SECONDS) s.state = "starting";
  }
  return statuses;
}
