// `createClient` end to end against real memcached processes: every PairClient operation with 3 servers and 2
// replicas (each replica's content checked with a bare transport, not through the engine), binary values, a 10k-key
// getMany, read-repair after a restart, failover, input validation, TLS, ASCII auth and close(). No timing assertions.
import { createServer, type Server, type Socket } from "node:net";
import { type MemcachedServer, startMemcached, useMemcachedCleanup, waitFor } from "@mcpair/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ClientClosedError,
  type ClientOptions,
  createClient,
  createSocketTransport,
  FLAGS,
  InvalidArgumentError,
  InvalidKeyError,
  InvalidTtlError,
  McpairError,
  type PairClient,
  ReplicationError,
  ServerUnavailableError,
  type SocketTransport,
  type TransportItem,
  ValueTooLargeError,
} from "../src/index.js";

useMemcachedCleanup();

const DEADLINE = 20_000;
let n = 0;
const key = (label: string): string => `client:${Date.now().toString(36)}:${++n}:${label}`;
const text = (item: TransportItem | null): string | undefined =>
  item === null ? undefined : Buffer.from(item.value).toString("utf8");

/** Bare transports to each server, by address, to look at what each replica holds without the engine. */
function rawTransports(list: MemcachedServer[], tls?: string): Map<string, SocketTransport> {
  return new Map(
    list.map((s) => [
      s.address,
      createSocketTransport({
        host: s.host,
        port: s.port,
        timeout: 5000,
        ...(tls ? { tls: { ca: tls } } : {}),
        ...(s.auth ? { auth: s.auth } : {}),
      }),
    ]),
  );
}

/** What `server` holds under `k`, over a fresh bare connection (a kept one would be reconnecting after a restart). */
async function rawGetOnce(server: MemcachedServer, k: string): Promise<TransportItem | null> {
  const t = createSocketTransport({ host: server.host, port: server.port, timeout: 5000 });
  try {
    return await t.get(k, { ttl: true });
  } finally {
    await t.close();
  }
}

/** User keys whose primary is `server`. */
function keysWithPrimary(client: PairClient, server: string, label: string, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const k = key(`${label}-${i}`);
    if (client.replicasOf(k)[0] === server) out.push(k);
  }
  return out;
}

/** The value a raw item holds: undefined for a miss or a delete's tombstone. */
const rawValue = (item: TransportItem | null) =>
  item === null || item.flags === FLAGS.tombstone ? undefined : Buffer.from(item.value).toString();

