import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../src/errors.js";
import { hash64, md5, md5Hash32, md5Words } from "../src/hash.js";
import { createRing, ketamaPointCounts, type Ring, type RingKind } from "../src/ring.js";
import { parseServers, type ServerSpec } from "../src/servers.js";
import type { ServerAddress } from "../src/transport.js";

// hashring ships no types: declare the subset used here.
interface HashRing {
  get(key: string): string | undefined;
  range(key: string, size?: number, unique?: boolean): string[];
  hashValue(key: string): number;
  find(hash: number): number;
  ring: Array<{ value: number; server: string }>;
}

/**
 * hashring's primary for `key`, without `get()`: its LRU cache is a plain object, so keys such as "toString" or
 * "constructor" read Object.prototype and come back wrong.
 */
function hashringPrimary(ring: HashRing, key: string): string | undefined {
  return ring.ring[ring.find(ring.hashValue(key))]?.server;
}
type HashRingConstructor = new (
  servers: readonly string[] | Record<string, number>,
  algorithm?: string,
  options?: Record<string, unknown>,
) => HashRing;

const require = createRequire(import.meta.url);
const HashRingImpl = require("hashring") as HashRingConstructor;

const KINDS: readonly RingKind[] = ["ketama", "rendezvous"];

function names(ring: Ring, indexes: readonly number[]): string[] {
  return indexes.map((i) => ring.servers[i]!.name);
}

function equalServers(n: number, prefix = "10.0.0."): ServerAddress[] {
  return parseServers(Array.from({ length: n }, (_, i) => `${prefix}${i + 1}:11211`));
}

// Deterministic keys: ASCII ids plus arbitrary Unicode (including astral characters), so UTF-8 encoding is covered.
const KEYS: readonly string[] = [
  ...Array.from({ length: 1500 }, (_, i) => `user:${i}`),
  ...fc.sample(fc.string({ unit: "binary", minLength: 1, maxLength: 60 }), { numRuns: 1500, seed: 7 }),
];

