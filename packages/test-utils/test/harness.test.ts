import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  authRequest,
  cleanupAll,
  connectRaw,
  createTestCertificate,
  freePort,
  HarnessError,
  type MemcachedServer,
  memcachedBinary,
  OVERSIZED_LENGTH,
  ROGUE_VERSION,
  rogue,
  startFaultProxy,
  startMemcached,
  startRogueServer,
  useMemcachedCleanup,
  waitFor,
} from "../src/index.js";

useMemcachedCleanup();

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * True while `pid` names a live process. A zombie counts as dead: an orphan killed after its parent died waits for
 * init to reap it, which some container inits do lazily.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return !existsSync("/proc/self"); // no /proc: trust kill(pid, 0)
  }
}

/** The error a fresh TCP connection to `port` fails with, or "connected". */
async function connectOutcome(port: number): Promise<string> {
  try {
    const client = await connectRaw({ port });
    await client.close();
    return "connected";
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

describe("memcachedBinary, freePort, waitFor", () => {
  it("finds the memcached binary", () => {
    const bin = memcachedBinary();
    expect(existsSync(bin)).toBe(true);
  });

  it("fails (never skips) with install instructions when MEMCACHED_BIN points at nothing", async () => {
    vi.stubEnv("MEMCACHED_BIN", "/nonexistent/memcached");
    try {
      expect(() => memcachedBinary()).toThrow(/MEMCACHED_BIN.*apt-get install memcached/s);
      const err = await startMemcached().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HarnessError);
      expect((err as HarnessError).code).toBe("ERR_MCPAIR_TEST_MEMCACHED_NOT_FOUND");
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("freePort returns a port that can be bound on 127.0.0.1", async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });

  it("waitFor resolves with the first truthy value and times out naming what it waited for", async () => {
    let calls = 0;
    await expect(
      waitFor(() => (++calls >= 3 ? `done after ${calls}` : undefined), { interval: 1 }),
    ).resolves.toBe("done after 3");
    await expect(waitFor(() => false, { timeout: 50, what: "pigs to fly" })).rejects.toThrow(
      /timed out after 50 ms waiting for pigs to fly/,
    );
    await expect(
      waitFor(
        () => {
          throw new Error("boom");
        },
        { timeout: 30 },
      ),
    ).rejects.toThrow(/last check threw: Error: boom/);
  });
});

describe("startMemcached", () => {
  it("starts a server that answers version, with the spawned pid", async () => {
    const server = await startMemcached();
    expect(server.address).toBe(`127.0.0.1:${server.port}`);
    expect(server.running).toBe(true);
    expect(server.paused).toBe(false);
    const client = await connectRaw(server);
    expect(await client.request("version\r\n")).toMatch(/^VERSION 1\.6\.\d+\r\n$/);
    expect(await client.request("ms k 2 T60\r\nhi\r\n")).toBe("HD\r\n");
    expect(await client.request("mg k v\r\n", "hi\r\n")).toBe("VA 2\r\nhi\r\n");
    await client.close();
    expect((await server.stats()).pid).toBe(String(server.pid));
  });

  it("passes memoryMb, maxItemSize, threads and extra args to memcached", async () => {
    const server = await startMemcached({ memoryMb: 32, maxItemSize: "2m", threads: 2, args: ["-c", "77"] });
    const settings = await server.stats("settings");
    expect(settings.maxbytes).toBe(String(32 * 1024 * 1024));
    expect(settings.item_size_max).toBe(String(2 * 1024 * 1024));
    expect(settings.num_threads).toBe("2");
    expect(settings.maxconns).toBe("77");
    expect(settings.udpport).toBe("0");
  });

  it("rejects bad options, naming the option", async () => {
    await expect(startMemcached({ threads: 0 })).rejects.toThrow(/`threads` must be an integer from 1 to 64/);
    await expect(startMemcached({ maxItemSize: "lots" })).rejects.toThrow(/`maxItemSize`/);
    await expect(startMemcached({ tls: true, unixSocket: true })).rejects.toThrow(/`tls` cannot be combined/);
  });

  it("surfaces memcached's stderr when it exits instead of starting", async () => {
    const err = await startMemcached({ memoryMb: 8, maxItemSize: "8m" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HarnessError);
    expect((err as HarnessError).code).toBe("ERR_MCPAIR_TEST_START_FAILED");
    expect((err as Error).message).toMatch(/exited \(exit code \d+\).*stderr: .*item size/is);
  });

  it("pause: no answer within 300 ms; resume: the pending request is answered", async () => {
    const server = await startMemcached();
    const client = await connectRaw(server);
    server.pause();
    expect(server.paused).toBe(true);
    expect(server.running).toBe(true);
    client.clear();
    client.send("version\r\n");
    await client.expectSilence(300);
    // New connections are still accepted by the kernel, but get no answer either.
    const late = await connectRaw(server);
    late.send("version\r\n");
    await late.expectSilence(50);
    server.resume();
    expect(server.paused).toBe(false);
    expect(await client.readUntil("\r\n")).toMatch(/^VERSION /);
    expect(await late.readUntil("\r\n")).toMatch(/^VERSION /);
    await Promise.all([client.close(), late.close()]);
  });

  it("kill: the process is gone, connections are refused, and start() brings it back on the same port", async () => {
    const server = await startMemcached();
    const { port, pid } = server;
    const client = await connectRaw(server);
    await server.kill();
    expect(server.running).toBe(false);
    expect(isAlive(pid)).toBe(false);
    await client.closed;
    expect(await connectOutcome(port)).toBe("ECONNREFUSED");
    await server.kill(); // no-op when not running
    await server.start();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(pid);
    expect(await connectOutcome(port)).toBe("connected");
    await expect(server.start()).rejects.toThrow(/already running/);
  });

  it("kill works on a paused process", async () => {
    const server = await startMemcached();
    server.pause();
    await server.kill();
    expect(isAlive(server.pid)).toBe(false);
    expect(server.paused).toBe(false);
  });

  it("stop: graceful SIGTERM, also when paused", async () => {
    // memcached takes about a second to act on SIGTERM (its clock tick), so both run side by side.
    const [running, paused] = await Promise.all([startMemcached(), startMemcached()]);
    paused.pause();
    await Promise.all([running.stop(), paused.stop()]);
    for (const server of [running, paused]) {
      expect(server.running).toBe(false);
      expect(isAlive(server.pid)).toBe(false);
    }
  });

  it("restart: a new process on the same port with an empty cache", async () => {
    const server = await startMemcached();
    const { port, pid } = server;
    const client = await connectRaw(server);
    expect(await client.request("ms survivor 1 T0\r\nx\r\n")).toBe("HD\r\n");
    await client.close();
    await server.restart();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(pid);
    expect(isAlive(pid)).toBe(false);
    const stats = await server.stats();
    expect(stats.pid).toBe(String(server.pid));
    expect(stats.curr_items).toBe("0");
    const again = await connectRaw(server);
    expect(await again.request("mg survivor v\r\n")).toBe("EN\r\n");
    await again.close();
  });

  it("unixSocket: listens on a socket path, kept across restarts", async () => {
    const server = await startMemcached({ unixSocket: true });
    expect(server.port).toBe(0);
    expect(server.socketPath).toMatch(/memcached\.sock$/);
    expect(server.address).toBe(server.socketPath);
    const client = await connectRaw(server);
    expect(await client.request("version\r\n")).toMatch(/^VERSION /);
    await client.close();
    const path = server.socketPath;
    await server.restart();
    expect(server.socketPath).toBe(path);
    expect((await server.stats()).pid).toBe(String(server.pid));
  });
});

describe("TLS", () => {
  function tlsVersion(server: MemcachedServer, ca: string): Promise<{ authorized: boolean; answer: string }> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: server.host, port: server.port, ca }, () => {
        socket.write("version\r\n");
      });
      let answer = "";
      socket.on("data", (chunk: Buffer) => {
        answer += chunk.toString();
        if (answer.endsWith("\r\n")) {
          resolve({ authorized: socket.authorized, answer });
          socket.destroy();
        }
      });
      socket.on("error", reject);
    });
  }

  it("serves TLS with a self-signed certificate trusted through tlsCa", async () => {
    const server = await startMemcached({ tls: true });
    expect(server.tlsCa).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const result = await tlsVersion(server, server.tlsCa ?? "");
    expect(result.authorized).toBe(true);
    expect(result.answer).toMatch(/^VERSION /);
    // A plaintext request on the TLS port gets no memcached answer.
    const plain = await connectRaw({ port: server.port });
    plain.send("version\r\n");
    await plain.closed;
    expect(plain.received).not.toMatch(/VERSION/);
  });

  it("the node:crypto certificate (fallback when openssl is missing) is accepted by memcached and by Node", async () => {
    const cert = await createTestCertificate("node:crypto");
    expect(cert.generatedBy).toBe("node:crypto");
    const x509 = new X509Certificate(cert.certPem);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.checkIP("127.0.0.1")).toBe("127.0.0.1");
    const server = await startMemcached({ tls: cert });
    const result = await tlsVersion(server, cert.certPem);
    expect(result).toEqual({ authorized: true, answer: expect.stringMatching(/^VERSION /) });
  });
});

