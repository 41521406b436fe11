import { connect, createServer, type Server, type Socket } from "node:net";
import { setTimeout as delay, setImmediate as nextTurn } from "node:timers/promises";
import { listenOnLoopback } from "./free-port.js";
import { HarnessError } from "./harness-error.js";
import { type Tracked, track, untrack } from "./registry.js";

/**
 * A TCP proxy on 127.0.0.1 in front of one target, to inject network faults between a client and a real server.
 * Faults apply to connections already open and to new ones.
 */
export interface FaultProxy {
  readonly port: number;
  /** `127.0.0.1:<port>`: give this to the client instead of the target's address. */
  readonly address: string;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Delays every chunk by `ms`, in both directions, keeping their order. 0 turns it off. */
  setLatency(ms: number): void;
  /**
   * Swallows every byte in both directions while on: nothing is forwarded, nothing answered, connections stay open
   * (even if the target closes its side). Bytes swallowed are lost, not delivered later.
   */
  setBlackhole(on: boolean): void;
  /**
   * One-shot: the next server-to-client data (on whichever connection gets some first) is forwarded up to `bytes`
   * bytes (counted across chunks), then both sockets of that connection are reset (RST). `0` resets at once.
   */
  resetNextResponseAfter(bytes: number): void;
  /** Delivers server-to-client data one byte per write, with a `setImmediate` between writes. */
  setByteByByte(on: boolean): void;
  /** While on, new connections are accepted and closed at once (FIN, before any byte). */
  refuse(on: boolean): void;
  /** Destroys every open connection (both sides). */
  dropAll(): void;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

interface Faults {
  latency: number;
  blackhole: boolean;
  byteByByte: boolean;
  refusing: boolean;
  /** Armed by resetNextResponseAfter; `owner` is the connection that started consuming it. */
  reset: { remaining: number; owner: ProxiedConnection | undefined } | undefined;
}

/**
 * Starts a {@link FaultProxy} on a free port of 127.0.0.1 forwarding to `target`. It is registered for
 * {@link cleanupAll}.
 */
export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const proxy = new TcpFaultProxy(target);
  await proxy.listen();
  return proxy;
}

