import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { PairClient } from "@mcpair/memcached";
import { HttpError, type Route, sendJson } from "../http.js";
import type { LocalCluster } from "../local-cluster/local-cluster.js";
import type { Metrics, Sample } from "../metrics.js";
import { dashboardPage } from "./page.js";

/** One cache server as the dashboard shows it. */
export interface ServerView {
  label: string;
  name: string;
  /** The app's client's view: up, draining, down, probing, recovering; `rewarming` while a rewarm copies to it. */
  state: string;
  /** Whether this process started the server (so the kill/restart buttons work), and whether it runs. */
  local: boolean;
  running: boolean;
  items: number | null;
  /** get_hits / (get_hits + get_misses) since the server started. */
  hitRatio: number | null;
  /** Progress of the latest rewarm to this server, 0..1, while it runs. */
  rewarm: { copied: number; candidates: number; progress: number | null; running: boolean } | null;
}

/** A labelled instant on the charts: a button press, a step of the demo scenario. */
export interface Mark {
  t: number;
  label: string;
}

export interface Dashboard {
  routes: Route[];
  /** Draws a vertical line labelled `label` on every open dashboard's charts (now). */
  mark(label: string): void;
  /** The servers as the page shows them (the e2e test and the demo read it too). */
  servers(): Promise<ServerView[]>;
  close(): void;
}

const requireFromHere = createRequire(import.meta.url);
/** uPlot is served from this app's own dependencies: the dashboard works offline, with no CDN. */
function asset(path: string): string {
  return readFileSync(requireFromHere.resolve(path), "utf8");
}

type Action = "drain" | "undrain" | "kill" | "restart" | "rewarm";
const ACTIONS: readonly Action[] = ["drain", "undrain", "kill", "restart", "rewarm"];

/**
 * `/dashboard`: each server's state, items and hit ratio; database queries/s and hit ratio over time, live over
 * Server-Sent Events; buttons to drain, kill, restart and rewarm each server.
 */
export function createDashboard(options: {
  cache: PairClient;
  metrics: Metrics;
  cluster?: LocalCluster | undefined;
  /** Shown in the page header: what the servers are (real processes or in-process). */
  backend: string;
}): Dashboard {
  const { cache, metrics, cluster } = options;
  const marks: Mark[] = [];
  const streams = new Set<ServerResponse>();
  let uplot: { js: string; css: string } | undefined;

  const send = (res: ServerResponse, event: string, data: unknown) =>
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const broadcast = (event: string, data: unknown) => {
    for (const res of streams) send(res, event, data);
  };

  const mark = (label: string) => {
    const m = { t: Date.now() / 1000, label };
    marks.push(m);
    if (marks.length > 200) marks.shift();
    broadcast("mark", m);
  };

  async function servers(): Promise<ServerView[]> {
    const status = await cache.status();
    const rewarms = cache.stats().rewarm;
    return status.map((s, i) => {
      const local = cluster?.servers.find((l) => l.name === s.name);
      const r = rewarms.find((x) => x.server === s.name);
      const running = r !== undefined && r.finishedAt === undefined;
      const done = r ? r.copied + r.conflicts + r.skipped + r.failed : 0;
      return {
        label: local?.label ?? `s${i + 1}`,
        name: s.name,
        state: running ? "rewarming" : s.state,
        local: local !== undefined,
        running: local ? local.running : s.reachable,
        items: s.items ?? null,
        hitRatio: s.hitRatio ?? null,
        rewarm: r
          ? {
              copied: r.copied,
              candidates: r.candidates,
              progress: r.candidates > 0 ? Math.min(1, done / r.candidates) : null,
              running,
            }
          : null,
      };
    });
  }

  // One poll of the servers per second while someone watches, shared by every open page.
  let polling = false;
  const poll = setInterval(() => {
    if (streams.size === 0 || polling) return;
    polling = true;
    servers()
      .then((list) => broadcast("servers", list))
      .catch(() => undefined)
      .finally(() => {
        polling = false;
      });
  }, 1000);
  poll.unref();
  const unsubscribe = metrics.subscribe((s: Sample) => broadcast("sample", s));
  const onState = (e: { server: string; from: string; to: string; reason: string }) =>
    broadcast("log", { t: Date.now() / 1000, text: `${e.server}: ${e.from} → ${e.to} (${e.reason})` });
  cache.on("stateChange", onState);

  async function act(label: string, action: Action): Promise<string> {
    const view = (await servers()).find((s) => s.label === label || s.name === label);
    if (!view) throw new HttpError(404, `no server ${JSON.stringify(label)}`);
    const local = cluster?.servers.find((l) => l.name === view.name);
    switch (action) {
      case "drain":
        // The drain marker is written on the server itself: every client process stops reading it within a second.
        await cache.drain(view.name, { reason: "dashboard" });
        break;
      case "undrain":
        await cache.undrain(view.name);
        break;
      case "rewarm":
        // Copies the keys the server should hold from their other replica; progress shows in the server's row.
        void cache.rewarm(view.name).catch(() => undefined);
        break;
      case "kill":
        if (!local)
          throw new HttpError(409, `${view.name} was not started by this process: it cannot be killed here`);
        await local.kill();
        break;
      case "restart":
        if (!local)
          throw new HttpError(
            409,
            `${view.name} was not started by this process: it cannot be restarted here`,
          );
        // A planned restart: a running server is stopped first; it comes back empty, as after a reboot.
        if (local.running) await local.stop();
        await local.start();
        break;
    }
    mark(`${action} ${view.label}`);
    return `${action} ${view.label}: done`;
  }

  const routes: Route[] = [
    {
      method: "GET",
      path: /^\/dashboard\/?$/,
      handler: (_req, res) => {
        const html = dashboardPage({ backend: options.backend, replicas: cache.options.replicas });
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(html);
      },
    },
    {
      method: "GET",
      path: /^\/dashboard\/uplot\.(js|css)$/,
      handler: (_req, res, [ext]) => {
        uplot ??= { js: asset("uplot/dist/uPlot.iife.min.js"), css: asset("uplot/dist/uPlot.min.css") };
        res.writeHead(200, {
          "content-type": ext === "js" ? "text/javascript" : "text/css",
          "cache-control": "max-age=3600",
        });
        res.end(ext === "js" ? uplot.js : uplot.css);
      },
    },
    {
      method: "GET",
      path: /^\/dashboard\/events$/,
      handler: async (req, res) => {
        res.writeHead(200, {
          "content-type": "text/event-stream",
          "cache-control": "no-cache",
          connection: "keep-alive",
        });
        send(res, "init", { history: metrics.history(120), marks, servers: await servers() });
        streams.add(res);
        req.on("close", () => streams.delete(res));
      },
    },
    {
      method: "GET",
      path: /^\/dashboard\/servers$/,
      handler: async (_req, res) => sendJson(res, 200, await servers()),
    },
    {
      method: "POST",
      path: /^\/dashboard\/servers\/([^/]+)\/([a-z]+)$/,
      handler: async (_req, res, [label, action]) => {
        if (!ACTIONS.includes(action as Action))
          throw new HttpError(400, `unknown action ${JSON.stringify(action)}; one of ${ACTIONS.join(", ")}`);
        sendJson(res, 200, { message: await act(decodeURIComponent(label!), action as Action) });
      },
    },
  ];

  return {
    routes,
    mark,
    servers,
    close() {
      clearInterval(poll);
      unsubscribe();
      cache.off("stateChange", onState);
      for (const res of streams) res.end();
      streams.clear();
    },
  };
}