describe("ASCII auth", () => {
  const auth = { username: "alice", password: "s3cret" };

  it("refuses unauthenticated requests and accepts the set-based handshake", async () => {
    const server = await startMemcached({ auth });
    const anonymous = await connectRaw(server, { authenticate: false });
    expect(await anonymous.request("version\r\n")).toBe("CLIENT_ERROR unauthenticated\r\n");
    expect(await anonymous.request("get foo\r\n")).toBe("CLIENT_ERROR unauthenticated\r\n");
    expect(await anonymous.request("mg foo v\r\n")).toBe("CLIENT_ERROR unauthenticated\r\n");
    await anonymous.close();

    const wrong = await connectRaw(server, { authenticate: false });
    expect(await wrong.request("set x 0 0 11\r\nalice wrong\r\n")).toBe(
      "CLIENT_ERROR authentication failure\r\n",
    );
    await wrong.close();

    expect(authRequest(auth)).toBe("set mcpair-auth 0 0 12\r\nalice s3cret\r\n");
    const client = await connectRaw(server, { authenticate: false });
    expect(await client.request("set mcpair-auth 0 0 12\r\nalice s3cret\r\n")).toBe("STORED\r\n");
    expect(await client.request("version\r\n")).toMatch(/^VERSION /);
    expect(await client.request("ms k 2\r\nok\r\n")).toBe("HD\r\n");
    expect(await client.request("get k\r\n", "END\r\n")).toBe("VALUE k 0 2\r\nok\r\nEND\r\n");
    await client.close();
  });
});

