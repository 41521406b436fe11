import { FLAGS } from "./codec.js";
import { hasBrand, isServerFault, ServerUnavailableError } from "./errors.js";
import { HintLog } from "./hints.js";
import type { ServerAddress, Transport } from "./transport.js";

/**
 * Health of one server, as this client process sees it.
 *
 * ```
 *          failures >= threshold / refused
 *   up ───────────────────────────────────► down ◄──────────┐
 *   ▲ ▲                                       │ backoff      │ probe failed
 *   │ │                                       ▼              │
 *   │ │  restarted (empty), or nothing missed probing ─────────┘
 *   │ └──────────────────────────────────────┤
 *   │                                         │ same process, missed writes
 *   │        hints replayed / flushed         ▼
 *   └────────────────────────────────── recovering
 *
 *   up ◄──► draining   (operator's drain marker seen / gone)
 * ```
 * Only `up` servers are read. `down` and `probing` servers are not contacted by requests at all (failed fast; their
 * missed writes go to the hint log). `recovering` and `draining` servers receive writes but are not read.
 */
export type ServerState = "up" | "down" | "probing" | "recovering" | "draining";

export interface HealthSettings {
  failureThreshold: number;
  probeInterval: number;
  maxProbeInterval: number;
  probeBackoff: number;
  /** Replay batch size. */
  replayBatch: number;
  /** Lifetime of the tombstone a replay leaves, seconds (see `deletes.ts`). */
  tombstoneTtl: number;
  /** Interval of the background check of reachable servers (pid, drain marker), ms; 0 disables. */
  checkInterval: number;
  /** After a rejoin, how long the server is written but not read, ms (see `#quarantine`). */
  rejoinQuarantine: number;
  /**
   * What to do when a server that was marked down comes back as the *same* process (paused, partitioned, overloaded):
   * `"flush"` empties it (every client that saw the outage does so before reading it again, which also removes old
   * values written by clients whose misses this client cannot know); `"replay"` only deletes the keys this client
   * failed to write there (cheaper, but other processes' misses are theirs to replay).
   */
  rejoin: "flush" | "replay";
}

/**
 * The drain marker: an operator writes this key on the server itself (`mcpair drain`), and every client process sees
 * it on its next background check, with no restart or config push. A rebooted memcached comes back empty, so the
 * drain ends by itself when the server returns; the marker also carries a TTL in case it never goes down.
 */
export const DRAIN_KEY = "mcpair:drain";

const NO_BYTES = new Uint8Array(0);

export interface ServerNodeHooks {
  stateChanged(node: ServerNode, from: ServerState, to: ServerState, reason: string): void;
  hintOverflow(node: ServerNode): void;
  rejoined(node: ServerNode, how: "restarted" | "replayed" | "flushed" | "clean"): void;
  error(node: ServerNode, error: unknown): void;
  /** The replay of a cascade hint for `key` was acknowledged here: delete it again on the key's other replicas. */
  cascade?(node: ServerNode, key: string): void;
}

export class ServerNode {
  readonly index: number;
  readonly address: ServerAddress;
  readonly name: string;
  readonly transport: Transport;
  readonly hints: HintLog;
  #state: ServerState = "up";
  #failures = 0;
  #settings: HealthSettings;
  #hooks: ServerNodeHooks;
  #probeDelay: number;
  #probeTimer: ReturnType<typeof setTimeout> | undefined;
  #replaying = false;
  #closed = false;
  /** Identity of the server process last seen: a different pid (or a shorter uptime than the outage) means a restart. */
  #pid: number | undefined;
  #downSince = 0;
  #random: () => number;
  #now: () => number;

  constructor(
    index: number,
    address: ServerAddress,
    transport: Transport,
    settings: HealthSettings,
    maxHints: number,
    hooks: ServerNodeHooks,
    clock: { now: () => number; random: () => number },
  ) {
    this.index = index;
    this.address = address;
    this.name = address.name;
    this.transport = transport;
    this.#settings = settings;
    this.#hooks = hooks;
    this.hints = new HintLog(maxHints);
    this.#probeDelay = settings.probeInterval;
    this.#now = clock.now;
    this.#random = clock.random;
  }

