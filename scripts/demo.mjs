#!/usr/bin/env node
// `npm run demo`: builds the example app and the packages it uses (quietly: the build's output is shown only when it
// fails), then runs the demo, apps/example/src/demo (arguments pass through: `npm run demo -- --live`).
//
// The demo starts three local memcached servers (in-process ones when memcached is missing, and says so on its first
// line), the bookshop app and a steady load, runs a rolling restart and a kill -9 twice (`replicas: 1`, then mcpair's
// defaults), prints a summary table and writes demo-report.html. `scripts/bootstrap.mjs` (npm's `predemo`) installs
// what a fresh clone lacks first.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const turbo = join(root, "node_modules", ".bin", "turbo");
const build = spawnSync(turbo, ["run", "build", "--filter=@mcpair/example...", "--output-logs=errors-only"], {
  cwd: root,
  encoding: "utf8",
});
if (build.status !== 0) {
  process.stderr.write(
    `${build.stdout ?? ""}${build.stderr ?? ""}${build.error ? String(build.error) : ""}\n`,
  );
  process.stderr.write("mcpair demo: the build failed (output above)\n");
  process.exit(build.status ?? 1);
}
// The demo exits the process itself when it is done (servers, app and load stopped).
await import(pathToFileURL(join(root, "apps", "example", "dist", "demo.js")).href);
