#!/usr/bin/env node
// `npm run bench`: runs bench/index.ts (TypeScript) with tsx's loader in a child Node process, passing the arguments
// through (`npm run bench -- --only w1,storm`). A plain `node --import tsx` rather than `npx tsx`: no npx lookup and
// no extra tsx CLI process between us and the benchmark. See bench/index.ts for the options.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const child = spawn(
  process.execPath,
  ["--import", "tsx", join(root, "bench", "index.ts"), ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: "inherit",
  },
);

// Ctrl-C reaches the whole process group: the benchmark stops its children and servers itself, so wait for it.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (child.exitCode === null) child.kill(signal);
  });
}

child.on("exit", (code, signal) => {
  process.exitCode = code ?? 128 + (constants.signals[signal] ?? 0);
});
child.on("error", (error) => {
  console.error(`bench: could not start node: ${error.message}`);
  process.exitCode = 1;
});
