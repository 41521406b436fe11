#!/usr/bin/env node
// Dependency-free bootstrap: makes `npm test`, `npm run demo` and `npm run bench` work as the first command typed on
// a fresh clone. It installs npm dependencies when node_modules is missing and makes sure a `memcached` binary is
// available, because every real-server test needs one and a real-server test must never skip silently.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const log = (msg) => process.stderr.write(`[mcpair bootstrap] ${msg}\n`);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    log(`\`${cmd} ${args.join(" ")}\` failed with exit code ${r.status}`);
    process.exit(r.status ?? 1);
  }
}

// 1. npm dependencies
// `--ignore-scripts`: @prisma/engines' postinstall downloads an engine binary, which fails on a machine without
// internet access (and mcpair's Prisma tests need no engine: the client runs on driver adapters). The one native
// module the tests need, better-sqlite3, is then built explicitly (node-gyp, from source; a few minutes the first time).
if (!existsSync(join(root, "node_modules", ".bin", "turbo"))) {
  log("node_modules missing: installing dependencies (first run only)");
  // `npm install`, not `npm ci`: npm 11 here writes lock files that list only the host platform's optional packages,
  // and `npm ci` rejects those as out of sync; `npm install` still installs the locked versions.
  run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts"]);
}
if (
  existsSync(join(root, "node_modules", "better-sqlite3")) &&
  !existsSync(join(root, "node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node"))
) {
  log("building better-sqlite3 (native module, compiled from source: first run only)");
  run("npm", ["rebuild", "better-sqlite3"]);
}

// 2. memcached
function findMemcached() {
  if (process.env.MEMCACHED_BIN)
    return existsSync(process.env.MEMCACHED_BIN) ? process.env.MEMCACHED_BIN : null;
  for (const p of ["/usr/bin/memcached", "/usr/local/bin/memcached", "/usr/sbin/memcached"])
    if (existsSync(p)) return p;
  try {
    return execFileSync("sh", ["-c", "command -v memcached"], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

// The demo needs no memcached: without one it runs on in-process servers (createMemoryCluster) and says so on its
// first line. So for `npm run demo` a missing memcached is installed when possible (Debian, root; not with
// MCPAIR_NO_INSTALL=1) but is never an error, and the demo's own bootstrap ends here.
if (process.env.npm_lifecycle_event === "predemo") {
  const canInstall =
    process.env.MCPAIR_NO_INSTALL !== "1" &&
    typeof process.getuid === "function" &&
    process.getuid() === 0 &&
    existsSync("/etc/debian_version") &&
    existsSync("/usr/bin/apt-get");
  if (!findMemcached() && canInstall) {
    log("memcached not found: installing it with apt-get (Debian package `memcached`) for the demo");
    const quiet = { cwd: root, stdio: "inherit" };
    if (spawnSync("apt-get", ["update", "-qq"], quiet).status === 0)
      spawnSync("apt-get", ["install", "-y", "-qq", "memcached"], quiet);
  }
  process.exit(0);
}

if (!findMemcached()) {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const isDebian = existsSync("/etc/debian_version") && existsSync("/usr/bin/apt-get");
  if (isRoot && isDebian) {
    log("memcached not found: installing it with apt-get (Debian package `memcached`)");
    run("apt-get", ["update", "-qq"]);
    run("apt-get", ["install", "-y", "-qq", "memcached"]);
  }
  if (!findMemcached()) {
    log(
      "memcached is required for the real-server tests and was not found.\n" +
        "  Install it (Debian/Ubuntu: `sudo apt-get install memcached`, macOS: `brew install memcached`)\n" +
        "  or point MEMCACHED_BIN at a memcached >= 1.6 binary, then run the command again.",
    );
    process.exit(1);
  }
}

// 3. chromium, for the example app's end-to-end test (headless Chromium driven by playwright-core, which cannot
// download browsers without internet access). Debian as root: `apt-get install chromium`; elsewhere the test says
// what to install (or set CHROMIUM_BIN).
function findChromium() {
  if (process.env.CHROMIUM_BIN) return existsSync(process.env.CHROMIUM_BIN) ? process.env.CHROMIUM_BIN : null;
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"])
    if (existsSync(p)) return p;
  return null;
}

if (!findChromium()) {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const isDebian = existsSync("/etc/debian_version") && existsSync("/usr/bin/apt-get");
  if (isRoot && isDebian && process.env.MCPAIR_NO_INSTALL !== "1") {
    log(
      "chromium not found: installing it with apt-get (Debian package `chromium`) for the example's browser test",
    );
    run("apt-get", ["update", "-qq"]);
    run("apt-get", ["install", "-y", "-qq", "chromium"]);
  }
  if (!findChromium())
    log(
      "chromium was not found: the example app's end-to-end test will fail until it is installed\n" +
        "  (Debian/Ubuntu: `sudo apt-get install chromium`) or CHROMIUM_BIN points at a Chromium or Chrome binary.",
    );
}