describe("every operation, 3 servers, replicas 2", () => {
  let servers: MemcachedServer[];
  let names: string[];
  let client: PairClient;
  let raw: Map<string, SocketTransport>;

  beforeAll(async () => {
    servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    names = servers.map((s) => s.address);
    client = createClient({ servers: names, replicas: 2, timeout: 5000 });
    raw = rawTransports(servers);
  });
  afterAll(async () => {
    await client.close();
    await Promise.all([...raw.values()].map((t) => t.close()));
  });

  /** What every configured server holds under `k`: the two replicas and the third server. */
  async function placement(
    k: string,
  ): Promise<{ replicas: Array<TransportItem | null>; other: TransportItem | null }> {
    const [a, b] = client.replicasOf(k) as [string, string];
    const other = names.find((s) => s !== a && s !== b)!;
    const [ia, ib, io] = await Promise.all(
      [a, b, other].map((s) => raw.get(s)!.get(k, { cas: true, ttl: true })),
    );
    return { replicas: [ia!, ib!], other: io! };
  }

  it("get / set: the value lands on both replicas (and only there) and reads back", async () => {
    const k = key("set");
    expect(await client.get(k)).toBeUndefined();
    await client.set(k, { name: "Ada", n: 1 }, { ttl: 600 });
    expect(await client.get(k)).toEqual({ name: "Ada", n: 1 });
    const { replicas, other } = await placement(k);
    for (const item of replicas) {
      expect(text(item)).toBe('{"name":"Ada","n":1}');
      expect(item!.flags).toBe(FLAGS.json);
      expect(item!.ttl).toBeGreaterThan(0);
      expect(item!.ttl).toBeLessThanOrEqual(600);
    }
    expect(other).toBeNull();
    await client.set(k, "second");
    expect(await client.get(k)).toBe("second");
  });

  it("getMany / setMany", async () => {
    const entries = Array.from({ length: 200 }, (_, i) => [key(`many-${i}`), `value ${i}`] as const);
    await client.setMany(entries, { ttl: 600 });
    const missing = key("many-missing");
    const got = await client.getMany([...entries.map(([k]) => k), missing, entries[0]![0]]);
    expect(got.size).toBe(200);
    for (const [k, v] of entries) expect(got.get(k)).toBe(v);
    expect(got.has(missing)).toBe(false);
    for (const [k, v] of entries.slice(0, 10)) {
      const { replicas } = await placement(k);
      expect(replicas.map(text)).toEqual([v, v]);
    }
  });

  it("delete / deleteMany remove the key from both replicas", async () => {
    const k = key("del");
    await client.set(k, "x");
    expect(await client.delete(k)).toBe(true);
    expect(await client.delete(k)).toBe(false);
    // A delete leaves a short-lived tombstone on each replica (it keeps copies from refilling the key): no value.
    expect((await placement(k)).replicas.map(rawValue)).toEqual([undefined, undefined]);
    expect(await client.get(k)).toBeUndefined();

    const ks = Array.from({ length: 50 }, (_, i) => key(`delmany-${i}`));
    await client.setMany(ks.slice(0, 30).map((x) => [x, "y"] as const));
    expect((await client.deleteMany(ks)).filter(Boolean).length).toBe(30);
    expect((await client.getMany(ks)).size).toBe(0);
    for (const x of ks.slice(0, 5)) {
      expect((await placement(x)).replicas.map(rawValue)).toEqual([undefined, undefined]);
    }
  });

  it("add / replace", async () => {
    const k = key("add");
    expect(await client.replace(k, "r")).toBe(false);
    expect(await client.get(k)).toBeUndefined();
    expect(await client.add(k, "first")).toBe(true);
    expect(await client.add(k, "second")).toBe(false);
    expect(await client.get(k)).toBe("first");
    expect(await client.replace(k, "replaced")).toBe(true);
    expect((await placement(k)).replicas.map(text)).toEqual(["replaced", "replaced"]);
  });

  it("append / prepend edit the value on both replicas", async () => {
    const k = key("append");
    expect(await client.append(k, "x")).toBe(false);
    await client.set(k, "middle");
    expect(await client.append(k, "-end")).toBe(true);
    expect(await client.prepend(k, new TextEncoder().encode("start-"))).toBe(true);
    expect(await client.get(k)).toBe("start-middle-end");
    const { replicas } = await placement(k);
    expect(replicas.map(text)).toEqual(["start-middle-end", "start-middle-end"]);
    expect(replicas.map((i) => i!.flags)).toEqual([FLAGS.string, FLAGS.string]);
  });

  it("incr / decr: counters on the authority, copied to the other replica", async () => {
    const k = key("counter");
    expect(await client.incr(k)).toBeUndefined();
    expect(await client.incr(k, 5, { initial: 10 })).toBe(10);
    expect(await client.incr(k, 5)).toBe(15);
    expect(await client.incr(k, 2n)).toBe(17);
    expect(await client.decr(k, 7)).toBe(10);
    expect(await client.decr(k, 100)).toBe(0); // memcached stops at 0
    expect(await client.incr(k, 3)).toBe(3);
    // memcached may keep a decremented counter space-padded to its old length ("3 "): same number on both.
    expect((await placement(k)).replicas.map((i) => text(i)?.trim())).toEqual(["3", "3"]);
    expect(String(await client.get(k)).trim()).toBe("3");
    expect(await client.decr(key("counter-missing"))).toBeUndefined();
  });

  it("touch sets a new lifetime on both replicas", async () => {
    const k = key("touch");
    expect(await client.touch(k, 100)).toBe(false);
    await client.set(k, "t", { ttl: 5000 });
    expect(await client.touch(k, 100)).toBe(true);
    for (const item of (await placement(k)).replicas) {
      expect(item!.ttl).toBeGreaterThan(0);
      expect(item!.ttl).toBeLessThanOrEqual(100);
    }
    expect(await client.get(k)).toBe("t");
  });

  it("gets / cas: a store with a current token succeeds once, a stale token is refused", async () => {
    const k = key("cas");
    expect(await client.gets(k)).toBeUndefined();
    await client.set(k, { v: 1 });
    const first = await client.gets<{ v: number }>(k);
    expect(first?.value).toEqual({ v: 1 });
    expect(first?.token.server).toBe(client.replicasOf(k)[0]);
    expect(await client.cas(k, { v: 2 }, first!.token)).toBe(true);
    expect(await client.cas(k, { v: 3 }, first!.token)).toBe(false);
    expect(await client.get(k)).toEqual({ v: 2 });
    expect((await placement(k)).replicas.map(text)).toEqual(['{"v":2}', '{"v":2}']);
    await client.delete(k);
    expect(await client.cas(k, { v: 4 }, first!.token)).toBe(false);
  });

  it("binary values with \\r\\n, protocol words and every byte value round-trip unchanged", async () => {
    const every = Uint8Array.from({ length: 256 }, (_, i) => i);
    const values: Array<[string, Uint8Array | string]> = [
      [key("bin-crlf"), Buffer.from("a\r\nEND\r\nVA 5 f1\r\nHD\r\n\r\n", "latin1")],
      [key("bin-all"), every],
      [key("bin-empty"), new Uint8Array(0)],
      [key("bin-big"), Buffer.alloc(512 * 1024, "\r\n")],
      [key("str-crlf"), "line 1\r\nEND\r\nmn\r\n"],
    ];
    await client.setMany(values);
    for (const [k, v] of values) {
      const got = await client.get(k);
      if (typeof v === "string") expect(got).toBe(v);
      else expect(Buffer.from(got as Uint8Array).equals(Buffer.from(v))).toBe(true);
    }
    const many = await client.getMany(values.map(([k]) => k));
    expect(many.size).toBe(values.length);
    const [crlfKey, crlf] = values[0]!;
    for (const item of (await placement(crlfKey)).replicas) {
      expect(Buffer.from(item!.value).equals(Buffer.from(crlf as Uint8Array))).toBe(true);
      expect(item!.flags).toBe(FLAGS.bytes);
    }
  });

  it("getMany of 10,000 keys returns them all, each read from its primary only", async () => {
    const count = 10_000;
    const entries = Array.from({ length: count }, (_, i) => [key(`10k-${i}`), i] as const);
    await client.setMany(entries);
    const hits = async () => Promise.all(servers.map(async (s) => Number((await s.stats()).get_hits)));
    const before = await hits();
    const got = await client.getMany(entries.map(([k]) => k));
    const after = await hits();
    expect(got.size).toBe(count);
    for (const [k, v] of entries) expect(got.get(k)).toBe(v);
    // memcached counts get_hits per key: each key was read exactly once, on its primary, and nowhere else.
    const expected = names.map((name) => entries.filter(([k]) => client.replicasOf(k)[0] === name).length);
    const deltas = after.map((h, i) => h - before[i]!);
    expect(deltas).toEqual(expected);
    expect(deltas.reduce((a, b) => a + b, 0)).toBe(count);
  }, 60_000);

  it("flush empties every server", async () => {
    const ks = Array.from({ length: 30 }, (_, i) => key(`flush-${i}`));
    await client.setMany(ks.map((k) => [k, "f"] as const));
    await client.flush();
    expect((await client.getMany(ks)).size).toBe(0);
    for (const s of servers) expect(Number((await s.stats()).cmd_flush)).toBeGreaterThanOrEqual(1);
    for (const k of ks.slice(0, 5)) {
      for (const t of raw.values()) expect(await t.get(k)).toBeNull();
    }
  });
});

