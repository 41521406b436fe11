import { runTransportConformance } from "@mcpair/core/testing";
import { startMemcached, useMemcachedCleanup } from "@mcpair/test-utils";
import { createSocketTransport } from "../src/socket-transport.js";

useMemcachedCleanup();

// The same suite the in-memory transport passes, against a real memcached 1.6.18.
runTransportConformance("SocketTransport (TCP)", async () => {
  const server = await startMemcached();
  const transport = createSocketTransport({ host: server.host, port: server.port });
  return {
    transport,
    advance: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000)),
    restart: () => server.restart(),
    close: async () => {
      transport.destroy();
      await server.kill();
    },
  };
});
