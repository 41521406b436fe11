import { createServer, type Server, type Socket } from "node:net";
import { listenOnLoopback } from "./free-port.js";
import { type Tracked, track, untrack } from "./registry.js";

/** What a rogue server does in answer to one request. */
export type RogueAction =
  /** Write these bytes and keep going. */
  | { kind: "write"; data: string | Buffer }
  /** Answer nothing; keep reading. */
  | { kind: "silent" }
  /** Close the connection (FIN) and ignore everything after. */
  | { kind: "close" }
  /** Reset the connection (RST). */
  | { kind: "reset" }
  /** Write these bytes, then close (FIN). */
  | { kind: "writeThenClose"; data: string | Buffer };

/** Maps one request line (without its line ending) to the answer. A string or Buffer is written as is. */
export type RogueResponder = (line: string) => RogueAction | string | Buffer;

/** A fake memcached answering what its responder says. */
export interface RogueServer {
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** Every request line received, in order, across connections (without `\r\n`; value payloads are not included). */
  readonly received: string[];
  /** Connections currently open. */
  readonly connections: number;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

// Requests that carry a value payload, and the index of the token that gives its length.
const PAYLOAD_LENGTH_TOKEN: Record<string, number> = {
  ms: 2,
  set: 4,
  add: 4,
  replace: 4,
  append: 4,
  prepend: 4,
  cas: 4,
};

/** The length of the value payload that follows this request line, if it has one. */
function payloadLength(line: string): number | undefined {
  const tokens = line.split(" ");
  const index = PAYLOAD_LENGTH_TOKEN[tokens[0] ?? ""];
  if (index === undefined) return undefined;
  const length = Number(tokens[index]);
  return Number.isInteger(length) && length >= 0 ? length : undefined;
}

/**
 * Starts a fake memcached on a free port of 127.0.0.1. It reads requests line by line (and, for `ms` and the classic
 * storage commands, the value payload by its declared length plus `\r\n`), records each line in `received`, and
 * answers with `respond(line)`. Pipelined requests are answered in order. If `respond` throws, the connection is
 * destroyed. It is registered for {@link cleanupAll}.
 */
export async function startRogueServer(respond: RogueResponder): Promise<RogueServer> {
  const server = new TcpRogueServer(respond);
  await server.listen();
  return server;
}

class TcpRogueServer implements RogueServer, Tracked {
  readonly received: string[] = [];
  readonly #respond: RogueResponder;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;

  constructor(respond: RogueResponder) {
    this.#respond = respond;
    this.#server = createServer((socket) => this.#serve(socket));
  }

  async listen(): Promise<void> {
    this.#port = await listenOnLoopback(this.#server);
    track(this);
  }

  get port(): number {
    return this.#port;
  }
  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }
  get connections(): number {
    return this.#sockets.size;
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {});
    let buffer: Buffer = Buffer.alloc(0);
    let pending: { line: string; length: number } | undefined;
    let done = false;

    const answer = (line: string): void => {
      this.received.push(line);
      let result: RogueAction | string | Buffer;
      try {
        result = this.#respond(line);
      } catch {
        done = true;
        socket.destroy();
        return;
      }
      const action: RogueAction =
        typeof result === "string" || Buffer.isBuffer(result) ? { kind: "write", data: result } : result;
      switch (action.kind) {
        case "write":
          socket.write(action.data);
          break;
        case "silent":
          break;
        case "close":
          done = true;
          socket.end();
          break;
        case "reset":
          done = true;
          resetSocket(socket);
          break;
        case "writeThenClose":
          done = true;
          socket.end(action.data);
          break;
      }
    };

    socket.on("data", (chunk: Buffer) => {
      if (done) return;
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      while (!done) {
        if (pending !== undefined) {
          if (buffer.length < pending.length + 2) return;
          buffer = buffer.subarray(pending.length + 2);
          const { line } = pending;
          pending = undefined;
          answer(line);
          continue;
        }
        const newline = buffer.indexOf(0x0a);
        if (newline === -1) return;
        const line = buffer.subarray(0, newline).toString("utf8").replace(/\r$/, "");
        buffer = buffer.subarray(newline + 1);
        const length = payloadLength(line);
        if (length === undefined) answer(line);
        else pending = { line, length };
      }
    });
  }

  close(): Promise<void> {
    untrack(this);
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
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

function resetSocket(socket: Socket): void {
  const s = socket as Socket & { resetAndDestroy?: () => Socket };
  if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
  else socket.destroy();
}