describe("read-repair after a server restart", () => {
  it("the value comes back on the restarted (empty) primary", async () => {
    const servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    const names = servers.map((s) => s.address);
    // Read-repair alone (the automatic rewarm would refill the primary without any read).
    const client = createClient({
      servers: names,
      timeout: 2000,
      health: { probeInterval: 50 },
      rewarm: false,
    });
    const [k] = keysWithPrimary(client, names[0]!, "repair", 1) as [string];
    const primary = servers[0]!;
    const secondary = servers.find((s) => s.address === client.replicasOf(k)[1])!;
    try {
      await client.set(k, "precious", { ttl: 600 });
      const pidBefore = primary.pid;
      await primary.kill();
      await primary.start();
      expect(primary.pid).not.toBe(pidBefore);
      expect(await rawGetOnce(primary, k)).toBeNull();

      const reads: unknown[] = [];
      const copy = await waitFor(
        async () => {
          reads.push(await client.get(k));
          const item = await rawGetOnce(primary, k);
          return item && !item.stale && item.flags !== 0 ? item : undefined;
        },
        { timeout: DEADLINE, interval: 20, what: "the value to be written back to the restarted primary" },
      );
      // Every read was served (from the secondary while the primary was empty or down), never a miss.
      expect(new Set(reads)).toEqual(new Set(["precious"]));
      expect(text(copy)).toBe("precious");
      expect(copy.ttl).toBeGreaterThan(0);
      expect(copy.ttl).toBeLessThanOrEqual(600);
      expect(text(await rawGetOnce(secondary, k))).toBe("precious");
      const stats = client.stats();
      expect(stats.hitsReplica).toBeGreaterThanOrEqual(1);
      expect(stats.repairs).toBeGreaterThanOrEqual(1);
      // The copy may land while the primary is still in its rejoin quarantine (written, not read: repairs go there
      // anyway). Once it is read again, the next read is answered by the primary.
      await waitFor(() => client.servers.find((s) => s.name === primary.address)?.state === "up", {
        timeout: DEADLINE,
        what: "the primary's quarantine to end",
      });
      const primaryHits = client.stats().hitsPrimary;
      expect(await client.get(k)).toBe("precious");
      expect(client.stats().hitsPrimary).toBe(primaryHits + 1);
    } finally {
      await client.close();
    }
  }, 60_000);
});

