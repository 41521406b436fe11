import { defineConfig } from "tsup";

// An application, not a library: ESM only, no type declarations. The test harness that runs the local memcached
// processes (`@mcpair/test-utils`, private, shipped as TypeScript source) is bundled in; its vitest hook (unused
// here) gets a stub, so running the demo never loads vitest.
export default defineConfig({
  entry: { index: "src/index.ts", demo: "src/bin/demo.ts", server: "src/bin/server.ts" },
  format: ["esm"],
  dts: false,
  clean: true,
  sourcemap: true,
  target: "node20",
  noExternal: ["@mcpair/test-utils"],
  esbuildPlugins: [
    {
      name: "stub-vitest",
      setup(build) {
        build.onResolve({ filter: /^vitest$/ }, () => ({ path: "vitest", namespace: "stub-vitest" }));
        build.onLoad({ filter: /.*/, namespace: "stub-vitest" }, () => ({
          contents: "export function afterAll() {}",
          loader: "js",
        }));
      },
    },
  ],
});
