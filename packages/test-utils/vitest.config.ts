import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    reporters: ["default", ["json", { outputFile: "../../.tmp/vitest/test-utils.json" }]],
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
  },
});
