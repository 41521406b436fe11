import { Agent, request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { StaleChecker } from "./stale-checker.js";

export interface LoadOptions {
  /** The app's base URL. */
  url: string;
  /** Book ids 1..books are read. */
  books: number;
  /** Book reads per second, on an open schedule (a slow answer does not slow the offered rate). */
  rate: number;
  /** A price update every this many ms, on one of the first `hotBooks` books. */
  writeEveryMs: number;
  /** The books that are written, and that get a tenth of the reads (so each write is checked by many reads). */
  hotBooks: number;
}

/** What the load saw during one phase of the scenario. */
export interface PhaseLoad {
  reads: number;
  readErrors: number;
  writes: number;
  writeErrors: number;
  /** Read latencies in ms (HTTP round trip, as a user of the shop sees it). */
  latencies: number[];
  stale: number;
  checked: number;
}

const emptyPhase = (): PhaseLoad => ({
  reads: 0,
  readErrors: 0,
  writes: 0,
  writeErrors: 0,
  latencies: [],
  stale: 0,
  checked: 0,
});

const LOOPS = 32;

/** Book reads at a steady rate and occasional price updates against the bookshop, checked for stale reads. */
export class LoadGenerator {
  readonly options: LoadOptions;
  readonly checker = new StaleChecker();
  readonly phases = new Map<string, PhaseLoad>();
  #phase = "warm-up";
  #running = false;
  #loops: Promise<void>[] = [];
  readonly #agent = new Agent({ keepAlive: true, maxSockets: LOOPS + 2 });

  constructor(options: LoadOptions) {
    this.options = options;
  }

  /** Later requests are counted in `phase`. */
  set phase(name: string) {
    this.#phase = name;
  }

  get phase(): string {
    return this.#phase;
  }

  #stats(): PhaseLoad {
    let s = this.phases.get(this.#phase);
    if (!s) {
      s = emptyPhase();
      this.phases.set(this.#phase, s);
    }
    return s;
  }

  /** Reads every book once, `concurrency` at a time (fills the cache before the clock starts). */
  async warm(concurrency = 64): Promise<void> {
    let next = 1;
    const worker = async () => {
      while (next <= this.options.books) await this.#read(next++);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    const { rate, books, hotBooks } = this.options;
    const interval = 1000 / rate;
    const t0 = performance.now();
    let issued = 0;
    const reader = async () => {
      while (this.#running) {
        const wait = t0 + issued++ * interval - performance.now();
        if (wait >= 1) await sleep(wait);
        if (!this.#running) break;
        const hot = Math.random() < 0.1;
        await this.#read(1 + Math.floor(Math.random() * (hot ? hotBooks : books)));
      }
    };
    const writer = async () => {
      while (this.#running) {
        await sleep(this.options.writeEveryMs);
        if (this.#running) await this.#write(1 + Math.floor(Math.random() * hotBooks));
      }
    };
    this.#loops = [...Array.from({ length: LOOPS }, reader), writer()];
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#agent.destroy();
  }

  async #read(id: number): Promise<void> {
    const stats = this.#stats();
    const expected = this.checker.expect(id);
    const began = performance.now();
    try {
      const { status, body } = await this.#http("GET", `/api/books/${id}`);
      if (status !== 200) throw new Error(`HTTP ${status}`);
      stats.latencies.push(performance.now() - began);
      stats.reads++;
      stats.checked++;
      if (this.checker.checkRead(id, expected, (body as { version: number }).version)) stats.stale++;
    } catch {
      stats.readErrors++;
    }
  }

  async #write(id: number): Promise<void> {
    const stats = this.#stats();
    try {
      const priceCents = 500 + Math.floor(Math.random() * 4500);
      const { status, body } = await this.#http("PUT", `/api/books/${id}`, { priceCents });
      if (status !== 200) throw new Error(`HTTP ${status}`);
      stats.writes++;
      this.checker.acknowledged(id, (body as { version: number }).version);
    } catch {
      stats.writeErrors++;
    }
  }

  #http(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        `${this.options.url}${path}`,
        {
          method,
          agent: this.#agent,
          headers: payload ? { "content-type": "application/json" } : {},
          timeout: 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            try {
              resolve({
                status: res.statusCode ?? 0,
                body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
              });
            } catch (error) {
              reject(error);
            }
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error("request timed out")));
      req.on("error", reject);
      req.end(payload);
    });
  }
}
