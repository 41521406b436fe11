// The demo as a process: it falls back to in-process servers when memcached is missing (and says so on its first
// line), and it leaves no memcached process behind, whether it is stopped with Ctrl-C or killed with SIGKILL.
import { waitFor } from "@mcpair/test-utils";
import { describe, expect, it } from "vitest";
import { alive, childrenOf, spawnDemo } from "./support/demo-process.js";

const REPORT = ["--report", "../../.tmp/example/demo-report.process.html"];

describe("the demo process", () => {
  it("falls back to the in-process cluster when memcached is absent, and says so first", async () => {
    const demo = spawnDemo(["--short", ...REPORT], { MEMCACHED_BIN: "/nonexistent", MCPAIR_NO_INSTALL: "1" });
    try {
      await demo.line(/drain s1/);
      expect(demo.lines[0]).toBe(
        "mcpair demo: memcached not found (MEMCACHED_BIN=/nonexistent is not an executable file): " +
          "using 3 in-process cache servers (createMemoryCluster) instead of memcached processes",
      );
      expect(childrenOf(demo.child.pid!, "memcached")).toEqual([]);
    } finally {
      demo.child.kill("SIGINT");
    }
    expect(await demo.exited).toEqual({ code: 130, signal: null });
    expect(demo.lines).toContain("SIGINT: stopping the load, the app and the cache servers…");
  });

  it("stops its memcached processes on Ctrl-C (live mode)", async () => {
    const demo = spawnDemo(["--short", "--live", ...REPORT]);
    let servers: number[] = [];
    try {
      await demo.line(/^live dashboard: http/);
      expect(demo.lines[0]).toMatch(/^mcpair demo: 3 memcached processes/);
      servers = await waitFor(() => {
        const found = childrenOf(demo.child.pid!, "memcached");
        return found.length === 3 ? found : undefined;
      });
    } finally {
      demo.child.kill("SIGINT");
    }
    expect((await demo.exited).code).toBe(130);
    expect(servers.filter(alive)).toEqual([]);
  });

  it("leaves no memcached behind when it is killed with SIGKILL (the watchdog stops them)", async () => {
    const demo = spawnDemo(["--short", ...REPORT]);
    let servers: number[] = [];
    try {
      await demo.line(/steady load/);
      servers = childrenOf(demo.child.pid!, "memcached");
      expect(servers).toHaveLength(3);
    } finally {
      demo.child.kill("SIGKILL");
    }
    await demo.exited;
    await waitFor(() => servers.every((pid) => !alive(pid)), {
      timeout: 5000,
      what: "the orphans to be killed",
    });
  });
});