describe("fault proxy", () => {
  let target: MemcachedServer;
  beforeAll(async () => {
    target = await startMemcached();
  });

  it("forwards both ways", async () => {
    const proxy = await startFaultProxy(target);
    expect(proxy.address).toBe(`127.0.0.1:${proxy.port}`);
    const client = await connectRaw(proxy);
    expect(await client.request("version\r\n")).toMatch(/^VERSION /);
    await client.close();
    await proxy.close();
  });

  it("setLatency delays the answer by at least the latency", async () => {
    const proxy = await startFaultProxy(target);
    const client = await connectRaw(proxy);
    proxy.setLatency(100);
    const started = performance.now();
    expect(await client.request("version\r\n")).toMatch(/^VERSION /);
    // 100 ms each way; timers may fire a millisecond early
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
    await proxy.close();
  });

  it("setBlackhole swallows requests, keeps the connection open, and forwarding resumes when off", async () => {
    const proxy = await startFaultProxy(target);
    const client = await connectRaw(proxy);
    proxy.setBlackhole(true);
    client.send("version\r\n");
    await client.expectSilence(300);
    const fresh = await connectRaw(proxy);
    fresh.send("version\r\n");
    await fresh.expectSilence(50);
    proxy.setBlackhole(false);
    expect(await client.request("mn\r\n")).toBe("MN\r\n"); // the swallowed version is gone for good
    await proxy.close();
  });

  it("resetNextResponseAfter forwards that many bytes, then resets; it fires once", async () => {
    const proxy = await startFaultProxy(target);
    const client = await connectRaw(proxy);
    proxy.resetNextResponseAfter(3);
    client.send("version\r\n");
    await client.closed;
    expect(client.received).toBe("VER");
    expect(client.error?.code).toBe("ECONNRESET");
    await waitFor(() => proxy.connections === 0, { what: "the reset connection to be forgotten" });
    const next = await connectRaw(proxy);
    expect(await next.request("version\r\n")).toMatch(/^VERSION /);
    await proxy.close();
  });

  it("setByteByByte delivers the answer one byte per chunk", async () => {
    const proxy = await startFaultProxy(target);
    const client = await connectRaw(proxy);
    proxy.setByteByByte(true);
    const answer = await client.request("version\r\n");
    expect(answer).toMatch(/^VERSION .*\r\n$/);
    // The proxy writes single bytes with a setImmediate in between; the receiving socket may still coalesce a few.
    expect(client.chunks.length).toBeGreaterThan(answer.length / 2);
    await proxy.close();
  });

  it("refuse closes new connections at once; existing ones keep working", async () => {
    const proxy = await startFaultProxy(target);
    const existing = await connectRaw(proxy);
    proxy.refuse(true);
    const refused = await connectRaw(proxy);
    refused.send("version\r\n");
    await refused.closed;
    expect(refused.received).toBe("");
    expect(await existing.request("version\r\n")).toMatch(/^VERSION /);
    proxy.refuse(false);
    const accepted = await connectRaw(proxy);
    expect(await accepted.request("version\r\n")).toMatch(/^VERSION /);
    await proxy.close();
  });

  it("dropAll destroys current connections; close stops listening", async () => {
    const proxy = await startFaultProxy(target);
    const client = await connectRaw(proxy);
    expect(await client.request("version\r\n")).toMatch(/^VERSION /);
    proxy.dropAll();
    await client.closed;
    expect(proxy.connections).toBe(0);
    const next = await connectRaw(proxy);
    expect(await next.request("version\r\n")).toMatch(/^VERSION /);
    await proxy.close();
    await next.closed;
    expect(await connectOutcome(proxy.port)).toBe("ECONNREFUSED");
  });
});

