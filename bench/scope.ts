/**
 * `npm run bench:scope`: what namespaces and tags cost on the read path, against a plain `get`, in one run on the
 * same servers (3 local memcached, replicas 2, 100-byte values, 10,000 keys, 64 reads in flight). Rounds alternate
 * between the modes so that machine load hits them alike; the best round of each is kept.
 *
 * Modes:
 *   root get                 plain `get` of an untagged entry
 *   namespace get            `client.namespace("bench").get(k)`: the entry and the namespace generation in one batch
 *   namespace get, tag hint  an entry with one tag, read with `{ tags: [tag] }`: still one round trip
 *   namespace get, no hint   the same entry read without the hint: the tag is read after the entry
 *
 * Requests per read come from the client's own counters (`stats().scopeRequests` plus the entry reads).
 * Environment: MCPAIR_BENCH_SECONDS (2), MCPAIR_BENCH_ROUNDS (3).
 */

import { createClient, type PairClient } from "@mcpair/memcached";
import { startMemcached } from "@mcpair/test-utils";

const SECONDS = Number(process.env.MCPAIR_BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.MCPAIR_BENCH_ROUNDS ?? 3);
const KEYS = 10_000;
const IN_FLIGHT = 64;
const VALUE = "x".repeat(100);

type Read = (i: number) => Promise<unknown>;
interface Row {
  mode: string;
  opsPerSec: number;
  p50: number;
  p99: number;
  requestsPerRead: number;
}

async function measure(client: PairClient, read: Read): Promise<Omit<Row, "mode">> {
  const latencies: number[] = [];
  const before = client.stats();
  const end = performance.now() + SECONDS * 1000;
  let ops = 0;
  let misses = 0;
  const worker = async (w: number) => {
    let i = w;
    while (performance.now() < end) {
      const t = performance.now();
      if ((await read(i % KEYS)) === undefined) misses++;
      latencies.push(performance.now() - t);
      ops++;
      i += IN_FLIGHT;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, w) => worker(w)));
  const elapsed = (performance.now() - started) / 1000;
  if (misses > 0)
    throw new Error(`benchmark reads missed ${misses} times: the data set is not what it should be`);
  const after = client.stats();
  latencies.sort((a, b) => a - b);
  const extra = after.scopeRequests - before.scopeRequests;
  return {
    opsPerSec: ops / elapsed,
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    requestsPerRead: 1 + extra / ops,
  };
}

async function main(): Promise<void> {
  const servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  const client = createClient({ servers: servers.map((s) => s.address), health: { checkInterval: 0 } });
  try {
    const ns = client.namespace("bench");
    const keys = Array.from({ length: KEYS }, (_, i) => `item:${i}`);
    for (let i = 0; i < KEYS; i += 500) {
      const slice = keys.slice(i, i + 500);
      await client.setMany(slice.map((k) => [k, VALUE] as const));
      await ns.setMany(slice.map((k) => [k, VALUE] as const));
      await client.namespace("tagged").setMany(
        slice.map((k) => [k, VALUE] as const),
        { tags: ["table:item"] },
      );
    }
    const tagged = client.namespace("tagged");
    const modes: Array<[string, Read]> = [
      ["root get", (i) => client.get(keys[i]!)],
      ["namespace get", (i) => ns.get(keys[i]!)],
      ["namespace get, tag hint", (i) => tagged.get(keys[i]!, { tags: ["table:item"] })],
      ["namespace get, no hint", (i) => tagged.get(keys[i]!)],
    ];
    const best = new Map<string, Row>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [mode, read] of modes) {
        const r = { mode, ...(await measure(client, read)) };
        const prev = best.get(mode);
        if (!prev || r.opsPerSec > prev.opsPerSec) best.set(mode, r);
      }
    }
    const base = best.get("root get")!.opsPerSec;
    console.log(
      `\nNamespace and tag reads vs plain get (3 memcached, replicas 2, 100 B values, ${IN_FLIGHT} in flight, best of ${ROUNDS} × ${SECONDS} s)\n`,
    );
    console.log("| read | ops/s | p50 ms | p99 ms | requests per read | ratio to plain get |");
    console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (const r of best.values()) {
      console.log(
        `| ${r.mode} | ${Math.round(r.opsPerSec).toLocaleString("en-US")} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.requestsPerRead.toFixed(2)} | ${(r.opsPerSec / base).toFixed(2)}x |`,
      );
    }
  } finally {
    await client.close();
    await Promise.all(servers.map((s) => s.stop()));
  }
}

await main();
