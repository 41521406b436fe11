import { createHash, randomBytes } from "node:crypto";
import {
  type CacheClient,
  type CacheFetchOptions,
  type CounterOptions,
  createGetManyResult,
  type GetManyResult,
  type NamespaceClient,
  type OperationOptions,
  type ReadOptions,
  type ScopeSnapshot,
  type WriteOptions,
} from "./cache-client.js";
import { type EncodedValue, FLAGS } from "./codec.js";
import {
  InvalidArgumentError,
  ReplicationError,
  ServerUnavailableError,
  ValueTooLargeError,
} from "./errors.js";
import type { ItemEngine, WireEntry } from "./item-engine.js";
import { keyProblem, utf8Length } from "./keys.js";
import { type ReadThroughEngine, readThrough } from "./read-through.js";
import { sharedFlow, withSignal } from "./single-flight.js";
import type { TransportItem } from "./transport.js";

/**
 * Namespaces with a scoped `clear()`, and tags, on generations: no `flush_all`, no key listing.
 *
 * Every namespace (and every tag) has a *generation item*: a random token stored, replicated like any key, under a
 * reserved key. An entry of a namespace, or written with tags, is stored as an *envelope*: the (generation key,
 * token) pairs current when it was written, then the value. A reader reads the entry and the generations together
 * (one pipelined batch: no extra round trip) and serves the entry only if every token it carries is still the
 * current one. `clear()` and `invalidateTags()` write a new random token; entries that carry the old one are dead
 * from then on and die for good by the TTL cap.
 *
 *   key "keyv:user:1" ──► envelope { refs: [("mcpair:g:keyv", "Qe3…")], tags: …, flags, value }
 *   key "mcpair:g:keyv" ──► "Qe3…"          (clear() replaces it with a new random token)
 *
 * Why it keeps the promise "a read that starts after clear() resolved, in any process, never returns an entry
 * written before it": clear() resolves after the new token is written (write policy as for any set); a later read
 * reads the generation through the engine, whose "no going back" promise means it sees the new token or a newer one,
 * never the old one; an entry written before carries the old token (or an even older one), so it is refused. A writer
 * that read the old token before the clear and stores after it stores an entry that is dead on arrival: safe.
 *
 * A lost generation (both its servers restarted, or expired) reads as missing: every entry that refers to it is dead,
 * as after a clear, never "valid again": a new generation is a fresh random token, which no old entry carries.
 * A generation item must outlive the entries that refer to it: a writer whose entry would outlive the generation's
 * remaining lifetime first extends it to the TTL cap (`touch`), so a generation expires only after every entry that
 * refers to it has.
 *
 * Costs: a read in a namespace reads one more key per namespace level, in the same round trip; a write first reads
 * the generations (one pipelined round trip), and creates a missing one with `add`. Tags the reader does not name in
 * `tags` cost one more round trip (to read their tokens). All of it is counted in `stats().scopeRequests`.
 */

const MAGIC = 0x6d;
const VERSION = 1;
const HEADER_OFFSET = 6;
/** Reserved key prefix of generation items (the drain marker uses `mcpair:` too). */
const RESERVED = "mcpair";
/** A generation must outlive every entry that refers to it by this margin, in seconds. */
const GENERATION_MARGIN = 60;
/**
 * A generation lives this much longer than the TTL cap, in seconds, so that one `touch` keeps it ahead of every
 * entry written in the next hour: writers touch it about once an hour, not on every write.
 */
const GENERATION_SLACK = 3600;
const utf8 = new TextEncoder();
const utf8Text = new TextDecoder();

/** (generation key, token) pairs an entry was written under. */
type Refs = Array<[string, string]>;

const REFS = Symbol("mcpair.snapshot.refs");
interface Snapshot extends ScopeSnapshot {
  readonly [REFS]: Refs;
}

interface Envelope {
  refs: Refs;
  flags: number;
  /** The caller's key, kept when the wire key is a hash of it. */
  key: string | undefined;
  inner: Uint8Array;
}

/** The current token of each generation key read: the token, `null` (missing: treat as cleared), or the error. */
type Tokens = Map<string, string | null | Error>;

export function isEnvelope(item: TransportItem): boolean {
  return item.flags === FLAGS.envelope;
}

function encodeEnvelope(refs: Refs, inner: EncodedValue, key: string | undefined): Uint8Array {
  const header = utf8.encode(
    JSON.stringify(key === undefined ? [refs, inner.flags] : [refs, inner.flags, key]),
  );
  const out = new Uint8Array(HEADER_OFFSET + header.length + inner.bytes.length);
  out[0] = MAGIC;
  out[1] = VERSION;
  new DataView(out.buffer).setUint32(2, header.length);
  out.set(header, HEADER_OFFSET);
  out.set(inner.bytes, HEADER_OFFSET + header.length);
  return out;
}

