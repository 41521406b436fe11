/**
 * Active rewarm: a server that came back empty gets, from its partners, every key it should hold (as primary and as
 * secondary), rate-limited, so that a rolling restart does not leave keys on one copy until their TTL ends (design
 * note, trap 7). Each copy is the copy primitive (`copy.ts`): it only fills (never overwrites what the returned
 * server already got from live writes), carries the source's remaining lifetime, and cannot bring back a deleted
 * value, in either direction.
 *
 * Listing keys without holding them all. memcached's `lru_crawler metadump` is not a snapshot: a dump consumed at copy
 * speed under live traffic was measured to miss keys as items moved in the LRU, so each partner's dump is read at full
 * speed. To bound memory, the keys are split into passes by a hash of the key: pass i keeps only the keys whose hash
 * falls in bucket i, copies them, then dumps the partner again for the next bucket. `window` keys per pass (partners'
 * `curr_items` decide the number of passes): memory stays near `window` keys whatever the server holds.
 *
 * Automatic rewarm (on by default). When a client sees a server come back empty (its rejoin says "restarted" or
 * "flushed"), it tries to take the rewarm lock: the item `mcpair:rewarm` written on that server itself with `add`
 * (exactly one process in the fleet wins; a server that restarts again loses the lock with its data, which is right:
 * it needs a new rewarm). The winner copies, and renews the lock every `heartbeat` ms with a CAS-guarded store that
 * also carries its progress (`status()` and `mcpair status` show the server as `rewarming` with it). The others
 * watch: when the lock disappears before the rewarm is done (the holder died), the next one to `add` it takes over
 * (and starts again: copies are idempotent). When done, the holder leaves a `done` marker in its place.
 */
import type { Cluster } from "./cluster.js";
import { copyItem } from "./copy.js";
import { InvalidArgumentError } from "./errors.js";
import type { ServerNode } from "./server-node.js";
import { DRAIN_KEY } from "./server-node.js";

export interface RewarmOptions {
  /** Keys copied per second at most. @default 5000 */
  rate?: number;
  /** Copies in flight at most. @default 16 */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface RewarmProgress {
  server: string;
  /** Keys listed by the partners' metadumps (each pass lists a partner's keys once). */
  scanned: number;
  /** Keys the rewarmed server should hold. */
  candidates: number;
  copied: number;
  /** Already there, or changed meanwhile (newer data is never overwritten). */
  conflicts: number;
  skipped: number;
  failed: number;
  /** Share of the work done, 0..1 (dump passes over the partners). */
  progress: number;
  startedAt: number;
  finishedAt: number | undefined;
}

/** Settings of the automatic rewarm (`PairClientOptions.rewarm`). */
export interface RewarmSettings {
  /** Keys copied per second at most. @default 5000 */
  rate: number;
  /** Copies in flight at most. @default 16 */
  concurrency: number;
  /** Keys listed per dump pass at most (memory bound). @default 100000 */
  window: number;
  /** Lifetime of the rewarm lock, seconds: another process takes over this long after the holder died. @default 10 */
  lockTtl: number;
}

export const REWARM_DEFAULTS: RewarmSettings = Object.freeze({
  rate: 5000,
  concurrency: 16,
  window: 100_000,
  lockTtl: 10,
});

/** The lock and progress item a rewarm keeps on the server it refills. */
export const REWARM_KEY = "mcpair:rewarm";

/** What the lock item holds. */
export interface RewarmMarker {
  state: "running" | "done";
  owner: string;
  startedAt: number;
  updatedAt: number;
  copied: number;
  candidates: number;
  progress: number;
}

const utf8 = new TextEncoder();
const utf8Text = new TextDecoder();

/** One macrotask turn: pending I/O callbacks run first. */
function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** FNV-1a over UTF-16 code units: a cheap, stable bucket for the dump passes. */
function bucketOf(key: string, buckets: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}
/** The done marker stays this long (it only tells `status()` and late watchers that the rewarm finished). */
const DONE_TTL = 3600;
/** Flags of the marker item: JSON of the built-in codec (0 is a placeholder's). */
const MARKER_FLAGS = 0x4d50_0003;

/** Validates `rewarm` settings (the option or a call's options), naming the wrong one. */
export function resolveRewarm(o: Partial<RewarmSettings> | undefined, where: string): RewarmSettings {
  const rate = o?.rate ?? REWARM_DEFAULTS.rate;
  if (typeof rate !== "number" || !(rate > 0) || !Number.isFinite(rate)) {
    throw new InvalidArgumentError(
      `${where}: "rate" must be a positive number of keys per second, got ${String(rate)}`,
    );
  }
  const concurrency = o?.concurrency ?? REWARM_DEFAULTS.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
    throw new InvalidArgumentError(
      `${where}: "concurrency" must be a whole number from 1 to 1024, got ${String(concurrency)}`,
    );
  }
  const window = o?.window ?? REWARM_DEFAULTS.window;
  if (!Number.isInteger(window) || window < 100 || window > 10_000_000) {
    throw new InvalidArgumentError(
      `${where}: "window" must be a whole number from 100 to 10000000, got ${String(window)}`,
    );
  }
  const lockTtl = o?.lockTtl ?? REWARM_DEFAULTS.lockTtl;
  if (!Number.isInteger(lockTtl) || lockTtl < 2 || lockTtl > 600) {
    throw new InvalidArgumentError(
      `${where}: "lockTtl" must be a whole number of seconds from 2 to 600, got ${String(lockTtl)}`,
    );
  }
  return Object.freeze({ rate, concurrency, window, lockTtl });
}

