// The `mcpair` command line, run as the built `dist/cli.js` in a child process against real memcached servers.
import { type MemcachedServer, startMemcached, useMemcachedCleanup, waitFor } from "@mcpair/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../src/index.js";
import { assertBuilt, runCli } from "./chaos/procs.js";

useMemcachedCleanup();

let servers: MemcachedServer[];
let list: string;

beforeAll(async () => {
  assertBuilt();
  servers = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  list = servers.map((s) => s.address).join(",");
});

afterAll(async () => {
  for (const s of servers) if (s.paused) s.resume();
});

describe("usage errors exit 2 with the usage text", () => {
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ["no command", [], {}, /missing command/],
    ["an unknown command", ["frobnicate", "--servers", "127.0.0.1:1"], {}, /unknown command "frobnicate"/],
    ["no --servers and no MCPAIR_SERVERS", ["status"], {}, /missing --servers/],
    ["drain without a server", ["drain", "--servers", "127.0.0.1:1"], {}, /drain: missing <server>/],
    ["an unknown option", ["status", "--servers", "127.0.0.1:1", "--bogus"], {}, /Unknown option '--bogus'/],
    [
      "a bad --ttl",
      ["drain", "127.0.0.1:1", "--servers", "127.0.0.1:1", "--ttl", "soon"],
      {},
      /--ttl must be/,
    ],
    [
      "a bad --rate",
      ["rewarm", "127.0.0.1:1", "--servers", "127.0.0.1:1", "--rate", "0"],
      {},
      /--rate must be/,
    ],
    [
      "a bad server list",
      ["status", "--servers", "127.0.0.1:99999"],
      {},
      /--servers: servers\[0\]: invalid port/,
    ],
    [
      "a server not in the list",
      ["drain", "127.0.0.1:2", "--servers", "127.0.0.1:1"],
      {},
      /is not one of --servers/,
    ],
    [
      "an extra argument",
      ["undrain", "127.0.0.1:1", "x", "--servers", "127.0.0.1:1"],
      {},
      /unexpected argument "x"/,
    ],
  ];
  it.each(cases)("%s", async (_name, args, env, message) => {
    const r = await runCli(args, env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("Usage: mcpair <command>");
    expect(r.stdout).toBe("");
  });

  it("--help prints the usage and exits 0", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("mcpair <command>");
    expect(r.stdout).toContain("MCPAIR_SERVERS");
  });
});

