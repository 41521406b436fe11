import { memcachedBinary } from "@mcpair/test-utils";
import type { LocalCluster } from "./local-cluster.js";
import { startMemcachedProcesses } from "./memcached-processes.js";
import { startMemoryCluster } from "./memory-cluster.js";

/**
 * Starts `count` local cache servers: real memcached processes whenever a memcached binary is found
 * (`MEMCACHED_BIN`, else `memcached` on PATH or in the usual bin/sbin folders), otherwise in-process servers, with
 * the reason in `fallbackReason`.
 */
export async function startLocalCluster(count = 3): Promise<LocalCluster> {
  let bin: string;
  try {
    bin = memcachedBinary();
  } catch {
    const why = process.env.MEMCACHED_BIN
      ? `memcached not found (MEMCACHED_BIN=${process.env.MEMCACHED_BIN} is not an executable file)`
      : "memcached not found (not on PATH, MEMCACHED_BIN not set)";
    return startMemoryCluster(count, why);
  }
  try {
    return await startMemcachedProcesses(count, bin);
  } catch (error) {
    return startMemoryCluster(count, `${bin} did not start (${(error as Error).message.split("\n")[0]})`);
  }
}
