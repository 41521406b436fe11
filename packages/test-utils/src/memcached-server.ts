import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { memcachedBinary, memcachedRunAsUser, memcachedSupportsTls, type RunAsUser } from "./binary.js";
import { freePort } from "./free-port.js";
import { HarnessError } from "./harness-error.js";
import { authRequest, connectRaw, describeTarget } from "./raw-client.js";
import { processTempDir, type Tracked, track, untrack, unwatchPid, watchPid } from "./registry.js";
import { type TestCertificate, testCertificate } from "./tls-cert.js";

/** How to run a memcached for a test. */
export interface MemcachedOptions {
  /** Memory limit in megabytes (`-m`). @default 64 */
  memoryMb?: number;
  /** Largest item (`-I`), e.g. `"2m"`, `"512k"`. memcached requires it to be at most half of `memoryMb`. @default memcached's 1m */
  maxItemSize?: string;
  /** Worker threads (`-t`). @default 1 */
  threads?: number;
  /**
   * Serve TLS only (`-Z`), with a self-signed certificate for 127.0.0.1 generated once per process (or the given
   * one, e.g. from `createTestCertificate()`); its PEM is `server.tlsCa`. @default false
   */
  tls?: boolean | TestCertificate;
  /**
   * Require ASCII-protocol authentication (`-Y <file>` holding `username:password`). Clients authenticate with
   * `set <any key> 0 0 <len>\r\n<username> <password>\r\n` as their first command. @default undefined (no auth)
   */
  auth?: { username: string; password: string };
  /**
   * Listen on a Unix socket (`-s`) in a private temporary directory instead of TCP; `port` is then 0. Not with `tls`
   * (memcached serves Unix sockets in plaintext). @default false
   */
  unixSocket?: boolean;
  /** Extra command-line arguments, appended last. @default [] */
  args?: string[];
  /** Milliseconds allowed for the process to answer `version` after each spawn. @default 10000 */
  startTimeout?: number;
}

/** A real memcached process owned by the test. */
export interface MemcachedServer {
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** The TCP port, kept across restarts; 0 with `unixSocket`. */
  readonly port: number;
  /** `127.0.0.1:<port>`, or the socket path with `unixSocket`. */
  readonly address: string;
  /** The Unix socket path with `unixSocket`, kept across restarts. */
  readonly socketPath: string | undefined;
  /** The PEM to trust (`tls.connect({ ca })`) with `tls`. */
  readonly tlsCa: string | undefined;
  /** The credentials with `auth`. */
  readonly auth: { username: string; password: string } | undefined;
  /** The pid of the current (or last) process. */
  readonly pid: number;
  /** The process is alive (possibly paused). */
  readonly running: boolean;
  /** The process is stopped by SIGSTOP. */
  readonly paused: boolean;
  /** SIGKILL; resolves once the process has exited. A no-op when it is not running. */
  kill(): Promise<void>;
  /** SIGTERM (graceful); resolves once the process has exited (SIGKILL after 5 s). A no-op when not running. */
  stop(): Promise<void>;
  /** SIGSTOP: the process keeps its data and its listening socket, but answers nothing (connections still open). */
  pause(): void;
  /** SIGCONT: answers again, including requests sent while paused. */
  resume(): void;
  /** Starts a new process (empty cache) on the same port or socket; resolves when it answers `version`. */
  start(): Promise<void>;
  /** {@link kill} then {@link start}. */
  restart(): Promise<void>;
  /** `stats` (or `stats <group>`) as a record, over a fresh connection. */
  stats(group?: string): Promise<Record<string, string>>;
}

interface ResolvedOptions {
  memoryMb: number;
  maxItemSize: string | undefined;
  threads: number;
  tls: boolean | TestCertificate;
  auth: { username: string; password: string } | undefined;
  unixSocket: boolean;
  args: string[];
  startTimeout: number;
}

const MAX_BIND_ATTEMPTS = 5;
const STDERR_TAIL = 4096;

function invalid(option: string, message: string): HarnessError {
  return new HarnessError(`startMemcached: option \`${option}\` ${message}`, {
    code: "ERR_MCPAIR_TEST_INVALID_OPTION",
  });
}