describe("failover", () => {
  it("reads keep hitting with a server killed; once it is marked down it is not contacted at all", async () => {
    const servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    const names = servers.map((s) => s.address);
    // No probe during the test: the killed server stays "down", so the fail-fast path is what is measured.
    const client = createClient({
      servers: names,
      timeout: 2000,
      health: { probeInterval: 600_000, maxProbeInterval: 600_000, checkInterval: 0 },
    });
    try {
      const [x, y] = servers as [MemcachedServer, MemcachedServer, MemcachedServer];
      const ks = keysWithPrimary(client, x.address, "failover", 20);
      await client.setMany(ks.map((k) => [k, `v:${k}`] as const));
      await x.kill();

      for (const k of ks) expect(await client.get(k)).toBe(`v:${k}`);
      const down = client.stats();
      const xi = names.indexOf(x.address);
      expect(down.servers[xi]!.state).toBe("down");
      expect(down.failovers).toBeGreaterThanOrEqual(ks.length);
      expect(down.hitsReplica).toBeGreaterThanOrEqual(ks.length);

      // Marked down: reads skip it without a request (no new error on it), each one counted as a failover.
      const got = await client.getMany(ks);
      expect(got.size).toBe(ks.length);
      const after = client.stats();
      expect(after.failovers - down.failovers).toBe(ks.length);
      expect(after.servers[xi]!.errors).toBe(down.servers[xi]!.errors);

      // Writes still succeed (writePolicy "one") and are hinted for the down server.
      await client.set(ks[0]!, "while down");
      expect(await client.get(ks[0]!)).toBe("while down");
      expect(client.stats().hintsRecorded).toBeGreaterThan(after.hintsRecorded);
      expect(client.stats().servers[xi]!.errors).toBe(down.servers[xi]!.errors);

      // Both replicas of a key gone: a typed error, and after that no request to either of them.
      {
        let both = "";
        for (let i = 0; both === ""; i++) {
          const k = key(`both-${i}`);
          const [a, b] = client.replicasOf(k);
          if (a === x.address && b === y.address) both = k;
        }
        await client.set(both, "on x and y");
        await y.kill();
        await expect(client.get(both)).rejects.toBeInstanceOf(ServerUnavailableError);
        const yi = names.indexOf(y.address);
        expect(client.stats().servers[yi]!.state).toBe("down");
        const errors = client.stats().servers.map((s) => s.errors);
        await expect(client.get(both)).rejects.toBeInstanceOf(ServerUnavailableError);
        expect(client.stats().servers.map((s) => s.errors)).toEqual(errors);
        await expect(client.fetch(both, () => "loaded", { onUnavailable: "throw" })).rejects.toBeInstanceOf(
          ServerUnavailableError,
        );
        expect(await client.fetch(both, () => "loaded")).toBe("loaded");
        expect(client.stats().uncachedLoads).toBe(1);
      }
    } finally {
      await client.close();
    }
  }, 60_000);
});

