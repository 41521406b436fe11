/**
 * The world one explored execution runs in: in-memory servers shared by several clients (one `PairClient` per actor,
 * as separate processes would have), a database row behind read-through, and the gate that holds every request
 * for the explorer. See `explore.ts` for the choices.
 */
import { vi } from "vitest";
import { createDefaultCodec, FLAGS } from "../../src/codec.js";
import { MemoryTransport, type MemoryTransportOperation } from "../../src/memory-transport.js";
import type { PairClientOptions } from "../../src/options.js";
import { PairClient } from "../../src/pair-client.js";
import type { Choice, Execution } from "./explore.js";
import { turns } from "./explore.js";

export const codec = createDefaultCodec();

/** One request held at the gate. */
interface Held {
  label: string;
  client: string;
  server: string;
  release(): void;
  drop(): void;
  timeOut: (() => void) | undefined;
  timedOut: boolean;
}

export interface WorldOptions {
  /** Server names, e.g. ["a", "b", "c"]. */
  servers: string[];
  replicas: number;
  /** Client options for every actor (health checks are always off; the explorer drives timers). */
  client?: Partial<PairClientOptions>;
  /** Most client-side timeouts per execution, and which requests may time out. @default 0 */
  timeouts?: number;
  /** Which held requests may be timed out (by label, client, server). @default any */
  mayTimeOut?: (h: { label: string; client: string; server: string }) => boolean;
  /** Most ticks taken as a branching choice (later ones happen only when nothing else can run). @default 1 */
  ticks?: number;
  /**
   * Most times the servers' clock may jump by {@link AGE_SECONDS} as a branching choice (`age`): tombstones and
   * leases expire. @default 0
   */
  ages?: number;
  /** When an `age` may happen (default: any time). */
  ageWhen?: () => boolean;
}

/** How far an `age` choice moves the servers' clock: past the default tombstone and lease lifetimes. */
export const AGE_SECONDS = 10;

/** Request timeouts of the transports: never reached, the explorer times requests out explicitly. */
const NEVER = 600_000;
const TICK_MS = 20;

export class World {
  /** The replica of the key under test that the scenario disturbs (name as the ring knows it, `a:1`). */
  target = "";
  readonly servers = new Map<string, MemoryTransport>();
  readonly db: MemoryTransport;
  readonly #held: Held[] = [];
  readonly #counts = new Map<string, number>();
  readonly #clients = new Map<string, PairClient>();
  readonly #options: WorldOptions;
  #current: string | undefined;
  #gating = false;
  #timeoutsLeft: number;
  #ticksLeft: number;
  #agesLeft: number;
  /** The servers' clock, ms (the clients keep real time). */
  #clock = Date.now();
  #forcedTicks = 0;
  /** Requests held so far (activity, for settling). */
  #issued = 0;
  #aged!: () => void;
  /** Resolves once the servers' clock jumped (`age`): an actor can wait for it to start after it. */
  readonly aged = new Promise<void>((resolve) => {
    this.#aged = resolve;
  });
  /** Errors thrown by actors that the scenario did not expect. */
  readonly #running = new Set<Promise<unknown>>();

  constructor(options: WorldOptions) {
    this.#options = options;
    this.#timeoutsLeft = options.timeouts ?? 0;
    this.#ticksLeft = options.ticks ?? 1;
    this.#agesLeft = options.ages ?? 0;
    const gate = (op: MemoryTransportOperation) => this.#gate(op);
    const now = () => this.#clock;
    for (const name of options.servers) {
      this.servers.set(name, new MemoryTransport({ address: `${name}:1`, gate, timeout: NEVER, now }));
    }
    this.db = new MemoryTransport({ address: "db:1", gate, timeout: NEVER });
  }

  /** The server transport by name (`a`) or address (`a:1`). */
  server(name: string): MemoryTransport {
    const t = this.servers.get(name.replace(/:1$/, ""));
    if (!t) throw new Error(`no server ${name}`);
    return t;
  }