function resolveOptions(options: MemcachedOptions): ResolvedOptions {
  const memoryMb = options.memoryMb ?? 64;
  if (!Number.isInteger(memoryMb) || memoryMb < 1)
    throw invalid("memoryMb", `must be a positive integer, got ${memoryMb}`);
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64)
    throw invalid("threads", `must be an integer from 1 to 64, got ${threads}`);
  if (options.maxItemSize !== undefined && !/^\d+[kKmM]?$/.test(options.maxItemSize))
    throw invalid(
      "maxItemSize",
      `must be a size like "512k" or "2m", got ${JSON.stringify(options.maxItemSize)}`,
    );
  if (options.auth !== undefined) {
    const { username, password } = options.auth;
    if (!/^[^\s:]+$/.test(username))
      throw invalid("auth.username", "must be non-empty, without whitespace or ':'");
    if (!/^\S+$/.test(password)) throw invalid("auth.password", "must be non-empty, without whitespace");
  }
  // memcached 1.6 serves its Unix socket in plaintext even with -Z: refuse rather than hand out a false tlsCa.
  if (options.tls && options.unixSocket)
    throw invalid("tls", "cannot be combined with `unixSocket`: memcached serves TLS on TCP listeners only");
  const startTimeout = options.startTimeout ?? 10_000;
  if (!(startTimeout > 0))
    throw invalid("startTimeout", `must be a positive number of milliseconds, got ${startTimeout}`);
  return {
    memoryMb,
    maxItemSize: options.maxItemSize,
    threads,
    tls: options.tls ?? false,
    auth: options.auth === undefined ? undefined : { ...options.auth },
    unixSocket: options.unixSocket ?? false,
    args: [...(options.args ?? [])],
    startTimeout,
  };
}

/**
 * Starts a memcached on a free port of 127.0.0.1 (or a Unix socket) and resolves once it answers `version`.
 * It is registered for {@link cleanupAll} and killed when the test process exits, however it exits.
 *
 * @throws {HarnessError} when memcached is missing (`ERR_MCPAIR_TEST_MEMCACHED_NOT_FOUND`), lacks TLS support, or
 * does not start (`ERR_MCPAIR_TEST_START_FAILED`, with its stderr).
 */
export async function startMemcached(options: MemcachedOptions = {}): Promise<MemcachedServer> {
  const config = resolveOptions(options);
  const bin = memcachedBinary();
  if (config.tls !== false && !memcachedSupportsTls(bin))
    throw new HarnessError(
      `${bin} was built without TLS support (no -Z in \`memcached -h\`); tls: true needs it`,
      {
        code: "ERR_MCPAIR_TEST_NO_TLS",
      },
    );
  const cert = config.tls === false ? undefined : config.tls === true ? await testCertificate() : config.tls;
  const server = new ManagedMemcached(bin, config, cert);
  try {
    await server.start();
  } catch (err) {
    await server.dispose();
    throw err;
  }
  return server;
}

type ProbeResult = "ready" | "not-yet" | "foreign";

class ManagedMemcached implements MemcachedServer, Tracked {
  readonly host = "127.0.0.1";
  readonly tlsCa: string | undefined;
  readonly auth: { username: string; password: string } | undefined;
  readonly #bin: string;
  readonly #config: ResolvedOptions;
  readonly #cert: TestCertificate | undefined;
  readonly #runAs: RunAsUser | undefined;
  readonly #dir: string;
  #port = 0;
  #portFixed = false;
  #child: ChildProcess | undefined;
  #pid = 0;
  #alive = false;
  #paused = false;
  #exited: Promise<void> = Promise.resolve();
  #stderr = "";
  #starting: Promise<void> | undefined;

  constructor(bin: string, config: ResolvedOptions, cert: TestCertificate | undefined) {
    this.#bin = bin;
    this.#config = config;
    this.#cert = cert;
    this.tlsCa = cert?.certPem;
    this.auth = config.auth;
    this.#runAs = memcachedRunAsUser();
    this.#dir = mkdtempSync(join(processTempDir(), "memcached-"));
  }

  get port(): number {
    return this.#port;
  }
  get socketPath(): string | undefined {
    return this.#config.unixSocket ? join(this.#dir, "memcached.sock") : undefined;
  }
  get address(): string {
    return this.socketPath ?? `${this.host}:${this.#port}`;
  }
  get pid(): number {
    return this.#pid;
  }
  get running(): boolean {
    return this.#alive;
  }
  get paused(): boolean {
    return this.#paused;
  }

