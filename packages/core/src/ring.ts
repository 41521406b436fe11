/**
 * The ring: maps a key to an ordered list of distinct servers (primary first, then the replicas). Two kinds:
 *
 * - `ketama` (default): libmemcached's weighted ketama, so the primary of every key is the server that hashring,
 *   pylibmc and php-memcached pick for the same names and weights. Replicas are the next distinct servers clockwise.
 * - `rendezvous`: weighted highest-random-weight hashing. No other client to agree with, but it spreads keys more
 *   evenly than 160 points per server can, and every server's share follows its weight exactly in expectation.
 *
 * Both keep movement minimal: adding or removing a server only changes the lists that contain it (for ketama, as long
 * as the other servers keep their point counts; see {@link ketamaPointCounts}).
 */
import { InvalidArgumentError } from "./errors.js";
import { fmix32, hash64, md5Hash32, md5Words } from "./hash.js";
import { assertUniqueNames } from "./servers.js";
import type { ServerAddress } from "./transport.js";

/** How keys are spread over servers. */
export type RingKind = "ketama" | "rendezvous";

/** Maps keys to ordered, distinct server lists. Immutable: build a new ring when the server list changes. */
export interface Ring {
  /** The algorithm this ring uses. */
  readonly kind: RingKind;
  /** A frozen snapshot of the servers the ring was built from; `replicas()` returns indexes into it. */
  readonly servers: readonly ServerAddress[];
  /**
   * The servers responsible for `key`: indexes into `servers`, distinct, primary first.
   *
   * @param key The memcached key, exactly as sent (libmemcached and hashring hash the same bytes).
   * @param count How many servers to return, an integer >= 0; the result has `min(count, servers.length)` entries.
   * @throws InvalidArgumentError when `count` is not a non-negative integer.
   */
  replicas(key: string, count: number): number[];
}

/**
 * Builds a ring over `servers` (typically the output of `parseServers`).
 *
 * @param servers Non-empty, unique names, positive finite weights. The ring keeps a frozen copy.
 * @param kind The algorithm. @default "ketama"
 * @throws InvalidArgumentError for an empty list, a duplicate name, a bad weight or an unknown kind.
 */
export function createRing(servers: readonly ServerAddress[], kind: RingKind = "ketama"): Ring {
  if (!Array.isArray(servers) || servers.length === 0) {
    throw new InvalidArgumentError("servers: expected a non-empty array of server addresses");
  }
  if (servers.length > MAX_SERVERS) {
    throw new InvalidArgumentError(
      `servers: at most ${MAX_SERVERS} servers are supported, got ${servers.length}`,
    );
  }
  servers.forEach((server, index) => {
    if (typeof server?.name !== "string" || server.name === "") {
      throw new InvalidArgumentError(`servers[${index}]: name must be a non-empty string`);
    }
    const weight = server.weight;
    if (typeof weight !== "number" || !Number.isFinite(weight) || weight <= 0) {
      throw new InvalidArgumentError(
        `servers[${index}]: invalid weight ${String(weight)}: expected a positive finite number`,
      );
    }
  });
  assertUniqueNames(servers);
  const snapshot = Object.freeze(servers.map((server) => Object.freeze({ ...server })));
  if (kind === "ketama") return new KetamaRing(snapshot);
  if (kind === "rendezvous") return new RendezvousRing(snapshot);
  throw new InvalidArgumentError(`kind: expected "ketama" or "rendezvous", got ${JSON.stringify(kind)}`);
}

