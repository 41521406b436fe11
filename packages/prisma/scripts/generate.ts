// Generates the test Prisma clients (SQLite and PostgreSQL) offline, into test/generated/ (git-ignored).
//
// Prisma 7's CLI tries to download its schema engine before every command, even `generate`, which needs no engine:
// offline that fails with ENOTFOUND. Pointing PRISMA_SCHEMA_ENGINE_BINARY at /bin/false skips the download (the
// engine is never run by `generate`); CHECKPOINT_DISABLE stops the update check. Measured: about 2 s per schema.
// Skips a schema whose generated client is newer than the schema file.
import { execFileSync } from "node:child_process";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const testDir = join(here, "..", "test");
const cli = join(dirname(createRequire(import.meta.url).resolve("prisma/package.json")), "build", "index.js");

export function generateClients({ force = false }: { force?: boolean } = {}): void {
  for (const name of ["sqlite", "postgres"]) {
    const schema = join(testDir, "prisma", `${name}.prisma`);
    const out = join(testDir, "generated", name);
    const marker = join(out, "client.ts");
    if (!force && existsSync(marker) && statSync(marker).mtimeMs >= statSync(schema).mtimeMs) continue;
    execFileSync(process.execPath, [cli, "generate", "--schema", schema], {
      stdio: ["ignore", "ignore", "inherit"],
      env: {
        ...process.env,
        PRISMA_SCHEMA_ENGINE_BINARY: "/bin/false",
        CHECKPOINT_DISABLE: "1",
        PRISMA_HIDE_UPDATE_MESSAGE: "1",
      },
    });
    // The generated client is TypeScript ESM; tsx and vitest load it as ESM only with this next to it.
    writeFileSync(join(out, "package.json"), '{ "type": "module" }\n');
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  generateClients({ force: process.argv.includes("--force") });
