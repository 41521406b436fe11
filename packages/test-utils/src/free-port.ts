import { createServer, type Server } from "node:net";

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: the kernel picks it (listen on port 0), then it is released.
 * Another process can take it in between, so whoever binds it must be ready to retry ({@link startMemcached} is).
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.unref();
  const port = await listenOnLoopback(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Listens on a kernel-chosen port of 127.0.0.1 and resolves that port. */
export function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
}