class TcpFaultProxy implements FaultProxy, Tracked {
  readonly #faults: Faults = {
    latency: 0,
    blackhole: false,
    byteByByte: false,
    refusing: false,
    reset: undefined,
  };
  readonly #target: { host: string; port: number };
  readonly #server: Server;
  readonly #connections = new Set<ProxiedConnection>();
  #port = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = { host: target.host, port: target.port };
    this.#server = createServer((client) => this.#accept(client));
  }

  async listen(): Promise<void> {
    this.#port = await listenOnLoopback(this.#server);
    track(this);
  }

  #accept(client: Socket): void {
    client.on("error", () => {});
    if (this.#faults.refusing) {
      client.destroy();
      return;
    }
    const connection = new ProxiedConnection(client, this.#target, this.#faults, () => {
      this.#connections.delete(connection);
    });
    this.#connections.add(connection);
  }

  get port(): number {
    return this.#port;
  }
  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }
  get connections(): number {
    return this.#connections.size;
  }

  setLatency(ms: number): void {
    if (!(ms >= 0))
      throw new HarnessError(`setLatency: ms must be a number >= 0, got ${ms}`, {
        code: "ERR_MCPAIR_TEST_INVALID_OPTION",
      });
    this.#faults.latency = ms;
  }
  setBlackhole(on: boolean): void {
    this.#faults.blackhole = on;
  }
  resetNextResponseAfter(bytes: number): void {
    if (!Number.isInteger(bytes) || bytes < 0)
      throw new HarnessError(`resetNextResponseAfter: bytes must be an integer >= 0, got ${bytes}`, {
        code: "ERR_MCPAIR_TEST_INVALID_OPTION",
      });
    this.#faults.reset = { remaining: bytes, owner: undefined };
  }
  setByteByByte(on: boolean): void {
    this.#faults.byteByByte = on;
  }
  refuse(on: boolean): void {
    this.#faults.refusing = on;
  }
  dropAll(): void {
    for (const connection of this.#connections) connection.destroy();
    this.#connections.clear();
  }

  close(): Promise<void> {
    untrack(this);
    this.#faults.refusing = true;
    this.dropAll();
    return new Promise((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
  }

  dispose(): Promise<void> {
    return this.close();
  }
  disposeSync(): void {
    // Sockets die with the process.
  }
}

type Deliver = (chunk: Buffer) => Promise<void>;

const RESET_GRACE_MS = 10;

/**
 * One direction of a connection: chunks wait in order until their due time (arrival + latency, never earlier than
 * the chunk before), then are delivered one at a time.
 */
class Pump {
  readonly #queue: Array<{ chunk: Buffer; due: number }> = [];
  readonly #deliver: Deliver;
  #lastDue = 0;
  #running = false;
  #stopped = false;
  #onDrained: (() => void) | undefined;

  constructor(deliver: Deliver) {
    this.#deliver = deliver;
  }

  push(chunk: Buffer, latency: number): void {
    if (this.#stopped) return;
    this.#lastDue = Math.max(Date.now() + latency, this.#lastDue);
    this.#queue.push({ chunk, due: this.#lastDue });
    if (!this.#running) void this.#run();
  }

  /** Calls `callback` once every queued chunk has been delivered (at once if none is queued). */
  whenDrained(callback: () => void): void {
    if (!this.#running && this.#queue.length === 0) callback();
    else this.#onDrained = callback;
  }

  stop(): void {
    this.#stopped = true;
    this.#queue.length = 0;
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      for (let item = this.#queue.shift(); item !== undefined && !this.#stopped; item = this.#queue.shift()) {
        const wait = item.due - Date.now();
        if (wait > 0) await delay(wait);
        if (this.#stopped) break;
        await this.#deliver(item.chunk);
      }
    } catch {
      // the connection is being torn down
    } finally {
      this.#running = false;
    }
    const drained = this.#onDrained;
    this.#onDrained = undefined;
    if (drained !== undefined && !this.#stopped) drained();
  }
}

function write(socket: Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) {
      reject(new Error("socket destroyed"));
      return;
    }
    // The callback fires once the bytes are handed to the kernel: only then may a reset follow without losing them.
    socket.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

function reset(socket: Socket): void {
  const s = socket as Socket & { resetAndDestroy?: () => Socket };
  if (typeof s.resetAndDestroy === "function" && !socket.destroyed) s.resetAndDestroy();
  else socket.destroy();
}

class ProxiedConnection {
  readonly #client: Socket;
  readonly #upstream: Socket;
  readonly #faults: Faults;
  readonly #onClose: () => void;
  readonly #toServer: Pump;
  readonly #toClient: Pump;
  #closed = false;

  constructor(client: Socket, target: { host: string; port: number }, faults: Faults, onClose: () => void) {
    this.#client = client;
    this.#faults = faults;
    this.#onClose = onClose;
    this.#upstream = connect({ host: target.host, port: target.port });
    this.#upstream.on("error", () => {});
    this.#toServer = new Pump((chunk) =>
      this.#faults.blackhole ? Promise.resolve() : write(this.#upstream, chunk),
    );
    this.#toClient = new Pump((chunk) => this.#deliverToClient(chunk));

    client.on("data", (chunk: Buffer) => this.#toServer.push(chunk, this.#faults.latency));
    this.#upstream.on("data", (chunk: Buffer) => this.#toClient.push(chunk, this.#faults.latency));
    // A blackholed connection stays open whatever the target does; otherwise an end or close on one side is passed
    // on to the other once what was already received from that side has been delivered.
    this.#upstream.on("close", () => {
      if (this.#faults.blackhole) return;
      this.#toClient.whenDrained(() => this.destroy());
    });
    client.on("close", () => {
      this.#toServer.whenDrained(() => this.destroy());
    });
  }

  async #deliverToClient(chunk: Buffer): Promise<void> {
    const faults = this.#faults;
    if (faults.blackhole) return;
    const armed = faults.reset;
    if (armed !== undefined && (armed.owner === undefined || armed.owner === this)) {
      armed.owner = this;
      const n = Math.min(armed.remaining, chunk.length);
      armed.remaining -= n;
      if (n > 0) await this.#writeToClient(chunk.subarray(0, n));
      if (armed.remaining === 0) {
        faults.reset = undefined;
        this.#finish();
        // libuv reports data and an RST that arrive together as a plain EOF: give the client's event loop a moment
        // to read the forwarded bytes, so that it then sees ECONNRESET as a real client would.
        if (n > 0) await delay(RESET_GRACE_MS);
        this.reset();
      }
      return;
    }
    await this.#writeToClient(chunk);
  }

  async #writeToClient(chunk: Buffer): Promise<void> {
    if (!this.#faults.byteByByte) {
      await write(this.#client, chunk);
      return;
    }
    for (let i = 0; i < chunk.length; i++) {
      await write(this.#client, chunk.subarray(i, i + 1));
      await nextTurn();
    }
  }

  /** RST on both sockets. */
  reset(): void {
    this.#finish();
    reset(this.#client);
    reset(this.#upstream);
  }

  destroy(): void {
    this.#finish();
    this.#client.destroy();
    this.#upstream.destroy();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#toServer.stop();
    this.#toClient.stop();
    this.#onClose();
  }
}
