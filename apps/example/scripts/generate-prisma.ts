// Generates the bookshop's Prisma clients (SQLite and PostgreSQL) into src/generated/ (git-ignored), offline.
//
// Prisma 7's CLI tries to download its schema engine before every command, even `generate`, which needs none:
// PRISMA_SCHEMA_ENGINE_BINARY=/bin/false skips the download, CHECKPOINT_DISABLE the update check. A client newer than
// its schema is left as it is.
import { execFileSync } from "node:child_process";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const app = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(dirname(createRequire(import.meta.url).resolve("prisma/package.json")), "build", "index.js");

export function generatePrismaClients(): void {
  for (const kind of ["sqlite", "postgres"]) {
    const schema = join(app, "prisma", `${kind}.prisma`);
    const out = join(app, "src", "generated", kind);
    const marker = join(out, "client.ts");
    if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(schema).mtimeMs) continue;
    execFileSync(process.execPath, [cli, "generate", "--schema", schema], {
      stdio: ["ignore", "ignore", "inherit"],
      env: {
        ...process.env,
        PRISMA_SCHEMA_ENGINE_BINARY: "/bin/false",
        CHECKPOINT_DISABLE: "1",
        PRISMA_HIDE_UPDATE_MESSAGE: "1",
      },
    });
    // The generated client is TypeScript ESM: tsx and vitest load it as ESM only with this next to it.
    writeFileSync(join(out, "package.json"), '{ "type": "module" }\n');
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) generatePrismaClients();
