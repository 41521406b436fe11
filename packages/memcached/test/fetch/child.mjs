// One client process of fetch.test.ts. It imports the built package (`npm run build` first), like an application
// would, and talks to its parent over stdio:
//
//   argv[2]  JSON config: { id, servers, client? } (client: createClient options besides servers)
//   stdout   one JSON object per line:
//              {type:"ready", id, pid}                        the client is up (every server's first check done)
//              {type:"armed", batch}                          a batch waits for "go"
//              {type:"loading", batch, call, key}             the loader started (call: this process's loader count)
//              {type:"result", batch, loaderCalls, values, errors, stats}
//                values/errors: {shown value or "Name: message": number of calls}
//              {type:"stats", req, stats}
//              {type:"bye", id}                               close() resolved; the process then exits by itself
//   stdin    one command per line:
//              {cmd:"arm", batch, key, n, options?, gate?, delayMs?}   prepare `n` concurrent fetches of `key`
//              go                                                      start every armed batch
//              {cmd:"fetch", ...same as arm}                           start one batch at once
//              {cmd:"release", call, outcome:"value"|"throw", value?}  finish a gated loader call
//              {cmd:"stats", req}
//              {cmd:"exit"}                                            close the client, end stdin, exit
//
// The loader counts its calls and announces each one before doing anything else. A gated loader then waits for the
// parent's "release" (so the parent decides when, and how, a load ends: it can also SIGKILL the process instead);
// otherwise it waits `delayMs` (default 0) and returns `${id}:${key}:${call}`.

import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@mcpair/memcached";

const cfg = JSON.parse(process.argv[2] ?? "{}");
const id = cfg.id ?? `p${process.pid}`;
const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

const client = createClient({ ...(cfg.client ?? {}), servers: cfg.servers });

const counters = () => {
  const { servers, rewarm, ...s } = client.stats();
  return { ...s, states: servers.map((x) => x.state) };
};

let loaderCalls = 0;
/** Gated loader calls waiting for the parent, by call number. */
const gates = new Map();
/** Batches waiting for "go". */
const armed = [];
const running = new Set();

function loaderFor(batch) {
  return async (key) => {
    const call = ++loaderCalls;
    batch.loaderCalls++;
    out({ type: "loading", batch: batch.batch, call, key });
    if (batch.gate) {
      const how = await new Promise((resolve) => gates.set(call, resolve));
      if (how.outcome === "throw") throw new Error(`loader ${id}#${call} failed`);
      return how.value ?? `${id}:${key}:${call}`;
    }
    if (batch.delayMs > 0) await sleep(batch.delayMs);
    return `${id}:${key}:${call}`;
  };
}

async function run(spec) {
  const batch = { ...spec, loaderCalls: 0 };
  const load = loaderFor(batch);
  const values = {};
  const errors = {};
  const calls = Array.from({ length: spec.n ?? 1 }, () =>
    client.fetch(spec.key, load, spec.options ?? {}).then(
      (v) => {
        const shown = JSON.stringify(v);
        values[shown] = (values[shown] ?? 0) + 1;
      },
      (e) => {
        const shown = `${e?.name ?? "Error"}: ${e?.message ?? String(e)}`;
        errors[shown] = (errors[shown] ?? 0) + 1;
      },
    ),
  );
  await Promise.all(calls);
  out({
    type: "result",
    batch: spec.batch,
    loaderCalls: batch.loaderCalls,
    values,
    errors,
    stats: counters(),
  });
}

function start(spec) {
  const p = run(spec).catch((e) => out({ type: "crash", batch: spec.batch, error: String(e?.stack ?? e) }));
  running.add(p);
  void p.finally(() => running.delete(p));
}

async function exit(rl) {
  rl.close();
  process.stdin.destroy();
  await Promise.all(running);
  await client.close();
  out({ type: "bye", id });
  // No process.exit(): the process must end by itself once the client is closed (no handle left behind).
}

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const text = line.trim();
  if (text === "") return;
  if (text === "go") {
    for (const spec of armed.splice(0)) start(spec);
    return;
  }
  const cmd = JSON.parse(text);
  if (cmd.cmd === "arm") {
    armed.push(cmd);
    out({ type: "armed", batch: cmd.batch });
  } else if (cmd.cmd === "fetch") start(cmd);
  else if (cmd.cmd === "release") {
    const resolve = gates.get(cmd.call);
    gates.delete(cmd.call);
    resolve?.(cmd);
  } else if (cmd.cmd === "stats") out({ type: "stats", req: cmd.req, stats: counters() });
  else if (cmd.cmd === "exit") void exit(rl);
});

// Ready once every server's first health check has answered or failed: status() queues behind it on each connection.
await client.status();
out({ type: "ready", id, pid: process.pid });
