/**
 * memcached's own counters, read over one long-lived connection per server: requests served and the CPU time the
 * server process used (`rusage_user` + `rusage_system`). Snapshots taken at the edges of a measurement give the
 * requests per operation the servers really saw and what each operation cost them in CPU.
 */
import { connectRaw, type RawClient } from "@mcpair/test-utils";

export interface ServerCounters {
  cmdGet: number;
  getHits: number;
  getMisses: number;
  cmdSet: number;
  /** CPU seconds (user + system) of the server processes. */
  cpuSeconds: number;
}

export const ZERO: ServerCounters = { cmdGet: 0, getHits: 0, getMisses: 0, cmdSet: 0, cpuSeconds: 0 };

export function difference(before: ServerCounters, after: ServerCounters): ServerCounters {
  return {
    cmdGet: after.cmdGet - before.cmdGet,
    getHits: after.getHits - before.getHits,
    getMisses: after.getMisses - before.getMisses,
    cmdSet: after.cmdSet - before.cmdSet,
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
  };
}

function add(a: ServerCounters, b: ServerCounters): ServerCounters {
  return {
    cmdGet: a.cmdGet + b.cmdGet,
    getHits: a.getHits + b.getHits,
    getMisses: a.getMisses + b.getMisses,
    cmdSet: a.cmdSet + b.cmdSet,
    cpuSeconds: a.cpuSeconds + b.cpuSeconds,
  };
}

/** One connection per server address, kept open for the whole run. */
export class ServerStats {
  readonly #connections = new Map<string, Promise<RawClient>>();

  #connection(address: string): Promise<RawClient> {
    let c = this.#connections.get(address);
    if (c === undefined) {
      const [host, port] = address.split(":");
      c = connectRaw({ host, port: Number(port) });
      this.#connections.set(address, c);
    }
    return c;
  }

  async #read(address: string): Promise<ServerCounters> {
    const raw = await this.#connection(address);
    raw.clear();
    raw.send("stats\r\n");
    const text = await raw.readUntil("END\r\n", 5000);
    const stats: Record<string, number> = {};
    for (const line of text.split("\r\n")) {
      const [word, name, value] = line.split(" ");
      if (word === "STAT" && name !== undefined && value !== undefined) stats[name] = Number(value);
    }
    return {
      cmdGet: stats.cmd_get ?? 0,
      getHits: stats.get_hits ?? 0,
      getMisses: stats.get_misses ?? 0,
      cmdSet: stats.cmd_set ?? 0,
      cpuSeconds: (stats.rusage_user ?? 0) + (stats.rusage_system ?? 0),
    };
  }

  /** The counters summed over `addresses`. */
  async snapshot(addresses: readonly string[]): Promise<ServerCounters> {
    const all = await Promise.all(addresses.map((a) => this.#read(a)));
    return all.reduce(add, ZERO);
  }

  /** `flush_all` on every server (between measurements). */
  async flush(addresses: readonly string[]): Promise<void> {
    await Promise.all(
      addresses.map(async (a) => {
        const raw = await this.#connection(a);
        raw.clear();
        raw.send("flush_all\r\n");
        await raw.readUntil("OK\r\n", 5000);
      }),
    );
  }

  async close(): Promise<void> {
    const all = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(all.map(async (c) => (await c).close().catch(() => undefined)));
  }
}
