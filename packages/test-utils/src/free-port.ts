import { createServer } from "node:net";

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: the kernel picks it (listen on port 0), then it is released.
 * Another process can take it in between, so whoever binds it must be ready to retry ({@link startMemcached} is).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
