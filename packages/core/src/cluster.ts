import { createEngineCounters, type EngineCounters } from "./client-stats.js";
import { type EncodedValue, FLAGS } from "./codec.js";
import type { CopyContext, RepairOutcome } from "./copy.js";
import { InvalidArgumentError, ServerUnavailableError, ValueTooLargeError } from "./errors.js";
import { type PairClientOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import type { ReadThroughCounters } from "./read-through.js";
import { createRing, type Ring } from "./ring.js";
import { ServerNode, type ServerNodeHooks } from "./server-node.js";
import { parseServers } from "./servers.js";
import { resolveTtl } from "./ttl.js";

/** Bytes of a memcached item that are not data, key excluded (measured on 1.6.18: 56 + 1 + 2 + 4 for flags + CAS slack). */
const ITEM_OVERHEAD = 72;
const utf8 = new TextEncoder();

/** What the protocols report back to the public client (events, diagnostics channels). */
export interface ClusterEvents {
  repaired(key: string, from: string, to: string, outcome: RepairOutcome): void;
}

/**
 * The state every protocol works on: the configured servers (ring and health nodes), the resolved options, the
 * counters, and the background work `close()` waits for. Protocols are functions of a `Cluster` (one protocol per
 * file); `PairClient` is the public surface over them.
 */
export class Cluster {
  readonly options: ResolvedOptions;
  readonly ring: Ring;
  readonly nodes: readonly ServerNode[];
  readonly byName: ReadonlyMap<string, ServerNode>;
  readonly maxValueSize: number;
  /** Server faults per node index. */
  readonly errors: number[];
  readonly stats: EngineCounters = createEngineCounters();
  readonly readThrough: ReadThroughCounters = {
    loads: 0,
    staleServed: 0,
    leaseWaits: 0,
    fetchTimeouts: 0,
    uncachedLoads: 0,
  };
  readonly repairCtx: CopyContext;
  /** Read-repairs in flight (bounded by `maxPendingRepairs` in background mode). */
  readonly pendingRepairs = new Set<Promise<void>>();
  /** Other background work (`fetch` refreshes, copies) that `close()` waits for. */
  readonly background = new Set<Promise<unknown>>();
  readonly events: ClusterEvents;
  closed = false;

  constructor(options: PairClientOptions, hooks: ServerNodeHooks, events: ClusterEvents) {
    this.options = resolveOptions(options);
    this.repairCtx = Object.freeze({ maxTtl: this.options.maxTtl, leaseTtl: this.options.repairLeaseTtl });
    const servers = parseServers(options.servers);
    this.ring = createRing(servers, this.options.ring);
    const clock = { now: this.options.now, random: this.options.random };
    this.nodes = servers.map(
      (s, i) =>
        new ServerNode(i, s, options.transport(s), this.options.health, this.options.maxHints, hooks, clock),
    );
    this.byName = new Map(this.nodes.map((n) => [n.name, n]));
    this.errors = this.nodes.map(() => 0);
    this.maxValueSize =
      this.options.maxValueSize ?? Math.min(...this.nodes.map((n) => n.transport.maxValueSize));
    this.events = events;
  }

  /** Indexes of the servers `k` (a mapped key) lives on, primary first. */
  replicas(k: string): readonly number[] {
    return this.ring.replicas(k, this.options.replicas);
  }

  /** The nodes `k` lives on, primary first. */
  replicaNodes(k: string): ServerNode[] {
    return this.replicas(k).map((i) => this.nodes[i]!);
  }

  /**
   * The one place a request's outcome is recorded on its server's health: success resets the failure count, a fault
   * counts toward marking the server down. Resolves or rejects as `request` does.
   */
  async call<T>(node: ServerNode, request: Promise<T>): Promise<T> {
    try {
      const value = await request;
      node.succeeded();
      return value;
    } catch (error) {
      node.failed(error);
      throw error;
    }
  }

  /** Keeps `p` for `close()` to wait on. */
  track(p: Promise<unknown>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /** The first readable replica: operations with one authoritative copy run there. */
  authority(k: string, list: readonly number[]): ServerNode {
    for (const i of list) {
      const node = this.nodes[i]!;
      if (node.readable(k)) return node;
    }
    throw new ServerUnavailableError(`no replica of key ${JSON.stringify(k.slice(0, 64))} is readable`);
  }

  /** The configured server named (or addressed) `server`. */
  node(server: string): ServerNode {
    const node = this.byName.get(server) ?? this.nodes.find((n) => n.transport.address === server);
    if (!node) {
      throw new InvalidArgumentError(
        `unknown server ${JSON.stringify(server)}; configured: ${this.nodes.map((n) => n.name).join(", ")}`,
      );
    }
    return node;
  }

  /** A caller's TTL resolved: default applied, fractions rounded up, capped, jittered. */
  ttl(ttl: number | undefined): number {
    return resolveTtl(
      ttl === undefined || ttl === 0 ? this.options.defaultTtl : ttl,
      this.options.maxTtl,
      this.options.ttlJitter,
      this.options.random,
    );
  }

  /** Every transport takes string values (encodes them into its write buffer). */
  get sendsText(): boolean {
    if (this.#sendsText === undefined) {
      this.#sendsText = this.nodes.every(
        (n) => (n.transport as { acceptsStringValues?: boolean }).acceptsStringValues === true,
      );
    }
    return this.#sendsText;
  }
  #sendsText: boolean | undefined;

  encode(k: string, value: unknown): EncodedValue {
    const enc = this.options.codec.encode(value);
    if (enc.flags === 0 || enc.flags === FLAGS.tombstone) {
      throw new InvalidArgumentError(
        `codec returned flags ${enc.flags}, which mcpair reserves (0: lease placeholders; ${FLAGS.tombstone}: tombstones)`,
      );
    }
    if (enc.bytes.length > this.maxValueSize)
      throw new ValueTooLargeError(k, enc.bytes.length, this.maxValueSize);
    return enc;
  }

  /**
   * memcached's item size limit (`-I`, 1 MiB) covers the whole item: a header of about 56 bytes, the CAS, the key,
   * the flags and the data's CRLF. A value that passes a data-only check but not the server's would fail as a
   * replication error on every replica; checking with the overhead turns it into a `ValueTooLargeError` up front.
   */
  valueLimit(k: string): number {
    return this.maxValueSize - ITEM_OVERHEAD - k.length;
  }

  /** The raw bytes of an append/prepend (flags 0: they join the item's bytes, whatever its codec). */
  rawBytes(k: string, value: unknown): EncodedValue {
    if (typeof value !== "string" && !(value instanceof Uint8Array)) {
      throw new InvalidArgumentError("append/prepend take a string or bytes");
    }
    const bytes = typeof value === "string" ? utf8.encode(value) : value;
    if (bytes.length > this.valueLimit(k)) throw new ValueTooLargeError(k, bytes.length, this.valueLimit(k));
    return { bytes, flags: 0 };
  }
}
