import { createServer, type Server, type Socket } from "node:net";
import {
  AbortError,
  ClientClosedError,
  InvalidArgumentError,
  InvalidKeyError,
  InvalidTtlError,
  QueueFullError,
  ServerError,
  ServerUnavailableError,
  ValueTooLargeError,
} from "@mcpair/core";
import {
  type MemcachedServer,
  memcachedBinary,
  memcachedSupportsTls,
  rogue,
  startMemcached,
  startRogueServer,
  useMemcachedCleanup,
  waitFor,
} from "@mcpair/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SocketTransportOptions } from "../src/options.js";
import {
  createSocketTransport,
  createSocketTransportFactory,
  type SocketTransport,
} from "../src/socket-transport.js";

useMemcachedCleanup();

const bytes = (s: string): Buffer => Buffer.from(s);
let server: MemcachedServer;
let t: SocketTransport;
let n = 0;
const key = (label: string): string => `transport-test:${Date.now().toString(36)}:${++n}:${label}`;

beforeAll(async () => {
  server = await startMemcached({ memoryMb: 64 });
  t = createSocketTransport({ host: server.host, port: server.port });
});
afterAll(() => t?.destroy());

/** A TCP server recording every byte it receives (and answering nothing unless told to). */
async function recordingServer(answer?: (socket: Socket, chunk: Buffer) => void): Promise<{
  port: number;
  received: () => Buffer;
  close: () => Promise<void>;
}> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const srv: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      answer?.(socket, chunk);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const address = srv.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    port,
    received: () => Buffer.concat(chunks),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}