  get state(): ServerState {
    return this.#state;
  }

  /** The pid last reported by the server's `stats`, if known. */
  get pid(): number | undefined {
    return this.#pid;
  }

  /** May a request read `key` from this server? */
  readable(key: string): boolean {
    return this.#state === "up" && !this.hints.blocks(key);
  }

  /**
   * May a lease-guarded copy of `key` be written here? Yes while `up` and during the rejoin quarantine (the server
   * is written, only its reads wait: a copy's lease never overwrites anything, see `copy.ts`), unless this client
   * knows it missed a write or delete of `key` (the replay would remove the copy anyway).
   */
  acceptsCopies(key: string): boolean {
    return (
      (this.#state === "up" || (this.#state === "recovering" && this.#quarantined)) && !this.hints.blocks(key)
    );
  }

  /**
   * May `key` be read here when no replica is readable? A draining server is written all along (only its reads moved
   * away before the operator stops it), so it holds every value: a last resort better than no answer.
   */
  readableWhileDraining(key: string): boolean {
    return this.#state === "draining" && !this.hints.blocks(key);
  }

  /**
   * May `key` be read here as a last resort, when it is the key's only replica (`replicas: 1`)? Also during the
   * rejoin quarantine: the quarantine guards against writes and deletes that another replica acknowledged while this
   * one was skipped, and a key with a single replica has none (a write that skipped its only replica failed).
   */
  readableAsOnlyReplica(key: string): boolean {
    return this.readableWhileDraining(key) || (this.quarantined && !this.hints.blocks(key));
  }

  /** In the rejoin quarantine: caught up by this client, written, not yet read. */
  get quarantined(): boolean {
    return this.#state === "recovering" && this.#quarantined;
  }

  /** May requests be sent at all? (`down`/`probing` servers are failed fast.) */
  get reachable(): boolean {
    return this.#state !== "down" && this.#state !== "probing";
  }

  /** The error a request gets for a server that is failed fast. */
  unavailable(): ServerUnavailableError {
    return new ServerUnavailableError(
      `server ${this.name} is marked down; failing fast until a probe succeeds`,
      {
        server: this.name,
      },
    );
  }

  succeeded(): void {
    if (this.#failures !== 0) this.#failures = 0;
  }

  /** A request failed. Server faults count toward marking the server down; a refused connection counts fully. */
  failed(error: unknown): void {
    if (!isServerFault(error) || !this.reachable) return;
    this.#hooks.error(this, error);
    this.#failures += hasBrand(error, "ServerUnavailableError") ? this.#settings.failureThreshold : 1;
    if (this.#failures >= this.#settings.failureThreshold) this.markDown(`${(error as Error).message}`);
  }

  /**
   * Records that `key`'s latest write/delete did not reach this server (with `cascade`: a delete whose first round
   * did not, see `hints.ts`).
   */
  hint(key: string, cascade = false): void {
    if (this.hints.add(key, cascade)) this.#hooks.hintOverflow(this);
    if (this.#state === "up" || this.quarantined) this.#scheduleReplay();
  }

  markDown(reason: string): void {
    if (this.#closed || this.#state === "down") return;
    if (this.#state !== "probing") this.#downSince = this.#now();
    this.#setState("down", reason);
    this.#scheduleProbe();
  }

  /** Operator drain marker seen (`true`) or gone (`false`). */
  setDraining(draining: boolean): void {
    if (draining && this.#state === "up") this.#setState("draining", "drain marker present");
    else if (!draining && this.#state === "draining") this.#setState("up", "drain marker removed");
  }

  #checkTimer: ReturnType<typeof setTimeout> | undefined;

  /** Starts the background check: every `checkInterval` (±20%), learn the pid and look for the drain marker. */
  startChecks(): void {
    if (this.#settings.checkInterval <= 0 || this.#closed) return;
    const schedule = () => {
      const delay = Math.round(this.#settings.checkInterval * (0.8 + 0.4 * this.#random()));
      this.#checkTimer = setTimeout(() => void this.check().finally(schedule), delay);
      this.#checkTimer.unref?.();
    };
    schedule();
  }

  /** One background check; also callable directly (tests, `status`). */
  async check(): Promise<void> {
    if (this.#closed || (this.#state !== "up" && this.#state !== "draining")) return;
    try {
      const [stats, marker] = await Promise.all([this.transport.stats(), this.transport.get(DRAIN_KEY)]);
      this.succeeded();
      const restarted = this.#pid !== undefined && stats.pid !== this.#pid;
      this.#pid = stats.pid;
      if (restarted) {
        // Restarted between two checks without any of our requests failing. Other processes may have it down
        // right now: quarantine it like any rejoin (and let the rejoin start a rewarm). Hints stay: they are replayed.
        this.#quarantine("restarted");
        return;
      }
      this.setDraining(marker !== null && !marker.stale && marker.value.length > 0);
    } catch (error) {
      this.failed(error);
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#checkTimer) clearTimeout(this.#checkTimer);
    this.#checkTimer = undefined;
    if (this.#probeTimer) clearTimeout(this.#probeTimer);
    if (this.#replayTimer) clearTimeout(this.#replayTimer);
    if (this.#quarantineTimer) clearTimeout(this.#quarantineTimer);
    this.#quarantineTimer = undefined;
    this.#probeTimer = undefined;
    this.#replayTimer = undefined;
  }

  #setState(to: ServerState, reason: string): void {
    const from = this.#state;
    if (from === to) return;
    if (to !== "recovering") this.#quarantined = false;
    this.#state = to;
    this.#hooks.stateChanged(this, from, to, reason);
  }

  #scheduleProbe(): void {
    if (this.#closed || this.#probeTimer) return;
    // Jitter (±20%) keeps many client processes from probing a returning server in lock-step.
    const delay = Math.round(this.#probeDelay * (0.8 + 0.4 * this.#random()));
    this.#probeDelay = Math.min(
      this.#probeDelay * this.#settings.probeBackoff,
      this.#settings.maxProbeInterval,
    );
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      void this.#probe();
    }, delay);
    this.#probeTimer.unref?.();
  }

  async #probe(): Promise<void> {
    if (this.#closed || this.#state !== "down") return;
    this.#setState("probing", "probe");
    let pid: number;
    let uptime: number;
    try {
      const stats = await this.transport.stats();
      pid = stats.pid;
      uptime = stats.uptime;
    } catch (error) {
      if (this.#closed) return;
      this.#setState("down", `probe failed: ${(error as Error).message}`);
      this.#scheduleProbe();
      return;
    }
    if (this.#closed) return;
    this.#probeDelay = this.#settings.probeInterval;
    this.#failures = 0;
    const outageSeconds = (this.#now() - this.#downSince) / 1000;
    // A restarted memcached is empty, which is safe to read: nothing it holds predates the outage. The same process
    // (SIGSTOP, partition, overload) may hold values that were replaced or deleted meanwhile.
    const restarted = (this.#pid !== undefined && pid !== this.#pid) || uptime + 1 < outageSeconds;
    this.#pid = pid;
    let how: "restarted" | "replayed" | "flushed" | "clean";
    if (!restarted && (this.hints.overflowed || this.#settings.rejoin === "flush")) {
      this.#setState(
        "recovering",
        this.hints.overflowed
          ? "missed more writes than the hint log holds: flushing"
          : "returned with its old data: flushing",
      );
      if (!(await this.#flush())) return;
      how = "flushed";
    } else {
      // A restarted server is empty of anything older than its restart, but not of what other clients wrote to it
      // since: hints recorded after it came back (while this client still had it down) are real missed writes, so
      // they are replayed (deletes), never dropped. Too many to replay: flush (it is nearly empty anyway).
      let replayed = false;
      if (this.hints.overflowed) {
        this.#setState("recovering", "missed more writes than the hint log holds: flushing");
        if (!(await this.#flush())) return;
      } else if (this.hints.size > 0) {
        this.#setState("recovering", `replaying ${this.hints.size} missed writes`);
        if (!(await this.#replay())) return;
        replayed = true;
      }
      how = restarted ? "restarted" : replayed ? "replayed" : "clean";
    }
    this.#quarantine(how);
  }

  /**
   * The last step of every rejoin: the server is written but not read for `rejoinQuarantine` ms, then `up`.
   *
   * Why: client processes see an outage independently. While another process still has this server down, its writes
   * and deletes skip it (they are only hinted there), so the server can hold values that process has replaced or
   * deleted, until that process probes it, rejoins and replays its hints. The quarantine lasts longer than any
   * process takes to do that (its longest probe delay, plus the transport's reconnect delay), so by the time this
   * process reads the server, every process has caught it up.
   */
  #quarantine(how: "restarted" | "replayed" | "flushed" | "clean"): void {
    const ms = this.#settings.rejoinQuarantine;
    if (ms <= 0) {
      this.#quarantined = false;
      this.#setState("up", `rejoined (${how})`);
      this.#hooks.rejoined(this, how);
      return;
    }
    this.#quarantined = true;
    this.#setState("recovering", `rejoined (${how}); not read for ${ms} ms while other clients catch up`);
    this.#hooks.rejoined(this, how);
    if (this.#quarantineTimer) clearTimeout(this.#quarantineTimer);
    this.#quarantineTimer = setTimeout(() => {
      this.#quarantineTimer = undefined;
      this.#quarantined = false;
      if (this.#closed || this.#state !== "recovering") return;
      if (this.hints.overflowed) void this.#flushWhileUp();
      else this.#setState("up", "quarantine over");
      if (this.hints.size > 0) this.#scheduleReplay();
    }, ms);
    this.#quarantineTimer.unref?.();
  }

  #quarantineTimer: ReturnType<typeof setTimeout> | undefined;
  #quarantined = false;

  /** Flushes during a rejoin; on failure the server goes back down. */
  async #flush(): Promise<boolean> {
    try {
      await this.transport.flush();
    } catch (error) {
      this.#hooks.error(this, error);
      this.markDown(`flush failed: ${(error as Error).message}`);
      return false;
    }
    this.hints.clear();
    return true;
  }

  #replayTimer: ReturnType<typeof setTimeout> | undefined;

  #scheduleReplay(): void {
    if (this.#replayTimer || this.#replaying || this.#closed) return;
    this.#replayTimer = setTimeout(() => {
      this.#replayTimer = undefined;
      void this.#replay();
    }, 10);
    this.#replayTimer.unref?.();
  }

  /** Deletes hinted keys on the server, batch by batch. Resolves false if the server failed meanwhile. */
  async #replay(): Promise<boolean> {
    if (this.#replaying) return false;
    this.#replaying = true;
    try {
      while (!this.#closed && this.reachable && this.hints.size > 0 && !this.hints.overflowed) {
        const batch = this.hints.peek(this.#settings.replayBatch);
        // A replay is a delete, so it leaves a tombstone like one (`deletes.ts`): a plain `md` would also remove a
        // tombstone another delete left there, and let a copy fill the key behind that delete's back.
        const results = await Promise.allSettled(
          batch.map((k) =>
            this.transport.set(k, NO_BYTES, { ttl: this.#settings.tombstoneTtl, flags: FLAGS.tombstone }),
          ),
        );
        let failed: unknown;
        results.forEach((r, i) => {
          if (r.status === "fulfilled") {
            if (this.hints.settle(batch[i]!)) this.#hooks.cascade?.(this, batch[i]!);
          } else failed ??= r.reason;
        });
        if (failed !== undefined) {
          this.failed(failed);
          if (!this.reachable) return false;
        }
      }
      return !this.hints.overflowed && this.hints.size === 0;
    } finally {
      this.#replaying = false;
      if (this.hints.overflowed && this.#state === "up") {
        // Overflow while up (a burst of failures without being marked down): a flush is the only safe repair.
        void this.#flushWhileUp();
      }
    }
  }

  async #flushWhileUp(): Promise<void> {
    this.#setState("recovering", "hint log overflowed: flushing");
    try {
      await this.transport.flush();
      this.hints.clear();
      this.#setState("up", "flushed");
      this.#hooks.rejoined(this, "flushed");
    } catch (error) {
      this.#hooks.error(this, error);
      this.markDown(`flush failed: ${(error as Error).message}`);
    }
  }
}
