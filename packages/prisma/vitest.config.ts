import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    reporters: ["default", ["json", { outputFile: "../../.tmp/vitest/prisma.json" }]],
    include: ["test/**/*.test.ts"],
    // Generates the Prisma clients (offline) and creates the PostgreSQL test database.
    globalSetup: ["test/support/global-setup.ts"],
    // Type tests: `cache` accepted on reads, rejected on writes, result types unchanged.
    typecheck: { enabled: true, include: ["test/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