/** TCP servers that record every byte received and never answer. */
async function recordingServers(count: number): Promise<{
  names: string[];
  received: (i: number) => string;
  close: () => Promise<void>;
}> {
  const made = await Promise.all(
    Array.from({ length: count }, async () => {
      const chunks: Buffer[] = [];
      const sockets = new Set<Socket>();
      const srv: Server = createServer((socket) => {
        sockets.add(socket);
        socket.on("error", () => {});
        socket.on("data", (chunk) => chunks.push(chunk));
      });
      await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
      const address = srv.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      return { srv, sockets, chunks, name: `127.0.0.1:${port}` };
    }),
  );
  return {
    names: made.map((m) => m.name),
    received: (i) => Buffer.concat(made[i]!.chunks).toString("latin1"),
    close: async () => {
      await Promise.all(
        made.map(
          (m) =>
            new Promise<void>((resolve) => {
              for (const s of m.sockets) s.destroy();
              m.srv.close(() => resolve());
            }),
        ),
      );
    },
  };
}

describe("bad input is rejected with a typed error before anything is sent", () => {
  it("invalid keys, TTLs and values never reach a server", async () => {
    const rec = await recordingServers(3);
    // The servers never answer: a long timeout keeps every request pending, so nothing is dropped or retried.
    const client = createClient({ servers: rec.names, timeout: 60_000, health: { checkInterval: 0 } });
    try {
      const badKeys = [
        "a b",
        "a\r\nflush_all",
        "x".repeat(251),
        "",
        "tab\there",
        "nul\u0000",
        "é".repeat(126),
      ];
      const good = key("good");
      for (const bad of badKeys) {
        const calls: Array<() => Promise<unknown>> = [
          () => client.get(bad),
          () => client.set(bad, "v"),
          () => client.delete(bad),
          () => client.add(bad, "v"),
          () => client.touch(bad, 10),
          () => client.incr(bad),
          () => client.gets(bad),
          () => client.invalidate(bad),
          () => client.fetch(bad, () => "v"),
          () => client.getMany([good, bad]),
          () =>
            client.setMany([
              [good, "v"],
              [bad, "v"],
            ]),
          () => client.deleteMany([good, bad]),
          () => client.fetchMany([good, bad], async () => new Map()),
        ];
        for (const call of calls) {
          const error = await call().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error, JSON.stringify(bad)).toBeInstanceOf(InvalidKeyError);
          expect((error as InvalidKeyError).code).toBe("ERR_MCPAIR_INVALID_KEY");
        }
      }
      for (const ttl of [Number.NaN, -1, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]) {
        await expect(client.set(good, "v", { ttl })).rejects.toBeInstanceOf(InvalidTtlError);
        await expect(client.setMany([[good, "v"]], { ttl })).rejects.toBeInstanceOf(InvalidTtlError);
        await expect(client.touch(good, ttl)).rejects.toBeInstanceOf(InvalidTtlError);
        await expect(client.incr(good, 1, { ttl })).rejects.toBeInstanceOf(InvalidTtlError);
        await expect(client.fetch(good, () => "v", { ttl })).rejects.toBeInstanceOf(InvalidTtlError);
      }
      const big = "x".repeat(1024 * 1024 + 1);
      await expect(client.set(good, big)).rejects.toBeInstanceOf(ValueTooLargeError);
      await expect(client.add(good, big)).rejects.toBeInstanceOf(ValueTooLargeError);
      await expect(client.append(good, big)).rejects.toBeInstanceOf(ValueTooLargeError);
      // In a batch, a value too large fails its own entry (the others would be stored): nothing is sent for it.
      const bigKey = key("big");
      const batch = (await client.setMany([[bigKey, big]]).catch((e: unknown) => e)) as ReplicationError;
      expect(batch).toBeInstanceOf(ReplicationError);
      expect(batch.keys).toEqual([bigKey]);
      expect(batch.failures[0]?.error).toBeInstanceOf(ValueTooLargeError);
      await expect(client.fetch(good, () => "v", { leaseTtl: 0 })).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
      await expect(client.incr(good, -1)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(client.append(good, 42 as unknown as string)).rejects.toBeInstanceOf(InvalidArgumentError);

      // Requests are written in order on each connection: once a marker sent after all of the above has arrived,
      // everything else that was ever sent has arrived too. Only the start-up check and the markers may be there.
      const markers = rec.names.map((name, i) => keysWithPrimary(client, name, `marker${i}`, 1)[0]!);
      const pending = markers.map((m) => client.get(m).catch(() => undefined));
      await waitFor(() => markers.every((m, i) => rec.received(i).includes(m)), {
        timeout: DEADLINE,
        what: "the markers to arrive",
      });
      for (let i = 0; i < rec.names.length; i++) {
        const lines = rec.received(i).split("\r\n").filter(Boolean);
        const unexpected = lines.filter(
          (l) =>
            l !== "stats" &&
            !l.startsWith("mg mcpair:drain ") &&
            !markers.some((m) => l.startsWith(`mg ${m} `)),
        );
        expect(unexpected, `server ${i} received`).toEqual([]);
      }
      client.destroy();
      await Promise.all(pending);
    } finally {
      client.destroy();
      await rec.close();
    }
  });

  it.each<[string, Partial<ClientOptions>]>([
    ["servers: []", { servers: [] }],
    ["replicas: 0", { replicas: 0 }],
    ["replicas: 1.5", { replicas: 1.5 }],
    ["timeout: -1", { timeout: -1 }],
    ["timeout: NaN", { timeout: Number.NaN }],
    ["connections: 0", { connections: 0 }],
    ["maxTtl: 0", { maxTtl: 0 }],
    ["maxTtl over 30 days", { maxTtl: 2_592_001 }],
    ["writePolicy: 'most'", { writePolicy: "most" as "one" }],
    ["servers: ['not a server']", { servers: ["not a server"] }],
  ])("createClient rejects %s with InvalidArgumentError", (_, bad) => {
    expect(() => createClient({ servers: ["127.0.0.1:1"], ...bad })).toThrow(InvalidArgumentError);
  });
});

