#!/usr/bin/env node
// `npm run demo`: the reboot crunch, with and without mcpair, on real memcached processes.
//
// Three local memcached servers sit in front of a simulated database (every load is counted). A working set is
// warmed through `fetch`, then one server is rebooted (killed and started empty, as a kernel update does) while reads
// continue. With `replicas: 1` (what plain clients do) every key that server held goes back to the database; with
// mcpair's pairs (`replicas: 2`) they are served by their second copy and written back to the rebooted server.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import net from "node:net";
import { createClient } from "@mcpair/memcached";

const KEYS = Number(process.env.MCPAIR_DEMO_KEYS ?? 20_000);
const bin =
  process.env.MEMCACHED_BIN ??
  ["/usr/bin/memcached", "/usr/local/bin/memcached"].find(existsSync) ??
  "memcached";
const asRoot = typeof process.getuid === "function" && process.getuid() === 0;

async function freePort() {
  const srv = net.createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address();
  srv.close();
  return port;
}

async function ready(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => s.write("version\r\n"));
      s.once("data", (d) => {
        s.destroy();
        resolve(d.toString().startsWith("VERSION"));
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`memcached on port ${port} did not start`);
}

const children = new Set();
async function startServer(port) {
  const args = ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "64", "-t", "1"];
  if (asRoot) args.push("-u", "memcache");
  const child = spawn(bin, args, { stdio: "ignore" });
  children.add(child);
  child.once("exit", () => children.delete(child));
  await ready(port);
  return child;
}
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

const db = { loads: 0 };
const loader = async (key) => {
  db.loads++;
  await new Promise((r) => setTimeout(r, 1)); // a ~1 ms query
  return { id: key, payload: "x".repeat(200) };
};

async function scenario(replicas) {
  const ports = [await freePort(), await freePort(), await freePort()];
  const procs = await Promise.all(ports.map(startServer));
  const servers = ports.map((p) => `127.0.0.1:${p}`);
  const client = createClient({
    servers,
    replicas,
    timeout: 200,
    health: { failureThreshold: 1, probeInterval: 100 },
  });
  const keys = Array.from({ length: KEYS }, (_, i) => `item:${i}`);

  // Warm the cache through the read-through path.
  for (let i = 0; i < keys.length; i += 500) {
    await Promise.all(keys.slice(i, i + 500).map((k) => client.fetch(k, loader)));
  }
  const warm = db.loads;
  db.loads = 0;

  // Reboot server 0: killed, started again on the same port, empty.
  const victim = 0;
  procs[victim].kill("SIGKILL");
  await once(procs[victim], "exit");
  procs[victim] = await startServer(ports[victim]);
  await new Promise((r) => setTimeout(r, 300)); // let the client see it come back

  // Read the whole working set once, as the application would over the next minutes.
  const t0 = performance.now();
  for (let i = 0; i < keys.length; i += 500) {
    await Promise.all(keys.slice(i, i + 500).map((k) => client.fetch(k, loader)));
  }
  const ms = performance.now() - t0;
  const after = db.loads;
  const stats = client.stats();
  await client.close();
  for (const p of procs) p.kill("SIGKILL");
  return { replicas, warm, after, ms, stats };
}

console.log(`mcpair demo: ${KEYS} keys on 3 local memcached servers (${bin}), one server rebooted empty\n`);
const plain = await scenario(1);
const paired = await scenario(2);
const pct = (n) => `${((100 * n) / KEYS).toFixed(2)}%`;
const rows = [
  ["", "plain hashing (replicas: 1)", "mcpair pairs (replicas: 2)"],
  [
    "database loads after the reboot",
    `${plain.after} (${pct(plain.after)} of keys)`,
    `${paired.after} (${pct(paired.after)} of keys)`,
  ],
  ["reads served by the 2nd copy", String(plain.stats.hitsReplica), String(paired.stats.hitsReplica)],
  ["copies written back to the rebooted server", String(plain.stats.repairs), String(paired.stats.repairs)],
  ["time to read the working set", `${plain.ms.toFixed(0)} ms`, `${paired.ms.toFixed(0)} ms`],
];
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const [i, r] of rows.entries()) {
  console.log(r.map((cell, c) => cell.padEnd(widths[c])).join("  |  "));
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("--+--"));
}
const saved = plain.after - paired.after;
console.log(
  `\nmcpair spared the database ${saved} loads (${pct(saved)} of the working set) for one reboot.` +
    " A rolling restart of every server multiplies that by the number of servers.",
);
process.exit(0);