/** The envelope, or undefined when the bytes are not one this version can read (then the entry is dead). */
function decodeEnvelope(bytes: Uint8Array): Envelope | undefined {
  if (bytes.length < HEADER_OFFSET || bytes[0] !== MAGIC || bytes[1] !== VERSION) return undefined;
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(2);
  if (HEADER_OFFSET + length > bytes.length) return undefined;
  try {
    const header = JSON.parse(
      utf8Text.decode(bytes.subarray(HEADER_OFFSET, HEADER_OFFSET + length)),
    ) as unknown;
    if (!Array.isArray(header) || !Array.isArray(header[0]) || typeof header[1] !== "number")
      return undefined;
    const refs = header[0] as Refs;
    for (const r of refs) {
      if (!Array.isArray(r) || typeof r[0] !== "string" || typeof r[1] !== "string") return undefined;
    }
    return {
      refs,
      flags: header[1],
      key: typeof header[2] === "string" ? header[2] : undefined,
      inner: bytes.subarray(HEADER_OFFSET + length),
    };
  } catch {
    return undefined;
  }
}

/** Generation keys re-read during the current batch (see `judge`). */
const freshness = new WeakMap<Tokens, Set<string>>();

/** The generation keys whose current token (read, not an error) differs from the one the entry carries. */
function refsNotMatching(refs: Refs, tokens: Tokens): string[] {
  const out: string[] = [];
  for (const [k, t] of refs) {
    const current = tokens.get(k);
    if (!(current instanceof Error) && current !== t) out.push(k);
  }
  return out;
}

function newToken(): string {
  return randomBytes(9).toString("base64url");
}