describe("hash", () => {
  it("md5 matches node:crypto for any string, lone surrogates and multi-block inputs included", () => {
    const unit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 200 }),
          fc.string({ unit, maxLength: 200 }),
          fc.string({ maxLength: 300 }),
        ),
        (input) => {
          const expected = createHash("md5").update(input).digest();
          expect(Buffer.from(md5(input)).equals(expected)).toBe(true);
          expect(md5Hash32(input)).toBe(expected.readUInt32LE(0));
          const words = new Uint32Array(4);
          md5Words(input, words);
          expect([...words]).toEqual([0, 4, 8, 12].map((o) => expected.readUInt32LE(o)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("md5 handles every padding boundary and long keys", () => {
    for (let length = 0; length <= 260; length++) {
      const input = "k".repeat(length);
      expect(Buffer.from(md5(input)).toString("hex")).toBe(createHash("md5").update(input).digest("hex"));
    }
    const long = "€".repeat(5000);
    expect(Buffer.from(md5(long)).toString("hex")).toBe(createHash("md5").update(long).digest("hex"));
  });

  it("hash64 is deterministic and sensitive to every character", () => {
    const a = new Int32Array(2);
    const b = new Int32Array(2);
    hash64("user:12345", a);
    hash64("user:12345", b);
    expect([...a]).toEqual([...b]);
    const seen = new Set<string>();
    for (const key of ["", "a", "b", "ab", "ba", "abc", "user:12345", "user:12346", "user:1234", "\u0000"]) {
      hash64(key, a);
      seen.add(`${a[0]},${a[1]}`);
    }
    expect(seen.size).toBe(10);
  });
});

describe("ketama: compatible with libmemcached and hashring", () => {
  const fixtures = (file: string) => readFileSync(require.resolve(`hashring/tests/fixtures/${file}`), "utf8");

  it("matches pylibmc (libmemcached, KETAMA_WEIGHTED) on 100,000 keys", () => {
    // hashring's fixture, produced by pylibmc with behaviors={"ketama_weighted": True}. libmemcached hashes servers on
    // port 11211 as "host-i", so those get the bare host as name.
    const ring = createRing(
      parseServers([
        { host: "0.0.0.1", port: 11211, name: "0.0.0.1" },
        { host: "0.0.0.2", port: 11211, name: "0.0.0.2" },
        { host: "0.0.0.3", port: 11211, name: "0.0.0.3" },
        "0.0.0.4:11213",
        "0.0.0.5:11212",
      ]),
    );
    const label = (server: ServerAddress) => (server.port === 11211 ? `${server.host}:11211` : server.name);
    const lines = fixtures("pylibmc.txt").split("\n");
    let mismatches = 0;
    for (let i = 0; i < 100_000; i++) {
      const expected = lines[i]!.slice(lines[i]!.indexOf(" ") + 1);
      const got = label(ring.servers[ring.replicas(String(i), 1)[0]!]!);
      // pylibmc printed its own server strings; "0.0.0.3" was configured without a port.
      if (got !== expected && !(expected === "0.0.0.3" && got === "0.0.0.3:11211")) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it("matches libmemcached's weighted continuum test cases (key hash and server)", () => {
    // From libmemcached's ketama tests: eight servers on port 11211 with weights 100..1000.
    const weights = [600, 300, 200, 350, 1000, 800, 950, 100];
    const ring = createRing(
      parseServers(
        weights.map((weight, i) => ({ host: `10.0.1.${i + 1}`, name: `10.0.1.${i + 1}`, weight })),
      ),
    );
    const cases = JSON.parse(fixtures("libmemcached.json")) as Array<[string, number, number, string]>;
    expect(cases.length).toBe(99);
    for (const [key, hash, , server] of cases) {
      expect(md5Hash32(key)).toBe(hash);
      expect(ring.servers[ring.replicas(key, 1)[0]!]!.host).toBe(server);
    }
    // Hashes past the last point wrap around to the first one.
    expect(md5Hash32("VDEAAAAA")).toBe(0xfffcd1b5);
  });

  const lists: Record<string, Array<{ address: string; weight: number }>> = {
    "3 equal, default port": ["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"].map((address) => ({
      address,
      weight: 1,
    })),
    "2 servers": [
      { address: "cache-a:11211", weight: 1 },
      { address: "cache-b:11211", weight: 1 },
    ],
    "1 server": [{ address: "solo:11211", weight: 1 }],
    "non-default ports, weighted": [
      { address: "mc1.internal:11212", weight: 1 },
      { address: "mc2.internal:11213", weight: 2 },
      { address: "mc3.internal:22122", weight: 3 },
      { address: "mc4.internal:11211", weight: 1 },
    ],
    "libmemcached weights": [600, 300, 200, 350, 1000, 800, 950, 100].map((weight, i) => ({
      address: `10.0.1.${i + 1}:11211`,
      weight,
    })),
    "fractional weights": [
      { address: "a:1", weight: 1.5 },
      { address: "b:2", weight: 0.5 },
      { address: "c:3", weight: 2.25 },
    ],
    // 7 equal servers: float64 rounding gives 39 digests per server (see ketamaPointCounts).
    "7 equal": Array.from({ length: 7 }, (_, i) => ({ address: `192.168.1.${10 + i}:11211`, weight: 1 })),
    "10 equal": Array.from({ length: 10 }, (_, i) => ({ address: `node${i}.cache:${11211 + i}`, weight: 1 })),
    "IPv6 and a Unix socket": [
      { address: "[::1]:11211", weight: 1 },
      { address: "[2001:db8::5]:11212", weight: 2 },
      { address: "/var/run/memcached.sock", weight: 1 },
    ],
  };

  for (const [label, list] of Object.entries(lists)) {
    it(`primary and replica list equal hashring's get() and range(): ${label}`, () => {
      const specs: ServerSpec[] = list.map(({ address, weight }) =>
        address.startsWith("/") ? { host: "localhost", path: address, weight } : `${address}:${weight}`,
      );
      const ring = createRing(parseServers(specs));
      expect(ring.servers.map((s) => s.name)).toEqual(list.map((s) => s.address));
      const reference = new HashRingImpl(Object.fromEntries(list.map((s) => [s.address, s.weight])));
      const count = Math.min(3, list.length);
      for (const key of KEYS) {
        const got = names(ring, ring.replicas(key, count));
        expect(got[0], key).toBe(hashringPrimary(reference, key));
        expect(got, key).toEqual(reference.range(key, count));
      }
    });
  }

  it("gives 160 points per server for equal weights and scales them by weight", () => {
    expect(ketamaPointCounts(equalServers(3))).toEqual([160, 160, 160]);
    expect(ketamaPointCounts(equalServers(6))).toEqual(Array(6).fill(160));
    // hashring's float64 rounding (followed here); libmemcached's float32 math gives 160.
    expect(ketamaPointCounts(equalServers(7))).toEqual(Array(7).fill(156));
    const weighted = parseServers(["a:1:1", "b:1:2", "c:1:1"]);
    expect(ketamaPointCounts(weighted)).toEqual([120, 240, 120]);
  });

  it("keeps keys on a server that moves to a new address under the same name", () => {
    const before = createRing(
      parseServers([{ host: "10.0.0.1", name: "a" }, { host: "10.0.0.2", name: "b" }, "c"]),
    );
    const after = createRing(
      parseServers([{ host: "10.9.9.9", port: 11300, name: "a" }, { host: "10.0.0.2", name: "b" }, "c"]),
    );
    for (const key of KEYS.slice(0, 500)) expect(after.replicas(key, 3)).toEqual(before.replicas(key, 3));
  });
});

describe("replica lists", () => {
  for (const kind of KINDS) {
    it(`${kind}: distinct, in range, length min(count, servers), each a prefix of the next`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 12 }),
          fc.array(fc.double({ min: 0.1, max: 10, noNaN: true }), { minLength: 12, maxLength: 12 }),
          fc.string({ unit: "binary", minLength: 1, maxLength: 40 }),
          fc.integer({ min: 0, max: 15 }),
          (n, weights, key, count) => {
            const servers = parseServers(
              Array.from({ length: n }, (_, i) => ({ host: `h${i}`, weight: weights[i] ?? 1 })),
            );
            const ring = createRing(servers, kind);
            const list = ring.replicas(key, count);
            expect(list.length).toBe(Math.min(count, n));
            expect(new Set(list).size).toBe(list.length);
            for (const index of list) expect(index >= 0 && index < n && Number.isInteger(index)).toBe(true);
            const full = ring.replicas(key, n);
            expect(list).toEqual(full.slice(0, list.length));
            expect(ring.replicas(key, count)).toEqual(list);
          },
        ),
        { numRuns: 300 },
      );
    });

    it(`${kind}: rejects a bad count and returns [] for 0`, () => {
      const ring = createRing(equalServers(3), kind);
      expect(ring.replicas("k", 0)).toEqual([]);
      for (const count of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => ring.replicas("k", count)).toThrow(InvalidArgumentError);
        expect(() => ring.replicas("k", count)).toThrow(/count: expected a non-negative integer/);
      }
    });
  }

  it("createRing validates its input", () => {
    expect(() => createRing([])).toThrow(InvalidArgumentError);
    const [a, b] = equalServers(2) as [ServerAddress, ServerAddress];
    expect(() => createRing([a, { ...b, name: a.name }])).toThrow(
      /servers\[1\]: duplicate name "10.0.0.1:11211"/,
    );
    expect(() => createRing([a, { ...b, weight: 0 }])).toThrow(/servers\[1\]: invalid weight 0/);
    expect(() => createRing([a, { ...b, weight: Number.NaN }])).toThrow(InvalidArgumentError);
    expect(() => createRing([a, b], "modula" as RingKind)).toThrow(/kind: expected "ketama" or "rendezvous"/);
  });

  it("defaults to ketama and snapshots the servers", () => {
    const servers = equalServers(3);
    const ring = createRing(servers);
    expect(ring.kind).toBe("ketama");
    servers[0]!.weight = 100;
    expect(ring.servers[0]!.weight).toBe(1);
    expect(Object.isFrozen(ring.servers)).toBe(true);
    expect(Object.isFrozen(ring.servers[0])).toBe(true);
  });

  it("lists a server whose weight earned no ketama points last instead of dropping it", () => {
    // hashring and libmemcached give "tiny" floor(1/1001 * 80) = 0 points, so it is never a primary.
    const ring = createRing(parseServers(["big:1:1000", "tiny:1:1"]));
    expect(ketamaPointCounts(ring.servers)).toEqual([316, 0]);
    for (const key of KEYS.slice(0, 200)) expect(ring.replicas(key, 2)).toEqual([0, 1]);
  });
});

