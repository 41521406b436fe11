import type { ClientOptions, PairClient } from "@mcpair/memcached";

/** One cache server this process started, with the controls the dashboard's buttons and the demo use. */
export interface LocalServer {
  /** The server's name on the ring (`127.0.0.1:<port>`), as `PairClient` knows it. */
  readonly name: string;
  /** Short label for tables and buttons: `s1`, `s2`, ... */
  readonly label: string;
  readonly running: boolean;
  /** Crash: SIGKILL (kill -9). Its data is gone; clients find out from failed requests. */
  kill(): Promise<void>;
  /** Planned stop: SIGTERM, waits for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same address, empty (as after a reboot). */
  start(): Promise<void>;
}

/** Three (or n) local cache servers: real memcached processes, or in-process servers when memcached is missing. */
export interface LocalCluster {
  readonly kind: "memcached" | "memory";
  /** What runs: "3 memcached processes (/usr/bin/memcached) on ...". */
  readonly description: string;
  /** Why in-process servers run instead of memcached (`kind: "memory"` only). */
  readonly fallbackReason?: string;
  readonly servers: readonly LocalServer[];
  /** A client of these servers; the options are mcpair's (`replicas`, `health`, `rewarm`...). */
  createClient(options?: Omit<ClientOptions, "servers">): PairClient;
  /** Stops every server. Idempotent. */
  close(): Promise<void>;
}