describe("TLS and ASCII auth through createClient", () => {
  it("TLS: operations and fetch work over TLS on both replicas", async () => {
    const servers = await Promise.all([startMemcached({ tls: true }), startMemcached({ tls: true })]);
    const ca = servers[0]!.tlsCa!;
    const client = createClient({ servers: servers.map((s) => s.address), tls: { ca }, timeout: 5000 });
    const raw = rawTransports(servers, ca);
    try {
      const k = key("tls");
      await client.set(k, { secure: true });
      expect(await client.get(k)).toEqual({ secure: true });
      for (const t of raw.values()) expect(text(await t.get(k))).toBe('{"secure":true}');
      expect(await client.fetch(key("tls-fetch"), () => "loaded over tls")).toBe("loaded over tls");
      expect(await client.incr(key("tls-counter"), 1, { initial: 7 })).toBe(7);
      expect(await client.delete(k)).toBe(true);
      expect(client.stats().servers.map((s) => s.state)).toEqual(["up", "up"]);
    } finally {
      await client.close();
      await Promise.all([...raw.values()].map((t) => t.close()));
    }
  });

  it("ASCII auth: the right credentials work; wrong ones fail with a typed error", async () => {
    const auth = { username: "mcpair", password: "s3cret-pass" };
    const servers = await Promise.all([startMemcached({ auth }), startMemcached({ auth })]);
    const names = servers.map((s) => s.address);
    const client = createClient({ servers: names, auth, timeout: 5000 });
    const raw = rawTransports(servers);
    const wrong = createClient({ servers: names, auth: { ...auth, password: "wrong" }, timeout: 5000 });
    try {
      const k = key("auth");
      await client.set(k, "authenticated");
      expect(await client.get(k)).toBe("authenticated");
      for (const t of raw.values()) expect(text(await t.get(k))).toBe("authenticated");
      expect(await client.getMany([k])).toEqual(new Map([[k, "authenticated"]]));

      const error = await wrong.get(k).then(
        () => undefined,
        (e: unknown) => e,
      );
      // The server refuses the credentials and closes the connection: the server is unavailable to this client.
      expect(error).toBeInstanceOf(ServerUnavailableError);
      await expect(wrong.set(k, "intruder")).rejects.toBeInstanceOf(McpairError);
      expect(await client.get(k)).toBe("authenticated");
    } finally {
      await Promise.all([client.close(), wrong.close()]);
      await Promise.all([...raw.values()].map((t) => t.close()));
    }
  });
});

