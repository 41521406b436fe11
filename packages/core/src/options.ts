import type { Codec, CodecOptions } from "./codec.js";
import { createDefaultCodec } from "./codec.js";
import { InvalidArgumentError } from "./errors.js";
import { createKeyMapper, type KeyHashing, type KeyMapper } from "./keys.js";
import { type RewarmSettings, resolveRewarm } from "./rewarm.js";
import type { RingKind } from "./ring.js";
import type { HealthSettings } from "./server-node.js";
import type { ServerSpec } from "./servers.js";
import type { TransportFactory } from "./transport.js";
import { DEFAULT_MAX_TTL, validateMaxTtl } from "./ttl.js";

/**
 * What a successful write or delete means while a replica cannot take it.
 * - `"one"`: at least one replica acknowledged, and every replica that did not has the key recorded in this client's
 *   bounded hint log (so this client does not read that replica for the key until the miss was replayed there). The
 *   call rejects with `ReplicationError` only when no replica acknowledged.
 * - `"all"`: every replica acknowledged; otherwise the call rejects with `ReplicationError` (the hints are recorded all
 *   the same, and replicas that acknowledged keep the value).
 */
export type WritePolicy = "one" | "all";

/**
 * When a hit found further down the replica list is copied back to the replicas before it that missed.
 * - `"background"`: after the read resolves (it never waits on the repair).
 * - `"await"`: before the read resolves (tests, warm-up scripts).
 * - `"off"`: never (mcrouter's `MissFailoverRoute` behaviour).
 */
export type RepairMode = "background" | "await" | "off";

/** Health-check settings. */
export interface HealthOptions {
  /**
   * Consecutive server faults (timeouts, protocol errors) after which a server is marked down and failed fast.
   * A refused or reset connection marks it down at once.
   * @default 3
   */
  failureThreshold?: number;
  /** Delay before the first probe of a down server, in ms. @default 500 */
  probeInterval?: number;
  /** Probe delays grow by `probeBackoff` up to this, in ms. @default 2000 */
  maxProbeInterval?: number;
  /** Growth factor of the probe delay. @default 1.5 */
  probeBackoff?: number;
  /**
   * A server marked down that comes back as the same process (paused, partitioned) may hold values replaced or
   * deleted meanwhile. `"flush"` empties it before it is read again (its data is replicated: refilling costs partner
   * reads, not database loads); `"replay"` deletes only the keys this client failed to write there.
   * A server that comes back restarted (new pid) is empty and needs neither.
   * @default "flush"
   */
  rejoin?: "flush" | "replay";
  /**
   * Interval of the background check of each reachable server, in ms: it learns the server's pid (to tell a
   * restart from a pause later) and sees the operator's drain marker. Drains reach every client within about this
   * time. 0 disables the check (and drain detection).
   * @default 1000
   */
  checkInterval?: number;
  /**
   * After a server rejoins (restarted, flushed, replayed, or seen restarted by the background check), it is written
   * but not read for this many ms. Other client processes may still have it down, and their writes and deletes skip
   * it until they probe it and replay their hints; reading it earlier could return a value they replaced or deleted.
   * The default covers two of their longest probe delays (with jitter) plus a transport reconnect. 0 disables it.
   * @default ceil(2.4 × maxProbeInterval) + 3000 (7800 with the defaults)
   */
  rejoinQuarantine?: number;
}

