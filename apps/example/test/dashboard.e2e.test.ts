// The dashboard in headless Chromium (Debian's `chromium`, driven by playwright-core), on three real memcached
// servers under a steady load: drain a server and watch the database rate stay flat, restart it and watch it rejoin
// and get rewarmed, kill another and watch reads continue from the second replicas. A screenshot is saved to
// .tmp/example/dashboard.png.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "@mcpair/test-utils";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, startApp } from "../src/app.js";
import type { Database } from "../src/db/database.js";
import { openDatabase } from "../src/db/open.js";
import { LoadGenerator } from "../src/demo/load.js";
import type { LocalCluster } from "../src/local-cluster/local-cluster.js";
import { startLocalCluster } from "../src/local-cluster/start-local-cluster.js";

const CHROMIUM =
  process.env.CHROMIUM_BIN ??
  ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => existsSync(p));
const ARTIFACTS = join(import.meta.dirname, "..", "..", "..", ".tmp", "example");
const RATE = 200;

describe("dashboard (headless Chromium)", () => {
  let cluster: LocalCluster;
  let db: Database;
  let app: App;
  let load: LoadGenerator;
  let browser: Browser;
  let page: Page;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    if (!CHROMIUM)
      throw new Error(
        "Chromium is needed for this test: `apt-get install chromium` (Debian/Ubuntu; `npm test` does it as root), " +
          "or set CHROMIUM_BIN to a Chromium or Chrome binary.",
      );
    cluster = await startLocalCluster(3);
    closers.push(() => cluster.close());
    expect(cluster.kind).toBe("memcached");
    db = await openDatabase({ books: 1500 });
    closers.push(() => db.close());
    // mcpair's defaults, with rewarm on, and a 1 s rejoin quarantine instead of 7.8 s to keep the test short.
    const cache = cluster.createClient({ rewarm: { rate: 20_000 }, health: { rejoinQuarantine: 1000 } });
    closers.push(() => cache.close());
    app = await startApp({ cache, db, cluster });
    closers.push(() => app.close());
    load = new LoadGenerator({ url: app.url, books: 1500, rate: RATE, writeEveryMs: 2000, hotBooks: 20 });
    await load.warm();
    load.start();
    closers.push(() => load.stop());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    closers.push(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${app.url}/dashboard`);
    await page.waitForFunction('document.getElementById("conn").textContent === "live"');
  }, 60_000);

  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  });

  const state = (label: string) => page.getAttribute(`[data-testid=state-${label}]`, "data-state");
  const number = async (id: string) => Number(await page.textContent(`[data-testid=${id}]`));
  /** Waits for the next one-second sample the page shows, and returns its numbers. */
  async function nextSample() {
    // The page keeps its chart data in a global `data` (x values: sample times in seconds).
    const before = await page.evaluate("data.t[data.t.length - 1]");
    await page.waitForFunction(`data.t[data.t.length - 1] !== ${JSON.stringify(before ?? null)}`, undefined, {
      timeout: 5000,
    });
    return {
      db: await number("db-rate"),
      requests: await number("req-rate"),
      replica: await number("replica-rate"),
    };
  }
  /** `seconds` samples: the database rate must stay at the steady level (price updates and their reloads only). */
  async function expectFlatDatabase(seconds: number) {
    const samples = [];
    for (let i = 0; i < seconds; i++) samples.push(await nextSample());
    // The load keeps going (on average: one second can lag on a busy machine, the next catches up)...
    const mean = samples.reduce((sum, s) => sum + s.requests, 0) / samples.length;
    expect(mean, JSON.stringify(samples)).toBeGreaterThan(RATE / 2);
    // ...and the database sees only the price updates and the reload each one causes.
    for (const s of samples)
      expect(s.db, JSON.stringify(samples)).toBeLessThanOrEqual(
        Math.max(5, Math.max(s.requests, RATE) * 0.02),
      );
    return samples;
  }

  it("shows every server up, with its items", { timeout: 60_000 }, async () => {
    for (const label of ["s1", "s2", "s3"]) {
      // A server that started less than 30 s ago and was never rewarmed shows as "starting" (core's status: the
      // clients may not have noticed a restart yet), so a fresh fleet reads "up" only after that.
      await waitFor(async () => (await state(label)) === "up", { timeout: 45_000, what: `${label} up` });
      expect(Number(await page.textContent(`[data-testid=server-${label}] td:nth-child(4)`))).toBeGreaterThan(
        0,
      );
    }
    await expectFlatDatabase(2);
  });

  it("drain: the server shows draining and the database rate stays flat", async () => {
    await page.click("[data-testid=drain-s1]");
    await waitFor(async () => (await state("s1")) === "draining", { timeout: 5000, what: "s1 draining" });
    const samples = await expectFlatDatabase(3);
    // Its keys are now read from their other replica.
    expect(samples.some((s) => s.replica > 0)).toBe(true);
  });

  it("restart: the server comes back empty, rejoins and is rewarmed, without database load", async () => {
    await page.click("[data-testid=restart-s1]");
    await waitFor(async () => (await state("s1")) !== "draining", { timeout: 5000, what: "s1 restarting" });
    await waitFor(async () => (await state("s1")) === "up", { timeout: 20_000, what: "s1 up again" });
    const copied = await waitFor(
      async () => Number((await page.getAttribute("[data-testid=rewarm-s1]", "data-copied")) || 0),
      { timeout: 10_000, what: "s1's rewarm to finish" },
    );
    expect(copied).toBeGreaterThan(500);
    await expectFlatDatabase(2);
  });

  it("kill: a second server goes down and reads continue from the other replicas", async () => {
    await page.click("[data-testid=kill-s2]");
    await waitFor(async () => ["down", "probing"].includes((await state("s2")) ?? ""), {
      timeout: 5000,
      what: "s2 down",
    });
    const samples = await expectFlatDatabase(3);
    expect(samples.some((s) => s.replica > 0)).toBe(true);
    expect(load.phases.get("warm-up")?.readErrors).toBe(0);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
    expect(existsSync(join(ARTIFACTS, "dashboard.png"))).toBe(true);
  });
});