describe("close()", () => {
  it("resolves after pending calls settle; every later call rejects with ClientClosedError", async () => {
    const servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    const client = createClient({ servers: servers.map((s) => s.address), timeout: 5000 });
    const k = key("close");
    await client.set(k, "before close");
    const pending = client.get(k);
    await expect(client.close()).resolves.toBeUndefined();
    expect(await pending).toBe("before close");
    await expect(client.close()).resolves.toBeUndefined();

    const calls: Array<[string, () => Promise<unknown>]> = [
      ["get", () => client.get(k)],
      ["set", () => client.set(k, "v")],
      ["getMany", () => client.getMany([k])],
      ["setMany", () => client.setMany([[k, "v"]])],
      ["delete", () => client.delete(k)],
      ["deleteMany", () => client.deleteMany([k])],
      ["add", () => client.add(k, "v")],
      ["replace", () => client.replace(k, "v")],
      ["append", () => client.append(k, "v")],
      ["prepend", () => client.prepend(k, "v")],
      ["incr", () => client.incr(k)],
      ["decr", () => client.decr(k)],
      ["touch", () => client.touch(k, 10)],
      ["gets", () => client.gets(k)],
      ["cas", () => client.cas(k, "v", { server: servers[0]!.address, cas: 1n })],
      ["flush", () => client.flush()],
      ["fetch", () => client.fetch(k, () => "v")],
      ["fetchMany", () => client.fetchMany([k], async () => new Map())],
      ["invalidate", () => client.invalidate(k)],
    ];
    for (const [name, call] of calls) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, name).toBeInstanceOf(ClientClosedError);
    }
  });
});