// Ring points and server indexes are packed into one float64 (point * 2^20 + index) so that a plain numeric
// TypedArray sort orders them by point, then by server index; both stay exact below 2^52.
const MAX_SERVERS = 1 << 20;

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < 0) {
    throw new InvalidArgumentError(`count: expected a non-negative integer, got ${String(count)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Ketama
// ---------------------------------------------------------------------------------------------------------------

/** Points per MD5 digest: the 16 bytes are read as four little-endian 32-bit points. */
const POINTS_PER_HASH = 4;
/** libmemcached's MEMCACHED_POINTS_PER_SERVER_KETAMA (160) / POINTS_PER_HASH: digests per server at equal weights. */
const HASHES_PER_SERVER = 40;

/**
 * How many ketama points each server gets: `floor(weight / totalWeight * 40 * serverCount) * 4`, i.e. 160 per server
 * when weights are equal, scaled by weight otherwise.
 *
 * Computed exactly like hashring (in float64, in this order), which is not always what libmemcached gets: libmemcached
 * computes the same product in float32 (`(float) weight / (float) total * 160 / 4 * (float) count`), and the two
 * roundings disagree when the exact product is an integer. For equal weights, hashring (and so mcpair) gives 39
 * digests instead of 40 for 7, 14, 28, 49, 56, ... servers, libmemcached for 25, 47, 50, 55, 61, ... servers; keys
 * near the missing points then map differently. The same can happen for some unequal weights.
 *
 * Because the count depends on the total weight and the number of servers, adding a server with a weight that
 * changes these numbers (or crossing one of the counts above) also moves points of the other servers, so ketama's
 * movement is minimal only when every other server keeps its count, as it does for equal weights outside those
 * exceptions.
 */
export function ketamaPointCounts(servers: readonly ServerAddress[]): number[] {
  const total = servers.reduce((sum, server) => sum + server.weight, 0);
  return servers.map(
    (server) => Math.floor((server.weight / total) * HASHES_PER_SERVER * servers.length) * POINTS_PER_HASH,
  );
}

/**
 * libmemcached-compatible weighted ketama (MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED), matching the `hashring` package.
 *
 * Continuum: for each server and each i in 0..digests-1, MD5(`${name}-${i}`) gives four points (the digest's
 * little-endian words). Points are sorted; equal points keep server order (libmemcached's qsort compares the server
 * index next, hashring's stable sort keeps insertion order). A key's hash is the first little-endian word of
 * MD5(key); its primary owns the first point >= hash, wrapping to the first point.
 *
 * ```
 *   0 ──●A────●B──●A──────●C──────●B────●C──── 2^32
 *              ▲ hash(key)  → primary B, then A (next distinct clockwise), then C
 * ```
 *
 * Where libmemcached differs (hashring is followed in each case):
 * - point names: libmemcached hashes `host-i` when the port is 11211 and `host:port-i` otherwise (`path:0-i` for a
 *   Unix socket, and IPv6 hosts without brackets). mcpair hashes `name-i`, and `name` defaults to `host:port`
 *   (hashring's default). To match libmemcached for a server on port 11211, set `name` to the bare host (what
 *   hashring's `"default port": 11211` option does).
 * - point counts: float32 versus float64 rounding, see {@link ketamaPointCounts}.
 * - weights: libmemcached takes integers; fractional weights work here (and in hashring) but have no libmemcached
 *   equivalent.
 * - replicas: libmemcached's own replication (MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS) writes to the next servers in
 *   list order, not the next distinct servers on the ring, so only primaries are compatible. hashring's
 *   `range(key, n)` walks the ring exactly like `replicas()`.
 * - libmemcached with MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS rebuilds the continuum without dead servers; mcpair's
 *   ring never changes on failure (the engine falls through to the replicas), so a key's list stays stable.
 */
class KetamaRing implements Ring {
  readonly kind = "ketama" as const;
  readonly servers: readonly ServerAddress[];
  readonly #points: Uint32Array;
  readonly #owners: Uint32Array;
  /** `#seen[s] === #stamp` marks server s as already in the list being built; bumping the stamp clears every mark. */
  readonly #seen: Uint32Array;
  #stamp = 0;

  constructor(servers: readonly ServerAddress[]) {
    this.servers = servers;
    const counts = ketamaPointCounts(servers);
    const total = counts.reduce((sum, n) => sum + n, 0);
    const packed = new Float64Array(total);
    const words = new Uint32Array(4);
    let p = 0;
    servers.forEach((server, index) => {
      const digests = (counts[index] ?? 0) / POINTS_PER_HASH;
      for (let i = 0; i < digests; i++) {
        md5Words(`${server.name}-${i}`, words);
        for (let j = 0; j < POINTS_PER_HASH; j++) packed[p++] = words[j]! * MAX_SERVERS + index;
      }
    });
    packed.sort();
    this.#points = new Uint32Array(total);
    this.#owners = new Uint32Array(total);
    for (let i = 0; i < total; i++) {
      const value = packed[i]!;
      const owner = value % MAX_SERVERS;
      this.#owners[i] = owner;
      this.#points[i] = (value - owner) / MAX_SERVERS;
    }
    this.#seen = new Uint32Array(servers.length);
  }

  replicas(key: string, count: number): number[] {
    checkCount(count);
    const n = this.servers.length;
    const want = Math.min(count, n);
    if (want === 0) return [];
    if (n === 1) return [0];

    const points = this.#points;
    const size = points.length;
    const hash = md5Hash32(key);
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    if (lo === size) lo = 0;

    const owners = this.#owners;
    const primary = owners[lo]!;
    const out = [primary];
    if (want === 1) return out;

    const seen = this.#seen;
    let stamp = ++this.#stamp;
    if (stamp === 0xffffffff) {
      seen.fill(0);
      stamp = this.#stamp = 1;
    }
    seen[primary] = stamp;
    let at = lo;
    for (let step = 1; step < size; step++) {
      at = at + 1 === size ? 0 : at + 1;
      const owner = owners[at]!;
      if (seen[owner] !== stamp) {
        seen[owner] = stamp;
        out.push(owner);
        if (out.length === want) return out;
      }
    }
    // Only reached when a server's weight is so small that it earned no points (hashring and libmemcached never
    // route to it either): list it last, in server order, so the length contract still holds.
    for (let s = 0; s < n && out.length < want; s++) {
      if (seen[s] !== stamp) out.push(s);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Rendezvous
// ---------------------------------------------------------------------------------------------------------------

const TWO_POW_32 = 4294967296;
const TWO_POW_52 = 4503599627370496;

/**
 * Weighted rendezvous (highest random weight) hashing: server s scores `-weight_s / ln(h_s(key))` with `h` uniform in
 * (0, 1); the list is the servers by descending score. A server's score for a key never depends on the other servers,
 * which is what makes movement minimal for any weights, and `P(s wins) = weight_s / totalWeight` exactly.
 *
 * `h_s(key)` is computed as: a 64-bit hash of the key (once per call), xor-ed with a 64-bit hash of the server's name
 * (precomputed), put through MurmurHash3's finaliser on both halves, 52 bits kept. Hashing the key once keeps a
 * lookup at O(key length + servers) instead of O(key length * servers).
 */
class RendezvousRing implements Ring {
  readonly kind = "rendezvous" as const;
  readonly servers: readonly ServerAddress[];
  readonly #nameLo: Int32Array;
  readonly #nameHi: Int32Array;
  readonly #weights: Float64Array;
  readonly #scores: Float64Array;
  readonly #keyHash = new Int32Array(2);

  constructor(servers: readonly ServerAddress[]) {
    this.servers = servers;
    const n = servers.length;
    this.#nameLo = new Int32Array(n);
    this.#nameHi = new Int32Array(n);
    this.#weights = new Float64Array(n);
    this.#scores = new Float64Array(n);
    const pair = new Int32Array(2);
    servers.forEach((server, index) => {
      hash64(server.name, pair);
      this.#nameLo[index] = pair[0]!;
      this.#nameHi[index] = pair[1]!;
      this.#weights[index] = server.weight;
    });
  }

  replicas(key: string, count: number): number[] {
    checkCount(count);
    const n = this.servers.length;
    const want = Math.min(count, n);
    if (want === 0) return [];
    if (n === 1) return [0];

    const keyHash = this.#keyHash;
    hash64(key, keyHash);
    const keyLo = keyHash[0]!;
    const keyHi = keyHash[1]!;
    const nameLo = this.#nameLo;
    const nameHi = this.#nameHi;
    const weights = this.#weights;
    const scores = this.#scores;
    for (let s = 0; s < n; s++) {
      const lo = fmix32(keyLo ^ nameLo[s]!);
      const hi = fmix32(((keyHi ^ nameHi[s]!) + lo) | 0);
      // 52 bits: (u + 0.5) is exact below 2^52, so h stays strictly inside (0, 1) and ln(h) < 0.
      const u = (hi >>> 12) * TWO_POW_32 + (lo >>> 0);
      scores[s] = weights[s]! / -Math.log((u + 0.5) / TWO_POW_52);
    }

    // Selection by repeated maximum: count is tiny (the replication factor), so this beats sorting, and it needs
    // no allocation. Scores are positive, so -1 marks a taken server. Ties go to the lower index.
    const out: number[] = [];
    for (let k = 0; k < want; k++) {
      let best = 0;
      let bestScore = -1;
      for (let s = 0; s < n; s++) {
        const score = scores[s]!;
        if (score > bestScore) {
          best = s;
          bestScore = score;
        }
      }
      out.push(best);
      scores[best] = -1;
    }
    return out;
  }
}