describe("options", () => {
  it.each<[SocketTransportOptions, RegExp]>([
    [{ port: 0 }, /options\.port must be an integer between 1 and 65535; got 0/],
    [{ port: 70_000 }, /options\.port/],
    [{ port: 1.5 }, /options\.port/],
    [{ host: "" }, /options\.host/],
    [{ path: "" }, /options\.path/],
    [{ connections: 0 }, /options\.connections must be an integer between 1 and 64/],
    [{ connections: 65 }, /options\.connections/],
    [{ connectTimeout: 0 }, /options\.connectTimeout must be an integer between 1 and/],
    [{ timeout: -1 }, /options\.timeout/],
    [{ timeout: Number.NaN }, /options\.timeout/],
    [{ maxQueue: 0 }, /options\.maxQueue must be an integer between 1 and/],
    [{ maxValueSize: 0 }, /options\.maxValueSize/],
    [{ maxValueSize: 2 * 1024 * 1024 * 1024 }, /options\.maxValueSize/],
    [{ keepAlive: "yes" as unknown as boolean }, /options\.keepAlive must be a boolean/],
    [{ noDelay: 1 as unknown as boolean }, /options\.noDelay/],
    [{ reconnectStrategy: -5 }, /options\.reconnectStrategy must be false, a delay in ms/],
    [{ reconnectStrategy: true as unknown as false }, /options\.reconnectStrategy/],
    [{ tls: "on" as unknown as boolean }, /options\.tls/],
    [{ auth: { username: "a b", password: "p" } }, /options\.auth\.username/],
    [{ auth: { username: "u", password: "" } }, /options\.auth\.password/],
  ])("rejects %j at construction", (options, message) => {
    expect(() =>
      createSocketTransport({ ...options, reconnectStrategy: options.reconnectStrategy ?? false }),
    ).toThrow(InvalidArgumentError);
    expect(() => createSocketTransport(options)).toThrow(message);
  });

  it("the factory validates shared options eagerly and builds one transport per server", async () => {
    expect(() => createSocketTransportFactory({ timeout: 0 })).toThrow(/options\.timeout/);
    const factory = createSocketTransportFactory({ timeout: 500 });
    const tr = factory({ name: "a", host: server.host, port: server.port, weight: 1 });
    expect(tr.address).toBe(`${server.host}:${server.port}`);
    expect(tr.maxValueSize).toBe(1024 * 1024);
    await expect(tr.noop()).resolves.toBeUndefined();
    await tr.close();
  });

  it("validates per-request arguments before sending anything", async () => {
    const k = key("args");
    await expect(t.get(k, { timeout: 0 })).rejects.toThrow(/options\.timeout/);
    await expect(t.set(k, bytes("v"), { ttl: 0 })).rejects.toBeInstanceOf(InvalidTtlError);
    await expect(t.set(k, bytes("v"), { ttl: 2_592_001 })).rejects.toBeInstanceOf(InvalidTtlError);
    await expect(t.set(k, bytes("v"), { ttl: 1.5 })).rejects.toBeInstanceOf(InvalidTtlError);
    await expect(t.set(k, bytes("v"), { ttl: 10, flags: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(t.set(k, bytes("v"), { ttl: 10, cas: -1n })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(t.set(k, 42 as unknown as Uint8Array, { ttl: 10 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(t.get(k, { lease: 0 })).rejects.toBeInstanceOf(InvalidTtlError);
    await expect(t.touch(k, -1)).rejects.toBeInstanceOf(InvalidTtlError);
    await expect(t.arithmetic(k, { delta: 1n << 64n })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(t.arithmetic(k, { initial: 1n })).rejects.toThrow(/options\.ttl is required/);
    await expect(t.delete(k, { invalidate: 0 })).rejects.toBeInstanceOf(InvalidTtlError);
    // Nothing above reached the server: the stream is in step.
    expect(await t.get(k)).toBeNull();
  });
});

describe("key injection", () => {
  const bad = [
    "a\r\nflush_all",
    "a\nflush_all",
    "a b",
    "\x00",
    "a\x00b",
    "tab\there",
    "del\x7f",
    "",
    "k".repeat(251),
    "é".repeat(126), // 252 bytes of UTF-8
    "lone\ud800surrogate",
  ];

  it("refuses every unsafe key before a single byte is written, even mid-batch", async () => {
    const rec = await recordingServer((socket, chunk) => {
      // Answer each request line with HD/EN so the good requests complete.
      for (const line of chunk.toString("latin1").split("\r\n")) {
        if (line.startsWith("mg ")) socket.write("EN\r\n");
        else if (line.startsWith("md ")) socket.write("NF\r\n");
      }
    });
    const tr = createSocketTransport({ port: rec.port, timeout: 2000 });
    try {
      const results = await Promise.allSettled([
        tr.get("good-1"),
        ...bad.map((k) => tr.get(k)),
        ...bad.map((k) => tr.set(k, bytes("v"), { ttl: 10 })),
        ...bad.map((k) => tr.delete(k)),
        ...bad.map((k) => tr.touch(k, 10)),
        ...bad.map((k) => tr.arithmetic(k)),
        tr.delete("good-2"),
      ]);
      expect(results[0]).toEqual({ status: "fulfilled", value: null });
      expect(results.at(-1)).toEqual({ status: "fulfilled", value: "not_found" });
      for (const r of results.slice(1, -1)) {
        expect(r.status).toBe("rejected");
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(InvalidKeyError);
      }
      expect(rec.received().toString("latin1")).toBe("mg good-1 v f\r\nmd good-2\r\n");
    } finally {
      tr.destroy();
      await rec.close();
    }
  });

  it("accepts UTF-8 keys up to 250 bytes", async () => {
    const k = `${key("utf8")}:ключ-🔑`;
    expect(await t.set(k, bytes("v"), { ttl: 60 })).toBe("stored");
    expect((await t.get(k))?.value.toString()).toBe("v");
    const long = "é".repeat(125); // exactly 250 bytes
    expect(await t.set(long, bytes("w"), { ttl: 60 })).toBe("stored");
    expect((await t.get(long))?.value.toString()).toBe("w");
  });
});

describe("values", () => {
  it("round-trips every byte value and CR/LF sequences at many sizes", async () => {
    const sizes = [1, 2, 3, 100, 1000, 16 * 1024, 64 * 1024 + 3, 300 * 1024];
    const keys = sizes.map((s) => key(`bin-${s}`));
    const values = sizes.map((s) => {
      const v = Buffer.alloc(s);
      for (let i = 0; i < s; i++) v[i] = (i * 131 + 7) & 0xff;
      if (s >= 4) v.write("\r\n", s >> 1, "latin1");
      return v;
    });
    const stored = await Promise.all(keys.map((k, i) => t.set(k, values[i]!, { ttl: 60 })));
    expect(stored.every((r) => r === "stored")).toBe(true);
    const got = await Promise.all(keys.map((k) => t.get(k)));
    got.forEach((g, i) => {
      expect(Buffer.compare(Buffer.from(g!.value), values[i]!)).toBe(0);
    });
  });

  it("a value over maxValueSize is refused locally; one at the server's limit gets SERVER_ERROR and the connection survives", async () => {
    const k = key("limit");
    await expect(t.set(k, Buffer.alloc(t.maxValueSize + 1), { ttl: 60 })).rejects.toBeInstanceOf(
      ValueTooLargeError,
    );
    // memcached counts its item header against -I: a value of exactly 1 MiB does not fit.
    const [atLimit, after] = await Promise.allSettled([
      t.set(k, Buffer.alloc(t.maxValueSize, 1), { ttl: 60 }),
      t.get(k),
    ]);
    expect((atLimit as PromiseRejectedResult).reason).toBeInstanceOf(ServerError);
    expect(after).toEqual({ status: "fulfilled", value: null });
    const justBelow = Buffer.alloc(t.maxValueSize - 1024, 2);
    expect(await t.set(k, justBelow, { ttl: 60 })).toBe("stored");
    expect((await t.get(k))?.value.length).toBe(justBelow.length);
  });
});

describe("string values", () => {
  it("stores a string as exactly the bytes Buffer.from gives it (ASCII, non-ASCII, long, lone surrogate)", async () => {
    const strings = [
      "",
      "plain ascii",
      "x".repeat(256),
      "x".repeat(257),
      "ünïcödé after ascii",
      `${"a".repeat(200)}é`,
      "emoji 🎉 and CJK 漢字",
      "lone \ud800 surrogate",
      "\r\nEND\r\nmn\r\n",
      "é".repeat(40_000),
      "y".repeat(100_000),
    ];
    expect(t.acceptsStringValues).toBe(true);
    const keys = strings.map((_, i) => key(`str-${i}`));
    // One turn: short and long, ASCII and not, interleaved in one write.
    const stored = await Promise.all(keys.map((k, i) => t.set(k, strings[i]!, { ttl: 60, flags: 7 })));
    expect(stored.every((r) => r === "stored")).toBe(true);
    const got = await Promise.all(keys.map((k) => t.get(k)));
    got.forEach((g, i) => {
      expect(Buffer.compare(Buffer.from(g!.value), Buffer.from(strings[i]!))).toBe(0);
      expect(g!.flags).toBe(7);
    });
  });

  it("refuses a string whose UTF-8 exceeds maxValueSize before a byte is written", async () => {
    const k = key("str-limit");
    const tr = createSocketTransport({ host: server.host, port: server.port, maxValueSize: 1000 });
    try {
      // 600 characters, 1,200 bytes: the limit is on bytes.
      await expect(tr.set(k, "é".repeat(600), { ttl: 60 })).rejects.toBeInstanceOf(ValueTooLargeError);
      await expect(tr.set(k, "x".repeat(1001), { ttl: 60 })).rejects.toBeInstanceOf(ValueTooLargeError);
      expect(await tr.set(k, "é".repeat(500), { ttl: 60 })).toBe("stored");
      expect((await tr.get(k))?.value.length).toBe(1000);
    } finally {
      tr.destroy();
    }
  });
});

describe("large values by reference", () => {
  it("a request cancelled between two large values is cut out of the write; the others arrive intact", async () => {
    const big = (fill: number) => Buffer.alloc(20_000, fill);
    // Answers `mn` and `ms` as whole commands arrive, however the stream is split.
    let pending = "";
    const rec = await recordingServer((socket, chunk) => {
      pending += chunk.toString("latin1");
      for (;;) {
        const eol = pending.indexOf("\r\n");
        if (eol < 0) return;
        const line = pending.slice(0, eol);
        let length = eol + 2;
        if (line.startsWith("ms ")) length += Number(line.split(" ")[2]) + 2;
        if (pending.length < length) return;
        pending = pending.slice(length);
        socket.write(line === "mn" ? "MN\r\n" : "HD\r\n");
      }
    });
    const tr = createSocketTransport({ port: rec.port });
    try {
      await tr.noop();
      const ac = new AbortController();
      const first = tr.set("a", big(0x61), { ttl: 60 });
      const cancelled = tr.set("b", big(0x62), { ttl: 60, signal: ac.signal });
      const third = tr.set("c", big(0x63), { ttl: 60 });
      ac.abort();
      await expect(cancelled).rejects.toBeInstanceOf(AbortError);
      expect(await first).toBe("stored");
      expect(await third).toBe("stored");
      const wire = rec.received().toString("latin1");
      const expected = `mn\r\nms a 20000 T60\r\n${"a".repeat(20_000)}\r\nms c 20000 T60\r\n${"c".repeat(20_000)}\r\n`;
      expect(wire).toBe(expected);
    } finally {
      tr.destroy();
      await rec.close();
    }
  });
});

describe("pipelining", () => {
  it("resolves 10,000 pipelined gets issued in one turn, each with its own answer", async () => {
    const prefix = key("p10k");
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => t.set(`${prefix}:${i}`, bytes(`v${i}`), { ttl: 60 })),
    );
    const gets = Array.from({ length: 10_000 }, (_, i) => t.get(`${prefix}:${i % 200}`));
    const results = await Promise.all(gets);
    results.forEach((r, i) => {
      const j = i % 200;
      if (j < 100) expect(r?.value.toString()).toBe(`v${j}`);
      else expect(r).toBeNull();
    });
  });

  it("coalesces one turn's requests into a single write", async () => {
    let writes = 0;
    const rec = await recordingServer((socket, chunk) => {
      writes++;
      const count = chunk.toString("latin1").split("mn\r\n").length - 1;
      socket.write("MN\r\n".repeat(count));
    });
    const tr = createSocketTransport({ port: rec.port });
    try {
      await tr.noop(); // connected
      writes = 0;
      await Promise.all(Array.from({ length: 50 }, () => tr.noop()));
      expect(writes).toBe(1);
    } finally {
      tr.destroy();
      await rec.close();
    }
  });

  it("requests issued by several callbacks of one loop phase share one write per socket", async () => {
    let writes = 0;
    const answer = (socket: Socket, chunk: Buffer) => {
      writes++;
      const count = chunk.toString("latin1").split("mn\r\n").length - 1;
      socket.write("MN\r\n".repeat(count));
    };
    const recA = await recordingServer(answer);
    const recB = await recordingServer(answer);
    const a = createSocketTransport({ port: recA.port });
    const b = createSocketTransport({ port: recB.port });
    try {
      await Promise.all([a.noop(), b.noop()]);
      writes = 0;
      // Timers due together run in one timers phase, each callback followed by its own microtasks: a flush at the
      // end of each callback's microtasks would write each socket 5 times.
      const done = await new Promise<Array<Promise<void>>>((resolve) => {
        const issued: Array<Promise<void>> = [];
        for (let i = 0; i < 5; i++) {
          setTimeout(() => {
            issued.push(a.noop(), b.noop());
            if (issued.length === 10) resolve(issued);
          }, 1);
        }
      });
      await Promise.all(done);
      // One write per socket when the five timers run in one phase (2); a loaded machine can split them over two
      // phases (4). A flush per callback would make 10: that is what must never happen.
      expect(writes).toBeGreaterThanOrEqual(2);
      expect(writes).toBeLessThan(10);
    } finally {
      a.destroy();
      b.destroy();
      await Promise.all([recA.close(), recB.close()]);
    }
  });

  it("rejects requests beyond maxQueue at once with QueueFullError", async () => {
    const tr = createSocketTransport({ host: server.host, port: server.port, maxQueue: 100 });
    try {
      const settled = await Promise.allSettled(Array.from({ length: 150 }, () => tr.noop()));
      expect(settled.filter((s) => s.status === "fulfilled")).toHaveLength(100);
      const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected");
      expect(rejected).toHaveLength(50);
      for (const r of rejected) expect(r.reason).toBeInstanceOf(QueueFullError);
      expect(tr.pending).toBe(0);
      await expect(tr.noop()).resolves.toBeUndefined();
    } finally {
      tr.destroy();
    }
  });

  it("spreads requests over several connections", async () => {
    const before = Number((await server.stats()).curr_connections);
    const tr = createSocketTransport({ host: server.host, port: server.port, connections: 3 });
    try {
      const k = key("multi");
      await tr.set(k, bytes("x"), { ttl: 60 });
      const results = await Promise.all(Array.from({ length: 300 }, () => tr.get(k)));
      expect(results.every((r) => r?.value.toString() === "x")).toBe(true);
      const stats = await server.stats();
      expect(Number(stats.curr_connections)).toBeGreaterThanOrEqual(before + 3);
    } finally {
      tr.destroy();
    }
  });
});

describe("abort", () => {
  it("an abort before the flush removes the request: it never reaches the server", async () => {
    const rec = await recordingServer((socket, chunk) => {
      const count = chunk.toString("latin1").split("mn\r\n").length - 1;
      socket.write("MN\r\n".repeat(count));
    });
    const tr = createSocketTransport({ port: rec.port });
    try {
      await tr.noop();
      const ac = new AbortController();
      const aborted = tr.get("never-sent", { signal: ac.signal });
      const kept = tr.noop();
      ac.abort();
      await expect(aborted).rejects.toBeInstanceOf(AbortError);
      await expect(kept).resolves.toBeUndefined();
      expect(rec.received().toString("latin1")).toBe("mn\r\nmn\r\n");
    } finally {
      tr.destroy();
      await rec.close();
    }
  });

  it("an abort after the write rejects at once; its reply is still consumed, in order", async () => {
    // The server answers the first batch only after the abort, so the aborted request is in flight.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const rec = await recordingServer((socket, chunk) => {
      const text = chunk.toString("latin1");
      void gate.then(() => {
        for (const line of text.split("\r\n")) {
          if (line.startsWith("mg first")) socket.write("VA 5 f0\r\nfirst\r\n");
          else if (line.startsWith("mg second")) socket.write("VA 6 f0\r\nsecond\r\n");
        }
      });
    });
    const tr = createSocketTransport({ port: rec.port, timeout: 5000 });
    try {
      const ac = new AbortController();
      const first = tr.get("first", { signal: ac.signal });
      const second = tr.get("second");
      await waitFor(() => rec.received().length > 0);
      const t0 = Date.now();
      ac.abort();
      await expect(first).rejects.toBeInstanceOf(AbortError);
      // Rejected at once, not after its 5 s timeout (a bound on waiting, not a speed claim).
      expect(Date.now() - t0).toBeLessThan(2500);
      release();
      expect((await second)?.value.toString()).toBe("second");
    } finally {
      tr.destroy();
      await rec.close();
    }
  });
});

describe("dump", () => {
  it("streams keys with url-decoded names while other requests keep flowing", async () => {
    const prefix = key("dump");
    const names = [`${prefix}:plain`, `${prefix}:ключ`, `${prefix}:a%b`];
    for (const k of names) await t.set(k, bytes("v"), { ttl: 600 });
    const seen: string[] = [];
    for await (const entry of t.dump()) {
      if (entry.key.startsWith(prefix)) {
        seen.push(entry.key);
        expect(entry.exp).toBeGreaterThan(Date.now() / 1000);
        expect(entry.size).toBeGreaterThan(0);
      }
      // Cache traffic is not blocked by the dump (it runs on its own connection).
      await t.noop();
    }
    expect(seen.sort()).toEqual([...names].sort());
  });

  it("ends early without leaking the dump connection", async () => {
    const prefix = key("dump-early");
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => t.set(`${prefix}:${i}`, bytes("v"), { ttl: 600 })),
    );
    const before = Number((await server.stats()).curr_connections);
    let count = 0;
    for await (const _ of t.dump()) {
      if (++count === 3) break;
    }
    await waitFor(async () => Number((await server.stats()).curr_connections) <= before);
  });

  it("an aborted dump rejects with AbortError", async () => {
    const ac = new AbortController();
    ac.abort();
    const it = t.dump({ signal: ac.signal })[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toBeInstanceOf(AbortError);
  });
});

describe("close and destroy", () => {
  it("close waits for requests in flight; later calls reject with ClientClosedError", async () => {
    const tr = createSocketTransport({ host: server.host, port: server.port });
    const k = key("close");
    const inflight = [tr.set(k, bytes("v"), { ttl: 60 }), tr.get(k), tr.noop()];
    const closed = tr.close();
    await expect(tr.noop()).rejects.toBeInstanceOf(ClientClosedError);
    const results = await Promise.all(inflight);
    expect(results[0]).toBe("stored");
    await closed;
    await expect(tr.get(k)).rejects.toBeInstanceOf(ClientClosedError);
    await expect(tr.dump()[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(ClientClosedError);
  });

  it("destroy rejects everything pending with ClientClosedError (or the McpairError given)", async () => {
    const tr = createSocketTransport({ host: server.host, port: server.port });
    const pending = [tr.noop(), tr.get(key("d"))];
    tr.destroy();
    for (const p of pending) await expect(p).rejects.toBeInstanceOf(ClientClosedError);
    const tr2 = createSocketTransport({ host: server.host, port: server.port });
    const p2 = tr2.noop();
    const cause = new ServerUnavailableError("marked down");
    tr2.destroy(cause);
    await expect(p2).rejects.toBe(cause);
  });
});

describe("other endpoints", () => {
  it("reaches memcached over a Unix socket", async () => {
    const unix = await startMemcached({ unixSocket: true });
    const tr = createSocketTransport({ path: unix.socketPath });
    try {
      expect(tr.address).toBe(unix.socketPath);
      const k = key("unix");
      expect(await tr.set(k, bytes("over unix"), { ttl: 60 })).toBe("stored");
      expect((await tr.get(k))?.value.toString()).toBe("over unix");
      expect((await tr.stats()).pid).toBe(unix.pid);
    } finally {
      tr.destroy();
      await unix.kill();
    }
  });

  it("authenticates first on every connection (memcached -Y)", async () => {
    const auth = { username: "mcpair", password: "s3cret" };
    const secured = await startMemcached({ auth });
    const tr = createSocketTransport({ host: secured.host, port: secured.port, auth, connections: 2 });
    const wrong = createSocketTransport({
      host: secured.host,
      port: secured.port,
      auth: { username: "mcpair", password: "nope" },
      reconnectStrategy: false,
    });
    try {
      const k = key("auth");
      expect(await tr.set(k, bytes("v"), { ttl: 60 })).toBe("stored");
      const all = await Promise.all(Array.from({ length: 20 }, () => tr.get(k)));
      expect(all.every((g) => g?.value.toString() === "v")).toBe(true);
      const error = await wrong.get(k).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServerUnavailableError);
      expect(String((error as Error).message)).toMatch(/authentication|unauthenticated|closed/);
    } finally {
      tr.destroy();
      wrong.destroy();
      await secured.kill();
    }
  });

  it.runIf(memcachedSupportsTls(memcachedBinary()))("speaks TLS (memcached -Z)", async () => {
    const secure = await startMemcached({ tls: true });
    const tr = createSocketTransport({ host: secure.host, port: secure.port, tls: { ca: secure.tlsCa } });
    try {
      const k = key("tls");
      const value = Buffer.alloc(100_000, 7);
      expect(await tr.set(k, value, { ttl: 60 })).toBe("stored");
      expect(Buffer.compare(Buffer.from((await tr.get(k))!.value), value)).toBe(0);
      expect(await tr.version()).toMatch(/^1\.6\./);
      let dumped = false;
      for await (const e of tr.dump()) if (e.key === k) dumped = true;
      expect(dumped).toBe(true);
    } finally {
      tr.destroy();
      await secure.kill();
    }
  });
});

describe("fail fast", () => {
  it("rejects with ServerUnavailableError when nothing listens, and keeps failing fast while retrying", async () => {
    const rog = await startRogueServer(rogue.healthy());
    const port = rog.port;
    await rog.close(); // nothing listens on `port` any more
    const tr = createSocketTransport({ port, reconnectStrategy: 500 });
    try {
      await expect(tr.noop()).rejects.toBeInstanceOf(ServerUnavailableError);
      const t0 = Date.now();
      await expect(tr.get("x")).rejects.toBeInstanceOf(ServerUnavailableError);
      // Failed fast, not after the 500 ms reconnect delay (a bound on waiting, not a speed claim).
      expect(Date.now() - t0).toBeLessThan(450);
    } finally {
      tr.destroy();
    }
  });
});
