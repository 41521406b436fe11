import { spawnSync } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { HarnessError } from "./harness-error.js";

const INSTALL_HINT =
  "Install memcached >= 1.6 (Debian/Ubuntu: `sudo apt-get install memcached`, macOS: `brew install memcached`) " +
  "or set MEMCACHED_BIN to the path of a memcached binary. Real-server tests fail rather than skip without it.";

// Package managers put memcached in sbin on some systems, and sbin is often missing from a non-root PATH.
const EXTRA_DIRS = ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/usr/local/sbin", "/opt/homebrew/bin"];

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The first executable called `name` on PATH (then in the usual bin/sbin folders), or `undefined`. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter((d) => d !== ""), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The memcached binary the harness runs: `MEMCACHED_BIN` when set, else `memcached` on PATH.
 *
 * @throws {HarnessError} `ERR_MCPAIR_TEST_MEMCACHED_NOT_FOUND`, with install instructions, when there is none.
 */
export function memcachedBinary(): string {
  const fromEnv = process.env.MEMCACHED_BIN;
  if (fromEnv !== undefined && fromEnv !== "") {
    if (isExecutableFile(fromEnv)) return fromEnv;
    throw new HarnessError(
      `MEMCACHED_BIN is set to ${JSON.stringify(fromEnv)}, which is not an executable file. ${INSTALL_HINT}`,
      {
        code: "ERR_MCPAIR_TEST_MEMCACHED_NOT_FOUND",
      },
    );
  }
  const found = findExecutable("memcached");
  if (found !== undefined) return found;
  throw new HarnessError(`memcached was not found on PATH. ${INSTALL_HINT}`, {
    code: "ERR_MCPAIR_TEST_MEMCACHED_NOT_FOUND",
  });
}

const helpCache = new Map<string, string>();

/** `memcached -h` output, cached per binary. */
function helpText(bin: string): string {
  let text = helpCache.get(bin);
  if (text === undefined) {
    const r = spawnSync(bin, ["-h"], { encoding: "utf8", timeout: 5000 });
    text = `${r.stdout ?? ""}${r.stderr ?? ""}`;
    helpCache.set(bin, text);
  }
  return text;
}

/** Whether this memcached build was compiled with TLS (`-Z, --enable-ssl` in its help). */
export function memcachedSupportsTls(bin: string): boolean {
  return helpText(bin).includes("--enable-ssl");
}

/** The account memcached drops to when started as root (it refuses to run as root without `-u`). */
export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
}

let runAsCache: RunAsUser | null | undefined;

function lookupUser(name: string): RunAsUser | undefined {
  const uid = spawnSync("id", ["-u", name], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", name], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * `undefined` unless this process runs as root; then the `memcache` account (created by the Debian package), or
 * `root` when that account does not exist.
 */
export function memcachedRunAsUser(): RunAsUser | undefined {
  if (runAsCache === undefined) {
    runAsCache =
      process.getuid?.() === 0 ? (lookupUser("memcache") ?? { name: "root", uid: 0, gid: 0 }) : null;
  }
  return runAsCache ?? undefined;
}
