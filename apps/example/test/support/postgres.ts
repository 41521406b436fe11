import pg from "pg";

/** This suite's own database, so that other packages' tests never share tables with it. */
export const POSTGRES_URL =
  process.env.MCPAIR_EXAMPLE_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/mcpair_example_test";

/** Creates the database when it does not exist yet (idempotent, safe when two runs race). */
export async function ensurePostgresDatabase(): Promise<void> {
  const url = new URL(POSTGRES_URL);
  const name = url.pathname.slice(1);
  url.pathname = "/postgres";
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const found = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((error: { code?: string }) => {
        if (error.code !== "42P04") throw error; // created meanwhile by another run
      });
    }
  } finally {
    await admin.end();
  }
}