describe("balance", () => {
  const KEY_COUNT = 100_000;
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => `key:${i}`);

  function shares(ring: Ring): number[] {
    const counts = new Array<number>(ring.servers.length).fill(0);
    for (const key of keys) counts[ring.replicas(key, 1)[0]!]!++;
    return counts.map((c) => c / KEY_COUNT);
  }

  it("rendezvous: every server's primary share is within ±5% of the mean (3..10 equal servers)", () => {
    for (let n = 3; n <= 10; n++) {
      for (const share of shares(createRing(equalServers(n), "rendezvous"))) {
        expect(Math.abs(share * n - 1), `n=${n}`).toBeLessThan(0.05);
      }
    }
  });

  it("rendezvous: shares follow the weights within ±5%", () => {
    const ring = createRing(parseServers(["a:1:1", "b:1:2", "c:1:3", "d:1:4"]), "rendezvous");
    shares(ring).forEach((share, i) => {
      const expected = (i + 1) / 10;
      expect(Math.abs(share / expected - 1)).toBeLessThan(0.05);
    });
  });

  it("ketama: shares stay within the spread 160 points per server allow (3..10 equal servers)", () => {
    // A server's share is the sum of its 160 arcs, so it varies by about 1/sqrt(160) ≈ 8% from server to server
    // whatever the hash. libmemcached compatibility fixes the point count, so ±15% is typical but not guaranteed
    // (10.0.0.1-4 reach 15.7%); the test bounds the worst server at ±25% and the spread (RMS) at 12%.
    for (let n = 3; n <= 10; n++) {
      const deviations = shares(createRing(equalServers(n), "ketama")).map((share) => share * n - 1);
      const rms = Math.sqrt(deviations.reduce((sum, d) => sum + d * d, 0) / n);
      expect(rms, `n=${n}`).toBeLessThan(0.12);
      for (const d of deviations) expect(Math.abs(d), `n=${n}`).toBeLessThan(0.25);
    }
  });
});

