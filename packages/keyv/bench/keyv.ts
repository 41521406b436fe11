// Keyv over KeyvMcpair against Keyv over @keyv/memcache 2.0.2 (memjs), measured in the same run on the same
// memcached: get (hits), set, and getMany of 20 keys, with a fixed number of calls in flight. Prints a table with
// ratios to @keyv/memcache. Run from packages/keyv: `npx tsx bench/keyv.ts` (after building core and memcached).
//
// Environment: MCPAIR_BENCH_SECONDS (per cell, default 1), MCPAIR_BENCH_CONCURRENCY (default 32),
// MCPAIR_BENCH_ROUNDS (default 5; each cell keeps its best round).
import KeyvMemcache from "@keyv/memcache";
import { createClient } from "@mcpair/memcached";
import { cleanupAll, startMemcached } from "@mcpair/test-utils";
import Keyv from "keyv";
import { Keyv as Keyv6 } from "keyv6";
import { KeyvMcpair } from "../src/index.js";

const SECONDS = Number(process.env.MCPAIR_BENCH_SECONDS ?? 1);
const CONCURRENCY = Number(process.env.MCPAIR_BENCH_CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.MCPAIR_BENCH_ROUNDS ?? 5);
const KEYS = 2000;
const BATCH = 20;
const TTL = 600_000;
const value = { id: 0, name: "x".repeat(80) }; // ~100 bytes serialized

/** The calls a contender makes: its Keyv's get/set/getMany. */
interface Contender {
  name: string;
  keyv: {
    get(k: string): Promise<unknown>;
    set(k: string, v: unknown, ttl?: number): Promise<unknown>;
    getMany(k: string[]): Promise<unknown[]>;
  };
  close(): Promise<void>;
}

interface Cell {
  opsPerSecond: number;
  p50: number;
  p99: number;
}

const key = (i: number) => `bench:${i % KEYS}`;

/** Runs `op` with CONCURRENCY calls in flight for SECONDS (after a short warm-up); ops/s and latency percentiles. */
async function measure(op: (i: number) => Promise<unknown>): Promise<Cell> {
  const run = async (ms: number, record: number[] | undefined) => {
    const end = performance.now() + ms;
    let n = 0;
    const worker = async (w: number) => {
      let i = w;
      while (performance.now() < end) {
        const t0 = performance.now();
        await op(i);
        record?.push(performance.now() - t0);
        i += CONCURRENCY;
        n++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
    return n;
  };
  await run(300, undefined);
  const latencies: number[] = [];
  const start = performance.now();
  const n = await run(SECONDS * 1000, latencies);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { opsPerSecond: n / elapsed, p50: pct(0.5), p99: pct(0.99) };
}

const WORKLOADS: Array<[string, (c: Contender) => (i: number) => Promise<unknown>]> = [
  ["get (hit)", (c) => (i) => c.keyv.get(key(i))],
  ["set", (c) => (i) => c.keyv.set(key(i), value, TTL)],
  [
    `getMany (${BATCH} keys)`,
    (c) => (i) => c.keyv.getMany(Array.from({ length: BATCH }, (_, j) => key(i * BATCH + j))),
  ],
];

async function main(): Promise<void> {
  const single = await startMemcached({ threads: 1 });
  const trio = [single, await startMemcached({ threads: 1 }), await startMemcached({ threads: 1 })];
  const contenders: Array<() => Contender> = [
    () => {
      const store = new KeyvMemcache(single.address);
      const keyv = new Keyv({ store, namespace: "memcache" });
      return {
        name: "Keyv 5 + @keyv/memcache 2.0.2 (memjs), 1 server",
        keyv,
        close: async () => store.client.close(),
      };
    },
    () => {
      const store = new KeyvMcpair({ servers: [single.address], replicas: 1 });
      const keyv = new Keyv({ store, namespace: "mcpair1" });
      return { name: "Keyv 5 + KeyvMcpair, 1 server (replicas 1)", keyv, close: () => store.disconnect() };
    },
    () => {
      const store = new KeyvMcpair({ servers: [single.address], replicas: 1 });
      const keyv = new Keyv6({ store, namespace: "mcpair6" });
      return { name: "Keyv 6 + KeyvMcpair, 1 server (replicas 1)", keyv, close: () => store.disconnect() };
    },
    () => {
      const store = new KeyvMcpair({ servers: trio.map((s) => s.address), replicas: 2 });
      const keyv = new Keyv({ store, namespace: "mcpair2" });
      return { name: "Keyv 5 + KeyvMcpair, 3 servers (replicas 2)", keyv, close: () => store.disconnect() };
    },
  ];

  // Every contender is connected for the whole run and the cells are interleaved (each round measures every
  // workload for every contender, in a rotating order), so a burst of load from elsewhere on the machine hits all of
  // them alike; each cell keeps its best round.
  const live = contenders.map((make) => make());
  for (const c of live) {
    for (let i = 0; i < KEYS; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => c.keyv.set(key(i + j), value, TTL)));
    }
  }
  const results = new Map<string, Map<string, Cell>>(live.map((c) => [c.name, new Map<string, Cell>()]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [workload, op] of WORKLOADS) {
      for (let k = 0; k < live.length; k++) {
        const c = live[(k + round) % live.length]!;
        const cell = await measure(op(c));
        const row = results.get(c.name)!;
        const best = row.get(workload);
        if (!best || cell.opsPerSecond > best.opsPerSecond) row.set(workload, cell);
      }
    }
  }
  for (const c of live) await c.close();

  const baseline = results.get([...results.keys()].find((n) => n.includes("@keyv/memcache"))!)!;
  const cpus = (await import("node:os")).cpus().length;
  const load = (await import("node:os")).loadavg()[0]!.toFixed(2);
  console.log(
    `\nKeyv stores on memcached 1.6 (${CONCURRENCY} calls in flight, ${SECONDS} s per cell after 0.3 s warm-up, best of ${ROUNDS} rounds; ${cpus} CPUs, load ${load}; Node ${process.version})\n`,
  );
  console.log(`| store | ${WORKLOADS.map(([w]) => `${w} ops/s | p50 / p99 ms | ratio`).join(" | ")} |`);
  console.log(`| --- |${WORKLOADS.map(() => " ---: | ---: | ---: |").join("")}`);
  for (const [name, row] of results) {
    const cells = WORKLOADS.map(([w]) => {
      const c = row.get(w)!;
      const ratio = c.opsPerSecond / baseline.get(w)!.opsPerSecond;
      return `${Math.round(c.opsPerSecond).toLocaleString("en-US")} | ${c.p50.toFixed(2)} / ${c.p99.toFixed(2)} | ${ratio.toFixed(2)}x`;
    });
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
  await cleanupAll();
}

main().catch(async (error) => {
  console.error(error);
  await cleanupAll();
  process.exit(1);
});