  /** A client of its own (one per actor: clients share nothing but the servers). */
  client(id: string, extra: Partial<PairClientOptions> = {}): PairClient {
    let c = this.#clients.get(id);
    if (c) return c;
    c = new PairClient({
      replicas: this.#options.replicas,
      repair: "await",
      ...this.#options.client,
      ...extra,
      servers: this.#options.servers.map((n) => `${n}:1`),
      health: {
        failureThreshold: 1000,
        checkInterval: 0,
        rejoinQuarantine: 0,
        ...this.#options.client?.health,
        ...extra.health,
      },
      rewarm: false,
      transport: (s) => this.#view(this.server(s.name), id),
    });
    this.#clients.set(id, c);
    return c;
  }

  /** Replica servers of `key`, primary first. */
  replicas(key: string): MemoryTransport[] {
    return this.client("placement")
      .replicasOf(key)
      .map((n) => this.server(n));
  }

  /** The real value a server holds for `key` (lease placeholders and stale items are not values). */
  valueOn(t: MemoryTransport, key: string): string | undefined {
    const item = t.peek(key);
    if (!item || item.stale || (item.flags === 0 && item.value.length === 0)) return undefined;
    if (item.flags === FLAGS.tombstone) return undefined;
    if (item.flags === 0) return new TextDecoder().decode(item.value).trim();
    return String(codec.decode(item.value, item.flags));
  }

  /** Writes the database row, as actor `by` (its requests queue behind its own, not behind other actors'). */
  async setRow(value: string, by = "setup"): Promise<void> {
    const enc = codec.encode(value);
    await this.#view(this.db, by).set("row", enc.bytes, { ttl: 3600, flags: enc.flags });
  }

  /** Reads the database row, as actor `by`. */
  async readRow(by: string): Promise<string> {
    const item = await this.#view(this.db, by).get("row");
    return String(codec.decode(item!.value, item!.flags));
  }

  // ─── the execution interface for the explorer ───────────────────────────────────────────────────────────────────

  /** Starts the actors with the gate closed and returns the explorer's handle. */
  async run(
    actors: Array<() => Promise<unknown>>,
    finish: () => Promise<string | undefined>,
  ): Promise<Execution> {
    // Let construction-time checks (stats, drain marker) finish ungated.
    await turns(3);
    this.#gating = true;
    for (const actor of actors) {
      const p = actor();
      this.#running.add(p);
      p.then(
        () => this.#running.delete(p),
        () => this.#running.delete(p),
      );
    }
    await this.#settle();
    return {
      enabled: () => this.#enabled(),
      take: (c) => this.#take(c),
      finish: async () => {
        this.#gating = false;
        return finish();
      },
      dispose: () => this.dispose(),
    };
  }

  async dispose(): Promise<void> {
    this.#gating = false;
    for (const h of this.#held.splice(0)) h.drop();
    for (const c of this.#clients.values()) c.destroy();
    for (const s of this.servers.values()) s.destroy();
    this.db.destroy();
    // Let what the drops woke up run out (a fetch still waiting schedules its next poll), then clear every timer,
    // so that nothing of this execution leaks into the next one's timer count.
    await turns(5);
    vi.clearAllTimers();
  }

  #gate(op: MemoryTransportOperation): Promise<void> | undefined {
    if (!this.#gating) return undefined;
    const client = this.#current ?? "?";
    const base = `${op.op}${op.key === undefined ? "" : `:${op.key}`}@${op.address.replace(/:1$/, "")}/${client}`;
    const n = this.#counts.get(base) ?? 0;
    this.#counts.set(base, n + 1);
    this.#issued++;
    return new Promise<void>((resolve, reject) => {
      this.#held.push({
        label: `${base}#${n}`,
        client,
        server: op.address,
        release: resolve,
        drop: () => reject(new Error("dropped")),
        timeOut: op.timeout,
        timedOut: false,
      });
    });
  }