describe("rogue server", () => {
  async function ask(respond: Parameters<typeof startRogueServer>[0], request: string) {
    const server = await startRogueServer(respond);
    const client = await connectRaw(server);
    client.send(request);
    return { server, client };
  }

  it("reads lines and ms/set payloads by length, answering pipelined requests in order", async () => {
    const server = await startRogueServer(rogue.healthy());
    const client = await connectRaw(server);
    // payload split across writes, and containing a line break
    client.send("ms foo 7 T0\r\nhel");
    client.send("\r\nlo\r\nset bar 0 0 2\r\nhi\r\nmg foo v O9 k\r\nmn\r\n");
    expect(await client.readUntil("MN\r\n")).toBe("HD\r\nSTORED\r\nVA 5 O9 kfoo\r\nhello\r\nMN\r\n");
    expect(server.received).toEqual(["ms foo 7 T0", "set bar 0 0 2", "mg foo v O9 k", "mn"]);
    await server.close();
  });

  it("malformedLine answers a line with no valid code, but version normally", async () => {
    const { client } = await ask(rogue.malformedLine(), "version\r\nmg foo v\r\n");
    expect(await client.readUntil("response\r\n")).toBe(
      `${ROGUE_VERSION}XYZ this is not a memcached response\r\n`,
    );
  });

  it("truncatedValue declares 10 bytes, sends 5, and stays open", async () => {
    const { client } = await ask(rogue.truncatedValue(), "mg foo v\r\n");
    expect(await client.readUntil("hello")).toBe("VA 10\r\nhello");
    await client.expectSilence(100);
  });

  it("oversizedLength declares a 1 TiB value", async () => {
    const { client } = await ask(rogue.oversizedLength(), "mg foo v\r\nget foo\r\n");
    expect(await client.readUntil(/xxxxxxxx.*xxxxxxxx/s)).toBe(
      `VA ${OVERSIZED_LENGTH}\r\nxxxxxxxxVALUE foo 0 ${OVERSIZED_LENGTH}\r\nxxxxxxxx`,
    );
  });

  it("garbage answers binary junk", async () => {
    const { client } = await ask(rogue.garbage(), "mg foo v\r\n");
    await client.readUntil("\n");
    expect([...client.receivedBuffer]).toEqual([
      0x00, 0xff, 0xfe, 0x13, 0x37, 0x80, 0xc3, 0x28, 0x1b, 0x0d, 0x0a,
    ]);
  });

  it("closeMidResponse writes half an answer, then closes (FIN)", async () => {
    const { client } = await ask(rogue.closeMidResponse(), "mg foo v\r\n");
    await client.closed;
    expect(client.received).toBe("VA 5\r\n");
    expect(client.error).toBeUndefined();
  });

  it("neverAnswer answers nothing, not even version, and keeps the connection open", async () => {
    const { server, client } = await ask(rogue.neverAnswer(), "version\r\nmg foo v\r\n");
    await client.expectSilence(300);
    expect(server.received).toEqual(["version", "mg foo v"]);
  });

  it("serverError answers SERVER_ERROR", async () => {
    const { client } = await ask(rogue.serverError(), "ms foo 1\r\nx\r\n");
    expect(await client.readUntil("\r\n")).toBe("SERVER_ERROR out of memory storing object\r\n");
  });

  it("wrongCode answers a value where HD is expected and NS to mg", async () => {
    const { client } = await ask(rogue.wrongCode(), "ms foo 1\r\nx\r\nmg foo v\r\n");
    expect(await client.readUntil("NS\r\n")).toBe("VA 2\r\nhi\r\nNS\r\n");
  });

  it("actions: write, silent, close, reset, writeThenClose; a throwing responder destroys the connection", async () => {
    const server = await startRogueServer((line) => {
      switch (line) {
        case "write":
          return { kind: "write", data: "W\r\n" };
        case "silent":
          return { kind: "silent" };
        case "close":
          return { kind: "close" };
        case "reset":
          return { kind: "reset" };
        case "bye":
          return { kind: "writeThenClose", data: "BYE\r\n" };
        default:
          throw new Error("unexpected");
      }
    });
    const a = await connectRaw(server);
    a.send("silent\r\nwrite\r\n");
    expect(await a.readUntil("\r\n")).toBe("W\r\n");
    a.send("close\r\nwrite\r\n");
    await a.closed;
    expect(a.received).toBe("W\r\n");
    expect(a.error).toBeUndefined();

    const b = await connectRaw(server);
    b.send("reset\r\n");
    await b.closed;
    expect(b.error?.code).toBe("ECONNRESET");

    const c = await connectRaw(server);
    c.send("bye\r\nwrite\r\n");
    await c.closed;
    expect(c.received).toBe("BYE\r\n");

    const d = await connectRaw(server);
    d.send("???\r\n");
    await d.closed;
    expect(d.received).toBe("");
    expect(server.received).toEqual(["silent", "write", "close", "reset", "bye", "???"]);
  });
});

