import type { PairClient } from "@mcpair/memcached";
import type { Database } from "./db/database.js";

/** Running totals since the app started. The demo subtracts two snapshots to report one phase. */
export interface Totals {
  /** Wall-clock time of the snapshot (ms). */
  at: number;
  requests: number;
  /** Statements that reached the database, from every source (hot endpoint, ORMs): reads and writes. */
  dbReads: number;
  dbWrites: number;
  /** Reads of the hot endpoint, and those that ran the loader (a database query). */
  reads: number;
  loads: number;
  /**
   * Cache reads answered by a key's *second* server, because its first was out (draining, down, just rejoined) or
   * missed (restarted empty): the client's `hitsReplica`. Each one is a database query a plain client would have made.
   */
  replicaReads: number;
  /** Copies written to a server by read-repair (write-back of a second-replica hit) or by a rewarm. */
  copies: number;
}

/** One second of the dashboard's charts. */
export interface Sample {
  /** End of the second (epoch ms). */
  t: number;
  requests: number;
  /** Database statements (reads and writes). */
  dbQueries: number;
  dbReads: number;
  reads: number;
  loads: number;
  /** Share of hot-endpoint reads that did not reach the database; `null` when there were none. */
  hitRatio: number | null;
  replicaReads: number;
  copies: number;
}

const HISTORY = 600;

/**
 * Counters and a one-second time series for the dashboard (and the demo's report). Everything is counted where it
 * happens, never estimated: the database counts its statements, the catalogue its reads and loads, the mcpair client
 * its write-backs and rewarm copies.
 */
export class Metrics {
  readonly #db: Database;
  readonly #cache: PairClient;
  readonly #history: Sample[] = [];
  readonly #listeners = new Set<(s: Sample) => void>();
  #requests = 0;
  #reads = 0;
  #loads = 0;
  readonly #rewarmed = new Map<string, number>();
  #last: Totals;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(db: Database, cache: PairClient) {
    this.#db = db;
    this.#cache = cache;
    this.#last = this.totals();
  }

  /** Starts sampling once a second. */
  start(): void {
    this.#timer ??= setInterval(() => this.#sample(), 1000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  request(): void {
    this.#requests++;
  }

  /** A read of the hot endpoint, and whether it had to query the database. */
  read(loaded: boolean): void {
    this.#reads++;
    if (loaded) this.#loads++;
  }

  totals(): Totals {
    const stats = this.#cache.stats();
    // The client reports each server's latest rewarm only: remember every rewarm by its start, so a second rewarm of
    // a server does not make the first one's copies disappear from the total.
    for (const r of stats.rewarm) this.#rewarmed.set(`${r.server}@${r.startedAt}`, r.copied);
    let rewarmed = 0;
    for (const copied of this.#rewarmed.values()) rewarmed += copied;
    return {
      at: Date.now(),
      requests: this.#requests,
      dbReads: this.#db.queries.reads,
      dbWrites: this.#db.queries.writes,
      reads: this.#reads,
      loads: this.#loads,
      replicaReads: stats.hitsReplica,
      copies: stats.repairs + rewarmed,
    };
  }

  /** The last `seconds` samples, oldest first. */
  history(seconds = HISTORY): Sample[] {
    return this.#history.slice(-seconds);
  }

  /** Calls `listener` with every new sample; returns the unsubscribe function. */
  subscribe(listener: (s: Sample) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #sample(): void {
    const now = this.totals();
    const d = delta(now, this.#last);
    this.#last = now;
    const sample: Sample = {
      t: now.at,
      requests: d.requests,
      dbQueries: d.dbReads + d.dbWrites,
      dbReads: d.dbReads,
      reads: d.reads,
      loads: d.loads,
      hitRatio: d.reads === 0 ? null : 1 - d.loads / d.reads,
      replicaReads: d.replicaReads,
      copies: d.copies,
    };
    this.#history.push(sample);
    if (this.#history.length > HISTORY) this.#history.shift();
    for (const listener of this.#listeners) listener(sample);
  }
}

/** `a - b`, counter by counter. */
export function delta(a: Totals, b: Totals): Totals {
  return {
    at: a.at - b.at,
    requests: a.requests - b.requests,
    dbReads: a.dbReads - b.dbReads,
    dbWrites: a.dbWrites - b.dbWrites,
    reads: a.reads - b.reads,
    loads: a.loads - b.loads,
    replicaReads: a.replicaReads - b.replicaReads,
    copies: a.copies - b.copies,
  };
}