  /** A view of a shared server for one client: requests are attributed to it, close() leaves the server running. */
  #view(t: MemoryTransport, id: string): MemoryTransport {
    const tagged =
      (fn: (...args: unknown[]) => unknown) =>
      (...args: unknown[]) => {
        const prev = this.#current;
        this.#current = id;
        try {
          return fn.apply(t, args);
        } finally {
          this.#current = prev;
        }
      };
    return new Proxy(t, {
      get(target, prop) {
        if (prop === "close") return async () => undefined;
        if (prop === "destroy") return () => undefined;
        if (prop === "dump") {
          return (options?: unknown) => {
            const it = target.dump(options as never)[Symbol.asyncIterator]();
            return {
              [Symbol.asyncIterator]() {
                return { next: tagged(() => it.next()) as () => Promise<IteratorResult<unknown>> };
              },
            };
          };
        }
        const v = Reflect.get(target, prop);
        return typeof v === "function" ? tagged(v as (...args: unknown[]) => unknown) : v;
      },
    });
  }

  /** Timers other than the held requests' own (never-reached) timeouts are pending. */
  #timersPending(): boolean {
    const requestTimers = this.#held.filter((h) => !h.timedOut).length;
    return vi.getTimerCount() > requestTimers;
  }

  #enabled(): Choice[] {
    const out: Choice[] = [];
    const heads = new Set<string>();
    for (const h of this.#held) {
      const queue = `${h.client}>${h.server}`;
      if (!heads.has(queue)) {
        heads.add(queue);
        out.push({ id: `d:${h.label}`, server: h.server, client: h.client });
        if (h.timedOut) out.push({ id: `x:${h.label}`, server: h.server, client: h.client });
      }
      if (!h.timedOut && h.timeOut && this.#timeoutsLeft > 0 && (this.#options.mayTimeOut?.(h) ?? true)) {
        out.push({ id: `t:${h.label}`, server: h.server, client: h.client });
      }
    }
    if (this.#timersPending()) {
      if (this.#ticksLeft > 0 || out.length === 0)
        out.push({ id: "tick", server: undefined, client: undefined });
    }
    if (
      this.#agesLeft > 0 &&
      (this.#options.ageWhen?.() ?? true) &&
      (out.length > 0 || this.#running.size > 0)
    ) {
      out.push({ id: "age", server: undefined, client: undefined });
    }
    if (out.length === 0 && this.#running.size > 0) {
      throw new Error("deadlock: actors still running, nothing held, no timer pending");
    }
    return out;
  }

  async #take(c: Choice): Promise<void> {
    if (c.id === "age") {
      // Seconds pass: every request still in flight has timed out at its client by then (transport timeouts are far
      // shorter than tombstone and lease lifetimes). They stay in flight: they may still be applied later.
      this.#agesLeft--;
      for (const h of this.#held) {
        if (h.timedOut || h.timeOut === undefined) continue;
        h.timedOut = true;
        h.timeOut();
      }
      this.#clock += AGE_SECONDS * 1000;
      this.#aged();
      await this.#settle();
      return;
    }
    if (c.id === "tick") {
      if (this.#ticksLeft > 0) this.#ticksLeft--;
      else if (++this.#forcedTicks > 2000) throw new Error("timers keep firing: livelock");
      await vi.advanceTimersByTimeAsync(TICK_MS);
      await this.#settle();
      return;
    }
    const label = c.id.slice(2);
    const i = this.#held.findIndex((h) => h.label === label);
    const h = this.#held[i];
    if (h === undefined) throw new Error(`no held request ${label}`);
    if (c.id.startsWith("t:")) {
      this.#timeoutsLeft--;
      h.timedOut = true;
      h.timeOut?.();
    } else {
      this.#held.splice(i, 1);
      if (c.id.startsWith("x:")) h.drop();
      else h.release();
    }
    await this.#settle();
  }

  /** Runs the system until nothing changes for a few macrotask turns: every client waits on held requests. */
  async #settle(): Promise<void> {
    let issued = -1;
    let timers = -1;
    let running = -1;
    for (let stable = 0, spins = 0; stable < 3; spins++) {
      if (spins > 10_000) throw new Error("the system does not settle");
      const now = [this.#issued, vi.getTimerCount(), this.#running.size];
      if (now[0] === issued && now[1] === timers && now[2] === running) stable++;
      else stable = 0;
      [issued, timers, running] = now as [number, number, number];
      await turns(1);
    }
  }
}