describe("cleanupAll", () => {
  it("kills every memcached (paused ones too) and closes proxies and rogue servers", async () => {
    await cleanupAll(); // start from nothing
    const plain = await startMemcached();
    const paused = await startMemcached({ unixSocket: true });
    paused.pause();
    const proxy = await startFaultProxy(plain);
    const rogueServer = await startRogueServer(rogue.healthy());
    const pids = [plain.pid, paused.pid];
    expect(pids.every(isAlive)).toBe(true);

    await cleanupAll();
    expect(pids.filter(isAlive)).toEqual([]);
    expect(plain.running || paused.running).toBe(false);
    expect(existsSync(paused.socketPath ?? "")).toBe(false);
    expect(await connectOutcome(proxy.port)).toBe("ECONNREFUSED");
    expect(await connectOutcome(rogueServer.port)).toBe("ECONNREFUSED");

    // A server survives cleanupAll as an object: start() brings it back (and registers it again).
    await paused.start();
    expect((await paused.stats()).pid).toBe(String(paused.pid));
    await cleanupAll();
    expect(isAlive(paused.pid)).toBe(false);
  });
});

describe("no memcached outlives its test process", () => {
  const require = createRequire(import.meta.url);
  const vitestCli = join(dirname(require.resolve("vitest/package.json")), "vitest.mjs");
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "mcpair-leak-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** Runs test/fixtures/leak.fixture.ts in a nested vitest; it starts two servers (one paused) and never cleans up. */
  function runFixture(mode: "leave" | "sigkill"): Promise<{ pids: number[]; scratch: string }> {
    const pidFile = join(scratch, `${mode}.json`);
    const env: NodeJS.ProcessEnv = { ...process.env, MCPAIR_LEAK_MODE: mode, MCPAIR_LEAK_PIDFILE: pidFile };
    for (const key of Object.keys(env)) if (key.startsWith("VITEST")) delete env[key];
    const child = spawn(
      process.execPath,
      [vitestCli, "run", "--config", "test/fixtures/vitest.fixture.config.ts", "--reporter", "dot"],
      { cwd: packageDir, env, stdio: "ignore" },
    );
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", () => {
        try {
          resolve(JSON.parse(readFileSync(pidFile, "utf8")) as { pids: number[]; scratch: string });
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  it("when the worker is torn down (SIGTERM) or dies by SIGKILL", async () => {
    const [left, killed] = await Promise.all([runFixture("leave"), runFixture("sigkill")]);
    expect(left.pids).toHaveLength(2);
    expect(killed.pids).toHaveLength(2);
    // SIGTERM path (watchdog killed by the fixture): the signal handler sent SIGKILL before the worker exited.
    await waitFor(() => left.pids.every((pid) => !isAlive(pid)), {
      timeout: 1000,
      what: "the SIGTERM handler's kills",
    });
    expect(existsSync(left.scratch)).toBe(false);
    // SIGKILL path: only the watchdog can act, once it sees its pipe close.
    await waitFor(() => killed.pids.every((pid) => !isAlive(pid)) && !existsSync(killed.scratch), {
      timeout: 3000,
      what: "the watchdog to kill them and remove the scratch directory",
    });
  });
});