/**
 * Runs one rewarm of `target`; `progress` is updated as it goes. `onProgress` is called after every pass and every
 * few hundred copies (the lock heartbeat uses it). Stops early when `signal` aborts or the client closes.
 */
export async function runRewarm(
  c: Cluster,
  target: ServerNode,
  settings: RewarmSettings,
  progress: RewarmProgress,
  signal: AbortSignal | undefined,
): Promise<RewarmProgress> {
  const stopped = () => c.closed || signal?.aborted === true;
  const interval = 1000 / settings.rate;
  let nextAt = c.options.now();
  const inflight = new Set<Promise<void>>();
  // Sources: partners every client may read (not down, draining or in quarantine); a copy only reads a source.
  const sources = c.nodes.filter((n) => n !== target && n.state === "up");
  const plan: Array<{ source: ServerNode; passes: number }> = [];
  for (const source of sources) {
    const items = await source.transport
      .stats()
      .then((s) => s.currItems)
      .catch(() => 0);
    plan.push({ source, passes: Math.max(1, Math.ceil(items / settings.window)) });
  }
  const totalPasses = plan.reduce((n, p) => n + p.passes, 0);
  let passesDone = 0;
  for (const { source, passes } of plan) {
    for (let pass = 0; pass < passes && !stopped(); pass++) {
      const keys: string[] = [];
      try {
        for await (const entry of source.transport.dump()) {
          if (stopped()) break;
          // Listing runs in the application's process: hand the event loop back every few hundred keys (the ring
          // lookup of each key is CPU), so a rewarm never holds up the requests of the application for long.
          if (++progress.scanned % 256 === 0) await yieldTurn();
          const k = entry.key;
          if (k === DRAIN_KEY || k === REWARM_KEY) continue;
          if (passes > 1 && bucketOf(k, passes) !== pass) continue;
          const list = c.replicas(k);
          // Only keys the target should hold, and only from the first readable partner that holds them.
          if (!list.includes(target.index)) continue;
          const first = list.find((i) => i !== target.index && c.nodes[i]!.state === "up");
          if (first !== source.index) continue;
          keys.push(k);
        }
      } catch {
        progress.failed++;
        break;
      }
      progress.candidates += keys.length;
      for (const k of keys) {
        if (stopped()) break;
        // Pace in steps of at least 5 ms: timers cannot sleep less than about 1 ms, so sleeping whenever we are a
        // fraction of a millisecond ahead would cap the rate near 1,000 keys/s whatever `rate` says.
        const wait = nextAt - c.options.now();
        if (wait >= 5) await new Promise((r) => setTimeout(r, wait));
        nextAt = Math.max(nextAt, c.options.now() - 5) + interval;
        while (inflight.size >= settings.concurrency) await Promise.race(inflight);
        const job = copyItem(c.repairCtx, k, source, target).then(
          (outcome) => {
            if (outcome === "repaired") progress.copied++;
            else if (outcome === "conflict") progress.conflicts++;
            else if (outcome === "failed") progress.failed++;
            else progress.skipped++;
          },
          () => {
            progress.failed++;
          },
        );
        inflight.add(job);
        void job.finally(() => inflight.delete(job));
      }
      await Promise.all(inflight);
      passesDone++;
      progress.progress = totalPasses === 0 ? 1 : passesDone / totalPasses;
    }
  }
  await Promise.all(inflight);
  if (!stopped()) progress.progress = 1;
  progress.finishedAt = c.options.now();
  return progress;
}

export function newProgress(server: string, now: number): RewarmProgress {
  return {
    server,
    scanned: 0,
    candidates: 0,
    copied: 0,
    conflicts: 0,
    skipped: 0,
    failed: 0,
    progress: 0,
    startedAt: now,
    finishedAt: undefined,
  };
}

/** Reads the rewarm marker of a server, if any. */
export async function readMarker(node: ServerNode): Promise<{ marker: RewarmMarker; cas: bigint } | null> {
  const item = await node.transport.get(REWARM_KEY, { cas: true });
  if (item === null || item.stale || item.value.length === 0) return null;
  try {
    return { marker: JSON.parse(utf8Text.decode(item.value)) as RewarmMarker, cas: item.cas };
  } catch {
    return null;
  }
}

function encodeMarker(m: RewarmMarker): Uint8Array {
  return utf8.encode(JSON.stringify(m));
}

/**
 * The automatic rewarm of one client: on every rejoin of an emptied server, take the lock or watch the holder. At
 * most one rewarm (or watch) per server per client at a time.
 */