function sha(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

/** `prefix + text` if memcached accepts it as a key, else `prefix + marker + sha256(text)`. */
function keyOrHash(prefix: string, text: string, marker: string): { wire: string; hashed: boolean } {
  const plain = prefix + text;
  if (keyProblem(plain) === undefined) return { wire: plain, hashed: false };
  return { wire: `${prefix}${marker}${sha(text)}`, hashed: true };
}

function assertName(what: string, name: unknown): asserts name is string {
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidArgumentError(`${what} must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  if (name.length > 1024) throw new InvalidArgumentError(`${what} must be at most 1024 characters`);
}

function tagList(tags: Iterable<string> | undefined): string[] {
  if (tags === undefined) return [];
  if (typeof tags === "string" || typeof (tags as Iterable<string>)[Symbol.iterator] !== "function") {
    throw new InvalidArgumentError("tags must be an array (or iterable) of strings");
  }
  const out = [...new Set(tags)];
  for (const t of out) assertName("a tag", t);
  return out;
}

/**
 * The machinery shared by the root client's tags and by namespace clients: generation keys, envelopes, validation,
 * and the tagged/namespaced read, write and read-through paths.
 */
abstract class Scope {
  protected readonly engine: ItemEngine;
  /** Namespace names, outermost first; empty for the root. */
  readonly path: readonly string[];
  /** The escaped path: `encodeURIComponent` of each name joined with "/" (so it never contains ":" or "#"). */
  protected readonly pathId: string;
  /** Generation keys of this namespace and its ancestors, outermost first (none for the root). */
  protected readonly chain: readonly string[];
  #flows = new Map<string, Promise<unknown>>();

  constructor(engine: ItemEngine, path: readonly string[]) {
    this.engine = engine;
    this.path = path;
    this.pathId = path.map(encodeURIComponent).join("/");
    const chain: string[] = [];
    for (let i = 1; i <= path.length; i++) {
      chain.push(this.#reservedKey("g", path.slice(0, i).map(encodeURIComponent).join("/")));
    }
    this.chain = chain;
  }

  /** The wire key of a caller's key, and the caller's key when the wire key is a hash of it. */
  protected abstract wire(key: string): { wire: string; original: string | undefined };

  #reservedKey(kind: "g" | "t", id: string): string {
    return keyOrHash(this.engine.keyPrefix, `${RESERVED}:${kind}:${id}`, `${RESERVED}:${kind}#`).wire;
  }

  protected tagKeys(tags: readonly string[]): string[] {
    return tags.map((t) => this.#reservedKey("t", `${this.pathId}:${t}`));
  }

  // ─── generations ────────────────────────────────────────────────────────────────────────────────────────────────

  /** Reads generation tokens (one pipelined batch). */
  protected async readTokens(
    keys: readonly string[],
    signal: AbortSignal | undefined,
    into: Tokens = new Map(),
  ) {
    const todo = [...new Set(keys)].filter((k) => !into.has(k));
    if (todo.length === 0) return into;
    this.engine.countScopeRequests(todo.length);
    const items = await this.engine.read(todo, signal);
    todo.forEach((k, i) => {
      this.noteToken(into, k, items[i]!);
    });
    return into;
  }

  /** Records a generation item read: its token, and how long it still lives (so writers touch it only when needed). */
  protected noteToken(into: Tokens, k: string, item: TransportItem | null | Error): void {
    if (item === null || item instanceof Error) {
      into.set(k, item);
      return;
    }
    into.set(k, utf8Text.decode(item.value));
    if (item.ttl !== undefined) {
      // memcached's remaining TTL is whole seconds: count one less.
      this.#lifetimes.set(k, item.ttl < 0 ? Number.POSITIVE_INFINITY : Date.now() + (item.ttl - 1) * 1000);
    }
  }

  /**
   * The tokens a writer stores with an entry living `ttl` seconds: read (or taken from `read`), created with `add`
   * when missing, and extended to the TTL cap when they would expire before the entry. Rejects when a generation
   * cannot be read or created: an entry without it could never be validated.
   */
  protected async tokensForWrite(
    keys: readonly string[],
    ttl: number,
    signal: AbortSignal | undefined,
    read?: Promise<Tokens>,
  ): Promise<Refs> {
    if (keys.length === 0) return [];
    const tokens = read ? await read : await this.readTokens(keys, signal);
    await this.readTokens(keys, signal, tokens);
    const refs: Refs = [];
    const extend: string[] = [];
    for (const k of new Set(keys)) {
      let t = tokens.get(k);
      if (t instanceof Error) {
        throw new ServerUnavailableError(`generation ${JSON.stringify(k)} could not be read`, { cause: t });
      }
      if (t === null || t === undefined) {
        t = await this.#create(k, signal);
      } else extend.push(k);
      refs.push([k, t]);
    }
    // Keep each generation alive at least as long as the entry (see the module comment). Touching a generation
    // changes only its lifetime, never its token, so it cannot undo a concurrent clear().
    if (extend.length > 0) await this.#extend(extend, ttl, signal);
    return refs;
  }

  #lifetimes = new Map<string, number>();

  async #extend(keys: readonly string[], ttl: number, signal: AbortSignal | undefined): Promise<void> {
    const now = Date.now();
    const needed = now + (ttl + GENERATION_MARGIN) * 1000;
    const stale = keys.filter((k) => (this.#lifetimes.get(k) ?? 0) < needed);
    if (stale.length === 0) return;
    this.engine.countScopeRequests(stale.length);
    await Promise.all(
      stale.map(async (k) => {
        if (await this.engine.touch(k, this.#generationTtl(), signal).catch(() => false)) {
          this.#lifetimes.set(k, now + this.#generationTtl() * 1000);
        }
      }),
    );
  }

  #generationTtl(): number {
    return Math.min(this.engine.maxTtl + GENERATION_SLACK, 2_592_000);
  }

  async #create(k: string, signal: AbortSignal | undefined): Promise<string> {
    const token = newToken();
    this.engine.countScopeRequests(1);
    const entry: WireEntry = {
      key: k,
      value: { bytes: utf8.encode(token), flags: FLAGS.string },
      ttl: this.#generationTtl(),
    };
    if (await this.engine.add(entry, signal)) {
      this.#lifetimes.set(k, Date.now() + entry.ttl * 1000);
      return token;
    }
    // Another writer created it first: use theirs.
    const again = await this.readTokens([k], signal);
    const t = again.get(k);
    if (typeof t !== "string") {
      throw new ServerUnavailableError(`generation ${JSON.stringify(k)} could not be created`, {
        cause: t instanceof Error ? t : undefined,
      });
    }
    return t;
  }

  /** Replaces the tokens of `keys` with new random ones: every entry written under the old ones is dead. */
  protected async bump(
    keys: readonly string[],
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<void> {
    if (keys.length === 0) return;
    this.engine.countScopeRequests(keys.length);
    const entries = keys.map((k) => ({
      key: k,
      value: { bytes: utf8.encode(newToken()), flags: FLAGS.string },
      ttl: this.#generationTtl(),
    }));
    for (const k of keys) this.#lifetimes.set(k, Date.now() + this.#generationTtl() * 1000);
    const results = await this.engine.write(entries, signal);
    const failed = results.flatMap((r, i) => (r instanceof Error ? [keys[i]!] : []));
    if (failed.length > 0) {
      const failures = results.flatMap((r) =>
        r instanceof ReplicationError
          ? [...r.failures]
          : r instanceof Error
            ? [{ server: "", error: r }]
            : [],
      );
      throw new ReplicationError(
        `${what}: ${failed.length} generation(s) could not be replaced`,
        failures,
        [],
        {
          keys: failed,
          results: results.map((r) => r === true),
        },
      );
    }
  }

  // ─── envelopes ──────────────────────────────────────────────────────────────────────────────────────────────────

  protected seal(wire: string, original: string | undefined, value: unknown, refs: Refs): EncodedValue {
    const inner = this.engine.codec.encode(value);
    if (inner.flags === 0) {
      throw new InvalidArgumentError("codec returned flags 0, which mcpair reserves for lease placeholders");
    }
    const bytes = encodeEnvelope(refs, inner, original);
    this.engine.checkSize(wire, bytes.length);
    return { bytes, flags: FLAGS.envelope };
  }

  /** The value inside an envelope (its generations are checked separately). */
  unwrap(item: TransportItem): unknown {
    const env = decodeEnvelope(item.value);
    if (!env) throw new InvalidArgumentError("not an mcpair envelope");
    return this.engine.codec.decode(env.inner, env.flags);
  }

  /**
   * "alive" when every generation the entry was written under is current (and the entry is this key's, when its key
   * was hashed), "dead" when one is not, "unknown" when a generation could not be read.
   */
  protected async judge(
    env: Envelope | undefined,
    key: string | undefined,
    tokens: Tokens,
    signal: AbortSignal | undefined,
    required: readonly string[] = this.chain,
  ): Promise<"alive" | "dead" | "unknown"> {
    if (!env) return "dead";
    if (key !== undefined && env.key !== undefined && env.key !== key) return "dead";
    // An entry of this namespace must carry every generation of the chain (a foreign envelope under our key is dead).
    for (const g of required) if (!env.refs.some((r) => r[0] === g)) return "dead";
    await this.readTokens(
      env.refs.map((r) => r[0]),
      signal,
      tokens,
    );
    let stale = refsNotMatching(env.refs, tokens);
    // Tokens read before this entry was (read-through prefetches them; a batch shares them) may be older than the
    // entry: a generation created or bumped in between. Only tokens read *now* can condemn an entry, so re-read the
    // ones that disagree, once per batch (`fresh`), before calling it dead: this costs a round trip only then.
    const fresh = freshness.get(tokens) ?? new Set<string>();
    freshness.set(tokens, fresh);
    const recheck = stale.filter((k) => !fresh.has(k));
    if (recheck.length > 0) {
      for (const k of recheck) {
        tokens.delete(k);
        fresh.add(k);
      }
      await this.readTokens(recheck, signal, tokens);
      stale = refsNotMatching(env.refs, tokens);
    }
    if (stale.length > 0) return "dead";
    for (const [k] of env.refs) if (tokens.get(k) instanceof Error) return "unknown";
    return "alive";
  }

  /** For the read-through's `validate`: a dead or unverifiable entry is not served. */
  async isCurrent(item: TransportItem, key?: string, tokens: Tokens = new Map()): Promise<boolean> {
    return (await this.judge(decodeEnvelope(item.value), key, tokens, undefined)) === "alive";
  }

  // ─── reads ──────────────────────────────────────────────────────────────────────────────────────────────────────

  async get<T = unknown>(key: string, options?: ReadOptions): Promise<T | undefined> {
    const result = await this.getMany<T>([key], options);
    if (result.unavailable.length > 0 && this.unavailableMode(options) === "throw") {
      throw new ServerUnavailableError(`no replica of key ${JSON.stringify(key.slice(0, 64))} could be read`);
    }
    return result.get(key);
  }

  async getMany<T = unknown>(keys: Iterable<string>, options?: ReadOptions): Promise<GetManyResult<T>> {
    const unique = [...new Set(keys)];
    const wires = unique.map((k) => this.wire(k).wire);
    const hinted = this.tagKeys(tagList(options?.tags));
    const gens = [...this.chain, ...hinted];
    this.engine.countScopeRequests(gens.length);
    // The entries and the generations in one pipelined batch: the check costs no extra round trip.
    const items = await this.engine.read([...wires, ...gens], options?.signal);
    const tokens: Tokens = new Map();
    gens.forEach((g, i) => {
      this.noteToken(tokens, g, items[wires.length + i]!);
    });
    const out = createGetManyResult<T>();
    const found: Array<{ key: string; env: Envelope | undefined }> = [];
    for (let i = 0; i < unique.length; i++) {
      const item = items[i]!;
      if (item instanceof Error) out.unavailable.push(unique[i]!);
      else if (item !== null) {
        // Under a namespace every entry is an envelope; anything else there is not ours: a miss.
        if (isEnvelope(item)) found.push({ key: unique[i]!, env: decodeEnvelope(item.value) });
        else if (this.path.length === 0)
          out.set(unique[i]!, this.engine.codec.decode(item.value, item.flags) as T);
      }
    }
    await this.#openAll(out, found, tokens, options);
    if (
      unique.length > 0 &&
      out.unavailable.length === unique.length &&
      this.unavailableMode(options) === "throw"
    ) {
      throw new ServerUnavailableError(`getMany: none of the ${unique.length} keys could be read`);
    }
    return out;
  }

  async #openAll<T>(
    out: GetManyResult<T>,
    found: ReadonlyArray<{ key: string; env: Envelope | undefined }>,
    tokens: Tokens,
    options: ReadOptions | undefined,
  ): Promise<void> {
    // Generations the entries name that were not read with them: one more batch for all of them.
    const more = new Set<string>();
    for (const f of found) for (const [k] of f.env?.refs ?? []) if (!tokens.has(k)) more.add(k);
    if (more.size > 0) await this.readTokens([...more], options?.signal, tokens);
    for (const f of found) {
      const verdict = await this.judge(f.env, f.key, tokens, options?.signal);
      if (verdict === "alive") out.set(f.key, this.engine.codec.decode(f.env!.inner, f.env!.flags) as T);
      else if (verdict === "unknown") out.unavailable.push(f.key);
    }
  }

  /** Root client: an envelope `get` found (its key already read). */
  async openOne<T>(key: string, item: TransportItem, options?: ReadOptions): Promise<T | undefined> {
    const out = createGetManyResult<T>();
    await this.#openAll(out, [{ key, env: decodeEnvelope(item.value) }], new Map(), options);
    if (out.unavailable.length > 0 && this.unavailableMode(options) === "throw") {
      throw new ServerUnavailableError(
        `the tags of key ${JSON.stringify(key.slice(0, 64))} could not be read`,
      );
    }
    return out.get(key);
  }

  /** Root client: the envelopes a `getMany` found. */
  async openInto<T>(
    out: GetManyResult<T>,
    found: ReadonlyArray<{ key: string; item: TransportItem }>,
    options?: ReadOptions,
  ): Promise<void> {
    await this.#openAll(
      out,
      found.map((f) => ({ key: f.key, env: decodeEnvelope(f.item.value) })),
      new Map(),
      options,
    );
  }

  protected abstract unavailableMode(options: ReadOptions | undefined): "throw" | "miss";

  // ─── writes ─────────────────────────────────────────────────────────────────────────────────────────────────────

  async set(key: string, value: unknown, options?: WriteOptions): Promise<void> {
    try {
      await this.setMany([[key, value]], options);
    } catch (error) {
      // One entry: its own error (a value too large) says more than the batch's.
      const cause = error instanceof ReplicationError ? error.failures[0]?.error : undefined;
      if (cause instanceof ValueTooLargeError) throw cause;
      throw error;
    }
  }

  async setMany(entries: Iterable<readonly [string, unknown]>, options?: WriteOptions): Promise<boolean[]> {
    const list = [...entries];
    const ttl = this.engine.ttl(options?.ttl);
    const refs =
      options?.asOf !== undefined
        ? this.#refsOf(options.asOf, options.tags)
        : await this.tokensForWrite(
            [...this.chain, ...this.tagKeys(tagList(options?.tags))],
            ttl,
            options?.signal,
          );
    // A value too large for the servers fails its own entry, not the batch.
    const sealed = list.map(([key, value]) => {
      const w = this.wire(key);
      try {
        return { key: w.wire, value: this.seal(w.wire, w.original, value, refs), ttl };
      } catch (error) {
        if (error instanceof ValueTooLargeError) return error;
        throw error;
      }
    });
    const written = await this.engine.write(
      sealed.filter((e): e is WireEntry => !(e instanceof Error)),
      options?.signal,
    );
    let w = 0;
    const results = sealed.map((e) => (e instanceof Error ? e : written[w++]!));
    const failed = results.flatMap((r, i) => (r instanceof Error ? [list[i]![0]] : []));
    if (failed.length > 0) {
      const failures = results.flatMap((r) =>
        r instanceof ReplicationError
          ? [...r.failures]
          : r instanceof Error
            ? [{ server: "", error: r }]
            : [],
      );
      throw new ReplicationError(
        `setMany: ${failed.length} of ${list.length} writes failed (first: ${describe(failures[0]?.error)})`,
        failures,
        [],
        { keys: failed, results: results.map((r) => r === true) },
      );
    }
    return results.map(() => true);
  }

  /** See {@link CacheClient.snapshot}: the tokens a writer would use now, created when missing. */
  async snapshot(tags?: Iterable<string>, options?: OperationOptions): Promise<ScopeSnapshot> {
    const list = tagList(tags);
    // The entry's lifetime is not known yet: keep the generations alive for the longest one.
    const refs = await this.tokensForWrite(
      [...this.chain, ...this.tagKeys(list)],
      this.engine.maxTtl,
      options?.signal,
    );
    const snap: Snapshot = { scope: this.pathId, tags: Object.freeze(list), [REFS]: refs };
    return Object.freeze(snap);
  }

  #refsOf(asOf: ScopeSnapshot, tags: readonly string[] | undefined): Refs {
    const refs = (asOf as Partial<Snapshot>)[REFS];
    if (refs === undefined || asOf.scope !== this.pathId) {
      throw new InvalidArgumentError(
        `"asOf" must be a snapshot taken by this client's snapshot() (namespace ${JSON.stringify(this.pathId)})`,
      );
    }
    if (tags !== undefined) {
      const want = tagList(tags);
      if (want.length !== asOf.tags.length || want.some((t) => !asOf.tags.includes(t))) {
        throw new InvalidArgumentError(
          `"tags" must be the snapshot's tags (${JSON.stringify(asOf.tags)}) or omitted`,
        );
      }
    }
    return refs;
  }

  async invalidateTags(tags: Iterable<string>, options?: OperationOptions): Promise<void> {
    await this.bump(this.tagKeys(tagList(tags)), options?.signal, "invalidateTags");
  }

  // ─── read-through ───────────────────────────────────────────────────────────────────────────────────────────────

  fetch<T>(key: string, loader: (key: string) => T | Promise<T>, options?: CacheFetchOptions): Promise<T> {
    try {
      if (typeof loader !== "function") throw new InvalidArgumentError("fetch: loader must be a function");
      const w = this.wire(key);
      const flowKey = `${w.wire}\u0000${JSON.stringify({ ...options, signal: undefined })}`;
      const flow = sharedFlow(this.#flows, flowKey, () =>
        this.#fetch(
          [key],
          async () => {
            const v = await loader(key);
            return v === undefined ? new Map() : new Map([[key, v]]);
          },
          options,
        ).then((m) => m.get(key) as T),
      );
      return withSignal(flow, options?.signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async fetchMany<T>(
    keys: Iterable<string>,
    loader: (
      missing: string[],
    ) => Promise<Map<string, T> | Record<string, T> | Iterable<readonly [string, T]>>,
    options?: CacheFetchOptions,
  ): Promise<Map<string, T>> {
    if (typeof loader !== "function") throw new InvalidArgumentError("fetchMany: loader must be a function");
    const unique = [...new Set(keys)];
    return this.#fetch<T>(
      unique,
      async (missing) => {
        const got = await loader(missing);
        const entries: Iterable<readonly [string, T]> =
          got instanceof Map ||
          (got != null && typeof (got as Iterable<unknown>)[Symbol.iterator] === "function")
            ? (got as Iterable<readonly [string, T]>)
            : Object.entries(got as Record<string, T>);
        return new Map(entries);
      },
      options,
    );
  }

  /**
   * Read-through for scoped entries: the generations are read in parallel with the first poll, a found entry is
   * served only while they are current (a dead one is removed and the lease taken as on a miss), and loaded values
   * are sealed with the tokens read *before* the loader ran, so a clear or tag invalidation that lands while the
   * loader runs leaves the stored value dead, never a stale value alive.
   */
  async #fetch<T>(
    keys: readonly string[],
    load: (keys: string[]) => Promise<Map<string, T>>,
    options: CacheFetchOptions | undefined,
  ): Promise<Map<string, T>> {
    const o = this.engine.resolveFetchOptions(options);
    const signal = options?.signal;
    const wires = keys.map((k) => this.wire(k));
    const toUser = new Map(wires.map((w, i) => [w.wire, keys[i]!]));
    const gens = [...this.chain, ...this.tagKeys(tagList(options?.tags))];
    const tokensRead = this.readTokens(gens, signal);
    tokensRead.catch(() => undefined);
    let refs: Refs | undefined;
    const base = this.engine.readThroughEngine();
    const engine: ReadThroughEngine = {
      ...base,
      encode: (k, v) => {
        if (!refs) throw new InvalidArgumentError("fetch: generations not read");
        return this.seal(k, wires.find((w) => w.wire === k)?.original, v, refs);
      },
      decode: (item) => this.unwrap(item),
      validate: async (item, k) => {
        if (!isEnvelope(item)) return false;
        const tokens = await tokensRead.catch(() => new Map() as Tokens);
        return (await this.judge(decodeEnvelope(item.value), toUser.get(k), tokens, signal)) === "alive";
      },
    };
    const loaded = await readThrough(
      engine,
      wires.map((w) => w.wire),
      async (missing) => {
        // Tokens first (creating missing generations), then the loader: see the method comment. Without them the
        // loaded values are returned but not stored (`encode` refuses): the cache never fails the application.
        if (refs === undefined) {
          try {
            refs = await this.tokensForWrite(gens, o.ttl, signal, tokensRead);
          } catch (error) {
            if (signal?.aborted) throw error;
          }
        }
        const users = missing.map((m) => toUser.get(m)!);
        const values = await load(users);
        const out = new Map<string, unknown>();
        for (const [user, v] of values) {
          const w = wires[keys.indexOf(user)];
          if (w && v !== undefined) out.set(w.wire, v);
        }
        return out;
      },
      o,
      signal,
    );
    const result = new Map<string, T>();
    for (const [w, v] of loaded) result.set(toUser.get(w)!, v as T);
    return result;
  }
}