export interface PairClientOptions {
  /**
   * The memcached servers: `"host:port"`, `"host:port:weight"`, `"/path/to.sock"` or `{ host, port, weight, name }`.
   * The order does not matter; `name` (default `"host:port"`) is what places a server on the ring.
   */
  servers: readonly ServerSpec[];
  /** Creates the transport for each server (the memcached package's `createClient` fills this in). */
  transport: TransportFactory;
  /**
   * Copies of each key: 1 is plain consistent hashing; 2 (primary + secondary) survives any one server's loss.
   * Capped at the number of servers.
   * @default 2
   */
  replicas?: number;
  /** Placement: libmemcached-compatible weighted `"ketama"` or `"rendezvous"` (highest random weight). @default "ketama" */
  ring?: RingKind;
  /**
   * Cap on every item's lifetime in seconds (1..2,592,000). A server that returns empty or stale is fully rewritten
   * within this time even for keys nobody reads.
   * @default 82800 (23 hours)
   */
  maxTtl?: number;
  /** Lifetime used when a call gives none, in seconds; capped by `maxTtl`. @default maxTtl */
  defaultTtl?: number;
  /** Shorten each TTL by a random share of up to this fraction (0..0.5) so keys written together expire spread out. @default 0 */
  ttlJitter?: number;
  /** See {@link WritePolicy}. @default "one" */
  writePolicy?: WritePolicy;
  /** See {@link RepairMode}. @default "background" */
  repair?: RepairMode;
  /** Most background repairs in flight at once; further ones are skipped and counted (`repairsDropped`). @default 1000 */
  maxPendingRepairs?: number;
  /** Lifetime of the lease placeholder that guards a write-back, in seconds. @default 5 */
  repairLeaseTtl?: number;
  /**
   * How long a delete leaves a tombstone on each replica, in seconds: while it lives, no copy (read-repair, rewarm)
   * fills the key there, which is what keeps a copy that raced the delete from bringing the value back. Must exceed
   * the longest time a delete takes to reach every replica (the transport's request timeout); memcached's clock has
   * one-second steps, so at least 2.
   * @default 5
   */
  tombstoneTtl?: number;
  /** Most hinted keys kept per server; beyond that the server must be flushed before it is read again. @default 10000 */
  maxHints?: number;
  /** Prepended to every key (every namespace's keys too). @default "" */
  keyPrefix?: string;
  /**
   * What `get`/`getMany` do with a key no replica can answer: `"throw"` rejects with `ServerUnavailableError`
   * (`getMany`: only when no key at all could be read; the others are listed in `unavailable`); `"miss"` treats it as
   * a miss, for callers that fall back to the database anyway. Per-call `onUnavailable` overrides it.
   * @default "throw"
   */
  onUnavailable?: "throw" | "miss";
  /** See {@link KeyHashing}. @default false */
  hashKeys?: KeyHashing;
  /** Value codec. @default the built-in codec (strings, bytes, JSON) */
  codec?: Codec;
  /** Options of the built-in codec (ignored when `codec` is given). */
  codecOptions?: CodecOptions;
  /** Largest encoded value accepted, in bytes. @default the smallest `maxValueSize` of the transports */
  maxValueSize?: number;
  health?: HealthOptions;
  /**
   * Automatic rewarm: when a server comes back empty (restarted, or flushed on rejoin), exactly one client process
   * in the fleet copies to it every key it should hold (as primary and as secondary) from its partners, at most
   * `rate` keys/s, holding a lock on the server itself (another process takes over if it dies); `status()` shows the
   * server as `rewarming` until it is done. `false` turns it off (then `mcpair rewarm` does it by hand).
   * @default { rate: 5000, concurrency: 16, window: 100000, lockTtl: 10 }
   */
  rewarm?: false | Partial<RewarmSettings>;
  /** Injectable clock (ms) and randomness, for tests. */
  now?: () => number;
  random?: () => number;
}

/** Options after defaults and validation; frozen. */
export interface ResolvedOptions {
  readonly replicas: number;
  readonly ring: RingKind;
  readonly maxTtl: number;
  readonly defaultTtl: number;
  readonly ttlJitter: number;
  readonly writePolicy: WritePolicy;
  readonly repair: RepairMode;
  readonly maxPendingRepairs: number;
  readonly repairLeaseTtl: number;
  readonly tombstoneTtl: number;
  readonly maxHints: number;
  readonly mapKey: KeyMapper;
  readonly keyPrefix: string;
  readonly onUnavailable: "throw" | "miss";
  readonly codec: Codec;
  readonly maxValueSize: number | undefined;
  readonly health: HealthSettings;
  /** Automatic rewarm settings, or false. */
  readonly rewarm: RewarmSettings | false;
  readonly now: () => number;
  readonly random: () => number;
}

export const DEFAULTS = {
  replicas: 2,
  ring: "ketama" as RingKind,
  maxTtl: DEFAULT_MAX_TTL,
  ttlJitter: 0,
  writePolicy: "one" as WritePolicy,
  onUnavailable: "throw" as "throw" | "miss",
  repair: "background" as RepairMode,
  maxPendingRepairs: 1000,
  repairLeaseTtl: 5,
  tombstoneTtl: 5,
  maxHints: 10_000,
  failureThreshold: 3,
  probeInterval: 500,
  maxProbeInterval: 2000,
  probeBackoff: 1.5,
  replayBatch: 256,
  checkInterval: 1000,
} as const;

