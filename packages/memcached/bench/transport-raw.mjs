#!/usr/bin/env node
/**
 * Raw transport throughput: one local memcached, 10k keys with 100-byte values, 50/50 get/set, 64 requests in
 * flight, for ~3 s. Prints ops/s for SocketTransport and, for reference, for a bare socket that coalesces meta
 * commands with no per-request bookkeeping (the ceiling on this machine).
 *
 *   cd packages/core && npx tsup && cd ../memcached && npx tsup && node bench/transport-raw.mjs
 *
 * Measured here (Node 20, 2 cores shared with the server and other jobs, memcached 1.6.18 default threads):
 * SocketTransport ≈ 1.0-1.13 M ops/s, the bare socket ≈ 1.06-1.2 M ops/s; the node process is idle about half of
 * the time (waiting on memcached), and the transport's own JavaScript is a few percent of the CPU profile.
 *
 * Environment: BENCH_SECONDS (3), BENCH_INFLIGHT (64), BENCH_MODE (both | transport | raw), BENCH_RUNS (3),
 * MEMCACHED (/usr/bin/memcached), MEMCACHED_THREADS (memcached's default), MEMCACHED_PORT (free port).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 64);
const MODE = process.env.BENCH_MODE ?? "both";
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const KEYS = 10_000;
const VALUE_SIZE = 100;

async function loadTransport() {
  const file = join(here, "../dist/index.js");
  const mod = existsSync(file) ? await import(pathToFileURL(file).href) : {};
  if (typeof mod.createSocketTransport !== "function") {
    throw new Error(
      "createSocketTransport not found in dist/index.js: build first (cd packages/memcached && npx tsup)",
    );
  }
  return mod.createSocketTransport;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startMemcached() {
  const port = Number(process.env.MEMCACHED_PORT ?? (await freePort()));
  const args = ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "256"];
  if (process.getuid?.() === 0) args.push("-u", "memcache");
  if (process.env.MEMCACHED_THREADS) args.push("-t", process.env.MEMCACHED_THREADS);
  const child = spawn(process.env.MEMCACHED ?? "/usr/bin/memcached", args, { stdio: "ignore" });
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return { port, stop: () => child.kill("SIGKILL") };
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill("SIGKILL");
  throw new Error("memcached did not start");
}

const keys = Array.from({ length: KEYS }, (_, i) => `bench:key:${i}`);
const value = Buffer.alloc(VALUE_SIZE, 0x61);

/** xorshift32: cheaper than Math.random and deterministic. */
function rng(seed) {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

async function benchTransport(createSocketTransport, port) {
  const t = createSocketTransport({ host: "127.0.0.1", port, timeout: 5000 });
  // Preload every key so gets are hits.
  for (let i = 0; i < KEYS; i += 1000) {
    await Promise.all(keys.slice(i, i + 1000).map((k) => t.set(k, value, { ttl: 3600 })));
  }
  let ops = 0;
  let errors = 0;
  let running = true;
  const worker = async (seed) => {
    const rand = rng(seed);
    while (running) {
      const r = rand();
      const key = keys[((r * 2 * KEYS) % KEYS) | 0];
      try {
        if (r < 0.5) await t.get(key);
        else await t.set(key, value, { ttl: 3600 });
        ops++;
      } catch {
        errors++;
      }
    }
  };
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const workers = Array.from({ length: INFLIGHT }, (_, i) => worker(i + 1));
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  running = false;
  await Promise.all(workers);
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await t.close();
  return { ops, errors, elapsed, cpu: cpu.user + cpu.system };
}

/** The ceiling: a bare socket keeping INFLIGHT coalesced meta commands in flight, counting replies. */
async function benchRaw(port) {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  await new Promise((r) => socket.once("connect", r));
  const rand = rng(7);
  const setHeader = (k) => `ms ${k} ${VALUE_SIZE} T3600\r\n`;
  const command = () => {
    const r = rand();
    const key = keys[((r * 2 * KEYS) % KEYS) | 0];
    return r < 0.5
      ? Buffer.from(`mg ${key} v f\r\n`)
      : Buffer.concat([Buffer.from(setHeader(key)), value, Buffer.from("\r\n")]);
  };
  let ops = 0;
  let running = true;
  let rest = Buffer.alloc(0);
  let done;
  const finished = new Promise((r) => {
    done = r;
  });
  let inflight = 0;
  socket.on("data", (chunk) => {
    const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let pos = 0;
    let completed = 0;
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0) break;
      if (buf[pos] === 0x56 && buf[pos + 1] === 0x41) {
        const size = Number.parseInt(buf.toString("latin1", pos + 3, nl), 10);
        if (nl + 1 + size + 2 > buf.length) break;
        pos = nl + 1 + size + 2;
      } else pos = nl + 1;
      completed++;
    }
    rest = buf.subarray(pos);
    ops += completed;
    inflight -= completed;
    if (running) {
      const parts = [];
      for (let i = 0; i < completed; i++) parts.push(command());
      inflight += completed;
      socket.write(Buffer.concat(parts));
    } else if (inflight === 0) done();
  });
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const first = [];
  for (let i = 0; i < INFLIGHT; i++) first.push(command());
  inflight = INFLIGHT;
  socket.write(Buffer.concat(first));
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  running = false;
  await finished;
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  socket.destroy();
  return { ops, errors: 0, elapsed, cpu: cpu.user + cpu.system };
}

const fmt = (n) => Math.round(n).toLocaleString("en-US");

const server = await startMemcached();
try {
  const rows = [];
  const createSocketTransport = MODE === "raw" ? null : await loadTransport();
  for (let run = 1; run <= RUNS; run++) {
    if (MODE !== "raw") {
      const r = await benchTransport(createSocketTransport, server.port);
      rows.push({ run, client: "SocketTransport", ...r });
    }
    if (MODE !== "transport") {
      const r = await benchRaw(server.port);
      rows.push({ run, client: "bare socket", ...r });
    }
  }
  console.log(
    `\n${INFLIGHT} in flight, ${KEYS} keys, ${VALUE_SIZE}-byte values, 50/50 get/set, ${SECONDS} s per run, node ${process.version}`,
  );
  console.log("run  client               ops/s  errors  node CPU µs/op");
  for (const r of rows) {
    console.log(
      `${String(r.run).padEnd(4)} ${r.client.padEnd(16)} ${fmt(r.ops / r.elapsed).padStart(9)}  ${String(r.errors).padStart(6)}  ${(r.cpu / r.ops).toFixed(2).padStart(14)}`,
    );
  }
  for (const client of new Set(rows.map((r) => r.client))) {
    const best = Math.max(...rows.filter((r) => r.client === client).map((r) => r.ops / r.elapsed));
    console.log(`best ${client}: ${fmt(best)} ops/s`);
  }
} finally {
  server.stop();
}
