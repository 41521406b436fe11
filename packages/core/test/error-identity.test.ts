/**
 * Error identity across two copies of core. An application that imports `@mcpair/core` from ESM code and requires it
 * from CJS code (or has two versions installed) holds two copies of every error class. An error thrown by one copy
 * must still be recognised by the other: by `instanceof` (for users) and by the health logic (a transport from one
 * copy, the engine from the other: a refused connection must still mark the server down).
 *
 * The check loads the real builds, `dist/index.js` and `dist/index.cjs`, in one plain Node process (outside vitest's
 * module loader, which would otherwise hand out one shared copy).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { hasBrand, McpairError, ServerError, ServerUnavailableError, TimeoutError } from "../src/errors.js";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");

const SCRIPT = `
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
const [dist] = process.argv.slice(1);
const esm = await import(pathToFileURL(dist + "/index.js").href);
const cjs = createRequire(import.meta.url)(dist + "/index.cjs");
const out = {};
out.twoCopies = esm.ServerUnavailableError !== cjs.ServerUnavailableError;
const fromCjs = new cjs.ConnectionError("reset");
out.cjsConnectionIsEsmConnection = fromCjs instanceof esm.ConnectionError;
out.cjsConnectionIsEsmUnavailable = fromCjs instanceof esm.ServerUnavailableError;
out.cjsConnectionIsEsmMcpair = fromCjs instanceof esm.McpairError;
out.cjsConnectionIsError = fromCjs instanceof Error;
out.cjsConnectionIsEsmTimeout = fromCjs instanceof esm.TimeoutError;
out.esmTimeoutIsCjsTimeout = new esm.TimeoutError("slow") instanceof cjs.TimeoutError;
out.esmServerErrorIsCjsUnavailable = new esm.ServerError("x") instanceof cjs.ServerUnavailableError;
out.plainErrorIsMcpair = new Error("x") instanceof esm.McpairError;
class Mine extends esm.ServerError {}
out.userSubclassOrdinary = !(new esm.ServerError("x") instanceof Mine) && new Mine("x") instanceof Mine;
out.userSubclassIsServerError = new Mine("x") instanceof cjs.ServerError;
// Health across copies: the engine of the ESM build, a transport of the CJS build whose server refuses connections.
const transport = new cjs.MemoryTransport({ address: "a:1" });
transport.down();
const client = new esm.PairClient({
  servers: ["a:1", "b:1"],
  replicas: 2,
  health: { checkInterval: 0, failureThreshold: 3, probeInterval: 60000, maxProbeInterval: 60000 },
  transport: (s) => (s.name === "a:1" ? transport : new cjs.MemoryTransport({ address: s.name })),
});
await client.get("k").catch(() => undefined);
out.downAfterOneRefusal = client.servers.find((s) => s.name === "a:1").state;
client.destroy();
console.log(JSON.stringify(out));
`;

function runChild(): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", SCRIPT, dist],
      { timeout: 20_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`child failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as Record<string, unknown>);
      },
    );
  });
}

describe("error identity", () => {
  it("instanceof checks the brand, within one copy", () => {
    const e = new ServerUnavailableError("down");
    expect(e).toBeInstanceOf(McpairError);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(TimeoutError);
    expect(new ServerError("x")).not.toBeInstanceOf(ServerUnavailableError);
    expect(hasBrand(e, "ServerUnavailableError")).toBe(true);
    expect(hasBrand({ message: "x" }, "McpairError")).toBe(false);
    expect(hasBrand(null, "McpairError")).toBe(false);
    // Brands do not show in JSON or enumerable keys.
    expect(Object.getOwnPropertySymbols(e)).toEqual([]);
  });

  it("the ESM and CJS builds loaded in one process recognise each other's errors, and health counts them", async () => {
    if (!existsSync(join(dist, "index.js")) || !existsSync(join(dist, "index.cjs"))) {
      throw new Error(
        "packages/core/dist is missing: build first (`npx turbo run build --filter=@mcpair/core`)",
      );
    }
    const r = await runChild();
    expect(r).toEqual({
      twoCopies: true,
      cjsConnectionIsEsmConnection: true,
      cjsConnectionIsEsmUnavailable: true,
      cjsConnectionIsEsmMcpair: true,
      cjsConnectionIsError: true,
      cjsConnectionIsEsmTimeout: false,
      esmTimeoutIsCjsTimeout: true,
      esmServerErrorIsCjsUnavailable: false,
      plainErrorIsMcpair: false,
      userSubclassOrdinary: true,
      userSubclassIsServerError: true,
      // A refused connection from the other copy's transport counts fully: the server is marked down at once.
      downAfterOneRefusal: "down",
    });
  });
});
