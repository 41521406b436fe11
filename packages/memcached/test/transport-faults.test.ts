import {
  ConnectionError,
  McpairError,
  ProtocolError,
  ServerError,
  ServerUnavailableError,
  TimeoutError,
} from "@mcpair/core";
import {
  type MemcachedServer,
  ROGUE_VALUE,
  type RogueResponder,
  rogue,
  startFaultProxy,
  startMemcached,
  startRogueServer,
  useMemcachedCleanup,
  waitFor,
} from "@mcpair/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSocketTransport, type SocketTransport } from "../src/socket-transport.js";

useMemcachedCleanup();

const bytes = (s: string): Buffer => Buffer.from(s);
let n = 0;
const key = (label: string): string => `faults:${Date.now().toString(36)}:${++n}:${label}`;

async function outcome<T>(p: Promise<T>): Promise<{ ok: T } | { error: unknown }> {
  try {
    return { ok: await p };
  } catch (error) {
    return { error };
  }
}

/** Resolves once the transport answers a noop again. */
function recovered(t: SocketTransport, timeout = 5000): Promise<boolean> {
  return waitFor(
    async () => {
      await t.noop();
      return true;
    },
    { timeout, interval: 20, what: "the transport to answer again" },
  );
}

describe("server restarts", () => {
  let server: MemcachedServer;
  beforeAll(async () => {
    server = await startMemcached();
  });
  afterAll(() => server.kill());

  it("fails in-flight requests, fails fast while the server is down, and reconnects when it is back", async () => {
    const t = createSocketTransport({ host: server.host, port: server.port, timeout: 2000 });
    try {
      const k = key("restart");
      await t.set(k, bytes("v"), { ttl: 60 });
      const oldPid = (await t.stats()).pid;

      await server.kill();
      // Whatever the transport was doing, every request settles quickly with a ServerUnavailableError family error.
      const t0 = Date.now();
      const results = await Promise.all(Array.from({ length: 20 }, () => outcome(t.get(k))));
      expect(Date.now() - t0).toBeLessThan(1000);
      for (const r of results) {
        expect("error" in r).toBe(true);
        expect((r as { error: unknown }).error).toBeInstanceOf(ServerUnavailableError);
      }

      await server.start(); // same port, empty cache, new pid
      await recovered(t);
      const stats = await t.stats();
      expect(stats.pid).toBe(server.pid);
      expect(stats.pid).not.toBe(oldPid);
      expect(await t.get(k)).toBeNull();
      expect(await t.set(k, bytes("w"), { ttl: 60 })).toBe("stored");
    } finally {
      t.destroy();
    }
  });

  it("rejects requests in flight with ConnectionError when the connection dies mid-response", async () => {
    const proxy = await startFaultProxy(server);
    const t = createSocketTransport({ port: proxy.port, timeout: 2000 });
    try {
      const k = key("mid");
      await t.set(k, Buffer.alloc(50_000, 3), { ttl: 60 });
      proxy.resetNextResponseAfter(1000); // inside the value
      const results = await Promise.all([outcome(t.get(k)), outcome(t.get(k)), outcome(t.noop())]);
      for (const r of results) expect((r as { error: unknown }).error).toBeInstanceOf(ConnectionError);
      await recovered(t);
      expect((await t.get(k))?.value.length).toBe(50_000);
    } finally {
      t.destroy();
      await proxy.close();
    }
  });
});

