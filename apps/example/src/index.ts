// @mcpair/example: the bookshop app, its dashboard and the demo scenario (private: not published).
export type { App, AppOptions } from "./app.js";
export { startApp } from "./app.js";
export type { Catalogue } from "./catalogue.js";
export { createCatalogue } from "./catalogue.js";
export type { Dashboard, Mark, ServerView } from "./dashboard/dashboard.js";
export type { Book, Database } from "./db/database.js";
export type { OpenDatabaseOptions } from "./db/open.js";
export { openDatabase } from "./db/open.js";
export type { DemoArgs } from "./demo/cli.js";
export { main as runDemo, parseArgs } from "./demo/cli.js";
export { LoadGenerator } from "./demo/load.js";
export type { PhaseResult, RunKind, RunResult, ScenarioConfig } from "./demo/scenario.js";
export { FULL, runScenario, SHORT } from "./demo/scenario.js";
export type { LocalCluster, LocalServer } from "./local-cluster/local-cluster.js";
export { startLocalCluster } from "./local-cluster/start-local-cluster.js";
export type { Sample, Totals } from "./metrics.js";
export { Metrics } from "./metrics.js";