describe("minimal movement when a server is added or removed", () => {
  const keys = KEYS.slice(0, 1000);

  /** `small` is `large` without `changed`. Checks every key for both directions (add = small → large). */
  function checkMovement(small: Ring, large: Ring, changed: string, replicas: number): void {
    for (const key of keys) {
      const without = names(small, small.replicas(key, replicas));
      const withIt = names(large, large.replicas(key, replicas));
      if (!withIt.includes(changed)) expect(without, key).toEqual(withIt);
      // The other servers keep their relative order: dropping `changed` from the larger list gives a prefix of the
      // smaller one.
      const kept = withIt.filter((name) => name !== changed);
      expect(without.slice(0, kept.length), key).toEqual(kept);
      if (without[0] !== withIt[0]) expect(withIt[0], key).toBe(changed);
    }
  }

  for (const kind of KINDS) {
    it(`${kind}: only lists containing the added/removed server change (replicas 1..3)`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 3, max: 10 }),
          fc.nat(),
          fc.integer({ min: 1, max: 3 }),
          kind === "rendezvous"
            ? fc.array(fc.double({ min: 0.5, max: 4, noNaN: true }), { minLength: 10, maxLength: 10 })
            : fc.constant(Array<number>(10).fill(1)),
          (n, pick, replicas, weights) => {
            const all = parseServers(
              Array.from({ length: n }, (_, i) => ({ host: `s${i}`, weight: weights[i] ?? 1 })),
            );
            const changedIndex = pick % n;
            const rest = all.filter((_, i) => i !== changedIndex);
            if (kind === "ketama") {
              // Weighted ketama scales every server's points by weight/total and server count; minimal movement
              // holds only when the surviving servers keep their counts (see the next test for the exception).
              const before = ketamaPointCounts(all).filter((_, i) => i !== changedIndex);
              fc.pre(before.every((count, i) => count === ketamaPointCounts(rest)[i]));
            }
            checkMovement(createRing(rest, kind), createRing(all, kind), all[changedIndex]!.name, replicas);
          },
        ),
        { numRuns: 40 },
      );
    });
  }

  it("ketama: 6 ↔ 7 equal servers re-rounds every server's points (hashring compatibility)", () => {
    const six = equalServers(6);
    const seven = equalServers(7);
    expect(ketamaPointCounts(six)[0]).toBe(160);
    expect(ketamaPointCounts(seven)[0]).toBe(156);
    const small = createRing(six);
    const large = createRing(seven);
    const added = seven[6]!.name;
    let strayMoves = 0;
    for (const key of keys) {
      const before = names(small, small.replicas(key, 1))[0];
      const after = names(large, large.replicas(key, 1))[0];
      if (before !== after && after !== added) strayMoves++;
    }
    // Some keys move between surviving servers, but only a few percent.
    expect(strayMoves).toBeGreaterThan(0);
    expect(strayMoves / keys.length).toBeLessThan(0.05);
  });
});