describe("timeouts", () => {
  let server: MemcachedServer;
  beforeAll(async () => {
    server = await startMemcached();
  });
  afterAll(() => server.kill());

  it("a paused server (SIGSTOP) times out within ~timeout, and the transport recovers after SIGCONT", async () => {
    const t = createSocketTransport({ host: server.host, port: server.port, timeout: 200 });
    try {
      const k = key("paused");
      await t.set(k, bytes("v"), { ttl: 60 });
      server.pause();
      const t0 = Date.now();
      const [first, ...rest] = await Promise.all([outcome(t.get(k)), outcome(t.get(k)), outcome(t.noop())]);
      const elapsed = Date.now() - t0;
      expect((first as { error: unknown }).error).toBeInstanceOf(TimeoutError);
      for (const r of rest) {
        const error = (r as { error: unknown }).error;
        expect(error instanceof TimeoutError || error instanceof ConnectionError).toBe(true);
      }
      // Not a speed assertion: only that nothing waits on a paused server much beyond its timeout (no hang).
      expect(elapsed).toBeLessThan(5000);

      // Still paused: later requests fail (time out or fail fast), they never hang.
      const again = await outcome(t.get(k));
      expect((again as { error: unknown }).error).toBeInstanceOf(McpairError);

      server.resume();
      await recovered(t);
      expect((await t.get(k))?.value.toString()).toBe("v");
    } finally {
      if (server.paused) server.resume();
      t.destroy();
    }
  });

  it("a write that timed out on a paused server is still applied when it resumes", async () => {
    const t = createSocketTransport({ host: server.host, port: server.port, timeout: 150 });
    const probe = createSocketTransport({ host: server.host, port: server.port });
    try {
      const k = key("late");
      await t.set(k, bytes("before"), { ttl: 60 });
      server.pause();
      const late = await outcome(t.set(k, bytes("late write"), { ttl: 60 }));
      expect((late as { error: unknown }).error).toBeInstanceOf(TimeoutError);
      server.resume();
      await recovered(t);
      // The bytes were in the server's receive buffer: closing the connection (even with a TCP RST, measured) does
      // not take them back. A timeout means "unknown", never "not applied"; this is why the engine records a hint
      // for every failed write and flushes or replays a server that returns as the same process.
      await probe.noop();
      expect((await probe.get(k))?.value.toString()).toBe("late write");
    } finally {
      if (server.paused) server.resume();
      t.destroy();
      probe.destroy();
    }
  });

  it("a per-request timeout overrides the default, without resetting the connection for a slower head", async () => {
    const proxy = await startFaultProxy(server);
    const t = createSocketTransport({ port: proxy.port, timeout: 2000 });
    try {
      const k = key("override");
      await t.set(k, bytes("v"), { ttl: 60 });
      proxy.setLatency(150);
      const [slow, quick] = await Promise.all([outcome(t.get(k)), outcome(t.get(k, { timeout: 40 }))]);
      expect((quick as { error: unknown }).error).toBeInstanceOf(TimeoutError);
      expect((slow as { ok: unknown }).ok).not.toBeNull();
      proxy.setLatency(0);
      expect((await t.get(k))?.value.toString()).toBe("v");
    } finally {
      t.destroy();
      await proxy.close();
    }
  });

  it("a blackholed connection times out and the transport reconnects once traffic flows again", async () => {
    const proxy = await startFaultProxy(server);
    const t = createSocketTransport({ port: proxy.port, timeout: 150 });
    try {
      await t.noop();
      proxy.setBlackhole(true);
      const r = await outcome(t.noop());
      expect((r as { error: unknown }).error).toBeInstanceOf(TimeoutError);
      proxy.setBlackhole(false);
      proxy.dropAll();
      await recovered(t);
    } finally {
      t.destroy();
      await proxy.close();
    }
  });

  it("values delivered one byte at a time are reassembled", async () => {
    const proxy = await startFaultProxy(server);
    const t = createSocketTransport({ port: proxy.port, timeout: 5000 });
    try {
      const keys = [key("b1"), key("b2"), key("b3")];
      const values = [bytes("a\r\nVA 1\r\nb"), Buffer.alloc(700, 0x0d), bytes("")];
      await Promise.all(keys.map((k, i) => t.set(k, values[i]!, { ttl: 60, flags: i })));
      proxy.setByteByByte(true);
      const got = await Promise.all(keys.map((k) => t.get(k, { cas: true, ttl: true })));
      got.forEach((g, i) => {
        expect(Buffer.compare(Buffer.from(g!.value), values[i]!)).toBe(0);
        expect(g?.flags).toBe(i);
      });
    } finally {
      t.destroy();
      await proxy.close();
    }
  });

  it("a TLS handshake that never completes hits connectTimeout", async () => {
    const silent = await startRogueServer(rogue.neverAnswer());
    const t = createSocketTransport({
      port: silent.port,
      tls: true,
      connectTimeout: 150,
      reconnectStrategy: false,
    });
    try {
      const t0 = Date.now();
      const r = await outcome(t.noop({ timeout: 5000 }));
      expect((r as { error: unknown }).error).toBeInstanceOf(ServerUnavailableError);
      expect(String((r as { error: Error }).error.message)).toMatch(/timed out/);
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      t.destroy();
      await silent.close();
    }
  });

  it("a request waiting on a slow connect honours its own, shorter timeout (and is never sent)", async () => {
    const silent = await startRogueServer(rogue.neverAnswer());
    const t = createSocketTransport({ port: silent.port, tls: true, connectTimeout: 2000 });
    try {
      const t0 = Date.now();
      const r = await outcome(t.get("k", { timeout: 100 }));
      expect((r as { error: unknown }).error).toBeInstanceOf(TimeoutError);
      // Its own 100 ms, not the 2 s connect timeout (a bound on waiting, not a speed claim).
      expect(Date.now() - t0).toBeLessThan(1900);
      expect(t.pending).toBe(0);
    } finally {
      t.destroy();
      await silent.close();
    }
  });
});