function int(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      `option "${name}" must be a whole number from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return value;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new InvalidArgumentError(
      `option "${name}" must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

function resolveRewarmOption(r: unknown): RewarmSettings | false {
  if (r === false) return false;
  if (r === undefined || r === true) return resolveRewarm(undefined, 'option "rewarm"');
  if (typeof r !== "object" || r === null) {
    throw new InvalidArgumentError(
      `option "rewarm" must be false or an object of settings, got ${String(r)}`,
    );
  }
  return resolveRewarm(r as Partial<RewarmSettings>, 'option "rewarm"');
}

/** Applies defaults and validates every option eagerly, naming the option and the allowed range on error. */
export function resolveOptions(o: PairClientOptions): ResolvedOptions {
  if (o === null || typeof o !== "object") throw new InvalidArgumentError("options must be an object");
  if (typeof o.transport !== "function") {
    throw new InvalidArgumentError(
      'option "transport" must be a function that creates a transport for a server',
    );
  }
  const maxTtl = validateMaxTtl(o.maxTtl ?? DEFAULTS.maxTtl);
  const defaultTtl = int("defaultTtl", o.defaultTtl ?? maxTtl, 1, maxTtl);
  const ttlJitter = o.ttlJitter ?? DEFAULTS.ttlJitter;
  if (typeof ttlJitter !== "number" || !(ttlJitter >= 0 && ttlJitter <= 0.5)) {
    throw new InvalidArgumentError(
      `option "ttlJitter" must be a number from 0 to 0.5, got ${String(ttlJitter)}`,
    );
  }
  const h = o.health ?? {};
  const probeInterval = int("health.probeInterval", h.probeInterval ?? DEFAULTS.probeInterval, 10, 600_000);
  const maxProbeInterval = int(
    "health.maxProbeInterval",
    h.maxProbeInterval ?? DEFAULTS.maxProbeInterval,
    probeInterval,
    3_600_000,
  );
  const probeBackoff = h.probeBackoff ?? DEFAULTS.probeBackoff;
  if (typeof probeBackoff !== "number" || !(probeBackoff >= 1 && probeBackoff <= 10)) {
    throw new InvalidArgumentError(
      `option "health.probeBackoff" must be a number from 1 to 10, got ${String(probeBackoff)}`,
    );
  }
  const maxValueSize =
    o.maxValueSize === undefined ? undefined : int("maxValueSize", o.maxValueSize, 1, 1024 * 1024 * 1024);
  const hashKeys = o.hashKeys ?? false;
  if (hashKeys !== false && hashKeys !== "long" && hashKeys !== "always") {
    throw new InvalidArgumentError(
      `option "hashKeys" must be false, "long" or "always", got ${JSON.stringify(hashKeys)}`,
    );
  }
  const keyPrefix = o.keyPrefix ?? "";
  if (typeof keyPrefix !== "string") throw new InvalidArgumentError('option "keyPrefix" must be a string');
  if (
    o.codec !== undefined &&
    (typeof o.codec?.encode !== "function" || typeof o.codec?.decode !== "function")
  ) {
    throw new InvalidArgumentError('option "codec" must have encode(value) and decode(bytes, flags) methods');
  }
  return Object.freeze({
    replicas: int("replicas", o.replicas ?? DEFAULTS.replicas, 1, 16),
    ring: oneOf("ring", o.ring ?? DEFAULTS.ring, ["ketama", "rendezvous"] as const),
    maxTtl,
    defaultTtl,
    ttlJitter,
    writePolicy: oneOf("writePolicy", o.writePolicy ?? DEFAULTS.writePolicy, ["one", "all"] as const),
    repair: oneOf("repair", o.repair ?? DEFAULTS.repair, ["background", "await", "off"] as const),
    maxPendingRepairs: int(
      "maxPendingRepairs",
      o.maxPendingRepairs ?? DEFAULTS.maxPendingRepairs,
      0,
      1_000_000,
    ),
    repairLeaseTtl: int("repairLeaseTtl", o.repairLeaseTtl ?? DEFAULTS.repairLeaseTtl, 1, 300),
    tombstoneTtl: int("tombstoneTtl", o.tombstoneTtl ?? DEFAULTS.tombstoneTtl, 2, 300),
    maxHints: int("maxHints", o.maxHints ?? DEFAULTS.maxHints, 0, 10_000_000),
    mapKey: createKeyMapper(keyPrefix, hashKeys),
    keyPrefix,
    onUnavailable: oneOf("onUnavailable", o.onUnavailable ?? DEFAULTS.onUnavailable, [
      "throw",
      "miss",
    ] as const),
    codec: o.codec ?? createDefaultCodec(o.codecOptions),
    maxValueSize,
    health: Object.freeze({
      failureThreshold: int(
        "health.failureThreshold",
        h.failureThreshold ?? DEFAULTS.failureThreshold,
        1,
        1000,
      ),
      probeInterval,
      maxProbeInterval,
      probeBackoff,
      replayBatch: DEFAULTS.replayBatch,
      tombstoneTtl: int("tombstoneTtl", o.tombstoneTtl ?? DEFAULTS.tombstoneTtl, 2, 300),
      rejoin: oneOf("health.rejoin", h.rejoin ?? "flush", ["flush", "replay"] as const),
      checkInterval:
        h.checkInterval === 0
          ? 0
          : int("health.checkInterval", h.checkInterval ?? DEFAULTS.checkInterval, 50, 600_000),
      rejoinQuarantine: int(
        "health.rejoinQuarantine",
        h.rejoinQuarantine ?? Math.ceil(2.4 * maxProbeInterval) + 3000,
        0,
        3_600_000,
      ),
    }),
    rewarm: resolveRewarmOption(o.rewarm),
    now: o.now ?? Date.now,
    random: o.random ?? Math.random,
  });
}