  /** Creates (again, after cleanupAll) the private directory: auth file and Unix socket live there. */
  #prepareDir(): void {
    mkdirSync(this.#dir, { recursive: true });
    if (this.#config.auth !== undefined) {
      const { username, password } = this.#config.auth;
      writeFileSync(join(this.#dir, "auth"), `${username}:${password}\n`, { mode: 0o600 });
    }
    // memcached reads the auth file and creates the socket *after* dropping root privileges to -u.
    if (this.#runAs !== undefined && this.#runAs.uid !== 0) {
      for (const path of [this.#dir, ...readdirSync(this.#dir).map((f) => join(this.#dir, f))]) {
        try {
          chownSync(path, this.#runAs.uid, this.#runAs.gid);
        } catch {
          chmodSync(path, 0o777);
        }
      }
    }
  }

  #args(): string[] {
    const c = this.#config;
    const args: string[] = [];
    if (c.unixSocket) args.push("-s", join(this.#dir, "memcached.sock"));
    else args.push("-l", this.host, "-p", String(this.#port));
    args.push("-U", "0", "-m", String(c.memoryMb), "-t", String(c.threads));
    if (c.maxItemSize !== undefined) args.push("-I", c.maxItemSize);
    if (this.#runAs !== undefined && !c.args.includes("-u")) args.push("-u", this.#runAs.name);
    if (this.#cert !== undefined)
      args.push("-Z", "-o", `ssl_chain_cert=${this.#cert.certFile},ssl_key=${this.#cert.keyFile}`);
    if (c.auth !== undefined) args.push("-Y", join(this.#dir, "auth"));
    args.push(...c.args);
    return args;
  }

  start(): Promise<void> {
    if (this.#alive)
      return Promise.reject(
        new HarnessError(`memcached ${this.address} is already running (pid ${this.#pid}); use restart()`, {
          code: "ERR_MCPAIR_TEST_ALREADY_RUNNING",
        }),
      );
    this.#starting ??= this.#start().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    track(this);
    this.#prepareDir();
    for (let attempt = 1; ; attempt++) {
      if (!this.#config.unixSocket && !this.#portFixed) this.#port = await freePort();
      const outcome = await this.#spawnUntilReady();
      if (outcome === "ready") {
        // From now on the port is the server's identity: restarts must come back on it.
        this.#portFixed = true;
        return;
      }
      if (attempt >= MAX_BIND_ATTEMPTS)
        throw new HarnessError(
          `memcached could not bind ${this.address} after ${attempt} attempts (address in use); stderr: ${this.#stderr.trim()}`,
          { code: "ERR_MCPAIR_TEST_START_FAILED" },
        );
      // A fixed port may still be held for a moment by the process being replaced: back off a little.
      if (this.#portFixed || this.#config.unixSocket) await delay(50 * attempt);
    }
  }

  /** Spawns one process; resolves "ready" when it answers, "in-use" when its address was taken. */
  async #spawnUntilReady(): Promise<"ready" | "in-use"> {
    const args = this.#args();
    const child = spawn(this.#bin, args, { stdio: ["ignore", "ignore", "pipe"] });
    this.#child = child;
    this.#pid = child.pid ?? 0;
    this.#alive = child.pid !== undefined;
    this.#paused = false;
    this.#stderr = "";
    if (child.pid !== undefined) watchPid(child.pid);
    let exitInfo: string | undefined;
    this.#exited = new Promise<void>((resolve) => {
      const settle = (info: string): void => {
        if (exitInfo !== undefined) return;
        exitInfo = info;
        if (this.#child === child) {
          this.#alive = false;
          this.#paused = false;
        }
        if (child.pid !== undefined) unwatchPid(child.pid);
        resolve();
      };
      child.once("exit", (code, signal) =>
        settle(signal !== null ? `signal ${signal}` : `exit code ${code}`),
      );
      child.once("error", (err) => settle(`spawn error: ${err.message}`));
    });
    // 'close' comes after 'exit' once stderr is drained: the reason for a failed start is usually its last line.
    const stdioClosed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-STDERR_TAIL);
    });
    // The process must not keep the test process alive; kill()/stop() re-ref it while they wait.
    child.unref();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

    const deadline = Date.now() + this.#config.startTimeout;
    const exited = this.#exited.then(() => "exited" as const);
    try {
      for (;;) {
        const result = await Promise.race([this.#probe(child.pid ?? -1), exited]);
        if (result === "ready") return "ready";
        if (result === "exited" || exitInfo !== undefined) {
          await Promise.race([stdioClosed, delay(500)]);
          if (/address already in use/i.test(this.#stderr)) return "in-use";
          throw new HarnessError(
            `memcached exited (${exitInfo}) before answering on ${this.address}.\n` +
              `command: ${this.#bin} ${args.join(" ")}\nstderr: ${this.#stderr.trim() || "(empty)"}`,
            { code: "ERR_MCPAIR_TEST_START_FAILED" },
          );
        }
        if (result === "foreign") {
          // Another process took the port between freePort() and our bind, and answered our probe.
          await this.kill();
          return "in-use";
        }
        if (Date.now() > deadline)
          throw new HarnessError(
            `memcached (pid ${child.pid}) did not answer \`version\` on ${this.address} within ` +
              `${this.#config.startTimeout} ms.\nstderr: ${this.#stderr.trim() || "(empty)"}`,
            { code: "ERR_MCPAIR_TEST_START_FAILED" },
          );
        await Promise.race([delay(20), exited]);
      }
    } catch (err) {
      // Whatever went wrong, no half-started process is left behind.
      await this.kill();
      throw err;
    }
  }

  /** One readiness attempt: authenticate if needed, `version`, then `stats` to be sure the answer came from our pid. */
  async #probe(pid: number): Promise<ProbeResult> {
    let client: Awaited<ReturnType<typeof connectRaw>>;
    try {
      client = await connectRaw(this, { timeout: 1000, authenticate: false });
    } catch {
      return "not-yet";
    }
    try {
      const prefix = this.auth !== undefined ? authRequest(this.auth) : "";
      const answer = await client.request(
        `${prefix}version\r\nstats\r\n`,
        /(^|\n)(END|ERROR|CLIENT_ERROR[^\n]*)\r\n/,
        1000,
      );
      if (answer.includes("CLIENT_ERROR"))
        throw new HarnessError(`memcached ${this.address} refused the probe: ${JSON.stringify(answer)}`, {
          code: "ERR_MCPAIR_TEST_START_FAILED",
        });
      if (!/(^|\n)VERSION /.test(answer)) return "not-yet";
      return answer.includes(`STAT pid ${pid}\r\n`) ? "ready" : "foreign";
    } catch (err) {
      if (err instanceof HarnessError && err.code === "ERR_MCPAIR_TEST_START_FAILED") throw err;
      return "not-yet";
    } finally {
      await client.close();
    }
  }

  async #signalAndWait(signal: "SIGKILL" | "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.#alive) return;
    child.ref();
    child.kill(signal);
    // A stopped process does not act on SIGTERM until it is continued (SIGKILL works either way).
    if (this.#paused) child.kill("SIGCONT");
    if (signal === "SIGTERM") {
      const escalate = setTimeout(() => child.kill("SIGKILL"), 5000);
      await this.#exited;
      clearTimeout(escalate);
    } else {
      await this.#exited;
    }
  }

  kill(): Promise<void> {
    return this.#signalAndWait("SIGKILL");
  }

  stop(): Promise<void> {
    return this.#signalAndWait("SIGTERM");
  }

  pause(): void {
    if (!this.#alive || this.#child === undefined)
      throw new HarnessError(`cannot pause memcached ${this.address}: it is not running`, {
        code: "ERR_MCPAIR_TEST_NOT_RUNNING",
      });
    this.#child.kill("SIGSTOP");
    this.#paused = true;
    waitUntilStopped(this.#pid);
  }

  resume(): void {
    if (!this.#alive || this.#child === undefined)
      throw new HarnessError(`cannot resume memcached ${this.address}: it is not running`, {
        code: "ERR_MCPAIR_TEST_NOT_RUNNING",
      });
    this.#child.kill("SIGCONT");
    this.#paused = false;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async stats(group?: string): Promise<Record<string, string>> {
    const client = await connectRaw(this);
    try {
      const answer = await client.request(
        group === undefined ? "stats\r\n" : `stats ${group}\r\n`,
        /(^|\n)END\r\n/,
      );
      const stats: Record<string, string> = {};
      for (const line of answer.split("\r\n")) {
        const m = /^STAT (\S+) (.*)$/.exec(line);
        if (m?.[1] !== undefined) stats[m[1]] = m[2] ?? "";
      }
      return stats;
    } finally {
      await client.close();
    }
  }

  async dispose(): Promise<void> {
    untrack(this);
    await this.kill();
    await rm(this.#dir, { recursive: true, force: true });
  }

  disposeSync(): void {
    if (this.#alive) {
      try {
        // Continue first: a stopped process is killed by SIGKILL too, but this also covers a SIGTERM race.
        process.kill(this.#pid, "SIGCONT");
        process.kill(this.#pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }

  toString(): string {
    return `memcached ${describeTarget(this)} (pid ${this.#pid})`;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * SIGSTOP takes effect asynchronously, thread by thread: a worker thread that is running when the signal is sent
 * could still answer a request written right after `kill()` returns. On Linux, wait (at most 1 s) until every thread
 * of the process shows state `T` (stopped) in /proc, so that "paused" holds as soon as pause() returns.
 */
function waitUntilStopped(pid: number): void {
  const taskDir = `/proc/${pid}/task`;
  if (!existsSync(taskDir)) return;
  const deadline = Date.now() + 1000;
  while (Date.now() < deadline) {
    let allStopped = true;
    try {
      for (const tid of readdirSync(taskDir)) {
        const stat = readFileSync(`${taskDir}/${tid}/stat`, "utf8");
        // pid (comm) STATE ...: comm may contain spaces, so read after the last ')'
        const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
        if (state !== "T" && state !== "t") allStopped = false;
      }
    } catch {
      return;
    }
    if (allStopped) return;
    Atomics.wait(sleeper, 0, 0, 1);
  }
}