describe("misbehaving servers", () => {
  /** A rogue server that misbehaves with `fault` until `heal()` is called, then answers plausibly. */
  async function faulty(fault: RogueResponder) {
    let healed = false;
    const healthy = rogue.healthy();
    const server = await startRogueServer((line) => (healed ? healthy(line) : fault(line)));
    return {
      server,
      heal: () => {
        healed = true;
      },
    };
  }

  it.each([
    ["a line that is no memcached response", rogue.malformedLine()],
    ["binary garbage", rogue.garbage()],
    ["a response code of the wrong kind", rogue.wrongCode()],
    ["a 1 TiB value length", rogue.oversizedLength()],
  ])("%s → ProtocolError, everything in flight fails, the connection is replaced", async (_, fault) => {
    const { server, heal } = await faulty(fault);
    const t = createSocketTransport({ port: server.port, timeout: 1000 });
    try {
      const t0 = Date.now();
      const [first, second] = await Promise.all([outcome(t.get("k")), outcome(t.get("k2"))]);
      // Failed on the bad bytes, not after the 1 s timeout (a bound on waiting, not a speed claim).
      expect(Date.now() - t0).toBeLessThan(950);
      expect((first as { error: unknown }).error).toBeInstanceOf(ProtocolError);
      const e2 = (second as { error: unknown }).error;
      expect(e2 instanceof ConnectionError || e2 instanceof ProtocolError).toBe(true);
      heal();
      await recovered(t);
      expect((await t.get("k"))?.value.toString()).toBe(ROGUE_VALUE);
    } finally {
      t.destroy();
      await server.close();
    }
  });

  it("SERVER_ERROR → ServerError for that request only; the connection survives", async () => {
    const server = await startRogueServer((line) =>
      line.startsWith("mg boom") ? "SERVER_ERROR out of memory\r\n" : rogue.healthy()(line),
    );
    const t = createSocketTransport({ port: server.port });
    try {
      const [a, b, c] = await Promise.all([
        outcome(t.get("ok1")),
        outcome(t.get("boom")),
        outcome(t.get("ok2")),
      ]);
      expect((b as { error: unknown }).error).toBeInstanceOf(ServerError);
      expect((a as { ok: { value: Uint8Array } }).ok.value.toString()).toBe(ROGUE_VALUE);
      expect((c as { ok: { value: Uint8Array } }).ok.value.toString()).toBe(ROGUE_VALUE);
      expect(server.connections).toBe(1);
    } finally {
      t.destroy();
      await server.close();
    }
  });

  it("a CLIENT_ERROR to a store resets the connection (the server may have misread the data block)", async () => {
    const server = await startRogueServer((line) =>
      line.startsWith("ms ") ? "CLIENT_ERROR bad data chunk\r\nERROR\r\n" : rogue.healthy()(line),
    );
    const t = createSocketTransport({ port: server.port });
    try {
      const [set, get] = await Promise.all([
        outcome(t.set("k", bytes("v"), { ttl: 10 })),
        outcome(t.get("k")),
      ]);
      expect((set as { error: unknown }).error).toBeInstanceOf(ServerError);
      expect((get as { error: unknown }).error).toBeInstanceOf(ConnectionError);
      await recovered(t);
    } finally {
      t.destroy();
      await server.close();
    }
  });

  it("a truncated value times out instead of hanging", async () => {
    const server = await startRogueServer(rogue.truncatedValue());
    const t = createSocketTransport({ port: server.port, timeout: 150 });
    try {
      const r = await outcome(t.get("k"));
      expect((r as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    } finally {
      t.destroy();
      await server.close();
    }
  });

  it("a server closing mid-response → ConnectionError; a reset → ConnectionError; no crash", async () => {
    for (const fault of [rogue.closeMidResponse(), (() => ({ kind: "reset" })) as RogueResponder]) {
      const server = await startRogueServer(fault);
      const t = createSocketTransport({ port: server.port, timeout: 1000 });
      try {
        const results = await Promise.all([outcome(t.get("k")), outcome(t.noop())]);
        for (const r of results)
          expect((r as { error: unknown }).error).toBeInstanceOf(ServerUnavailableError);
      } finally {
        t.destroy();
        await server.close();
      }
    }
  });

  it("the reconnect strategy sees each failed attempt; an Error it returns becomes the requests' cause", async () => {
    const memcached = await startMemcached();
    const proxy = await startFaultProxy(memcached);
    proxy.refuse(true); // accept, then close at once: every attempt fails without an answer
    const calls: Array<[number, string]> = [];
    const gaveUp = new Error("giving up");
    const t = createSocketTransport({
      port: proxy.port,
      reconnectStrategy: (retries, cause) => {
        calls.push([retries, cause.message]);
        return retries >= 2 ? gaveUp : 10;
      },
    });
    try {
      await waitFor(() => calls.length >= 3 || undefined, { what: "three reconnect decisions" });
      expect(calls.map((c) => c[0])).toEqual([0, 1, 2]);
      // Retrying stopped; a request starts a new attempt, counted from 0 again.
      const r = await outcome(t.noop());
      expect((r as { error: unknown }).error).toBeInstanceOf(ServerUnavailableError);
      expect(calls[3]?.[0]).toBe(0);

      const quitter = createSocketTransport({ port: proxy.port, reconnectStrategy: () => gaveUp });
      const q = await outcome(quitter.noop());
      expect((q as { error: Error }).error).toBeInstanceOf(ServerUnavailableError);
      expect((q as { error: Error }).error.cause).toBe(gaveUp);
      quitter.destroy();

      proxy.refuse(false);
      await recovered(t);
    } finally {
      t.destroy();
      await proxy.close();
      await memcached.kill();
    }
  });
});