describe("status", () => {
  it("prints a table of every server, reachable or not, and exits 0", async () => {
    const down = await startMemcached();
    await down.kill();
    const r = await runCli(["status", "--servers", `${list},${down.address}`, "--timeout", "300"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(
      /^SERVER\s+STATE\s+REACHABLE\s+DRAINING\s+REWARM\s+ITEMS\s+HIT RATIO\s+PID\s+UPTIME\s+NOTE$/,
    );
    expect(lines).toHaveLength(5);
    for (const s of servers) {
      const row = lines.find((l) => l.startsWith(s.address))!;
      expect(row).toMatch(
        // Started moments ago and never rewarmed: "starting" for its first 30 s (the clients may not know it yet).
        new RegExp(`^${s.address}\\s+(up|starting)\\s+yes\\s+no\\s+-\\s+\\d+\\s+\\S+\\s+${s.pid}\\s+\\d+s`),
      );
    }
    const unreachable = lines.find((l) => l.startsWith(down.address))!;
    expect(unreachable).toMatch(/\s+down\s+NO\s+-\s+-\s+-\s+-\s+-\s+-\s+.*(ECONNREFUSED|connect)/);
  });

  it("--json prints machine output; the server list may come from MCPAIR_SERVERS", async () => {
    const r = await runCli(["status", "--json"], { MCPAIR_SERVERS: list });
    expect(r.code).toBe(0);
    const statuses = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(statuses.map((s) => s.name)).toEqual(servers.map((s) => s.address));
    for (const [i, s] of statuses.entries()) {
      expect(s).toMatchObject({ reachable: true, draining: false, pid: servers[i]!.pid });
      expect(["up", "starting"]).toContain(s.state);
      expect(typeof s.items).toBe("number");
      expect(typeof s.uptime).toBe("number");
    }
  });
});

describe("drain and undrain", () => {
  it("drain writes the marker every client sees; status shows it with the reason; undrain removes it", async () => {
    const target = servers[1]!;
    const client = createClient({ servers: list.split(","), health: { checkInterval: 100 } });
    try {
      const drained = await runCli(["drain", target.address, "--servers", list, "--reason", "kernel 6.1.99"]);
      expect(drained.code, drained.stderr).toBe(0);
      expect(drained.stdout).toContain(`draining ${target.address}`);
      // An application client (another process would do the same) stops reading it on its next check.
      await waitFor(() => client.servers.find((s) => s.name === target.address)?.state === "draining", {
        timeout: 5000,
        what: "the client to see the drain",
      });

      const status = await runCli(["status", "--servers", list, "--json"]);
      const row = (JSON.parse(status.stdout) as Array<Record<string, unknown>>)[1]!;
      expect(row).toMatchObject({ state: "draining", draining: true, drain: { reason: "kernel 6.1.99" } });
      const table = await runCli(["status", "--servers", list]);
      expect(table.stdout).toMatch(
        new RegExp(`${target.address}\\s+draining\\s+yes\\s+yes: kernel 6\\.1\\.99 \\(since `),
      );

      const undrained = await runCli(["undrain", target.address, "--servers", list]);
      expect(undrained.code, undrained.stderr).toBe(0);
      await waitFor(() => client.servers.find((s) => s.name === target.address)?.state === "up", {
        timeout: 5000,
        what: "the client to see the drain end",
      });
      const after = JSON.parse((await runCli(["status", "--json", "--servers", list])).stdout) as Array<
        Record<string, unknown>
      >;
      expect(after[1]).toMatchObject({ draining: false });
      expect(["up", "starting"]).toContain(after[1]!.state);
    } finally {
      await client.close();
    }
  });

  it("names servers as configured; --ttl sets the marker's lifetime", async () => {
    // "127.0.0.1" alone means port 11211, which is not configured: a usage error, not a silent no-op.
    const r = await runCli(["drain", "127.0.0.1", "--servers", list]);
    expect(r.code).toBe(2);
    const ok = await runCli(["drain", servers[0]!.address, "--servers", list, "--ttl", "60"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("expires in 60 s");
    expect((await runCli(["undrain", servers[0]!.address, "--servers", list])).code).toBe(0);
  });

  it("exits 1 when the server cannot take the marker", async () => {
    const gone = await startMemcached();
    await gone.kill();
    const servers2 = `${list},${gone.address}`;
    const r = await runCli(["drain", gone.address, "--servers", servers2, "--timeout", "300"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`drain ${gone.address} failed`));
    const u = await runCli(["undrain", gone.address, "--servers", servers2, "--timeout", "300"]);
    expect(u.code).toBe(1);
  });

  it("exits 1 when the server is paused (times out)", async () => {
    const paused = await startMemcached();
    paused.pause();
    try {
      const r = await runCli([
        "drain",
        paused.address,
        "--servers",
        `${list},${paused.address}`,
        "--timeout",
        "200",
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/failed/);
    } finally {
      paused.resume();
    }
  });
});

describe("rewarm", () => {
  it("copies back exactly the keys a restarted server should hold, printing progress", async () => {
    // No automatic rewarm in this process: the CLI's is the one under test.
    const client = createClient({ servers: list.split(","), keyPrefix: "rw:", rewarm: false });
    const target = servers[2]!;
    try {
      const keys = Array.from({ length: 600 }, (_, i) => `key${i}`);
      await client.setMany(keys.map((k) => [k, `value of ${k}`]));
      const expected = keys.filter((k) => client.replicasOf(k).includes(target.address)).length;
      expect(expected).toBeGreaterThan(100);
      await target.restart();
      expect(Number((await target.stats()).curr_items)).toBe(0);

      const r = await runCli([
        "rewarm",
        target.address,
        "--servers",
        list,
        "--rate",
        "5000",
        "--concurrency",
        "8",
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(
        new RegExp(`rewarm ${target.address}: scanned \\d+, candidates ${expected}, copied ${expected}`),
      );
      expect(r.stdout).toMatch(/done in \d+\.\d s/);
      expect(Number((await target.stats()).curr_items)).toBe(expected);

      // Run again: everything is there already, nothing is overwritten.
      const again = await runCli(["rewarm", target.address, "--servers", list]);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(new RegExp(`candidates ${expected}, copied 0, conflicts ${expected}`));
    } finally {
      await client.close();
    }
  });

  it("exits 1 when the server to rewarm is unreachable", async () => {
    const gone = await startMemcached();
    await gone.kill();
    const r = await runCli([
      "rewarm",
      gone.address,
      "--servers",
      `${list},${gone.address}`,
      "--timeout",
      "300",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unreachable/);
  });
});
