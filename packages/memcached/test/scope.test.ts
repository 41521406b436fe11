// Namespaces and tags on real memcached (3 servers, replicas 2), across two client processes: a `clear()` or an
// `invalidateTags` in one process is seen by the other's very next read, other namespaces keep their entries, and no
// server ever sees `flush_all`. The client conformance suite runs here too, on the root and on a namespace client.
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { runCacheClientConformance } from "@mcpair/core/testing";
import { type MemcachedServer, startMemcached, useMemcachedCleanup } from "@mcpair/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, createSocketTransport, type PairClient } from "../src/index.js";

useMemcachedCleanup();

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, "scope", "child.mjs");
const DIST_INDEX = join(here, "..", "dist", "index.js");

async function startThree(): Promise<MemcachedServer[]> {
  return Promise.all([startMemcached(), startMemcached(), startMemcached()]);
}

runCacheClientConformance("PairClient on real memcached (3 servers, replicas 2)", async () => {
  const servers = await startThree();
  const client = createClient({ servers: servers.map((s) => s.address) });
  return {
    client,
    close: async () => {
      await client.close();
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
});

runCacheClientConformance("namespace client on real memcached", async () => {
  const servers = await startThree();
  const client = createClient({ servers: servers.map((s) => s.address) });
  return {
    client: client.namespace("conformance"),
    close: async () => {
      await client.close();
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
});

/** Another client process, driven request by request. */
class Remote {
  readonly #proc: ChildProcess;
  readonly #waiting = new Map<number, (m: { result?: Record<string, unknown>; error?: string }) => void>();
  #next = 0;
  constructor(servers: string[]) {
    this.#proc = spawn(process.execPath, [CHILD, DIST_INDEX, JSON.stringify(servers)], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    createInterface({ input: this.#proc.stdout! }).on("line", (line) => {
      const m = JSON.parse(line) as { id: number; result?: Record<string, unknown>; error?: string };
      this.#waiting.get(m.id)?.(m);
      this.#waiting.delete(m.id);
    });
  }
  call(ns: string | undefined, method: string, ...args: unknown[]): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, (m) => {
        if (m.error) reject(new Error(`remote ${method}: ${m.error}`));
        else if (m.result && "undefined" in m.result) resolve(undefined);
        else if (m.result && "map" in m.result) resolve(new Map(m.result.map as Array<[string, unknown]>));
        else resolve(m.result?.value);
      });
      this.#proc.stdin!.write(`${JSON.stringify({ id, ns, method, args })}\n`);
    });
  }
  async close(): Promise<void> {
    const exited = new Promise((r) => this.#proc.once("exit", r));
    this.#proc.stdin!.end();
    await exited;
  }
}

describe("namespaces and tags across processes (real memcached)", () => {
  let servers: MemcachedServer[];
  let client: PairClient;
  let other: Remote;
  beforeAll(async () => {
    servers = await startThree();
    const names = servers.map((s) => s.address);
    client = createClient({ servers: names, health: { checkInterval: 0 } });
    other = new Remote(names);
  });
  afterAll(async () => {
    await other?.close();
    await client?.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  /** `cmd_flush` summed over every server, from each server's own `stats`. */
  async function flushCount(): Promise<number> {
    let total = 0;
    for (const s of servers) {
      const t = createSocketTransport({ host: "127.0.0.1", port: s.port });
      total += Number((await t.stats()).raw.cmd_flush ?? "NaN");
      await t.close();
    }
    return total;
  }

  it("clear() of a namespace in one process: the other's next read misses; another namespace keeps its entries", async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `user:${i}`);
    await client.namespace("users").setMany(keys.map((k) => [k, { k }] as const));
    await client.namespace("posts").setMany(keys.map((k) => [k, k] as const));
    expect(((await other.call("users", "getMany", keys)) as Map<string, unknown>).size).toBe(100);
    await client.namespace("users").clear();
    expect(((await other.call("users", "getMany", keys)) as Map<string, unknown>).size).toBe(0);
    expect(await other.call("users", "get", "user:1")).toBeUndefined();
    expect(((await other.call("posts", "getMany", keys)) as Map<string, unknown>).size).toBe(100);
    // The other way round: the other process clears, this one's next read misses.
    await client.namespace("users").set("user:1", "again");
    expect(await other.call("users", "get", "user:1")).toBe("again");
    await other.call("users", "clear");
    expect(await client.namespace("users").get("user:1")).toBeUndefined();
    expect(await client.namespace("posts").get("user:1")).toBe("user:1");
    expect(await flushCount()).toBe(0);
  });

  it("invalidateTags in one process: the other's next read of a tagged entry misses; others stay", async () => {
    const orm = client.namespace("orm");
    await orm.set("q:users", [1, 2], { tags: ["table:user"] });
    await orm.set("q:join", [3], { tags: ["table:user", "table:post"] });
    await orm.set("q:posts", [4], { tags: ["table:post"] });
    expect(await other.call("orm", "get", "q:join")).toEqual([3]);
    await other.call("orm", "invalidateTags", ["table:user"]);
    expect(await orm.get("q:users")).toBeUndefined();
    expect(await orm.get("q:join", { tags: ["table:user", "table:post"] })).toBeUndefined();
    expect(await orm.get("q:posts")).toEqual([4]);
    // Root-level tags work the same way.
    await other.call(undefined, "set", "root:tagged", "v", { tags: ["t"] });
    expect(await client.get("root:tagged")).toBe("v");
    await client.invalidateTags(["t"]);
    expect(await other.call(undefined, "get", "root:tagged")).toBeUndefined();
    expect(await flushCount()).toBe(0);
  });

  it("the flush counter used above does see flush_all (the check can fail)", async () => {
    const before = await flushCount();
    await client.flush();
    expect(await flushCount()).toBe(before + servers.length);
  });
});
