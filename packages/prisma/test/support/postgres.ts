import pg from "pg";

/** The server the PostgreSQL tests use (PG* variables override it) and the database they create for themselves. */
export const PG = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: "mcpair_prisma_test",
};

export const connectionString = (database = PG.database): string =>
  `postgresql://${encodeURIComponent(PG.user)}@${PG.host}:${PG.port}/${database}`;

/** Creates the test database unless it exists (idempotent, safe when two runs race). */
export async function ensureTestDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: connectionString("postgres") });
  await admin.connect();
  try {
    const found = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [PG.database]);
    if (found.rowCount === 0) {
      try {
        await admin.query(`CREATE DATABASE "${PG.database}"`);
      } catch (error) {
        // 42P04 duplicate_database: another run created it between the check and the create.
        if ((error as { code?: string }).code !== "42P04") throw error;
      }
    }
  } finally {
    await admin.end();
  }
}