/** The root client's tags: entries under the client's own keys, envelopes only when written with tags. */
export class RootScope extends Scope {
  readonly #mapKey: (key: string) => string;
  readonly #mode: () => "throw" | "miss";

  constructor(
    engine: ItemEngine,
    client: { options: { mapKey: (key: string) => string; onUnavailable: "throw" | "miss" } },
  ) {
    super(engine, []);
    this.#mapKey = client.options.mapKey;
    this.#mode = () => client.options.onUnavailable;
  }

  protected wire(key: string): { wire: string; original: string | undefined } {
    return { wire: this.#mapKey(key), original: undefined };
  }

  protected unavailableMode(options: ReadOptions | undefined): "throw" | "miss" {
    return options?.onUnavailable ?? this.#mode();
  }
}

/**
 * A namespace client. Its entries live under `<prefix><escaped path>:<key>` (or `…#<sha256>` for keys memcached would
 * refuse, with the key kept in the envelope and compared on read), its generation under `mcpair:g:<escaped path>`.
 */
export class NamespaceScope extends Scope implements NamespaceClient {
  readonly namespaceName: string;
  readonly #root: CacheClient & { options: { onUnavailable: "throw" | "miss" } };
  readonly #base: string;

  constructor(
    engine: ItemEngine,
    path: readonly string[],
    root: CacheClient & { options: { onUnavailable: "throw" | "miss" } },
  ) {
    for (const name of path) assertName("a namespace name", name);
    if (path[0] === RESERVED) {
      throw new InvalidArgumentError(`the namespace name "${RESERVED}" is reserved for mcpair's own keys`);
    }
    super(engine, path);
    this.namespaceName = path.join("/");
    this.#root = root;
    // Very long namespace names would leave no room for keys: their entries go under a hash of the path.
    this.#base =
      utf8Length(this.pathId) <= 64 ? `${this.pathId}:` : `${RESERVED}:n#${sha(this.pathId).slice(0, 22)}:`;
  }