export class AutoRewarm {
  readonly #c: Cluster;
  readonly #settings: RewarmSettings;
  readonly #owner: string;
  readonly #progresses: Map<string, RewarmProgress>;
  /** Servers this client is rewarming or watching. */
  readonly #active = new Map<ServerNode, AbortController>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(c: Cluster, settings: RewarmSettings, progresses: Map<string, RewarmProgress>) {
    this.#c = c;
    this.#settings = settings;
    this.#progresses = progresses;
    this.#owner = `${typeof process === "object" ? process.pid : 0}:${Math.floor(c.options.random() * 1e9).toString(36)}`;
  }

  /** The server came back empty: rewarm it (if we win the lock) or watch whoever does. */
  onEmptied(target: ServerNode): void {
    if (this.#c.closed) return;
    // A previous rewarm or watch of this server is for a previous incarnation: stop it.
    this.#active.get(target)?.abort();
    const ctl = new AbortController();
    this.#active.set(target, ctl);
    this.#c.track(this.#attempt(target, ctl.signal).catch(() => undefined));
  }

  close(): void {
    for (const ctl of this.#active.values()) ctl.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  async #attempt(target: ServerNode, signal: AbortSignal): Promise<void> {
    const c = this.#c;
    const now = c.options.now();
    const marker: RewarmMarker = {
      state: "running",
      owner: this.#owner,
      startedAt: now,
      updatedAt: now,
      copied: 0,
      candidates: 0,
      progress: 0,
    };
    let won = false;
    try {
      const r = await target.transport.set(REWARM_KEY, encodeMarker(marker), {
        mode: "add",
        ttl: this.#settings.lockTtl,
        flags: MARKER_FLAGS,
      });
      won = r === "stored";
    } catch {
      won = false;
    }
    if (signal.aborted) return;
    if (won) {
      await this.#hold(target, marker, signal);
      return;
    }
    // Someone else holds it (or it is done, or the server does not answer): look again later.
    this.#watch(target, signal);
  }

  #watch(target: ServerNode, signal: AbortSignal): void {
    const c = this.#c;
    const delay = Math.round((this.#settings.lockTtl * 1000 * (0.4 + 0.3 * c.options.random())) | 0);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (signal.aborted || c.closed) return;
      void readMarker(target).then(
        (m) => {
          if (signal.aborted) return;
          if (m?.marker.state === "done") {
            this.#active.delete(target);
            return;
          }
          // No lock any more: the holder died (or the server restarted: its own rejoin handles that). Try again.
          if (m === null) c.track(this.#attempt(target, signal).catch(() => undefined));
          else this.#watch(target, signal);
        },
        () => this.#watch(target, signal),
      );
    }, delay);
    timer.unref?.();
    this.#timers.add(timer);
  }

  /** We hold the lock: copy, renewing it with our progress; leave the done marker at the end. */
  async #hold(target: ServerNode, marker: RewarmMarker, signal: AbortSignal): Promise<void> {
    const c = this.#c;
    const progress = newProgress(target.name, marker.startedAt);
    this.#progresses.set(target.name, progress);
    const ctl = new AbortController();
    const stop = () => ctl.abort();
    signal.addEventListener("abort", stop, { once: true });
    let cas = (await readMarker(target).catch(() => null))?.cas;
    // Renew the lock (CAS-guarded: if another process took it over, we stop) every third of its lifetime.
    const renew = async (state: "running" | "done"): Promise<boolean> => {
      if (cas === undefined) return false;
      const m: RewarmMarker = {
        ...marker,
        state,
        updatedAt: c.options.now(),
        copied: progress.copied,
        candidates: progress.candidates,
        progress: state === "done" ? 1 : progress.progress,
      };
      try {
        const r = await target.transport.set(REWARM_KEY, encodeMarker(m), {
          ttl: state === "done" ? DONE_TTL : this.#settings.lockTtl,
          flags: MARKER_FLAGS,
          cas,
        });
        if (r !== "stored") return false;
        cas = (await readMarker(target))?.cas;
        return true;
      } catch {
        return false;
      }
    };
    const beat = setInterval(
      () => {
        void renew("running").then((ok) => {
          if (!ok) ctl.abort();
        });
      },
      Math.max(500, (this.#settings.lockTtl * 1000) / 3),
    );
    beat.unref?.();
    try {
      await runRewarm(c, target, this.#settings, progress, ctl.signal);
      // "done" only once the server is read again here (its rejoin quarantine is over), plus the longest probe
      // delay: the other processes rejoined it at about the same time, so by then they read it too. An operator who
      // waits for `up` before the next reboot then never has two servers of a key unreadable at once.
      const margin = c.options.health.maxProbeInterval + 1000;
      const deadline = c.options.now() + c.options.health.rejoinQuarantine + margin + 60_000;
      while (!ctl.signal.aborted && !c.closed && target.state !== "up" && c.options.now() < deadline) {
        await pause(100, ctl.signal);
      }
      if (!ctl.signal.aborted && !c.closed) await pause(margin, ctl.signal);
    } finally {
      clearInterval(beat);
      signal.removeEventListener("abort", stop);
    }
    if (!ctl.signal.aborted && !c.closed) await renew("done");
    if (this.#active.get(target)?.signal === signal) this.#active.delete(target);
  }
}