  protected wire(key: string): { wire: string; original: string | undefined } {
    if (typeof key !== "string" || key.length === 0) {
      throw new InvalidArgumentError(`keys must be non-empty strings, got ${JSON.stringify(key)}`);
    }
    // Keys memcached would refuse (too long, whitespace, control characters) go under a hash of the key, and so do
    // keys that start with "#", so that a plain key can never look like a hashed one.
    const plain = this.engine.keyPrefix + this.#base + key;
    if (key[0] !== "#" && keyProblem(plain) === undefined) return { wire: plain, original: undefined };
    return { wire: `${this.engine.keyPrefix}${this.#base}#${sha(key)}`, original: key };
  }

  protected unavailableMode(options: ReadOptions | undefined): "throw" | "miss" {
    return options?.onUnavailable ?? this.#root.options.onUnavailable;
  }

  namespace(name: string): NamespaceClient {
    return new NamespaceScope(this.engine, [...this.path, name], this.#root);
  }

  /** Removes every entry of this namespace and of the namespaces nested in it, for every process. */
  async clear(options?: OperationOptions): Promise<void> {
    await this.bump([this.chain[this.chain.length - 1]!], options?.signal, "clear");
  }

  async add(key: string, value: unknown, options?: WriteOptions): Promise<boolean> {
    const w = this.wire(key);
    const ttl = this.engine.ttl(options?.ttl);
    const refs = await this.tokensForWrite(
      [...this.chain, ...this.tagKeys(tagList(options?.tags))],
      ttl,
      options?.signal,
    );
    const entry = { key: w.wire, value: this.seal(w.wire, w.original, value, refs), ttl };
    if (await this.engine.add(entry, options?.signal)) return true;
    // Something is stored there: if it is a dead entry (cleared, invalidated), it does not count as present.
    if ((await this.#liveness([key], options?.signal))[0]) return false;
    await this.engine.delete([w.wire], options?.signal);
    return this.engine.add(entry, options?.signal);
  }

  async delete(key: string, options?: OperationOptions): Promise<boolean> {
    const [r] = await this.deleteMany([key], options);
    return r!;
  }

  /** Deletes; per key whether a *live* entry was there (read in parallel with the delete: no extra round trip). */
  async deleteMany(keys: Iterable<string>, options?: OperationOptions): Promise<boolean[]> {
    const list = [...keys];
    const wires = list.map((k) => this.wire(k).wire);
    const [alive, deleted] = await Promise.all([
      this.#liveness(list, options?.signal).catch(() => list.map(() => true)),
      this.engine.delete(wires, options?.signal),
    ]);
    const failed = deleted.flatMap((r, i) => (r instanceof Error ? [list[i]!] : []));
    if (failed.length > 0) {
      const failures = deleted.flatMap((r) => (r instanceof ReplicationError ? [...r.failures] : []));
      throw new ReplicationError(`deleteMany: ${failed.length} deletes were not acknowledged`, failures, [], {
        keys: failed,
        results: deleted.map((r) => !(r instanceof Error)),
      });
    }
    return deleted.map((r, i) => r === true && alive[i] === true);
  }

  async #liveness(keys: readonly string[], signal: AbortSignal | undefined): Promise<boolean[]> {
    const found = await this.getMany(keys, { onUnavailable: "miss", ...(signal ? { signal } : {}) });
    return keys.map((k) => found.has(k));
  }

  invalidate(key: string, staleTtl = 30, options?: OperationOptions): Promise<boolean> {
    return this.engine.invalidate(this.wire(key).wire, this.engine.ttl(staleTtl), options?.signal);
  }

  touch(key: string, ttl: number, options?: OperationOptions): Promise<boolean> {
    return this.engine.touch(this.wire(key).wire, this.engine.ttl(ttl), options?.signal);
  }

  incr(key: string, delta: number | bigint = 1, options?: CounterOptions): Promise<number | undefined> {
    return this.#counter("incr", key, delta, options);
  }

  decr(key: string, delta: number | bigint = 1, options?: CounterOptions): Promise<number | undefined> {
    return this.#counter("decr", key, delta, options);
  }

  /**
   * memcached's counters are raw decimals, so they cannot carry an envelope: a namespace's counter lives under a key
   * derived from the namespace's current tokens instead, so `clear()` moves every counter to a fresh (missing) key.
   */
  async #counter(
    mode: "incr" | "decr",
    key: string,
    delta: number | bigint,
    options: CounterOptions | undefined,
  ): Promise<number | undefined> {
    const w = this.wire(key);
    const refs = await this.tokensForWrite(this.chain, this.engine.ttl(options?.ttl), options?.signal);
    const epoch = sha(refs.map((r) => r[1]).join(",")).slice(0, 12);
    const counterKey = `${this.engine.keyPrefix}${this.#base}#c${epoch}${sha(w.original ?? w.wire).slice(0, 32)}`;
    const opts: { ttl?: number; initial?: number | bigint; signal?: AbortSignal } = {};
    if (options?.ttl !== undefined) opts.ttl = options.ttl;
    if (options?.initial !== undefined) opts.initial = options.initial;
    if (options?.signal !== undefined) opts.signal = options.signal;
    return this.engine.counter(mode, counterKey, delta, opts);
  }

  /** Nothing to release: the root client owns the connections. */
  async close(): Promise<void> {}
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
